//! The labels of a managed Endpoints object (upstream `labelsCorrectForEndpoints` and the
//! label part of `syncService`).
//!
//! An Endpoints object carries exactly its Service's labels, plus
//! `service.kubernetes.io/headless: ""` when the Service has no cluster IP, plus
//! `endpoints.kubernetes.io/managed-by: endpoint-controller`. Any other label is dropped on the
//! next write.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Service;

use super::address::CLUSTER_IP_NONE;

/// `LabelManagedBy`.
pub const LABEL_MANAGED_BY: &str = "endpoints.kubernetes.io/managed-by";
/// `ControllerName`, the value of [`LABEL_MANAGED_BY`].
pub const CONTROLLER_NAME: &str = "endpoint-controller";
/// `v1.IsHeadlessService`.
pub const LABEL_HEADLESS: &str = "service.kubernetes.io/headless";

/// `helper.IsServiceIPSet`: a cluster IP other than `None` and "".
pub fn is_service_ip_set(service: &Service) -> bool {
    let cluster_ip = service
        .spec
        .as_ref()
        .and_then(|s| s.cluster_ip.as_deref())
        .unwrap_or("");
    !cluster_ip.is_empty() && cluster_ip != CLUSTER_IP_NONE
}

/// `labelsCorrectForEndpoints`: managed by this controller, and apart from that label and the
/// headless one, exactly the Service's labels. (Whether the headless label is right is not
/// checked, as upstream does not.)
pub fn labels_correct(
    endpoints: Option<&BTreeMap<String, String>>,
    service: Option<&BTreeMap<String, String>>,
) -> bool {
    let empty = BTreeMap::new();
    let endpoints = endpoints.unwrap_or(&empty);
    let service = service.unwrap_or(&empty);
    if endpoints.get(LABEL_MANAGED_BY).map(String::as_str) != Some(CONTROLLER_NAME) {
        return false;
    }
    let mut skipped = 0;
    for (key, value) in endpoints {
        if key == LABEL_HEADLESS || key == LABEL_MANAGED_BY {
            skipped += 1;
        } else if service.get(key) != Some(value) {
            return false;
        }
    }
    service.len() == endpoints.len() - skipped
}

/// The labels a write sets: the Service's, the headless marker when it has no cluster IP,
/// and the managed-by label.
pub fn endpoints_labels(service: &Service) -> BTreeMap<String, String> {
    let mut labels = service.metadata.labels.clone().unwrap_or_default();
    if is_service_ip_set(service) {
        labels.remove(LABEL_HEADLESS);
    } else {
        labels.insert(LABEL_HEADLESS.to_owned(), String::new());
    }
    labels.insert(LABEL_MANAGED_BY.to_owned(), CONTROLLER_NAME.to_owned());
    labels
}

#[cfg(test)]
mod tests;
