//! Who kcm-rs acts as, and that the roles it ships or relies on are enough.
//!
//! - `config/manifests/rbac.yaml` grants exactly enough: kcm-rs, running as an identity with only
//!   those roles, elects a leader, creates a ReplicaSet's pods, writes its status and events; and
//!   the identity is refused what the roles leave out.
//! - kubeadm's identity `system:kube-controller-manager` may not create pods itself; with
//!   `--use-service-account-credentials` each controller acts as its own ServiceAccount and the
//!   bootstrap roles `system:controller:<name>` let it.
//! - The namespace controller empties a namespace with either set of rights.
//! - The pod garbage collector marks and force-deletes an orphan with either set of rights.

use anyhow::Context;
use std::time::Duration;

use k8s_openapi::api::{
    apps::v1::ReplicaSet,
    core::v1::{Event, Pod, ReplicationController, Secret, ServiceAccount},
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
    // Outside the roles: refused. (Listing anything is allowed: the namespace controller
    // must list every kind to empty a namespace, as upstream's bootstrap role allows.)
    let secrets: Api<Secret> = Api::namespaced(restricted.clone(), "kube-system");
    let secret = serde_json::from_value(serde_json::json!({ "metadata": { "name": "nope" } }))?;
    match secrets.create(&PostParams::default(), &secret).await {
        Err(kube::Error::Api(s)) => assert_eq!(s.code, 403, "{s:?}"),
        other => panic!("creating a secret should be forbidden, got {other:?}"),
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

/// Pods, `status.replicas` and `SuccessfulCreate` events of the workload `name` in `ns`.
async fn created<K>(
    workloads: &Api<K>,
    pods: &Api<Pod>,
    events: &Api<Event>,
    name: &str,
    replicas_of: impl Fn(&K) -> i32,
) -> anyhow::Result<(usize, i32, usize)>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let owned = pods
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|pod| {
            pod.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|owner| owner.name == name)
        })
        .count();
    let status = replicas_of(&workloads.get(name).await?);
    let creations = events
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|e| {
            e.reason.as_deref() == Some("SuccessfulCreate")
                && e.involved_object.name.as_deref() == Some(name)
        })
        .count();
    Ok((owned, status, creations))
}

#[tokio::test]
async fn kubeadm_identity_runs_controllers_as_their_service_accounts() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("sa-credentials").await?;
    let kubeadm_identity = format!(
        "--kubeconfig={}",
        env.kubeconfig(Identity::KubeControllerManager).display()
    );
    let controllers = "--controllers=replicaset-controller,replicationcontroller-controller";

    let replica_sets: Api<ReplicaSet> = ns.api();
    let controllers_api: Api<ReplicationController> = ns.api();
    replica_sets
        .create(
            &PostParams::default(),
            &testenv::workloads::replica_set("web", 2, &[("app", "web")], &[]),
        )
        .await?;
    controllers_api
        .create(
            &PostParams::default(),
            &testenv::workloads::replication_controller("legacy", 1, &[("app", "legacy")], &[]),
        )
        .await?;
    let pods: Api<Pod> = ns.api();
    let events: Api<Event> = ns.api();

    // Without the flag the manager's own identity is used, and the bootstrap role of
    // system:kube-controller-manager does not allow creating pods. At the default verbosity
    // the failing sync must be visible in the log, not only as an event.
    let mut refused = KcmRs::start_synced(env, &[&kubeadm_identity, controllers, "--v=0"]).await?;
    let forbidden = format!(
        "User \"{}\" cannot create resource \"pods\"",
        Identity::KubeControllerManager.user()
    );
    let result = wait_until(
        Duration::from_secs(60),
        "a FailedCreate event saying pods are forbidden",
        || async {
            let listed = match events.list(&ListParams::default()).await {
                Ok(list) => list.items,
                Err(e) => return Check::NotYet(e.to_string()),
            };
            let failed: Vec<_> = listed
                .iter()
                .filter(|e| e.reason.as_deref() == Some("FailedCreate"))
                .filter_map(|e| e.message.clone())
                .collect();
            if failed.iter().any(|m| m.contains(&forbidden)) {
                Check::Done(())
            } else {
                Check::NotYet(format!("FailedCreate messages: {failed:?}"))
            }
        },
    )
    .await;
    if let Err(e) = result {
        panic!("{e}\nkcm-rs log:\n{}", refused.process().log_tail(40));
    }
    assert_eq!(pods.list(&ListParams::default()).await?.items.len(), 0);
    refused
        .process_mut()
        .wait_for_log("error syncing; requeuing", Duration::from_secs(30))
        .await
        .with_context(|| {
            format!(
                "no failing sync at -v 0:\n{}",
                refused.process().log_tail(40)
            )
        })?;
    let log = refused.process().log_tail(200);
    let line = log
        .lines()
        .find(|l| l.contains("error syncing; requeuing") && l.contains(&forbidden))
        .unwrap_or_else(|| panic!("the failing sync names the refusal:\n{log}"));
    assert!(line.starts_with('W'), "logged as a warning: {line}");
    assert!(
        line.contains("controller=\"replicaset-controller\"")
            || line.contains("controller=\"replicationcontroller-controller\""),
        "{line}"
    );
    eprintln!("failing sync at -v 0: {line}");
    drop(refused);

    // With it, each controller mints a token for kube-system/<its client name>.
    let kcm = KcmRs::start_synced(
        env,
        &[
            &kubeadm_identity,
            controllers,
            "--use-service-account-credentials=true",
        ],
    )
    .await?;
    let result = wait_until(
        Duration::from_secs(60),
        "pods, status and SuccessfulCreate events of both workloads",
        || async {
            let rs = created(&replica_sets, &pods, &events, "web", |rs| {
                rs.status.as_ref().map_or(0, |s| s.replicas)
            })
            .await;
            let rc = created(&controllers_api, &pods, &events, "legacy", |rc| {
                rc.status.as_ref().map_or(0, |s| s.replicas)
            })
            .await;
            match (rs, rc) {
                (Ok((2, 2, 2)), Ok((1, 1, 1))) => Check::Done(()),
                (rs, rc) => Check::NotYet(format!(
                    "ReplicaSet (pods, status.replicas, creations) {rs:?}, \
                     ReplicationController {rc:?}"
                )),
            }
        },
    )
    .await;
    if let Err(e) = result {
        panic!("{e}\nkcm-rs log:\n{}", kcm.process().log_tail(40));
    }
    let accounts: Api<ServiceAccount> = Api::namespaced(env.admin_client(), "kube-system");
    for name in ["replicaset-controller", "replication-controller"] {
        assert!(
            accounts.get_opt(name).await?.is_some(),
            "ServiceAccount kube-system/{name} should exist"
        );
    }
    assert!(
        !kcm.process().log_tail(400).contains("forbidden"),
        "a controller hit a permission its bootstrap role lacks:\n{}",
        kcm.process().log_tail(60)
    );
    Ok(())
}

/// Creates a namespace holding a ConfigMap and a Deployment, deletes it and waits until the
/// namespace controller of `kcm` has removed it.
async fn namespace_is_deleted_by(env: &TestEnv, kcm: &KcmRs, prefix: &str) -> anyhow::Result<()> {
    let ns = env.namespace(prefix).await?;
    let configmaps: Api<k8s_openapi::api::core::v1::ConfigMap> = ns.api();
    let configmap = serde_json::from_value(serde_json::json!({ "metadata": { "name": "cm" } }))?;
    configmaps
        .create(&PostParams::default(), &configmap)
        .await?;
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> = ns.api();
    let deployment = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "d" },
        "spec": { "replicas": 0, "selector": { "matchLabels": { "app": "d" } },
            "template": { "metadata": { "labels": { "app": "d" } },
                "spec": { "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] } } },
    }))?;
    deployments
        .create(&PostParams::default(), &deployment)
        .await?;
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(env.admin_client());
    namespaces
        .delete(ns.name(), &kube::api::DeleteParams::default())
        .await?;
    if let Err(e) =
        testenv::wait_for_deletion(&namespaces, ns.name(), Duration::from_secs(60)).await
    {
        panic!("{e}\nkcm-rs log:\n{}", kcm.process().log_tail(40));
    }
    assert!(
        !kcm.process().log_tail(400).contains("forbidden"),
        "the namespace controller hit a permission it lacks:\n{}",
        kcm.process().log_tail(60)
    );
    Ok(())
}

/// The namespace controller deletes whatever kind a namespace holds, so it needs wide rights:
/// the shipped roles grant them, and so does the bootstrap role of its ServiceAccount
/// `kube-system/namespace-controller` under `--use-service-account-credentials`.
#[tokio::test]
async fn the_namespace_controller_runs_with_the_shipped_roles_and_as_its_service_account()
-> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let controllers = "--controllers=namespace-controller";

    apply_rbac_for(env, Identity::KcmRs.user()).await?;
    let kcm_rs_identity = format!("--kubeconfig={}", env.kubeconfig(Identity::KcmRs).display());
    let kcm = KcmRs::start_synced(env, &[&kcm_rs_identity, controllers]).await?;
    namespace_is_deleted_by(env, &kcm, "rbac-ns").await?;
    drop(kcm);

    let kubeadm_identity = format!(
        "--kubeconfig={}",
        env.kubeconfig(Identity::KubeControllerManager).display()
    );
    let kcm = KcmRs::start_synced(
        env,
        &[
            &kubeadm_identity,
            controllers,
            "--use-service-account-credentials=true",
        ],
    )
    .await?;
    namespace_is_deleted_by(env, &kcm, "sa-ns").await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(env.admin_client(), "kube-system");
    assert!(
        accounts.get_opt("namespace-controller").await?.is_some(),
        "ServiceAccount kube-system/namespace-controller should exist"
    );
    Ok(())
}

/// Creates a ready pod and a Service selecting it and waits until the endpoints controller of
/// `kcm` has written their Endpoints.
async fn endpoints_are_written_by(env: &TestEnv, kcm: &KcmRs, prefix: &str) -> anyhow::Result<()> {
    let ns = env.namespace(prefix).await?;
    let pods: Api<Pod> = ns.api();
    let pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "p", "labels": { "app": "a" } },
        "spec": { "nodeName": "rbac-node", "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] },
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let status = serde_json::json!({ "status": { "phase": "Running", "podIP": "10.30.0.1",
        "podIPs": [{ "ip": "10.30.0.1" }], "conditions": [{ "type": "Ready", "status": "True" }] } });
    pods.patch_status("p", &Default::default(), &kube::api::Patch::Merge(&status))
        .await?;
    let services: Api<k8s_openapi::api::core::v1::Service> = ns.api();
    let service = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "s" },
        "spec": { "selector": { "app": "a" }, "ports": [{ "port": 80 }] },
    }))?;
    services.create(&PostParams::default(), &service).await?;
    let endpoints: Api<k8s_openapi::api::core::v1::Endpoints> = ns.api();
    let written = wait_until(Duration::from_secs(60), "endpoints written", || async {
        match endpoints.get_opt("s").await {
            Ok(Some(e)) if e.subsets.as_ref().is_some_and(|s| !s.is_empty()) => Check::Done(()),
            other => Check::NotYet(format!("{other:?}")),
        }
    })
    .await;
    if let Err(e) = written {
        panic!("{e}\nkcm-rs log:\n{}", kcm.process().log_tail(40));
    }
    assert!(
        !kcm.process().log_tail(400).contains("forbidden"),
        "the endpoints controller hit a permission it lacks:\n{}",
        kcm.process().log_tail(60)
    );
    services
        .delete("s", &kube::api::DeleteParams::default())
        .await?;
    Ok(())
}

/// The endpoints controller runs with the shipped roles and, under
/// `--use-service-account-credentials`, as ServiceAccount `kube-system/endpoint-controller`
/// with upstream's bootstrap role `system:controller:endpoint-controller`.
#[tokio::test]
async fn the_endpoints_controller_runs_with_the_shipped_roles_and_as_its_service_account()
-> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let controllers = "--controllers=endpoints-controller";

    apply_rbac_for(env, Identity::KcmRs.user()).await?;
    let kcm_rs_identity = format!("--kubeconfig={}", env.kubeconfig(Identity::KcmRs).display());
    let kcm = KcmRs::start_synced(env, &[&kcm_rs_identity, controllers]).await?;
    endpoints_are_written_by(env, &kcm, "rbac-ep").await?;
    drop(kcm);

    let kubeadm_identity = format!(
        "--kubeconfig={}",
        env.kubeconfig(Identity::KubeControllerManager).display()
    );
    let kcm = KcmRs::start_synced(
        env,
        &[
            &kubeadm_identity,
            controllers,
            "--use-service-account-credentials=true",
        ],
    )
    .await?;
    endpoints_are_written_by(env, &kcm, "sa-ep").await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(env.admin_client(), "kube-system");
    assert!(
        accounts.get_opt("endpoint-controller").await?.is_some(),
        "ServiceAccount kube-system/endpoint-controller should exist"
    );
    Ok(())
}

/// Creates a Running pod bound to a node that does not exist and waits until the pod GC of
/// `kcm` (started with a short period and quarantine) has patched and deleted it.
async fn orphan_is_collected_by(env: &TestEnv, kcm: &KcmRs, prefix: &str) -> anyhow::Result<()> {
    let ns = env.namespace(prefix).await?;
    let pods: Api<Pod> = ns.api();
    let pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": "orphan" },
        "spec": { "nodeName": format!("{}-ghost", ns.name()),
            "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] },
    }))?;
    pods.create(&PostParams::default(), &pod).await?;
    let running = serde_json::json!({ "status": { "phase": "Running" } });
    pods.patch_status(
        "orphan",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&running),
    )
    .await?;
    if let Err(e) = testenv::wait_for_deletion(&pods, "orphan", Duration::from_secs(30)).await {
        panic!("{e}\nkcm-rs log:\n{}", kcm.process().log_tail(40));
    }
    assert!(
        !kcm.process().log_tail(400).contains("forbidden"),
        "the pod GC hit a permission it lacks:\n{}",
        kcm.process().log_tail(60)
    );
    Ok(())
}

/// The pod GC reads nodes, patches pod status and deletes pods: the shipped roles grant that,
/// and so does the bootstrap role of its ServiceAccount `kube-system/pod-garbage-collector`.
#[tokio::test]
async fn the_pod_gc_runs_with_the_shipped_roles_and_as_its_service_account() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let gc = [
        "--controllers=pod-garbage-collector-controller",
        "--pod-gc-check-period=500ms",
        "--pod-gc-quarantine=1s",
    ];

    apply_rbac_for(env, Identity::KcmRs.user()).await?;
    let kcm_rs_identity = format!("--kubeconfig={}", env.kubeconfig(Identity::KcmRs).display());
    let kcm = KcmRs::start_synced(env, &[&[kcm_rs_identity.as_str()][..], &gc].concat()).await?;
    orphan_is_collected_by(env, &kcm, "rbac-gc").await?;
    drop(kcm);

    let kubeadm_identity = format!(
        "--kubeconfig={}",
        env.kubeconfig(Identity::KubeControllerManager).display()
    );
    let args = [
        &[
            kubeadm_identity.as_str(),
            "--use-service-account-credentials=true",
        ][..],
        &gc,
    ]
    .concat();
    let kcm = KcmRs::start_synced(env, &args).await?;
    orphan_is_collected_by(env, &kcm, "sa-gc").await?;
    let accounts: Api<ServiceAccount> = Api::namespaced(env.admin_client(), "kube-system");
    assert!(
        accounts.get_opt("pod-garbage-collector").await?.is_some(),
        "ServiceAccount kube-system/pod-garbage-collector should exist"
    );
    Ok(())
}
