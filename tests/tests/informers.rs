//! The shared informer against a real apiserver that is restarted in the middle of the churn.
//!
//! 2000 creates, updates and deletes run while an informer watches; half-way the apiserver is
//! restarted, so the watch breaks and resumes from a resourceVersion the new apiserver's watch
//! cache does not have (410 Gone), forcing a relist. Deletes made while the watch was down can
//! only be reported as tombstones. Afterwards the cache must equal a fresh LIST, and every
//! deleted object must have been reported deleted exactly once, by the watch or as a tombstone.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::Duration,
};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kcm_shared::informer::{Delta, Lister, SharedInformerFactory};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams},
};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

/// Objects deleted while the informer is cut off: they can only reach it as tombstones.
const OUTAGE_DELETES: usize = 50;

/// Deletes delivered per object uid, and whether any came as a tombstone.
#[derive(Default)]
struct DeleteLog {
    by_uid: HashMap<String, u32>,
    tombstones: u32,
}

fn lease(name: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("v0".into()),
            ..Default::default()
        }),
    }
}

/// Retries an API call while the apiserver is away.
async fn persist<T>(what: &str, mut call: impl AsyncFnMut() -> Result<T, kube::Error>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        match call().await {
            Ok(v) => return v,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::debug!(%e, what, "retrying");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("{what}: {e}"),
        }
    }
}

/// Deletes up to `n` of the oldest live objects, remembering their uids; returns how many.
async fn delete_oldest(
    api: &Api<Lease>,
    live: &mut Vec<String>,
    deleted: &mut Vec<String>,
    n: usize,
) -> usize {
    let doomed: Vec<String> = live.drain(..n.min(live.len())).collect();
    for name in &doomed {
        let gone = persist("get", async || api.get(name).await).await;
        deleted.push(gone.uid().unwrap_or_default());
        persist("delete", async || {
            api.delete(name, &DeleteParams::default()).await
        })
        .await;
    }
    doomed.len()
}

/// Waits until the informer's view of `namespace` equals a fresh LIST; returns its size.
async fn wait_caught_up(lister: &Lister<Lease>, api: &Api<Lease>, namespace: &str) -> usize {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let list = persist("list", async || api.list(&ListParams::default()).await).await;
        let expected: BTreeMap<_, _> = list
            .items
            .into_iter()
            .map(|l| (l.name_any(), l.resource_version().unwrap_or_default()))
            .collect();
        let cached: BTreeMap<_, _> = lister
            .list_namespace(namespace)
            .into_iter()
            .map(|l| (l.name_any(), l.resource_version().unwrap_or_default()))
            .collect();
        if cached == expected {
            return cached.len();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "cache never matched the LIST: {} cached vs {} listed",
            cached.len(),
            expected.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cache_matches_a_fresh_list_after_churn_across_an_apiserver_restart() -> anyhow::Result<()>
{
    let Some(env) = testenv::TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("informer-churn").await?;
    let api: Api<Lease> = ns.api();

    // The informer reaches the apiserver through a proxy the test can cut; the churn does not.
    let proxy = testenv::CuttableProxy::to_apiserver(env).await?;
    let mut via_proxy = env.config(testenv::env::Identity::Admin);
    via_proxy.cluster_url = proxy.url().parse()?;
    let factory = SharedInformerFactory::new(
        kube::Client::try_from(via_proxy)?,
        Duration::from_secs(12 * 3600),
    );
    let informer = factory.informer::<Lease>();
    let deletes = Arc::new(Mutex::new(DeleteLog::default()));
    let log = deletes.clone();
    let namespace = ns.name().to_string();
    informer.add_handler(move |delta: &Delta<Lease>| {
        if let Delta::Deleted {
            obj,
            final_state_unknown,
        } = delta
            && obj.namespace().as_deref() == Some(namespace.as_str())
        {
            let mut log = log.lock();
            *log.by_uid.entry(obj.uid().unwrap_or_default()).or_default() += 1;
            if *final_state_unknown {
                log.tombstones += 1;
            }
        }
    });
    let cancel = CancellationToken::new();
    factory.start(&cancel);
    assert!(factory.wait_for_cache_sync(&cancel).await);

    // 1000 creates, 500 updates and 550 deletes in rounds, so the live set grows to 450.
    let mut deleted_uids = Vec::new();
    let mut live: Vec<String> = Vec::new();
    let mut op = 0;
    let mut restarted = false;
    for round in 0..50 {
        for i in 0..20 {
            let name = format!("l-{round}-{i}");
            let created = persist("create", async || {
                api.create(&PostParams::default(), &lease(&name)).await
            })
            .await;
            live.push(created.name_any());
            op += 1;
        }
        for name in live.iter().rev().take(10) {
            let patch = serde_json::json!({"spec": {"holderIdentity": format!("v{op}")}});
            persist("update", async || {
                api.patch(name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await
            })
            .await;
            op += 1;
        }
        op += delete_oldest(&api, &mut live, &mut deleted_uids, 10).await;
        if !restarted && op >= 1000 {
            // An outage for the informer: its connections close and stay refused while the
            // apiserver restarts, objects are deleted, and etcd is compacted past everything
            // the informer has seen. When the link comes back, its resume gets 410 Gone.
            // Everything so far has been seen, so every delete below is owed to the informer.
            wait_caught_up(&informer.lister(), &api, ns.name()).await;
            proxy.refuse();
            env.restart_apiserver().await?;
            op += delete_oldest(&api, &mut live, &mut deleted_uids, OUTAGE_DELETES).await;
            env.compact_etcd().await?;
            proxy.restore();
            // Resume only once the informer is back: objects created and deleted while it is
            // away are never seen, so no delete would be owed for them.
            wait_caught_up(&informer.lister(), &api, ns.name()).await;
            restarted = true;
        }
    }
    assert!(op >= 2000, "{op} operations");
    assert!(restarted);

    // The informer catches up: its view of the namespace equals a fresh LIST.
    let cached = wait_caught_up(&informer.lister(), &api, ns.name()).await;
    assert_eq!(cached, live.len());
    assert!(
        cached > 400,
        "the comparison is not trivial: {cached} objects"
    );
    informer.wait_handlers_idle().await;

    let log = deletes.lock();
    for uid in &deleted_uids {
        assert_eq!(
            log.by_uid.get(uid),
            Some(&1),
            "delete of {uid} delivered once"
        );
    }
    assert_eq!(
        log.by_uid.len(),
        deleted_uids.len(),
        "no deletes for objects that still exist"
    );
    let stats = informer.stats();
    assert!(stats.lists >= 2, "the restart forced a relist: {stats:?}");
    assert!(
        log.tombstones > 0,
        "deletes during the outage arrive as tombstones: {stats:?}"
    );
    eprintln!(
        "informer churn: {} deletes delivered, {} as tombstones; stats {stats:?}",
        deleted_uids.len(),
        log.tombstones
    );
    cancel.cancel();
    Ok(())
}
