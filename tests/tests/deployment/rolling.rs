//! RollingUpdate math (reference §3.6, §6 scenarios 5–10): the invariants
//! `Σ ReplicaSet spec.replicas <= replicas + maxSurge` at every ReplicaSet change and
//! `status.availableReplicas >= replicas - maxUnavailable` at every Deployment status a watch
//! delivers (what upstream's `checkRollingUpdateStatus` checks; the Deployment's
//! `status.replicas` may briefly count pods an old ReplicaSet is still deleting), for several surge/unavailable settings (percentages and
//! the 0/0 fencepost); a stuck rollout; proportional scaling mid-rollout and while paused;
//! rollover during an unfinished rollout.

use serde_json::{Value, json};

use testenv::TestNamespace;

use crate::support::*;

/// The end of a rollout from image 1 to image 2, and what was seen on the way.
#[derive(Debug, PartialEq)]
struct Rollout {
    view: View,
    violations: Vec<String>,
}

/// Creates `d` with `replicas`, `strategy` and pods Ready a second after they start, waits for
/// it to complete, changes the image and checks the invariants with `max_total` and
/// `min_available` until the rollout completes. With `all_events` false only the new ReplicaSet's
/// first scale-up (from 0) is kept (the steps in between depend on timing).
async fn roll(
    ns: TestNamespace,
    replicas: i32,
    spec: Value,
    (max_total, min_available): (i32, i32),
    all_events: bool,
) -> anyhow::Result<Rollout> {
    let _kubelet = kubelet(&ns).await?;
    let mut d = with_spec(build("d", replicas, "registry.invalid/img:1"), spec)?;
    if let Some(meta) = d.spec.as_mut().and_then(|s| s.template.metadata.as_mut()) {
        meta.annotations
            .get_or_insert_default()
            .insert("kcm-virtual-node.io/ready-after".into(), "1s".into());
    }
    create(&ns, &d).await?;
    wait_complete(&ns, "d").await?;
    let observer = Observer::deployment(&ns, "d").await?;
    let sets = Observer::replica_sets(&ns).await?;
    set_image(&ns, "d", "registry.invalid/img:2", false).await?;
    wait_deployment(&ns, "d", "the rollout to image 2", |d| {
        complete(d) && reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
    })
    .await?;
    wait_replica_sets(&ns, "the old replica set at 0", |l| {
        l.len() == 2
            && l.iter()
                .all(|rs| image_of(rs).ends_with(":2") || rs_spec_replicas(rs) == 0)
    })
    .await?;
    let mut violations = Vec::new();
    for seen in observer.seen() {
        let available = counts(&seen).available;
        if available < min_available {
            violations.push(format!(
                "generation {:?}: available {available} (min {min_available})",
                seen.metadata.generation
            ));
        }
    }
    for (total, sizes) in sets.spec_sums() {
        if total > max_total {
            violations.push(format!(
                "replica sets sized {total} (max {max_total}): {sizes}"
            ));
        }
    }
    if !violations.is_empty() {
        let all: Vec<String> = sets
            .spec_sums()
            .into_iter()
            .map(|(n, s)| format!("{n}: {s}"))
            .collect();
        anyhow::bail!(
            "invariants broken: {violations:#?}\nevery change:\n{}",
            all.join("\n")
        );
    }
    let mut view = view(&ns, "d").await?;
    if !all_events {
        view.events
            .retain(|(_, _, m)| m.starts_with("Scaled up replica set d-H2 from 0 to "));
    }
    Ok(Rollout { view, violations })
}

fn rolling(surge: Value, unavailable: Value) -> Value {
    json!({ "strategy": { "type": "RollingUpdate",
        "rollingUpdate": { "maxSurge": surge, "maxUnavailable": unavailable } } })
}

/// Checks what every completed rollout shows, and returns the ScalingReplicaSet messages.
fn check_completed(r: &Rollout, replicas: i32, max_replicas: i32) {
    assert_eq!(r.violations, Vec::<String>::new());
    let v = &r.view;
    assert_eq!(v.sizes(), vec![("H1".into(), 0), ("H2".into(), replicas)]);
    assert_eq!(v.annotations.get(REVISION).map(String::as_str), Some("2"));
    for (hash, revision) in [("H1", "1"), ("H2", "2")] {
        let rs = v.rs(hash);
        assert_eq!(rs.annotations[REVISION], revision, "{rs:#?}");
        assert_eq!(
            rs.annotations["deployment.kubernetes.io/desired-replicas"],
            replicas.to_string()
        );
        assert_eq!(
            rs.annotations["deployment.kubernetes.io/max-replicas"],
            max_replicas.to_string()
        );
    }
    assert_eq!(v.counts.updated, replicas);
}

// Caught finding F1 (NOTES-11t.md): kcm-rs once scaled the old ReplicaSet back up mid-rollout
// here, breaking max surge; fixed on wip-11 (8aea47b).
#[tokio::test]
async fn rolling_update_default_percentages_keep_the_invariants() -> anyhow::Result<()> {
    // 25% of 10: surge rounds up to 3, unavailable down to 2.
    let spec = rolling(json!("25%"), json!("25%"));
    let Some(r) = both("d-roll-pct", &[], |ns, _| {
        roll(ns, 10, spec.clone(), (13, 8), false)
    })
    .await?
    else {
        return Ok(());
    };
    check_completed(&r, 10, 13);
    assert_eq!(
        r.view.messages("ScalingReplicaSet"),
        ["Scaled up replica set d-H2 from 0 to 3".to_owned()].into()
    );
    Ok(())
}

#[tokio::test]
async fn rolling_update_of_one_replica_surges_first() -> anyhow::Result<()> {
    // Defaults on 1 replica: surge 1, unavailable 0.
    let Some(r) = both("d-roll-one", &[], |ns, _| {
        roll(ns, 1, json!({}), (2, 1), true)
    })
    .await?
    else {
        return Ok(());
    };
    check_completed(&r, 1, 2);
    assert_eq!(
        r.view.messages("ScalingReplicaSet"),
        [
            "Scaled up replica set d-H1 from 0 to 1",
            "Scaled up replica set d-H2 from 0 to 1",
            "Scaled down replica set d-H1 from 1 to 0",
        ]
        .map(String::from)
        .into()
    );
    Ok(())
}

#[tokio::test]
async fn rolling_update_fencepost_zero_surge_rounds_to_one_unavailable() -> anyhow::Result<()> {
    // 0% and 10% of 3 both resolve to 0: upstream makes maxUnavailable 1.
    let spec = rolling(json!("0%"), json!("10%"));
    let Some(r) = both("d-roll-fence", &[], |ns, _| {
        roll(ns, 3, spec.clone(), (3, 2), true)
    })
    .await?
    else {
        return Ok(());
    };
    check_completed(&r, 3, 3);
    assert_eq!(
        r.view.messages("ScalingReplicaSet"),
        [
            "Scaled up replica set d-H1 from 0 to 3",
            "Scaled down replica set d-H1 from 3 to 2",
            "Scaled up replica set d-H2 from 0 to 1",
            "Scaled down replica set d-H1 from 2 to 1",
            "Scaled up replica set d-H2 from 1 to 2",
            "Scaled down replica set d-H1 from 1 to 0",
            "Scaled up replica set d-H2 from 2 to 3",
        ]
        .map(String::from)
        .into()
    );
    Ok(())
}

#[tokio::test]
async fn rolling_update_surge_only_with_min_ready_seconds() -> anyhow::Result<()> {
    let mut spec = rolling(json!(2), json!(0));
    spec["minReadySeconds"] = json!(1);
    let Some(r) = both("d-roll-surge", &[], |ns, _| {
        roll(ns, 5, spec.clone(), (7, 5), false)
    })
    .await?
    else {
        return Ok(());
    };
    check_completed(&r, 5, 7);
    assert_eq!(
        r.view.messages("ScalingReplicaSet"),
        ["Scaled up replica set d-H2 from 0 to 2".to_owned()].into()
    );
    Ok(())
}

#[tokio::test]
async fn rolling_update_unavailable_only_percentage() -> anyhow::Result<()> {
    let spec = rolling(json!(0), json!("50%"));
    let Some(r) = both("d-roll-unav", &[], |ns, _| {
        roll(ns, 4, spec.clone(), (4, 2), false)
    })
    .await?
    else {
        return Ok(());
    };
    check_completed(&r, 4, 4);
    // Created at 0 (no surge), then 0 → 2 once the old ReplicaSet is down to 2.
    assert_eq!(
        r.view.messages("ScalingReplicaSet"),
        ["Scaled up replica set d-H2 from 0 to 2".to_owned()].into()
    );
    Ok(())
}

#[tokio::test]
async fn zero_surge_and_zero_unavailable_is_rejected_by_the_apiserver() -> anyhow::Result<()> {
    let Some(env) = testenv::TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("d-zero").await?;
    let d = with_spec(
        build("d", 3, "registry.invalid/img:1"),
        rolling(json!(0), json!(0)),
    )?;
    let err = create(&ns, &d).await.expect_err("0/0 is invalid");
    let text = format!("{err:#}");
    assert!(
        text.contains("may not be 0 when `maxSurge` is 0"),
        "unexpected error: {text}"
    );
    Ok(())
}

/// Replicas 10, maxSurge 3, maxUnavailable 2, the new pods never Ready: the rollout stops at
/// old 8 / new 5. Scaled to 20 there, both grow in proportion (14 / 9); paused and scaled to
/// 5, both shrink in proportion (5 / 3) and no ReplicaSet is created.
#[tokio::test]
async fn a_stuck_rollout_scales_proportionally_mid_rollout_and_while_paused() -> anyhow::Result<()>
{
    let Some(views) = both("d-proportional", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        let d = with_spec(
            build("d", 10, "registry.invalid/img:1"),
            rolling(json!(3), json!(2)),
        )?;
        create(&ns, &d).await?;
        wait_complete(&ns, "d").await?;
        let observer = Observer::deployment(&ns, "d").await?;
        let sets = Observer::replica_sets(&ns).await?;
        set_image(&ns, "d", "registry.invalid/img:2", true).await?;
        wait_deployment(&ns, "d", "the rollout stuck at 8 + 5", |d| {
            five(d) == (13, 5, 8, 8, 5)
        })
        .await?;
        let stuck_sizes = |l: &[_]| {
            let mut sizes: Vec<i32> = l.iter().map(rs_spec_replicas).collect();
            sizes.sort();
            sizes == [5, 8]
        };
        replica_sets_stay(&ns, std::time::Duration::from_secs(3), "8 + 5", stuck_sizes).await?;
        let stuck = view(&ns, "d").await?;
        let below: Vec<_> = observer
            .seen()
            .iter()
            .map(counts)
            .filter(|c| c.available < 8)
            .collect();
        anyhow::ensure!(below.is_empty(), "fewer than 8 available: {below:?}");
        let sums = sets.spec_sums();
        anyhow::ensure!(sums.iter().all(|(n, _)| *n <= 13), "more than 13: {sums:?}");

        patch(&ns, "d", json!({ "spec": { "replicas": 20 } })).await?;
        wait_deployment(&ns, "d", "14 + 9", |d| five(d) == (23, 9, 14, 14, 9)).await?;
        let grown = view(&ns, "d").await?;

        patch(
            &ns,
            "d",
            json!({ "spec": { "paused": true, "replicas": 5 } }),
        )
        .await?;
        // Settled: the scaled-down pods are gone too (their count is a moment's snapshot).
        wait_deployment(&ns, "d", "5 + 3, nothing terminating", |d| {
            five(d) == (8, 3, 5, 5, 3)
                && reason(d, "Progressing").as_deref() == Some("DeploymentPaused")
                && d.status
                    .as_ref()
                    .and_then(|s| s.terminating_replicas)
                    .unwrap_or(0)
                    == 0
        })
        .await?;
        let paused = view(&ns, "d").await?;
        anyhow::Ok([stuck, grown, paused])
    })
    .await?
    else {
        return Ok(());
    };
    let [stuck, grown, paused] = &views;
    assert_eq!(stuck.sizes(), vec![("H1".into(), 8), ("H2".into(), 5)]);
    assert_eq!(
        stuck.condition("Available").map(|c| c.status.as_str()),
        Some("True")
    );
    assert_eq!(grown.sizes(), vec![("H1".into(), 14), ("H2".into(), 9)]);
    assert_eq!(paused.sizes(), vec![("H1".into(), 5), ("H2".into(), 3)]);
    for hash in ["H1", "H2"] {
        let a = &paused.rs(hash).annotations;
        assert_eq!(a["deployment.kubernetes.io/desired-replicas"], "5");
        assert_eq!(a["deployment.kubernetes.io/max-replicas"], "8");
    }
    let progressing = paused.condition("Progressing").expect("Progressing");
    assert_eq!(
        (&progressing.status[..], &progressing.message[..]),
        ("Unknown", "Deployment is paused")
    );
    assert_eq!(
        paused.messages("ScalingReplicaSet"),
        [
            "Scaled up replica set d-H1 from 0 to 10",
            "Scaled up replica set d-H2 from 0 to 3",
            "Scaled down replica set d-H1 from 10 to 8",
            "Scaled up replica set d-H2 from 3 to 5",
            "Scaled up replica set d-H1 from 8 to 14",
            "Scaled up replica set d-H2 from 5 to 9",
            "Scaled down replica set d-H1 from 14 to 5",
            "Scaled down replica set d-H2 from 9 to 3",
        ]
        .map(String::from)
        .into()
    );
    Ok(())
}

/// A new template during an unfinished rollout: the unready ReplicaSet of revision 2 is
/// scaled down first and every old ReplicaSet ends at 0.
#[tokio::test]
async fn rollover_during_an_unfinished_rollout() -> anyhow::Result<()> {
    let Some(v) = both("d-rollover", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        create(&ns, &build("d", 4, "registry.invalid/img:1")).await?;
        wait_complete(&ns, "d").await?;
        set_image(&ns, "d", "registry.invalid/img:2", true).await?;
        // Defaults on 4: surge 1, unavailable 1, so old 3 + new 2 (never Ready).
        wait_deployment(&ns, "d", "old 3 + new 2", |d| five(d) == (5, 2, 3, 3, 2)).await?;
        set_image(&ns, "d", "registry.invalid/img:3", false).await?;
        wait_deployment(&ns, "d", "the rollout to image 3", |d| {
            complete(d) && reason(d, "Progressing").as_deref() == Some("NewReplicaSetAvailable")
        })
        .await?;
        let mut v = view(&ns, "d").await?;
        // Only revision 2's events are certain; revision 1's steps down depend on timing.
        v.events.retain(|(_, _, m)| m.contains("d-H2 "));
        anyhow::Ok(v)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        v.sizes(),
        vec![("H1".into(), 0), ("H2".into(), 0), ("H3".into(), 4)]
    );
    assert_eq!(v.rs("H3").annotations[REVISION], "3");
    assert_eq!(
        v.messages("ScalingReplicaSet"),
        [
            "Scaled up replica set d-H2 from 0 to 1",
            "Scaled up replica set d-H2 from 1 to 2",
            "Scaled down replica set d-H2 from 2 to 0",
        ]
        .map(String::from)
        .into()
    );
    Ok(())
}
