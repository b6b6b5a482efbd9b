//! Proof that the test environment is a real cluster: writes are stored and watched, RBAC is
//! enforced, the upstream controller-manager acts on it, and the pod helpers drive pods
//! through the lifecycle a kubelet would.

use std::{collections::BTreeMap, process::Command, time::Duration};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::{
    apps::v1::{ReplicaSet, ReplicaSetSpec},
    core::v1::{
        ConfigMap, Container, Pod, PodSpec, PodTemplateSpec, ReplicationController,
        ReplicationControllerSpec,
    },
    rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject},
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams, ObjectMeta, PostParams, WatchEvent, WatchParams},
};
use testenv::{
    Check, FakeKubelet, PodFinisher, TestEnv, UpstreamKcm,
    env::{Identity, Ownership, TESTENV_SCRIPT},
    nodes::{create_ready_node, is_node_ready},
    pods::{bind_pod, is_pod_ready, mark_pod_not_ready, mark_pod_running_ready, next_pod_ip},
    wait::{wait_for_deletion, wait_for_object, wait_until},
};

const TIMEOUT: Duration = Duration::from_secs(30);

fn config_map(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("key".to_owned(), value.to_owned())])),
        ..ConfigMap::default()
    }
}

fn labels(app: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("app".to_owned(), app.to_owned())])
}

fn pod_template(app: &str) -> PodTemplateSpec {
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels(app)),
            ..ObjectMeta::default()
        }),
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "main".into(),
                image: Some("registry.invalid/never-pulled:1".into()),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
    }
}

#[tokio::test]
async fn admin_writes_are_read_back_and_delivered_to_an_earlier_watch() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("roundtrip").await?;
    let config_maps: Api<ConfigMap> = ns.api();

    let list = config_maps.list(&ListParams::default()).await?;
    let version = list.metadata.resource_version.unwrap_or_default();
    let mut events = config_maps
        .watch(&WatchParams::default().timeout(60), &version)
        .await?
        .boxed();

    config_maps
        .create(&PostParams::default(), &config_map("written", "hello"))
        .await?;
    let read = config_maps.get("written").await?;
    assert_eq!(read.data.unwrap()["key"], "hello");
    assert!(read.metadata.uid.is_some(), "the apiserver assigns a uid");

    let delivered = tokio::time::timeout(TIMEOUT, async {
        while let Some(event) = events.try_next().await? {
            if let WatchEvent::Added(cm) = event
                && cm.name_any() == "written"
            {
                return anyhow::Ok(cm);
            }
        }
        anyhow::bail!("the watch ended without delivering the ConfigMap")
    })
    .await??;
    assert_eq!(delivered.data.unwrap()["key"], "hello");
    Ok(())
}

#[tokio::test]
async fn the_restricted_identity_is_denied_until_a_role_grants_it() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("rbac").await?;
    let restricted: Api<ConfigMap> = Api::namespaced(env.client(Identity::Restricted)?, ns.name());

    match restricted
        .create(&PostParams::default(), &config_map("denied", "x"))
        .await
    {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("expected 403 Forbidden for the restricted user, got {other:?}"),
    }

    ns.api::<Role>()
        .create(
            &PostParams::default(),
            &Role {
                metadata: ObjectMeta {
                    name: Some("configmap-writer".into()),
                    ..ObjectMeta::default()
                },
                rules: Some(vec![PolicyRule {
                    api_groups: Some(vec![String::new()]),
                    resources: Some(vec!["configmaps".into()]),
                    verbs: vec!["create".into(), "get".into()],
                    ..PolicyRule::default()
                }]),
            },
        )
        .await?;
    ns.api::<RoleBinding>()
        .create(
            &PostParams::default(),
            &RoleBinding {
                metadata: ObjectMeta {
                    name: Some("configmap-writer".into()),
                    ..ObjectMeta::default()
                },
                role_ref: RoleRef {
                    api_group: "rbac.authorization.k8s.io".into(),
                    kind: "Role".into(),
                    name: "configmap-writer".into(),
                },
                subjects: Some(vec![Subject {
                    api_group: Some("rbac.authorization.k8s.io".into()),
                    kind: "User".into(),
                    name: Identity::Restricted.user().into(),
                    namespace: None,
                }]),
            },
        )
        .await?;

    // The authorizer reads RBAC objects from an informer, so the grant takes a moment.
    let created = wait_until(TIMEOUT, "the granted create to succeed", || async {
        match restricted
            .create(&PostParams::default(), &config_map("granted", "y"))
            .await
        {
            Ok(cm) => Check::Done(cm),
            Err(e) => Check::NotYet(e.to_string()),
        }
    })
    .await?;
    assert_eq!(created.name_any(), "granted");
    // The grant is exactly the Role: other verbs stay forbidden.
    match restricted.delete("granted", &DeleteParams::default()).await {
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 403, "{status:?}"),
        other => panic!("delete is not granted, expected 403, got {other:?}"),
    }
    Ok(())
}

#[tokio::test]
async fn upstream_replicaset_controller_creates_pods() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let ns = env.namespace("upstream-rs").await?;
    let node = format!("{}-node", ns.name());
    create_ready_node(ns.client(), &node).await?;
    let _kubelet = FakeKubelet::start(ns.client().clone(), ns.name(), vec![node.clone()]);
    let kcm = UpstreamKcm::start(
        env,
        &["replicaset-controller", "replicationcontroller-controller"],
    )
    .await?;

    let replica_sets: Api<ReplicaSet> = ns.api();
    let rs = replica_sets
        .create(
            &PostParams::default(),
            &ReplicaSet {
                metadata: ObjectMeta {
                    name: Some("web".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(ReplicaSetSpec {
                    replicas: Some(3),
                    selector: k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector {
                        match_labels: Some(labels("web")),
                        ..Default::default()
                    },
                    template: Some(pod_template("web")),
                    ..ReplicaSetSpec::default()
                }),
                status: None,
            },
        )
        .await?;
    let rs_uid = rs.uid().unwrap();

    let ready = wait_for_object(&replica_sets, "web", TIMEOUT, "3 ready replicas", |rs| {
        rs.status
            .as_ref()
            .is_some_and(|s| s.ready_replicas == Some(3))
    })
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "{e}\nkube-controller-manager log:\n{}",
            kcm.process().log_tail(30)
        )
    })?;
    assert_eq!(ready.status.unwrap().replicas, 3);

    let pods = ns
        .api::<Pod>()
        .list(&ListParams::default().labels("app=web"))
        .await?;
    assert_eq!(pods.items.len(), 3);
    for pod in &pods.items {
        let owner = &pod.owner_references()[0];
        assert_eq!(
            (owner.kind.as_str(), owner.uid.as_str()),
            ("ReplicaSet", rs_uid.as_str())
        );
        assert_eq!(
            pod.spec.as_ref().unwrap().node_name.as_deref(),
            Some(node.as_str())
        );
        assert!(is_pod_ready(pod));
    }

    // The other controller named in --controllers runs too.
    let controllers: Api<ReplicationController> = ns.api();
    controllers
        .create(
            &PostParams::default(),
            &ReplicationController {
                metadata: ObjectMeta {
                    name: Some("legacy".into()),
                    ..ObjectMeta::default()
                },
                spec: Some(ReplicationControllerSpec {
                    replicas: Some(2),
                    selector: Some(labels("legacy")),
                    template: Some(pod_template("legacy")),
                    ..ReplicationControllerSpec::default()
                }),
                status: None,
            },
        )
        .await?;
    wait_for_object(&controllers, "legacy", TIMEOUT, "2 replicas", |rc| {
        rc.status.as_ref().is_some_and(|s| s.replicas == 2)
    })
    .await?;
    Ok(())
}

#[tokio::test]
async fn pod_helpers_take_a_bound_pod_through_its_lifecycle() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("pod-helpers").await?;
    let client = ns.client().clone();
    let node_name = format!("{}-node", ns.name());
    let node = create_ready_node(&client, &node_name).await?;
    assert!(is_node_ready(&node));

    let pods: Api<Pod> = ns.api();
    let template = pod_template("single");
    let pod = Pod {
        metadata: ObjectMeta {
            name: Some("single".into()),
            ..template.metadata.unwrap()
        },
        spec: template.spec,
        status: None,
    };
    pods.create(&PostParams::default(), &pod).await?;
    bind_pod(&client, ns.name(), "single", &node_name).await?;
    let ip = next_pod_ip();
    mark_pod_running_ready(&client, ns.name(), "single", &ip).await?;

    let stored = pods.get("single").await?;
    let status = stored.status.clone().unwrap();
    assert_eq!(
        stored.spec.as_ref().unwrap().node_name.as_deref(),
        Some(node_name.as_str())
    );
    assert_eq!(status.phase.as_deref(), Some("Running"));
    assert_eq!(status.pod_ip.as_deref(), Some(ip.as_str()));
    assert_eq!(status.pod_ips.unwrap()[0].ip, ip);
    assert!(status.host_ip.is_some());
    assert!(is_pod_ready(&stored));
    assert!(status.container_statuses.unwrap().iter().all(|c| c.ready));

    let unready = mark_pod_not_ready(&client, ns.name(), "single").await?;
    assert!(!is_pod_ready(&unready));
    assert_eq!(
        unready.status.unwrap().pod_ip.as_deref(),
        Some(ip.as_str()),
        "the IP stays"
    );

    // Without a kubelet a bound pod only gets a deletionTimestamp…
    pods.delete("single", &DeleteParams::default()).await?;
    let terminating = pods.get("single").await?;
    assert!(terminating.metadata.deletion_timestamp.is_some());
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        pods.get_opt("single").await?.is_some(),
        "nothing but a kubelet finishes the deletion"
    );

    // …and the finisher plays the kubelet's last step.
    let _finisher = PodFinisher::start(client, Some(ns.name()));
    wait_for_deletion(&pods, "single", TIMEOUT).await?;
    Ok(())
}

#[tokio::test]
async fn a_second_up_on_the_same_directory_is_refused() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let output = Command::new("bash")
        .arg(TESTENV_SCRIPT)
        .arg("up")
        .arg(env.dir())
        .output()?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a second up succeeded: {stderr}");
    assert!(stderr.contains("already up"), "{stderr}");
    // The first environment is untouched.
    let status = Command::new("bash")
        .arg(TESTENV_SCRIPT)
        .arg("status")
        .arg(env.dir())
        .output()?;
    assert!(
        status.status.success(),
        "{}",
        String::from_utf8_lossy(&status.stdout)
    );
    if env.ownership() == Ownership::Owned {
        assert!(
            env.dir().join("run/watcher.pid").is_file(),
            "an owned environment has a watcher"
        );
    }
    Ok(())
}

#[tokio::test]
async fn discovery_reports_the_pinned_kubernetes_version() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let go_mod = include_str!("../env/go.mod");
    let pinned = go_mod
        .lines()
        .find_map(|l| l.trim().strip_prefix("k8s.io/kubernetes v"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("go.mod requires k8s.io/kubernetes");
    let version = env.admin_client().apiserver_version().await?;
    assert_eq!(version.git_version, format!("v{pinned}"), "{version:?}");
    // The restricted user may still use discovery, like every authenticated user.
    env.client(Identity::Restricted)?
        .apiserver_version()
        .await?;
    Ok(())
}
