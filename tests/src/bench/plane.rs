//! A fresh etcd + kube-apiserver per contender and workload, set up for measuring.
//!
//! Differences from a test environment, all benchmark-only (test-environment.md §2.3):
//! priority and fairness and the in-flight limits are off, so neither the harness nor a
//! contender is throttled by the server; and an audit log records, at `Metadata` level, every
//! request of the `admin` user and nobody else's. The contenders run as `admin`; the harness,
//! the stand-in scheduler and the virtual node run as `restricted-user` bound to
//! `cluster-admin`, so the audit log holds exactly the contender's requests ([`Audit`]).

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use k8s_openapi::api::{core::v1::Namespace, rbac::v1::ClusterRoleBinding};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};
use serde_json::json;

use super::measure::Audit;
use crate::{Check, env::config_from_kubeconfig, wait_until};

const AUDIT_POLICY: &str = "\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  users: [admin]
- level: None
";

fn testenv_sh(
    args: &[&str],
    dir: &Path,
    bin_dir: &Path,
    apiserver_args: &str,
) -> anyhow::Result<()> {
    let out = Command::new("bash")
        .arg(crate::env::TESTENV_SCRIPT)
        .args(args)
        .arg(dir)
        .env("K8S_BIN_DIR", bin_dir)
        .env("TESTENV_APISERVER_ARGS", apiserver_args)
        .output()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    anyhow::ensure!(
        out.status.success(),
        "testenv.sh {args:?} {} failed:\n{stderr}",
        dir.display()
    );
    Ok(())
}

/// A fresh etcd + kube-apiserver, stopped on drop (and by testenv.sh's guard if we die).
pub struct ControlPlane {
    dir: PathBuf,
    bin_dir: PathBuf,
}

impl ControlPlane {
    /// Starts one in `dir`, replacing whatever an earlier run left there.
    pub fn up(dir: PathBuf, bin_dir: &Path) -> anyhow::Result<Self> {
        if dir.exists() {
            let _ = testenv_sh(&["down"], &dir, bin_dir, "");
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(dir.join("processes"))?;
        let policy = dir.join("audit-policy.yaml");
        std::fs::write(&policy, AUDIT_POLICY)?;
        let apiserver_args = format!(
            "--enable-priority-and-fairness=false --max-requests-inflight=0 \
             --max-mutating-requests-inflight=0 --audit-policy-file={} --audit-log-path={}",
            policy.display(),
            dir.join("audit.log").display()
        );
        let me = std::process::id().to_string();
        testenv_sh(&["up", "--owner-pid", &me], &dir, bin_dir, &apiserver_args)?;
        // Kills the controller should this process die without unwinding.
        testenv_sh(
            &["reap", "--owner-pid", &me],
            &dir.join("processes"),
            bin_dir,
            "",
        )?;
        Ok(Self {
            dir,
            bin_dir: bin_dir.to_owned(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where child processes write their logs.
    pub fn processes_dir(&self) -> PathBuf {
        self.dir.join("processes")
    }

    /// The contender's requests from now on.
    pub fn audit(&self) -> Audit {
        Audit::from_now(self.dir.join("audit.log"))
    }

    /// A client for one of the kubeconfigs `testenv.sh` wrote.
    pub async fn client(&self, kubeconfig: &str) -> anyhow::Result<Client> {
        Ok(Client::try_from(
            config_from_kubeconfig(&self.dir.join(kubeconfig)).await?,
        )?)
    }

    /// `restricted-user` made cluster-admin: allowed everything, and not in the audit log.
    /// Its kubeconfig is `restricted.kubeconfig` (for the virtual node).
    pub async fn harness_client(&self) -> anyhow::Result<Client> {
        let binding: ClusterRoleBinding = serde_json::from_value(json!({
            "metadata": { "name": "bench-harness" },
            "roleRef": { "apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin" },
            "subjects": [{ "apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "restricted-user" }],
        }))?;
        let admin = self.client("admin.kubeconfig").await?;
        Api::all(admin)
            .create(&PostParams::default(), &binding)
            .await?;
        let harness = self.client("restricted.kubeconfig").await?;
        let namespaces: Api<Namespace> = Api::all(harness.clone());
        // RBAC reaches the authorizer through an informer: wait for the binding to apply.
        let list = ListParams::default().limit(1);
        wait_until(Duration::from_secs(30), "the harness binding", || async {
            match namespaces.list(&list).await {
                Ok(_) => Check::Done(()),
                Err(e) => Check::NotYet(e.to_string()),
            }
        })
        .await?;
        Ok(harness)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Err(e) = testenv_sh(&["down"], &self.dir, &self.bin_dir, "") {
            tracing::warn!("{e:#}");
        }
    }
}
