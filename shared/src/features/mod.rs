//! Feature gates: upstream kube-controller-manager's `--feature-gates` registry, and the gates
//! kcm-rs's controllers read.
//!
//! A command line written for upstream must work here, so every gate upstream knows is
//! accepted, with upstream's checks: an unknown name, a locked gate set away from its value, a
//! gate not yet available at upstream's version, or an enabled gate whose dependencies end up
//! disabled is an error. The table of known gates ([`KNOWN_GATES`], name, default, stage and
//! lock at upstream's version) is generated from upstream's own registry by
//! `tests/env/gen-feature-gates.sh`.
//!
//! Only the gates in [`Feature`] change what kcm-rs does; controllers ask
//! [`FeatureGates::enabled`]. The rest are accepted and reported by [`FeatureGates::ignored`] so
//! the caller can say once that they have no effect. `AllAlpha`/`AllBeta` work as upstream: they
//! set every alpha (beta) gate not named explicitly.

mod known;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

pub use known::{DEPENDENCIES, EMULATION_VERSION, KNOWN_GATES, MIN_COMPATIBILITY_VERSION};

/// A gate's maturity at upstream's version (component-base `prerelease`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// Registered for a later version: cannot be set yet.
    PreAlpha,
    Alpha,
    Beta,
    Ga,
    Deprecated,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::PreAlpha => "PRE-ALPHA",
            Stage::Alpha => "ALPHA",
            Stage::Beta => "BETA",
            Stage::Ga => "GA",
            Stage::Deprecated => "DEPRECATED",
        })
    }
}

/// One entry of upstream's registry, as it stands at [`EMULATION_VERSION`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KnownGate {
    pub name: &'static str,
    pub default: bool,
    pub stage: Stage,
    /// Setting it to anything but `default` is an error.
    pub locked: bool,
}

/// Keeps the generated table one line per gate.
const fn gate(name: &'static str, default: bool, stage: Stage, locked: bool) -> KnownGate {
    KnownGate {
        name,
        default,
        stage,
        locked,
    }
}

/// Upstream's entry for `name` (exact, case-sensitive, as upstream matches).
pub fn known_gate(name: &str) -> Option<&'static KnownGate> {
    KNOWN_GATES
        .binary_search_by(|gate| gate.name.cmp(name))
        .ok()
        .map(|index| &KNOWN_GATES[index])
}

/// Special gates that set every unset gate of one stage.
const ALL_ALPHA: &str = "AllAlpha";
const ALL_BETA: &str = "AllBeta";

/// The gates kcm-rs honours: the ones upstream reads in the controllers kcm-rs runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Feature {
    /// ReplicaSet and Deployment status carry `terminatingReplicas` (replicaset, deployment).
    DeploymentReplicaSetTerminatingReplicas,
    /// The `controller.kubernetes.io/pod-deletion-cost` annotation orders pods for deletion when
    /// a ReplicaSet or ReplicationController scales down (`controller_utils.go`).
    PodDeletionCost,
    /// The ReplicaSet controller waits until its caches show its own pod creations and status
    /// writes before syncing a ReplicaSet again (`pkg/controller/util/consistency`).
    StaleControllerConsistencyReplicaSet,
    /// client-go's reflector fills informer caches by a streaming list (`sendInitialEvents`)
    /// instead of paged LISTs (`k8s.io/client-go/features`).
    WatchListClient,
}

impl Feature {
    pub const ALL: &'static [Feature] = &[
        Feature::DeploymentReplicaSetTerminatingReplicas,
        Feature::PodDeletionCost,
        Feature::StaleControllerConsistencyReplicaSet,
        Feature::WatchListClient,
    ];

    /// Upstream's gate name.
    pub const fn name(self) -> &'static str {
        match self {
            Feature::DeploymentReplicaSetTerminatingReplicas => {
                "DeploymentReplicaSetTerminatingReplicas"
            }
            Feature::PodDeletionCost => "PodDeletionCost",
            Feature::StaleControllerConsistencyReplicaSet => "StaleControllerConsistencyReplicaSet",
            Feature::WatchListClient => "WatchListClient",
        }
    }

    pub fn from_name(name: &str) -> Option<Feature> {
        Feature::ALL.iter().copied().find(|f| f.name() == name)
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether kcm-rs does anything with the gate `name`.
pub fn is_honoured(name: &str) -> bool {
    Feature::from_name(name).is_some() || name == ALL_ALPHA || name == ALL_BETA
}

/// Why a set of gates was refused. The messages are upstream's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GateError {
    #[error("unrecognized feature gate: {name}")]
    Unrecognized { name: String },
    #[error("cannot set feature gate {name} to {value}, feature is locked to {locked_to}")]
    Locked {
        name: &'static str,
        value: bool,
        locked_to: bool,
    },
    #[error(
        "cannot set feature gate {name} to {value}, feature is PreAlpha at emulated version \
         {EMULATION_VERSION}, min compatibility version {MIN_COMPATIBILITY_VERSION}"
    )]
    PreAlpha { name: &'static str, value: bool },
    #[error("{feature} is enabled, but depends on features that are disabled: [{}]", disabled.join(" "))]
    Dependency {
        feature: &'static str,
        disabled: Vec<&'static str>,
    },
}

impl GateError {
    /// The gate the user should look at: the one set, or for a dependency the first disabled
    /// dependency (the usual culprit: `AtomicFIFO=false` breaks the gates that need it).
    pub fn gate(&self) -> &str {
        match self {
            GateError::Unrecognized { name } => name,
            GateError::Locked { name, .. } | GateError::PreAlpha { name, .. } => name,
            GateError::Dependency { feature, disabled } => {
                disabled.first().copied().unwrap_or(feature)
            }
        }
    }
}

/// The effective gates: upstream's defaults, with what the user set.
///
/// `Default` is upstream's defaults, nothing set.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGates {
    /// The gates named by the user, with the values they gave (last one wins).
    explicit: BTreeMap<&'static str, bool>,
    /// `explicit` plus what `AllAlpha`/`AllBeta` set: upstream's `enabled` map.
    enabled: BTreeMap<&'static str, bool>,
}

impl FeatureGates {
    /// Applies `requests` in order (a later value for the same gate wins), with upstream's
    /// checks. Every problem is reported; dependencies are checked only when the rest is valid,
    /// as upstream does.
    pub fn set<'a>(
        requests: impl IntoIterator<Item = (&'a str, bool)>,
    ) -> Result<FeatureGates, Vec<GateError>> {
        let mut errors = Vec::new();
        let mut unknown = BTreeSet::new();
        let mut explicit: BTreeMap<&'static str, bool> = BTreeMap::new();
        let mut order: Vec<&'static str> = Vec::new();
        for (name, value) in requests {
            let Some(known) = known_gate(name) else {
                if unknown.insert(name) {
                    errors.push(GateError::Unrecognized {
                        name: name.to_owned(),
                    });
                }
                continue;
            };
            if explicit.insert(known.name, value).is_none() {
                order.push(known.name);
            }
        }
        for name in order {
            let value = explicit[name];
            let Some(known) = known_gate(name) else {
                continue;
            };
            if known.locked && known.default != value {
                errors.push(GateError::Locked {
                    name: known.name,
                    value,
                    locked_to: known.default,
                });
            } else if known.stage == Stage::PreAlpha && name != ALL_ALPHA && name != ALL_BETA {
                errors.push(GateError::PreAlpha {
                    name: known.name,
                    value,
                });
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }

        let mut enabled = explicit.clone();
        for (special, stage) in [(ALL_ALPHA, Stage::Alpha), (ALL_BETA, Stage::Beta)] {
            if let Some(&value) = explicit.get(special) {
                for gate in KNOWN_GATES {
                    if gate.stage == stage && gate.name != ALL_ALPHA && gate.name != ALL_BETA {
                        enabled.entry(gate.name).or_insert(value);
                    }
                }
            }
        }
        let gates = FeatureGates { explicit, enabled };
        let errors = gates.dependency_errors();
        if errors.is_empty() {
            Ok(gates)
        } else {
            Err(errors)
        }
    }

    fn dependency_errors(&self) -> Vec<GateError> {
        DEPENDENCIES
            .iter()
            .filter(|(feature, _)| self.value(feature))
            .filter_map(|(feature, needs)| {
                let disabled: Vec<&'static str> = needs
                    .iter()
                    .copied()
                    .filter(|dep| !self.value(dep))
                    .collect();
                (!disabled.is_empty()).then_some(GateError::Dependency { feature, disabled })
            })
            .collect()
    }

    /// Whether `feature` is on.
    pub fn enabled(&self, feature: Feature) -> bool {
        self.value(feature.name())
    }

    /// The effective value of any known gate; `false` for a name upstream does not know.
    pub fn value(&self, name: &str) -> bool {
        match self.enabled.get(name) {
            Some(&value) => value,
            None => known_gate(name).is_some_and(|gate| gate.default),
        }
    }

    /// The gates the user named, with the values given, sorted by name.
    pub fn explicit(&self) -> impl Iterator<Item = (&'static str, bool)> + '_ {
        self.explicit.iter().map(|(&name, &value)| (name, value))
    }

    /// The gates the user named that kcm-rs does nothing with, with the values given.
    pub fn ignored(&self) -> Vec<(&'static KnownGate, bool)> {
        self.explicit()
            .filter(|(name, _)| !is_honoured(name))
            .filter_map(|(name, value)| known_gate(name).map(|gate| (gate, value)))
            .collect()
    }

    /// Honoured gates the user named although they are GA or deprecated: upstream warns that
    /// such a gate will be removed in a future release.
    pub fn maturing(&self) -> Vec<(&'static KnownGate, bool)> {
        self.explicit()
            .filter(|(name, _)| is_honoured(name))
            .filter_map(|(name, value)| known_gate(name).map(|gate| (gate, value)))
            .filter(|(gate, _)| matches!(gate.stage, Stage::Ga | Stage::Deprecated))
            .collect()
    }

    /// What `/configz` shows: the effective value of every gate kcm-rs honours, and every gate
    /// the user named.
    pub fn summary(&self) -> BTreeMap<&'static str, bool> {
        let mut summary: BTreeMap<&'static str, bool> = Feature::ALL
            .iter()
            .map(|feature| (feature.name(), self.enabled(*feature)))
            .collect();
        summary.extend(self.explicit());
        summary
    }
}

#[cfg(test)]
mod tests;
