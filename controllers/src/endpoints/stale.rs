//! The stale-cache guard (upstream `staleEndpointsTracker`).
//!
//! After an update that moved an Endpoints object to a new resourceVersion, the version it
//! replaced is remembered: a sync that still finds that version in the cache knows the
//! cache is behind its own write, and retries later instead of writing from stale data.

use std::collections::HashMap;

use kcm_shared::informer::ObjectKey;
use parking_lot::Mutex;

#[derive(Debug, Default)]
pub struct StaleTracker {
    replaced: Mutex<HashMap<ObjectKey, String>>,
}

impl StaleTracker {
    pub fn new() -> Self {
        Self::default()
    }

    /// `Stale`: `resource_version` of `key` has been replaced by this controller.
    pub fn replaced(&self, key: &ObjectKey, resource_version: &str) {
        self.replaced
            .lock()
            .insert(key.clone(), resource_version.to_owned());
    }

    /// `IsStale`: the cached copy is one this controller has already replaced.
    pub fn is_stale(&self, key: &ObjectKey, resource_version: &str) -> bool {
        self.replaced
            .lock()
            .get(key)
            .is_some_and(|rv| rv == resource_version)
    }

    /// `Delete`: the Service is gone.
    pub fn delete(&self, key: &ObjectKey) {
        self.replaced.lock().remove(key);
    }
}

#[cfg(test)]
mod tests;
