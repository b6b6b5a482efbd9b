use super::*;
use crate::endpoints::testing::at;

fn key() -> ObjectKey {
    ObjectKey::namespaced("t", "s")
}

#[test]
fn an_unknown_service_reports_its_creation_time() {
    let tracker = TriggerTimeTracker::new();
    let got = tracker.compute(&key(), Some(at(-100)), [("p1", Some(at(5)))]);
    assert_eq!(got, Some(at(-100)));
    // Nothing moved since.
    assert_eq!(
        tracker.compute(&key(), Some(at(-100)), [("p1", Some(at(5)))]),
        None
    );
}

#[test]
fn the_earliest_moved_ready_time_wins() {
    let tracker = TriggerTimeTracker::new();
    tracker.compute(
        &key(),
        Some(at(-100)),
        [("p1", Some(at(1))), ("p2", Some(at(2)))],
    );
    let got = tracker.compute(
        &key(),
        Some(at(-100)),
        [
            ("p1", Some(at(10))),
            ("p2", Some(at(7))),
            ("p3", Some(at(9))),
        ],
    );
    assert_eq!(got, Some(at(7)));
    // A pod without a Ready time is ignored; one that did not move neither.
    let got = tracker.compute(
        &key(),
        Some(at(-100)),
        [("p1", Some(at(10))), ("p2", None), ("p3", Some(at(9)))],
    );
    assert_eq!(got, None);
    // p2 was forgotten at the last sync, so its old time counts as new again.
    let got = tracker.compute(&key(), Some(at(-100)), [("p2", Some(at(7)))]);
    assert_eq!(got, Some(at(7)));
}

#[test]
fn a_recreated_or_deleted_service_starts_over() {
    let tracker = TriggerTimeTracker::new();
    tracker.compute(&key(), Some(at(-100)), [("p1", Some(at(1)))]);
    assert_eq!(
        tracker.compute(&key(), Some(at(50)), [("p1", Some(at(1)))]),
        Some(at(50)),
        "a newer creationTimestamp counts as a change"
    );
    tracker.delete(&key());
    assert_eq!(
        tracker.compute(&key(), Some(at(50)), [("p1", Some(at(1)))]),
        Some(at(50))
    );
}

#[test]
fn times_are_formatted_as_go_rfc3339nano() {
    let t: Timestamp = "2025-01-02T03:04:05Z".parse().unwrap();
    assert_eq!(format_trigger_time(t), "2025-01-02T03:04:05Z");
    let t: Timestamp = "2025-01-02T03:04:05.120Z".parse().unwrap();
    assert_eq!(format_trigger_time(t), "2025-01-02T03:04:05.12Z");
    let t: Timestamp = "2025-01-02T05:04:05+02:00".parse().unwrap();
    assert_eq!(format_trigger_time(t), "2025-01-02T03:04:05Z");
}
