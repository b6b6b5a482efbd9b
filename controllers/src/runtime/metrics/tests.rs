use super::*;

#[tokio::test(start_paused = true)]
async fn a_failing_key_is_logged_once_per_window_with_the_suppressed_count() {
    let log = FailureLog::default();
    assert_eq!(log.should_log("ns/a"), Some(0));
    assert_eq!(log.should_log("ns/a"), None);
    assert_eq!(log.should_log("ns/a"), None);
    assert_eq!(
        log.should_log("ns/b"),
        Some(0),
        "keys are limited separately"
    );
    tokio::time::advance(LOG_EVERY).await;
    assert_eq!(log.should_log("ns/a"), Some(2));
    log.succeeded("ns/a");
    assert_eq!(log.should_log("ns/a"), Some(0), "a success resets the key");
}
