//! Reading and writing the Lease: GET, POST, and PUT carrying the resourceVersion we read.
//!
//! The PUT is the compare-and-swap that makes two simultaneous takeovers impossible: the
//! apiserver rejects the second writer with 409 Conflict because the resourceVersion it read
//! is gone. A POST racing another POST gets AlreadyExists. Both surface as [`LockError::Lost`].
//! The trait exists so the elector's timing can be tested with paused time; the real
//! behaviour is tested against an apiserver.

use std::future::Future;

use k8s_openapi::{api::coordination::v1::Lease, apimachinery::pkg::apis::meta::v1::ObjectMeta};
use kube::{Api, api::PostParams};

use super::record::LeaderElectionRecord;

/// A Lease as last read or written, with the resourceVersion a CAS write needs.
#[derive(Clone, Debug)]
pub struct StoredLease {
    pub record: LeaderElectionRecord,
    pub lease: Lease,
}

impl StoredLease {
    fn from_lease(lease: Lease) -> Self {
        let record = lease
            .spec
            .as_ref()
            .map(LeaderElectionRecord::from_spec)
            .unwrap_or_default();
        Self { record, lease }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Someone else wrote first (409 Conflict or AlreadyExists).
    #[error("lost the race for the lease: {0}")]
    Lost(String),
    #[error("lease request failed: {0}")]
    Api(String),
}

/// The three operations the elector needs.
pub trait LeaseLock: Send + Sync {
    fn get(&self) -> impl Future<Output = Result<Option<StoredLease>, LockError>> + Send;
    fn create(
        &self,
        record: &LeaderElectionRecord,
    ) -> impl Future<Output = Result<StoredLease, LockError>> + Send;
    /// Writes `record` over `current`, conditioned on `current`'s resourceVersion.
    fn update(
        &self,
        current: &StoredLease,
        record: &LeaderElectionRecord,
    ) -> impl Future<Output = Result<StoredLease, LockError>> + Send;
    /// `namespace/name`, for logs.
    fn describe(&self) -> String;
}

/// The `leases` lock on a real apiserver.
#[derive(Clone)]
pub struct KubeLeaseLock {
    api: Api<Lease>,
    namespace: String,
    name: String,
    /// Which server and kubeconfig, named in request errors (empty: not named).
    target: String,
}

impl KubeLeaseLock {
    pub fn new(client: kube::Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            namespace: namespace.to_string(),
            name: name.to_string(),
            target: String::new(),
        }
    }

    /// Names `target` (server and kubeconfig) in every request error.
    pub fn with_target(mut self, target: impl std::fmt::Display) -> Self {
        self.target = target.to_string();
        self
    }

    fn classify(&self, error: kube::Error) -> LockError {
        match classify(error) {
            LockError::Api(message) if !self.target.is_empty() => {
                LockError::Api(format!("{message} ({})", self.target))
            }
            other => other,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The Leases of this lock's namespace, e.g. to watch this one.
    pub fn api(&self) -> Api<Lease> {
        self.api.clone()
    }
}

fn classify(error: kube::Error) -> LockError {
    match &error {
        kube::Error::Api(status) if status.is_conflict() || status.is_already_exists() => {
            LockError::Lost(status.message.clone())
        }
        // The cause class (refused, unknown CA, 401, 403, 404 namespace) and the whole chain.
        _ => LockError::Api(crate::client::failure::describe(&error)),
    }
}

impl LeaseLock for KubeLeaseLock {
    async fn get(&self) -> Result<Option<StoredLease>, LockError> {
        let lease = self
            .api
            .get_opt(&self.name)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(lease.map(StoredLease::from_lease))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<StoredLease, LockError> {
        let mut lease = Lease {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..Default::default()
            },
            spec: Some(Default::default()),
        };
        if let Some(spec) = lease.spec.as_mut() {
            record.apply_to(spec);
        }
        let created = self
            .api
            .create(&PostParams::default(), &lease)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(StoredLease::from_lease(created))
    }

    async fn update(
        &self,
        current: &StoredLease,
        record: &LeaderElectionRecord,
    ) -> Result<StoredLease, LockError> {
        let mut lease = current.lease.clone();
        // Never send managedFields back; the resourceVersion stays as read: that is the CAS.
        lease.metadata.managed_fields = None;
        record.apply_to(lease.spec.get_or_insert_with(Default::default));
        let updated = self
            .api
            .replace(&self.name, &PostParams::default(), &lease)
            .await
            .map_err(|e| self.classify(e))?;
        Ok(StoredLease::from_lease(updated))
    }

    fn describe(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }
}
