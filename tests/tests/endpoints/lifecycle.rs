//! Endpoints left alone (selector-less, selector removed, ExternalName), deleted with their
//! Service, recreated when deleted, and leftovers cleaned up at start.

use std::time::Duration;

use k8s_openapi::api::core::v1::Endpoints;
use kube::{
    ResourceExt,
    api::{DeleteParams, PostParams},
};
use serde_json::json;

use crate::support::*;

fn unchanged(rv: String) -> impl Fn(Option<&Endpoints>) -> bool {
    move |e| e.is_some_and(|e| e.resource_version().unwrap_or_default() == rv)
}

#[tokio::test]
async fn left_alone_deleted_and_recreated() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-alone", &[], |h| async move {
        h.start().await?;
        running_pod(&h, "p1", &[("app", "a")], "10.7.0.1", true).await?;
        let mut flags = Vec::new();

        // A Service without a selector and its hand-made Endpoints.
        create_service(&h, service("manual", None, json!(8080))).await?;
        let manual: Endpoints = serde_json::from_value(json!({
            "metadata": { "name": "manual" },
            "subsets": [{ "addresses": [{ "ip": "10.7.9.9" }], "ports": [{ "port": 8080 }] }],
        }))?;
        let manual = h
            .endpoints()
            .create(&PostParams::default(), &manual)
            .await?;
        let selector: &[(&str, &str)] = &[("app", "a")];
        create_service(&h, service("gone", Some(selector), json!(8080))).await?;
        create_service(&h, service("ext", Some(selector), json!(8080))).await?;
        create_service(&h, service("again", Some(selector), json!(8080))).await?;
        for name in ["gone", "ext", "again"] {
            wait_endpoints(&h, name, name, |s| s.ready_ips().len() == 1).await?;
        }
        // Selector removed from `gone`, `ext` becomes ExternalName; then the pod changes.
        patch_service(&h, "gone", json!({ "spec": { "selector": null } })).await?;
        patch_service(
            &h,
            "ext",
            json!({ "spec": { "type": "ExternalName", "externalName": "x.example.com" } }),
        )
        .await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rv = |e: Option<Endpoints>| e.and_then(|e| e.resource_version()).unwrap_or_default();
        let gone_rv = rv(get_endpoints(&h, "gone").await?);
        let ext_rv = rv(get_endpoints(&h, "ext").await?);
        set_status(&h, "p1", "Running", Some("10.7.0.1"), false, now()).await?;
        wait_endpoints(&h, "again", "p1 not ready", |s| {
            s.not_ready_ips().len() == 1
        })
        .await?;
        stays(
            &h,
            "manual",
            Duration::from_secs(2),
            unchanged(manual.resource_version().unwrap_or_default()),
        )
        .await?;
        stays(&h, "gone", Duration::from_secs(1), unchanged(gone_rv)).await?;
        stays(&h, "ext", Duration::from_secs(1), unchanged(ext_rv)).await?;
        flags.push("selector-less, selector removed and ExternalName untouched");

        // Back from ExternalName: synced again.
        patch_service(
            &h,
            "ext",
            json!({ "spec": { "type": "ClusterIP", "externalName": null } }),
        )
        .await?;
        let ext = wait_endpoints(&h, "ext", "ext synced", |s| s.not_ready_ips().len() == 1).await?;

        // A deleted managed object is recreated; a deleted Service takes its Endpoints along.
        h.endpoints()
            .delete("again", &DeleteParams::default())
            .await?;
        wait_until_recreated(&h, "again").await?;
        let again = wait_endpoints(&h, "again", "again recreated", |s| {
            s.not_ready_ips().len() == 1
        })
        .await?;
        h.services().delete("ext", &DeleteParams::default()).await?;
        wait_gone(&h, "ext").await?;
        flags.push("recreated and deleted");
        let mut ext = snapshot(&ext);
        ext.annotations.remove(TRIGGER_TIME);
        let mut again = snapshot(&again);
        again.annotations.remove(TRIGGER_TIME);
        Ok((flags, ext, again))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(ours.0.len(), 2);
    assert_eq!(ours, upstream);
    Ok(())
}

async fn wait_until_recreated(h: &Harness, name: &str) -> anyhow::Result<()> {
    testenv::wait_until(TIMEOUT, &format!("{name} recreated"), || async {
        match get_endpoints(h, name).await {
            Ok(Some(_)) => testenv::Check::Done(()),
            Ok(None) => testenv::Check::NotYet("missing".into()),
            Err(e) => testenv::Check::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// Endpoints without a Service are deleted when the controller starts, whoever made them;
/// leader-election records and Endpoints of selector-less Services stay.
#[tokio::test]
async fn leftover_endpoints_are_cleaned_up_at_start() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-leftover", &[], |h| async move {
        let make = |name: &str, annotations: serde_json::Value| -> anyhow::Result<Endpoints> {
            Ok(serde_json::from_value(json!({
                "metadata": { "name": name, "annotations": annotations },
                "subsets": [{ "addresses": [{ "ip": "10.8.9.9" }], "ports": [{ "port": 80 }] }],
            }))?)
        };
        let pp = PostParams::default();
        h.endpoints()
            .create(&pp, &make("orphan", json!({}))?)
            .await?;
        h.endpoints()
            .create(
                &pp,
                &make(
                    "leader",
                    json!({ "control-plane.alpha.kubernetes.io/leader": "{}" }),
                )?,
            )
            .await?;
        create_service(&h, service("manual", None, json!(80))).await?;
        h.endpoints()
            .create(&pp, &make("manual", json!({}))?)
            .await?;

        h.start().await?;
        wait_gone(&h, "orphan").await?;
        stays(&h, "leader", Duration::from_secs(2), |e| e.is_some()).await?;
        let manual = get_endpoints(&h, "manual").await?.map(|e| snapshot(&e));
        Ok(manual)
    })
    .await?
    else {
        return Ok(());
    };
    assert!(ours.is_some(), "a selector-less Service's Endpoints stay");
    assert_eq!(ours, upstream);
    Ok(())
}
