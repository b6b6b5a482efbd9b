use super::*;

#[test]
fn settings_follow_the_config() {
    let mut config = KcmConfig::default();
    config.component.replica_set_controller.concurrent_rs_syncs = 7;
    config.component.namespace_controller.namespace_sync_period = Duration::from_secs(60);
    let settings = controller_settings(&config);
    assert_eq!(settings.concurrent_rs_syncs, 7);
    assert_eq!(settings.namespace_sync_period, Duration::from_secs(60));
    assert_eq!(settings.concurrent_deployment_syncs, 5);
}
