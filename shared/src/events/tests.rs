use super::*;

fn pending(reason: &str, message: &str) -> PendingEvent {
    PendingEvent {
        component: "replicaset-controller".into(),
        regarding: ObjectReference {
            api_version: Some("apps/v1".into()),
            kind: Some("ReplicaSet".into()),
            namespace: Some("ns1".into()),
            name: Some("web".into()),
            uid: Some("u1".into()),
            ..Default::default()
        },
        type_: EventType::Normal,
        reason: reason.into(),
        message: message.into(),
    }
}

#[test]
fn event_looks_like_the_legacy_recorder() {
    let now = jiff::Timestamp::from_second(1_700_000_000).expect("timestamp");
    let e = build_event(
        &pending("SuccessfulCreate", "Created pod: web-abc"),
        "node-1",
        now,
    );
    assert_eq!(e.metadata.namespace.as_deref(), Some("ns1"));
    assert!(
        e.metadata
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with("web."))
    );
    assert_eq!(
        e.source.and_then(|s| s.component).as_deref(),
        Some("replicaset-controller")
    );
    assert_eq!(e.involved_object.uid.as_deref(), Some("u1"));
    assert_eq!(e.count, Some(1));
    assert_eq!(e.type_.as_deref(), Some("Normal"));
    assert_eq!(e.reporting_instance.as_deref(), Some("node-1"));
}

#[test]
fn cluster_scoped_events_go_to_default() {
    let mut p = pending("DeletingNode", "x");
    p.regarding.namespace = None;
    let e = build_event(&p, "h", jiff::Timestamp::UNIX_EPOCH);
    assert_eq!(e.metadata.namespace.as_deref(), Some("default"));
}

#[test]
fn aggregation_key_ignores_nothing_that_matters() {
    let a = AggregationKey::of(&pending("SuccessfulCreate", "Created pod: a"));
    let b = AggregationKey::of(&pending("SuccessfulCreate", "Created pod: a"));
    let c = AggregationKey::of(&pending("SuccessfulCreate", "Created pod: b"));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[tokio::test]
async fn full_queue_drops_instead_of_blocking() {
    let (tx, _rx) = mpsc::channel(1);
    let recorder = EventRecorder {
        component: "events-test-drop".into(),
        tx,
    };
    let p = pending("R", "m");
    recorder.normal(p.regarding.clone(), "R", "first");
    recorder.normal(p.regarding, "R", "second");
    let dropped = EVENTS_TOTAL
        .with_label_values(&["events-test-drop", "dropped"])
        .get();
    assert_eq!(dropped, 1);
}
