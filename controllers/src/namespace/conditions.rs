//! The five deletion conditions on a terminating namespace's status (upstream
//! `deletion/status_condition_utils.go`).
//!
//! Every content pass writes all five: a type with nothing to report gets its "ok" variant
//! (status `False`). Conditions missing from the namespace are appended in the fixed order
//! below; an existing one is rewritten only when its status, reason or message changes, and its
//! `lastTransitionTime` moves only when the status flips, so a namespace stuck on the same
//! problem is not rewritten on every retry. Conditions of other types are left alone.

use std::collections::BTreeMap;

use jiff::Timestamp;
use k8s_openapi::{
    api::core::v1::{NamespaceCondition, NamespaceStatus},
    apimachinery::pkg::apis::meta::v1::Time,
};

use super::resource::GroupVersionResource;

/// The condition types the deleter owns, in the order new ones are appended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConditionType {
    DiscoveryFailure,
    GroupVersionParsingFailure,
    ContentFailure,
    ContentRemaining,
    FinalizersRemaining,
}

impl ConditionType {
    pub const ALL: [ConditionType; 5] = [
        ConditionType::DiscoveryFailure,
        ConditionType::GroupVersionParsingFailure,
        ConditionType::ContentFailure,
        ConditionType::ContentRemaining,
        ConditionType::FinalizersRemaining,
    ];

    /// The `type` string (`v1.NamespaceConditionType`).
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionType::DiscoveryFailure => "NamespaceDeletionDiscoveryFailure",
            ConditionType::GroupVersionParsingFailure => {
                "NamespaceDeletionGroupVersionParsingFailure"
            }
            ConditionType::ContentFailure => "NamespaceDeletionContentFailure",
            ConditionType::ContentRemaining => "NamespaceContentRemaining",
            ConditionType::FinalizersRemaining => "NamespaceFinalizersRemaining",
        }
    }

    fn ok_reason(self) -> &'static str {
        match self {
            ConditionType::DiscoveryFailure => "ResourcesDiscovered",
            ConditionType::GroupVersionParsingFailure => "ParsedGroupVersions",
            ConditionType::ContentFailure => "ContentDeleted",
            ConditionType::ContentRemaining => "ContentRemoved",
            ConditionType::FinalizersRemaining => "ContentHasNoFinalizers",
        }
    }

    fn ok_message(self) -> &'static str {
        match self {
            ConditionType::DiscoveryFailure => "All resources successfully discovered",
            ConditionType::GroupVersionParsingFailure => {
                "All legacy kube types successfully parsed"
            }
            ConditionType::ContentFailure => {
                "All content successfully deleted, may be waiting on finalization"
            }
            ConditionType::ContentRemaining => "All content successfully removed",
            ConditionType::FinalizersRemaining => "All content-preserving finalizers finished",
        }
    }
}

/// What a content pass found still present: instances per resource, and per finalizer the
/// number of instances it holds (`allGVRDeletionMetadata`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RemainingContent {
    pub by_resource: BTreeMap<GroupVersionResource, usize>,
    pub by_finalizer: BTreeMap<String, usize>,
}

impl RemainingContent {
    /// Adds what one resource left behind.
    pub fn add(
        &mut self,
        gvr: &GroupVersionResource,
        remaining: usize,
        finalizers: &BTreeMap<String, usize>,
    ) {
        if remaining == 0 {
            return;
        }
        self.by_resource.insert(gvr.clone(), remaining);
        for (finalizer, &count) in finalizers.iter().filter(|(_, c)| **c > 0) {
            *self.by_finalizer.entry(finalizer.clone()).or_default() += count;
        }
    }

    pub fn remaining_of(&self, gvr: &GroupVersionResource) -> usize {
        self.by_resource.get(gvr).copied().unwrap_or(0)
    }
}

/// A failing condition: reason and message (status is `True`).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Failing {
    kind: ConditionType,
    reason: &'static str,
    message: String,
}

/// Collects what one content pass found, then writes it into a namespace's status
/// (`namespaceConditionUpdater`).
#[derive(Clone, Debug, Default)]
pub struct ConditionUpdater {
    failing: Vec<Failing>,
    delete_content_errors: Vec<String>,
}

impl ConditionUpdater {
    /// `ProcessDiscoverResourcesErr`; `message` is the failure's condition message.
    pub fn discovery_failed(&mut self, message: String) {
        self.fail(ConditionType::DiscoveryFailure, "DiscoveryFailed", message);
    }

    /// `ProcessGroupVersionErr`.
    pub fn group_versions_failed(&mut self, message: String) {
        self.fail(
            ConditionType::GroupVersionParsingFailure,
            "GroupVersionParsingFailed",
            message,
        );
    }

    /// `ProcessDeleteContentErr`: one resource's deletion failed.
    pub fn delete_content_failed(&mut self, message: String) {
        self.delete_content_errors.push(message);
    }

    /// `ProcessContentTotals`: what remains, by resource and by finalizer.
    pub fn content_totals(&mut self, remaining: &RemainingContent) {
        if !remaining.by_resource.is_empty() {
            let mut parts: Vec<String> = remaining
                .by_resource
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(gvr, n)| format!("{} has {n} resource instances", gvr.group_resource()))
                .collect();
            parts.sort();
            self.fail(
                ConditionType::ContentRemaining,
                "SomeResourcesRemain",
                format!("Some resources are remaining: {}", parts.join(", ")),
            );
        }
        if !remaining.by_finalizer.is_empty() {
            let mut parts: Vec<String> = remaining
                .by_finalizer
                .iter()
                .filter(|(_, n)| **n > 0)
                .map(|(finalizer, n)| format!("{finalizer} in {n} resource instances"))
                .collect();
            parts.sort();
            self.fail(
                ConditionType::FinalizersRemaining,
                "SomeFinalizersRemain",
                format!(
                    "Some content in the namespace has finalizers remaining: {}",
                    parts.join(", ")
                ),
            );
        }
    }

    fn fail(&mut self, kind: ConditionType, reason: &'static str, message: String) {
        self.failing.push(Failing {
            kind,
            reason,
            message,
        });
    }

    /// The content-failure condition built from the collected errors (`makeDeleteContentCondition`).
    fn content_failure(&self) -> Option<Failing> {
        if self.delete_content_errors.is_empty() {
            return None;
        }
        let mut messages = self.delete_content_errors.clone();
        messages.sort();
        Some(Failing {
            kind: ConditionType::ContentFailure,
            reason: "ContentDeletionFailed",
            message: format!(
                "Failed to delete all resource types, {} remaining: {}",
                messages.len(),
                messages.join(", ")
            ),
        })
    }

    /// `Update`: writes the five conditions into `status` as of `now`; true if anything changed.
    pub fn apply(&self, status: &mut NamespaceStatus, now: Timestamp) -> bool {
        let content_failure = self.content_failure();
        let failing = |kind: ConditionType| {
            self.failing
                .iter()
                .find(|f| f.kind == kind)
                .or(content_failure.as_ref().filter(|f| f.kind == kind))
        };
        // metav1.Time keeps whole seconds (RFC 3339, truncated): write what the API returns.
        let now = Time(Timestamp::from_second(now.as_second()).unwrap_or(now));
        let conditions = status.conditions.get_or_insert_with(Vec::new);
        let mut changed = false;
        for kind in ConditionType::ALL {
            let (status_value, reason, message) = match failing(kind) {
                Some(f) => ("True", f.reason, f.message.as_str()),
                None => ("False", kind.ok_reason(), kind.ok_message()),
            };
            match conditions.iter_mut().find(|c| c.type_ == kind.as_str()) {
                None => {
                    conditions.push(NamespaceCondition {
                        type_: kind.as_str().to_owned(),
                        status: status_value.to_owned(),
                        reason: Some(reason.to_owned()),
                        message: Some(message.to_owned()),
                        last_transition_time: Some(now.clone()),
                    });
                    changed = true;
                }
                Some(old) => {
                    let same_status = old.status == status_value;
                    if same_status
                        && old.reason.as_deref().unwrap_or_default() == reason
                        && old.message.as_deref().unwrap_or_default() == message
                    {
                        continue;
                    }
                    if !same_status {
                        old.last_transition_time = Some(now.clone());
                    }
                    old.status = status_value.to_owned();
                    old.reason = Some(reason.to_owned());
                    old.message = Some(message.to_owned());
                    changed = true;
                }
            }
        }
        changed
    }
}

#[cfg(test)]
mod tests;
