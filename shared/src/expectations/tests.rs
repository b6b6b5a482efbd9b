use tokio::time::advance;

use super::*;

fn k(key: &str) -> ObjectKey {
    ObjectKey::parse(key).expect("valid key")
}

fn keys<const N: usize>(list: [&str; N]) -> Vec<ObjectKey> {
    list.into_iter().map(k).collect()
}

#[test]
fn no_record_is_satisfied() {
    let expectations = ControllerExpectations::new();
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    assert_eq!(expectations.get_expectations(&k("ns/rs")), None);
    // Observations without a record change nothing.
    expectations.creation_observed(&k("ns/rs"));
    expectations.raise_expectations(&k("ns/rs"), 1, 1);
    assert_eq!(expectations.get_expectations(&k("ns/rs")), None);
}

#[tokio::test(start_paused = true)]
async fn creations_must_all_be_observed() {
    let expectations = ControllerExpectations::new();
    expectations.expect_creations(&k("ns/rs"), 3);
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    expectations.creation_observed(&k("ns/rs"));
    expectations.creation_observed(&k("ns/rs"));
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    let record = expectations.get_expectations(&k("ns/rs")).unwrap();
    assert_eq!((record.add, record.del), (1, 0));
    expectations.creation_observed(&k("ns/rs"));
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    // Extra observations go negative and stay satisfied.
    expectations.creation_observed(&k("ns/rs"));
    assert_eq!(expectations.get_expectations(&k("ns/rs")).unwrap().add, -1);
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    // Other keys are independent.
    expectations.expect_deletions(&k("ns/other"), 1);
    assert!(!expectations.satisfied_expectations(&k("ns/other")));
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
}

#[tokio::test(start_paused = true)]
async fn both_counts_must_drop_to_zero() {
    let expectations = ControllerExpectations::new();
    expectations.set_expectations(&k("ns/rs"), 1, 2);
    expectations.creation_observed(&k("ns/rs"));
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    expectations.deletion_observed(&k("ns/rs"));
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    expectations.lower_expectations(&k("ns/rs"), 0, 1);
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    expectations.raise_expectations(&k("ns/rs"), 2, 0);
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    assert_eq!(expectations.get_expectations(&k("ns/rs")).unwrap().add, 2);
}

#[tokio::test(start_paused = true)]
async fn expect_replaces_the_record() {
    let expectations = ControllerExpectations::new();
    expectations.expect_creations(&k("ns/rs"), 5);
    expectations.expect_deletions(&k("ns/rs"), 2);
    let record = expectations.get_expectations(&k("ns/rs")).unwrap();
    assert_eq!((record.add, record.del), (0, 2));
}

#[tokio::test(start_paused = true)]
async fn unfulfilled_record_expires_after_five_minutes() {
    let expectations = ControllerExpectations::new();
    expectations.expect_creations(&k("ns/rs"), 1);
    advance(EXPECTATIONS_TIMEOUT).await;
    // Exactly five minutes is not yet "older than".
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    advance(Duration::from_millis(1)).await;
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    // Raising or lowering keeps the old timestamp.
    expectations.raise_expectations(&k("ns/rs"), 3, 0);
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    // Setting anew restarts the clock.
    expectations.expect_creations(&k("ns/rs"), 1);
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
}

#[tokio::test(start_paused = true)]
async fn delete_expectations_forgets_the_key() {
    let expectations = ControllerExpectations::new();
    expectations.expect_creations(&k("ns/rs"), 4);
    expectations.delete_expectations(&k("ns/rs"));
    assert_eq!(expectations.get_expectations(&k("ns/rs")), None);
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
}

#[tokio::test(start_paused = true)]
async fn uid_tracking_counts_each_object_once() {
    let expectations = UidTrackingExpectations::new();
    expectations.expect_deletions(&k("ns/rs"), keys(["ns/p1", "ns/p2", "ns/p2"]));
    let record = expectations.get_expectations(&k("ns/rs")).unwrap();
    assert_eq!((record.add, record.del), (0, 2));

    // Seen terminating, then seen deleted: one decrement.
    expectations.deletion_observed(&k("ns/rs"), &k("ns/p1"));
    expectations.deletion_observed(&k("ns/rs"), &k("ns/p1"));
    assert_eq!(expectations.get_expectations(&k("ns/rs")).unwrap().del, 1);
    // An unrelated pod does not count.
    expectations.deletion_observed(&k("ns/rs"), &k("ns/stranger"));
    assert_eq!(expectations.get_expectations(&k("ns/rs")).unwrap().del, 1);
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    assert_eq!(
        expectations.get_uids(&k("ns/rs")),
        Some(HashSet::from([k("ns/p2")]))
    );

    expectations.deletion_observed(&k("ns/rs"), &k("ns/p2"));
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    assert_eq!(expectations.get_uids(&k("ns/rs")), Some(HashSet::new()));
}

#[tokio::test(start_paused = true)]
async fn uid_tracking_replaces_the_set_and_delete_clears_both() {
    let expectations = UidTrackingExpectations::new();
    expectations.expect_deletions(&k("ns/rs"), keys(["ns/old"]));
    expectations.expect_deletions(&k("ns/rs"), keys(["ns/a", "ns/b"]));
    expectations.deletion_observed(&k("ns/rs"), &k("ns/old"));
    assert_eq!(expectations.get_expectations(&k("ns/rs")).unwrap().del, 2);

    expectations.delete_expectations(&k("ns/rs"));
    assert_eq!(expectations.get_uids(&k("ns/rs")), None);
    assert_eq!(expectations.get_expectations(&k("ns/rs")), None);
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
    // Observations after the delete find nothing to lower.
    expectations.deletion_observed(&k("ns/rs"), &k("ns/a"));
    assert_eq!(expectations.get_expectations(&k("ns/rs")), None);
}

#[tokio::test(start_paused = true)]
async fn uid_tracking_creations_and_expiry_use_the_counts() {
    let expectations = UidTrackingExpectations::new();
    expectations.expect_creations(&k("ns/rs"), 2);
    assert_eq!(expectations.get_uids(&k("ns/rs")), None);
    expectations.creation_observed(&k("ns/rs"));
    assert!(!expectations.satisfied_expectations(&k("ns/rs")));
    advance(EXPECTATIONS_TIMEOUT + Duration::from_secs(1)).await;
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
}

#[test]
fn shared_between_threads() {
    let expectations = std::sync::Arc::new(ControllerExpectations::new());
    expectations.expect_creations(&k("ns/rs"), 800);
    let threads: Vec<_> = (0..8)
        .map(|_| {
            let expectations = expectations.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    expectations.creation_observed(&k("ns/rs"));
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert_eq!(expectations.get_expectations(&k("ns/rs")).unwrap().add, 0);
    assert!(expectations.satisfied_expectations(&k("ns/rs")));
}
