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
            ("AtomicFIFO", true),
        ]),
    )
    .unwrap();
    assert_eq!(
        warnings(&gates),
        [
            "feature gates: kcm-rs does not use these gates (upstream knows them); they are accepted and have no effect: AtomicFIFO=true (BETA), InOrderInformers=true (GA)"
        ]
    );
    assert_eq!(
        notice(&gates).as_deref(),
        Some(
            "feature gates kcm-rs honours: DeploymentReplicaSetTerminatingReplicas=true, PodDeletionCost=false, StaleControllerConsistencyReplicaSet=true, WatchListClient=false"
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
            "WatchListClient=false,InOrderInformers=true",
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
                "InOrderInformers": true,
                "PodDeletionCost": false,
                "StaleControllerConsistencyReplicaSet": true,
                "WatchListClient": false,
            })
        );
        assert!(!gates.enabled(Feature::WatchListClient));
        assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
        assert!(loaded.warnings[0].contains("InOrderInformers=true (GA)"));
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
        let loaded = load_args(&[&config, "--feature-gates=PodDeletionCost=true"]).expect("valid");
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
