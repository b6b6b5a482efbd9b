use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

fn never() -> bool {
    false
}

#[test]
fn diff_is_capped_by_the_burst() {
    assert_eq!(replica_diff(0, 3, BURST_REPLICAS), ReplicaDiff::Create(3));
    assert_eq!(replica_diff(5, 2, BURST_REPLICAS), ReplicaDiff::Delete(3));
    assert_eq!(replica_diff(4, 4, BURST_REPLICAS), ReplicaDiff::InSync);
    assert_eq!(
        replica_diff(0, 1200, BURST_REPLICAS),
        ReplicaDiff::Create(500)
    );
    assert_eq!(
        replica_diff(1200, 0, BURST_REPLICAS),
        ReplicaDiff::Delete(500)
    );
    assert_eq!(replica_diff(3, -1, BURST_REPLICAS), ReplicaDiff::Delete(3));
}

#[test]
fn batches_double_from_one_and_trim_the_last() {
    let sizes = |n| slow_start_batches(n, SLOW_START_INITIAL_BATCH_SIZE).collect::<Vec<_>>();
    assert_eq!(sizes(0), Vec::<usize>::new());
    assert_eq!(sizes(1), vec![1]);
    assert_eq!(sizes(10), vec![1, 2, 4, 3]);
    assert_eq!(sizes(15), vec![1, 2, 4, 8]);
    assert_eq!(sizes(500), vec![1, 2, 4, 8, 16, 32, 64, 128, 245]);
    assert_eq!(sizes(500).iter().sum::<usize>(), 500);
    assert_eq!(slow_start_batches(10, 4).collect::<Vec<_>>(), vec![4, 6]);
}

#[tokio::test]
async fn every_call_succeeds() {
    let calls = AtomicUsize::new(0);
    let outcome = slow_start(10, 1, never, || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Ok::<(), String>(()) }
    })
    .await;
    assert_eq!(
        outcome,
        SlowStartOutcome {
            successes: 10,
            error: None
        }
    );
    assert_eq!(calls.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn stops_after_the_first_batch_with_a_failure() {
    // Call 4 fails. Batches are [1], [2, 3], [4, 5, 6, 7]: the third batch still runs to the
    // end, then the remaining 3 calls are never made.
    let calls = AtomicUsize::new(0);
    let outcome = slow_start(10, 1, never, || {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move {
            if n == 4 {
                Err(format!("call {n} failed"))
            } else {
                Ok(())
            }
        }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 7);
    assert_eq!(
        outcome,
        SlowStartOutcome {
            successes: 6,
            error: Some("call 4 failed".to_string())
        }
    );
}

#[tokio::test]
async fn a_failing_first_call_makes_exactly_one_call() {
    let calls = AtomicUsize::new(0);
    let outcome = slow_start(500, 1, never, || {
        calls.fetch_add(1, Ordering::SeqCst);
        async { Err::<(), _>("exceeded quota") }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(outcome.successes, 0);
    assert_eq!(outcome.error, Some("exceeded quota"));
}

#[tokio::test]
async fn counts_every_failure_in_the_stopping_batch() {
    let calls = AtomicUsize::new(0);
    let outcome = slow_start(7, 1, never, || {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move { if n >= 2 { Err(n) } else { Ok(()) } }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(
        outcome,
        SlowStartOutcome {
            successes: 1,
            error: Some(2)
        }
    );
}

#[tokio::test]
async fn stopping_ends_the_round_after_the_batch_in_flight() {
    let calls = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    // Batches 1, 2, 4, 8, ...: the signal arrives during the third batch.
    let outcome = slow_start(
        300,
        1,
        || stop.load(Ordering::SeqCst),
        || {
            if calls.fetch_add(1, Ordering::SeqCst) + 1 == 4 {
                stop.store(true, Ordering::SeqCst);
            }
            async { Ok::<(), &str>(()) }
        },
    )
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        7,
        "1 + 2 + 4, then no new batch"
    );
    assert_eq!(
        outcome,
        SlowStartOutcome {
            successes: 7,
            error: None
        }
    );
}

#[tokio::test]
async fn stopping_before_the_first_batch_makes_no_call() {
    let calls = AtomicUsize::new(0);
    let outcome = slow_start(
        10,
        1,
        || true,
        || {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Ok::<(), &str>(()) }
        },
    )
    .await;
    assert_eq!((calls.load(Ordering::SeqCst), outcome.successes), (0, 0));
}
