//! `--controllers` resolution: which of kcm-rs's controllers run, given the list.
//!
//! Same semantics as upstream (`controller-manager/options/generic.go` `ApplyTo`/`Validate`
//! and `controller-manager/app/helper.go` `IsControllerEnabled`): entries are read in order and
//! the first one naming a controller wins (`name` on, `-name` off); otherwise `*` turns on the
//! controllers that are on by default. Aliases become canonical names, keeping a leading `-`.
//!
//! The one addition: names upstream knows but kcm-rs does not implement are accepted, and
//! reported so the caller can warn once. Only those the list actually turns on are reported.

use kcm_controllers::names::{self, ControllerId, KnownController};

/// The outcome of resolving a `--controllers` list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The list with aliases replaced by canonical names; what upstream stores and `/configz` shows.
    pub canonical_entries: Vec<String>,
    /// Implemented controllers to run, in [`ControllerId`] order.
    pub enabled: Vec<ControllerId>,
    /// Implemented controllers the list leaves off (upstream logs each as disabled).
    pub disabled: Vec<ControllerId>,
    /// Canonical names of upstream controllers the list turns on but kcm-rs does not implement.
    pub unimplemented: Vec<&'static str>,
}

/// Entries that name no known controller. Upstream reports each one, without its `-`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.messages().join("; "))]
pub struct UnknownControllers {
    pub names: Vec<String>,
}

impl UnknownControllers {
    /// One message per unknown entry, worded as upstream's `Validate`.
    pub fn messages(&self) -> Vec<String> {
        self.names
            .iter()
            .map(|name| format!("{name:?} is not in the list of known controllers"))
            .collect()
    }
}

/// Resolves `entries` against `known` (normally [`names::KNOWN_CONTROLLERS`]).
pub fn resolve(
    entries: &[String],
    known: &[KnownController],
) -> Result<Resolution, UnknownControllers> {
    let mut canonical_entries = Vec::with_capacity(entries.len());
    let mut unknown = Vec::new();
    for entry in entries {
        if entry == "*" {
            canonical_entries.push(entry.clone());
            continue;
        }
        let (negated, name) = match entry.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, entry.as_str()),
        };
        match names::lookup(known, name) {
            Some(controller) if negated => {
                canonical_entries.push(format!("-{}", controller.canonical))
            }
            Some(controller) => canonical_entries.push(controller.canonical.to_owned()),
            None => unknown.push(name.to_owned()),
        }
    }
    if !unknown.is_empty() {
        return Err(UnknownControllers { names: unknown });
    }

    let mut enabled = Vec::new();
    let mut disabled = Vec::new();
    let mut unimplemented = Vec::new();
    for controller in known {
        let on = is_enabled(controller, &canonical_entries);
        match (controller.implemented, on) {
            (Some(id), true) => enabled.push(id),
            (Some(id), false) => disabled.push(id),
            // `*` alone names nothing, so it does not make kcm-rs warn about all of upstream.
            (None, true) if is_named(controller, &canonical_entries) => {
                unimplemented.push(controller.canonical)
            }
            (None, _) => {}
        }
    }
    enabled.sort_unstable();
    disabled.sort_unstable();
    Ok(Resolution {
        canonical_entries,
        enabled,
        disabled,
        unimplemented,
    })
}

/// Upstream `IsControllerEnabled`, on canonical entries.
fn is_enabled(controller: &KnownController, canonical_entries: &[String]) -> bool {
    let mut has_star = false;
    for entry in canonical_entries {
        if entry == controller.canonical {
            return true;
        }
        if entry.strip_prefix('-') == Some(controller.canonical) {
            return false;
        }
        has_star |= entry == "*";
    }
    has_star && controller.enabled_by_default
}

fn is_named(controller: &KnownController, canonical_entries: &[String]) -> bool {
    canonical_entries.iter().any(|e| e == controller.canonical)
}

#[cfg(test)]
mod tests;
