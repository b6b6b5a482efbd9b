//! The factory against an in-process fake apiserver: one informer and one list+watch per type,
//! started only by `start` (each informer once), and reporting its state.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::client::Body;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::informer::{SharedInformerFactory, wait_for_named_cache_sync};

/// A client whose "apiserver" answers every LIST from a fixed set of objects and holds every
/// WATCH open forever. Each request is reported as `"LIST /api/v1/pods"` / `"WATCH …"`.
fn fake_client() -> (Client, mpsc::UnboundedReceiver<String>) {
    let (requests, seen) = mpsc::unbounded_channel();
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let requests = requests.clone();
        async move {
            let path = request.uri().path().to_owned();
            let watch = request
                .uri()
                .query()
                .is_some_and(|q| q.contains("watch=true"));
            let _ = requests.send(format!("{} {path}", if watch { "WATCH" } else { "LIST" }));
            if watch {
                std::future::pending::<()>().await;
            }
            let body = match path.as_str() {
                "/api/v1/pods" => json!({
                    "apiVersion": "v1", "kind": "PodList",
                    "metadata": {"resourceVersion": "10"},
                    "items": [{
                        "apiVersion": "v1", "kind": "Pod",
                        "metadata": {
                            "name": "p1", "namespace": "ns", "resourceVersion": "9",
                            "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
                        },
                        "spec": {"nodeName": "n1", "containers": []}
                    }]
                }),
                _ => json!({
                    "apiVersion": "v1", "kind": "List",
                    "metadata": {"resourceVersion": "10"}, "items": []
                }),
            };
            let body = Body::from(serde_json::to_vec(&body).unwrap_or_default());
            Ok::<_, Infallible>(http::Response::new(body))
        }
    });
    (Client::new(service, "default"), seen)
}

async fn next_request(seen: &mut mpsc::UnboundedReceiver<String>) -> String {
    tokio::time::timeout(Duration::from_secs(10), seen.recv())
        .await
        .expect("a request within 10s")
        .expect("client alive")
}

#[tokio::test]
async fn one_informer_and_one_list_watch_per_type_started_only_by_start() {
    let (client, mut seen) = fake_client();
    let factory = SharedInformerFactory::new(client, Duration::from_secs(3600));
    assert!(factory.resync_period() >= Duration::from_secs(3600));
    assert!(factory.resync_period() < Duration::from_secs(7200));

    // Two "controllers" ask for pods, one for nodes.
    let pods_for_rs = factory.informer::<Pod>();
    let pods_for_gc = factory.informer::<Pod>();
    let nodes = factory.informer::<Node>();
    assert!(Arc::ptr_eq(&pods_for_rs, &pods_for_gc));
    assert_eq!(pods_for_rs.default_resync(), factory.resync_period());
    tokio::task::yield_now().await;
    assert!(seen.try_recv().is_err(), "nothing is listed before start");

    let cancel = CancellationToken::new();
    assert_eq!(factory.start(&cancel), 2);
    assert_eq!(
        factory.start(&cancel),
        0,
        "a second start starts nothing new"
    );
    assert!(
        wait_for_named_cache_sync("test", &cancel, &[pods_for_rs.as_ref(), nodes.as_ref()]).await
    );
    assert!(factory.wait_for_cache_sync(&cancel).await);

    let mut requests = Vec::new();
    for _ in 0..4 {
        requests.push(next_request(&mut seen).await);
    }
    requests.sort();
    assert_eq!(
        requests,
        [
            "LIST /api/v1/nodes",
            "LIST /api/v1/pods",
            "WATCH /api/v1/nodes",
            "WATCH /api/v1/pods",
        ]
    );
    tokio::task::yield_now().await;
    assert!(
        seen.try_recv().is_err(),
        "exactly one list and one watch per type"
    );

    let cached = factory
        .lister::<Pod>()
        .get_namespaced("ns", "p1")
        .expect("listed pod");
    assert!(cached.metadata.managed_fields.is_none());
    assert_eq!(
        factory
            .lister::<Pod>()
            .by_index(crate::informer::INDEX_NODE_NAME, "n1")
            .len(),
        1
    );

    let statuses = factory.statuses();
    let summary: Vec<(String, String, bool, bool, u64)> = statuses
        .iter()
        .map(|s| {
            (
                s.api_version.clone(),
                s.kind.clone(),
                s.running,
                s.synced,
                s.stats.starts,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("v1".into(), "Pod".into(), true, true, 1),
            ("v1".into(), "Node".into(), true, true, 1),
        ]
    );

    // An informer requested after start waits for the next start.
    let namespaces = factory.informer::<k8s_openapi::api::core::v1::Namespace>();
    tokio::task::yield_now().await;
    assert!(!namespaces.is_running());
    assert_eq!(factory.start(&cancel), 1);
    assert_eq!(next_request(&mut seen).await, "LIST /api/v1/namespaces");

    // Stopped informers stay stopped: a later start opens nothing.
    cancel.cancel();
    while factory.statuses().iter().any(|s| s.running) {
        tokio::task::yield_now().await;
    }
    assert_eq!(factory.start(&CancellationToken::new()), 0);
    assert_eq!(pods_for_rs.stats().starts, 1);
}
