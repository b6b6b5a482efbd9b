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
mod tests {
    use super::*;
    use kcm_shared::features::Feature;

    fn flag(occurrences: &[&str]) -> Result<Vec<(String, bool)>, Vec<String>> {
        let occurrences: Vec<String> = occurrences.iter().map(|s| s.to_string()).collect();
        parse_flag(&occurrences)
    }

    fn pairs(pairs: &[(&str, bool)]) -> Vec<(String, bool)> {
        pairs.iter().map(|(n, v)| (n.to_string(), *v)).collect()
    }

    #[test]
    fn upstream_syntax() {
        type Case<'a> = (&'a [&'a str], &'a [(&'a str, bool)]);
        let cases: &[Case] = &[
            (
                &["PodDeletionCost=true,AllBeta=false"],
                &[("PodDeletionCost", true), ("AllBeta", false)],
            ),
            // Spaces around names and values, empty items and an empty flag are fine.
            (
                &[" PodDeletionCost = false ,, ", ""],
                &[("PodDeletionCost", false)],
            ),
            // The flag repeats; later values come later (and win when applied).
            (
                &["PodDeletionCost=true", "PodDeletionCost=false"],
                &[("PodDeletionCost", true), ("PodDeletionCost", false)],
            ),
            (
                &["kube:PodDeletionCost=false", "kube:WatchListClient=0"],
                &[("PodDeletionCost", false), ("WatchListClient", false)],
            ),
            (&[" kube : PodDeletionCost=T"], &[("PodDeletionCost", true)]),
            (&["kube:"], &[]),
            (&[], &[]),
        ];
        for (occurrences, want) in cases {
            assert_eq!(flag(occurrences), Ok(pairs(want)), "{occurrences:?}");
        }
    }

    #[test]
    fn malformed_values_are_errors_in_upstreams_words() {
        let cases: &[(&[&str], &[&str])] = &[
            (
                &["PodDeletionCost"],
                &["missing bool value for PodDeletionCost"],
            ),
            (
                &["PodDeletionCost=maybe"],
                &[
                    "invalid value of PodDeletionCost=maybe, err: strconv.ParseBool: parsing \"maybe\": invalid syntax",
                ],
            ),
            (
                &["PodDeletionCost="],
                &[
                    "invalid value of PodDeletionCost=, err: strconv.ParseBool: parsing \"\": invalid syntax",
                ],
            ),
            (&["wardle:Foo=true"], &["component not registered: wardle"]),
            (
                &["kube:PodDeletionCost=false", "AllBeta=true"],
                &[
                    "set kube feature gates with default empty prefix or kube: prefix consistently, do not mix use",
                ],
            ),
            (
                &["A,B=yes"],
                &[
                    "missing bool value for A",
                    "invalid value of B=yes, err: strconv.ParseBool: parsing \"yes\": invalid syntax",
                ],
            ),
        ];
        for (occurrences, want) in cases {
            assert_eq!(
                flag(occurrences),
                Err(want.iter().map(|s| s.to_string()).collect()),
                "{occurrences:?}"
            );
        }
    }

    #[test]
    fn the_flag_beats_the_file_and_errors_name_their_source() {
        let file = BTreeMap::from([
            ("PodDeletionCost".to_owned(), true),
            ("DeploymentReplicaSetTerminatingReplicas".to_owned(), false),
        ]);
        let path = Path::new("/etc/kcm.yaml");
        let gates = resolve(&file, Some(path), &pairs(&[("PodDeletionCost", false)])).unwrap();
        assert!(!gates.enabled(Feature::PodDeletionCost));
        assert!(!gates.enabled(Feature::DeploymentReplicaSetTerminatingReplicas));

        let file = BTreeMap::from([("InOrderInformers".to_owned(), false)]);
        assert_eq!(
            resolve(&file, Some(path), &pairs(&[("Foo", true)])).unwrap_err(),
            [
                "--feature-gates: unrecognized feature gate: Foo",
                "config file /etc/kcm.yaml: field featureGates.InOrderInformers: cannot set feature gate InOrderInformers to false, feature is locked to true",
            ]
        );
        // The command line fixes what the file got wrong.
        assert!(resolve(&file, Some(path), &pairs(&[("InOrderInformers", true)])).is_ok());
    }

    #[test]
    fn ignored_gates_get_one_warning() {
        let gates = resolve(
            &BTreeMap::new(),
            None,
            &pairs(&[
                ("WatchListClient", false),
                ("PodDeletionCost", false),
                ("InOrderInformers", true),
            ]),
        )
        .unwrap();
        assert_eq!(
            warnings(&gates),
            [
                "feature gates: kcm-rs does not use these gates (upstream knows them); they are accepted and have no effect: InOrderInformers=true (GA), WatchListClient=false (BETA)"
            ]
        );
        assert_eq!(
            notice(&gates).as_deref(),
            Some(
                "feature gates kcm-rs honours: DeploymentReplicaSetTerminatingReplicas=true, PodDeletionCost=false"
            )
        );
        assert!(warnings(&FeatureGates::default()).is_empty());
        assert_eq!(notice(&FeatureGates::default()), None);
    }

    #[test]
    fn ga_and_deprecated_honoured_gates_warn_as_upstream_does() {
        assert_eq!(
            maturing_warning("X", Stage::Ga, true),
            "feature gates: setting GA feature gate X=true; it will be removed in a future release"
        );
        assert_eq!(
            maturing_warning("Y", Stage::Deprecated, false),
            "feature gates: setting deprecated feature gate Y=false; it will be removed in a future release"
        );
    }

    mod through_load {
        use std::io::Write;

        use kcm_shared::features::Feature;

        use crate::options::{Loaded, OptionsError, load};

        fn load_args(args: &[&str]) -> Result<Loaded, OptionsError> {
            load(std::iter::once("kcm-rs").chain(args.iter().copied()))
        }

        fn config_file(body: &str) -> tempfile::NamedTempFile {
            let mut file = tempfile::Builder::new()
                .suffix(".yaml")
                .tempfile()
                .expect("temp file");
            write!(
                file,
                "apiVersion: kubecontrollermanager.config.k8s.io/v1alpha1\n\
                 kind: KubeControllerManagerConfiguration\n{body}"
            )
            .expect("write");
            file
        }

        #[test]
        fn gates_reach_the_config_and_configz() {
            let loaded = load_args(&[
                "--feature-gates=PodDeletionCost=false",
                "--feature-gates",
                "WatchListClient=false",
            ])
            .expect("valid");
            let gates = &loaded.config.feature_gates;
            assert!(!gates.enabled(Feature::PodDeletionCost));
            assert!(gates.enabled(Feature::DeploymentReplicaSetTerminatingReplicas));
            let json = serde_json::to_value(loaded.config.configz()).expect("json");
            assert_eq!(
                json["featureGates"],
                serde_json::json!({
                    "DeploymentReplicaSetTerminatingReplicas": true,
                    "PodDeletionCost": false,
                    "WatchListClient": false,
                })
            );
            assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
            assert!(loaded.warnings[0].contains("WatchListClient=false (BETA)"));
        }

        #[test]
        fn bad_gates_exit_2_naming_them() {
            let cases: &[(&[&str], &str)] = &[
                (
                    &["--feature-gates=Foo=true"],
                    "error: --feature-gates: unrecognized feature gate: Foo\n",
                ),
                (
                    &["--feature-gates=InOrderInformers=false"],
                    "error: --feature-gates: cannot set feature gate InOrderInformers to false, feature is locked to true\n",
                ),
                (
                    &["--feature-gates=PodDeletionCost"],
                    "error: --feature-gates: missing bool value for PodDeletionCost\n",
                ),
                (
                    &["--feature-gates=PodDeletionCost=maybe"],
                    "error: --feature-gates: invalid value of PodDeletionCost=maybe, err: strconv.ParseBool: parsing \"maybe\": invalid syntax\n",
                ),
            ];
            for (args, want) in cases {
                let err = load_args(args).expect_err("must fail");
                assert_eq!(err.exit_code(), 2, "{args:?}");
                assert_eq!(err.message(), *want, "{args:?}");
            }
        }

        #[test]
        fn the_file_sets_gates_and_the_flag_overrides_them() {
            let file = config_file(
                "featureGates:\n  PodDeletionCost: false\n  DeploymentReplicaSetTerminatingReplicas: false\n",
            );
            let config = format!("--config={}", file.path().display());
            let loaded =
                load_args(&[&config, "--feature-gates=PodDeletionCost=true"]).expect("valid");
            assert!(
                loaded
                    .config
                    .feature_gates
                    .enabled(Feature::PodDeletionCost)
            );
            assert!(
                !loaded
                    .config
                    .feature_gates
                    .enabled(Feature::DeploymentReplicaSetTerminatingReplicas)
            );

            let file = config_file("FeatureGates: {InOrderInformers: false}\n");
            let config = format!("--config={}", file.path().display());
            let err = load_args(&[&config]).expect_err("locked");
            assert_eq!(
                err.message(),
                format!(
                    "error: config file {}: field featureGates.InOrderInformers: cannot set feature gate InOrderInformers to false, feature is locked to true\n",
                    file.path().display()
                )
            );

            let file = config_file("featureGates:\n  PodDeletionCost: maybe\n");
            let config = format!("--config={}", file.path().display());
            let err = load_args(&[&config]).expect_err("not a bool");
            assert!(
                err.message()
                    .contains("field featureGates.PodDeletionCost: invalid type"),
                "{}",
                err.message()
            );
        }

        #[test]
        fn help_lists_the_honoured_gates() {
            let err = load_args(&["--help"]).expect_err("help");
            assert!(
                err.message()
                    .contains("PodDeletionCost=true|false (BETA - default=true)"),
                "{}",
                err.message()
            );
        }
    }
}
