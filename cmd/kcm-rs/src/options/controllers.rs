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
mod tests {
    use super::*;
    use ControllerId::*;

    const ALL_SIX: [ControllerId; 6] = ControllerId::ALL;

    fn run(list: &str) -> Result<Resolution, UnknownControllers> {
        let entries: Vec<String> = if list.is_empty() {
            Vec::new()
        } else {
            list.split(',').map(str::to_owned).collect()
        };
        resolve(&entries, names::KNOWN_CONTROLLERS)
    }

    #[test]
    fn resolution_table() {
        struct Case {
            list: &'static str,
            enabled: &'static [ControllerId],
            unimplemented: &'static [&'static str],
        }
        let cases = [
            Case {
                list: "*",
                enabled: &ALL_SIX,
                unimplemented: &[],
            },
            Case {
                list: "",
                enabled: &[],
                unimplemented: &[],
            },
            Case {
                list: "deployment",
                enabled: &[Deployment],
                unimplemented: &[],
            },
            Case {
                list: "*,-podgc",
                enabled: &[
                    Endpoints,
                    ReplicationController,
                    ReplicaSet,
                    Namespace,
                    Deployment,
                ],
                unimplemented: &[],
            },
            Case {
                list: "*,-pod-garbage-collector-controller,-endpoint",
                enabled: &[ReplicationController, ReplicaSet, Namespace, Deployment],
                unimplemented: &[],
            },
            // First match wins, in either direction.
            Case {
                list: "-deployment,deployment-controller,*",
                enabled: &[
                    Endpoints,
                    ReplicationController,
                    ReplicaSet,
                    PodGarbageCollector,
                    Namespace,
                ],
                unimplemented: &[],
            },
            Case {
                list: "deployment,-deployment",
                enabled: &[Deployment],
                unimplemented: &[],
            },
            Case {
                list: "replicationcontroller,namespace",
                enabled: &[ReplicationController, Namespace],
                unimplemented: &[],
            },
            // kubeadm's list: the bootstrap controllers are accepted, not run, and reported.
            Case {
                list: "*,bootstrapsigner,tokencleaner",
                enabled: &ALL_SIX,
                unimplemented: &["bootstrap-signer-controller", "token-cleaner-controller"],
            },
            Case {
                list: "*,-csrsigning",
                enabled: &ALL_SIX,
                unimplemented: &[],
            },
            Case {
                list: "-garbagecollector,garbagecollector",
                enabled: &[],
                unimplemented: &[],
            },
            Case {
                list: "garbage-collector-controller,endpoint",
                enabled: &[Endpoints],
                unimplemented: &["garbage-collector-controller"],
            },
            // `-*` is not special upstream, so neither is `*` repeated.
            Case {
                list: "*,*",
                enabled: &ALL_SIX,
                unimplemented: &[],
            },
        ];
        for case in cases {
            let got = run(case.list).unwrap_or_else(|e| panic!("{}: {e}", case.list));
            assert_eq!(got.enabled, case.enabled, "enabled for {:?}", case.list);
            assert_eq!(
                got.unimplemented, case.unimplemented,
                "unimplemented for {:?}",
                case.list
            );
            let disabled: Vec<_> = ALL_SIX
                .into_iter()
                .filter(|id| !case.enabled.contains(id))
                .collect();
            assert_eq!(got.disabled, disabled, "disabled for {:?}", case.list);
        }
    }

    #[test]
    fn aliases_are_canonicalized_keeping_the_dash() {
        let got =
            run("*,-podgc,deployment,bootstrapsigner,-csrsigning,endpoints-controller").unwrap();
        assert_eq!(
            got.canonical_entries,
            [
                "*",
                "-pod-garbage-collector-controller",
                "deployment-controller",
                "bootstrap-signer-controller",
                "-certificatesigningrequest-signing-controller",
                "endpoints-controller",
            ]
        );
    }

    #[test]
    fn unknown_entries_are_errors_naming_each_without_its_dash() {
        let err = run("*,foo,-bar,deployment").unwrap_err();
        assert_eq!(err.names, ["foo", "bar"]);
        assert_eq!(
            err.messages(),
            [
                "\"foo\" is not in the list of known controllers",
                "\"bar\" is not in the list of known controllers"
            ]
        );
        // Like upstream: `-*` and empty entries are not names of controllers.
        assert_eq!(run("-*").unwrap_err().names, ["*"]);
        assert_eq!(run("*,,deployment").unwrap_err().names, [""]);
        // Names are case-sensitive, and a canonical name needs its `-controller` suffix.
        assert_eq!(
            run("Deployment,endpoints").unwrap_err().names,
            ["Deployment", "endpoints"]
        );
    }

    #[test]
    fn off_by_default_controllers_need_to_be_named() {
        // An implemented controller that is off by default, to cover that branch of upstream's logic.
        let known = [
            KnownController {
                canonical: "deployment-controller",
                aliases: &["deployment"],
                enabled_by_default: false,
                implemented: Some(Deployment),
            },
            KnownController {
                canonical: "endpoints-controller",
                aliases: &["endpoint"],
                enabled_by_default: true,
                implemented: Some(Endpoints),
            },
        ];
        let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let star = resolve(&list(&["*"]), &known).unwrap();
        assert_eq!(star.enabled, [Endpoints]);
        assert_eq!(star.disabled, [Deployment]);
        let named = resolve(&list(&["*", "deployment"]), &known).unwrap();
        assert_eq!(named.enabled, [Endpoints, Deployment]);
        let only = resolve(&list(&["deployment"]), &known).unwrap();
        assert_eq!(only.enabled, [Deployment]);
    }
}
