use k8s_openapi::api::core::v1::{Container, PodSpec};
use kube::api::ObjectMeta;

use super::*;
use crate::lifecycle::{Observed, observe};

fn t(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + seconds).unwrap()
}

fn pod(init: Vec<Container>) -> Pod {
    Pod {
        metadata: ObjectMeta {
            name: Some("p".into()),
            uid: Some("uid-1".into()),
            generation: Some(3),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![
                Container {
                    name: "a".into(),
                    image: Some("img/a:1".into()),
                    ..Container::default()
                },
                Container {
                    name: "b".into(),
                    image: Some("img/b:1".into()),
                    ..Container::default()
                },
            ],
            init_containers: (!init.is_empty()).then_some(init),
            ..PodSpec::default()
        }),
        status: None,
    }
}

fn addresses() -> Addresses {
    Addresses {
        host_ip: "10.253.0.1".into(),
        pod_ip: Some("10.244.0.9".into()),
    }
}

fn condition_of<'a>(s: &'a PodStatus, type_: &str) -> &'a PodCondition {
    s.conditions
        .as_ref()
        .unwrap()
        .iter()
        .find(|c| c.type_ == type_)
        .unwrap()
}

#[test]
fn running_and_ready_reports_what_a_kubelet_does() {
    let p = pod(vec![]);
    let target = Target::Running {
        started_at: t(0),
        restarts: 0,
        ready: true,
    };
    let s = pod_status(&p, &target, &addresses(), t(0));
    assert_eq!(s.phase.as_deref(), Some("Running"));
    assert_eq!(s.pod_ip.as_deref(), Some("10.244.0.9"));
    assert_eq!(s.host_ip.as_deref(), Some("10.253.0.1"));
    assert_eq!(s.observed_generation, Some(3));
    assert_eq!(s.start_time, Some(Time(t(0))));
    for type_ in [
        "PodScheduled",
        "PodReadyToStartContainers",
        "Initialized",
        "ContainersReady",
        "Ready",
    ] {
        assert_eq!(condition_of(&s, type_).status, "True", "{type_}");
    }
    let cs = s.container_statuses.as_ref().unwrap();
    assert_eq!(cs.len(), 2);
    assert!(cs.iter().all(|c| c.ready && c.started == Some(true)));
    assert_eq!(cs[1].image, "img/b:1");
    assert_eq!(
        cs[0]
            .state
            .as_ref()
            .unwrap()
            .running
            .as_ref()
            .unwrap()
            .started_at,
        Some(Time(t(0)))
    );
}

#[test]
fn transition_times_move_only_on_a_status_change() {
    let mut p = pod(vec![]);
    let running = |ready| Target::Running {
        started_at: t(0),
        restarts: 0,
        ready,
    };
    p.status = Some(pod_status(&p, &running(false), &addresses(), t(0)));
    let s = pod_status(&p, &running(true), &addresses(), t(7));
    assert_eq!(
        condition_of(&s, "Ready").last_transition_time,
        Some(Time(t(7)))
    );
    assert_eq!(
        condition_of(&s, "Initialized").last_transition_time,
        Some(Time(t(0)))
    );
    assert_eq!(s.start_time, Some(Time(t(0))), "startTime is kept");
    let unready = pod_status(&p, &running(false), &addresses(), t(9));
    let ready = condition_of(&unready, "Ready");
    assert_eq!(ready.reason.as_deref(), Some("ContainersNotReady"));
    assert_eq!(
        ready.message.as_deref(),
        Some("containers with unready status: [a b]")
    );
}

#[test]
fn pending_has_no_pod_ip_and_waits_for_containers() {
    let p = pod(vec![]);
    let s = pod_status(
        &p,
        &Target::Pending,
        &Addresses {
            host_ip: "10.253.0.1".into(),
            pod_ip: None,
        },
        t(0),
    );
    assert_eq!(s.phase.as_deref(), Some("Pending"));
    assert_eq!(s.pod_ip, None);
    assert_eq!(
        condition_of(&s, "PodReadyToStartContainers").status,
        "False"
    );
    let waiting = s.container_statuses.as_ref().unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .waiting
        .clone()
        .unwrap();
    assert_eq!(waiting.reason.as_deref(), Some("ContainerCreating"));
}

#[test]
fn init_containers_complete_and_sidecars_keep_running() {
    let init = vec![
        Container {
            name: "setup".into(),
            ..Container::default()
        },
        Container {
            name: "proxy".into(),
            restart_policy: Some("Always".into()),
            ..Container::default()
        },
    ];
    let p = pod(init);
    let pending = pod_status(&p, &Target::Pending, &addresses(), t(0));
    assert_eq!(condition_of(&pending, "Initialized").status, "False");
    let s = pod_status(
        &p,
        &Target::Running {
            started_at: t(1),
            restarts: 0,
            ready: true,
        },
        &addresses(),
        t(1),
    );
    let init = s.init_container_statuses.unwrap();
    let setup = init[0].state.as_ref().unwrap().terminated.as_ref().unwrap();
    assert_eq!(
        (setup.exit_code, setup.reason.as_deref()),
        (0, Some("Completed"))
    );
    assert!(init[1].state.as_ref().unwrap().running.is_some());
    assert!(init[1].ready);
}

#[test]
fn rejection_only_sets_phase_reason_and_message() {
    let p = pod(vec![]);
    let s = pod_status(
        &p,
        &Target::Rejected {
            reason: "OutOfpods".into(),
            message: "full".into(),
        },
        &addresses(),
        t(0),
    );
    assert_eq!(s.phase.as_deref(), Some("Failed"));
    assert_eq!(s.reason.as_deref(), Some("OutOfpods"));
    assert_eq!(s.conditions, None);
    assert_eq!(s.container_statuses, None);
    assert_eq!(s.pod_ip, None);
}

#[test]
fn each_reported_target_reads_back_as_its_stage() {
    let cases = [
        (Target::Pending, Observed::Creating { since: t(0) }),
        (
            Target::Running {
                started_at: t(2),
                restarts: 1,
                ready: false,
            },
            Observed::Running {
                started_at: t(2),
                restarts: 1,
                ready: false,
            },
        ),
        (
            Target::BackOff {
                restarts: 3,
                exit_code: 1,
                started_at: t(1),
                finished_at: t(4),
                restart_at: t(44),
            },
            Observed::BackOff {
                finished_at: t(4),
                restarts: 3,
            },
        ),
        (
            Target::Finished {
                outcome: crate::lifecycle::Outcome::Succeeded,
                exit_code: 0,
                started_at: Some(t(1)),
                reason: None,
                message: None,
            },
            Observed::Finished,
        ),
    ];
    for (target, expected) in cases {
        let mut p = pod(vec![]);
        p.status = Some(pod_status(&p, &target, &addresses(), t(0)));
        assert_eq!(observe(&p), expected, "{target:?}");
    }
}

#[test]
fn the_patch_is_a_status_object() {
    let p = pod(vec![]);
    let patch = status_patch(
        &p,
        &Target::Running {
            started_at: t(0),
            restarts: 0,
            ready: true,
        },
        &addresses(),
        t(0),
    );
    assert_eq!(patch["status"]["phase"], "Running");
    assert_eq!(patch["status"]["podIPs"][0]["ip"], "10.244.0.9");
    assert!(patch["status"].get("nominatedNodeName").is_none());
    // A condition without a reason clears the one it may have had.
    let ready = patch["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    assert_eq!(ready["status"], "True");
    assert!(ready["reason"].is_null() && ready.get("reason").is_some());
    assert!(ready["message"].is_null() && ready.get("message").is_some());
}
