//! The namespace controller against a real apiserver (reference §5.3). Every scenario runs
//! with kcm-rs and then with the upstream kube-controller-manager, each running only
//! `namespace-controller`, and both runs must produce the same outcome; where kcm-rs differs
//! on purpose (README, "Differences"), the test says so and checks each side.

mod finalizers;
mod pods;
mod support;

use std::time::Duration;

use anyhow::Context;
use k8s_openapi::{
    api::core::v1::ConfigMap,
    apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
};
use kube::{
    Api, Client,
    api::{DeleteParams, PostParams},
};
use serde_json::json;
use support::*;
use testenv::{Check, wait_until};

/// An empty namespace is Terminating at once and gone within seconds; an active namespace
/// next to it is never touched.
#[tokio::test]
async fn an_empty_namespace_is_removed_and_an_active_one_left_alone() -> anyhow::Result<()> {
    #[derive(Debug, PartialEq)]
    struct Outcome {
        phase: Option<String>,
        deletion_timestamp: bool,
        spec_finalizers: Vec<String>,
        active_phase: Option<String>,
        active_conditions: usize,
    }
    let Some((ours, upstream)) = with_both(|h| async move {
        let active = h.namespace("ns-active", &[], &[]).await?;
        let name = h.namespace("ns-empty", &[], &[]).await?;
        h.delete_namespace(&name).await?;
        let marked = h.get(&name).await?.context("just deleted")?;
        let took = h.wait_gone(&name, TIMEOUT).await?;
        assert!(
            took >= Duration::from_secs(3),
            "the first pass waits 5 s; gone after {took:?}"
        );
        // Ten seconds after its creation, the active namespace is as it was.
        tokio::time::sleep(Duration::from_secs(10).saturating_sub(took)).await;
        let active = h.get(&active).await?.context("active namespace")?;
        anyhow::Ok(Outcome {
            phase: marked.status.as_ref().and_then(|s| s.phase.clone()),
            deletion_timestamp: marked.metadata.deletion_timestamp.is_some(),
            spec_finalizers: spec_finalizers(&marked),
            active_phase: active.status.as_ref().and_then(|s| s.phase.clone()),
            active_conditions: conditions(&active).len(),
        })
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        ours,
        Outcome {
            phase: Some("Terminating".into()),
            deletion_timestamp: true,
            spec_finalizers: vec!["kubernetes".into()],
            active_phase: Some("Active".into()),
            active_conditions: 0,
        }
    );
    assert_eq!(ours, upstream);
    Ok(())
}

/// Deployments, Services, Endpoints, Events, ConfigMaps and Secrets all go, then the namespace.
#[tokio::test]
async fn ordinary_content_is_deleted_with_the_namespace() -> anyhow::Result<()> {
    let kinds = [
        ("apps/v1", "Deployment", "deployments"),
        ("v1", "Service", "services"),
        ("v1", "Endpoints", "endpoints"),
        ("v1", "Event", "events"),
        ("v1", "ConfigMap", "configmaps"),
        ("v1", "Secret", "secrets"),
    ];
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h.namespace("ns-content", &[], &[]).await?;
        let client = h.client();
        fill_ordinary_content(&client, &name).await?;
        let mut before = Counts::new();
        for (api_version, kind, plural) in kinds {
            before.insert(
                plural.into(),
                count(&client, &name, api_version, kind, plural).await?,
            );
        }
        h.delete_namespace(&name).await?;
        h.wait_gone(&name, TIMEOUT).await?;
        let mut after = Counts::new();
        for (api_version, kind, plural) in kinds {
            after.insert(
                plural.into(),
                count(&client, &name, api_version, kind, plural).await?,
            );
        }
        anyhow::Ok((before, after))
    })
    .await?
    else {
        return Ok(());
    };
    let (before, after) = &ours;
    assert!(before.values().all(|&n| n >= 1), "{before:?}");
    assert!(after.values().all(|&n| n == 0), "{after:?}");
    assert_eq!(ours, upstream);
    Ok(())
}

/// Two of each ordinary kind (the Service's own Endpoints, if any, count too).
pub async fn fill_ordinary_content(client: &Client, ns: &str) -> anyhow::Result<()> {
    for i in 0..2 {
        let name = format!("x{i}");
        create(client, ns, "deployments", json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": name },
            "spec": { "replicas": 0, "selector": { "matchLabels": { "app": name } },
                "template": { "metadata": { "labels": { "app": name } },
                    "spec": { "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] } } },
        })).await?;
        create(
            client,
            ns,
            "services",
            json!({
                "apiVersion": "v1", "kind": "Service", "metadata": { "name": name },
                "spec": { "ports": [{ "port": 80 }], "selector": { "app": name } },
            }),
        )
        .await?;
        create(client, ns, "endpoints", json!({
            "apiVersion": "v1", "kind": "Endpoints", "metadata": { "name": format!("ep{i}") },
            "subsets": [{ "addresses": [{ "ip": format!("10.1.0.{}", i + 1) }], "ports": [{ "port": 80 }] }],
        })).await?;
        create(
            client,
            ns,
            "events",
            json!({
                "apiVersion": "v1", "kind": "Event", "metadata": { "name": format!("ev{i}") },
                "involvedObject": { "kind": "Service", "name": name, "namespace": ns },
                "reason": "Test", "message": "m", "type": "Normal",
            }),
        )
        .await?;
        create(client, ns, "configmaps", json!({
            "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": name }, "data": { "k": "v" },
        })).await?;
        create(
            client,
            ns,
            "secrets",
            json!({
                "apiVersion": "v1", "kind": "Secret", "metadata": { "name": name },
                "stringData": { "k": "v" },
            }),
        )
        .await?;
    }
    Ok(())
}

/// The upstream integration test's case (`TestNamespaceCondition`): a Deployment held by a
/// finalizer keeps the namespace, and the conditions say exactly why; once the finalizer goes,
/// so does the namespace, on the 8 s requeue rather than the 5 min resync.
#[tokio::test]
async fn content_held_by_a_finalizer_is_reported_and_then_released() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h.namespace("ns-held", &[], &[]).await?;
        let client = h.client();
        create(&client, &name, "deployments", held_deployment("d")).await?;
        h.delete_namespace(&name).await?;
        let conditions = h
            .wait_conditions(&name, "ContentRemaining True", |c| {
                condition(c, "NamespaceContentRemaining").is_some_and(|c| c.status == "True")
            })
            .await?;
        remove_finalizers(&client, &name, "apps/v1", "Deployment", "deployments", "d").await?;
        let took = h.wait_gone(&name, TIMEOUT).await?;
        anyhow::Ok((conditions, took))
    })
    .await?
    else {
        return Ok(());
    };
    let mut expected = all_clear();
    expected[3] = Condition::new(
        "NamespaceContentRemaining",
        "True",
        "SomeResourcesRemain",
        "Some resources are remaining: deployments.apps has 1 resource instances",
    );
    expected[4] = Condition::new(
        "NamespaceFinalizersRemaining",
        "True",
        "SomeFinalizersRemain",
        "Some content in the namespace has finalizers remaining: custom.io/finalizer in 1 resource instances",
    );
    assert_eq!(ours.0, expected);
    assert_eq!(ours.0, upstream.0);
    for (who, took) in [("kcm-rs", ours.1), ("upstream", upstream.1)] {
        assert!(
            took < Duration::from_secs(20),
            "{who}: gone {took:?} after the finalizer went"
        );
    }
    Ok(())
}

pub fn held_deployment(name: &str) -> serde_json::Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "finalizers": ["custom.io/finalizer"] },
        "spec": { "replicas": 0, "selector": { "matchLabels": { "app": name } },
            "template": { "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "c", "image": "registry.invalid/x:1" }] } } },
    })
}

/// Core-group resources print with a trailing dot, several kinds are sorted, and one finalizer
/// on several objects is summed.
#[tokio::test]
async fn remaining_content_messages_have_upstreams_format() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let name = h.namespace("ns-format", &[], &[]).await?;
        let client = h.client();
        create(&client, &name, "deployments", held_deployment("d")).await?;
        for (plural, kind, finalizers) in [
            (
                "configmaps",
                "ConfigMap",
                json!(["custom.io/finalizer", "b.example.com/keep"]),
            ),
            ("secrets", "Secret", json!(["custom.io/finalizer"])),
        ] {
            create(
                &client,
                &name,
                plural,
                json!({
                    "apiVersion": "v1", "kind": kind,
                    "metadata": { "name": "held", "finalizers": finalizers },
                }),
            )
            .await?;
        }
        h.delete_namespace(&name).await?;
        let conditions = h
            .wait_conditions(&name, "three kinds remaining", |c| {
                condition(c, "NamespaceContentRemaining")
                    .is_some_and(|c| c.message.matches("resource instances").count() == 3)
            })
            .await?;
        for (api_version, kind, plural) in [
            ("apps/v1", "Deployment", "deployments"),
            ("v1", "ConfigMap", "configmaps"),
            ("v1", "Secret", "secrets"),
        ] {
            let object = if plural == "deployments" { "d" } else { "held" };
            remove_finalizers(&client, &name, api_version, kind, plural, object).await?;
        }
        h.wait_gone(&name, TIMEOUT).await?;
        anyhow::Ok(conditions)
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        condition(&ours, "NamespaceContentRemaining").map(|c| c.message.as_str()),
        Some(
            "Some resources are remaining: configmaps. has 1 resource instances, \
             deployments.apps has 1 resource instances, secrets. has 1 resource instances"
        )
    );
    assert_eq!(
        condition(&ours, "NamespaceFinalizersRemaining").map(|c| c.message.as_str()),
        Some(
            "Some content in the namespace has finalizers remaining: b.example.com/keep in 1 \
             resource instances, custom.io/finalizer in 3 resource instances"
        )
    );
    assert_eq!(ours, upstream);
    Ok(())
}

const WIDGETS: &str = "widgets.example.com";

/// Installs the namespaced CRD `widgets.example.com` once and waits until discovery serves it.
async fn ensure_widgets_crd(client: &Client) -> anyhow::Result<()> {
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    if crds.get_opt(WIDGETS).await?.is_none() {
        let crd: CustomResourceDefinition = serde_json::from_value(json!({
            "metadata": { "name": WIDGETS },
            "spec": {
                "group": "example.com",
                "names": { "plural": "widgets", "singular": "widget", "kind": "Widget" },
                "scope": "Namespaced",
                "versions": [{ "name": "v1", "served": true, "storage": true,
                    "schema": { "openAPIV3Schema": { "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true } } }],
            },
        }))?;
        crds.create(&PostParams::default(), &crd).await?;
    }
    wait_until(TIMEOUT, "widgets served", || async {
        let request = http::Request::get("/apis/example.com/v1").body(Vec::new());
        match request {
            Ok(request) => match client.request_text(request).await {
                Ok(text) if text.contains("\"widgets\"") => Check::Done(()),
                Ok(text) => Check::NotYet(text),
                Err(e) => Check::NotYet(e.to_string()),
            },
            Err(e) => Check::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

/// Custom resources are found through discovery like any other kind: both Widgets are
/// deleted, the one with a finalizer is reported, and the namespace goes when it goes.
#[tokio::test]
async fn custom_resources_are_deleted_too() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let client = h.client();
        ensure_widgets_crd(&client).await?;
        let name = h.namespace("ns-crd", &[], &[]).await?;
        for (widget, finalizers) in [("w1", json!([])), ("w2", json!(["custom.io/finalizer"]))] {
            create(
                &client,
                &name,
                "widgets",
                json!({
                    "apiVersion": "example.com/v1", "kind": "Widget",
                    "metadata": { "name": widget, "finalizers": finalizers },
                }),
            )
            .await?;
        }
        h.delete_namespace(&name).await?;
        let conditions = h
            .wait_conditions(&name, "widgets remaining", |c| {
                condition(c, "NamespaceContentRemaining").is_some_and(|c| c.status == "True")
            })
            .await?;
        let left = count(&client, &name, "example.com/v1", "Widget", "widgets").await?;
        remove_finalizers(&client, &name, "example.com/v1", "Widget", "widgets", "w2").await?;
        h.wait_gone(&name, TIMEOUT).await?;
        anyhow::Ok((conditions, left))
    })
    .await?
    else {
        return Ok(());
    };
    assert_eq!(
        condition(&ours.0, "NamespaceContentRemaining").map(|c| c.message.as_str()),
        Some("Some resources are remaining: widgets.example.com has 1 resource instances")
    );
    assert_eq!(ours.1, 1, "w1 is deleted, w2 waits for its finalizer");
    assert_eq!(ours, upstream);
    Ok(())
}

const UNAVAILABLE_GROUP: &str = "unavailable.example.com";
const UNAVAILABLE_APISERVICE: &str = "v1.unavailable.example.com";

/// An APIService pointing at a Service without endpoints: the aggregator answers 503 and
/// discovery lists the group version as stale.
async fn register_unavailable_apiservice(client: &Client) -> anyhow::Result<()> {
    let services: Api<k8s_openapi::api::core::v1::Service> =
        Api::namespaced(client.clone(), "default");
    if services.get_opt("unavailable-api").await?.is_none() {
        let service = serde_json::from_value(json!({
            "metadata": { "name": "unavailable-api" },
            "spec": { "ports": [{ "port": 443 }] },
        }))?;
        services.create(&PostParams::default(), &service).await?;
    }
    let apiservices = apiservice_api(client);
    let apiservice = serde_json::from_value(json!({
        "apiVersion": "apiregistration.k8s.io/v1", "kind": "APIService",
        "metadata": { "name": UNAVAILABLE_APISERVICE },
        "spec": { "group": UNAVAILABLE_GROUP, "version": "v1", "groupPriorityMinimum": 100,
            "versionPriority": 10, "insecureSkipTLSVerify": true,
            "service": { "name": "unavailable-api", "namespace": "default", "port": 443 } },
    }))?;
    apiservices
        .create(&PostParams::default(), &apiservice)
        .await?;
    wait_until(TIMEOUT, "the group to show as stale", || async {
        let request = http::Request::get("/apis")
            .header(
                "Accept",
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            )
            .body(Vec::new());
        let Ok(request) = request else {
            return Check::NotYet("request".into());
        };
        match client.request_text(request).await {
            Ok(text) if text.contains(UNAVAILABLE_GROUP) && text.contains("\"Stale\"") => {
                Check::Done(())
            }
            Ok(_) => Check::NotYet("not stale yet".into()),
            Err(e) => Check::NotYet(e.to_string()),
        }
    })
    .await?;
    Ok(())
}

fn apiservice_api(client: &Client) -> Api<kube::core::DynamicObject> {
    let resource = kube::core::ApiResource::from_gvk_with_plural(
        &kube::core::GroupVersionKind::gvk("apiregistration.k8s.io", "v1", "APIService"),
        "apiservices",
    );
    Api::all_with(client.clone(), &resource)
}

/// A group whose discovery fails is reported and holds the namespace, while everything else
/// in it is still deleted; once the APIService goes, so does the namespace.
#[tokio::test]
async fn an_unavailable_aggregated_api_holds_the_namespace_until_it_goes() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both(|h| async move {
        let client = h.client();
        register_unavailable_apiservice(&client).await?;
        let held = async {
            let name = h.namespace("ns-aggregated", &[], &[]).await?;
            create(
                &client,
                &name,
                "configmaps",
                json!({
                    "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": "cm" },
                }),
            )
            .await?;
            h.delete_namespace(&name).await?;
            let conditions = h
                .wait_conditions(&name, "a discovery failure", |c| {
                    condition(c, "NamespaceDeletionDiscoveryFailure")
                        .is_some_and(|c| c.status == "True")
                })
                .await?;
            let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), &name);
            testenv::wait_for_deletion(&configmaps, "cm", TIMEOUT).await?;
            // Several more passes: still held.
            tokio::time::sleep(Duration::from_secs(3)).await;
            let namespace = h.get(&name).await?.context("held namespace")?;
            anyhow::Ok((name, conditions, spec_finalizers(&namespace)))
        }
        .await;
        let removed = apiservice_api(&client)
            .delete(UNAVAILABLE_APISERVICE, &DeleteParams::default())
            .await;
        let (name, conditions, finalizers) = held?;
        removed?;
        h.wait_gone(&name, Duration::from_secs(90)).await?;
        anyhow::Ok((conditions, finalizers))
    })
    .await?
    else {
        return Ok(());
    };
    let mut expected = all_clear();
    expected[0] = Condition::new(
        "NamespaceDeletionDiscoveryFailure",
        "True",
        "DiscoveryFailed",
        "Discovery failed for some groups, 1 failing: unable to retrieve the complete list of \
         server APIs: unavailable.example.com/v1: stale GroupVersion discovery: \
         unavailable.example.com/v1",
    );
    assert_eq!(ours.0, expected);
    assert_eq!(
        ours.1,
        ["kubernetes"],
        "not finalised while discovery fails"
    );
    assert_eq!(ours, upstream);
    Ok(())
}

/// No built-in resource of 1.37 lacks `deletecollection`, so the fallback is driven directly:
/// a resource discovery says cannot be deleted as a collection is listed and deleted item by
/// item, and one the server does not know (404, kubernetes#22413) counts as nothing to delete.
#[tokio::test]
async fn without_deletecollection_items_are_deleted_one_by_one() -> anyhow::Result<()> {
    use kcm_controllers::{
        namespace::{
            content::ContentDeleter,
            resource::{GroupVersionResource, NamespacedResource, Verbs},
        },
        toolkit::Clock,
    };
    let Some(env) = testenv::TestEnv::get().await else {
        return Ok(());
    };
    let ns = env.namespace("ns-one-by-one").await?;
    let client = env.admin_client();
    for i in 0..3 {
        create(
            &client,
            ns.name(),
            "configmaps",
            json!({
                "apiVersion": "v1", "kind": "ConfigMap", "metadata": { "name": format!("cm{i}") },
            }),
        )
        .await?;
    }
    let deleter = ContentDeleter::new(client.clone(), Clock::system());
    let no_collection = Verbs {
        delete: true,
        delete_collection: false,
        list: true,
    };
    let configmaps = NamespacedResource {
        gvr: GroupVersionResource::new("", "v1", "configmaps"),
        verbs: no_collection,
    };
    let now = jiff::Timestamp::now();
    let outcome = deleter.delete_resource(&configmaps, ns.name(), now).await;
    assert!(outcome.error.is_none(), "{outcome:?}");
    assert_eq!((outcome.estimate, outcome.remaining), (0, 0));
    assert_eq!(
        count(&client, ns.name(), "v1", "ConfigMap", "configmaps").await?,
        0
    );

    let unknown = NamespacedResource {
        gvr: GroupVersionResource::new("", "v1", "nosuchthings"),
        verbs: Verbs {
            delete: true,
            delete_collection: true,
            list: true,
        },
    };
    let outcome = deleter.delete_resource(&unknown, ns.name(), now).await;
    assert!(
        outcome.error.is_none(),
        "404 means not supported: {outcome:?}"
    );
    assert_eq!((outcome.estimate, outcome.remaining), (0, 0));
    Ok(())
}
