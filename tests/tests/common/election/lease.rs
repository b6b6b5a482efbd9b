//! Reading the Leases the electors write, as the apiserver stores them.

use k8s_openapi::api::coordination::v1::Lease;
use kube::{Api, Client};

/// Leader election Leases live here unless a test says otherwise.
pub const NAMESPACE: &str = "kube-system";

/// The parts of a Lease the tests look at.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// Empty when released (or never held).
    pub holder: String,
    pub renew_time: Option<jiff::Timestamp>,
    pub transitions: i32,
}

impl Held {
    fn of(lease: &Lease) -> Self {
        let spec = lease.spec.clone().unwrap_or_default();
        Self {
            holder: spec.holder_identity.unwrap_or_default(),
            renew_time: spec.renew_time.map(|t| t.0),
            transitions: spec.lease_transitions.unwrap_or_default(),
        }
    }
}

/// `kube-system` Leases through the admin client.
pub fn api(client: Client) -> Api<Lease> {
    Api::namespaced(client, NAMESPACE)
}

/// The Lease `name`, or `None` if it does not exist (yet).
pub async fn read(api: &Api<Lease>, name: &str) -> anyhow::Result<Option<Held>> {
    Ok(api.get_opt(name).await?.as_ref().map(Held::of))
}
