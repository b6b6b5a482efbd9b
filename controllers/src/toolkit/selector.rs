//! Label selectors as controllers use them (upstream `metav1.LabelSelectorAsSelector` and
//! `labels.SelectorFromSet`): converted once per sync, then matched against many objects.
//!
//! Two details matter for upstream parity: a *missing* selector matches nothing, while an
//! *empty* one matches everything when claiming but wakes no controller for an orphan
//! ("if a ReplicaSet with a nil or empty selector creeps in, it should match nothing, not
//! everything").

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kcm_shared::meta::Labels;
use kube::core::{Expression, Selector};

/// A label selector converted for matching.
#[derive(Clone, Debug, PartialEq)]
pub enum ObjectSelector {
    /// A missing selector matches no object (`LabelSelectorAsSelector(nil)` is `labels.Nothing()`).
    Nothing,
    /// Matches objects whose labels satisfy every requirement; none matches everything.
    Matching(Vec<Expression>),
}

/// One requirement against labels in either cached form (`labels.Requirement.Matches`).
fn satisfied(requirement: &Expression, labels: Labels<'_>) -> bool {
    match requirement {
        Expression::In(key, values) => labels.get(key).is_some_and(|v| values.contains(v)),
        Expression::NotIn(key, values) => labels.get(key).is_none_or(|v| !values.contains(v)),
        Expression::Exists(key) => labels.contains_key(key),
        Expression::DoesNotExist(key) => !labels.contains_key(key),
        Expression::Equal(key, value) => labels.get(key) == Some(value.as_str()),
        Expression::NotEqual(key, value) => labels.get(key) != Some(value.as_str()),
    }
}

impl ObjectSelector {
    /// Whether an object with `labels` is selected (used when claiming).
    pub fn matches(&self, labels: Labels<'_>) -> bool {
        match self {
            ObjectSelector::Nothing => false,
            ObjectSelector::Matching(requirements) => {
                requirements.iter().all(|r| satisfied(r, labels))
            }
        }
    }

    /// [`Self::matches`] for a full object's label map.
    pub fn matches_map(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.matches(Labels::Map(labels))
    }

    /// Whether an orphan with `labels` should wake the selecting owner: as [`Self::matches`],
    /// but an empty selector selects no orphan (upstream `GetPodReplicaSets`,
    /// `GetReplicaSetsForDeployment`'s callers, `GetPodControllers`).
    pub fn matches_orphan(&self, labels: Labels<'_>) -> bool {
        !self.selects_everything() && self.matches(labels)
    }

    /// True for a selector with no requirement (it selects every object).
    pub fn selects_everything(&self) -> bool {
        matches!(self, ObjectSelector::Matching(requirements) if requirements.is_empty())
    }

    /// `labels.SelectorFromSet`: a plain label map (RCs, Services). A missing map selects
    /// nothing; an empty one everything.
    pub fn from_map(labels: Option<&BTreeMap<String, String>>) -> Self {
        match labels {
            Some(labels) => ObjectSelector::Matching(
                labels
                    .iter()
                    .map(|(k, v)| Expression::Equal(k.clone(), v.clone()))
                    .collect(),
            ),
            None => ObjectSelector::Nothing,
        }
    }

    /// `labels.SelectorFromSet(set).Matches(labels)` without building a selector: every pair
    /// of `set` is among `labels` (an empty set selects everything). For hot paths that match
    /// one plain label map against many objects (a pod against its namespace's Services).
    pub fn set_matches(set: &BTreeMap<String, String>, labels: Labels<'_>) -> bool {
        set.iter().all(|(k, v)| labels.get(k) == Some(v.as_str()))
    }

    /// `metav1.LabelSelectorAsSelector` of an optional selector: `None` selects nothing.
    pub fn from_label_selector(selector: Option<&LabelSelector>) -> Result<Self, InvalidSelector> {
        match selector {
            Some(selector) => selector_from_label_selector(selector),
            None => Ok(ObjectSelector::Nothing),
        }
    }
}

/// A selector that cannot be turned into a matcher (`LabelSelectorAsSelector` failed).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector: {0}")]
pub struct InvalidSelector(pub String);

/// `metav1.LabelSelectorAsSelector`, including the operator/value checks kube's conversion
/// leaves out (In/NotIn need values, Exists/DoesNotExist take none).
pub fn selector_from_label_selector(
    selector: &LabelSelector,
) -> Result<ObjectSelector, InvalidSelector> {
    for requirement in selector.match_expressions.iter().flatten() {
        let has_values = requirement.values.as_ref().is_some_and(|v| !v.is_empty());
        match requirement.operator.as_str() {
            "In" | "NotIn" if !has_values => {
                return Err(InvalidSelector(format!(
                    "{}: for 'in', 'notin' operators, values set can't be empty",
                    requirement.key
                )));
            }
            "Exists" | "DoesNotExist" if has_values => {
                return Err(InvalidSelector(format!(
                    "{}: values set must be empty for exists and does not exist",
                    requirement.key
                )));
            }
            _ => {}
        }
    }
    Selector::try_from(selector.clone())
        .map(|selector| ObjectSelector::Matching(selector.into_iter().collect()))
        .map_err(|e| InvalidSelector(e.to_string()))
}

#[cfg(test)]
mod tests;
