use super::*;

fn pod(phase: &str, grace: Option<i64>) -> PodGrace {
    PodGrace {
        spec: PodGraceSpec {
            termination_grace_period_seconds: grace,
        },
        status: PodGraceStatus {
            phase: Some(phase.to_owned()),
        },
    }
}

fn item(name: &str, finalizers: &[&str]) -> ItemMeta {
    ItemMeta {
        name: name.to_owned(),
        finalizers: finalizers.iter().map(|f| (*f).to_owned()).collect(),
    }
}

fn at(second: i64) -> Timestamp {
    Timestamp::from_second(second).expect("a valid timestamp")
}

#[test]
fn the_estimate_is_the_longest_grace_of_unfinished_pods() {
    let pods = [
        pod("Running", Some(30)),
        pod("Pending", Some(45)),
        pod("Succeeded", Some(600)),
        pod("Failed", Some(600)),
        pod("Running", None),
    ];
    assert_eq!(pod_grace_estimate(&pods), 45);
    assert_eq!(
        pod_grace_estimate(&pods[2..4]),
        0,
        "finished pods go at once"
    );
    assert_eq!(pod_grace_estimate(&[]), 0);
}

#[test]
fn a_pod_list_parses_into_what_the_estimate_reads() {
    let list: Vec<PodGrace> = serde_json::from_value(serde_json::json!([
        { "metadata": { "name": "a" }, "spec": { "terminationGracePeriodSeconds": 30,
          "containers": [] }, "status": { "phase": "Running" } },
        { "metadata": { "name": "b" } },
    ]))
    .expect("pods parse");
    assert_eq!(list[0], pod("Running", Some(30)));
    assert_eq!(list[1], PodGrace::default());
}

#[test]
fn time_already_spent_terminating_counts_against_the_estimate() {
    assert_eq!(discount_elapsed(30, at(100), at(110)), 30);
    assert_eq!(discount_elapsed(30, at(100), at(129)), 30);
    assert_eq!(discount_elapsed(30, at(100), at(130)), 0, "exactly used up");
    assert_eq!(discount_elapsed(30, at(100), at(500)), 0);
    assert_eq!(discount_elapsed(0, at(100), at(100)), 0);
    // A clock behind the deletion timestamp keeps the estimate.
    assert_eq!(discount_elapsed(30, at(100), at(90)), 30);
}

#[test]
fn nothing_listed_means_done() {
    assert_eq!(assess(30, &[]), Leftover::Gone);
    assert_eq!(assess(0, &[]), Leftover::Gone);
}

#[test]
fn remaining_items_wait_for_the_estimate_with_their_finalizers_counted() {
    let items = [item("a", &["x.io/f"]), item("b", &[])];
    assert_eq!(
        assess(30, &items),
        Leftover::Waiting {
            estimate: 30,
            remaining: 2,
            finalizers: BTreeMap::from([("x.io/f".to_owned(), 1)]),
        }
    );
}

#[test]
fn finalizers_without_an_estimate_get_fifteen_seconds() {
    let items = [item("a", &["x.io/f", "y.io/g"]), item("b", &["x.io/f"])];
    assert_eq!(
        assess(0, &items),
        Leftover::Waiting {
            estimate: FINALIZER_ESTIMATE_SECONDS,
            remaining: 2,
            finalizers: BTreeMap::from([("x.io/f".to_owned(), 2), ("y.io/g".to_owned(), 1)]),
        }
    );
}

#[test]
fn items_with_neither_estimate_nor_finalizers_are_unexpected() {
    assert_eq!(
        assess(0, &[item("stuck", &[])]),
        Leftover::Unexpected { remaining: 1 }
    );
}

#[test]
fn requeues_come_after_half_the_estimate_plus_one_second() {
    assert_eq!(requeue_after(15), Duration::from_secs(8));
    assert_eq!(requeue_after(30), Duration::from_secs(16));
    assert_eq!(requeue_after(1), Duration::from_secs(1));
    assert_eq!(requeue_after(0), Duration::from_secs(1));
    assert_eq!(requeue_after(-5), Duration::from_secs(1));
}
