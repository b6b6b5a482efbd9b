use super::*;

#[test]
fn buckets_span_ten_nanoseconds_to_ten_seconds() {
    let buckets = duration_buckets();
    assert_eq!(buckets.len(), 10);
    assert!((buckets[0] - 1e-8).abs() < 1e-20);
    assert!((buckets[9] - 10.0).abs() < 1e-9);
}

#[test]
fn disabled_metrics_record_nothing() {
    let mut metrics = QueueMetrics::<u32>::disabled();
    metrics.add(&1);
    metrics.get(&1);
    assert!(metrics.added_at.is_empty());
    assert!(metrics.processing_since.is_empty());
    assert!(!metrics.is_enabled());
}
