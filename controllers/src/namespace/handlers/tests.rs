use super::*;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::ObjectMeta;
use tokio::time::Instant;

fn namespace(name: &str, deleting: bool) -> Arc<Namespace> {
    Arc::new(Namespace {
        metadata: ObjectMeta {
            name: Some(name.into()),
            resource_version: Some("1".into()),
            deletion_timestamp: deleting.then_some(Time(jiff::Timestamp::UNIX_EPOCH)),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    })
}

async fn next_within(queue: &WorkQueue<ObjectKey>, limit: Duration) -> Option<String> {
    let key = tokio::time::timeout(limit, queue.get()).await.ok()??;
    queue.done(&key);
    Some(key.to_string())
}

#[tokio::test(start_paused = true)]
async fn a_terminating_namespace_is_queued_five_seconds_after_it_is_seen() {
    let queue = WorkQueue::builder().build();
    let handlers = EventHandlers::new(queue.clone());
    let start = Instant::now();
    handlers.on_namespace(&Delta::Added {
        obj: namespace("t", true),
        initial_list: true,
    });
    assert_eq!(queue.len(), 0);
    assert_eq!(
        next_within(&queue, Duration::from_secs(10))
            .await
            .as_deref(),
        Some("t")
    );
    assert_eq!(start.elapsed(), DELETION_GRACE_PERIOD);
}

#[tokio::test(start_paused = true)]
async fn updates_and_resyncs_of_a_terminating_namespace_queue_it_again() {
    let queue = WorkQueue::builder().build();
    let handlers = EventHandlers::new(queue.clone());
    let ns = namespace("t", true);
    handlers.on_namespace(&Delta::Updated {
        old: ns.clone(),
        new: ns,
    });
    assert_eq!(
        next_within(&queue, Duration::from_secs(10))
            .await
            .as_deref(),
        Some("t")
    );
}

#[tokio::test(start_paused = true)]
async fn active_namespaces_and_deletions_are_ignored() {
    let queue = WorkQueue::builder().build();
    let handlers = EventHandlers::new(queue.clone());
    handlers.on_namespace(&Delta::Added {
        obj: namespace("active", false),
        initial_list: false,
    });
    handlers.on_namespace(&Delta::Updated {
        old: namespace("active", false),
        new: namespace("active", false),
    });
    handlers.on_namespace(&Delta::Deleted {
        obj: namespace("gone", true),
        final_state_unknown: false,
    });
    assert_eq!(next_within(&queue, Duration::from_secs(60)).await, None);
}
