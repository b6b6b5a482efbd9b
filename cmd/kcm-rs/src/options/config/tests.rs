use super::*;
use serde_json::json;

#[test]
fn configz_has_upstreams_shape_and_default_values() {
    let got = serde_json::to_value(KcmConfig::default().configz()).unwrap();
    let want = json!({
        "featureGates": {
            "DeploymentReplicaSetTerminatingReplicas": true,
            "PodDeletionCost": true,
            "StaleControllerConsistencyReplicaSet": true,
            "WatchListClient": true
        },
        "kubecontrollermanager.config.k8s.io": {
            "Generic": {
                "Port": 0,
                "Address": "0.0.0.0",
                "MinResyncPeriod": "12h0m0s",
                "ClientConnection": {
                    "Kubeconfig": "",
                    "AcceptContentTypes": "",
                    "ContentType": "application/json",
                    "QPS": 20,
                    "Burst": 30
                },
                "ControllerStartInterval": "0s",
                "LeaderElection": {
                    "LeaderElect": true,
                    "LeaseDuration": "15s",
                    "RenewDeadline": "10s",
                    "RetryPeriod": "2s",
                    "ResourceLock": "leases",
                    "ResourceName": "kube-controller-manager",
                    "ResourceNamespace": "kube-system"
                },
                "Controllers": ["*"],
                "Debugging": {"EnableProfiling": false, "EnableContentionProfiling": false},
                "LeaderMigrationEnabled": false,
                "LeaderMigration": {"LeaderName": "", "ResourceLock": "", "ControllerLeaders": null}
            },
            "KubeCloudShared": {"UseServiceAccountCredentials": false},
            "DeploymentController": {"ConcurrentDeploymentSyncs": 5},
            "EndpointController": {"ConcurrentEndpointSyncs": 5, "EndpointUpdatesBatchPeriod": "0s"},
            "NamespaceController": {"NamespaceSyncPeriod": "5m0s", "ConcurrentNamespaceSyncs": 10},
            "PodGCController": {"TerminatedPodGCThreshold": 12500},
            "ReplicaSetController": {"ConcurrentRSSyncs": 5},
            "ReplicationController": {"ConcurrentRCSyncs": 5}
        }
    });
    assert_eq!(got, want);
}

#[test]
fn configz_prints_fields_in_go_declaration_order() {
    let text = serde_json::to_string(&KcmConfig::default().configz()).unwrap();
    assert!(
        text.starts_with(
            r#"{"kubecontrollermanager.config.k8s.io":{"Generic":{"Port":0,"Address":"0.0.0.0","MinResyncPeriod":"12h0m0s","ClientConnection":{"#
        ),
        "{text}"
    );
}

#[test]
fn fractional_qps_keeps_float32_precision() {
    let mut config = KcmConfig::default();
    config.component.generic.client_connection.qps = 0.1;
    let text = serde_json::to_string(&config.configz()).unwrap();
    assert!(text.contains(r#""QPS":0.1,"#), "{text}");
}
