use super::*;

fn annotations(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

#[test]
fn no_annotations_is_a_well_behaved_server() {
    let b = Behaviour::from_annotations(&annotations(&[("other/key", "x")])).unwrap();
    assert_eq!(b, Behaviour::default());
    assert!(b.ready_at(Duration::ZERO));
    assert_eq!(b.next_readiness_change(Duration::ZERO), None);
}

#[test]
fn every_annotation_is_read() {
    let b = Behaviour::from_annotations(&annotations(&[
        (START_DELAY, "2s"),
        (READY_AFTER, "3s"),
        (UNREADY_AFTER, "1m"),
        (EXIT_AFTER, "90s"),
        (EXIT_CODE, "3"),
    ]))
    .unwrap();
    assert_eq!(b.start_delay, Duration::from_secs(2));
    assert_eq!(b.ready_after, Duration::from_secs(3));
    assert_eq!(b.unready_after, Some(Duration::from_secs(60)));
    assert_eq!(b.exit_after, Some(Duration::from_secs(90)));
    assert_eq!(b.exit_code, 3);
    assert!(!b.ready_at(Duration::from_secs(2)));
    assert!(b.ready_at(Duration::from_secs(3)));
    assert!(!b.ready_at(Duration::from_secs(60)));
    assert_eq!(
        b.next_readiness_change(Duration::from_secs(1)),
        Some(Duration::from_secs(3))
    );
    assert_eq!(
        b.next_readiness_change(Duration::from_secs(3)),
        Some(Duration::from_secs(60))
    );
    assert_eq!(b.next_readiness_change(Duration::from_secs(61)), None);
}

#[test]
fn never_ready_wins() {
    let b = Behaviour::from_annotations(&annotations(&[(NEVER_READY, "true")])).unwrap();
    assert!(!b.ready_at(Duration::from_secs(1000)));
    assert_eq!(b.next_readiness_change(Duration::ZERO), None);
}

#[test]
fn bad_annotations_name_the_annotation() {
    for (pairs, needle) in [
        (vec![(READY_AFTER, "soon")], READY_AFTER),
        (vec![(NEVER_READY, "yes")], NEVER_READY),
        (vec![(EXIT_CODE, "300")], EXIT_CODE),
        (vec![(EXIT_CODE, "one")], EXIT_CODE),
        (
            vec![("kcm-virtual-node.io/ready-afer", "1s")],
            "kcm-virtual-node.io/ready-afer",
        ),
    ] {
        let e = Behaviour::from_annotations(&annotations(&pairs)).unwrap_err();
        assert!(e.to_string().contains(needle), "{e}");
    }
}
