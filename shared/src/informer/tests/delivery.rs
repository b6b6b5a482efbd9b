//! What handlers and listers observe for scripted watch events.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::runtime::watcher::{self, Event};
use tokio_util::sync::CancellationToken;

use super::{Recorder, on_node, owned_by, pod};
use crate::informer::{
    Delta, INDEX_CONTROLLER_UID, INDEX_NAMESPACE, INDEX_NODE_NAME, Informer, InformerStats,
    ObjectKey, wait_for_named_cache_sync,
};

fn list(informer: &Informer<Pod>, pods: Vec<Pod>) {
    informer.process_event(Event::Init);
    for pod in pods {
        informer.process_event(Event::InitApply(pod));
    }
    informer.process_event(Event::InitDone);
}

fn sorted_keys(objects: Vec<Arc<Pod>>) -> Vec<String> {
    let mut keys: Vec<String> = objects
        .iter()
        .map(|o| ObjectKey::from_object(o.as_ref()).to_string())
        .collect();
    keys.sort();
    keys
}

#[tokio::test]
async fn every_handler_gets_adds_updates_with_old_and_new_and_deletes_in_order() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let (first, second) = (Recorder::default(), Recorder::default());
    informer.add_handler(first.handler());
    informer.add_handler(second.handler());

    list(&informer, vec![pod("ns", "a", "1")]);
    informer.process_event(Event::Apply(pod("ns", "a", "2")));
    informer.process_event(Event::Apply(pod("ns", "b", "3")));
    informer.process_event(Event::Delete(pod("ns", "a", "4")));
    informer.wait_handlers_idle().await;

    let expected = [
        "add ns/a@1 initial",
        "update ns/a@1->2",
        "add ns/b@3",
        "delete ns/a@4",
    ];
    assert_eq!(first.lines(), expected);
    assert_eq!(second.lines(), expected);
    assert_eq!(sorted_keys(informer.lister().list()), ["ns/b"]);
    assert_eq!(
        informer.stats(),
        InformerStats {
            watch_events: 6,
            lists: 1,
            added: 2,
            updated: 1,
            deleted: 1,
            ..Default::default()
        }
    );
}

#[tokio::test]
async fn synced_only_after_first_complete_list_and_stays_synced() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    informer.process_event(Event::Init);
    informer.process_event(Event::InitApply(pod("ns", "a", "1")));
    assert!(!informer.has_synced());
    assert!(
        informer.lister().is_empty(),
        "a partial list must not be visible"
    );
    informer.process_event(Event::InitDone);
    assert!(informer.has_synced());
    informer.wait_synced().await;
    informer.process_event(Event::Init);
    assert!(informer.has_synced(), "a relist does not unsync");
    assert_eq!(
        informer.lister().len(),
        1,
        "the old list is served during a relist"
    );
}

#[tokio::test]
async fn relist_emits_tombstones_once_and_updates_for_survivors() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let recorder = Recorder::default();
    informer.add_handler(recorder.handler());
    list(
        &informer,
        vec![
            pod("ns", "a", "1"),
            pod("ns", "b", "1"),
            pod("ns", "c", "1"),
        ],
    );
    informer.process_event(Event::Apply(pod("ns", "c", "2")));
    informer.wait_handlers_idle().await;
    recorder.take();

    // The watch was down while b and c were deleted and d created.
    list(&informer, vec![pod("ns", "a", "1"), pod("ns", "d", "5")]);
    informer.wait_handlers_idle().await;
    let lines = recorder.take();
    assert_eq!(
        lines,
        [
            "update ns/a@1->1",
            "add ns/d@5",
            "delete ns/b@1 tombstone",
            // The tombstone carries the last cached state.
            "delete ns/c@2 tombstone",
        ]
    );

    // The same list again: nothing more vanished, so no tombstone is repeated.
    list(&informer, vec![pod("ns", "a", "1"), pod("ns", "d", "5")]);
    informer.wait_handlers_idle().await;
    assert_eq!(recorder.take(), ["update ns/a@1->1", "update ns/d@5->5"]);
    assert_eq!(informer.stats().tombstones, 2);
    assert_eq!(informer.stats().deleted, 0);
    assert_eq!(sorted_keys(informer.lister().list()), ["ns/a", "ns/d"]);
}

#[tokio::test]
async fn relist_updates_of_unchanged_objects_are_flagged_same_version() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let recorder = Recorder::default();
    informer.add_handler(recorder.handler());
    list(&informer, vec![pod("ns", "a", "1"), pod("ns", "b", "1")]);
    list(&informer, vec![pod("ns", "a", "1"), pod("ns", "b", "2")]);
    informer.wait_handlers_idle().await;
    let deltas = recorder.deltas.lock();
    let same: Vec<bool> = deltas[2..]
        .iter()
        .map(Delta::is_same_resource_version)
        .collect();
    assert_eq!(same, [true, false]);
}

#[tokio::test]
async fn managed_fields_never_reach_the_cache() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let recorder = Recorder::default(); // asserts on every delta it receives
    informer.add_handler(recorder.handler());
    list(&informer, vec![pod("ns", "a", "1")]);
    informer.process_event(Event::Apply(pod("ns", "b", "1")));
    informer.process_event(Event::Delete(pod("ns", "a", "2")));
    informer.wait_handlers_idle().await;
    assert_eq!(recorder.lines().len(), 3);
    let cached = informer.lister().get_namespaced("ns", "b").unwrap();
    assert!(cached.metadata.managed_fields.is_none());
}

#[tokio::test]
async fn indexes_follow_node_moves_owner_changes_and_deletes() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let lister = informer.lister();
    list(
        &informer,
        vec![
            owned_by(on_node(pod("ns", "a", "1"), "n1"), "rs-1"),
            owned_by(on_node(pod("ns", "b", "1"), "n1"), "rs-1"),
            on_node(pod("other", "c", "1"), "n2"),
        ],
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_NODE_NAME, "n1")),
        ["ns/a", "ns/b"]
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_CONTROLLER_UID, "rs-1")),
        ["ns/a", "ns/b"]
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_NAMESPACE, "other")),
        ["other/c"]
    );

    // a is rescheduled to n2 and adopted by another ReplicaSet.
    informer.process_event(Event::Apply(owned_by(
        on_node(pod("ns", "a", "2"), "n2"),
        "rs-2",
    )));
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_NODE_NAME, "n1")),
        ["ns/b"]
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_NODE_NAME, "n2")),
        ["ns/a", "other/c"]
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_CONTROLLER_UID, "rs-1")),
        ["ns/b"]
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_CONTROLLER_UID, "rs-2")),
        ["ns/a"]
    );

    informer.process_event(Event::Delete(pod("ns", "b", "3")));
    assert!(lister.by_index(INDEX_NODE_NAME, "n1").is_empty());
    assert!(
        lister
            .keys_by_index(INDEX_CONTROLLER_UID, "rs-1")
            .is_empty()
    );
    let mut nodes = lister.index_values(INDEX_NODE_NAME);
    nodes.sort();
    assert_eq!(nodes, ["n2"]);

    // A relist that loses c rebuilds the indexes too.
    list(
        &informer,
        vec![owned_by(on_node(pod("ns", "a", "2"), "n2"), "rs-2")],
    );
    assert_eq!(
        sorted_keys(lister.by_index(INDEX_NODE_NAME, "n2")),
        ["ns/a"]
    );
    assert!(lister.list_namespace("other").is_empty());
    assert!(lister.by_index("no-such-index", "x").is_empty());
}

#[tokio::test]
async fn lister_lookups() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let mut labelled = pod("ns", "web", "1");
    labelled.metadata.labels = Some([("app".to_string(), "web".to_string())].into());
    list(
        &informer,
        vec![labelled, pod("ns", "plain", "1"), pod("ns2", "web", "1")],
    );
    let lister = informer.lister().clone();

    assert_eq!(
        lister
            .get_by_key("ns/web")
            .unwrap()
            .metadata
            .name
            .as_deref(),
        Some("web")
    );
    assert!(lister.get_by_key("ns/missing").is_none());
    assert!(lister.get_by_key("a/b/c").is_none());
    assert!(lister.get(&ObjectKey::namespaced("ns2", "web")).is_some());
    assert_eq!(
        sorted_keys(lister.list_namespace("ns")),
        ["ns/plain", "ns/web"]
    );
    assert_eq!(lister.list().len(), 3);
    assert!(lister.has_index(INDEX_NAMESPACE));

    let nodes = Informer::<Node>::detached(Duration::ZERO);
    let mut node = Node::default();
    node.metadata.name = Some("n1".into());
    nodes.process_event(Event::Apply(node));
    assert!(nodes.lister().get_cluster_scoped("n1").is_some());
    assert!(nodes.lister().get_by_key("n1").is_some());
    assert!(!nodes.lister().has_index(INDEX_NAMESPACE));
}

#[tokio::test]
async fn late_handler_gets_current_contents_then_live_events() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    list(&informer, vec![pod("ns", "b", "1"), pod("ns", "a", "1")]);
    informer.process_event(Event::Delete(pod("ns", "b", "2")));
    informer.process_event(Event::Apply(pod("ns", "c", "3")));

    let late = Recorder::default();
    informer.add_handler(late.handler());
    informer.process_event(Event::Apply(pod("ns", "a", "4")));
    informer.wait_handlers_idle().await;
    assert_eq!(
        late.lines(),
        [
            "add ns/a@1 initial",
            "add ns/c@3 initial",
            "update ns/a@1->4"
        ]
    );
}

#[tokio::test]
async fn removed_handler_receives_nothing_more() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let (kept, removed) = (Recorder::default(), Recorder::default());
    informer.add_handler(kept.handler());
    let id = informer.add_handler(removed.handler());
    informer.process_event(Event::Apply(pod("ns", "a", "1")));
    assert!(informer.remove_handler(id));
    assert!(!informer.remove_handler(id));
    assert_eq!(informer.handler_count(), 1);
    informer.process_event(Event::Apply(pod("ns", "a", "2")));
    informer.wait_handlers_idle().await;
    assert_eq!(removed.lines(), ["add ns/a@1"]);
    assert_eq!(kept.lines(), ["add ns/a@1", "update ns/a@1->2"]);
}

#[tokio::test]
async fn watch_errors_are_counted_and_do_not_stop_the_loop() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    let events = vec![
        Err(watcher::Error::NoResourceVersion),
        Ok(Event::Init),
        Ok(Event::InitApply(pod("ns", "a", "1"))),
        Err(watcher::Error::NoResourceVersion),
        Ok(Event::Init),
        Ok(Event::InitApply(pod("ns", "a", "1"))),
        Ok(Event::InitDone),
    ];
    informer
        .run_stream(futures::stream::iter(events), &CancellationToken::new())
        .await;
    assert!(informer.has_synced());
    assert_eq!(informer.stats().watch_errors, 2);
    assert_eq!(informer.stats().lists, 1);
    assert_eq!(informer.lister().len(), 1);
}

#[tokio::test]
async fn wait_for_named_cache_sync_waits_for_every_informer_or_cancel() {
    let pods = Arc::new(Informer::<Pod>::detached(Duration::ZERO));
    let nodes = Arc::new(Informer::<Node>::detached(Duration::ZERO));
    let cancel = CancellationToken::new();

    let waiter = {
        let (pods, nodes, cancel) = (pods.clone(), nodes.clone(), cancel.clone());
        tokio::spawn(async move {
            wait_for_named_cache_sync("test", &cancel, &[pods.as_ref(), nodes.as_ref()]).await
        })
    };
    pods.process_event(Event::Init);
    pods.process_event(Event::InitDone);
    tokio::task::yield_now().await;
    assert!(!waiter.is_finished(), "nodes have not synced yet");
    nodes.process_event(Event::Init);
    nodes.process_event(Event::InitDone);
    assert!(waiter.await.unwrap());

    let never = Informer::<Pod>::detached(Duration::ZERO);
    cancel.cancel();
    assert!(!wait_for_named_cache_sync("test", &cancel, &[&never]).await);
    // Already synced beats an already cancelled token.
    assert!(wait_for_named_cache_sync("test", &cancel, &[pods.as_ref()]).await);
}

#[tokio::test]
async fn an_informer_starts_once_and_reports_when_its_loop_ends() {
    use futures::channel::mpsc;
    use parking_lot::Mutex;

    type Feed = mpsc::UnboundedSender<Result<Event<Pod>, watcher::Error>>;
    let feeds: Arc<Mutex<Vec<Feed>>> = Arc::default();
    let source_feeds = Arc::clone(&feeds);
    let informer = Arc::new(Informer::<Pod>::new(
        move || {
            let (tx, rx) = mpsc::unbounded();
            source_feeds.lock().push(tx);
            rx.boxed()
        },
        Duration::ZERO,
    ));
    let cancel = CancellationToken::new();
    assert!(informer.start(cancel.clone()));
    assert!(!informer.start(cancel.clone()), "already running");
    assert!(informer.is_running());
    let feed = feeds.lock()[0].clone();
    for event in [
        Event::Init,
        Event::InitApply(pod("ns", "a", "1")),
        Event::InitDone,
    ] {
        feed.unbounded_send(Ok(event)).unwrap();
    }
    informer.wait_synced().await;
    cancel.cancel();
    while informer.is_running() {
        tokio::task::yield_now().await;
    }
    assert!(
        !informer.start(CancellationToken::new()),
        "a stopped informer does not restart"
    );
    assert_eq!(feeds.lock().len(), 1, "one watch for its whole life");
    assert!(informer.has_synced(), "the cache survives the stop");
    assert_eq!(informer.lister().len(), 1);
    assert!(!Arc::new(Informer::<Pod>::detached(Duration::ZERO)).start(cancel));
}

#[tokio::test]
async fn the_lister_reports_the_newest_resource_version_taken_in() {
    let informer = Informer::<Pod>::detached(Duration::ZERO);
    assert_eq!(informer.lister().last_sync_resource_version(), None);
    list(&informer, vec![pod("ns", "a", "7"), pod("ns", "b", "5")]);
    assert_eq!(informer.lister().last_sync_resource_version(), Some(7));
    informer.process_event(Event::Apply(pod("ns", "c", "12")));
    assert_eq!(informer.lister().last_sync_resource_version(), Some(12));
    informer.process_event(Event::Delete(pod("ns", "a", "15")));
    assert_eq!(
        informer.lister().last_sync_resource_version(),
        Some(15),
        "a deletion is taken in too"
    );
    informer.process_event(Event::Apply(pod("ns", "d", "not-a-number")));
    assert_eq!(informer.lister().last_sync_resource_version(), Some(15));
}
