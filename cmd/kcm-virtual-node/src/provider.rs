//! The pluggable part of a virtual node: what the pod's containers do.
//!
//! virtual-kubelet splits a node into the generic machinery (watching pods, writing their
//! status, finishing deletions: here [`crate::pod_controller`]) and a provider that runs the
//! containers somewhere. The provider here runs nothing: [`Simulated`] derives each pod's
//! containers from its annotations and the clock ([`crate::behaviour`], [`crate::lifecycle`]).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;

use crate::{
    behaviour::Behaviour,
    lifecycle::{self, Observed, RestartBackoff, Step},
    node_set::Rejection,
};

/// Runs the containers of pods admitted to the node.
pub trait Provider: Send + Sync + 'static {
    /// The pod's next step at `now`: a status to report (when it changes) and when to look
    /// again. `Err` refuses a pod that was not admitted yet; it is reported Failed with the
    /// rejection's reason.
    fn step(&self, pod: &Pod, now: Timestamp) -> Result<Step, Rejection>;
}

/// Containers that exist only as status: see [`crate::behaviour`] for what they do.
#[derive(Debug, Clone, Copy, Default)]
pub struct Simulated {
    pub backoff: RestartBackoff,
}

impl Provider for Simulated {
    fn step(&self, pod: &Pod, now: Timestamp) -> Result<Step, Rejection> {
        let observed = lifecycle::observe(pod);
        if observed == Observed::Finished {
            return Ok(Step::default());
        }
        let behaviour = match Behaviour::of(pod) {
            Ok(b) => b,
            Err(e) if observed == Observed::Unadmitted => {
                return Err(Rejection {
                    reason: "InvalidAnnotation".to_owned(),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                // Annotations edited on a running pod: keep it running rather than kill it.
                tracing::warn!(
                    namespace = pod.metadata.namespace.as_deref().unwrap_or_default(),
                    pod = pod.metadata.name.as_deref().unwrap_or_default(),
                    "{e}; ignoring the pod's behaviour annotations"
                );
                Behaviour::default()
            }
        };
        Ok(lifecycle::step(pod, &behaviour, now, self.backoff))
    }
}
