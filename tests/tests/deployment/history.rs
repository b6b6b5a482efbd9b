//! Rollback, template revert and history cleanup (reference §3.4, §3.8, §3.12, §6 scenarios
//! 15–16): `deprecated.deployment.rollback.to` with its events (done, template unchanged,
//! revision not found, 0 = the previous revision, 0 with no previous revision), a template put back by hand reusing the old
//! ReplicaSet, and `revisionHistoryLimit` 1 and 0.

use serde_json::json;

use testenv::TestNamespace;

use crate::support::*;

const IMG1: &str = "registry.invalid/img:1";
const IMG2: &str = "registry.invalid/img:2";
const IMG3: &str = "registry.invalid/img:3";

fn image(d: &k8s_openapi::api::apps::v1::Deployment) -> Option<&str> {
    d.spec.as_ref()?.template.spec.as_ref()?.containers[0]
        .image
        .as_deref()
}

fn revision(d: &k8s_openapi::api::apps::v1::Deployment) -> Option<String> {
    annotation(&d.metadata, REVISION)
}

/// Waits until the rollback annotation is gone and the Deployment rolled out `img` as
/// `revision`.
async fn wait_rolled_out(ns: &TestNamespace, img: &str, rev: &str) -> anyhow::Result<()> {
    wait_deployment(
        ns,
        "d",
        &format!("{img} rolled out as revision {rev}"),
        |d| {
            annotation(&d.metadata, ROLLBACK_TO).is_none()
                && image(d) == Some(img)
                && revision(d).as_deref() == Some(rev)
                && complete(d)
        },
    )
    .await?;
    Ok(())
}

async fn roll_back_to(ns: &TestNamespace, to: &str) -> anyhow::Result<()> {
    patch(
        ns,
        "d",
        json!({ "metadata": { "annotations": { ROLLBACK_TO: to } } }),
    )
    .await?;
    Ok(())
}

#[tokio::test]
async fn rollback_annotation_and_template_revert_reuse_old_replica_sets() -> anyhow::Result<()> {
    let Some(views) = both("d-rollback", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        create(&ns, &build("d", 2, IMG1)).await?;
        wait_rolled_out(&ns, IMG1, "1").await?;
        // 0 = the previous revision, and there is none yet.
        roll_back_to(&ns, "0").await?;
        wait_event(
            &ns,
            "d",
            "DeploymentRollbackRevisionNotFound",
            "last revision",
        )
        .await?;
        wait_rolled_out(&ns, IMG1, "1").await?;
        set_image(&ns, "d", IMG2, false).await?;
        wait_rolled_out(&ns, IMG2, "2").await?;

        roll_back_to(&ns, "1").await?;
        wait_event(&ns, "d", "DeploymentRollback", "to revision 1").await?;
        wait_rolled_out(&ns, IMG1, "3").await?;
        let rolled_back = view(&ns, "d").await?;

        roll_back_to(&ns, "3").await?;
        wait_event(&ns, "d", "DeploymentRollbackTemplateUnchanged", "").await?;
        roll_back_to(&ns, "9").await?;
        wait_event(&ns, "d", "DeploymentRollbackRevisionNotFound", "").await?;
        wait_rolled_out(&ns, IMG1, "3").await?;
        let refused = view(&ns, "d").await?;

        // `kubectl rollout undo` in apps/v1: the old template written back by the client.
        set_image(&ns, "d", IMG2, false).await?;
        wait_rolled_out(&ns, IMG2, "4").await?;
        let reverted = view(&ns, "d").await?;

        // 0 means the revision before the current one (3, image 1).
        roll_back_to(&ns, "0").await?;
        wait_rolled_out(&ns, IMG1, "5").await?;
        let previous = view(&ns, "d").await?;
        anyhow::Ok([rolled_back, refused, reverted, previous])
    })
    .await?
    else {
        return Ok(());
    };
    let [rolled_back, refused, reverted, previous] = &views;
    let history = |v: &View, img: &str| {
        let a = &v.rs_of(img).annotations;
        (
            a[REVISION].clone(),
            a.get("deployment.kubernetes.io/revision-history").cloned(),
        )
    };
    assert_eq!(
        rolled_back.by_image(),
        vec![(IMG1.into(), 2), (IMG2.into(), 0)]
    );
    assert_eq!(history(rolled_back, IMG1), ("3".into(), Some("1".into())));
    assert_eq!(
        rolled_back.messages("DeploymentRollback"),
        ["Rolled back deployment \"d\" to revision 1".to_owned()].into()
    );
    assert_eq!(
        refused.messages("DeploymentRollbackTemplateUnchanged"),
        [
            "The rollback revision contains the same template as current deployment \"d\""
                .to_owned()
        ]
        .into()
    );
    assert_eq!(
        refused.messages("DeploymentRollbackRevisionNotFound"),
        [
            "Unable to find last revision.",
            "Unable to find the revision to rollback to."
        ]
        .map(String::from)
        .into()
    );
    assert_eq!(refused.replica_sets, rolled_back.replica_sets);
    assert_eq!(
        reverted.by_image(),
        vec![(IMG1.into(), 0), (IMG2.into(), 2)]
    );
    assert_eq!(history(reverted, IMG2), ("4".into(), Some("2".into())));
    assert_eq!(previous.replica_sets.len(), 2);
    assert_eq!(history(previous, IMG1), ("5".into(), Some("1,3".into())));
    Ok(())
}

#[tokio::test]
async fn revision_history_limit_one_then_zero() -> anyhow::Result<()> {
    let Some((one, zero)) = both("d-history", &[], |ns, _| async move {
        let _kubelet = kubelet(&ns).await?;
        let sets = Observer::replica_sets(&ns).await?;
        let d = with_spec(build("d", 1, IMG1), json!({ "revisionHistoryLimit": 1 }))?;
        create(&ns, &d).await?;
        wait_rolled_out(&ns, IMG1, "1").await?;
        set_image(&ns, "d", IMG2, false).await?;
        wait_rolled_out(&ns, IMG2, "2").await?;
        set_image(&ns, "d", IMG3, false).await?;
        wait_rolled_out(&ns, IMG3, "3").await?;
        wait_replica_sets(&ns, "revision 1 cleaned up", |l| {
            l.len() == 2 && !l.iter().any(|rs| image_of(rs) == IMG1)
        })
        .await?;
        let one = view_knowing(&ns, "d", &sets.seen()).await?;
        patch(&ns, "d", json!({ "spec": { "revisionHistoryLimit": 0 } })).await?;
        wait_replica_sets(&ns, "every old revision cleaned up", |l| l.len() == 1).await?;
        wait_deployment(&ns, "d", "the limit observed", complete).await?;
        let zero = view_knowing(&ns, "d", &sets.seen()).await?;
        anyhow::Ok((one, zero))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(one.by_image(), vec![(IMG2.into(), 0), (IMG3.into(), 1)]);
    assert_eq!(zero.by_image(), vec![(IMG3.into(), 1)]);
    assert!(
        zero.messages("ScalingReplicaSet")
            .contains("Scaled down replica set d-H1 from 1 to 0"),
        "events name deleted replica sets by their (normalised) names: {zero:#?}"
    );
    Ok(())
}
