//! Behaviour tests of the work queue: core semantics, delays, rate limiting, shutdown and
//! metrics. Timing runs on paused tokio time.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use tokio::time::{Instant, advance, timeout};

use super::*;

const MS: Duration = Duration::from_millis(1);

fn unnamed<T>() -> Arc<WorkQueue<T>>
where
    T: Eq + std::hash::Hash + Clone + std::fmt::Debug + Send + Sync + 'static,
{
    WorkQueue::builder().build()
}

/// Lets spawned tasks (the waiting loop, the metrics ticker, workers) run.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// The next key, or `None` at shutdown, which must come within a second (of paused time).
async fn next(queue: &WorkQueue<&'static str>) -> Option<&'static str> {
    get_within(queue, Duration::from_secs(1)).await
}

/// `get` returned within `within`, measured on the paused clock.
async fn get_within(queue: &WorkQueue<&'static str>, within: Duration) -> Option<&'static str> {
    timeout(within, queue.get())
        .await
        .expect("an item before the timeout")
}

/// The result of a spawned task that must finish within a second (of paused time).
async fn join_within<R>(task: tokio::task::JoinHandle<R>) -> R {
    timeout(Duration::from_secs(1), task)
        .await
        .expect("task finished in time")
        .expect("task did not panic")
}

/// Asserts nothing can be taken from the queue for `wait`.
async fn assert_nothing_for(queue: &WorkQueue<&'static str>, wait: Duration) {
    if let Ok(got) = timeout(wait, queue.get()).await {
        panic!("expected nothing for {wait:?}, got {got:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn adds_while_queued_collapse_and_order_is_fifo() {
    let queue = unnamed();
    queue.add("a");
    queue.add("b");
    queue.add("a");
    queue.add("c");
    queue.add("b");
    assert_eq!(queue.len(), 3);
    assert_eq!(next(&queue).await, Some("a"));
    assert_eq!(next(&queue).await, Some("b"));
    assert_eq!(next(&queue).await, Some("c"));
    assert!(queue.is_empty());
    assert_nothing_for(&queue, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn key_being_processed_is_not_handed_out_again_until_done() {
    let queue = unnamed();
    queue.add("a");
    assert_eq!(next(&queue).await, Some("a"));

    // Adds during processing only mark it dirty, and collapse.
    queue.add("a");
    queue.add("a");
    queue.add("a");
    assert_eq!(queue.len(), 0);
    assert_nothing_for(&queue, Duration::from_secs(1)).await;

    queue.done(&"a");
    assert_eq!(queue.len(), 1);
    assert_eq!(next(&queue).await, Some("a"));
    queue.done(&"a");
    // Exactly one more round.
    assert_nothing_for(&queue, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn done_without_readd_does_not_requeue() {
    let queue = unnamed();
    queue.add("a");
    assert_eq!(next(&queue).await, Some("a"));
    queue.done(&"a");
    assert_eq!(queue.len(), 0);
    // A fresh add afterwards is queued normally.
    queue.add("a");
    assert_eq!(queue.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn waiting_getter_is_woken_by_add() {
    let queue = unnamed();
    let getter = tokio::spawn({
        let queue = queue.clone();
        async move { queue.get().await }
    });
    settle().await;
    assert!(!getter.is_finished());
    queue.add("a");
    assert_eq!(join_within(getter).await, Some("a"));
}

#[tokio::test(start_paused = true)]
async fn getter_woken_by_done_requeue() {
    let queue = unnamed();
    queue.add("a");
    assert_eq!(next(&queue).await, Some("a"));
    let getter = tokio::spawn({
        let queue = queue.clone();
        async move { queue.get().await }
    });
    queue.add("a");
    settle().await;
    assert!(!getter.is_finished(), "key handed out while processing");
    queue.done(&"a");
    assert_eq!(join_within(getter).await, Some("a"));
}

/// Eight workers take keys that one producer keeps re-adding; returns how often a key was
/// found already held by another worker, and how many rounds were processed.
async fn hammer(queue: Arc<WorkQueue<usize>>) -> (usize, usize) {
    const KEYS: usize = 5;
    let active = Arc::new(parking_lot::Mutex::new(HashSet::new()));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let rounds = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let (queue, active) = (queue.clone(), active.clone());
            let (overlaps, rounds) = (overlaps.clone(), rounds.clone());
            tokio::spawn(async move {
                while let Some(key) = queue.get().await {
                    if !active.lock().insert(key) {
                        overlaps.fetch_add(1, Ordering::SeqCst);
                    }
                    rounds.fetch_add(1, Ordering::SeqCst);
                    for _ in 0..20 {
                        tokio::task::yield_now().await;
                    }
                    active.lock().remove(&key);
                    queue.done(&key);
                }
            })
        })
        .collect();
    // A spawned task, so that on a multi-threaded runtime it competes with the workers.
    let producer = tokio::spawn({
        let queue = queue.clone();
        async move {
            for i in 0..5_000 {
                queue.add(i % KEYS);
                tokio::task::yield_now().await;
            }
        }
    });
    producer.await.unwrap();
    queue.shut_down_with_drain().await;
    for worker in workers {
        worker.await.unwrap();
    }
    assert!(queue.is_empty());
    (
        overlaps.load(Ordering::SeqCst),
        rounds.load(Ordering::SeqCst),
    )
}

/// Interleaved on one thread: deterministic, and adds land while keys are being processed.
#[tokio::test(start_paused = true)]
async fn no_key_is_processed_by_two_workers_at_once() {
    let (overlaps, rounds) = hammer(unnamed()).await;
    assert_eq!(overlaps, 0);
    // Far more rounds than keys: the re-adds during processing were not lost.
    assert!(rounds > 100, "only {rounds} rounds");
}

/// The same on real threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_key_is_processed_by_two_workers_at_once_in_parallel() {
    let (overlaps, rounds) = timeout(Duration::from_secs(60), hammer(unnamed()))
        .await
        .expect("workers finished");
    assert_eq!(overlaps, 0);
    assert!(rounds >= 5);
}

#[tokio::test(start_paused = true)]
async fn add_after_delivers_at_the_deadline() {
    let queue = unnamed();
    let start = Instant::now();
    queue.add_after("a", 50 * MS);
    assert_eq!(queue.len(), 0);
    settle().await;
    advance(49 * MS).await;
    settle().await;
    assert_eq!(queue.len(), 0);
    assert_eq!(get_within(&queue, Duration::from_secs(1)).await, Some("a"));
    assert_eq!(start.elapsed(), 50 * MS);
}

#[tokio::test(start_paused = true)]
async fn add_after_zero_is_an_immediate_add() {
    let queue = unnamed();
    queue.add_after("a", Duration::ZERO);
    assert_eq!(queue.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn add_after_keeps_the_earliest_deadline() {
    let queue = unnamed();
    let start = Instant::now();
    queue.add_after("a", 100 * MS);
    queue.add_after("a", 20 * MS);
    queue.add_after("a", 60 * MS);
    assert_eq!(get_within(&queue, Duration::from_secs(1)).await, Some("a"));
    assert_eq!(start.elapsed(), 20 * MS);
    queue.done(&"a");
    // The later requests were folded into the first delivery.
    assert_nothing_for(&queue, Duration::from_secs(1)).await;

    // A later deadline does not push an earlier one back.
    let start = Instant::now();
    queue.add_after("b", 10 * MS);
    queue.add_after("b", 500 * MS);
    assert_eq!(get_within(&queue, Duration::from_secs(1)).await, Some("b"));
    assert_eq!(start.elapsed(), 10 * MS);
}

#[tokio::test(start_paused = true)]
async fn delayed_add_of_a_queued_key_collapses() {
    let queue = unnamed();
    queue.add("a");
    queue.add_after("a", 10 * MS);
    advance(20 * MS).await;
    settle().await;
    assert_eq!(queue.len(), 1);
    assert_eq!(next(&queue).await, Some("a"));
    queue.done(&"a");
    assert_nothing_for(&queue, Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn add_rate_limited_backs_off_exponentially_and_forget_resets() {
    let queue = unnamed();
    let mut delays = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        queue.add_rate_limited("a");
        assert_eq!(get_within(&queue, Duration::from_secs(10)).await, Some("a"));
        delays.push(start.elapsed());
        queue.done(&"a");
    }
    assert_eq!(delays, [5 * MS, 10 * MS, 20 * MS, 40 * MS, 80 * MS]);
    assert_eq!(queue.num_requeues(&"a"), 5);
    assert_eq!(queue.num_requeues(&"b"), 0);

    queue.forget(&"a");
    assert_eq!(queue.num_requeues(&"a"), 0);
    let start = Instant::now();
    queue.add_rate_limited("a");
    assert_eq!(get_within(&queue, Duration::from_secs(10)).await, Some("a"));
    assert_eq!(start.elapsed(), 5 * MS);
}

#[tokio::test(start_paused = true)]
async fn custom_bucket_limiter_spaces_keys_after_the_burst() {
    let queue = WorkQueue::builder()
        .rate_limiter(Bucket::new(10.0, 2))
        .build();
    let start = Instant::now();
    queue.add_rate_limited("a");
    queue.add_rate_limited("b");
    queue.add_rate_limited("c");
    queue.add_rate_limited("d");
    // The burst passes at once.
    assert_eq!(queue.len(), 2);
    assert_eq!(next(&queue).await, Some("a"));
    assert_eq!(next(&queue).await, Some("b"));
    assert_eq!(get_within(&queue, Duration::from_secs(1)).await, Some("c"));
    assert_eq!(start.elapsed(), 100 * MS);
    assert_eq!(get_within(&queue, Duration::from_secs(1)).await, Some("d"));
    assert_eq!(start.elapsed(), 200 * MS);
}

#[tokio::test(start_paused = true)]
async fn shut_down_wakes_all_getters() {
    let queue = unnamed::<&str>();
    let getters: Vec<_> = (0..3)
        .map(|_| {
            let queue = queue.clone();
            tokio::spawn(async move { queue.get().await })
        })
        .collect();
    settle().await;
    assert!(getters.iter().all(|getter| !getter.is_finished()));
    queue.shut_down();
    for getter in getters {
        assert_eq!(join_within(getter).await, None);
    }
    assert!(queue.is_shutting_down());
}

#[tokio::test(start_paused = true)]
async fn shut_down_drains_queued_keys_and_ignores_new_ones() {
    let queue = unnamed();
    queue.add("a");
    queue.add("b");
    queue.add_after("late", 10 * MS);
    queue.shut_down();
    queue.add("c");
    queue.add_after("d", Duration::ZERO);
    queue.add_rate_limited("e");
    assert_eq!(queue.len(), 2);
    assert_eq!(next(&queue).await, Some("a"));
    assert_eq!(next(&queue).await, Some("b"));
    assert_eq!(next(&queue).await, None);
    // The delayed key was discarded with the waiting loop.
    advance(20 * MS).await;
    settle().await;
    assert_eq!(queue.len(), 0);
    assert_eq!(next(&queue).await, None);
}

#[tokio::test(start_paused = true)]
async fn key_readded_during_processing_is_still_handed_out_after_shut_down() {
    let queue = unnamed();
    queue.add("a");
    assert_eq!(next(&queue).await, Some("a"));
    queue.add("a");
    queue.shut_down();
    queue.done(&"a");
    assert_eq!(next(&queue).await, Some("a"));
    queue.done(&"a");
    assert_eq!(next(&queue).await, None);
}

#[tokio::test(start_paused = true)]
async fn shut_down_with_drain_waits_for_processing_to_finish() {
    let queue = unnamed();
    queue.add("a");
    queue.add("b");
    assert_eq!(next(&queue).await, Some("a"));
    assert_eq!(next(&queue).await, Some("b"));
    let drain = tokio::spawn({
        let queue = queue.clone();
        async move { queue.shut_down_with_drain().await }
    });
    settle().await;
    assert!(queue.is_shutting_down());
    queue.add("c");
    assert_eq!(queue.len(), 0);
    queue.done(&"a");
    settle().await;
    assert!(!drain.is_finished(), "returned while b is still processing");
    queue.done(&"b");
    timeout(Duration::from_secs(1), drain)
        .await
        .expect("drain finished")
        .unwrap();
    assert_eq!(next(&queue).await, None);
}

#[tokio::test(start_paused = true)]
async fn shut_down_with_drain_returns_at_once_when_idle() {
    let queue = unnamed::<&str>();
    timeout(Duration::from_secs(1), queue.shut_down_with_drain())
        .await
        .expect("nothing to wait for");
}

#[tokio::test(start_paused = true)]
async fn plain_shut_down_abandons_a_pending_drain() {
    let queue = unnamed();
    queue.add("a");
    assert_eq!(next(&queue).await, Some("a"));
    let drain = tokio::spawn({
        let queue = queue.clone();
        async move { queue.shut_down_with_drain().await }
    });
    settle().await;
    assert!(!drain.is_finished());
    queue.shut_down();
    timeout(Duration::from_secs(1), drain)
        .await
        .expect("drain abandoned")
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn guard_marks_done_on_drop_and_on_panic() {
    let queue = unnamed();
    queue.add("a");
    let guard = queue.get_guarded().await.unwrap();
    assert_eq!(*guard, "a");
    queue.add("a");
    assert_eq!(queue.len(), 0);
    drop(guard);
    assert_eq!(queue.len(), 1, "dropping the guard requeued the dirty key");

    let worker = tokio::spawn({
        let queue = queue.clone();
        async move {
            let key = queue.get_guarded().await.unwrap();
            queue.add(*key);
            panic!("sync of {} failed hard", key.item());
        }
    });
    assert!(worker.await.unwrap_err().is_panic());
    // Without `done` the key would be stuck in processing and never come back.
    assert_eq!(next(&queue).await, Some("a"));
}

#[tokio::test(start_paused = true)]
async fn background_tasks_end_on_shut_down_and_on_drop() {
    let runtime = tokio::runtime::Handle::current().metrics();
    settle().await;
    let before = runtime.num_alive_tasks();

    let named = WorkQueue::<&str>::new("test_tasks_shut_down");
    assert_eq!(runtime.num_alive_tasks(), before + 2);
    named.add_after("a", Duration::from_secs(60));
    named.shut_down();
    settle().await;
    assert_eq!(runtime.num_alive_tasks(), before);

    let dropped = WorkQueue::<&str>::new("test_tasks_drop");
    dropped.add_after("a", Duration::from_secs(60));
    settle().await;
    assert_eq!(runtime.num_alive_tasks(), before + 2);
    drop(dropped);
    settle().await;
    assert_eq!(runtime.num_alive_tasks(), before);

    let unnamed = unnamed::<&str>();
    assert_eq!(runtime.num_alive_tasks(), before + 1, "no metrics ticker");
    drop(unnamed);
    settle().await;
    assert_eq!(runtime.num_alive_tasks(), before);
}

mod metrics;
