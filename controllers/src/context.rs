//! What a controller is built from: the shared informer factory, API clients, its settings and
//! an event recorder. Constructors only register informers and handlers; nothing runs until the
//! manager has started the factory (upstream's `ControllerContext`).

use std::{sync::Arc, time::Duration};

use tokio_util::sync::CancellationToken;

use kcm_shared::{
    client::{ClientError, ClientFactory},
    events::{self, EventRecorder},
    informer::SharedInformerFactory,
};

/// The per-controller knobs of `KubeControllerManagerConfiguration` that controllers read.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerSettings {
    pub concurrent_deployment_syncs: usize,
    pub concurrent_endpoint_syncs: usize,
    pub endpoint_updates_batch_period: Duration,
    pub concurrent_rc_syncs: usize,
    pub concurrent_rs_syncs: usize,
    pub terminated_pod_gc_threshold: i32,
    pub namespace_sync_period: Duration,
    pub concurrent_namespace_syncs: usize,
}

impl Default for ControllerSettings {
    /// Upstream defaults (process.md §1.5).
    fn default() -> Self {
        Self {
            concurrent_deployment_syncs: 5,
            concurrent_endpoint_syncs: 5,
            endpoint_updates_batch_period: Duration::ZERO,
            concurrent_rc_syncs: 5,
            concurrent_rs_syncs: 5,
            terminated_pod_gc_threshold: 12500,
            namespace_sync_period: Duration::from_secs(300),
            concurrent_namespace_syncs: 10,
        }
    }
}

/// Everything a controller constructor may use.
#[derive(Clone)]
pub struct ControllerContext {
    pub factory: Arc<SharedInformerFactory>,
    pub clients: ClientFactory,
    pub settings: Arc<ControllerSettings>,
    /// `reportingInstance` of the events controllers record (the host name).
    pub event_host: Arc<str>,
}

impl ControllerContext {
    /// The API client a controller uses, named as upstream's client builder names it. With
    /// `--use-service-account-credentials` it acts as ServiceAccount `kube-system/<client_name>`.
    pub fn client(&self, client_name: &str) -> Result<kube::Client, ClientError> {
        self.clients.controller_client(client_name)
    }

    /// A recorder reporting as `component` (e.g. `replicaset-controller`) that writes through
    /// `client`, so events share the controller's QPS budget as upstream's do (each upstream
    /// controller starts its own broadcaster on its own clientset). The writer task ends when
    /// the last clone of the recorder is dropped.
    pub fn recorder(&self, component: &str, client: &kube::Client) -> EventRecorder {
        let (recorder, sink) = events::channel(client.clone(), component, &self.event_host);
        tokio::spawn(sink.run(CancellationToken::new()));
        recorder
    }
}
