//! `--feature-gates` and the config file's `featureGates`, read as upstream reads its flag.
//!
//! Upstream's flag is component-base's versioned registry flag: repeatable, each occurrence a
//! comma-separated list of `[component:]Name=bool` (the component defaults to `kube`, the only
//! one kube-controller-manager registers), spaces around names and values ignored, empty items
//! skipped, the last value of a gate winning, bools in Go's `strconv.ParseBool` spelling. The
//! file's `featureGates` is a mapping of gate name to bool, as the kubelet's config has; a gate
//! on the command line beats the same gate in the file.
//!
//! The checks on the names and values are [`FeatureGates::set`]'s (upstream's messages); this
//! module adds the syntax and says where each bad gate came from.

use std::collections::BTreeMap;
use std::path::Path;

use kcm_shared::features::{FeatureGates, Stage};

use super::flags::parse_go_bool;

/// The component kube-controller-manager registers its gates under.
const KUBE_COMPONENT: &str = "kube";

/// The config file's field, for messages.
pub const FILE_FIELD: &str = "featureGates";

/// Splits every `--feature-gates` occurrence into `(name, value)` pairs in order, or returns
/// every syntax error (upstream stops at the first).
pub fn parse_flag(occurrences: &[String]) -> Result<Vec<(String, bool)>, Vec<String>> {
    let mut errors = Vec::new();
    let mut with_prefix = false;
    let mut without_prefix = false;
    let mut items = Vec::new();
    for occurrence in occurrences {
        for pair in occurrence.split(',').filter(|pair| !pair.is_empty()) {
            // ColonSeparatedMultimapStringString: the component is whatever precedes the first
            // colon; without one, the default component.
            let item = match pair.split_once(':') {
                None => {
                    without_prefix = true;
                    pair.trim()
                }
                Some((component, item)) => {
                    let component = component.trim();
                    if component != KUBE_COMPONENT {
                        let message = format!("component not registered: {component}");
                        if !errors.contains(&message) {
                            errors.push(message);
                        }
                        continue;
                    }
                    with_prefix = true;
                    item.trim()
                }
            };
            if !item.is_empty() {
                items.push(item);
            }
        }
    }
    if with_prefix && without_prefix {
        errors.push(
            "set kube feature gates with default empty prefix or kube: prefix consistently, \
             do not mix use"
                .to_owned(),
        );
    }
    let mut gates = Vec::new();
    for item in items {
        let Some((name, value)) = item.split_once('=') else {
            errors.push(format!("missing bool value for {}", item.trim()));
            continue;
        };
        let (name, value) = (name.trim(), value.trim());
        match parse_go_bool(value) {
            Ok(value) => gates.push((name.to_owned(), value)),
            // Upstream's wording, Go error included, so the message is the one users search for.
            Err(_) => errors.push(format!(
                "invalid value of {name}={value}, err: strconv.ParseBool: parsing {value:?}: invalid syntax"
            )),
        }
    }
    if errors.is_empty() {
        Ok(gates)
    } else {
        Err(errors)
    }
}

/// The effective gates from the file's mapping and the flag's pairs (flag last, so it wins), or
/// one message per problem naming the flag or the file field.
pub fn resolve(
    from_file: &BTreeMap<String, bool>,
    file: Option<&Path>,
    from_flag: &[(String, bool)],
) -> Result<FeatureGates, Vec<String>> {
    let requests = from_file
        .iter()
        .map(|(name, value)| (name.as_str(), *value))
        .chain(
            from_flag
                .iter()
                .map(|(name, value)| (name.as_str(), *value)),
        );
    FeatureGates::set(requests).map_err(|errors| {
        errors
            .iter()
            .map(|error| {
                let gate = error.gate();
                let on_command_line = from_flag.iter().any(|(name, _)| name == gate);
                match file {
                    Some(file) if !on_command_line && from_file.contains_key(gate) => format!(
                        "config file {}: field {FILE_FIELD}.{gate}: {error}",
                        file.display()
                    ),
                    _ => format!("--feature-gates: {error}"),
                }
            })
            .collect()
    })
}

/// One warning naming every gate given that kcm-rs has no use for, and one per honoured gate
/// that upstream says will go away.
pub fn warnings(gates: &FeatureGates) -> Vec<String> {
    let mut warnings = Vec::new();
    let ignored = gates.ignored();
    if !ignored.is_empty() {
        let listed: Vec<String> = ignored
            .iter()
            .map(|(gate, value)| format!("{}={value} ({})", gate.name, gate.stage))
            .collect();
        warnings.push(format!(
            "feature gates: kcm-rs does not use these gates (upstream knows them); they are accepted and have no effect: {}",
            listed.join(", ")
        ));
    }
    for (gate, value) in gates.maturing() {
        warnings.push(maturing_warning(gate.name, gate.stage, value));
    }
    warnings
}

/// Upstream's "Warning: setting GA feature gate. It will be removed in a future release."
fn maturing_warning(name: &str, stage: Stage, value: bool) -> String {
    let stage = match stage {
        Stage::Deprecated => "deprecated",
        _ => "GA",
    };
    format!(
        "feature gates: setting {stage} feature gate {name}={value}; it will be removed in a future release"
    )
}

/// What the honoured gates are, when the user set any gate: for the info log.
pub fn notice(gates: &FeatureGates) -> Option<String> {
    gates.explicit().next()?;
    let effective: Vec<String> = kcm_shared::features::Feature::ALL
        .iter()
        .map(|feature| format!("{feature}={}", gates.enabled(*feature)))
        .collect();
    Some(format!(
        "feature gates kcm-rs honours: {}",
        effective.join(", ")
    ))
}

#[cfg(test)]
mod tests;
