//! End-to-end tests of [`load`]: argv and config files in, effective configuration or error out.

mod ranges;

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kcm_controllers::names::ControllerId;

use super::*;

fn load_args(args: &[&str]) -> Result<Loaded, OptionsError> {
    load(std::iter::once("kcm-rs").chain(args.iter().copied()))
}

fn ok(args: &[&str]) -> Loaded {
    load_args(args).unwrap_or_else(|err| panic!("{args:?}: {}", err.message()))
}

fn failure(args: &[&str]) -> OptionsError {
    match load_args(args) {
        Ok(_) => panic!("{args:?} should fail"),
        Err(err) => err,
    }
}

fn config_file(body: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    write!(
        file,
        "apiVersion: kubecontrollermanager.config.k8s.io/v1alpha1\n\
         kind: KubeControllerManagerConfiguration\n{body}"
    )
    .unwrap();
    file
}

fn path_arg(file: &tempfile::NamedTempFile) -> String {
    format!("--config={}", file.path().display())
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

#[test]
fn no_arguments_gives_the_defaults() {
    let loaded = ok(&[]);
    assert_eq!(loaded.config, KcmConfig::default());
    assert_eq!(loaded.controllers.enabled, ControllerId::ALL);
    assert!(loaded.controllers.disabled.is_empty());
    assert!(loaded.warnings.is_empty());
}

#[test]
fn every_flag_parses() {
    let loaded = ok(&[
        "--kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--master=https://10.0.0.1:6443",
        "--controllers=*,-podgc",
        "--concurrent-deployment-syncs=1",
        "--concurrent-endpoint-syncs=2",
        "--endpoint-updates-batch-period=500ms",
        "--concurrent-rc-syncs=3",
        "--concurrent-replicaset-syncs=4",
        "--terminated-pod-gc-threshold=-1",
        "--namespace-sync-period=2m",
        "--concurrent-namespace-syncs=6",
        "--min-resync-period=1h30m",
        "--controller-start-interval=1s",
        "--controller-shutdown-timeout=0s",
        "--kube-api-qps=7.5",
        "--kube-api-burst=9",
        "--leader-elect=false",
        "--leader-elect-lease-duration=30s",
        "--leader-elect-renew-deadline=20s",
        "--leader-elect-retry-period=4s",
        "--leader-elect-resource-lock=leases",
        "--leader-elect-resource-name=kcm-rs",
        "--leader-elect-resource-namespace=ops",
        "--leader-elect-per-controller",
        "--bind-address=0.0.0.0",
        "--secure-port=0",
        "--tls-cert-file=/tls/tls.crt",
        "--tls-private-key-file=/tls/tls.key",
        "-v=4",
        "--logging-format=json",
    ]);
    let c = &loaded.config.component;
    let g = &c.generic;
    assert_eq!(g.controllers, ["*", "-pod-garbage-collector-controller"]);
    assert_eq!(g.min_resync_period, secs(5400));
    assert_eq!(g.controller_start_interval, secs(1));
    assert_eq!(g.client_connection.qps, 7.5);
    assert_eq!(g.client_connection.burst, 9);
    let le = &g.leader_election;
    assert!(!le.leader_elect);
    assert_eq!(
        (le.lease_duration, le.renew_deadline, le.retry_period),
        (secs(30), secs(20), secs(4))
    );
    assert_eq!(
        (le.resource_lock.as_str(), le.resource_name.as_str()),
        ("leases", "kcm-rs")
    );
    assert_eq!(le.resource_namespace, "ops");
    assert_eq!(c.deployment_controller.concurrent_deployment_syncs, 1);
    assert_eq!(c.endpoint_controller.concurrent_endpoint_syncs, 2);
    assert_eq!(
        c.endpoint_controller.endpoint_updates_batch_period,
        Duration::from_millis(500)
    );
    assert_eq!(c.replication_controller.concurrent_rc_syncs, 3);
    assert_eq!(c.replica_set_controller.concurrent_rs_syncs, 4);
    assert_eq!(c.pod_gc_controller.terminated_pod_gc_threshold, -1);
    assert_eq!(c.namespace_controller.namespace_sync_period, secs(120));
    assert_eq!(c.namespace_controller.concurrent_namespace_syncs, 6);
    let p = &loaded.config.process;
    assert_eq!(
        p.kubeconfig.as_deref(),
        Some(Path::new("/etc/kubernetes/controller-manager.conf"))
    );
    assert_eq!(p.master.as_deref(), Some("https://10.0.0.1:6443"));
    assert_eq!(p.bind_address, "0.0.0.0".parse::<IpAddr>().unwrap());
    assert_eq!(p.secure_port, 0);
    assert_eq!(p.tls_cert_file.as_deref(), Some(Path::new("/tls/tls.crt")));
    assert_eq!(
        p.tls_private_key_file.as_deref(),
        Some(Path::new("/tls/tls.key"))
    );
    assert_eq!(p.verbosity, 4);
    assert_eq!(p.logging_format, flags::LoggingFormat::Json);
    assert_eq!(p.controller_shutdown_timeout, Duration::ZERO);
    assert!(p.leader_elect_per_controller);
    assert_eq!(p.config_file, None);
    assert!(
        !loaded
            .controllers
            .enabled
            .contains(&ControllerId::PodGarbageCollector)
    );
}

#[test]
fn underscores_in_flag_names_are_dashes() {
    let loaded = ok(&[
        "--concurrent_rc_syncs=3",
        "--leader_elect_lease_duration",
        "30s",
        "--kube_api_burst=50",
    ]);
    let g = &loaded.config.component.generic;
    assert_eq!(
        loaded
            .config
            .component
            .replication_controller
            .concurrent_rc_syncs,
        3
    );
    assert_eq!(g.leader_election.lease_duration, secs(30));
    assert_eq!(g.client_connection.burst, 50);
}

#[test]
fn flag_value_spellings() {
    for args in [
        &["-v=3"][..],
        &["-v", "3"],
        &["-v3"],
        &["--v=3"],
        &["--v", "3"],
    ] {
        assert_eq!(ok(args).config.process.verbosity, 3, "{args:?}");
    }
    assert!(
        ok(&["--leader-elect"])
            .config
            .component
            .generic
            .leader_election
            .leader_elect
    );
    for no in [
        "--leader-elect=false",
        "--leader-elect=0",
        "--leader-elect=F",
    ] {
        assert!(
            !ok(&[no])
                .config
                .component
                .generic
                .leader_election
                .leader_elect,
            "{no}"
        );
    }
    // As with pflag, a boolean's value must be attached with `=`.
    assert_eq!(failure(&["--leader-elect", "false"]).exit_code(), 2);
    // Like pflag, a flag that takes a value takes the next argument even if it starts with `-`.
    let hyphen = ok(&[
        "--controllers",
        "-podgc,*",
        "--terminated-pod-gc-threshold",
        "-1",
    ]);
    assert_eq!(
        hyphen.config.component.generic.controllers,
        ["-pod-garbage-collector-controller", "*"]
    );
    assert_eq!(
        hyphen
            .config
            .component
            .pod_gc_controller
            .terminated_pod_gc_threshold,
        -1
    );
    // --controllers is a string slice: repeated flags append.
    let repeated = ok(&[
        "--controllers=deployment",
        "--controllers",
        "replicaset,-podgc",
    ]);
    assert_eq!(
        repeated.config.component.generic.controllers,
        [
            "deployment-controller",
            "replicaset-controller",
            "-pod-garbage-collector-controller"
        ]
    );
    assert_eq!(
        repeated.controllers.enabled,
        [ControllerId::ReplicaSet, ControllerId::Deployment]
    );
}

#[test]
fn usage_errors_exit_with_2() {
    let cases: &[(&[&str], &str)] = &[
        (&["--no-such-flag"], "--no-such-flag"),
        (&["positional"], "positional"),
        (&["--min-resync-period=12"], "missing unit"),
        (&["--namespace-sync-period=-5m"], "must not be negative"),
        (&["--concurrent-rc-syncs=many"], "many"),
        (&["--secure-port=70000"], "70000"),
        (&["--bind-address=localhost"], "localhost"),
        (&["--logging-format=xml"], "xml"),
        (
            &["--concurrent-deployment-syncs=-1"],
            "--concurrent-deployment-syncs: must be from 1 to 10000 workers, got -1",
        ),
    ];
    for (args, mention) in cases {
        let err = failure(args);
        assert_eq!(err.exit_code(), 2, "{args:?}");
        assert!(!err.is_informational());
        assert!(
            err.message().contains(mention),
            "{args:?}: {}",
            err.message()
        );
    }
}

#[test]
fn help_and_version_exit_0() {
    let help = failure(&["--help"]);
    assert_eq!(help.exit_code(), 0);
    assert!(help.is_informational());
    assert!(
        help.message().contains("--concurrent-rc-syncs"),
        "{}",
        help.message()
    );
    assert!(
        help.message().contains("[default: 12h0m0s]"),
        "{}",
        help.message()
    );

    let version = failure(&["--version"]);
    assert_eq!(version.exit_code(), 0);
    assert_eq!(
        version.message(),
        format!("kcm-rs {}\n", crate::version::TEXT)
    );
}

#[test]
fn the_pod_gc_timings_are_hidden_test_flags() {
    let help = failure(&["--help"]).message().to_owned();
    assert!(!help.contains("pod-gc-check-period"), "{help}");
    assert!(!help.contains("pod-gc-quarantine"), "{help}");
    let defaults = ok(&[]).config.process;
    assert_eq!(
        (defaults.pod_gc_check_period, defaults.pod_gc_quarantine),
        (secs(20), secs(40))
    );
    let loaded = ok(&["--pod-gc-check-period=500ms", "--pod-gc-quarantine=1s"]);
    assert_eq!(
        loaded.config.process.pod_gc_check_period,
        Duration::from_millis(500)
    );
    assert_eq!(loaded.config.process.pod_gc_quarantine, secs(1));
}

#[test]
fn kubeadm_controllers_are_accepted_with_one_warning() {
    let loaded = ok(&[
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--bind-address=127.0.0.1",
    ]);
    assert_eq!(loaded.controllers.enabled, ControllerId::ALL);
    assert_eq!(
        loaded.config.component.generic.controllers,
        [
            "*",
            "bootstrap-signer-controller",
            "token-cleaner-controller"
        ]
    );
    assert_eq!(
        loaded.warnings,
        [
            "--controllers: kcm-rs does not implement these controllers and will not run them: \
          bootstrap-signer-controller, token-cleaner-controller"
        ]
    );
}

#[test]
fn unknown_controllers_are_errors_naming_them() {
    let err = failure(&["--controllers=*,foo,-bar"]);
    assert_eq!(err.exit_code(), 2);
    assert_eq!(
        err.message(),
        "error: --controllers: \"foo\" is not in the list of known controllers\n\
         error: --controllers: \"bar\" is not in the list of known controllers\n"
    );
}

#[test]
fn leader_election_is_validated_only_when_on() {
    let err = failure(&["--leader-elect-resource-lock=endpoints"]);
    assert_eq!(
        err.message(),
        "error: --leader-elect-resource-lock: must be \"leases\", got \"endpoints\"\n"
    );
    let err = failure(&["--leader-elect-renew-deadline=20s"]);
    assert!(
        err.message()
            .contains("--leader-elect-lease-duration: must be greater than")
    );
    ok(&[
        "--leader-elect=false",
        "--leader-elect-resource-lock=endpoints",
    ]);
}

#[test]
fn precedence_is_command_line_then_file_then_default() {
    let file = config_file(
        "generic:\n  clientConnection:\n    qps: 40\n  leaderElection:\n    resourceName: from-file\n\
         deploymentController:\n  concurrentDeploymentSyncs: 9\n\
         replicationController:\n  concurrentRCSyncs: 7\n",
    );
    let loaded = ok(&[
        &path_arg(&file),
        "--concurrent-rc-syncs=3",
        // Given explicitly at its default value: still beats the file.
        "--concurrent-deployment-syncs=5",
    ]);
    let c = &loaded.config.component;
    assert_eq!(
        c.replication_controller.concurrent_rc_syncs, 3,
        "flag beats file"
    );
    assert_eq!(
        c.deployment_controller.concurrent_deployment_syncs, 5,
        "explicit default flag beats file"
    );
    assert_eq!(c.generic.client_connection.qps, 40.0, "file beats default");
    assert_eq!(c.generic.leader_election.resource_name, "from-file");
    assert_eq!(
        c.generic.client_connection.burst, 30,
        "default when neither is given"
    );
    assert_eq!(
        loaded.config.process.config_file.as_deref(),
        Some(file.path())
    );
}

#[test]
fn controllers_from_the_file_are_resolved_and_blamed_on_the_file() {
    let file = config_file("generic:\n  controllers: ['deployment', 'replicaset']\n");
    let loaded = ok(&[&path_arg(&file)]);
    assert_eq!(
        loaded.controllers.enabled,
        [ControllerId::ReplicaSet, ControllerId::Deployment]
    );
    assert_eq!(
        loaded.config.component.generic.controllers,
        ["deployment-controller", "replicaset-controller"]
    );

    let overridden = ok(&[&path_arg(&file), "--controllers=*"]);
    assert_eq!(overridden.controllers.enabled, ControllerId::ALL);

    let bad = config_file("generic:\n  controllers: ['*', 'nope']\n");
    let err = failure(&[&path_arg(&bad)]);
    assert_eq!(
        err.message(),
        format!(
            "error: config file {}: field generic.controllers: \"nope\" is not in the list of known controllers\n",
            bad.path().display()
        )
    );
}

#[test]
fn config_file_errors_exit_with_2_naming_file_and_field() {
    let cases: &[(&str, &str)] = &[
        (
            "generic:\n  unknownKnob: 1\n",
            "unknown field `unknownKnob`",
        ),
        (
            "generic:\n  clientConnection:\n    burst: lots\n",
            "field generic.clientConnection.burst: invalid type",
        ),
        (
            "generic:\n  leaderElection:\n    leaseDuration: 15x\n",
            "field generic.leaderElection.leaseDuration: invalid duration \"15x\"",
        ),
        (
            "namespaceController:\n  concurrentNamespaceSyncs: -3\n",
            "field namespaceController.concurrentNamespaceSyncs: must be from 1 to 10000 workers, got -3",
        ),
        (
            "generic:\n  leaderElection:\n    resourceLock: configmaps\n",
            "field generic.leaderElection.resourceLock: must be \"leases\", got \"configmaps\"",
        ),
    ];
    for (body, expected) in cases {
        let file = config_file(body);
        let err = failure(&[&path_arg(&file)]);
        assert_eq!(err.exit_code(), 2, "{body}");
        let prefix = format!("error: config file {}: ", file.path().display());
        assert!(
            err.message().starts_with(&prefix),
            "{body}: {}",
            err.message()
        );
        assert!(
            err.message().contains(expected),
            "{body}: {}",
            err.message()
        );
    }
}

#[test]
fn wrong_type_meta_or_missing_file_is_an_error() {
    let mut wrong = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
    write!(wrong, "apiVersion: v1\nkind: ConfigMap\n").unwrap();
    let err = failure(&[&path_arg(&wrong)]);
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.message().contains("field apiVersion: must be"),
        "{}",
        err.message()
    );

    let err = failure(&["--config=/nonexistent/kcm-rs.yaml"]);
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.message()
            .starts_with("error: config file /nonexistent/kcm-rs.yaml: cannot read:"),
        "{}",
        err.message()
    );
}

#[test]
fn the_sample_config_file_holds_the_defaults() {
    let sample = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../config/kcm-rs.yaml"
    ));
    let loaded = ok(&[&format!("--config={}", sample.display())]);
    let mut want = KcmConfig::default();
    want.process.config_file = Some(sample.clone());
    assert_eq!(loaded.config, want);

    // And it really sets every field the schema has (none left to the defaults by omission).
    let file = config_file::load(&sample).unwrap();
    let g = &file.generic;
    let le = &g.leader_election;
    let set = [
        g.controllers.is_some(),
        g.min_resync_period.is_some(),
        g.controller_start_interval.is_some(),
        g.controller_shutdown_timeout.is_some(),
        g.client_connection.qps.is_some(),
        g.client_connection.burst.is_some(),
        le.leader_elect.is_some(),
        le.lease_duration.is_some(),
        le.renew_deadline.is_some(),
        le.retry_period.is_some(),
        le.resource_lock.is_some(),
        le.resource_name.is_some(),
        le.resource_namespace.is_some(),
        file.kube_cloud_shared
            .use_service_account_credentials
            .is_some(),
        file.deployment_controller
            .concurrent_deployment_syncs
            .is_some(),
        file.endpoint_controller.concurrent_endpoint_syncs.is_some(),
        file.endpoint_controller
            .endpoint_updates_batch_period
            .is_some(),
        file.replication_controller.concurrent_rc_syncs.is_some(),
        file.replica_set_controller.concurrent_rs_syncs.is_some(),
        file.pod_gc_controller.terminated_pod_gc_threshold.is_some(),
        file.namespace_controller.namespace_sync_period.is_some(),
        file.namespace_controller
            .concurrent_namespace_syncs
            .is_some(),
    ];
    assert!(set.iter().all(|s| *s), "{set:?}");
}

#[test]
fn configz_shows_the_effective_values() {
    let loaded = ok(&[
        "--controllers=*,tokencleaner,-podgc",
        "--kube-api-qps=50",
        "--namespace-sync-period=90s",
    ]);
    let json = serde_json::to_value(loaded.config.configz()).unwrap();
    let root = &json["kubecontrollermanager.config.k8s.io"];
    assert_eq!(
        root["Generic"]["Controllers"],
        serde_json::json!([
            "*",
            "token-cleaner-controller",
            "-pod-garbage-collector-controller"
        ])
    );
    assert_eq!(
        root["Generic"]["ClientConnection"]["QPS"],
        serde_json::json!(50)
    );
    assert_eq!(root["NamespaceController"]["NamespaceSyncPeriod"], "1m30s");
}

#[test]
fn a_repeated_flag_takes_the_later_value_as_pflag_does() {
    let loaded = ok(&[
        "--secure-port=1",
        "--secure-port=2",
        "--concurrent-rc-syncs=3",
        "--concurrent_rc_syncs=4",
    ]);
    assert_eq!(loaded.config.process.secure_port, 2);
    assert_eq!(
        loaded
            .config
            .component
            .replication_controller
            .concurrent_rc_syncs,
        4
    );
}

#[test]
fn service_account_credentials_come_from_the_flag_or_the_file() {
    let by_default = ok(&[]);
    assert!(
        !by_default
            .config
            .component
            .kube_cloud_shared
            .use_service_account_credentials
    );
    // kubeadm's spelling, and the bare flag.
    for arg in [
        "--use-service-account-credentials=true",
        "--use-service-account-credentials",
    ] {
        let loaded = ok(&[arg]);
        assert!(
            loaded
                .config
                .component
                .kube_cloud_shared
                .use_service_account_credentials,
            "{arg}"
        );
    }
    for text in [
        "kubeCloudShared:\n  useServiceAccountCredentials: true\n",
        "KubeCloudShared:\n  UseServiceAccountCredentials: true\n",
    ] {
        let file = config_file(text);
        let loaded = ok(&[&path_arg(&file)]);
        assert!(
            loaded
                .config
                .component
                .kube_cloud_shared
                .use_service_account_credentials,
            "{text}"
        );
        let json = serde_json::to_value(loaded.config.configz()).unwrap();
        assert_eq!(
            json["kubecontrollermanager.config.k8s.io"]["KubeCloudShared"]["UseServiceAccountCredentials"],
            true
        );
        let overridden = ok(&[&path_arg(&file), "--use-service-account-credentials=false"]);
        assert!(
            !overridden
                .config
                .component
                .kube_cloud_shared
                .use_service_account_credentials
        );
    }

    let wrong_type = config_file("kubeCloudShared:\n  useServiceAccountCredentials: sometimes\n");
    let err = failure(&[&path_arg(&wrong_type)]);
    assert!(
        err.message()
            .contains("field kubeCloudShared.useServiceAccountCredentials"),
        "{}",
        err.message()
    );
}

#[test]
fn kubeadms_flags_for_controllers_kcm_rs_does_not_run_are_accepted_with_one_warning() {
    // kubeadm's full command line (process.md §7.1).
    let loaded = ok(&[
        "--bind-address=127.0.0.1",
        "--leader-elect=true",
        "--kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--authentication-kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--authorization-kubeconfig=/etc/kubernetes/controller-manager.conf",
        "--client-ca-file=/etc/kubernetes/pki/ca.crt",
        "--requestheader-client-ca-file=/etc/kubernetes/pki/front-proxy-ca.crt",
        "--root-ca-file=/etc/kubernetes/pki/ca.crt",
        "--service-account-private-key-file=/etc/kubernetes/pki/sa.key",
        "--cluster-signing-cert-file=/etc/kubernetes/pki/ca.crt",
        "--cluster-signing-key-file=/etc/kubernetes/pki/ca.key",
        "--use-service-account-credentials=true",
        "--controllers=*,bootstrapsigner,tokencleaner",
        "--allocate-node-cidrs",
        "--cluster-cidr=10.244.0.0/16",
        "--service-cluster-ip-range=10.96.0.0/12",
        "--cluster-name=kubernetes",
    ]);
    assert_eq!(loaded.controllers.enabled, ControllerId::ALL);
    assert_eq!(loaded.warnings.len(), 2, "{:?}", loaded.warnings);
    let ignored = &loaded.warnings[1];
    for flag in [
        "--root-ca-file (serviceaccount-token-controller, root-ca-certificate-publisher-controller)",
        "--service-account-private-key-file (serviceaccount-token-controller)",
        "--cluster-signing-cert-file (certificatesigningrequest-signing-controller)",
        "--cluster-signing-key-file (certificatesigningrequest-signing-controller)",
        "--allocate-node-cidrs (node-ipam-controller)",
        "--cluster-cidr (node-ipam-controller)",
        "--service-cluster-ip-range (node-ipam-controller)",
        "--cluster-name (the cloud-provider controllers)",
    ] {
        assert!(ignored.contains(flag), "{flag} missing from {ignored}");
    }
    assert!(!ignored.contains("--node-cidr-mask-size"), "{ignored}");
    // They stay flags: a bad boolean is still an error naming the flag.
    let err = failure(&["--allocate-node-cidrs=maybe"]);
    assert!(
        err.message().contains("--allocate-node-cidrs"),
        "{}",
        err.message()
    );
    let serving = &loaded.config.process.serving;
    assert_eq!(
        serving.authentication.kubeconfig.as_deref(),
        Some(Path::new("/etc/kubernetes/controller-manager.conf"))
    );
    assert_eq!(
        serving
            .authentication
            .request_header
            .client_ca_file
            .as_deref(),
        Some(Path::new("/etc/kubernetes/pki/front-proxy-ca.crt"))
    );
    // A bad serving value exits 2 naming the flag.
    let err = failure(&["--tls-min-version=VersionTLS9"]);
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.message().contains("--tls-min-version"),
        "{}",
        err.message()
    );
}

/// `--help` names exactly the controllers this build runs (the registry), not every name of
/// the card: a name accepted and skipped must not read as implemented.
#[test]
fn help_lists_the_implemented_controllers_from_the_registry() {
    use clap::CommandFactory;
    let help = flags::Flags::command().render_long_help().to_string();
    let line = help
        .lines()
        .map(str::trim)
        .find_map(|l| l.strip_prefix("Implemented by kcm-rs: "))
        .unwrap_or_default();
    let registry: Vec<&str> = kcm_controllers::registry::descriptors()
        .iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(line.split(", ").collect::<Vec<_>>(), registry, "{help}");
}
