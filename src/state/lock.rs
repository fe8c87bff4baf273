//! Per-tenant locks: a record at `locks/<tenant-id>.json` in the state store, created only if
//! absent, renewed while its holder lives, removed at the end. The record says who holds it
//! (command, run id, host, pid) and until when; a lock whose lease ran out (its holder was
//! killed and stopped renewing), or whose holder process is gone from this very host, is taken
//! over with a conditional replace, so two takers never both win.
//!
//! Input: a [`StateStore`], a [`Holder`], a lease and a wait limit. Output: locks held by
//! [`Locks`], or a [`LockError`] naming who holds the tenant and since when.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::state::{StateError, StateStore, Version, layout};

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockRecord {
    /// Tenant id.
    pub tenant: String,
    /// The command holding it: `deploy`, `rollback`, `sync`.
    pub command: String,
    /// Its run id.
    pub run_id: String,
    /// The host it runs on.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it took the lock (RFC 3339).
    pub since: String,
    /// When it last renewed the lease (RFC 3339).
    pub renewed: String,
    /// When the lease runs out unless renewed (RFC 3339).
    pub expires: String,
}

impl LockRecord {
    /// True when the lease ran out at `now`.
    pub fn expired(&self, now: jiff::Timestamp) -> bool {
        self.expires
            .parse::<jiff::Timestamp>()
            .map_or(true, |expires| expires <= now)
    }

    /// True when the holder ran on this host and its process is gone (Linux's `/proc` says
    /// so); `false` wherever that cannot be known.
    pub fn holder_gone_from_this_host(&self) -> bool {
        self.host == this_host()
            && std::path::Path::new("/proc/self").exists()
            && !std::path::Path::new("/proc")
                .join(self.pid.to_string())
                .exists()
    }

    /// "deploy run R on HOST (pid P) since T, lease until E".
    pub fn describe(&self) -> String {
        format!(
            "{} run {} on {} (pid {}) since {}, lease until {}",
            self.command, self.run_id, self.host, self.pid, self.since, self.expires
        )
    }
}

/// This host's name (`/proc/sys/kernel/hostname`, `HOSTNAME`, `COMPUTERNAME`), or
/// `unknown-host`.
pub fn this_host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .unwrap_or_else(|| "unknown-host".into())
}

/// The process that takes locks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// `deploy`, `rollback`, `sync`.
    pub command: String,
    /// Run id.
    pub run_id: String,
    /// Host name.
    pub host: String,
    /// Process id.
    pub pid: u32,
}

impl Holder {
    /// This process, running `command` as run `run_id`.
    pub fn this_process(command: &str, run_id: &str) -> Holder {
        Holder {
            command: command.to_string(),
            run_id: run_id.to_string(),
            host: this_host(),
            pid: std::process::id(),
        }
    }

    fn record(
        &self,
        tenant: &str,
        since: &str,
        now: jiff::Timestamp,
        lease: Duration,
    ) -> LockRecord {
        let expires = now
            .checked_add(
                jiff::SignedDuration::try_from(lease).unwrap_or(jiff::SignedDuration::ZERO),
            )
            .unwrap_or(now);
        LockRecord {
            tenant: tenant.to_string(),
            command: self.command.clone(),
            run_id: self.run_id.clone(),
            host: self.host.clone(),
            pid: self.pid,
            since: since.to_string(),
            renewed: now.to_string(),
            expires: expires.to_string(),
        }
    }
}

/// Why a tenant could not be locked.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LockError {
    /// Another run holds it, and waiting (`--lock-timeout`) did not see it released.
    #[error(
        "tenant {tenant} is locked by {}{}; this run did not write to it. Wait for that run to finish, pass --lock-timeout to wait longer, or, if that run is dead, `tenantform state unlock {tenant} --force`",
        holder.describe(),
        if waited.is_zero() { String::new() } else { format!(" (waited {}s)", waited.as_secs()) }
    )]
    Held {
        /// The tenant.
        tenant: String,
        /// Who holds it.
        holder: Box<LockRecord>,
        /// How long this run waited.
        waited: Duration,
    },
    /// The lock's record is not one tenantform wrote.
    #[error(
        "the lock of tenant {tenant} ({key}) is not a tenantform lock record ({message}); if no run holds it, `tenantform state unlock {tenant} --force` removes it"
    )]
    Unreadable {
        /// The tenant.
        tenant: String,
        /// Its key.
        key: String,
        /// What the decoder said.
        message: String,
    },
    /// The store did not answer.
    #[error(transparent)]
    Storage(#[from] StateError),
}

/// Read a tenant's lock record (`None`: unlocked).
pub async fn read_lock(
    store: &StateStore,
    tenant: &str,
) -> Result<Option<(LockRecord, Version)>, LockError> {
    let key = layout::lock(tenant);
    match store.read(&key).await? {
        None => Ok(None),
        Some(v) => serde_json::from_slice::<LockRecord>(&v.bytes)
            .map(|r| Some((r, v.version)))
            .map_err(|e| LockError::Unreadable {
                tenant: tenant.to_string(),
                key,
                message: e.to_string(),
            }),
    }
}

/// Remove a tenant's lock whoever holds it (`state unlock --force`); returns the record that
/// was there, if it could be read.
pub async fn force_unlock(
    store: &StateStore,
    tenant: &str,
) -> Result<Option<LockRecord>, StateError> {
    let key = layout::lock(tenant);
    let before = store
        .read(&key)
        .await?
        .and_then(|v| serde_json::from_slice::<LockRecord>(&v.bytes).ok());
    store.delete(&key).await?;
    Ok(before)
}

/// Every lock in the store (`state locks`).
pub async fn list_locks(store: &StateStore) -> Result<Vec<LockRecord>, StateError> {
    let mut out = Vec::new();
    for listed in store.list(layout::LOCKS).await? {
        if let Some(v) = store.read(&listed.key).await?
            && let Ok(record) = serde_json::from_slice::<LockRecord>(&v.bytes)
        {
            out.push(record);
        }
    }
    Ok(out)
}

/// The locks one run holds.
#[derive(Debug)]
pub struct Locks {
    store: Arc<StateStore>,
    holder: Holder,
    lease: Duration,
    timeout: Duration,
    poll: Duration,
    held: Mutex<BTreeMap<String, (LockRecord, Version)>>,
    lost: Mutex<BTreeMap<String, String>>,
}

impl Locks {
    /// Locks for `holder`, with leases of `lease`, waiting at most `timeout` for a held one.
    pub fn new(
        store: Arc<StateStore>,
        holder: Holder,
        lease: Duration,
        timeout: Duration,
    ) -> Locks {
        Locks {
            store,
            holder,
            lease,
            timeout,
            poll: Duration::from_millis(500),
            held: Mutex::new(BTreeMap::new()),
            lost: Mutex::new(BTreeMap::new()),
        }
    }

    /// The lease.
    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn encode(record: &LockRecord) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(record).unwrap_or_default();
        bytes.push(b'\n');
        bytes
    }

    /// Take the lock of `tenant`, waiting up to the timeout while another live run holds it;
    /// `waiting` is called once, with the holder, when this run starts to wait.
    pub async fn acquire(
        &self,
        tenant: &str,
        mut waiting: impl FnMut(&LockRecord),
    ) -> Result<(), LockError> {
        let key = layout::lock(tenant);
        let started = std::time::Instant::now();
        let mut told = false;
        let mut races = 0u32;
        loop {
            let now = jiff::Timestamp::now();
            let mine = self
                .holder
                .record(tenant, &now.to_string(), now, self.lease);
            if let Some(version) = self.store.create(&key, Self::encode(&mine)).await? {
                self.held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(tenant.to_string(), (mine, version));
                return Ok(());
            }
            let Some((theirs, version)) = read_lock(&self.store, tenant).await? else {
                // Released between the two calls: try again (at once the first times).
                races += 1;
                if races > 3 {
                    tokio::time::sleep(self.poll).await;
                }
                continue;
            };
            if self.is_mine(&theirs) {
                // This run's own record: a create or takeover whose answer was lost to a
                // timeout and was tried again. It holds the lock.
                self.held
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(tenant.to_string(), (theirs, version));
                return Ok(());
            }
            if theirs.expired(now) || theirs.holder_gone_from_this_host() {
                if let Some(version) = self
                    .store
                    .replace(&key, Self::encode(&mine), &version)
                    .await?
                {
                    self.held
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .insert(tenant.to_string(), (mine, version));
                    return Ok(());
                }
                // Another run took it over first.
                continue;
            }
            let waited = started.elapsed();
            if waited >= self.timeout {
                return Err(LockError::Held {
                    tenant: tenant.to_string(),
                    holder: Box::new(theirs),
                    waited: if self.timeout.is_zero() {
                        Duration::ZERO
                    } else {
                        waited
                    },
                });
            }
            if !told {
                waiting(&theirs);
                told = true;
            }
            tokio::time::sleep(self.poll.min(self.timeout - waited)).await;
        }
    }

    /// True when `record` was written by this very process for this run.
    fn is_mine(&self, record: &LockRecord) -> bool {
        record.run_id == self.holder.run_id
            && record.pid == self.holder.pid
            && record.host == self.holder.host
    }

    /// How often the run's renewer looks for locks to renew: a twelfth of the lease, so that a
    /// lock is renewed when half its lease has passed, give or take a twelfth (the looking is
    /// local work; only renewals are sent).
    pub fn renew_every(&self) -> Duration {
        (self.lease / 12).max(Duration::from_millis(250))
    }

    /// True when the lock `record` is due for renewal at `now`: half its lease has passed since
    /// it was last written (or its time cannot be read). A renewal is then sent with five
    /// twelfths of the lease or more still to run (25 s of the default 60 s): time for a
    /// request that timed out (20 s) to be tried again before the lease runs out, while a
    /// turn shorter than half the lease (30 s by default) is never renewed.
    fn due(&self, record: &LockRecord, now: jiff::Timestamp) -> bool {
        let half = jiff::SignedDuration::try_from(self.lease / 2).unwrap_or_default();
        record
            .renewed
            .parse::<jiff::Timestamp>()
            .map_or(true, |renewed| now.duration_since(renewed) >= half)
    }

    /// Renew the locks held now that are due (half their lease has passed), up to 16
    /// requests at once; a lock taken and released within half its lease is never
    /// renewed. The run's renewer calls this every [`Locks::renew_every`]. A lock another run
    /// took over (this run stalled past its lease) is recorded as lost.
    pub async fn renew(&self) -> Vec<(String, StateError)> {
        self.renew_at(jiff::Timestamp::now(), false).await
    }

    /// Renew every lock held now, due or not.
    pub async fn renew_all(&self) -> Vec<(String, StateError)> {
        self.renew_at(jiff::Timestamp::now(), true).await
    }

    async fn renew_at(&self, now: jiff::Timestamp, all: bool) -> Vec<(String, StateError)> {
        use futures_util::StreamExt as _;
        let held: Vec<(String, (LockRecord, Version))> = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|(_, (record, _))| all || self.due(record, now))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        futures_util::stream::iter(held)
            .map(|(tenant, (record, version))| async move {
                self.renew_one(&tenant, &record, &version)
                    .await
                    .err()
                    .map(|e| (tenant, e))
            })
            .buffer_unordered(16)
            .filter_map(|failed| async move { failed })
            .collect()
            .await
    }

    async fn renew_one(
        &self,
        tenant: &str,
        record: &LockRecord,
        version: &Version,
    ) -> Result<(), StateError> {
        let now = jiff::Timestamp::now();
        let renewed = self.holder.record(tenant, &record.since, now, self.lease);
        let key = layout::lock(tenant);
        let mut outcome = self
            .store
            .replace(&key, Self::encode(&renewed), version)
            .await?
            .map(|v| (renewed, v));
        if outcome.is_none() {
            // Changed: taken over, or this very renewal went through and its answer was lost
            // to a timeout before it was tried again (then the record is this run's own).
            outcome = match read_lock(&self.store, tenant).await {
                Ok(Some((record, version))) if self.is_mine(&record) => Some((record, version)),
                Ok(_) | Err(LockError::Unreadable { .. } | LockError::Held { .. }) => None,
                Err(LockError::Storage(e)) => return Err(e),
            };
        }
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        match outcome {
            Some(entry) => {
                // Released meanwhile: leave it released.
                if let Some(slot) = held.get_mut(tenant) {
                    *slot = entry;
                }
            }
            None => {
                if held.remove(tenant).is_some() {
                    self.lost.lock().unwrap_or_else(|p| p.into_inner()).insert(
                        tenant.to_string(),
                        "its lease ran out before it was renewed and another run took it".into(),
                    );
                }
            }
        }
        Ok(())
    }

    /// Why this run lost the lock of `tenant`, if it did.
    pub fn lost(&self, tenant: &str) -> Option<String> {
        self.lost
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(tenant)
            .cloned()
    }

    /// Release the lock of `tenant` if this run still holds it (a lock another run took over
    /// is left alone).
    pub async fn release(&self, tenant: &str) -> Result<(), StateError> {
        let entry = self
            .held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(tenant);
        let Some((record, _)) = entry else {
            return Ok(());
        };
        if self.safely_within_lease(&record, jiff::Timestamp::now()) {
            // No other run can have taken it over: its lease has a third or more to run and
            // this process is alive. Removed without reading it first.
            return self.store.delete(&layout::lock(tenant)).await;
        }
        match read_lock(&self.store, tenant).await {
            Ok(Some((record, _)))
                if record.run_id == self.holder.run_id && record.pid == self.holder.pid =>
            {
                self.store.delete(&layout::lock(tenant)).await
            }
            Ok(_) | Err(LockError::Unreadable { .. } | LockError::Held { .. }) => Ok(()),
            Err(LockError::Storage(e)) => Err(e),
        }
    }

    /// True when the lease of `record` (this run's own lock as last written) has at least a
    /// third of its length still to run at `now`: no other run may take it over before then.
    fn safely_within_lease(&self, record: &LockRecord, now: jiff::Timestamp) -> bool {
        let third = jiff::SignedDuration::try_from(self.lease / 3).unwrap_or_default();
        record
            .expires
            .parse::<jiff::Timestamp>()
            .is_ok_and(|expires| expires.duration_since(now) >= third)
    }

    /// Tenants whose locks this run holds now.
    pub fn held(&self) -> Vec<String> {
        self.held
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .keys()
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LocalStore;

    fn locks(store: &Arc<StateStore>, run: &str, pid: u32, timeout_ms: u64) -> Locks {
        let mut holder = Holder::this_process("deploy", run);
        holder.pid = pid;
        Locks::new(
            store.clone(),
            holder,
            Duration::from_secs(60),
            Duration::from_millis(timeout_ms),
        )
    }

    #[tokio::test]
    async fn a_second_run_fails_fast_naming_the_holder_and_takes_the_lock_once_released() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        let me = std::process::id();
        let first = locks(&store, "run-a", me, 0);
        let second = locks(&store, "run-b", me, 0);
        first.acquire("T1", |_| {}).await.expect("first takes it");
        let e = second.acquire("t1", |_| {}).await.expect_err("held");
        let text = e.to_string();
        assert!(
            text.contains("tenant t1 is locked by deploy run run-a on"),
            "{text}"
        );
        assert!(text.contains(&format!("(pid {me}) since ")), "{text}");
        assert!(text.contains("state unlock t1 --force"), "{text}");
        first.release("T1").await.expect("release");
        assert!(read_lock(&store, "t1").await.expect("read").is_none());
        second.acquire("t1", |_| {}).await.expect("free now");
    }

    #[tokio::test]
    async fn a_waiting_run_is_told_once_and_gets_the_lock_when_it_is_released() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        let me = std::process::id();
        let first = Arc::new(locks(&store, "run-a", me, 0));
        let second = locks(&store, "run-b", me, 10_000);
        first.acquire("t1", |_| {}).await.expect("first");
        let releaser = {
            let first = first.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(700)).await;
                first.release("t1").await.expect("release");
            })
        };
        let mut told = Vec::new();
        second
            .acquire("t1", |holder| told.push(holder.run_id.clone()))
            .await
            .expect("got it after the release");
        releaser.await.expect("join");
        assert_eq!(told, vec!["run-a".to_string()]);
    }

    #[tokio::test]
    async fn an_expired_lease_or_a_dead_holder_on_this_host_is_taken_over() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        // A holder elsewhere whose lease ran out.
        let stale = LockRecord {
            tenant: "t1".into(),
            command: "deploy".into(),
            run_id: "run-dead".into(),
            host: "another-runner".into(),
            pid: 1,
            since: "2026-01-01T00:00:00Z".into(),
            renewed: "2026-01-01T00:00:00Z".into(),
            expires: "2026-01-01T00:01:00Z".into(),
        };
        store
            .write(&layout::lock("t1"), Locks::encode(&stale))
            .await
            .expect("write");
        let taker = locks(&store, "run-b", std::process::id(), 0);
        taker.acquire("t1", |_| {}).await.expect("expired: taken");
        let (now, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        assert_eq!(now.run_id, "run-b");

        // A holder on this host whose process is gone, lease still running.
        let gone = LockRecord {
            tenant: "t2".into(),
            host: this_host(),
            pid: u32::MAX - 7,
            expires: "2999-01-01T00:00:00Z".into(),
            ..stale.clone()
        };
        store
            .write(&layout::lock("t2"), Locks::encode(&gone))
            .await
            .expect("write");
        if std::path::Path::new("/proc/self").exists() {
            taker
                .acquire("t2", |_| {})
                .await
                .expect("dead holder: taken");
        }
        // A live holder elsewhere is not.
        let live = LockRecord {
            tenant: "t3".into(),
            expires: "2999-01-01T00:00:00Z".into(),
            ..stale
        };
        store
            .write(&layout::lock("t3"), Locks::encode(&live))
            .await
            .expect("write");
        let e = taker.acquire("t3", |_| {}).await.expect_err("live");
        assert!(e.to_string().contains("on another-runner (pid 1)"), "{e}");
        let removed = force_unlock(&store, "t3").await.expect("unlock");
        assert_eq!(removed.map(|r| r.run_id), Some("run-dead".to_string()));
        taker.acquire("t3", |_| {}).await.expect("unlocked: taken");
    }

    #[tokio::test]
    async fn renewal_extends_the_lease_and_a_lock_taken_over_meanwhile_is_lost_not_released() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        let me = std::process::id();
        let first = locks(&store, "run-a", me, 0);
        first.acquire("t1", |_| {}).await.expect("take");
        let (before, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(first.renew().await.is_empty());
        let (unchanged, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        assert_eq!(unchanged, before, "not due: half the lease has not passed");
        assert!(first.renew_all().await.is_empty());
        let (after, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        assert_eq!(after.since, before.since);
        let parse = |t: &str| t.parse::<jiff::Timestamp>().expect("timestamp");
        assert!(
            parse(&after.expires) > parse(&before.expires),
            "{after:?} {before:?}"
        );
        // Another run overwrites it (as if this run's lease had run out).
        force_unlock(&store, "t1").await.expect("unlock");
        let second = locks(&store, "run-b", me, 0);
        second.acquire("t1", |_| {}).await.expect("take");
        assert!(first.renew_all().await.is_empty());
        assert!(first.lost("t1").is_some());
        first.release("t1").await.expect("release");
        let (holder, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        assert_eq!(holder.run_id, "run-b", "the other run's lock is left alone");
    }

    #[tokio::test]
    async fn a_lock_due_for_renewal_is_renewed_and_one_taken_again_by_this_run_is_its_own() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        let locks = locks(&store, "run-a", std::process::id(), 0);
        locks.acquire("t1", |_| {}).await.expect("take");
        let (taken, version) = read_lock(&store, "t1").await.expect("read").expect("held");
        // Half the lease later the lock is due; not before (a third of it later, 20 s of
        // 60 s, a turn that will end in time needs no renewal).
        let after = |secs| {
            taken
                .renewed
                .parse::<jiff::Timestamp>()
                .expect("time")
                .checked_add(jiff::SignedDuration::from_secs(secs))
                .expect("add")
        };
        let later = after(30);
        assert!(locks.due(&taken, later));
        assert!(
            !locks.due(&taken, after(20)),
            "renewed at a third of the lease"
        );
        assert!(!locks.due(&taken, after(29)));
        assert!(!locks.due(&taken, jiff::Timestamp::now()));
        assert!(
            locks.renew_at(after(25), false).await.is_empty()
                && read_lock(&store, "t1")
                    .await
                    .expect("read")
                    .expect("held")
                    .0
                    == taken,
            "not renewed before half the lease"
        );
        // Checked every twelfth of the lease: a due renewal is sent with at least five
        // twelfths of the lease (25 s) left.
        assert_eq!(locks.renew_every(), Duration::from_secs(5));
        assert!(locks.renew_at(later, false).await.is_empty());
        let (renewed, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        assert_ne!(renewed.renewed, taken.renewed, "renewed when due");
        // A create whose answer was lost: taking the lock again finds this run's own record.
        store
            .replace(&layout::lock("t1"), Locks::encode(&taken), &version)
            .await
            .expect("replace");
        locks.held.lock().expect("held").clear();
        locks.acquire("t1", |_| {}).await.expect("its own record");
        assert_eq!(locks.held(), vec!["t1".to_string()]);
    }

    #[tokio::test]
    async fn a_run_that_stalled_past_its_lease_reads_before_release_and_leaves_the_takers_lock() {
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        let me = std::process::id();
        let short = |run: &str| {
            let mut holder = Holder::this_process("deploy", run);
            holder.pid = me;
            Locks::new(
                store.clone(),
                holder,
                Duration::from_millis(600),
                Duration::ZERO,
            )
        };
        let stalled = short("run-a");
        stalled.acquire("t1", |_| {}).await.expect("take");
        tokio::time::sleep(Duration::from_millis(700)).await;
        let taker = short("run-b");
        taker
            .acquire("t1", |_| {})
            .await
            .expect("expired: taken over");
        stalled.release("t1").await.expect("release");
        let (holder, _) = read_lock(&store, "t1").await.expect("read").expect("held");
        assert_eq!(holder.run_id, "run-b", "the taker's lock is left alone");
        // Within its lease a lock is released without a read.
        taker.release("t1").await.expect("release");
        assert!(read_lock(&store, "t1").await.expect("read").is_none());
    }
}
