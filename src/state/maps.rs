//! Which tenants' identity maps the store has, learnt from listings of `state/` made after
//! those tenants' locks were taken, so that a tenant without a map (every tenant's first
//! deploy) costs no read of a map that is not there.
//!
//! A listing says that a map is absent only for the tenants whose locks this run held when
//! the listing was sent: no other run can publish the map of a tenant this run holds, so the
//! answer stays true for the whole turn. Each tenant that asks is therefore answered by a
//! listing begun after it asked (never by one already under way, never by one remembered from
//! earlier): tenants that ask while a listing is out wait for the next one, which answers all
//! of them at once. When few tenants wait and the last listing was long (a store holding
//! thousands of maps), listing again would cost more than their reads, and they are told to
//! read their maps instead.
//!
//! Input: the store and tenant ids whose locks are held. Output: per tenant, whether the store
//! has its map ([`MapLookup`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use crate::state::{StateError, StateStore, layout};

/// The keys under which identity maps are kept.
const MAPS: &str = "state/";

/// Entries of a listing that cost about as much as reading one map: a listing is made for a
/// batch of waiting tenants only when it returns at most this many entries per tenant. A
/// listing of 5,000 keys (one page) is about 1 MB of XML to send and parse; one read is a
/// request of its own.
const LISTED_ENTRIES_PER_READ: usize = 500;

/// What a listing said about one tenant's map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapLookup {
    /// The store has no map of the tenant: nothing to read.
    Absent,
    /// The store has one: read it.
    Present,
    /// Not listed (a listing would have cost more than the reads): read it.
    NotListed,
}

/// The tenants waiting for a listing, and what the last one cost.
#[derive(Debug, Default)]
struct Queue {
    /// A task is listing (or deciding) now.
    listing: bool,
    /// Tenants (their map keys) that asked since the current listing was sent.
    waiting: Vec<(
        String,
        tokio::sync::oneshot::Sender<Result<MapLookup, StateError>>,
    )>,
    /// Entries the last listing returned (`None`: none made yet).
    last_entries: Option<usize>,
}

/// Listings of the store's identity maps, shared by a run's tenants.
#[derive(Debug)]
pub struct MapDirectory {
    store: Arc<StateStore>,
    queue: Mutex<Queue>,
}

impl MapDirectory {
    /// A directory of `store`'s maps (nothing is listed until a tenant asks).
    pub fn new(store: Arc<StateStore>) -> Arc<MapDirectory> {
        Arc::new(MapDirectory {
            store,
            queue: Mutex::new(Queue::default()),
        })
    }

    /// Whether the store has the identity map of `tenant`, whose lock this run holds now.
    /// Answered by a listing sent after this call (shared with the other tenants that ask
    /// meanwhile), or [`MapLookup::NotListed`] when listing is not worth it.
    pub async fn lookup(self: &Arc<Self>, tenant: &str) -> Result<MapLookup, StateError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let start = {
            let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            queue.waiting.push((layout::identity(tenant), answer));
            !std::mem::replace(&mut queue.listing, true)
        };
        if start {
            tokio::spawn(self.clone().answer_waiting());
        }
        // A lister that went away without answering (its runtime shut down): read instead.
        answered.await.unwrap_or(Ok(MapLookup::NotListed))
    }

    /// List for the tenants waiting, again and again while more of them ask.
    async fn answer_waiting(self: Arc<Self>) {
        loop {
            let (batch, list) = {
                let mut queue = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if queue.waiting.is_empty() {
                    queue.listing = false;
                    return;
                }
                let batch = std::mem::take(&mut queue.waiting);
                let list = worth_listing(batch.len(), queue.last_entries);
                (batch, list)
            };
            if !list {
                for (_, answer) in batch {
                    let _ = answer.send(Ok(MapLookup::NotListed));
                }
                continue;
            }
            // Sent after every tenant of the batch asked, so after each of their locks was
            // taken: what it says about their maps holds while this run holds those locks.
            match self.store.list(MAPS).await {
                Ok(listed) => {
                    self.queue
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .last_entries = Some(listed.len());
                    let present: BTreeSet<String> = listed.into_iter().map(|l| l.key).collect();
                    for (key, answer) in batch {
                        let found = if present.contains(&key) {
                            MapLookup::Present
                        } else {
                            MapLookup::Absent
                        };
                        let _ = answer.send(Ok(found));
                    }
                }
                Err(e) => {
                    for (_, answer) in batch {
                        let _ = answer.send(Err(same_error(&e)));
                    }
                }
            }
        }
    }
}

/// True when one listing answering `waiting` tenants costs less than their reads, given that
/// the last listing returned `last_entries` keys (`None`: no listing made yet, so it is tried).
fn worth_listing(waiting: usize, last_entries: Option<usize>) -> bool {
    last_entries.is_none_or(|entries| entries <= waiting.saturating_mul(LISTED_ENTRIES_PER_READ))
}

/// The listing's error, once for each tenant that waited for it.
fn same_error(e: &StateError) -> StateError {
    match e {
        StateError::Storage {
            location,
            action,
            key,
            message,
        } => StateError::Storage {
            location: location.clone(),
            action,
            key: key.clone(),
            message: message.clone(),
        },
        other => StateError::Storage {
            location: String::new(),
            action: "list",
            key: MAPS.to_string(),
            message: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::LocalStore;

    #[test]
    fn a_listing_is_made_when_it_costs_less_than_the_reads_it_saves() {
        assert!(worth_listing(1, None), "the first listing is tried");
        assert!(worth_listing(1, Some(0)));
        assert!(worth_listing(1, Some(500)));
        assert!(!worth_listing(1, Some(501)));
        assert!(worth_listing(20, Some(10_000)));
        assert!(!worth_listing(19, Some(10_000)));
    }

    #[tokio::test]
    async fn each_lookup_is_answered_by_a_listing_made_after_it_was_asked() {
        // A local store in a folder stands in for the remote one: the listing is the same.
        let dir = tempfile::tempdir().expect("dir");
        let store = Arc::new(StateStore::Local(LocalStore::new(dir.path())));
        store
            .write(&layout::identity("T-HAS"), b"{}".to_vec())
            .await
            .expect("write");
        let maps = MapDirectory::new(store.clone());
        let (has, new) = tokio::join!(maps.lookup("t-has"), maps.lookup("t-new"));
        assert_eq!(has.expect("listed"), MapLookup::Present);
        assert_eq!(new.expect("listed"), MapLookup::Absent);
        // Another run deploys t-new and publishes its map (between this run's lookups, as
        // between two runs' locks): the next lookup lists again and finds it.
        store
            .write(&layout::identity("t-new"), b"{}".to_vec())
            .await
            .expect("write");
        assert_eq!(
            maps.lookup("t-new").await.expect("listed"),
            MapLookup::Present,
            "an earlier listing is never reused"
        );
    }

    #[tokio::test]
    async fn a_listing_that_fails_fails_every_lookup_waiting_for_it() {
        // A store nobody answers at (a loopback port just closed), tried once.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let settings = crate::source::model::AzureBlobSettings {
            account: "devstoreaccount1".into(),
            container: "state".into(),
            prefix: String::new(),
            endpoint: Some(format!("http://127.0.0.1:{port}/devstoreaccount1")),
        };
        let env = |name: &str| (name == "AZURE_STORAGE_ACCOUNT_KEY").then(|| "a2V5".to_string());
        let blob = crate::state::BlobStore::open(&settings, &env)
            .expect("open")
            .with_retry(
                crate::state::retry::StoreRetry {
                    retries: 0,
                    ..crate::state::retry::StoreRetry::default()
                },
                Arc::new(crate::state::retry::TokioSleeper),
            );
        let maps = MapDirectory::new(Arc::new(StateStore::AzureBlob(Box::new(blob))));
        let (a, b) = tokio::join!(maps.lookup("t1"), maps.lookup("t2"));
        for e in [a, b] {
            let e = e.expect_err("the listing failed");
            assert!(
                matches!(e, StateError::Storage { action: "list", .. })
                    && e.to_string().contains("cannot list state/"),
                "{e}"
            );
        }
    }
}
