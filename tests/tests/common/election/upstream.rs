//! The upstream kube-controller-manager as a candidate for the default Lease.

use std::{process::Command, time::Duration};

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use testenv::{ManagedProcess, TestEnv, env::Identity};

use super::{lease, replica::Timings};

/// Starts the upstream kube-controller-manager as a candidate for the default Lease, with the
/// flags `UpstreamKcm` uses but leader election on. Unlike `UpstreamKcm::start_with_args` it
/// does not wait for the controllers to run: a standby never gets there.
pub fn spawn_upstream_standby(
    env: &TestEnv,
    controllers: &str,
    timings: Timings,
) -> anyhow::Result<ManagedProcess> {
    let mut command = Command::new(env.bin_dir().join("kube-controller-manager"));
    command
        .arg(format!(
            "--kubeconfig={}",
            env.kubeconfig(Identity::Admin).display()
        ))
        .args([
            &format!("--controllers={controllers}"),
            "--leader-elect=true",
            "--secure-port=0",
            "--use-service-account-credentials=false",
            "--v=2",
        ])
        .args(timings.flags());
    env.spawn("kube-controller-manager-standby", command)
}

/// Whether a kcm-rs or upstream log says the process acquired a lease (upstream capitalises).
pub fn says_it_leads(log: &str) -> bool {
    log.to_lowercase().contains("successfully acquired lease")
}

/// Checks for `window` that `name` stays held by `holder` and `standby` never says it leads.
pub async fn assert_stays_held(
    leases: &Api<Lease>,
    name: &str,
    holder: &str,
    standby_log: impl Fn() -> String,
    window: Duration,
) -> anyhow::Result<()> {
    let until = tokio::time::Instant::now() + window;
    let first = lease::read(leases, name).await?.unwrap_or_default();
    while tokio::time::Instant::now() < until {
        let held = lease::read(leases, name).await?.unwrap_or_default();
        assert_eq!(held.holder, holder, "the lease changed hands");
        assert!(!says_it_leads(&standby_log()), "the standby claims to lead");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let last = lease::read(leases, name).await?.unwrap_or_default();
    assert!(
        last.renew_time > first.renew_time,
        "the holder kept renewing"
    );
    Ok(())
}
