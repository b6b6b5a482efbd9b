//! Which namespaced resources the server offers, found afresh on every deletion pass
//! (upstream's `discoverResourcesFn = Discovery().ServerPreferredNamespacedResources`).
//!
//! Built-in kinds, CRDs and aggregated APIs all come from the same place: the aggregated
//! discovery documents at `/api` and `/apis` (apidiscovery.k8s.io/v2, GA since Kubernetes 1.30),
//! two requests per pass, fetched with kube's v2 types and Accept header. kube's own
//! `Discovery::run_aggregated` is not used because it ignores `freshness`: an aggregated
//! APIService whose backend is down is listed by the apiserver as a *stale* version without
//! resources, and upstream turns exactly that into a discovery failure which holds the
//! namespace (client-go `StaleGroupVersionError`). Its version choice also differs: upstream
//! keeps, per group/resource, the first non-stale version that serves it (the preferred one
//! when it does), so a resource missing from the preferred version is still found.
//!
//! The conversion is pure ([`preferred_namespaced`], [`deletable`]); [`discover`] does the I/O.

use std::collections::{BTreeMap, HashSet};

use kube::core::discovery::v2::{ACCEPT_AGGREGATED_DISCOVERY_V2, APIGroupDiscovery};
use serde::Deserialize;

use super::resource::{GroupVersionResource, NamespacedResource, Verbs};
use crate::toolkit::ApiFailure;

/// The `freshness` of a version whose document the apiserver could not refresh.
const STALE: &str = "Stale";
const NAMESPACED: &str = "Namespaced";

/// What one discovery pass found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Every namespaced resource in its chosen version, whatever its verbs.
    pub resources: Vec<NamespacedResource>,
    /// Why discovery is incomplete, if it is. Deletion goes on with what was found.
    pub failure: Option<DiscoveryFailure>,
}

/// Why discovery is incomplete.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryFailure {
    /// A discovery document could not be read at all: nothing was discovered.
    #[error(transparent)]
    Request(#[from] ApiFailure),
    /// Some group versions are unavailable (client-go `ErrGroupDiscoveryFailed`): group
    /// version (`v1`, `metrics.example.com/v1beta1`) → why.
    #[error("unable to retrieve the complete list of server APIs: {}", group_list(.0))]
    Groups(BTreeMap<String, String>),
}

fn group_list(failed: &BTreeMap<String, String>) -> String {
    // Go sorts the "<gv>: <err>" strings, which is not always the order of the keys
    // ("a/v1-x: …" sorts before "a/v1: …").
    let mut entries: Vec<String> = failed
        .iter()
        .map(|(gv, why)| format!("{gv}: {why}"))
        .collect();
    entries.sort();
    entries.join(", ")
}

impl DiscoveryFailure {
    /// The message of the `NamespaceDeletionDiscoveryFailure` condition.
    pub fn condition_message(&self) -> String {
        match self {
            DiscoveryFailure::Groups(failed) => format!(
                "Discovery failed for some groups, {} failing: {self}",
                failed.len()
            ),
            DiscoveryFailure::Request(_) => self.to_string(),
        }
    }
}

/// `schema.ParseGroupVersion` refused a group version (`unexpected GroupVersion string: …`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unexpected GroupVersion string: {0}")]
pub struct GroupVersionParseError(pub String);

/// `schema.GroupVersion.String()`: the bare version for the core group.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_owned()
    } else {
        format!("{group}/{version}")
    }
}

/// The namespaced resources of the groups of `/api` then `/apis`, in their chosen versions,
/// and the group versions found stale. Mirrors client-go's `SplitGroupsAndResources` (stale
/// versions fail, resources without a kind are dropped) followed by `ServerPreferredResources`
/// (no subresources; per group/resource the first non-stale version serving it, which is the
/// preferred version when that serves it) and the `Namespaced` filter.
pub fn preferred_namespaced<'a>(
    groups: impl IntoIterator<Item = &'a APIGroupDiscovery>,
) -> (Vec<NamespacedResource>, BTreeMap<String, String>) {
    let mut chosen: HashSet<(String, String)> = HashSet::new();
    let mut resources = Vec::new();
    let mut failed = BTreeMap::new();
    for group in groups {
        let group_name = group
            .metadata
            .as_ref()
            .and_then(|m| m.name.as_deref())
            .unwrap_or_default();
        for version in &group.versions {
            let Some(version_name) = version.version.as_deref() else {
                continue;
            };
            let gv = group_version(group_name, version_name);
            if version.freshness.as_deref() == Some(STALE) {
                failed.insert(gv.clone(), format!("stale GroupVersion discovery: {gv}"));
                continue;
            }
            for resource in &version.resources {
                let Some(name) = resource.resource.as_deref() else {
                    continue;
                };
                let has_kind = resource.response_kind.as_ref().is_some_and(|k| {
                    [&k.group, &k.version, &k.kind]
                        .iter()
                        .any(|f| f.as_deref().is_some_and(|s| !s.is_empty()))
                });
                if name.contains('/') || !has_kind {
                    continue;
                }
                if !chosen.insert((group_name.to_owned(), name.to_owned())) {
                    continue;
                }
                if resource.scope.as_deref() != Some(NAMESPACED) {
                    continue;
                }
                resources.push(NamespacedResource {
                    gvr: GroupVersionResource::new(group_name, version_name, name),
                    verbs: Verbs::from_names(resource.verbs.iter().map(String::as_str)),
                });
            }
        }
    }
    (resources, failed)
}

/// The resources the deleter works on: those that can be deleted
/// (`FilteredBy(SupportsAllVerbs{"delete"})`), after `GroupVersionResources` has parsed every
/// group version. As upstream, one unparsable group version leaves nothing to delete.
pub fn deletable(
    resources: &[NamespacedResource],
) -> Result<Vec<NamespacedResource>, GroupVersionParseError> {
    let deletable: Vec<NamespacedResource> = resources
        .iter()
        .filter(|r| r.verbs.delete)
        .cloned()
        .collect();
    for resource in &deletable {
        let gv = group_version(&resource.gvr.group, &resource.gvr.version);
        if gv.matches('/').count() > 1 {
            return Err(GroupVersionParseError(gv));
        }
    }
    Ok(deletable)
}

/// The part of an aggregated discovery document the deleter reads. The kind is checked, so an
/// apiserver answering with the legacy format is an error rather than an empty document.
#[derive(Deserialize)]
struct Document {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    items: Vec<APIGroupDiscovery>,
}

const DOCUMENT_KIND: &str = "APIGroupDiscoveryList";

async fn fetch(client: &kube::Client, path: &str) -> Result<Vec<APIGroupDiscovery>, ApiFailure> {
    let request = http::Request::get(path)
        .header(http::header::ACCEPT, ACCEPT_AGGREGATED_DISCOVERY_V2)
        .body(Vec::new())
        .map_err(|e| ApiFailure::from(kube::Error::HttpError(e)))?;
    let text = client.request_text(request).await?;
    let document: Document =
        serde_json::from_str(&text).map_err(|e| ApiFailure::from(kube::Error::SerdeError(e)))?;
    if document.kind != DOCUMENT_KIND {
        return Err(ApiFailure::new(
            crate::toolkit::FailureKind::Other,
            format!(
                "GET {path} answered {:?} instead of {DOCUMENT_KIND}: the apiserver must serve \
                 aggregated discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30 or later)",
                document.kind
            ),
        ));
    }
    Ok(document.items)
}

/// One discovery pass: `/api`, then `/apis` (as client-go, a failure of either is a failure of
/// the whole pass).
pub async fn discover(client: &kube::Client) -> Discovered {
    let documents = async {
        let mut groups = fetch(client, "/api").await?;
        groups.extend(fetch(client, "/apis").await?);
        Ok::<_, ApiFailure>(groups)
    };
    match documents.await {
        Ok(groups) => {
            let (resources, failed) = preferred_namespaced(&groups);
            Discovered {
                resources,
                failure: (!failed.is_empty()).then_some(DiscoveryFailure::Groups(failed)),
            }
        }
        Err(failure) => Discovered {
            resources: Vec::new(),
            failure: Some(DiscoveryFailure::Request(failure)),
        },
    }
}

#[cfg(test)]
mod tests;
