//! Handler tests: deltas in, queued Service keys out. Listers come from detached informers.

use super::*;
use crate::endpoints::testing::{at, labels, pod, service, with_labels};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use kcm_shared::informer::Informer;
use kube::runtime::watcher::Event;

fn svc(name: &str, selector: Option<&[(&str, &str)]>) -> Service {
    let mut s = service(IntOrString::Int(8080));
    s.metadata.name = Some(name.into());
    s.spec.as_mut().unwrap().selector = selector.map(labels);
    s
}

fn rv(mut p: CachedPod, version: &str) -> CachedPod {
    p.resource_version = version.into();
    p
}

struct Fixture {
    _services: Informer<Service>,
    queue: Arc<WorkQueue<ObjectKey>>,
    handlers: EventHandlers,
}

impl Fixture {
    fn new(services: Vec<Service>) -> Self {
        let informer = Informer::<Service>::detached(Duration::ZERO);
        for s in services {
            informer.process_event(Event::Apply(s));
        }
        let queue = WorkQueue::builder().build();
        let handlers = EventHandlers::new(informer.lister(), queue.clone(), Duration::ZERO);
        Self {
            _services: informer,
            queue,
            handlers,
        }
    }

    async fn drain(&self) -> Vec<String> {
        let mut keys = Vec::new();
        while !self.queue.is_empty() {
            let key = self.queue.get().await.expect("queue is running");
            self.queue.done(&key);
            keys.push(key.to_string());
        }
        keys.sort();
        keys
    }

    fn update(&self, old: CachedPod, new: CachedPod) {
        self.handlers.on_pod(&Delta::Updated {
            old: Arc::new(old),
            new: Arc::new(new),
        });
    }
}

fn services() -> Vec<Service> {
    vec![
        svc("a", Some(&[("app", "a")])),
        svc("b", Some(&[("app", "b")])),
        svc("all-a", Some(&[("app", "a")])),
        svc("manual", None),
    ]
}

#[tokio::test]
async fn a_new_or_deleted_pod_wakes_the_services_selecting_it() {
    let f = Fixture::new(services());
    f.handlers.on_pod(&Delta::Added {
        obj: Arc::new(pod("p1", "10.0.0.1", true)),
        initial_list: false,
    });
    assert_eq!(f.drain().await, ["t/a", "t/all-a"]);
    f.handlers.on_pod(&Delta::Deleted {
        obj: Arc::new(with_labels(pod("p1", "10.0.0.1", true), &[("app", "b")])),
        final_state_unknown: true,
    });
    assert_eq!(f.drain().await, ["t/b"]);
}

#[tokio::test]
async fn resyncs_and_irrelevant_updates_wake_nothing() {
    let f = Fixture::new(services());
    let p = pod("p1", "10.0.0.1", true);
    f.update(p.clone(), p.clone());
    let mut phase_only = rv(p.clone(), "2");
    phase_only.phase = Some("Succeeded".into());
    f.update(p.clone(), phase_only);
    let mut node_moved = rv(p.clone(), "3");
    node_moved.node_name = Some("n2".into());
    f.update(p, node_moved);
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn readiness_ip_and_deletion_changes_wake_the_current_services() {
    let f = Fixture::new(services());
    let p = pod("p1", "10.0.0.1", true);
    f.update(p.clone(), rv(pod("p1", "10.0.0.1", false), "2"));
    assert_eq!(f.drain().await, ["t/a", "t/all-a"]);
    f.update(p.clone(), rv(pod("p1", "10.0.0.2", true), "2"));
    assert_eq!(f.drain().await, ["t/a", "t/all-a"]);
    let mut deleting = rv(p.clone(), "2");
    deleting.deletion_timestamp = Some(at(1));
    f.update(p, deleting.clone());
    assert_eq!(f.drain().await, ["t/a", "t/all-a"]);
    // Any later update of a pod being deleted counts (upstream compares pointers).
    f.update(deleting.clone(), rv(deleting, "3"));
    assert_eq!(f.drain().await, ["t/a", "t/all-a"]);
}

#[tokio::test]
async fn a_label_change_alone_wakes_the_services_joined_or_left() {
    let f = Fixture::new(services());
    let p = pod("p1", "10.0.0.1", true);
    f.update(p.clone(), rv(with_labels(p.clone(), &[("app", "b")]), "2"));
    assert_eq!(f.drain().await, ["t/a", "t/all-a", "t/b"]);
    // An extra label that changes no membership: nothing.
    f.update(
        p.clone(),
        rv(with_labels(p.clone(), &[("app", "a"), ("x", "y")]), "2"),
    );
    assert!(f.drain().await.is_empty());
    // A hostname change alone counts as a label change: membership unchanged, nothing.
    let mut renamed = rv(p.clone(), "2");
    renamed.hostname = Some("web-0".into());
    f.update(p, renamed);
    assert!(f.drain().await.is_empty());
}

#[tokio::test]
async fn labels_and_status_changing_together_wake_old_and_new_services() {
    let f = Fixture::new(services());
    let p = pod("p1", "10.0.0.1", true);
    let moved = with_labels(rv(pod("p1", "10.0.0.1", false), "2"), &[("app", "b")]);
    f.update(p, moved);
    assert_eq!(f.drain().await, ["t/a", "t/all-a", "t/b"]);
}

#[tokio::test]
async fn services_and_endpoints_deletes_are_queued_at_once() {
    let f = Fixture::new(Vec::new());
    let s = Arc::new(svc("a", None));
    f.handlers.on_service(&Delta::Updated {
        old: s.clone(),
        new: s.clone(),
    });
    assert_eq!(f.drain().await, ["t/a"], "resyncs included");
    let ep = Arc::new(Endpoints {
        metadata: kube::api::ObjectMeta {
            namespace: Some("t".into()),
            name: Some("e".into()),
            ..Default::default()
        },
        subsets: None,
    });
    f.handlers.on_endpoints(&Delta::Added {
        obj: ep.clone(),
        initial_list: false,
    });
    f.handlers.on_endpoints(&Delta::Updated {
        old: ep.clone(),
        new: ep.clone(),
    });
    assert!(f.drain().await.is_empty());
    f.handlers.on_endpoints(&Delta::Deleted {
        obj: ep,
        final_state_unknown: false,
    });
    assert_eq!(f.drain().await, ["t/e"]);
}

#[test]
fn services_without_a_selector_select_nothing() {
    let services: Vec<Arc<Service>> = services().into_iter().map(Arc::new).collect();
    let p = with_labels(pod("p1", "10.0.0.1", true), &[]);
    assert!(services_selecting(&services, p.meta_labels()).is_empty());
}
