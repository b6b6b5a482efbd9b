//! The upstream kube-controller-manager as a yardstick: a test can run a scenario against
//! chosen upstream controllers and against ours, and compare.
//!
//! It runs with the admin identity and `--use-service-account-credentials=false` (so no
//! per-controller ServiceAccounts or tokens are needed), without leader election (no Lease
//! traffic) and without its HTTPS endpoint (`--secure-port=0`: no fixed port to collide on).
//! Hold [`TestEnv::controller_lock`] while it runs: it acts on every namespace.

use std::{process::Command, time::Duration};

use anyhow::{Context, bail};

use crate::{
    env::{Identity, TestEnv},
    process::ManagedProcess,
};

/// How long [`UpstreamKcm::start`] waits for the first informer caches to sync.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running upstream kube-controller-manager; stopped on drop.
#[derive(Debug)]
pub struct UpstreamKcm {
    process: ManagedProcess,
}

impl UpstreamKcm {
    /// Starts it with exactly `controllers` (canonical names such as
    /// `replicaset-controller`) and waits until its informer caches have synced.
    pub async fn start(env: &TestEnv, controllers: &[&str]) -> anyhow::Result<Self> {
        Self::start_with_args(env, controllers, &[]).await
    }

    /// Like [`start`](Self::start), with extra flags (e.g. `--kube-api-qps=1000`,
    /// `--concurrent-replicaset-syncs=5`); a flag given here overrides a default one.
    pub async fn start_with_args(
        env: &TestEnv,
        controllers: &[&str],
        extra_args: &[&str],
    ) -> anyhow::Result<Self> {
        if controllers.is_empty() {
            bail!("name at least one controller: an empty list would start the defaults");
        }
        let binary = env.bin_dir().join("kube-controller-manager");
        if !binary.is_file() {
            bail!(
                "{} does not exist; run tests/env/build.sh",
                binary.display()
            );
        }
        let mut command = Command::new(&binary);
        command
            .args(default_args(env, controllers))
            .args(extra_args);
        let mut process = env.spawn("kube-controller-manager", command)?;
        // Each controller logs this once its informers are filled; before that it acts on nothing.
        process
            .wait_for_log("Caches are synced", START_TIMEOUT)
            .await
            .context("waiting for the upstream kube-controller-manager to start")?;
        Ok(Self { process })
    }

    /// The process (pid, log).
    pub fn process(&self) -> &ManagedProcess {
        &self.process
    }

    /// The process, for stopping it gracefully.
    pub fn process_mut(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }
}

fn default_args(env: &TestEnv, controllers: &[&str]) -> Vec<String> {
    vec![
        format!("--kubeconfig={}", env.kubeconfig(Identity::Admin).display()),
        format!("--controllers={}", controllers.join(",")),
        "--leader-elect=false".to_owned(),
        "--secure-port=0".to_owned(),
        "--use-service-account-credentials=false".to_owned(),
        "--v=2".to_owned(),
    ]
}
