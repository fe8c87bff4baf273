//! One run's state: the tenant locks it holds (renewed in the background while it lives), and,
//! with a remote store, the copying between the store and the working copy
//! (`DIR/.tenantform/`) at each tenant's start and end.
//!
//! A tenant's turn: [`RunState::begin_tenant`] takes its lock (before the first write) and
//! fetches its identity map (when a listing made after the lock shows one); the deploy works on
//! the working copy as it always does (every journal record flushed to the local file before
//! the next request is sent), and its before-images, once written, are published beside its
//! changes ([`RunState::publish_before_images_early`]); then
//! [`RunState::end_tenant`] publishes the journal so far (one new segment: the bytes after the
//! last published one), the tenant's identity map and before-images, and only then releases
//! the lock, so the next holder reads everything this one did. A publish that fails is listed
//! in `.tenantform/unpublished` and the run stops taking tenants; the next run from the same
//! directory publishes the list before it starts.
//!
//! Input: a [`StateStore`] and the run's holder. Output: locks, published state, and
//! [`StateError`]s that stop the run.

use std::io::{Read as _, Seek as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::state::before::BeforeImages;
use crate::state::maps::{MapDirectory, MapLookup};
use crate::state::timeline::{Step, Timelines};
use crate::state::{
    Holder, LocalStore, LockError, LockRecord, Locks, StateError, StateStore, layout,
};

/// The state of one run that writes to tenants (deploy, rollback).
#[derive(Debug)]
pub struct RunState {
    store: Arc<StateStore>,
    work: LocalStore,
    run_id: String,
    locks: Arc<Locks>,
    /// Which tenants' maps the store has, listed after their locks were taken.
    maps: Arc<MapDirectory>,
    /// Bytes of the local journal published so far.
    published: tokio::sync::Mutex<u64>,
    /// Per tenant in flight, the version (content hash) of the identity map read from the
    /// store at its start: a map still the same at its end is not written again.
    fetched_maps: Mutex<std::collections::HashMap<String, crate::state::Version>>,
    error: Arc<Mutex<Option<String>>>,
    /// When each tenant passed each step (for `bench state`).
    timelines: Timelines,
    /// Per tenant in flight, its before-images being published while its Graph work goes on.
    early_images: Mutex<std::collections::HashMap<String, EarlyImages>>,
    /// Early publishes sending at once: few, so that they never hold up a lock or a listing
    /// waiting behind them at the store's gate.
    early_slots: Arc<tokio::sync::Semaphore>,
    renewer: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Drop for RunState {
    fn drop(&mut self) {
        if let Some(task) = self
            .renewer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
    }
}

/// Early publishes of before-images sending at once.
const EARLY_PUBLISHES_AT_ONCE: usize = 4;

/// A tenant's before-images on their way to the store before its turn ends.
#[derive(Debug)]
struct EarlyImages {
    /// Told when the turn ends: an early publish not sending yet is given up (the end
    /// publishes the images itself rather than wait for a slot).
    cancel: Arc<tokio::sync::Notify>,
    /// The version (content hash) of the working copy's document the store has now, or
    /// `None` when it was given up or failed.
    task: tokio::task::JoinHandle<Option<crate::state::Version>>,
}

/// What [`fetch_run`] brought into the working copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchedRun {
    /// Bytes of journal the store holds.
    pub journal_bytes: u64,
    /// Tenants whose before-images were copied or completed (images already in the working
    /// copy are kept).
    pub before_image_tenants: usize,
}

fn set_error(slot: &Mutex<Option<String>>, message: String) {
    slot.lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert(message);
}

impl RunState {
    /// Start a run's state: publish what an earlier run from this directory could not, learn
    /// how much of this run's journal the store has (a resumed run continues it), and start
    /// renewing locks. Must be called inside the tokio runtime.
    pub async fn open(
        store: Arc<StateStore>,
        project_dir: &Path,
        holder: Holder,
        lease: Duration,
        lock_timeout: Duration,
    ) -> Result<Arc<RunState>, StateError> {
        let timelines = Timelines::new();
        let work = LocalStore::new(project_dir);
        let run_id = holder.run_id.clone();
        let mut published = 0;
        if !store.is_local() {
            publish_unpublished(&store, &work).await?;
            published = published_journal_len(&store, &run_id).await?;
            let local_len = std::fs::metadata(work.root().join(layout::journal(&run_id)))
                .map_or(0, |m| m.len());
            published = published.min(local_len);
        }
        let locks = Arc::new(Locks::new(store.clone(), holder, lease, lock_timeout));
        let error = Arc::new(Mutex::new(None));
        let renewer = {
            let locks = locks.clone();
            let error = error.clone();
            let every = locks.renew_every();
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    for (tenant, e) in locks.renew().await {
                        set_error(
                            &error,
                            format!("the lock of tenant {tenant} could not be renewed: {e}"),
                        );
                    }
                }
            })
        };
        Ok(Arc::new(RunState {
            maps: MapDirectory::new(store.clone()),
            store,
            work,
            run_id,
            locks,
            published: tokio::sync::Mutex::new(published),
            fetched_maps: Mutex::new(std::collections::HashMap::new()),
            error,
            timelines,
            early_images: Mutex::new(std::collections::HashMap::new()),
            early_slots: Arc::new(tokio::sync::Semaphore::new(EARLY_PUBLISHES_AT_ONCE)),
            renewer: Mutex::new(Some(renewer)),
        }))
    }

    /// Where the state lives, for messages.
    pub fn location(&self) -> String {
        self.store.location()
    }

    /// When each tenant passed each step of its turn so far.
    pub fn timelines(&self) -> Vec<(String, crate::state::timeline::TenantTimeline)> {
        self.timelines.snapshot()
    }

    /// The first storage error of the run: once set, no further tenant starts.
    pub fn error(&self) -> Option<String> {
        self.error.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Why this run lost the lock of `tenant` while deploying it, if it did.
    pub fn lost(&self, tenant: &str) -> Option<String> {
        self.locks.lost(tenant)
    }

    /// Take `tenant`'s lock (waiting as the lock timeout allows; `waiting` hears of the holder
    /// once) and bring its identity map into the working copy: read when a listing of the
    /// store's maps, made after the lock was taken and shared with the tenants that take
    /// theirs meanwhile, shows one (a first deploy has none to read).
    pub async fn begin_tenant(
        &self,
        tenant: &str,
        waiting: impl FnMut(&LockRecord),
    ) -> Result<(), LockError> {
        self.timelines.record(tenant, Step::Asked);
        let taken = self.locks.acquire(tenant, waiting).await;
        if let Err(LockError::Storage(e)) = &taken {
            set_error(&self.error, e.to_string());
        }
        taken?;
        self.timelines.record(tenant, Step::Locked);
        if self.store.is_local() {
            self.timelines.record(tenant, Step::Ready);
            return Ok(());
        }
        let key = layout::identity(tenant);
        // A listing made after the lock was taken says whether there is a map to read: no
        // other run can publish one while this run holds the lock.
        let read = match self.maps.lookup(tenant).await {
            Ok(MapLookup::Absent) => Ok(None),
            Ok(MapLookup::Present | MapLookup::NotListed) => self.store.read(&key).await,
            Err(e) => Err(e),
        };
        let fetched = match read {
            Ok(Some(map)) => self.work.write(&key, &map.bytes).map(|()| {
                self.fetched_maps
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(tenant.to_ascii_lowercase(), local_version(&map.bytes));
            }),
            // No map in the store: a first deploy, or one made with local state before the
            // switch; a map in the working copy is kept and published at the end.
            Ok(None) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = fetched {
            set_error(&self.error, e.to_string());
            let _ = self.locks.release(tenant).await;
            return Err(LockError::Storage(e));
        }
        self.timelines.record(tenant, Step::Ready);
        Ok(())
    }

    /// Publish what the tenant's turn wrote (journal so far, identity map, before-images),
    /// then release its lock. A publish that fails is listed for the next run and stops this
    /// one; the lock is released all the same where the store still answers (otherwise its
    /// lease runs out).
    pub async fn end_tenant(&self, tenant: &str) -> Result<(), StateError> {
        self.timelines.record(tenant, Step::Ending);
        let published = if self.store.is_local() {
            Ok(())
        } else {
            self.publish_tenant(tenant).await
        };
        if let Err(e) = &published {
            set_error(&self.error, e.to_string());
            remember_unpublished(
                &self.work,
                &[
                    format!("run {}", self.run_id),
                    format!("tenant {tenant} {}", self.run_id),
                ],
            );
        }
        self.timelines.record(tenant, Step::Published);
        let released = self.locks.release(tenant).await;
        self.timelines.record(tenant, Step::Released);
        published?;
        released
    }

    /// The tenant's before-images were written to the working copy (before its first change
    /// was sent): start publishing them now, while its Graph work goes on, rather than in the
    /// burst of every tenant's end. At most [`EARLY_PUBLISHES_AT_ONCE`] at a time; the turn's
    /// end waits for one that is sending and publishes the images itself in place of one that
    /// is not sending yet, so the store has them before the lock is released either way.
    pub fn publish_before_images_early(self: &Arc<Self>, tenant: &str) {
        if self.store.is_local() {
            return;
        }
        let cancel = Arc::new(tokio::sync::Notify::new());
        let task = {
            let (state, cancel, tenant) = (self.clone(), cancel.clone(), tenant.to_string());
            tokio::spawn(async move {
                let _slot = tokio::select! {
                    biased;
                    () = cancel.notified() => return None,
                    slot = state.early_slots.clone().acquire_owned() => slot.ok()?,
                };
                let key = layout::before_images(&state.run_id, &tenant);
                let images = state.work.read(&key).ok()??;
                publish_before_images(
                    &state.store,
                    &state.work,
                    &key,
                    images.bytes,
                    BEFORE_IMAGES_TRIES,
                )
                .await
                .ok()?;
                // What the store has now (the working copy holds the merged document when the
                // store had one already).
                let published = state.work.read(&key).ok()??;
                Some(local_version(&published.bytes))
            })
        };
        let replaced = self
            .early_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(tenant.to_ascii_lowercase(), EarlyImages { cancel, task });
        if let Some(earlier) = replaced {
            earlier.task.abort();
        }
    }

    /// The version of the tenant's before-images its early publish put in the store, once it
    /// is done (`None`: there was none, it was not sending yet and is given up, or it failed).
    async fn early_images_published(&self, tenant: &str) -> Option<crate::state::Version> {
        let early = self
            .early_images
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&tenant.to_ascii_lowercase())?;
        early.cancel.notify_one();
        early.task.await.ok().flatten()
    }

    /// The journal segment, the identity map and the before-images go out side by side: each
    /// is its own blob, and all of them are in the store before the lock is released.
    async fn publish_tenant(&self, tenant: &str) -> Result<(), StateError> {
        let fetched = self
            .fetched_maps
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&tenant.to_ascii_lowercase());
        let images_published = self.early_images_published(tenant).await;
        futures_util::future::try_join(
            self.publish_journal(),
            publish_tenant_files(
                &self.store,
                &self.work,
                tenant,
                &self.run_id,
                Published {
                    map: fetched.as_ref(),
                    images: images_published.as_ref(),
                },
            ),
        )
        .await
        .map(|_| ())
    }

    /// Publish the journal's complete records not published yet, as one new segment.
    pub async fn publish_journal(&self) -> Result<(), StateError> {
        if self.store.is_local() {
            return Ok(());
        }
        let mut published = self.published.lock().await;
        let path = self.work.root().join(layout::journal(&self.run_id));
        let new = read_complete_lines_from(&path, *published)?;
        if new.is_empty() {
            return Ok(());
        }
        let len = new.len() as u64;
        self.store
            .write(&layout::journal_segment(&self.run_id, *published), new)
            .await?;
        *published += len;
        Ok(())
    }

    /// The run's end: publish the rest of the journal, release every lock still held, stop
    /// renewing.
    pub async fn finish(&self) -> Result<(), StateError> {
        let published = self.publish_journal().await;
        if let Err(e) = &published {
            set_error(&self.error, e.to_string());
            remember_unpublished(&self.work, &[format!("run {}", self.run_id)]);
        }
        for tenant in self.locks.held() {
            let _ = self.locks.release(&tenant).await;
        }
        if let Some(task) = self
            .renewer
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            task.abort();
        }
        published
    }
}

/// The bytes of `path` from `offset` up to and including its last line ending (a record being
/// written is left for the next time).
fn read_complete_lines_from(path: &Path, offset: u64) -> Result<Vec<u8>, StateError> {
    let io = |action: &'static str| {
        move |source| StateError::Local {
            action,
            path: path.to_path_buf(),
            source,
        }
    };
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read")(e)),
    };
    file.seek(std::io::SeekFrom::Start(offset))
        .map_err(io("read"))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io("read"))?;
    let keep = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    bytes.truncate(keep);
    Ok(bytes)
}

/// The version the working copy gives `bytes` (a hash of them), to compare a map with.
fn local_version(bytes: &[u8]) -> crate::state::Version {
    crate::state::Version(crate::canonical::hash_bytes(bytes))
}

/// What the store is known to hold of a tenant already (versions as the working copy gives
/// them, see [`local_version`]): nothing is written again that is still at that version.
#[derive(Debug, Clone, Copy, Default)]
struct Published<'a> {
    /// The map this run read from the store when the tenant started (it has held the
    /// tenant's lock since).
    map: Option<&'a crate::state::Version>,
    /// The before-images document published while the tenant's Graph work went on.
    images: Option<&'a crate::state::Version>,
}

/// Publish a tenant's identity map and a run's before-images of it from the working copy: the
/// map and the before-images document side by side (and the files of the older
/// one-file-per-object form, when the run was begun by an older version), except what
/// `published` says the store has already.
async fn publish_tenant_files(
    store: &StateStore,
    work: &LocalStore,
    tenant: &str,
    run_id: &str,
    published: Published<'_>,
) -> Result<(), StateError> {
    let mut files = Vec::new();
    let key = layout::identity(tenant);
    if let Some(map) = work.read(&key)?
        && published.map != Some(&local_version(&map.bytes))
    {
        files.push((key, map.bytes));
    }
    for image in work.list(&layout::before_per_object(run_id, tenant))? {
        if !image.key.ends_with(".json") {
            continue;
        }
        if let Some(v) = work.read(&image.key)? {
            files.push((image.key, v.bytes));
        }
    }
    let images_key = layout::before_images(run_id, tenant);
    let images = work
        .read(&images_key)?
        .filter(|images| published.images != Some(&local_version(&images.bytes)));
    // Side by side (the store's gate bounds how many requests are out at once).
    let writes = futures_util::future::try_join_all(
        files
            .into_iter()
            .map(|(key, bytes)| async move { store.write(&key, bytes).await }),
    );
    let images = async {
        match images {
            Some(images) => {
                publish_before_images(store, work, &images_key, images.bytes, BEFORE_IMAGES_TRIES)
                    .await
            }
            None => Ok(()),
        }
    };
    futures_util::future::try_join(writes, images)
        .await
        .map(|_| ())
}

/// How many times a before-images document is read, merged and replaced while other runs keep
/// changing it before publishing gives up.
const BEFORE_IMAGES_TRIES: u32 = 5;

/// Publish a tenant's before-images document: one conditional create when the store has none
/// (every tenant's first turn in a run: one request). When the store has one (a run resumed
/// elsewhere published images of this tenant too), the two are merged, the store's images
/// first (they were taken in an earlier turn, so they are the objects before the run), and the
/// store's document replaced only if it is still the one read (at most `tries` times); the
/// working copy gets the merged document too.
async fn publish_before_images(
    store: &StateStore,
    work: &LocalStore,
    key: &str,
    local: Vec<u8>,
    tries: u32,
) -> Result<(), StateError> {
    if store.create(key, local.clone()).await?.is_some() {
        return Ok(());
    }
    let unreadable = |location: String| {
        move |e: crate::state::before::BeforeImagesError| StateError::BeforeImages {
            location,
            key: key.to_string(),
            message: e.to_string(),
        }
    };
    let mine =
        BeforeImages::parse(&local).map_err(unreadable(work.root().display().to_string()))?;
    for _ in 0..tries {
        let Some(stored) = store.read(key).await? else {
            // Removed since the create: try creating it again.
            if store.create(key, local.clone()).await?.is_some() {
                return Ok(());
            }
            continue;
        };
        let mut merged =
            BeforeImages::parse(&stored.bytes).map_err(unreadable(store.location()))?;
        if !merged.merge(mine.clone()) {
            // The store has every image this turn recorded (and perhaps more).
            work.write(key, &stored.bytes)?;
            return Ok(());
        }
        let bytes = merged.to_bytes();
        if store
            .replace(key, bytes.clone(), &stored.version)
            .await?
            .is_some()
        {
            work.write(key, &bytes)?;
            return Ok(());
        }
    }
    Err(StateError::BeforeImagesContended {
        location: store.location(),
        key: key.to_string(),
        tries,
    })
}

/// Add lines to the working copy's list of what was not published (best effort: the run
/// already stops and says why).
fn remember_unpublished(work: &LocalStore, lines: &[String]) {
    let path = work.root().join(layout::UNPUBLISHED);
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    for line in lines {
        if !text.lines().any(|l| l == line) {
            text.push_str(line);
            text.push('\n');
        }
    }
    let _ = work.write(layout::UNPUBLISHED, text.as_bytes());
}

/// Publish what an earlier run from this working copy could not (`.tenantform/unpublished`),
/// then remove the list.
pub async fn publish_unpublished(store: &StateStore, work: &LocalStore) -> Result<(), StateError> {
    let Some(list) = work.read(layout::UNPUBLISHED)? else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&list.bytes).into_owned();
    for line in text.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["run", run] => {
                let from = published_journal_len(store, run).await?;
                let path = work.root().join(layout::journal(run));
                let rest = read_complete_lines_from(&path, from)?;
                if !rest.is_empty() {
                    store
                        .write(&layout::journal_segment(run, from), rest)
                        .await?;
                }
            }
            ["tenant", tenant, run] => {
                publish_tenant_files(store, work, tenant, run, Published::default()).await?;
            }
            _ => {}
        }
    }
    work.delete(layout::UNPUBLISHED)
}

/// How many bytes of a run's journal the store holds (the end of its last segment).
pub async fn published_journal_len(store: &StateStore, run_id: &str) -> Result<u64, StateError> {
    Ok(store
        .list(&layout::journal_segments(run_id))
        .await?
        .iter()
        .filter_map(|l| layout::segment_offset(&l.key).map(|o| o + l.size))
        .max()
        .unwrap_or(0))
}

/// Read a run's journal from the store whole: its segments joined in order (overlaps, from a
/// segment published again after a crash, are read once).
pub async fn read_published_journal(
    store: &StateStore,
    run_id: &str,
) -> Result<Option<Vec<u8>>, StateError> {
    let segments = store.list(&layout::journal_segments(run_id)).await?;
    if segments.is_empty() {
        return Ok(None);
    }
    let mut journal: Vec<u8> = Vec::new();
    for segment in segments {
        let Some(offset) = layout::segment_offset(&segment.key) else {
            continue;
        };
        let have = journal.len() as u64;
        if offset > have {
            return Err(StateError::JournalGap {
                run: run_id.to_string(),
                location: store.location(),
                key: segment.key,
                from: have,
                to: offset,
            });
        }
        if offset + segment.size <= have {
            continue;
        }
        let Some(v) = store.read(&segment.key).await? else {
            continue;
        };
        let skip = usize::try_from(have - offset).unwrap_or(usize::MAX);
        journal.extend_from_slice(v.bytes.get(skip..).unwrap_or_default());
    }
    Ok(Some(journal))
}

/// Bring a run from the store into the working copy (resume or roll back from another
/// machine): its journal (unless the working copy holds as much or more of it already) and
/// its before-images. `Ok(None)`: the store has no such run.
pub async fn fetch_run(
    store: &StateStore,
    project_dir: &Path,
    run_id: &str,
) -> Result<Option<FetchedRun>, StateError> {
    fetch_run_into(store, &LocalStore::new(project_dir), run_id).await
}

/// [`fetch_run`] into any folder laid out like `.tenantform/` (`runs/<run-id>/...` under it).
pub async fn fetch_run_into(
    store: &StateStore,
    work: &LocalStore,
    run_id: &str,
) -> Result<Option<FetchedRun>, StateError> {
    if store.is_local() {
        return Ok(None);
    }
    let Some(journal) = read_published_journal(store, run_id).await? else {
        return Ok(None);
    };
    let key = layout::journal(run_id);
    let local_len = work.read(&key)?.map_or(0, |v| v.bytes.len());
    if journal.len() > local_len {
        work.write(&key, &journal)?;
    }
    let mut tenants = std::collections::BTreeSet::new();
    for image in store.list(&layout::befores(run_id)).await? {
        let Some(tenant) = layout::before_tenant(&image.key) else {
            continue;
        };
        let local = work.read(&image.key)?;
        if layout::is_before_images(&image.key) {
            // A document the working copy has at the store's size is the same one (images are
            // only ever added); otherwise the two are merged, the store's images first.
            if local
                .as_ref()
                .is_some_and(|l| l.bytes.len() as u64 == image.size)
            {
                continue;
            }
            let Some(stored) = store.read(&image.key).await? else {
                continue;
            };
            let unreadable = |location: String, e: crate::state::before::BeforeImagesError| {
                StateError::BeforeImages {
                    location,
                    key: image.key.clone(),
                    message: e.to_string(),
                }
            };
            let mut merged =
                BeforeImages::parse(&stored.bytes).map_err(|e| unreadable(store.location(), e))?;
            if let Some(local) = local {
                let local = BeforeImages::parse(&local.bytes)
                    .map_err(|e| unreadable(work.root().display().to_string(), e))?;
                merged.merge(local);
            }
            work.write(&image.key, &merged.to_bytes())?;
        } else {
            // A file of the older one-file-per-object form: copied when missing.
            if local.is_some() {
                continue;
            }
            let Some(v) = store.read(&image.key).await? else {
                continue;
            };
            work.write(&image.key, &v.bytes)?;
        }
        tenants.insert(tenant.to_string());
    }
    Ok(Some(FetchedRun {
        journal_bytes: journal.len() as u64,
        before_image_tenants: tenants.len(),
    }))
}

/// Bring the identity maps of `tenants` from the store into the working copy (32 reads at a
/// time); returns how many the store had. Nothing to do with local state.
pub async fn fetch_identities(
    store: &StateStore,
    project_dir: &Path,
    tenants: &[String],
) -> Result<usize, StateError> {
    use futures_util::StreamExt as _;
    if store.is_local() {
        return Ok(0);
    }
    let work = LocalStore::new(project_dir);
    let reads: Vec<_> = futures_util::stream::iter(tenants.iter().map(|tenant| async move {
        let key = layout::identity(tenant);
        store.read(&key).await.map(|v| (key, v))
    }))
    .buffer_unordered(32)
    .collect()
    .await;
    let mut fetched = 0;
    for read in reads {
        if let (key, Some(map)) = read? {
            work.write(&key, &map.bytes)?;
            fetched += 1;
        }
    }
    Ok(fetched)
}

/// The run ids the store has journals of, sorted.
pub async fn list_runs(store: &StateStore) -> Result<Vec<String>, StateError> {
    let mut runs: Vec<String> = store
        .list(layout::RUNS)
        .await?
        .iter()
        .filter(|l| l.key.contains("/journal/"))
        .filter_map(|l| l.key.split('/').nth(1).map(str::to_string))
        .collect();
    runs.dedup();
    Ok(runs)
}

/// The working copy's path of a run's journal.
pub fn local_journal(project_dir: &Path, run_id: &str) -> PathBuf {
    LocalStore::new(project_dir)
        .root()
        .join(layout::journal(run_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_lines_are_read_from_an_offset() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.jsonl");
        std::fs::write(&path, "one\ntwo\nthr").expect("write");
        assert_eq!(
            read_complete_lines_from(&path, 0).expect("read"),
            b"one\ntwo\n"
        );
        assert_eq!(read_complete_lines_from(&path, 4).expect("read"), b"two\n");
        assert!(read_complete_lines_from(&path, 8).expect("read").is_empty());
        assert!(
            read_complete_lines_from(&dir.path().join("none"), 0)
                .expect("absent")
                .is_empty()
        );
    }

    #[tokio::test]
    async fn segments_join_whole_overlaps_are_read_once_and_a_hole_is_an_error() {
        // The local store stands in for a remote one: the segment logic is the same.
        let dir = tempfile::tempdir().expect("dir");
        let store = StateStore::Local(LocalStore::new(dir.path()));
        store
            .write(&layout::journal_segment("r", 0), b"a\nb\n".to_vec())
            .await
            .expect("write");
        // Published again from 2 after a crash, with more.
        store
            .write(&layout::journal_segment("r", 2), b"b\nc\n".to_vec())
            .await
            .expect("write");
        store
            .write(&layout::journal_segment("r", 6), b"d\n".to_vec())
            .await
            .expect("write");
        let journal = read_published_journal(&store, "r").await.expect("read");
        assert_eq!(journal.as_deref(), Some(&b"a\nb\nc\nd\n"[..]));
        assert_eq!(published_journal_len(&store, "r").await.expect("len"), 8);
        assert_eq!(
            list_runs(&store).await.expect("runs"),
            vec!["r".to_string()]
        );
        store
            .write(&layout::journal_segment("r", 20), b"z\n".to_vec())
            .await
            .expect("write");
        let e = read_published_journal(&store, "r").await.expect_err("hole");
        assert!(e.to_string().contains("missing bytes 8..20"), "{e}");
    }

    fn images(tenant: &str, items: &[(&str, &str)]) -> BeforeImages {
        let mut images = BeforeImages::new(tenant);
        for (key, state) in items {
            images.add(serde_json::json!({ "key": key, "body": { "state": state } }));
        }
        images
    }

    #[tokio::test]
    async fn a_tenants_before_images_publish_as_one_create_or_merge_with_the_stores_first() {
        // A local store in another folder stands in for the remote one.
        let remote = tempfile::tempdir().expect("remote");
        let store = StateStore::Local(LocalStore::new(remote.path()));
        let dir = tempfile::tempdir().expect("work");
        let work = LocalStore::new(dir.path());
        let key = layout::before_images("r", "t1");
        let first = images("t1", &[("a", "enabled")]).to_bytes();
        work.write(&key, &first).expect("write");
        publish_tenant_files(&store, &work, "t1", "r", Published::default())
            .await
            .expect("publish");
        let stored = store.read(&key).await.expect("read").expect("published");
        assert_eq!(stored.bytes, first);

        // Another machine's turn of the run published `a` (as before the run) and `b` since;
        // this working copy's turn imaged `a` after the change, and `c`.
        store
            .write(
                &key,
                images("t1", &[("a", "enabled"), ("b", "enabled")]).to_bytes(),
            )
            .await
            .expect("write");
        let mine = images("t1", &[("a", "disabled"), ("c", "enabled")]).to_bytes();
        work.write(&key, &mine).expect("write");
        publish_tenant_files(&store, &work, "t1", "r", Published::default())
            .await
            .expect("publish");
        let expected = images(
            "t1",
            &[("a", "enabled"), ("b", "enabled"), ("c", "enabled")],
        )
        .to_bytes();
        let stored = store.read(&key).await.expect("read").expect("published");
        assert_eq!(
            String::from_utf8_lossy(&stored.bytes),
            String::from_utf8_lossy(&expected)
        );
        let local = work.read(&key).expect("read").expect("kept");
        assert_eq!(
            local.bytes, expected,
            "the working copy has the merged images too"
        );

        // A store document that is not one is named, and left as it is.
        store
            .write(&key, b"{ broken".to_vec())
            .await
            .expect("write");
        let e = publish_tenant_files(&store, &work, "t1", "r", Published::default())
            .await
            .expect_err("unreadable");
        assert!(
            matches!(e, StateError::BeforeImages { .. })
                && e.to_string().contains("r/before/t1.json"),
            "{e}"
        );
        let stored = store.read(&key).await.expect("read").expect("there");
        assert_eq!(stored.bytes, b"{ broken");

        // Other runs that keep replacing the document between each read and replace: the
        // publish gives up after its tries and says so (here, none are left).
        let e = publish_before_images(&store, &work, &key, mine, 0)
            .await
            .expect_err("contended");
        assert!(
            matches!(e, StateError::BeforeImagesContended { tries: 0, .. })
                && e.to_string()
                    .contains("changed by another run 0 times in a row"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn the_older_per_object_before_images_of_a_run_are_published_as_they_are() {
        let remote = tempfile::tempdir().expect("remote");
        let store = StateStore::Local(LocalStore::new(remote.path()));
        let dir = tempfile::tempdir().expect("work");
        let work = LocalStore::new(dir.path());
        let file = format!("{}a.json", layout::before_per_object("r", "t1"));
        work.write(&file, b"{\"key\": \"a\"}\n").expect("write");
        work.write(&format!("{file}.partial"), b"{").expect("write");
        publish_tenant_files(&store, &work, "t1", "r", Published::default())
            .await
            .expect("publish");
        let listed = store.list(&layout::befores("r")).await.expect("list");
        let keys: Vec<&str> = listed.iter().map(|l| l.key.as_str()).collect();
        assert_eq!(
            keys,
            [file.as_str()],
            "a file being written is not published"
        );
    }
}
