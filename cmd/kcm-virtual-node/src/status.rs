//! Pod statuses as a kubelet writes them, built from a [`Target`].
//!
//! The result is a strategic-merge patch for `pods/status`: conditions merge by type (so the
//! scheduler's `PodScheduled` survives), container statuses are replaced whole. Transition
//! times move only when a condition's status changes, as the kubelet does, because
//! `minReadySeconds` and availability are counted from the Ready transition.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{
        ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
        ContainerStatus, HostIP, Pod, PodCondition, PodIP, PodStatus,
    },
    apimachinery::pkg::apis::meta::v1::Time,
};
use serde_json::{Value, json};

use crate::lifecycle::{Outcome, Target};

/// Where the pod runs: the node's address and, once its sandbox exists, the pod's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addresses {
    pub host_ip: String,
    pub pod_ip: Option<String>,
}

/// A pod condition with the given status, keeping the existing transition time while the
/// status holds.
pub fn condition(
    existing: &[PodCondition],
    type_: &str,
    ok: bool,
    reason: Option<&str>,
    message: Option<String>,
    now: Timestamp,
) -> PodCondition {
    let status = if ok { "True" } else { "False" };
    let last_transition_time = match existing.iter().find(|c| c.type_ == type_) {
        Some(c) if c.status == status => c.last_transition_time.clone(),
        _ => None,
    }
    .or(Some(Time(now)));
    PodCondition {
        type_: type_.to_owned(),
        status: status.to_owned(),
        reason: reason.map(str::to_owned),
        message,
        last_transition_time,
        ..PodCondition::default()
    }
}

/// The `{"status": …}` patch reporting `target` for `pod` at `now`.
pub fn status_patch(pod: &Pod, target: &Target, addresses: &Addresses, now: Timestamp) -> Value {
    let status = pod_status(pod, target, addresses, now);
    // Serialising a typed PodStatus cannot fail; an empty patch would only be a no-op.
    let mut status = serde_json::to_value(status).unwrap_or(Value::Null);
    // Conditions merge by type, field by field: a reason or message the condition no longer
    // has must be sent as null, or the stale one stays (Ready=True "ContainersNotReady").
    if let Some(conditions) = status.get_mut("conditions").and_then(Value::as_array_mut) {
        for condition in conditions.iter_mut().filter_map(Value::as_object_mut) {
            for field in ["reason", "message"] {
                condition.entry(field).or_insert(Value::Null);
            }
        }
    }
    json!({ "status": status })
}

/// The status fields the node owns for `target`; fields left `None` stay as they are.
pub fn pod_status(pod: &Pod, target: &Target, addresses: &Addresses, now: Timestamp) -> PodStatus {
    let current = pod.status.clone().unwrap_or_default();
    let existing = current.conditions.clone().unwrap_or_default();
    let observed_generation = pod.metadata.generation;

    if let Target::Rejected { reason, message } = target {
        return PodStatus {
            phase: Some("Failed".to_owned()),
            reason: Some(reason.clone()),
            message: Some(message.clone()),
            observed_generation,
            ..PodStatus::default()
        };
    }

    let spec = pod.spec.clone().unwrap_or_default();
    let containers: Vec<(String, String)> = spec
        .containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect();
    let init_containers = spec.init_containers.clone().unwrap_or_default();
    let has_init = !init_containers.is_empty();
    let previous: BTreeMap<String, ContainerStatus> = current
        .container_statuses
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|c| (c.name.clone(), c))
        .collect();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let names = containers
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    let not_ready_message = Some(format!("containers with unready status: [{names}]"));

    let (phase, ready, sandbox, initialized) = match target {
        Target::Pending => ("Pending", false, false, !has_init),
        Target::Running { ready, .. } => ("Running", *ready, true, true),
        Target::BackOff { .. } => ("Running", false, true, true),
        Target::Finished { outcome, .. } => (outcome.phase(), false, false, true),
        // Returned early above; listed so the match stays exhaustive.
        Target::Rejected { .. } => ("Failed", false, false, false),
    };
    let finished = matches!(target, Target::Finished { .. });
    let ready_reason = match (ready, finished) {
        (true, _) => None,
        (false, true) => Some("PodCompleted"),
        (false, false) => Some("ContainersNotReady"),
    };
    let ready_message = if ready || finished {
        None
    } else {
        not_ready_message
    };
    let init_message = (!initialized).then(|| {
        let names: Vec<&str> = init_containers.iter().map(|c| c.name.as_str()).collect();
        format!("containers with incomplete status: [{}]", names.join(" "))
    });
    let conditions = vec![
        condition(
            &existing,
            "PodReadyToStartContainers",
            sandbox,
            None,
            None,
            now,
        ),
        condition(
            &existing,
            "Initialized",
            initialized,
            (!initialized).then_some("ContainersNotInitialized"),
            init_message,
            now,
        ),
        condition(
            &existing,
            "ContainersReady",
            ready,
            ready_reason,
            ready_message.clone(),
            now,
        ),
        condition(&existing, "Ready", ready, ready_reason, ready_message, now),
        condition(&existing, "PodScheduled", true, None, None, now),
    ];

    let container_statuses = containers
        .iter()
        .map(|(name, image)| {
            container_status(name, image, &uid, target, previous.get(name), has_init, now)
        })
        .collect();
    let init_container_statuses = has_init.then(|| {
        init_containers
            .iter()
            .map(|c| {
                let sidecar = c.restart_policy.as_deref() == Some("Always");
                init_container_status(c, &uid, target, sidecar, now)
            })
            .collect()
    });

    let (reason, message) = match target {
        Target::Finished {
            reason, message, ..
        } => (reason.map(str::to_owned), message.map(str::to_owned)),
        _ => (None, None),
    };
    PodStatus {
        phase: Some(phase.to_owned()),
        reason,
        message,
        host_ip: Some(addresses.host_ip.clone()),
        host_ips: Some(vec![HostIP {
            ip: addresses.host_ip.clone(),
        }]),
        pod_ip: addresses.pod_ip.clone(),
        pod_ips: addresses.pod_ip.clone().map(|ip| vec![PodIP { ip }]),
        start_time: current.start_time.clone().or(Some(Time(now))),
        conditions: Some(conditions),
        container_statuses: Some(container_statuses),
        init_container_statuses,
        observed_generation,
        ..PodStatus::default()
    }
}

fn container_id(uid: &str, name: &str, restarts: i32) -> String {
    format!("kcm-virtual-node://{uid}/{name}/{restarts}")
}

fn exit_reason(exit_code: i32) -> &'static str {
    if exit_code == 0 { "Completed" } else { "Error" }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.to_owned()),
            message,
        }),
        ..ContainerState::default()
    }
}

fn terminated(
    exit_code: i32,
    started_at: Option<Timestamp>,
    finished_at: Timestamp,
    container_id: &str,
) -> ContainerState {
    ContainerState {
        terminated: Some(ContainerStateTerminated {
            exit_code,
            reason: Some(exit_reason(exit_code).to_owned()),
            started_at: started_at.map(Time),
            finished_at: Some(Time(finished_at)),
            container_id: Some(container_id.to_owned()),
            ..ContainerStateTerminated::default()
        }),
        ..ContainerState::default()
    }
}

fn container_status(
    name: &str,
    image: &str,
    uid: &str,
    target: &Target,
    previous: Option<&ContainerStatus>,
    has_init: bool,
    now: Timestamp,
) -> ContainerStatus {
    let last_state = previous.and_then(|p| p.last_state.clone());
    let base = ContainerStatus {
        name: name.to_owned(),
        image: image.to_owned(),
        image_id: format!("kcm-virtual-node://{image}"),
        ..ContainerStatus::default()
    };
    match target {
        Target::Pending => ContainerStatus {
            state: Some(waiting(
                if has_init {
                    "PodInitializing"
                } else {
                    "ContainerCreating"
                },
                None,
            )),
            started: Some(false),
            ..base
        },
        Target::Running {
            started_at,
            restarts,
            ready,
        } => ContainerStatus {
            container_id: Some(container_id(uid, name, *restarts)),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(*started_at)),
                }),
                ..ContainerState::default()
            }),
            last_state,
            ready: *ready,
            started: Some(true),
            restart_count: *restarts,
            ..base
        },
        Target::BackOff {
            restarts,
            exit_code,
            started_at,
            finished_at,
            restart_at,
        } => {
            let id = container_id(uid, name, restarts - 1);
            let wait = crate::lifecycle::elapsed(*finished_at, *restart_at);
            ContainerStatus {
                container_id: Some(id.clone()),
                state: Some(waiting(
                    "CrashLoopBackOff",
                    Some(format!(
                        "back-off {}s restarting failed container={name} pod={}",
                        wait.as_secs(),
                        uid
                    )),
                )),
                last_state: Some(terminated(*exit_code, Some(*started_at), *finished_at, &id)),
                started: Some(false),
                restart_count: *restarts,
                ..base
            }
        }
        Target::Finished {
            exit_code,
            started_at,
            ..
        } => {
            let restarts = previous.map_or(0, |p| p.restart_count);
            let id = container_id(uid, name, restarts);
            ContainerStatus {
                container_id: Some(id.clone()),
                state: Some(terminated(*exit_code, *started_at, now, &id)),
                last_state,
                started: Some(false),
                restart_count: restarts,
                ..base
            }
        }
        Target::Rejected { .. } => base,
    }
}

fn init_container_status(
    container: &k8s_openapi::api::core::v1::Container,
    uid: &str,
    target: &Target,
    sidecar: bool,
    now: Timestamp,
) -> ContainerStatus {
    let name = container.name.as_str();
    let image = container.image.clone().unwrap_or_default();
    let id = container_id(uid, name, 0);
    let base = ContainerStatus {
        name: name.to_owned(),
        image_id: format!("kcm-virtual-node://{image}"),
        image,
        ..ContainerStatus::default()
    };
    let started_at = match target {
        Target::Running { started_at, .. } | Target::BackOff { started_at, .. } => *started_at,
        Target::Finished {
            started_at: Some(t),
            ..
        } => *t,
        _ => now,
    };
    match target {
        Target::Pending | Target::Rejected { .. } => ContainerStatus {
            state: Some(waiting("PodInitializing", None)),
            started: Some(false),
            ..base
        },
        Target::Running { .. } | Target::BackOff { .. } if sidecar => ContainerStatus {
            container_id: Some(id),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(Time(started_at)),
                }),
                ..ContainerState::default()
            }),
            ready: true,
            started: Some(true),
            ..base
        },
        _ => ContainerStatus {
            state: Some(terminated(0, Some(started_at), started_at, &id)),
            container_id: Some(id),
            started: Some(false),
            ..base
        },
    }
}

/// The finished phase a target reports, if terminal.
pub fn outcome_of(target: &Target) -> Option<Outcome> {
    match target {
        Target::Finished { outcome, .. } => Some(*outcome),
        Target::Rejected { .. } => Some(Outcome::Failed),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
