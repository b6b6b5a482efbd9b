use super::*;
use k8s_openapi::api::core::v1::Pod;

fn added() -> Delta<Pod> {
    Delta::Added {
        obj: Arc::new(Pod::default()),
        initial_list: false,
    }
}

#[tokio::test]
async fn panicking_handler_keeps_receiving_and_backlog_drains() {
    let backlog = Arc::new(Backlog::default());
    let seen = Arc::new(AtomicUsize::new(0));
    let seen_in_handler = Arc::clone(&seen);
    let listener = Listener::spawn(
        HandlerId(1),
        move |_: &Delta<Pod>| {
            if seen_in_handler.fetch_add(1, Ordering::SeqCst) == 0 {
                panic!("first delta blows up (expected in this test)");
            }
        },
        Duration::ZERO,
        Arc::clone(&backlog),
        "Pod".into(),
    );
    for _ in 0..3 {
        listener.send(added(), &backlog);
    }
    backlog.wait_drained().await;
    assert_eq!(seen.load(Ordering::SeqCst), 3);
    assert_eq!(backlog.pending(), 0);
}

#[tokio::test(start_paused = true)]
async fn resync_period_is_clamped_and_zero_disables() {
    let backlog = Arc::new(Backlog::default());
    let none = Listener::<Pod>::spawn(
        HandlerId(1),
        |_: &Delta<Pod>| {},
        Duration::ZERO,
        Arc::clone(&backlog),
        "Pod".into(),
    );
    assert_eq!(none.next_resync(), None);
    let start = Instant::now();
    let mut short = Listener::<Pod>::spawn(
        HandlerId(2),
        |_: &Delta<Pod>| {},
        Duration::from_millis(10),
        backlog,
        "Pod".into(),
    );
    assert_eq!(short.next_resync(), Some(start + MIN_HANDLER_RESYNC));
    assert!(!short.resync_due(start));
    assert!(short.resync_due(start + MIN_HANDLER_RESYNC));
    short.schedule_next_resync(start + Duration::from_secs(5));
    assert_eq!(short.next_resync(), Some(start + Duration::from_secs(6)));
}
