//! Progress and failure conditions (reference §3.9, §3.10, §6 scenarios 13, 17, 18): the
//! progress deadline exceeded and recovered, no deadline at all, a paused creation resumed,
//! ReplicaFailure copied from a ReplicaSet that a ResourceQuota stops, and ReplicaSetCreateError
//! when a ResourceQuota refuses the new ReplicaSet itself.

use std::time::Duration;

use serde_json::json;
use testenv::quota::{set_pod_quota, set_quota};

use crate::support::*;

#[tokio::test]
async fn progress_deadline_exceeded_then_recovered() -> anyhow::Result<()> {
    let Some((timed_out, recovered, reasons)) = both("d-deadline", &[], |ns, _| async move {
        let observer = Observer::deployment(&ns, "d").await?;
        let d = with_spec(
            build("d", 1, "registry.invalid/img:1"),
            json!({ "progressDeadlineSeconds": 3 }),
        )?;
        create(&ns, &d).await?;
        wait_deployment(&ns, "d", "ProgressDeadlineExceeded", |d| {
            reason(d, "Progressing").as_deref() == Some("ProgressDeadlineExceeded")
        })
        .await?;
        let timed_out = view(&ns, "d").await?;
        let _kubelet = kubelet(&ns).await?;
        wait_deployment(&ns, "d", "NewReplicaSetAvailable", |d| {
            complete(d) && reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        })
        .await?;
        anyhow::Ok((
            timed_out,
            view(&ns, "d").await?,
            observer.progressing_reasons(),
        ))
    })
    .await?
    else {
        return Ok(());
    };
    let p = timed_out.condition("Progressing").expect("Progressing");
    assert_eq!(
        (&p.status[..], &p.message[..]),
        ("False", "ReplicaSet \"d-H1\" has timed out progressing.")
    );
    let p = recovered.condition("Progressing").expect("Progressing");
    assert_eq!(
        (&p.status[..], &p.message[..]),
        ("True", "ReplicaSet \"d-H1\" has successfully progressed.")
    );
    assert_eq!(
        reasons.last().map(String::as_str),
        Some("NewReplicaSetAvailable")
    );
    assert!(reasons.contains(&"ProgressDeadlineExceeded".to_owned()));
    Ok(())
}

#[tokio::test]
async fn no_progress_deadline_means_no_progressing_condition() -> anyhow::Result<()> {
    let Some((done, reasons)) = both("d-nodeadline", &[], |ns, _| async move {
        let observer = Observer::deployment(&ns, "d").await?;
        let d = with_spec(
            build("d", 2, "registry.invalid/img:1"),
            json!({ "progressDeadlineSeconds": i32::MAX }),
        )?;
        create(&ns, &d).await?;
        wait_deployment(&ns, "d", "2 unready", |d| five(d) == (2, 2, 0, 0, 2)).await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let _kubelet = kubelet(&ns).await?;
        wait_complete(&ns, "d").await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        anyhow::Ok((view(&ns, "d").await?, observer.progressing_reasons()))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(reasons, Vec::<String>::new());
    assert_eq!(
        done.conditions
            .iter()
            .map(|c| c.type_.as_str())
            .collect::<Vec<_>>(),
        ["Available"]
    );
    Ok(())
}

#[tokio::test]
async fn a_paused_deployment_creates_nothing_until_resumed() -> anyhow::Result<()> {
    let Some((paused, resumed, reasons)) = both("d-paused", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        let observer = Observer::deployment(&ns, "d").await?;
        let d = with_spec(
            build("d", 1, "registry.invalid/img:1"),
            json!({ "paused": true }),
        )?;
        create(&ns, &d).await?;
        wait_deployment(&ns, "d", "DeploymentPaused", |d| {
            reason(d, "Progressing").as_deref() == Some("DeploymentPaused")
        })
        .await?;
        replica_sets_stay(&ns, Duration::from_secs(3), "no replica set", |l| {
            l.is_empty()
        })
        .await?;
        let paused = view(&ns, "d").await?;
        patch(&ns, "d", json!({ "spec": { "paused": false } })).await?;
        wait_deployment(&ns, "d", "the rollout after resuming", |d| {
            complete(d) && reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        })
        .await?;
        let mut reasons = observer.progressing_reasons();
        // What follows the resume (NewReplicaSetCreated, ReplicaSetUpdated, ...) depends on timing.
        reasons.truncate(2);
        anyhow::Ok((paused, view(&ns, "d").await?, reasons))
    })
    .await?
    else {
        return Ok(());
    };
    assert!(paused.replica_sets.is_empty());
    assert!(paused.generation_observed);
    let p = paused.condition("Progressing").expect("Progressing");
    assert_eq!(
        (&p.status[..], &p.message[..]),
        ("Unknown", "Deployment is paused")
    );
    assert_eq!(reasons, ["DeploymentPaused", "DeploymentResumed"]);
    assert_eq!(resumed.rs("H1").annotations[REVISION], "1");
    Ok(())
}

/// `pods "d-H1-abcde" is forbidden: ...` → `pods "d-H1-<pod>" is forbidden: ...`.
fn blank_pod_name(message: &str) -> String {
    match (message.find("\"d-H1-"), message.find("\" is forbidden")) {
        (Some(start), Some(end)) if start < end => {
            format!("{}\"d-H1-<pod>{}", &message[..start], &message[end..])
        }
        _ => message.to_owned(),
    }
}

#[tokio::test]
async fn replica_failure_from_a_quota_is_reported_and_cleared() -> anyhow::Result<()> {
    let Some((failing, cleared)) = both("d-quota", &[], |ns, _| async move {
        set_pod_quota(&ns, 2, true).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        create(&ns, &build("d", 4, "registry.invalid/img:1")).await?;
        wait_deployment(&ns, "d", "ReplicaFailure", |d| {
            condition(d, "ReplicaFailure").is_some() && counts(d).replicas == 2
        })
        .await?;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let mut failing = view(&ns, "d").await?;
        // The refused pod's name is the apiserver's random generateName suffix: not something
        // either controller chooses, so it is blanked (`d-H1-xxxxx` → `d-H1-<pod>`).
        for c in failing.conditions.iter_mut().chain(
            failing
                .replica_sets
                .iter_mut()
                .flat_map(|r| r.conditions.iter_mut()),
        ) {
            c.message = blank_pod_name(&c.message);
        }
        set_pod_quota(&ns, 4, false).await?;
        wait_deployment(&ns, "d", "ReplicaFailure cleared", |d| {
            condition(d, "ReplicaFailure").is_none() && counts(d).replicas == 4
        })
        .await?;
        anyhow::Ok((failing, view(&ns, "d").await?))
    })
    .await?
    else {
        return Ok(());
    };
    let f = failing.condition("ReplicaFailure").expect("ReplicaFailure");
    assert_eq!((&f.status[..], &f.reason[..]), ("True", "FailedCreate"));
    assert_eq!(
        f.message,
        "pods \"d-H1-<pod>\" is forbidden: exceeded quota: pods, requested: pods=1, used: pods=2, limited: pods=2"
    );
    assert_eq!(failing.rs("H1").conditions.len(), 1);
    assert!(cleared.rs("H1").conditions.is_empty());
    Ok(())
}

/// `d-<hash>` → `d-<new>`: the name of a ReplicaSet that was never created, so [`Hashes`]
/// cannot know its hash (this is the hash normalisation, for a value only seen in text).
fn blank_unknown_hash(message: &str) -> String {
    let mut out = String::new();
    let mut rest = message;
    while let Some(at) = rest.find("\"d-") {
        out.push_str(&rest[..at + 3]);
        rest = &rest[at + 3..];
        let len = rest
            .find(|c: char| !"456789bcdf".contains(c))
            .unwrap_or(rest.len());
        if len > 0 && rest[len..].starts_with('"') {
            out.push_str("<new>");
        } else {
            out.push_str(&rest[..len]);
        }
        rest = &rest[len..];
    }
    out.push_str(rest);
    out
}

#[tokio::test]
async fn a_refused_new_replica_set_is_a_replica_set_create_error() -> anyhow::Result<()> {
    const RS_COUNT: &str = "count/replicasets.apps";
    let Some((failing, created)) = both("d-rs-quota", &[], |ns, _| async move {
        set_quota(&ns, "replicasets", RS_COUNT, 1, true).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        create(&ns, &build("d", 1, "registry.invalid/img:1")).await?;
        wait_replica_sets(&ns, "the first replica set", |l| l.len() == 1).await?;
        wait_deployment(&ns, "d", "the first status", |d| counts(d).updated == 1).await?;
        set_image(&ns, "d", "registry.invalid/img:2", false).await?;
        // Not `wait_deployment`: the failing sync never gets as far as bumping
        // observedGeneration (upstream writes only the condition), so wait on the condition.
        let api = ns.api::<k8s_openapi::api::apps::v1::Deployment>();
        testenv::wait_for_object(&api, "d", TIMEOUT, "ReplicaSetCreateError", |d| {
            reason(d, "Progressing").as_deref() == Some("ReplicaSetCreateError")
        })
        .await?;
        wait_event(&ns, "d", "ReplicaSetCreateError", "exceeded quota").await?;
        let mut failing = view(&ns, "d").await?;
        for c in &mut failing.conditions {
            c.message = blank_unknown_hash(&c.message);
        }
        failing.events = failing
            .events
            .into_iter()
            .map(|(t, r, m)| (t, r, blank_unknown_hash(&m)))
            .collect();
        set_quota(&ns, "replicasets", RS_COUNT, 2, false).await?;
        wait_replica_sets(&ns, "the second replica set", |l| l.len() == 2).await?;
        wait_deployment(&ns, "d", "the rollout going on", |d| {
            counts(d).updated == 1
                && reason(d, "Progressing").as_deref() != Some("ReplicaSetCreateError")
        })
        .await?;
        anyhow::Ok((failing, view(&ns, "d").await?.replica_sets.len()))
    })
    .await?
    else {
        return Ok(());
    };
    assert!(
        !failing.generation_observed,
        "the template change is not observed while the new ReplicaSet is refused"
    );
    let p = failing.condition("Progressing").expect("Progressing");
    assert_eq!(p.status, "False");
    assert!(
        p.message
            .starts_with("Failed to create new replica set \"d-<new>\": ")
            && p.message.contains("exceeded quota"),
        "{p:?}"
    );
    assert_eq!(
        failing.messages("ReplicaSetCreateError"),
        [p.message.clone()].into()
    );
    assert_eq!(created, 2);
    Ok(())
}
