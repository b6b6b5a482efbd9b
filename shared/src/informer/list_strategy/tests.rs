//! The fallback driven by scripted watcher streams: which errors switch to paged lists, that
//! the switch happens once, and that nothing else is swallowed.

use std::sync::Arc;

use futures::{StreamExt, stream};
use k8s_openapi::api::core::v1::Pod;
use kube::core::Status;
use kube::runtime::watcher::{self, Event};
use parking_lot::Mutex;

use super::{FallbackToPaged, ListStrategy, refuses_streaming};
use crate::informer::WatchStream;

fn api_status(code: u16, reason: &str) -> Status {
    Status::failure("scripted", reason).with_code(code)
}

fn start_failed(code: u16) -> watcher::Error {
    watcher::Error::WatchStartFailed(kube::Error::Api(api_status(code, "Invalid").boxed()))
}

fn named(name: &str) -> Pod {
    let mut pod = Pod::default();
    pod.metadata.name = Some(name.into());
    pod
}

type Script = Vec<Result<Event<Pod>, watcher::Error>>;

/// A fallback stream whose watchers replay `streaming` and `paged`; records which were opened.
fn scripted(
    streaming: Script,
    paged: Script,
) -> (FallbackToPaged<Pod>, Arc<Mutex<Vec<ListStrategy>>>) {
    let opened = Arc::new(Mutex::new(Vec::new()));
    let scripts = Mutex::new((Some(streaming), Some(paged)));
    let log = Arc::clone(&opened);
    let fallback = FallbackToPaged::new("Pod", move |strategy| -> WatchStream<Pod> {
        log.lock().push(strategy);
        let mut scripts = scripts.lock();
        let script = match strategy {
            ListStrategy::Streaming => scripts.0.take(),
            ListStrategy::Paged => scripts.1.take(),
        };
        stream::iter(script.expect("each strategy is opened at most once")).boxed()
    });
    (fallback, opened)
}

fn describe(items: Vec<Result<Event<Pod>, watcher::Error>>) -> Vec<String> {
    items
        .into_iter()
        .map(|item| match item {
            Ok(Event::Init) => "init".to_owned(),
            Ok(Event::InitApply(p)) => format!("list {}", p.metadata.name.unwrap_or_default()),
            Ok(Event::InitDone) => "done".to_owned(),
            Ok(Event::Apply(p)) => format!("apply {}", p.metadata.name.unwrap_or_default()),
            Ok(Event::Delete(p)) => format!("delete {}", p.metadata.name.unwrap_or_default()),
            Err(err) => format!("error {err}"),
        })
        .collect()
}

#[test]
fn only_answers_a_retry_cannot_change_are_refusals() {
    for code in [400, 403, 404, 405, 406, 415, 422] {
        assert!(refuses_streaming(&start_failed(code)), "{code}");
        assert!(
            refuses_streaming(&watcher::Error::WatchError(api_status(code, "x").boxed())),
            "{code}"
        );
    }
    for code in [410, 429, 500, 503, 504] {
        assert!(!refuses_streaming(&start_failed(code)), "{code}");
    }
    assert!(!refuses_streaming(&watcher::Error::NoResourceVersion));
    let list_failed =
        watcher::Error::InitialListFailed(kube::Error::Api(api_status(422, "x").boxed()));
    assert!(
        !refuses_streaming(&list_failed),
        "a LIST error is the paged watcher's own"
    );
}

#[tokio::test]
async fn a_server_that_streams_is_never_listed_in_pages() {
    let (fallback, opened) = scripted(
        vec![
            Ok(Event::Init),
            Ok(Event::InitApply(named("a"))),
            Ok(Event::InitDone),
            Ok(Event::Apply(named("b"))),
        ],
        vec![],
    );
    let items: Vec<_> = fallback.collect().await;
    assert_eq!(describe(items), ["init", "list a", "done", "apply b"]);
    assert_eq!(*opened.lock(), [ListStrategy::Streaming]);
}

#[tokio::test]
async fn a_refused_streaming_list_switches_to_paged_lists_without_an_error() {
    let (mut fallback, opened) = scripted(
        vec![Err(start_failed(422)), Ok(Event::Init)],
        vec![
            Ok(Event::Init),
            Ok(Event::InitApply(named("a"))),
            Ok(Event::InitDone),
            Err(start_failed(422)),
            Ok(Event::Apply(named("b"))),
        ],
    );
    let mut items = Vec::new();
    while let Some(item) = fallback.next().await {
        items.push(item);
    }
    assert_eq!(fallback.strategy(), ListStrategy::Paged);
    let lines = describe(items);
    assert_eq!(&lines[..3], ["init", "list a", "done"]);
    // Once paged, errors are the paged watcher's own and reach the informer.
    assert!(lines[3].starts_with("error"), "{lines:?}");
    assert_eq!(lines[4], "apply b");
    assert_eq!(
        *opened.lock(),
        [ListStrategy::Streaming, ListStrategy::Paged]
    );
}

#[tokio::test]
async fn retriable_errors_stay_on_the_streaming_list() {
    let (fallback, opened) = scripted(
        vec![
            Err(start_failed(503)),
            Err(start_failed(429)),
            Err(watcher::Error::WatchError(
                api_status(410, "Expired").boxed(),
            )),
            Ok(Event::Init),
            Ok(Event::InitDone),
        ],
        vec![],
    );
    let lines = describe(fallback.collect().await);
    assert_eq!(lines.len(), 5);
    assert!(
        lines[..3].iter().all(|l| l.starts_with("error")),
        "{lines:?}"
    );
    assert_eq!(&lines[3..], ["init", "done"]);
    assert_eq!(*opened.lock(), [ListStrategy::Streaming]);
}

#[test]
fn each_strategy_configures_the_watcher_it_names() {
    assert_eq!(
        ListStrategy::Streaming.config().initial_list_strategy,
        watcher::InitialListStrategy::StreamingList
    );
    assert_eq!(
        ListStrategy::Paged.config().initial_list_strategy,
        watcher::InitialListStrategy::ListWatch
    );
    assert_eq!(ListStrategy::Paged.config().page_size, Some(500));
}
