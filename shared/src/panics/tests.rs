use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;

use super::{
    HEALTH_CHECK, in_recoverable_scope, install, panic_message, recoverable, recoverable_sync,
};
use crate::health::HealthChecks;

#[tokio::test]
async fn scopes_are_seen_inside_and_not_outside() {
    assert!(!in_recoverable_scope());
    assert!(recoverable(async { in_recoverable_scope() }).await);
    assert!(recoverable_sync(in_recoverable_scope));
    assert!(
        !in_recoverable_scope(),
        "both scopes end with their closure"
    );
}

/// One test for the whole hook: it is process-wide.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recovered_panics_are_counted_and_others_are_fatal() {
    let checks = HealthChecks::new();
    let fatal = install(&checks);
    assert_eq!(checks.health_check(HEALTH_CHECK), Some(Ok(())));

    // A sync's panic, caught by its caller inside a recoverable scope: not fatal.
    let caught = recoverable(AssertUnwindSafe(async { panic!("bad object") }).catch_unwind()).await;
    assert!(caught.is_err());
    let caught = std::panic::catch_unwind(|| recoverable_sync(|| panic!("bad handler")));
    assert!(caught.is_err());
    assert_eq!(fatal.what(), None);

    // A long-lived task dies: fatal, and /healthz says what died.
    let task = tokio::spawn(async { panic!("informer loop broke") });
    assert!(task.await.is_err());
    tokio::time::timeout(Duration::from_secs(5), fatal.happened())
        .await
        .expect("the fatal token fires");
    let what = fatal.what().unwrap_or_default();
    assert!(what.contains("informer loop broke"), "{what}");
    let health = checks.health_check(HEALTH_CHECK).unwrap_or(Ok(()));
    assert!(
        matches!(health, Err(ref reason) if reason.contains("informer loop broke")),
        "{health:?}"
    );
    let _ = std::panic::take_hook();
}

#[test]
fn payloads_are_named() {
    assert_eq!(panic_message(&"static"), "static");
    assert_eq!(panic_message(&String::from("owned")), "owned");
    assert_eq!(panic_message(&42_u8), "(non-string panic payload)");
}
