//! Upstream's two Pod GC counters (`pkg/controller/podgc/metrics`), in the process registry so
//! `/metrics` shows them. Both count per namespace and pass; the total counts attempts, failed
//! ones included.

use std::sync::LazyLock;

use prometheus::{IntCounterVec, Opts};

/// The `reason` label: which pass force-deleted the pod.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// Beyond `--terminated-pod-gc-threshold`.
    Terminated,
    /// Terminating on a NotReady node with the out-of-service taint.
    OutOfService,
    /// Bound to a node that no longer exists.
    Orphaned,
    /// Terminating and bound to no node.
    Unscheduled,
}

impl Reason {
    pub fn label(self) -> &'static str {
        match self {
            Reason::Terminated => "terminated",
            Reason::OutOfService => "out-of-service",
            Reason::Orphaned => "orphaned",
            Reason::Unscheduled => "unscheduled",
        }
    }
}

fn counter(name: &str, help: &str) -> Option<IntCounterVec> {
    // component-base prefixes the help of ALPHA metrics so.
    let opts = Opts::new(name, format!("[ALPHA] {help}"));
    let family = IntCounterVec::new(opts, &["namespace", "reason"])
        .inspect_err(|error| tracing::error!(%error, name, "cannot build metric"))
        .ok()?;
    // Only fails if the name is taken; the collector works on without this metric then.
    prometheus::register(Box::new(family.clone()))
        .inspect_err(|error| tracing::error!(%error, name, "cannot register metric"))
        .ok()?;
    Some(family)
}

static DELETING_PODS: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    counter(
        "pod_gc_collector_force_delete_pods_total",
        "Number of pods that are being forcefully deleted since the Pod GC Controller started.",
    )
});

static DELETING_POD_ERRORS: LazyLock<Option<IntCounterVec>> = LazyLock::new(|| {
    counter(
        "pod_gc_collector_force_delete_pod_errors_total",
        "Number of errors encountered when forcefully deleting the pods since the Pod GC Controller started.",
    )
});

/// Registers both families (upstream `RegisterMetrics`, called by the constructor).
pub fn register() {
    LazyLock::force(&DELETING_PODS);
    LazyLock::force(&DELETING_POD_ERRORS);
}

/// One force-delete attempt.
pub fn attempted(namespace: &str, reason: Reason) {
    if let Some(family) = DELETING_PODS.as_ref() {
        family.with_label_values(&[namespace, reason.label()]).inc();
    }
}

/// One failed force-delete (the patch or the delete).
pub fn failed(namespace: &str, reason: Reason) {
    if let Some(family) = DELETING_POD_ERRORS.as_ref() {
        family.with_label_values(&[namespace, reason.label()]).inc();
    }
}
