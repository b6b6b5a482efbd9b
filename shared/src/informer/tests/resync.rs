//! Resync timing, on tokio's paused clock.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::runtime::watcher::Event;
use parking_lot::Mutex;
use tokio::time::{Instant, advance};
use tokio_util::sync::CancellationToken;

use super::{describe, pod};
use crate::informer::{Delta, Informer, jittered_resync};

/// Records `(time since start, delta)` and whether a resync `Updated` shares one `Arc`.
#[derive(Clone)]
struct Timed {
    start: Instant,
    seen: Arc<Mutex<Vec<(Duration, String)>>>,
}

impl Timed {
    fn new(start: Instant) -> Self {
        Self {
            start,
            seen: Arc::default(),
        }
    }

    fn handler(&self) -> impl Fn(&Delta<Pod>) + Send + Sync + 'static {
        let (start, seen) = (self.start, Arc::clone(&self.seen));
        move |delta: &Delta<Pod>| {
            let mut line = describe(delta);
            if let Delta::Updated { old, new } = delta
                && Arc::ptr_eq(old, new)
            {
                line.push_str(" (same object)");
            }
            seen.lock().push((start.elapsed(), line));
        }
    }

    fn take(&self) -> Vec<(Duration, String)> {
        std::mem::take(&mut *self.seen.lock())
    }
}

async fn settle(informer: &Informer<Pod>) {
    // Let the run loop observe timers that just fired, then let handlers drain.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    informer.wait_handlers_idle().await;
}

#[tokio::test(start_paused = true)]
async fn resync_redelivers_cached_objects_at_each_handlers_period() {
    const MIN: Duration = Duration::from_secs(60);
    let start = Instant::now();
    let informer = Arc::new(Informer::<Pod>::detached(Duration::from_secs(12 * 3600)));
    let cancel = CancellationToken::new();
    let run = {
        let (informer, cancel) = (Arc::clone(&informer), cancel.clone());
        tokio::spawn(async move {
            informer
                .run_stream(futures::stream::pending(), &cancel)
                .await
        })
    };

    let namespace_like = Timed::new(start);
    informer.add_handler_with_resync(namespace_like.handler(), 5 * MIN);
    let default = Timed::new(start);
    informer.add_handler(default.handler());
    let never = Timed::new(start);
    informer.add_handler_with_resync(never.handler(), Duration::ZERO);

    informer.process_event(Event::Init);
    informer.process_event(Event::InitApply(pod("ns", "a", "1")));
    informer.process_event(Event::InitDone);
    settle(&informer).await;
    assert_eq!(
        namespace_like.take(),
        [(Duration::ZERO, "add ns/a@1 initial".into())]
    );

    advance(5 * MIN - Duration::from_secs(1)).await;
    settle(&informer).await;
    assert!(
        namespace_like.take().is_empty(),
        "no resync before the period"
    );

    advance(Duration::from_secs(1)).await;
    settle(&informer).await;
    assert_eq!(
        namespace_like.take(),
        [(5 * MIN, "update ns/a@1->1 (same object)".into())]
    );

    // A watch update in between does not disturb the schedule; the next resync carries it.
    informer.process_event(Event::Apply(pod("ns", "a", "2")));
    settle(&informer).await;
    advance(5 * MIN).await;
    settle(&informer).await;
    assert_eq!(
        namespace_like.take(),
        [
            (5 * MIN, "update ns/a@1->2".into()),
            (10 * MIN, "update ns/a@2->2 (same object)".into()),
        ]
    );

    // The informer default (12h here) resyncs the default handler; the opted-out one never.
    advance(Duration::from_secs(12 * 3600) - 10 * MIN).await;
    settle(&informer).await;
    let default_seen = default.take();
    assert_eq!(
        default_seen.last(),
        Some(&(
            Duration::from_secs(12 * 3600),
            "update ns/a@2->2 (same object)".into()
        ))
    );
    assert_eq!(
        never
            .take()
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>(),
        ["add ns/a@1 initial", "update ns/a@1->2"]
    );
    assert!(informer.stats().resynced >= 3);

    cancel.cancel();
    run.await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_handler_added_while_running_gets_its_own_earlier_deadline() {
    let start = Instant::now();
    let informer = Arc::new(Informer::<Pod>::detached(Duration::ZERO));
    informer.process_event(Event::Apply(pod("ns", "a", "1")));
    let cancel = CancellationToken::new();
    let run = {
        let (informer, cancel) = (Arc::clone(&informer), cancel.clone());
        tokio::spawn(async move {
            informer
                .run_stream(futures::stream::pending(), &cancel)
                .await
        })
    };
    settle(&informer).await; // the loop is now sleeping with no deadline at all

    let fast = Timed::new(start);
    informer.add_handler_with_resync(fast.handler(), Duration::from_secs(30));
    settle(&informer).await;
    advance(Duration::from_secs(30)).await;
    settle(&informer).await;
    assert_eq!(
        fast.take(),
        [
            (Duration::ZERO, "add ns/a@1 initial".into()),
            (
                Duration::from_secs(30),
                "update ns/a@1->1 (same object)".into()
            ),
        ]
    );
    cancel.cancel();
    run.await.unwrap();
}

#[test]
fn jittered_resync_is_within_min_and_twice_min() {
    let min = Duration::from_secs(12 * 3600);
    let samples: Vec<Duration> = (0..2000).map(|_| jittered_resync(min)).collect();
    assert!(samples.iter().all(|d| *d >= min && *d < 2 * min));
    // Spread over the range rather than stuck at one end.
    assert!(samples.iter().any(|d| *d < min + min / 4));
    assert!(samples.iter().any(|d| *d > min + 3 * min / 4));
    assert_eq!(jittered_resync(Duration::ZERO), Duration::ZERO);
}
