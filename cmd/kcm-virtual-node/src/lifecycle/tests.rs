//! The state machine driven through time without a cluster: each step's report is applied
//! to the pod as the API server would store it, and the next step runs at its wake time.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, PodSpec};
use kube::api::ObjectMeta;

use super::*;
use crate::{
    behaviour::{EXIT_AFTER, EXIT_CODE, NEVER_READY, READY_AFTER, START_DELAY, UNREADY_AFTER},
    status::{Addresses, pod_status},
};

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn pod(annotations: &[(&str, &str)], restart_policy: &str) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            namespace: Some("ns".into()),
            uid: Some("uid-1".into()),
            annotations: Some(
                annotations
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            node_name: Some("vn-1".into()),
            restart_policy: Some(restart_policy.into()),
            containers: vec![Container {
                name: "app".into(),
                image: Some("registry.invalid/app:1".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    }
}

/// Stores `target` on `pod` the way a strategic-merge patch of its status would.
fn apply(pod: &mut Pod, target: &Target, now: Timestamp) {
    let addresses = Addresses {
        host_ip: "10.253.0.1".into(),
        pod_ip: Some("10.244.0.7".into()),
    };
    let new = pod_status(pod, target, &addresses, now);
    let mut status = pod.status.clone().unwrap_or_default();
    let mut conditions = status.conditions.take().unwrap_or_default();
    for c in new.conditions.clone().unwrap_or_default() {
        conditions.retain(|old| old.type_ != c.type_);
        conditions.push(c);
    }
    status.conditions = Some(conditions);
    macro_rules! take {
        ($($f:ident),*) => { $( if new.$f.is_some() { status.$f = new.$f.clone(); } )* };
    }
    take!(
        phase,
        reason,
        message,
        host_ip,
        pod_ip,
        start_time,
        container_statuses,
        init_container_statuses
    );
    pod.status = Some(status);
}

fn behaviour(pod: &Pod) -> Behaviour {
    Behaviour::of(pod).unwrap()
}

/// One step at `now`, applied; returns the report and the wake time.
fn step_at(pod: &mut Pod, now: Timestamp) -> Step {
    let b = behaviour(pod);
    let s = step(pod, &b, now, RestartBackoff::default());
    if let Some(target) = &s.report {
        apply(pod, target, now);
    }
    s
}

fn ready(pod: &Pod) -> bool {
    shared_ready(pod)
}

fn ready_condition(pod: &Pod) -> Option<&k8s_openapi::api::core::v1::PodCondition> {
    pod.status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")
}

fn phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("")
}

#[test]
fn a_plain_pod_runs_and_is_ready_in_one_report_then_nothing_more() {
    let mut p = pod(&[], "Always");
    assert_eq!(observe(&p), Observed::Unadmitted);
    let s = step_at(&mut p, t(0));
    assert!(matches!(
        s.report,
        Some(Target::Running {
            ready: true,
            restarts: 0,
            ..
        })
    ));
    assert_eq!(s.wake_at, None);
    assert_eq!(phase(&p), "Running");
    assert!(ready(&p));
    assert_eq!(
        observe(&p),
        Observed::Running {
            started_at: t(0),
            restarts: 0,
            ready: true
        }
    );
    // Idempotent: the same pod later needs no write.
    assert_eq!(step_at(&mut p, t(100)), Step::default());
}

#[test]
fn start_delay_keeps_the_pod_pending() {
    let mut p = pod(&[(START_DELAY, "2s")], "Always");
    let s = step_at(&mut p, t(0));
    assert_eq!(s.report, Some(Target::Pending));
    assert_eq!(s.wake_at, Some(t(2)));
    assert_eq!(phase(&p), "Pending");
    assert_eq!(observe(&p), Observed::Creating { since: t(0) });
    // Woken early (another event): still waiting, no write.
    assert_eq!(
        step_at(&mut p, t(1)),
        Step {
            report: None,
            wake_at: Some(t(2))
        }
    );
    let s = step_at(&mut p, t(2));
    assert!(matches!(
        s.report,
        Some(Target::Running { ready: true, .. })
    ));
    assert!(ready(&p));
}

#[test]
fn ready_after_flips_ready_with_a_transition_time() {
    let mut p = pod(&[(READY_AFTER, "3s")], "Always");
    let s = step_at(&mut p, t(0));
    assert!(matches!(
        s.report,
        Some(Target::Running { ready: false, .. })
    ));
    assert_eq!(s.wake_at, Some(t(3)));
    assert!(!ready(&p));
    assert_eq!(step_at(&mut p, t(1)).report, None);
    let s = step_at(&mut p, t(3));
    assert!(
        matches!(s.report, Some(Target::Running { ready: true, started_at, .. }) if started_at == t(0))
    );
    assert_eq!(s.wake_at, None);
    let ready_condition = ready_condition(&p).unwrap();
    assert_eq!(
        ready_condition.last_transition_time.as_ref().unwrap().0,
        t(3)
    );
}

#[test]
fn never_ready_stays_unready_without_wakeups() {
    let mut p = pod(&[(NEVER_READY, "true")], "Always");
    let s = step_at(&mut p, t(0));
    assert!(matches!(
        s.report,
        Some(Target::Running { ready: false, .. })
    ));
    assert_eq!(s.wake_at, None);
    assert_eq!(step_at(&mut p, t(1000)), Step::default());
    assert!(!ready(&p));
}

#[test]
fn unready_after_drops_readiness_and_keeps_running() {
    let mut p = pod(&[(UNREADY_AFTER, "5s")], "Always");
    let s = step_at(&mut p, t(0));
    assert!(ready(&p));
    assert_eq!(s.wake_at, Some(t(5)));
    let s = step_at(&mut p, t(5));
    assert!(matches!(
        s.report,
        Some(Target::Running { ready: false, .. })
    ));
    assert_eq!(s.wake_at, None);
    assert_eq!(phase(&p), "Running");
    assert!(!ready(&p));
}

#[test]
fn exits_follow_the_restart_policy() {
    for (policy, code, expected) in [
        ("Never", "0", "Succeeded"),
        ("Never", "1", "Failed"),
        ("OnFailure", "0", "Succeeded"),
    ] {
        let mut p = pod(&[(EXIT_AFTER, "4s"), (EXIT_CODE, code)], policy);
        let s = step_at(&mut p, t(0));
        assert_eq!(s.wake_at, Some(t(4)), "{policy} {code}");
        step_at(&mut p, t(4));
        assert_eq!(phase(&p), expected, "{policy} {code}");
        assert!(!ready(&p));
        let terminated = p
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0]
            .state
            .as_ref()
            .unwrap()
            .terminated
            .clone()
            .unwrap();
        assert_eq!(terminated.exit_code.to_string(), code);
        assert_eq!(observe(&p), Observed::Finished);
        assert_eq!(step_at(&mut p, t(100)), Step::default());
    }
}

#[test]
fn restarted_containers_back_off_and_count_restarts() {
    for (policy, code) in [("Always", "0"), ("Always", "2"), ("OnFailure", "2")] {
        let mut p = pod(&[(EXIT_AFTER, "4s"), (EXIT_CODE, code)], policy);
        step_at(&mut p, t(0));
        let s = step_at(&mut p, t(4));
        assert!(
            matches!(s.report, Some(Target::BackOff { restarts: 1, .. })),
            "{policy} {code}: {s:?}"
        );
        assert_eq!(s.wake_at, Some(t(14)), "first back-off is 10s");
        assert_eq!(phase(&p), "Running");
        assert!(!ready(&p));
        assert_eq!(
            observe(&p),
            Observed::BackOff {
                finished_at: t(4),
                restarts: 1
            }
        );
        // Restart at 14, exits again at 18, then waits 20s.
        let s = step_at(&mut p, t(14));
        assert!(matches!(
            s.report,
            Some(Target::Running {
                restarts: 1,
                ready: true,
                ..
            })
        ));
        assert_eq!(s.wake_at, Some(t(18)));
        let s = step_at(&mut p, t(18));
        assert!(matches!(
            s.report,
            Some(Target::BackOff { restarts: 2, .. })
        ));
        assert_eq!(s.wake_at, Some(t(38)));
        let status = &p
            .status
            .as_ref()
            .unwrap()
            .container_statuses
            .as_ref()
            .unwrap()[0];
        assert_eq!(status.restart_count, 2);
        let last = status
            .last_state
            .as_ref()
            .unwrap()
            .terminated
            .as_ref()
            .unwrap();
        assert_eq!(last.exit_code.to_string(), code);
        assert_eq!(
            status
                .state
                .as_ref()
                .unwrap()
                .waiting
                .as_ref()
                .unwrap()
                .reason
                .as_deref(),
            Some("CrashLoopBackOff")
        );
    }
}

#[test]
fn the_back_off_doubles_up_to_its_cap() {
    let b = RestartBackoff::default();
    let secs: Vec<u64> = (1..=7).map(|n| b.delay(n).as_secs()).collect();
    assert_eq!(secs, [10, 20, 40, 80, 160, 300, 300]);
    assert_eq!(b.delay(i32::MAX).as_secs(), 300);
}

#[test]
fn active_deadline_fails_the_pod() {
    let mut p = pod(&[(READY_AFTER, "10s")], "Always");
    p.spec.as_mut().unwrap().active_deadline_seconds = Some(5);
    let s = step_at(&mut p, t(0));
    assert_eq!(s.wake_at, Some(t(5)), "the deadline comes before readiness");
    let s = step_at(&mut p, t(5));
    assert!(matches!(
        s.report,
        Some(Target::Finished {
            outcome: Outcome::Failed,
            reason: Some("DeadlineExceeded"),
            ..
        })
    ));
    assert_eq!(phase(&p), "Failed");
    assert_eq!(
        p.status.as_ref().unwrap().reason.as_deref(),
        Some("DeadlineExceeded")
    );
    assert_eq!(step_at(&mut p, t(6)), Step::default());
}

#[test]
fn active_deadline_counts_while_pending_too() {
    let mut p = pod(&[(START_DELAY, "1m")], "Always");
    p.spec.as_mut().unwrap().active_deadline_seconds = Some(3);
    let s = step_at(&mut p, t(0));
    assert_eq!(s.wake_at, Some(t(3)));
    step_at(&mut p, t(3));
    assert_eq!(phase(&p), "Failed");
}

#[test]
fn a_restarted_node_catches_up_from_the_status() {
    // Started 10s ago with ready-after=3s but reported unready (the node was down): Ready now.
    let mut p = pod(&[(READY_AFTER, "3s")], "Always");
    step_at(&mut p, t(0));
    assert!(!ready(&p));
    let s = step_at(&mut p, t(10));
    assert!(matches!(
        s.report,
        Some(Target::Running { ready: true, .. })
    ));
}

#[test]
fn annotations_edited_on_a_running_pod_take_effect() {
    let mut p = pod(&[], "Always");
    step_at(&mut p, t(0));
    assert!(ready(&p));
    p.metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert(UNREADY_AFTER.into(), "0s".into());
    let s = step_at(&mut p, t(20));
    assert!(matches!(
        s.report,
        Some(Target::Running { ready: false, .. })
    ));
}

#[test]
fn deletion_waits_for_the_grace_period_only_while_containers_run() {
    let since = t(100);
    let mut p = pod(&[], "Always");
    p.metadata.deletion_grace_period_seconds = Some(5);
    assert_eq!(
        deletion_due(&p, since, Duration::from_secs(30)),
        since,
        "never started"
    );
    step_at(&mut p, t(0));
    assert_eq!(deletion_due(&p, since, Duration::from_secs(30)), t(105));
    assert_eq!(
        deletion_due(&p, since, Duration::from_secs(2)),
        t(102),
        "capped"
    );
    p.metadata.deletion_grace_period_seconds = Some(0);
    assert_eq!(deletion_due(&p, since, Duration::from_secs(30)), since);

    let mut done = pod(&[(EXIT_AFTER, "1s")], "Never");
    done.metadata.deletion_grace_period_seconds = Some(30);
    step_at(&mut done, t(0));
    step_at(&mut done, t(1));
    assert_eq!(phase(&done), "Succeeded");
    assert_eq!(
        deletion_due(&done, since, Duration::from_secs(30)),
        since,
        "finished"
    );
}
