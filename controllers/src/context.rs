//! What a controller is built from: the shared informer factory, API clients, its settings, the
//! wall clock and event recorders. Constructors only register informers and handlers; nothing
//! runs until the manager has started the factory (upstream's `ControllerContext`).

use std::{sync::Arc, time::Duration};

use tokio_util::{sync::CancellationToken, task::TaskTracker};

use kcm_shared::{
    client::{ClientError, ClientFactory},
    events::{self, EventRecorder},
    features::FeatureGates,
    informer::SharedInformerFactory,
};

use crate::toolkit::Clock;

/// The per-controller knobs of `KubeControllerManagerConfiguration` that controllers read.
#[derive(Clone, Debug, PartialEq)]
pub struct ControllerSettings {
    pub concurrent_deployment_syncs: usize,
    pub concurrent_endpoint_syncs: usize,
    pub endpoint_updates_batch_period: Duration,
    pub concurrent_rc_syncs: usize,
    pub concurrent_rs_syncs: usize,
    pub terminated_pod_gc_threshold: i32,
    /// The pod GC's pass period and orphan quarantine: upstream's fixed 20 s and 40 s; only
    /// tests change them (hidden flags).
    pub pod_gc_check_period: Duration,
    pub pod_gc_quarantine: Duration,
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
            pod_gc_check_period: crate::podgc::CHECK_PERIOD,
            pod_gc_quarantine: crate::podgc::QUARANTINE,
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
    /// The wall clock every controller reads.
    pub clock: Clock,
    /// `--feature-gates` as parsed and checked; controllers read the gates they honour.
    pub feature_gates: Arc<FeatureGates>,
    /// The event writers of every recorder handed out; see [`EventSinks`].
    pub event_sinks: EventSinks,
}

/// The background writers of the controllers' event recorders. On shutdown the manager calls
/// [`EventSinks::flush`] after the controllers have drained, so every event their last syncs
/// recorded is written before the process exits.
#[derive(Clone, Debug, Default)]
pub struct EventSinks {
    stop: CancellationToken,
    tasks: TaskTracker,
}

impl EventSinks {
    /// Tells every sink to write what is queued and stop, then waits up to `timeout` for them.
    /// Returns false when some sink was still writing at the deadline.
    pub async fn flush(&self, timeout: Duration) -> bool {
        self.stop.cancel();
        self.tasks.close();
        tokio::time::timeout(timeout, self.tasks.wait())
            .await
            .is_ok()
    }
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
    /// the last clone of the recorder is dropped or at [`EventSinks::flush`].
    pub fn recorder(&self, component: &str, client: &kube::Client) -> EventRecorder {
        let (recorder, sink) = events::channel(client.clone(), component, &self.event_host);
        self.event_sinks
            .tasks
            .spawn(sink.run(self.event_sinks.stop.clone()));
        recorder
    }
}
