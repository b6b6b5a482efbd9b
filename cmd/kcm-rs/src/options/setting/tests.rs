use super::*;

#[test]
fn flag_and_arg_id_are_two_spellings_of_one_name() {
    use Setting::*;
    let all = [
        Controllers,
        MinResyncPeriod,
        ControllerStartInterval,
        ControllerShutdownTimeout,
        KubeApiQps,
        KubeApiBurst,
        LeaderElect,
        LeaderElectLeaseDuration,
        LeaderElectRenewDeadline,
        LeaderElectRetryPeriod,
        LeaderElectResourceLock,
        LeaderElectResourceName,
        LeaderElectResourceNamespace,
        UseServiceAccountCredentials,
        ConcurrentDeploymentSyncs,
        ConcurrentEndpointSyncs,
        EndpointUpdatesBatchPeriod,
        ConcurrentRcSyncs,
        ConcurrentReplicasetSyncs,
        TerminatedPodGcThreshold,
        NamespaceSyncPeriod,
        ConcurrentNamespaceSyncs,
    ];
    for setting in all {
        assert_eq!(
            format!("--{}", setting.arg_id().replace('_', "-")),
            setting.flag(),
            "{setting:?}"
        );
    }
}

#[test]
fn locations_point_at_the_source() {
    let mut origins = Origins::new(Some(PathBuf::from("/etc/kcm.yaml")));
    origins.record(Setting::ConcurrentRcSyncs, Origin::File);
    origins.record(Setting::KubeApiQps, Origin::CommandLine);
    assert_eq!(
        origins.locate(Setting::ConcurrentRcSyncs).to_string(),
        "config file /etc/kcm.yaml: field replicationController.concurrentRCSyncs"
    );
    assert_eq!(
        origins.locate(Setting::KubeApiQps).to_string(),
        "--kube-api-qps"
    );
    assert_eq!(
        origins.locate(Setting::Controllers).to_string(),
        "--controllers"
    );
}
