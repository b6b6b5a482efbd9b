//! The endpoints controller against a real apiserver. Every scenario runs with kcm-rs and then
//! with the upstream kube-controller-manager, each in a fresh namespace, and both runs must
//! produce the same Endpoints: compared as [`support::Snapshot`]s (subsets and ports as sets,
//! addresses in IP order, pods by name, the trigger-time annotation by what it equals).
//! There is no kubelet: tests set pod IPs, phases and readiness through `pods/status`.

mod lifecycle;
mod scale;
mod shapes;
mod support;

use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use kube::{
    ResourceExt,
    api::{DeleteParams, PostParams},
};
use serde_json::json;
use support::*;

fn labels(pairs: &[(&str, &str)]) -> std::collections::BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn later(t: Timestamp, seconds: i64) -> Timestamp {
    t.checked_add(SignedDuration::from_secs(seconds))
        .unwrap_or(t)
}

/// E1–E4 and "no matching pods": create, readiness flips with the trigger time, a pod without
/// an IP, terminal and terminating pods.
#[tokio::test]
async fn readiness_ips_and_pod_lifecycle() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-ready", &[], |h| async move {
        h.start().await?;
        let mut seen = Vec::new();
        let p1 = running_pod(&h, "p1", &[("app", "a")], "10.1.0.5", true).await?;
        let p1_ready = p1
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .and_then(|c| c.first())
            .and_then(|c| c.last_transition_time.as_ref())
            .map(|t| t.0)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let mut svc = service("s", Some(&[("app", "a")]), json!(8080));
        svc["metadata"]["labels"] = json!({ "team": "x" });
        let svc = create_service(&h, svc).await?;
        let created = svc
            .creation_timestamp()
            .map(|t| t.0)
            .unwrap_or(Timestamp::UNIX_EPOCH);
        let described = |e: &k8s_openapi::api::core::v1::Endpoints, flips: &[(&str, Timestamp)]| {
            let mut s = snapshot(e);
            let mut candidates = vec![("service-created", created), ("p1-ready", p1_ready)];
            candidates.extend_from_slice(flips);
            describe_trigger_time(&mut s, &candidates);
            s
        };
        let e = wait_endpoints(&h, "s", "p1 ready", |s| s.ready_ips() == ["10.1.0.5"]).await?;
        seen.push(described(&e, &[]));

        create_service(&h, service("none", Some(&[("app", "nobody")]), json!(8080))).await?;
        let e = wait_endpoints(&h, "none", "empty endpoints", |_| true).await?;
        seen.push(described(&e, &[]));

        let unready_at = later(p1_ready, 10);
        set_status(&h, "p1", "Running", Some("10.1.0.5"), false, unready_at).await?;
        let e = wait_endpoints(&h, "s", "p1 not ready", |s| {
            s.not_ready_ips() == ["10.1.0.5"]
        })
        .await?;
        seen.push(described(&e, &[("p1-unready", unready_at)]));
        let ready_again = later(p1_ready, 20);
        set_status(&h, "p1", "Running", Some("10.1.0.5"), true, ready_again).await?;
        let e =
            wait_endpoints(&h, "s", "p1 ready again", |s| s.ready_ips() == ["10.1.0.5"]).await?;
        seen.push(described(&e, &[("p1-ready-again", ready_again)]));

        // E3: a ready pod without an IP is left out until it has one.
        create_pod(&h, "p2", &[("app", "a")], json!({})).await?;
        let p2_ready = later(p1_ready, 30);
        set_status(&h, "p2", "Running", None, true, p2_ready).await?;
        stays(&h, "s", Duration::from_secs(2), |e| {
            e.is_some_and(|e| snapshot(e).address_count() == 1)
        })
        .await?;
        set_status(&h, "p2", "Running", Some("10.1.0.6"), true, p2_ready).await?;
        let e = wait_endpoints(&h, "s", "p2 listed", |s| s.ready_ips().len() == 2).await?;
        seen.push(described(&e, &[("p2-ready", p2_ready)]));

        // Terminal: Failed and not ready (the kubelet flips both).
        let p2_done = later(p1_ready, 40);
        set_status(&h, "p2", "Failed", Some("10.1.0.6"), false, p2_done).await?;
        let e = wait_endpoints(&h, "s", "p2 gone", |s| s.address_count() == 1).await?;
        seen.push(described(&e, &[("p2-done", p2_done)]));

        // E4: a terminating pod (bound, no kubelet: it stays) is in neither list.
        h.pods().delete("p1", &DeleteParams::default()).await?;
        let e = wait_endpoints(&h, "s", "p1 gone", |s| s.address_count() == 0).await?;
        anyhow::ensure!(
            h.pods().get_opt("p1").await?.is_some(),
            "p1 should still be terminating"
        );
        seen.push(described(&e, &[]));
        Ok(seen)
    })
    .await?
    else {
        return Ok(());
    };
    let first = &ours[0];
    assert_eq!(
        first.labels,
        labels(&[("team", "x"), (MANAGED_BY, "endpoint-controller")])
    );
    assert_eq!(
        first.annotations,
        labels(&[(TRIGGER_TIME, "service-created")])
    );
    assert_eq!(
        first.subsets,
        [Subset {
            ports: vec![(Some("http".into()), 8080, Some("TCP".into()))],
            ready: vec![Addr {
                ip: "10.1.0.5".into(),
                pod: Some("p1".into()),
                hostname: None,
                node: Some(NODE.into()),
            }],
            not_ready: vec![],
        }]
    );
    assert!(ours[1].subsets.is_empty(), "no matching pods: no subsets");
    assert_eq!(ours[2].annotations[TRIGGER_TIME], "p1-unready");
    assert_eq!(ours, upstream);
    Ok(())
}

/// publishNotReadyAddresses (terminating pods included), pod relabelling between Services,
/// and a Service selector change.
#[tokio::test]
async fn publish_not_ready_and_label_changes() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-labels", &[], |h| async move {
        h.start().await?;
        let mut seen = Vec::new();
        running_pod(&h, "p1", &[("app", "a")], "10.2.0.1", true).await?;
        running_pod(&h, "p2", &[("app", "a")], "10.2.0.2", false).await?;
        let mut publish = service("pub", Some(&[("app", "a")]), json!(8080));
        publish["spec"]["publishNotReadyAddresses"] = json!(true);
        create_service(&h, publish).await?;
        create_service(&h, service("s", Some(&[("app", "a")]), json!(8080))).await?;
        create_service(&h, service("s2", Some(&[("app", "b")]), json!(8080))).await?;
        let e = wait_endpoints(&h, "pub", "both ready", |s| s.ready_ips().len() == 2).await?;
        seen.push(snapshot(&e).subsets);
        let e = wait_endpoints(&h, "s", "p1 and p2", |s| s.address_count() == 2).await?;
        seen.push(snapshot(&e).subsets);

        let relabel = |name: &'static str, app: &'static str| {
            let h = h.clone();
            async move {
                let patch = json!({ "metadata": { "labels": { "app": app } } });
                h.pods()
                    .patch(name, &Default::default(), &kube::api::Patch::Merge(&patch))
                    .await
            }
        };
        relabel("p1", "b").await?;
        let e = wait_endpoints(&h, "s2", "p1 moved in", |s| s.ready_ips() == ["10.2.0.1"]).await?;
        seen.push(snapshot(&e).subsets);
        let e = wait_endpoints(&h, "s", "p1 moved out", |s| s.address_count() == 1).await?;
        seen.push(snapshot(&e).subsets);
        relabel("p1", "a").await?;
        let e = wait_endpoints(&h, "s", "p1 back", |s| s.address_count() == 2).await?;
        seen.push(snapshot(&e).subsets);
        let e = wait_endpoints(&h, "s2", "p1 left", |s| s.address_count() == 0).await?;
        seen.push(snapshot(&e).subsets);

        // The Service's selector changes: its Endpoints follow.
        patch_service(&h, "s2", json!({ "spec": { "selector": { "app": "a" } } })).await?;
        let e = wait_endpoints(&h, "s2", "s2 selects app=a", |s| s.address_count() == 2).await?;
        seen.push(snapshot(&e).subsets);

        // Terminating p2 stays in `pub` only.
        h.pods().delete("p2", &DeleteParams::default()).await?;
        let e = wait_endpoints(&h, "s", "p2 out of s", |s| s.address_count() == 1).await?;
        seen.push(snapshot(&e).subsets);
        stays(&h, "pub", Duration::from_secs(2), |e| {
            e.is_some_and(|e| snapshot(e).ready_ips().len() == 2)
        })
        .await?;
        let e = wait_endpoints(&h, "pub", "pub", |_| true).await?;
        seen.push(snapshot(&e).subsets);
        Ok(seen)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours[0].len(), 1);
    assert_eq!(
        ours[0][0].ready.len(),
        2,
        "publishNotReadyAddresses lists both as ready"
    );
    assert_eq!(ours, upstream);
    Ok(())
}

/// E14: with `--endpoint-updates-batch-period=5s` three readiness flips within a second make
/// one write, no sooner than the period; a Service update is applied at once.
#[tokio::test]
async fn batch_period_groups_pod_changes() -> anyhow::Result<()> {
    let batch = ["--endpoint-updates-batch-period=5s"];
    let Some((ours, upstream)) = with_both("ep-batch", &batch, |h| async move {
        h.start().await?;
        running_pod(&h, "p1", &[("app", "a")], "10.3.0.1", true).await?;
        create_service(&h, service("s", Some(&[("app", "a")]), json!(8080))).await?;
        let before = wait_endpoints(&h, "s", "p1 ready", |s| s.ready_ips().len() == 1).await?;
        let before_rv = before.resource_version().unwrap_or_default();
        let t = now();
        let started = tokio::time::Instant::now();
        set_status(&h, "p1", "Running", Some("10.3.0.1"), false, later(t, 1)).await?;
        set_status(&h, "p1", "Running", Some("10.3.0.1"), true, later(t, 2)).await?;
        set_status(&h, "p1", "Running", Some("10.3.0.1"), false, later(t, 3)).await?;
        let mut versions = vec![before_rv.clone()];
        let mut first_change = None;
        while started.elapsed() < Duration::from_secs(9) {
            if let Some(e) = get_endpoints(&h, "s").await? {
                let rv = e.resource_version().unwrap_or_default();
                if versions.last() != Some(&rv) {
                    first_change.get_or_insert(started.elapsed());
                    versions.push(rv);
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let after =
            wait_endpoints(&h, "s", "p1 not ready", |s| s.not_ready_ips().len() == 1).await?;
        // A Service change is not delayed.
        let touched = tokio::time::Instant::now();
        patch_service(
            &h,
            "s",
            json!({ "metadata": { "labels": { "team": "y" } } }),
        )
        .await?;
        wait_endpoints(&h, "s", "labels follow", |s| {
            s.labels.get("team").is_some_and(|v| v == "y")
        })
        .await?;
        let service_delay = touched.elapsed();
        Ok((
            versions.len() - 1,
            first_change.is_some_and(|d| d >= Duration::from_secs(4)),
            service_delay < Duration::from_secs(3),
            snapshot(&after).subsets,
        ))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0, 1, "one write for three flips");
    assert!(ours.1, "not before the batch period");
    assert!(ours.2, "Service updates are immediate");
    assert_eq!(ours, upstream);
    Ok(())
}

/// A terminating namespace: recreating deleted Endpoints is refused by the apiserver and the
/// controller drops it silently (no Warning event, here or in `default`).
#[tokio::test]
async fn terminating_namespace_is_dropped_silently() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-term", &[], |h| async move {
        h.start().await?;
        let name = format!("s-{}", h.ns.name());
        running_pod(&h, "p1", &[("app", "a")], "10.9.0.1", true).await?;
        create_service(&h, service(&name, Some(&[("app", "a")]), json!(8080))).await?;
        wait_endpoints(&h, &name, "endpoints", |s| s.address_count() == 1).await?;
        // No namespace controller runs: the namespace stays Terminating with its content.
        let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
            kube::Api::all(h.ns.client().clone());
        namespaces
            .delete(h.ns.name(), &DeleteParams::default())
            .await?;
        h.endpoints()
            .delete(&name, &DeleteParams::default())
            .await?;
        stays(&h, &name, Duration::from_secs(4), |e| e.is_none()).await?;
        let mut events = warnings(&h, h.ns.name(), &name).await?;
        events.extend(warnings(&h, "default", &name).await?);
        Ok(events)
    })
    .await?
    else {
        return Ok(());
    };
    assert!(ours.is_empty(), "{ours:?}");
    assert_eq!(ours, upstream);
    Ok(())
}

/// Hand-made Endpoints for a Service whose selector is added later: taken over, their
/// annotation kept (E13); an annotation-only Service update writes nothing and a manual edit
/// stays until the Service changes (E11).
#[tokio::test]
async fn takeover_no_op_and_manual_edits() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-noop", &[], |h| async move {
        h.start().await?;
        running_pod(&h, "p1", &[("app", "a")], "10.5.0.1", true).await?;
        let manual: k8s_openapi::api::core::v1::Endpoints = serde_json::from_value(json!({
            "metadata": { "name": "s", "labels": { "stray": "x" }, "annotations": { "user": "note" } },
            "subsets": [{ "addresses": [{ "ip": "10.5.9.9" }], "ports": [{ "port": 1 }] }],
        }))?;
        h.endpoints().create(&PostParams::default(), &manual).await?;
        let mut svc = service("s", Some(&[("app", "a")]), json!(8080));
        svc["metadata"]["labels"] = json!({ "team": "x" });
        create_service(&h, svc).await?;
        let taken = wait_endpoints(&h, "s", "taken over", |s| s.ready_ips() == ["10.5.0.1"]).await?;
        let mut taken_snapshot = snapshot(&taken);
        describe_trigger_time(&mut taken_snapshot, &[]);

        // (a) annotation-only update: no write.
        let rv = taken.resource_version().unwrap_or_default();
        patch_service(&h, "s", json!({ "metadata": { "annotations": { "touch": "1" } } })).await?;
        stays(&h, "s", Duration::from_secs(3), |e| {
            e.is_some_and(|e| e.resource_version().unwrap_or_default() == rv)
        })
        .await?;

        // (b) a bogus address stays until the Service is touched.
        let mut edited = taken.clone();
        if let Some(subset) = edited.subsets.as_mut().and_then(|s| s.first_mut()) {
            subset.addresses.get_or_insert_default().push(
                serde_json::from_value(json!({ "ip": "10.5.9.8" }))?,
            );
        }
        let edited = h.endpoints().replace("s", &PostParams::default(), &edited).await?;
        let edited_rv = edited.resource_version().unwrap_or_default();
        stays(&h, "s", Duration::from_secs(3), |e| {
            e.is_some_and(|e| e.resource_version().unwrap_or_default() == edited_rv)
        })
        .await?;
        patch_service(&h, "s", json!({ "metadata": { "annotations": { "touch": "2" } } })).await?;
        let fixed = wait_endpoints(&h, "s", "bogus address removed", |s| s.ready_ips() == ["10.5.0.1"]).await?;
        let mut fixed_snapshot = snapshot(&fixed);
        describe_trigger_time(&mut fixed_snapshot, &[]);
        Ok((taken_snapshot, fixed_snapshot))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours.0.labels,
        labels(&[("team", "x"), (MANAGED_BY, "endpoint-controller")]),
        "stray labels dropped"
    );
    assert_eq!(
        ours.0.annotations["user"], "note",
        "hand-made annotation kept"
    );
    assert_eq!(ours, upstream);
    Ok(())
}
