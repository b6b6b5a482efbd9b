//! `config/manifests/rbac.yaml` grants exactly enough: kcm-rs, running as an identity with only
//! those roles, elects a leader, creates a ReplicaSet's pods, writes its status and events;
//! and the identity is refused what the roles leave out.

use std::time::Duration;

use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Event, Pod, Secret},
    rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding, Subject},
};
use kube::{
    Api,
    api::{ListParams, PostParams},
};
use serde::Deserialize;
use testenv::{Check, KcmRs, TestEnv, env::Identity, wait_until};

const RBAC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/manifests/rbac.yaml");

/// Applies the manifests with every binding's subject replaced by `user`.
async fn apply_rbac_for(env: &TestEnv, user: &str) -> anyhow::Result<()> {
    let client = env.admin_client();
    let subject = Subject {
        kind: "User".into(),
        name: user.into(),
        api_group: Some("rbac.authorization.k8s.io".into()),
        namespace: None,
    };
    let text = std::fs::read_to_string(RBAC)?;
    let create = PostParams::default();
    for document in serde_yaml::Deserializer::from_str(&text) {
        let value = serde_json::Value::deserialize(document)?;
        let exists = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.is_already_exists());
        let result = match value["kind"].as_str() {
            Some("ClusterRole") => Api::<ClusterRole>::all(client.clone())
                .create(&create, &serde_json::from_value(value)?)
                .await
                .map(|_| ()),
            Some("Role") => Api::<Role>::namespaced(client.clone(), "kube-system")
                .create(&create, &serde_json::from_value(value)?)
                .await
                .map(|_| ()),
            Some("ClusterRoleBinding") => {
                let mut binding: ClusterRoleBinding = serde_json::from_value(value)?;
                binding.subjects = Some(vec![subject.clone()]);
                Api::<ClusterRoleBinding>::all(client.clone())
                    .create(&create, &binding)
                    .await
                    .map(|_| ())
            }
            Some("RoleBinding") => {
                let mut binding: RoleBinding = serde_json::from_value(value)?;
                binding.subjects = Some(vec![subject.clone()]);
                Api::<RoleBinding>::namespaced(client.clone(), "kube-system")
                    .create(&create, &binding)
                    .await
                    .map(|_| ())
            }
            other => anyhow::bail!("{RBAC}: unexpected kind {other:?}"),
        };
        match result {
            Err(e) if !exists(&e) => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

#[tokio::test]
async fn kcm_rs_runs_with_only_the_shipped_roles() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    apply_rbac_for(env, Identity::KcmRs.user()).await?;
    let restricted = env.client(Identity::KcmRs)?;
    // Outside the roles: refused.
    let secrets: Api<Secret> = Api::namespaced(restricted.clone(), "kube-system");
    match secrets.list(&ListParams::default()).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("listing secrets should be forbidden, got {other:?}"),
    }

    let ns = env.namespace("rbac").await?;
    let lease = format!(
        "kcm-rs-rbac-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let mut kcm = KcmRs::start(
        env,
        &[
            &format!("--kubeconfig={}", env.kubeconfig(Identity::KcmRs).display()),
            "--leader-elect=true",
            &format!("--leader-elect-resource-name={lease}"),
            "--controllers=replicaset-controller",
        ],
    )?;
    kcm.process_mut()
        .wait_for_log("successfully acquired lease", Duration::from_secs(60))
        .await
        .map_err(|e| anyhow::anyhow!("{e}\n{}", kcm.process().log_tail(30)))?;

    let rs: Api<ReplicaSet> = ns.api();
    rs.create(
        &PostParams::default(),
        &testenv::workloads::replica_set("web", 2, &[("app", "web")], &[]),
    )
    .await?;
    let pods: Api<Pod> = ns.api();
    let events: Api<Event> = ns.api();
    let observe = async || -> anyhow::Result<(usize, i32, usize)> {
        let pods = pods.list(&ListParams::default()).await?.items.len();
        let status = rs.get("web").await?.status.map(|s| s.replicas).unwrap_or(0);
        let created = events
            .list(&ListParams::default())
            .await?
            .items
            .iter()
            .filter(|e| e.reason.as_deref() == Some("SuccessfulCreate"))
            .count();
        Ok((pods, status, created))
    };
    let result = wait_until(
        Duration::from_secs(60),
        "2 pods, status written, SuccessfulCreate events",
        || async {
            match observe().await {
                Ok((2, 2, 2)) => Check::Done(()),
                Ok((pods, status, created)) => Check::NotYet(format!(
                    "{pods} pods, status.replicas {status}, {created} SuccessfulCreate events"
                )),
                Err(e) => Check::NotYet(e.to_string()),
            }
        },
    )
    .await;
    if let Err(e) = result {
        panic!("{e}\nkcm-rs log:\n{}", kcm.process().log_tail(40));
    }
    assert!(
        !kcm.process().log_tail(400).contains("forbidden"),
        "kcm-rs hit a permission it lacks:\n{}",
        kcm.process().log_tail(60)
    );
    Ok(())
}
