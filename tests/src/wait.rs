//! Waiting for the cluster to reach a state, with a deadline.
//!
//! Controllers converge eventually, so integration tests poll. A bare timeout says nothing
//! about why, so every wait keeps a description of the last thing it observed and puts it in
//! the error: usually the object as YAML, which shows how far the controller got.

use std::{fmt, future::Future, time::Duration};

use kube::{Api, Resource};
use serde::{Serialize, de::DeserializeOwned};

/// How often the helpers poll.
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// One observation of a condition being waited for.
#[derive(Debug)]
pub enum Check<T> {
    /// The condition holds; the wait ends with this value.
    Done(T),
    /// Not yet; the text describes what was seen (shown if the wait times out).
    NotYet(String),
}

/// A wait that ran out of time.
#[derive(Debug)]
pub struct WaitTimeout {
    /// What was being waited for.
    pub what: String,
    /// How long it waited.
    pub waited: Duration,
    /// Description of the last observation.
    pub last_observed: String,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}; last observed:\n{}",
            self.waited, self.what, self.last_observed
        )
    }
}

impl std::error::Error for WaitTimeout {}

/// Calls `check` every [`POLL_INTERVAL`] until it returns [`Check::Done`] or `timeout`
/// passes. `check` runs at least once, however short the timeout.
pub async fn wait_until<T, F, Fut>(
    timeout: Duration,
    what: &str,
    mut check: F,
) -> Result<T, WaitTimeout>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Check<T>>,
{
    let start = tokio::time::Instant::now();
    loop {
        let last_observed = match check().await {
            Check::Done(value) => return Ok(value),
            Check::NotYet(observed) => observed,
        };
        if start.elapsed() >= timeout {
            return Err(WaitTimeout {
                what: what.to_owned(),
                waited: start.elapsed(),
                last_observed,
            });
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

/// Waits until the object `name` exists and satisfies `condition`; returns it. On timeout
/// the error shows the object as last read (or that it did not exist).
pub async fn wait_for_object<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
    what: &str,
    condition: impl Fn(&K) -> bool,
) -> Result<K, WaitTimeout>
where
    K: Resource + Clone + DeserializeOwned + Serialize + fmt::Debug,
{
    wait_until(timeout, what, || async {
        match api.get_opt(name).await {
            Ok(Some(object)) if condition(&object) => Check::Done(object),
            Ok(Some(object)) => Check::NotYet(describe(&object)),
            Ok(None) => Check::NotYet(format!("{name} does not exist")),
            Err(e) => Check::NotYet(format!("reading {name} failed: {e}")),
        }
    })
    .await
}

/// Waits until the object `name` no longer exists. On timeout the error shows it.
pub async fn wait_for_deletion<K>(
    api: &Api<K>,
    name: &str,
    timeout: Duration,
) -> Result<(), WaitTimeout>
where
    K: Resource + Clone + DeserializeOwned + Serialize + fmt::Debug,
{
    wait_until(timeout, &format!("{name} to be deleted"), || async {
        match api.get_opt(name).await {
            Ok(None) => Check::Done(()),
            Ok(Some(object)) => Check::NotYet(describe(&object)),
            Err(e) => Check::NotYet(format!("reading {name} failed: {e}")),
        }
    })
    .await
}

/// YAML without `managedFields`, which are long and rarely tell why a test failed.
pub fn describe<K: Resource + Serialize>(object: &K) -> String {
    let mut value = match serde_json::to_value(object) {
        Ok(value) => value,
        Err(e) => return format!("(cannot serialise: {e})"),
    };
    if let Some(metadata) = value.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        metadata.remove("managedFields");
    }
    serde_yaml::to_string(&value).unwrap_or_else(|e| format!("(cannot render: {e})"))
}

#[cfg(test)]
mod tests;

/// The namespace's pods, sorted by name.
pub async fn namespace_pods(
    ns: &crate::TestNamespace,
) -> anyhow::Result<Vec<k8s_openapi::api::core::v1::Pod>> {
    use kube::ResourceExt;
    let mut pods = ns
        .api::<k8s_openapi::api::core::v1::Pod>()
        .list(&kube::api::ListParams::default())
        .await?
        .items;
    pods.sort_by_key(|p| p.name_any());
    Ok(pods)
}

/// Waits until the namespace's pods (sorted by name) satisfy `condition`; returns them. On
/// timeout the error names the pods last seen.
pub async fn wait_namespace_pods(
    ns: &crate::TestNamespace,
    timeout: Duration,
    what: &str,
    condition: impl Fn(&[k8s_openapi::api::core::v1::Pod]) -> bool,
) -> anyhow::Result<Vec<k8s_openapi::api::core::v1::Pod>> {
    use kube::ResourceExt;
    Ok(wait_until(timeout, what, || async {
        match namespace_pods(ns).await {
            Ok(pods) if condition(&pods) => Check::Done(pods),
            Ok(pods) => Check::NotYet(format!(
                "{} pods: {:?}",
                pods.len(),
                pods.iter().map(|p| p.name_any()).collect::<Vec<_>>()
            )),
            Err(e) => Check::NotYet(format!("listing pods failed: {e}")),
        }
    })
    .await?)
}
