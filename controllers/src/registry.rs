//! The controller registry: one descriptor per controller kcm-rs implements.
//!
//! A descriptor pairs the names from [`crate::names`] (canonical name, aliases, on by default)
//! with how to build the controller from a [`ControllerContext`]. Adding a controller means
//! writing its module and one line in [`descriptors`].

use std::sync::Arc;

use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::{context::ControllerContext, runtime::StartupFailed};

/// A built controller: its informers and handlers are registered; `run` does the rest.
pub trait Controller: Send + Sync {
    /// Waits for its caches, runs its workers until `cancel`, then returns after in-flight
    /// syncs end. An error means the controller could not start; the process should exit.
    fn run(
        self: Arc<Self>,
        cancel: CancellationToken,
    ) -> BoxFuture<'static, Result<(), StartupFailed>>;
}

#[derive(Debug, thiserror::Error)]
#[error("building {controller}: {message}")]
pub struct BuildError {
    pub controller: &'static str,
    pub message: String,
}

impl BuildError {
    pub fn new(controller: &'static str, message: impl std::fmt::Display) -> Self {
        Self {
            controller,
            message: message.to_string(),
        }
    }
}

pub type BuildFn = fn(&ControllerContext) -> Result<Arc<dyn Controller>, BuildError>;

/// How to build one implemented controller.
#[derive(Clone, Copy)]
pub struct ControllerDescriptor {
    /// Canonical `--controllers` name, e.g. `replicaset-controller`.
    pub name: &'static str,
    pub build: BuildFn,
}

impl std::fmt::Debug for ControllerDescriptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControllerDescriptor")
            .field("name", &self.name)
            .finish()
    }
}

/// Every controller kcm-rs can run, in start order.
pub fn descriptors() -> Vec<ControllerDescriptor> {
    vec![
        crate::replicaset::replicationcontroller_descriptor(),
        crate::replicaset::replicaset_descriptor(),
        crate::namespace::descriptor(),
        crate::endpoints::descriptor(),
        crate::podgc::descriptor(),
        crate::deployment::descriptor(),
    ]
}

/// The descriptor for a canonical name.
pub fn descriptor(name: &str) -> Option<ControllerDescriptor> {
    descriptors().into_iter().find(|d| d.name == name)
}
