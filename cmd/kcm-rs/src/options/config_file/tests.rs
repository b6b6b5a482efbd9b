use super::*;

const HEADER: &str = "apiVersion: kubecontrollermanager.config.k8s.io/v1alpha1\n\
                      kind: KubeControllerManagerConfiguration\n";

fn parse_body(body: &str) -> Result<ConfigFile, String> {
    parse(Path::new("/etc/kcm.yaml"), &format!("{HEADER}{body}")).map_err(|e| e.to_string())
}

#[test]
fn reads_every_field_in_lower_camel_case() {
    let file = parse_body(
        "generic:\n  controllers: ['*', '-podgc']\n  minResyncPeriod: 1h\n  \
         controllerStartInterval: 1s\n  controllerShutdownTimeout: 3s\n  \
         clientConnection: {qps: 7.5, burst: 9}\n  leaderElection:\n    leaderElect: false\n    \
         leaseDuration: 30s\n    renewDeadline: 20s\n    retryPeriod: 4s\n    resourceLock: leases\n    \
         resourceName: kcm-rs\n    resourceNamespace: ops\n\
         deploymentController: {concurrentDeploymentSyncs: 1}\n\
         endpointController: {concurrentEndpointSyncs: 2, endpointUpdatesBatchPeriod: 500ms}\n\
         replicationController: {concurrentRCSyncs: 3}\n\
         replicaSetController: {concurrentRSSyncs: 4}\n\
         podGCController: {terminatedPodGCThreshold: 100}\n\
         namespaceController: {namespaceSyncPeriod: 2m, concurrentNamespaceSyncs: 6}\n",
    )
    .unwrap();
    let g = &file.generic;
    assert_eq!(
        g.controllers.as_deref(),
        Some(&["*".to_owned(), "-podgc".to_owned()][..])
    );
    assert_eq!(g.min_resync_period, Some(Duration::from_secs(3600)));
    assert_eq!(g.controller_start_interval, Some(Duration::from_secs(1)));
    assert_eq!(g.controller_shutdown_timeout, Some(Duration::from_secs(3)));
    assert_eq!(g.client_connection.qps, Some(7.5));
    assert_eq!(g.client_connection.burst, Some(9));
    let le = &g.leader_election;
    assert_eq!(le.leader_elect, Some(false));
    assert_eq!(le.lease_duration, Some(Duration::from_secs(30)));
    assert_eq!(le.renew_deadline, Some(Duration::from_secs(20)));
    assert_eq!(le.retry_period, Some(Duration::from_secs(4)));
    assert_eq!(le.resource_lock.as_deref(), Some("leases"));
    assert_eq!(le.resource_name.as_deref(), Some("kcm-rs"));
    assert_eq!(le.resource_namespace.as_deref(), Some("ops"));
    assert_eq!(
        file.deployment_controller.concurrent_deployment_syncs,
        Some(1)
    );
    assert_eq!(file.endpoint_controller.concurrent_endpoint_syncs, Some(2));
    assert_eq!(
        file.endpoint_controller.endpoint_updates_batch_period,
        Some(Duration::from_millis(500))
    );
    assert_eq!(file.replication_controller.concurrent_rc_syncs, Some(3));
    assert_eq!(file.replica_set_controller.concurrent_rs_syncs, Some(4));
    assert_eq!(
        file.pod_gc_controller.terminated_pod_gc_threshold,
        Some(100)
    );
    assert_eq!(
        file.namespace_controller.namespace_sync_period,
        Some(Duration::from_secs(120))
    );
    assert_eq!(
        file.namespace_controller.concurrent_namespace_syncs,
        Some(6)
    );
}

#[test]
fn accepts_the_go_field_names_configz_prints() {
    let file = parse_body(
        "Generic:\n  Controllers: ['*']\n  ClientConnection: {QPS: 40, Burst: 60}\n  \
         LeaderElection: {LeaderElect: true, LeaseDuration: 16s}\n\
         ReplicationController: {ConcurrentRCSyncs: 8}\n\
         ReplicaSetController: {ConcurrentRSSyncs: 9}\n\
         PodGCController: {TerminatedPodGCThreshold: 10}\n\
         NamespaceController: {NamespaceSyncPeriod: 1m0s}\n",
    )
    .unwrap();
    assert_eq!(file.generic.client_connection.qps, Some(40.0));
    assert_eq!(file.generic.client_connection.burst, Some(60));
    assert_eq!(
        file.generic.leader_election.lease_duration,
        Some(Duration::from_secs(16))
    );
    assert_eq!(file.replication_controller.concurrent_rc_syncs, Some(8));
    assert_eq!(file.replica_set_controller.concurrent_rs_syncs, Some(9));
    assert_eq!(file.pod_gc_controller.terminated_pod_gc_threshold, Some(10));
    assert_eq!(
        file.namespace_controller.namespace_sync_period,
        Some(Duration::from_secs(60))
    );
}

#[test]
fn a_header_only_file_sets_nothing() {
    let file = parse_body("").unwrap();
    assert_eq!(
        file,
        ConfigFile {
            api_version: Some(API_VERSION.into()),
            kind: Some(KIND.into()),
            ..ConfigFile::default()
        }
    );
}

#[test]
fn errors_name_the_file_and_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            "generic:\n  leaderElection:\n    leaseDuration: 15x\n",
            "config file /etc/kcm.yaml: field generic.leaderElection.leaseDuration: invalid duration \"15x\": unknown unit \"x\"",
        ),
        (
            "generic:\n  leaderElection:\n    leaseDuration: -1s\n",
            "field generic.leaderElection.leaseDuration: invalid duration \"-1s\": must not be negative",
        ),
        (
            "generic:\n  minResyncPeriod: 5\n",
            "field generic.minResyncPeriod: invalid duration \"5\": missing unit",
        ),
        (
            "generic:\n  clientConnection:\n    qps: fast\n",
            "field generic.clientConnection.qps: invalid type: string \"fast\", expected a number",
        ),
        (
            "deploymentController:\n  concurrentDeploymentSyncs: five\n",
            "field deploymentController.concurrentDeploymentSyncs: invalid type: string \"five\"",
        ),
        (
            "generic:\n  controllers: '*'\n",
            "field generic.controllers: invalid type: string \"*\", expected a sequence",
        ),
        (
            "generic:\n  leaderElection:\n    leaderElect: yes\n",
            "field generic.leaderElection.leaderElect: invalid type",
        ),
        (
            "namespaceController:\n  syncPeriod: 1m\n",
            "unknown field `syncPeriod`",
        ),
        ("bogus: 1\n", "unknown field `bogus`"),
    ];
    for (body, expected) in cases {
        let err = parse_body(body).expect_err(body);
        assert!(
            err.contains(expected),
            "{body}\n got: {err}\nwant: {expected}"
        );
        assert!(err.starts_with("config file /etc/kcm.yaml: "), "{err}");
    }
}

#[test]
fn bare_zero_is_a_duration_and_null_means_unset() {
    // time.ParseDuration accepts a unitless "0"; YAML null leaves a field unset, as a JSON
    // null leaves a Go struct field untouched.
    let file = parse_body("generic:\n  controllerStartInterval: 0\n  controllers: ~\n").unwrap();
    assert_eq!(file.generic.controller_start_interval, Some(Duration::ZERO));
    assert_eq!(file.generic.controllers, None);
}

#[test]
fn unknown_fields_are_reported_at_their_section() {
    let err = parse_body("namespaceController:\n  syncPeriod: 1m\n").unwrap_err();
    assert!(err.contains("field namespaceController"), "{err}");
}

#[test]
fn type_meta_must_match() {
    let path = Path::new("x.yaml");
    let err = parse(
        path,
        "apiVersion: v1\nkind: KubeControllerManagerConfiguration\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config file x.yaml: field apiVersion: must be \"kubecontrollermanager.config.k8s.io/v1alpha1\", got \"v1\""
    );
    let err = parse(
        path,
        &format!("apiVersion: {API_VERSION}\nkind: KubeSchedulerConfiguration\n"),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "config file x.yaml: field kind: must be \"KubeControllerManagerConfiguration\", got \"KubeSchedulerConfiguration\""
    );
    let err = parse(path, "kind: KubeControllerManagerConfiguration\n").unwrap_err();
    assert!(
        err.to_string().contains("field apiVersion: missing"),
        "{err}"
    );
    let err = parse(path, "").unwrap_err();
    assert!(err.to_string().starts_with("config file x.yaml: "), "{err}");
}

#[test]
fn a_missing_file_is_an_error_naming_it() {
    let err = load(Path::new("/nonexistent/kcm.yaml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("config file /nonexistent/kcm.yaml: cannot read: "),
        "{err}"
    );
}
