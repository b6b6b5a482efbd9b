//! Object-count ResourceQuotas (pods, ReplicaSets, ...), for tests of creations the apiserver
//! refuses.
//!
//! No quota controller runs in the test environment, so the quota's status (which the
//! admission plugin counts against) is written here too: `used` starts at zero and admission
//! keeps it up to date as pods are created.

use k8s_openapi::{
    api::core::v1::{ResourceQuota, ResourceQuotaSpec},
    apimachinery::pkg::{api::resource::Quantity, apis::meta::v1::ObjectMeta},
};
use kube::api::{Patch, PatchParams, PostParams};
use serde_json::json;

use crate::TestNamespace;

/// The name of the quota [`set_pod_quota`] manages.
pub const POD_QUOTA: &str = "pods";

/// Creates (`create`) or changes the quota `pods` of the namespace to allow `pods` pods.
pub async fn set_pod_quota(ns: &TestNamespace, pods: u32, create: bool) -> anyhow::Result<()> {
    set_quota(ns, POD_QUOTA, "pods", pods, create).await
}

/// Creates (`create`, with nothing used yet) or changes the quota `name` to allow `limit` of
/// `resource` (`pods`, `count/replicasets.apps`, ...).
pub async fn set_quota(
    ns: &TestNamespace,
    name: &str,
    resource: &str,
    limit: u32,
    create: bool,
) -> anyhow::Result<()> {
    let api = ns.api::<ResourceQuota>();
    let hard = [(resource.to_string(), Quantity(limit.to_string()))].into();
    if create {
        let quota = ResourceQuota {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..Default::default()
            },
            spec: Some(ResourceQuotaSpec {
                hard: Some(hard),
                ..Default::default()
            }),
            status: None,
        };
        api.create(&PostParams::default(), &quota).await?;
        let status = json!({ "status": {
            "hard": { resource: limit.to_string() }, "used": { resource: "0" } } });
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    } else {
        let spec = json!({ "spec": { "hard": { resource: limit.to_string() } } });
        api.patch(name, &PatchParams::default(), &Patch::Merge(&spec))
            .await?;
        let status = json!({ "status": { "hard": { resource: limit.to_string() } } });
        api.patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await?;
    }
    Ok(())
}
