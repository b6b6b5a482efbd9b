//! Sync tests: cached objects in, API calls and events out, through a scripted control.

use super::*;
use crate::{
    endpoints::testing::{pod, service},
    toolkit::ApiFailure,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kcm_shared::informer::Informer;
use kube::runtime::watcher::Event;
use parking_lot::Mutex;
use std::time::Duration;

#[derive(Default)]
struct FakeControl {
    calls: Mutex<Vec<String>>,
    events: Mutex<Vec<(String, String)>>,
    /// The failure the next write or delete meets.
    fail: Mutex<Option<ApiFailure>>,
    /// resourceVersion an update returns.
    updated_rv: Mutex<String>,
}

impl FakeControl {
    fn outcome(&self, call: String) -> Result<(), ApiFailure> {
        self.calls.lock().push(call);
        self.fail.lock().take().map_or(Ok(()), Err)
    }
}

impl EndpointsControl for FakeControl {
    async fn create(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
    ) -> Result<Endpoints, ApiFailure> {
        let name = endpoints.metadata.name.clone().unwrap_or_default();
        self.outcome(format!("create {namespace}/{name}"))?;
        Ok(endpoints.clone())
    }

    async fn update(
        &self,
        namespace: &str,
        endpoints: &Endpoints,
    ) -> Result<Endpoints, ApiFailure> {
        let name = endpoints.metadata.name.clone().unwrap_or_default();
        self.outcome(format!("update {namespace}/{name}"))?;
        let mut updated = endpoints.clone();
        updated.metadata.resource_version = Some(self.updated_rv.lock().clone());
        Ok(updated)
    }

    async fn delete(&self, namespace: &str, name: &str) -> Result<(), ApiFailure> {
        self.outcome(format!("delete {namespace}/{name}"))
    }

    fn event(&self, _: &Endpoints, _: EventType, reason: &str, message: String) {
        self.events.lock().push((reason.to_owned(), message));
    }
}

struct Fixture {
    services: Informer<Service>,
    pods: Informer<CachedPod>,
    endpoints: Informer<Endpoints>,
    syncer: Syncer<FakeControl>,
}

impl Fixture {
    fn new() -> Self {
        let services = Informer::<Service>::detached(Duration::ZERO);
        let pods = Informer::<CachedPod>::detached(Duration::ZERO);
        let endpoints = Informer::<Endpoints>::detached(Duration::ZERO);
        let syncer = Syncer::new(
            services.lister(),
            pods.lister(),
            endpoints.lister(),
            FakeControl::default(),
        );
        Self {
            services,
            pods,
            endpoints,
            syncer,
        }
    }

    async fn sync(&self) -> Result<Action, SyncError> {
        self.syncer.sync(&ObjectKey::namespaced("t", "s")).await
    }

    fn calls(&self) -> Vec<String> {
        std::mem::take(&mut *self.syncer.control.calls.lock())
    }

    fn cache_endpoints(&self, rv: &str) {
        let object = Endpoints {
            metadata: kube::api::ObjectMeta {
                namespace: Some("t".into()),
                name: Some("s".into()),
                resource_version: Some(rv.into()),
                ..Default::default()
            },
            subsets: None,
        };
        self.endpoints.process_event(Event::Apply(object));
    }
}

#[tokio::test]
async fn a_missing_service_deletes_its_endpoints_and_not_found_is_fine() {
    let f = Fixture::new();
    *f.syncer.control.fail.lock() = Some(ApiFailure::new(FailureKind::NotFound, "gone"));
    assert_eq!(f.sync().await.unwrap(), Action::Done);
    assert_eq!(f.calls(), ["delete t/s"]);
    *f.syncer.control.fail.lock() = Some(ApiFailure::new(FailureKind::Other, "boom"));
    assert!(f.sync().await.is_err());
}

#[tokio::test]
async fn selectorless_and_external_name_services_are_left_alone() {
    let f = Fixture::new();
    let mut svc = service(IntOrString::Int(8080));
    svc.spec.as_mut().unwrap().selector = None;
    f.services.process_event(Event::Apply(svc.clone()));
    f.sync().await.unwrap();
    svc.spec.as_mut().unwrap().selector = service(IntOrString::Int(1)).spec.unwrap().selector;
    svc.spec.as_mut().unwrap().type_ = Some("ExternalName".into());
    f.services.process_event(Event::Apply(svc));
    f.sync().await.unwrap();
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn creates_then_updates_with_the_stale_cache_guard() {
    let f = Fixture::new();
    f.services
        .process_event(Event::Apply(service(IntOrString::Int(8080))));
    f.pods
        .process_event(Event::Apply(pod("p1", "10.1.0.5", true)));
    f.sync().await.unwrap();
    assert_eq!(f.calls(), ["create t/s"]);

    // The cache now holds an outdated copy (no subsets, no labels): update it.
    f.cache_endpoints("5");
    *f.syncer.control.updated_rv.lock() = "6".into();
    f.sync().await.unwrap();
    assert_eq!(f.calls(), ["update t/s"]);
    // The cache still shows version 5, which was replaced: retry, do not write.
    let error = f.sync().await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("resource version 5 already processed"),
        "{error}"
    );
    assert!(f.calls().is_empty());
}

#[tokio::test]
async fn failed_writes_are_reported_except_in_a_terminating_namespace() {
    let f = Fixture::new();
    f.services
        .process_event(Event::Apply(service(IntOrString::Int(8080))));
    *f.syncer.control.fail.lock() = Some(ApiFailure::new(
        FailureKind::NamespaceTerminating,
        "terminating",
    ));
    assert_eq!(f.sync().await.unwrap(), Action::Done);
    assert!(f.syncer.control.events.lock().is_empty());

    *f.syncer.control.fail.lock() = Some(ApiFailure::new(FailureKind::Forbidden, "nope"));
    assert!(f.sync().await.is_err());
    f.cache_endpoints("5");
    *f.syncer.control.fail.lock() = Some(ApiFailure::new(FailureKind::Conflict, "changed"));
    assert!(f.sync().await.unwrap_err().is_conflict());
    assert_eq!(
        *f.syncer.control.events.lock(),
        [
            (
                FAILED_TO_CREATE_ENDPOINT.to_owned(),
                "Failed to create endpoint for service t/s: nope".to_owned()
            ),
            (
                FAILED_TO_UPDATE_ENDPOINT.to_owned(),
                "Failed to update endpoint t/s: changed".to_owned()
            ),
        ]
    );
}
