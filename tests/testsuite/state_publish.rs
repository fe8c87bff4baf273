//! A tenant's turn with state in Azure Blob Storage (Azurite), through the library's run
//! state: the requests it makes to the store, counted by kind as `bench state` counts them. A
//! fresh tenant's map is not read (a listing made after its lock says there is none); its
//! before-images reach the store while its Graph work goes on, once, and are in the store
//! before its lock is released even when they changed after that.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tenantform::state::before::BeforeImages;
use tenantform::state::stats::{StatsSnapshot, StoreOp};
use tenantform::state::{Holder, RunState, StateStore, layout};

use crate::azurite::Azurite;

fn count(stats: &StatsSnapshot, op: StoreOp) -> u64 {
    stats.ops.iter().find(|o| o.op == op).map_or(0, |o| o.count)
}

fn images(tenant: &str, keys: &[&str]) -> Vec<u8> {
    let mut images = BeforeImages::new(tenant);
    for key in keys {
        images.add(serde_json::json!({ "key": key, "body": { "state": "enabled" } }));
    }
    images.to_bytes()
}

async fn open(store: &Arc<StateStore>, dir: &std::path::Path, run: &str) -> Arc<RunState> {
    RunState::open(
        store.clone(),
        dir,
        Holder::this_process("deploy", run),
        Duration::from_secs(60),
        Duration::ZERO,
    )
    .await
    .expect("open the run state")
}

/// Wait (at most 20 s) until the store has `key`.
async fn until_stored(store: &StateStore, key: &str) -> Vec<u8> {
    let started = Instant::now();
    loop {
        if let Some(v) = store.read(key).await.expect("read") {
            return v.bytes;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{key} never reached the store"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn a_fresh_tenants_turn_reads_no_map_and_publishes_its_before_images_once_while_it_runs() {
    let Some(az) = Azurite::start() else { return };
    let store = Arc::new(az.store("turn"));
    let dir = tempfile::tempdir().expect("dir");
    let run = "20261126T000000Z-aaaa";
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let state = open(&store, dir.path(), run).await;
        let tenants = ["t-one", "t-two", "t-three"];
        for tenant in tenants {
            state.begin_tenant(tenant, |_| {}).await.expect("locked");
        }
        let stats = store.stats().expect("remote stats");
        assert_eq!(count(&stats, StoreOp::LockCreate), 3);
        assert_eq!(
            count(&stats, StoreOp::StateRead),
            0,
            "no map read for tenants the store has none of: {stats:?}"
        );

        // The deploy records the tenants' before-images before their first change: they go
        // to the store at once, not at the turn's end.
        let key = |t: &str| layout::before_images(run, t);
        for tenant in tenants {
            std::fs::create_dir_all(dir.path().join(".tenantform/runs").join(run).join("before"))
                .expect("dir");
            std::fs::write(
                dir.path().join(".tenantform").join(key(tenant)),
                images(tenant, &["a"]),
            )
            .expect("write");
            state.publish_before_images_early(tenant);
        }
        for tenant in tenants {
            assert_eq!(
                until_stored(&store, &key(tenant)).await,
                images(tenant, &["a"]),
                "published before the turn ended"
            );
        }
        // t-three's images grew after they were published (as a resumed turn's may): the end
        // publishes what the store lacks.
        std::fs::write(
            dir.path().join(".tenantform").join(key("t-three")),
            images("t-three", &["a", "b"]),
        )
        .expect("write");
        for tenant in tenants {
            state
                .end_tenant(tenant)
                .await
                .expect("published and released");
        }
        state.finish().await.expect("finished");
        let stats = store.stats().expect("remote stats");
        // One create each while the turns ran; at t-three's end a create that finds the
        // document, a read (counted as other) and a conditional replace of the merged one.
        assert_eq!(count(&stats, StoreOp::BeforeWrite), 5, "{stats:?}");
        assert_eq!(count(&stats, StoreOp::LockDelete), 3, "{stats:?}");
        assert_eq!(count(&stats, StoreOp::StateRead), 0, "{stats:?}");
        let stored = store
            .read(&key("t-three"))
            .await
            .expect("read")
            .expect("there");
        assert_eq!(stored.bytes, images("t-three", &["a", "b"]));
        assert!(
            store.list(layout::LOCKS).await.expect("list").is_empty(),
            "every lock released"
        );

        // A second run: the tenants have maps now, which are read.
        for tenant in ["t-one", "t-two"] {
            store
                .write(&layout::identity(tenant), b"{\"objects\": {}}\n".to_vec())
                .await
                .expect("write");
        }
        let again = open(&store, dir.path(), "20261126T000100Z-bbbb").await;
        let before = count(&store.stats().expect("stats"), StoreOp::StateRead);
        for tenant in tenants {
            again.begin_tenant(tenant, |_| {}).await.expect("locked");
        }
        let reads = count(&store.stats().expect("stats"), StoreOp::StateRead) - before;
        assert_eq!(
            reads, 2,
            "the two maps the store has are read, the third is not"
        );
        for tenant in tenants {
            again.end_tenant(tenant).await.expect("released");
        }
        again.finish().await.expect("finished");
    });
}
