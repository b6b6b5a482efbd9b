use super::*;
use parking_lot::Mutex;
use std::sync::Arc;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn passes_never_overlap_and_the_period_slides_after_each_pass() {
    let cancel = CancellationToken::new();
    let starts = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(Mutex::new(false));
    let origin = Instant::now();
    let task = tokio::spawn({
        let (cancel, starts, running) = (cancel.clone(), starts.clone(), running.clone());
        async move {
            run_periodic(
                "periodic-test",
                Duration::from_secs(20),
                0.0,
                cancel,
                || {
                    let (starts, running) = (starts.clone(), running.clone());
                    async move {
                        assert!(!std::mem::replace(&mut *running.lock(), true), "overlap");
                        starts.lock().push(origin.elapsed().as_secs());
                        // Each pass takes 5 s: the next starts 20 s after it ended.
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        *running.lock() = false;
                    }
                },
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_secs(60)).await;
    cancel.cancel();
    task.await.expect("loop ends");
    assert_eq!(*starts.lock(), vec![0, 25, 50]);
}

#[tokio::test(start_paused = true)]
async fn a_panicking_pass_does_not_stop_the_loop() {
    let cancel = CancellationToken::new();
    let passes = Arc::new(Mutex::new(0));
    let task = tokio::spawn({
        let (cancel, passes) = (cancel.clone(), passes.clone());
        async move {
            run_periodic(
                "periodic-panic",
                Duration::from_secs(1),
                1.0,
                cancel,
                || {
                    let passes = passes.clone();
                    async move {
                        *passes.lock() += 1;
                        if *passes.lock() == 1 {
                            panic!("first pass fails");
                        }
                    }
                },
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_secs(10)).await;
    cancel.cancel();
    task.await.expect("loop ends");
    assert!(*passes.lock() >= 3, "{}", *passes.lock());
    assert!(WORKER_PANICS.with_label_values(&["periodic-panic"]).get() >= 1);
}
