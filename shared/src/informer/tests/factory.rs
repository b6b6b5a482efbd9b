//! The factory against an in-process fake apiserver: one informer and one list+watch per type,
//! started only by `start` (each informer once), and reporting its state.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use http_body::Frame;
use http_body_util::StreamBody;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use serde_json::json;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::informer::{SharedInformerFactory, wait_for_named_cache_sync};

/// What the fake apiserver does with a WATCH that asks for initial events.
#[derive(Clone, Copy, PartialEq)]
enum Streaming {
    /// Streams the objects as ADDED, then the `k8s.io/initial-events-end` bookmark (v1.37).
    Served,
    /// Answers 422, as an apiserver with the `WatchList` gate off does.
    Refused,
}

fn objects(path: &str) -> Vec<serde_json::Value> {
    match path {
        "/api/v1/pods" => vec![json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "p1", "namespace": "ns", "resourceVersion": "9",
                "managedFields": [{"manager": "kubectl", "operation": "Apply"}]
            },
            "spec": {"nodeName": "n1", "containers": []}
        })],
        _ => Vec::new(),
    }
}

/// The watch body of a streaming list: one ADDED line per object, then the bookmark, then
/// the connection stays open and silent.
type Chunks = BoxStream<'static, Result<Frame<Bytes>, Infallible>>;

/// A response body of `chunks`, then silence forever when `hold` (an open watch).
fn streamed(chunks: Vec<Vec<u8>>, hold: bool) -> StreamBody<Chunks> {
    let frames = futures::stream::iter(chunks.into_iter().map(|c| Ok(Frame::data(Bytes::from(c)))));
    let frames: Chunks = if hold {
        frames.chain(futures::stream::pending()).boxed()
    } else {
        frames.boxed()
    };
    StreamBody::new(frames)
}

fn initial_events(path: &str) -> StreamBody<Chunks> {
    let mut lines = String::new();
    for object in objects(path) {
        lines.push_str(&json!({"type": "ADDED", "object": object}).to_string());
        lines.push('\n');
    }
    let bookmark = json!({"type": "BOOKMARK", "object": {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"resourceVersion": "10", "annotations": {"k8s.io/initial-events-end": "true"}}
    }});
    lines.push_str(&bookmark.to_string());
    lines.push('\n');
    streamed(vec![lines.into_bytes()], true)
}

/// A client whose "apiserver" answers every LIST from a fixed set of objects, a streaming
/// WATCH as `streaming` says, and holds every other WATCH open forever. Each request is
/// reported as `"LIST /api/v1/pods"`, `"WATCH-LIST …"` (with `sendInitialEvents`) or `"WATCH …"`.
fn fake_client(streaming: Streaming) -> (Client, mpsc::UnboundedReceiver<String>) {
    let (requests, seen) = mpsc::unbounded_channel();
    let service = tower::service_fn(move |request: http::Request<kube::client::Body>| {
        let requests = requests.clone();
        async move {
            let path = request.uri().path().to_owned();
            let query = request.uri().query().unwrap_or_default().to_owned();
            let watch = query.contains("watch=true");
            let initial = query.contains("sendInitialEvents=true");
            let verb = match (watch, initial) {
                (true, true) => "WATCH-LIST",
                (true, false) => "WATCH",
                _ => "LIST",
            };
            let _ = requests.send(format!("{verb} {path}"));
            if watch && initial {
                if streaming == Streaming::Served {
                    return Ok::<_, Infallible>(http::Response::new(initial_events(&path)));
                }
                let status = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                    "message": "sendInitialEvents is forbidden for watch unless the WatchList feature gate is enabled",
                    "reason": "Invalid", "code": 422});
                let mut response = http::Response::new(streamed(
                    vec![serde_json::to_vec(&status).unwrap_or_default()],
                    false,
                ));
                *response.status_mut() = http::StatusCode::UNPROCESSABLE_ENTITY;
                return Ok(response);
            }
            if watch {
                return Ok(http::Response::new(streamed(Vec::new(), true)));
            }
            let body = json!({
                "apiVersion": "v1", "kind": "List",
                "metadata": {"resourceVersion": "10"}, "items": objects(&path)
            });
            let body = streamed(vec![serde_json::to_vec(&body).unwrap_or_default()], false);
            Ok(http::Response::new(body))
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
async fn one_informer_and_one_streaming_list_per_type_started_only_by_start() {
    let (client, mut seen) = fake_client(Streaming::Served);
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
    for _ in 0..2 {
        requests.push(next_request(&mut seen).await);
    }
    requests.sort();
    assert_eq!(
        requests,
        ["WATCH-LIST /api/v1/nodes", "WATCH-LIST /api/v1/pods"]
    );
    tokio::task::yield_now().await;
    assert!(
        seen.try_recv().is_err(),
        "exactly one streaming watch per type, no LIST"
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
    assert_eq!(
        next_request(&mut seen).await,
        "WATCH-LIST /api/v1/namespaces"
    );

    // Stopped informers stay stopped: a later start opens nothing.
    cancel.cancel();
    while factory.statuses().iter().any(|s| s.running) {
        tokio::task::yield_now().await;
    }
    assert_eq!(factory.start(&CancellationToken::new()), 0);
    assert_eq!(pods_for_rs.stats().starts, 1);
}

#[tokio::test]
async fn an_apiserver_that_refuses_streaming_lists_is_listed_in_pages() {
    let (client, mut seen) = fake_client(Streaming::Refused);
    let factory = SharedInformerFactory::new(client, Duration::from_secs(3600));
    let pods = factory.informer::<Pod>();
    let cancel = CancellationToken::new();
    assert_eq!(factory.start(&cancel), 1);
    assert!(wait_for_named_cache_sync("test", &cancel, &[pods.as_ref()]).await);
    let mut requests = Vec::new();
    for _ in 0..3 {
        requests.push(next_request(&mut seen).await);
    }
    assert_eq!(
        requests,
        [
            "WATCH-LIST /api/v1/pods",
            "LIST /api/v1/pods",
            "WATCH /api/v1/pods"
        ]
    );
    assert!(factory.lister::<Pod>().get_namespaced("ns", "p1").is_some());
    assert_eq!(
        pods.stats().watch_errors,
        0,
        "a refusal is not a failure the informer retries"
    );
    cancel.cancel();
}
