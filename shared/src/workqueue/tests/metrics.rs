//! The `workqueue_*` series, read back through the default registry. Each test uses its
//! own queue name because the registry is process-wide.

use prometheus::proto::Metric;

use super::*;

fn series(family: &str, queue: &str) -> Metric {
    prometheus::gather()
        .into_iter()
        .find(|f| f.name() == family)
        .unwrap_or_else(|| panic!("{family} is not registered"))
        .get_metric()
        .iter()
        .find(|m| {
            m.get_label()
                .iter()
                .any(|l| l.name() == "name" && l.value() == queue)
        })
        .unwrap_or_else(|| panic!("{family} has no series for {queue}"))
        .clone()
}

fn gauge(family: &str, queue: &str) -> f64 {
    series(family, queue).get_gauge().value()
}

fn counter(family: &str, queue: &str) -> f64 {
    series(family, queue).get_counter().value()
}

/// (sample count, sample sum)
fn histogram(family: &str, queue: &str) -> (u64, f64) {
    let metric = series(family, queue);
    let histogram = metric.get_histogram();
    (histogram.sample_count(), histogram.sample_sum())
}

fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() < 1e-6,
        "expected {expected}, got {actual}"
    );
}

#[tokio::test(start_paused = true)]
async fn depth_and_adds_count_only_new_dirty_keys() {
    const NAME: &str = "test_depth_adds";
    let queue = WorkQueue::new(NAME);
    queue.add("a");
    queue.add("a");
    queue.add("b");
    assert_eq!(counter("workqueue_adds_total", NAME), 2.0);
    assert_eq!(gauge("workqueue_depth", NAME), 2.0);

    assert_eq!(next(&queue).await, Some("a"));
    assert_eq!(gauge("workqueue_depth", NAME), 1.0);
    // Re-add while processing: counted, and in the depth although not yet queued.
    queue.add("a");
    queue.add("a");
    assert_eq!(counter("workqueue_adds_total", NAME), 3.0);
    assert_eq!(gauge("workqueue_depth", NAME), 2.0);
    queue.done(&"a");
    assert_eq!(gauge("workqueue_depth", NAME), 2.0);
    assert_eq!(next(&queue).await, Some("b"));
    assert_eq!(next(&queue).await, Some("a"));
    assert_eq!(gauge("workqueue_depth", NAME), 0.0);
    assert_eq!(counter("workqueue_adds_total", NAME), 3.0);
}

#[tokio::test(start_paused = true)]
async fn retries_count_every_add_after() {
    const NAME: &str = "test_retries";
    let queue = WorkQueue::new(NAME);
    queue.add("plain");
    assert_eq!(counter("workqueue_retries_total", NAME), 0.0);
    queue.add_after("a", Duration::ZERO);
    queue.add_after("b", 10 * MS);
    queue.add_after("b", 20 * MS);
    queue.add_rate_limited("c");
    assert_eq!(counter("workqueue_retries_total", NAME), 4.0);
    // The delayed adds count as adds once they land (b once, c once).
    assert_eq!(counter("workqueue_adds_total", NAME), 2.0);
    advance(30 * MS).await;
    settle().await;
    assert_eq!(counter("workqueue_adds_total", NAME), 4.0);
    queue.shut_down();
    queue.add_after("d", Duration::ZERO);
    assert_eq!(counter("workqueue_retries_total", NAME), 4.0);
}

#[tokio::test(start_paused = true)]
async fn queue_and_work_durations_are_observed() {
    const NAME: &str = "test_durations";
    let queue = WorkQueue::new(NAME);
    queue.add("a");
    advance(30 * MS).await;
    // A duplicate add does not restart the clock.
    queue.add("a");
    advance(20 * MS).await;
    assert_eq!(next(&queue).await, Some("a"));
    let (count, sum) = histogram("workqueue_queue_duration_seconds", NAME);
    assert_eq!(count, 1);
    assert_close(sum, 0.05);
    assert_eq!(histogram("workqueue_work_duration_seconds", NAME).0, 0);

    advance(70 * MS).await;
    queue.done(&"a");
    let (count, sum) = histogram("workqueue_work_duration_seconds", NAME);
    assert_eq!(count, 1);
    assert_close(sum, 0.07);

    // Upstream buckets: 10ns .. 10s.
    let metric = series("workqueue_queue_duration_seconds", NAME);
    let bounds: Vec<f64> = metric
        .get_histogram()
        .get_bucket()
        .iter()
        .map(|b| b.upper_bound())
        .collect();
    assert_eq!(bounds.len(), 10);
    assert_close(bounds[0], 1e-8);
    assert_close(bounds[9], 10.0);
}

#[tokio::test(start_paused = true)]
async fn unfinished_work_gauges_follow_processing_every_half_second() {
    const NAME: &str = "test_unfinished";
    let queue = WorkQueue::new(NAME);
    queue.add("a");
    queue.add("b");
    settle().await;
    assert_eq!(next(&queue).await, Some("a"));
    advance(1000 * MS).await;
    settle().await;
    assert_close(gauge("workqueue_unfinished_work_seconds", NAME), 1.0);
    assert_close(
        gauge("workqueue_longest_running_processor_seconds", NAME),
        1.0,
    );

    assert_eq!(next(&queue).await, Some("b"));
    // Not refreshed between ticks.
    advance(200 * MS).await;
    settle().await;
    assert_close(gauge("workqueue_unfinished_work_seconds", NAME), 1.0);
    advance(300 * MS).await;
    settle().await;
    assert_close(gauge("workqueue_unfinished_work_seconds", NAME), 2.0);
    assert_close(
        gauge("workqueue_longest_running_processor_seconds", NAME),
        1.5,
    );

    queue.done(&"a");
    queue.done(&"b");
    advance(500 * MS).await;
    settle().await;
    assert_close(gauge("workqueue_unfinished_work_seconds", NAME), 0.0);
    assert_close(
        gauge("workqueue_longest_running_processor_seconds", NAME),
        0.0,
    );
}

#[tokio::test(start_paused = true)]
async fn two_queues_with_one_name_share_the_series() {
    const NAME: &str = "test_same_name";
    let first = WorkQueue::new(NAME);
    let second = WorkQueue::new(NAME);
    first.add("a");
    second.add("a");
    assert_eq!(counter("workqueue_adds_total", NAME), 2.0);
}
