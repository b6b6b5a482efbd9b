use super::*;
use parking_lot::Mutex;
use std::time::Duration;

#[derive(Default)]
struct Recorder {
    seen: Mutex<Vec<String>>,
}

impl Reconcile<String> for Recorder {
    async fn sync(&self, key: &String) -> Result<Action, SyncError> {
        let attempt = {
            let mut seen = self.seen.lock();
            seen.push(key.clone());
            seen.iter().filter(|k| *k == key).count()
        };
        match key.as_str() {
            "panics-once" if attempt == 1 => panic!("boom"),
            "fails-twice" if attempt <= 2 => Err(SyncError::Retry("conflict".into())),
            "always-fails" => Err(SyncError::Retry("nope".into())),
            "invalid" => Err(SyncError::Permanent("bad selector".into())),
            "requeues" if attempt == 1 => Err(SyncError::Requeue {
                after: Duration::from_secs(2),
                reason: "content remains".into(),
            }),
            "checks-later" if attempt == 1 => Ok(Action::RequeueAfter(Duration::from_secs(1))),
            _ => Ok(Action::Done),
        }
    }
}

#[tokio::test(start_paused = true)]
async fn panics_and_errors_are_retried_and_others_keep_working() {
    let queue = WorkQueue::<String>::new("runtime-test-retries");
    let recorder = Arc::new(Recorder::default());
    let cancel = CancellationToken::new();
    let pool = tokio::spawn(run_workers(
        "runtime-test",
        queue.clone(),
        2,
        recorder.clone(),
        RetryPolicy {
            max_retries: Some(3),
        },
        cancel.clone(),
    ));
    for key in [
        "panics-once",
        "fails-twice",
        "always-fails",
        "invalid",
        "fine",
        "requeues",
        "checks-later",
    ] {
        queue.add(key.to_string());
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    let seen = recorder.seen.lock().clone();
    let count = |k: &str| seen.iter().filter(|s| *s == k).count();
    assert_eq!(count("panics-once"), 2, "{seen:?}");
    assert_eq!(count("fails-twice"), 3, "{seen:?}");
    // First try plus three retries, then dropped.
    assert_eq!(count("always-fails"), 4, "{seen:?}");
    assert_eq!(count("invalid"), 1, "{seen:?}");
    assert_eq!(count("fine"), 1, "{seen:?}");
    assert_eq!(count("requeues"), 2, "{seen:?}");
    assert_eq!(count("checks-later"), 2, "{seen:?}");
    assert!(SYNC_ERRORS.with_label_values(&["runtime-test"]).get() >= 7);
    assert!(WORKER_PANICS.with_label_values(&["runtime-test"]).get() >= 1);
    cancel.cancel();
    pool.await.expect("pool ends");
}

struct Slow {
    finished: Mutex<Vec<String>>,
}

impl Reconcile<String> for Slow {
    async fn sync(&self, key: &String) -> Result<Action, SyncError> {
        tokio::time::sleep(Duration::from_secs(3)).await;
        self.finished.lock().push(key.clone());
        Ok(Action::Done)
    }
}

#[tokio::test(start_paused = true)]
async fn cancellation_lets_in_flight_syncs_finish_and_takes_no_new_keys() {
    let queue = WorkQueue::<String>::new("runtime-test-drain");
    let slow = Arc::new(Slow {
        finished: Mutex::new(vec![]),
    });
    let cancel = CancellationToken::new();
    let pool = tokio::spawn(run_workers(
        "runtime-drain",
        queue.clone(),
        1,
        slow.clone(),
        RetryPolicy::UPSTREAM,
        cancel.clone(),
    ));
    queue.add("first".to_string());
    queue.add("second".to_string());
    tokio::time::sleep(Duration::from_secs(1)).await;
    cancel.cancel();
    pool.await.expect("pool ends");
    assert_eq!(*slow.finished.lock(), vec!["first".to_string()]);
}
