//! Late handler registration racing a busy watch: the replay must hand every object to the
//! new handler exactly once, with no delta lost or duplicated around the registration.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::channel::mpsc;
use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::Event;
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use super::pod;
use crate::informer::{Delta, Informer, ObjectKey};

/// A handler that replays deltas into its own key → resourceVersion map and records every
/// inconsistency: an add for a key it already has (duplicate), an update or delete for a key
/// it does not have (lost event), or an update whose `old` is not the version it holds.
#[derive(Clone, Default)]
struct Mirror {
    view: Arc<Mutex<HashMap<String, String>>>,
    violations: Arc<Mutex<Vec<String>>>,
}

impl Mirror {
    fn handler(&self) -> impl Fn(&Delta<Pod>) + Send + Sync + 'static {
        let (view, violations) = (Arc::clone(&self.view), Arc::clone(&self.violations));
        move |delta: &Delta<Pod>| {
            let mut view = view.lock();
            let key = delta.key().to_string();
            let rv = |p: &Arc<Pod>| p.metadata.resource_version.clone().unwrap_or_default();
            match delta {
                Delta::Added { obj, .. } => {
                    if let Some(had) = view.insert(key.clone(), rv(obj)) {
                        violations
                            .lock()
                            .push(format!("duplicate add {key} (had {had})"));
                    }
                }
                Delta::Updated { old, new } => match view.insert(key.clone(), rv(new)) {
                    None => violations.lock().push(format!("update of unknown {key}")),
                    Some(had) if had != rv(old) => violations
                        .lock()
                        .push(format!("update {key} from {} but held {had}", rv(old))),
                    Some(_) => {}
                },
                Delta::Deleted { .. } => {
                    if view.remove(&key).is_none() {
                        violations.lock().push(format!("delete of unknown {key}"));
                    }
                }
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_handlers_see_each_object_exactly_once_under_concurrent_events() {
    // A race is caught only when it happens: several rounds make a narrow window likely to hit.
    for _ in 0..8 {
        round().await;
    }
}

async fn round() {
    const KEYS: u64 = 40;
    const EVENTS: u64 = 3000;
    const CHECKPOINT: u64 = 100;

    let informer = Arc::new(Informer::<Pod>::detached(Duration::ZERO));
    let (feed, events) = mpsc::unbounded();
    let run = {
        let informer = Arc::clone(&informer);
        tokio::spawn(async move {
            informer.run_stream(events, &CancellationToken::new()).await;
        })
    };

    let early = Mirror::default();
    informer.add_handler(early.handler());

    // The producer keeps its own model so it only deletes objects that exist. Every
    // `CHECKPOINT` events it asks for one more late handler, and it does not run more than one
    // checkpoint ahead of the registrations, so they are spread over the whole stream.
    let checkpoint = Arc::new(AtomicUsize::new(0));
    let producer = {
        let (informer, checkpoint) = (Arc::clone(&informer), Arc::clone(&checkpoint));
        tokio::spawn(async move {
            let mut live = vec![false; KEYS as usize];
            feed.unbounded_send(Ok(Event::Init)).unwrap();
            feed.unbounded_send(Ok(Event::InitDone)).unwrap();
            for rv in 1..=EVENTS {
                // A cheap deterministic scramble of keys and operations.
                let slot = (rv * 7919 % KEYS) as usize;
                let name = format!("p{slot}");
                let event = if live[slot] && rv % 3 == 0 {
                    live[slot] = false;
                    Event::Delete(pod("ns", &name, &rv.to_string()))
                } else {
                    live[slot] = true;
                    Event::Apply(pod("ns", &name, &rv.to_string()))
                };
                feed.unbounded_send(Ok(event)).unwrap();
                if rv % CHECKPOINT == 0 {
                    let reached = (rv / CHECKPOINT) as usize;
                    checkpoint.store(reached, Ordering::SeqCst);
                    // Wait for the handler of the previous checkpoint only, so the one for this
                    // checkpoint registers while the next events are being sent.
                    while informer.handler_count() < reached {
                        tokio::task::yield_now().await;
                    }
                }
            }
        })
    };

    let mut late = Vec::new();
    while !producer.is_finished() {
        if checkpoint.load(Ordering::SeqCst) > late.len() {
            let mirror = Mirror::default();
            informer.add_handler(mirror.handler());
            late.push(mirror);
        }
        tokio::task::yield_now().await;
    }
    producer.await.unwrap();
    run.await.unwrap(); // the feed was dropped, so the stream ended after the last event
    informer.wait_handlers_idle().await;

    let cached: HashMap<String, String> = informer
        .lister()
        .list()
        .iter()
        .map(|p| {
            (
                ObjectKey::from_object(p.as_ref()).to_string(),
                p.metadata.resource_version.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert!(!cached.is_empty());
    assert!(late.len() as u64 >= EVENTS / CHECKPOINT - 1);
    for (i, mirror) in std::iter::once(&early).chain(&late).enumerate() {
        assert_eq!(
            *mirror.violations.lock(),
            Vec::<String>::new(),
            "handler {i}"
        );
        assert_eq!(
            *mirror.view.lock(),
            cached,
            "handler {i} ends with the cache's view"
        );
    }
}
