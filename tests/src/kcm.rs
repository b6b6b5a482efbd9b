//! Running kcm-rs itself as a child process of a test, the way users run it.
//!
//! [`kcm_rs_binary`] builds `kcm-rs` once per test binary (`cargo test -p kcm-tests` builds only
//! this package, so the binary would otherwise be missing or stale); `KCM_RS_BINARY` names a
//! binary to use instead (a release build for benchmarks, say). [`KcmRs::start`] runs it
//! against the environment with the admin identity, no serving port and leader election off
//! unless the caller's arguments say otherwise.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
    time::Duration,
};

use anyhow::{Context, bail};

use crate::{ManagedProcess, TestEnv, env::Identity};

/// The kcm-rs binary, built on first use.
pub fn kcm_rs_binary() -> anyhow::Result<PathBuf> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| build_kcm_rs().map_err(|e| format!("{e:#}")))
        .clone()
        .map_err(anyhow::Error::msg)
}

fn build_kcm_rs() -> anyhow::Result<PathBuf> {
    build_binary("kcm-rs", "KCM_RS_BINARY")
}

/// A workspace binary built (debug) on demand: `package`'s binary of the same name, or the
/// path in the environment variable `override_var` when set (a release build, say).
pub fn build_binary(package: &str, override_var: &str) -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os(override_var).filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .context("the tests package has a parent directory")?;
    let target = match std::env::var_os("CARGO_TARGET_DIR").filter(|p| !p.is_empty()) {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    };
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", package])
        .current_dir(workspace);
    // cargo test hands this process CARGO_MANIFEST_DIR, CARGO_PKG_*, ...; build scripts that
    // track them (ring's) would see a changed environment and rebuild, twice per run.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR" {
            build.env_remove(&*name);
        }
    }
    let output = build
        .output()
        .with_context(|| format!("running cargo build -p {package}"))?;
    if !output.status.success() {
        bail!(
            "cargo build -p {package} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let binary = target.join("debug").join(package);
    if !binary.is_file() {
        bail!("{} does not exist after the build", binary.display());
    }
    Ok(binary)
}

/// A running kcm-rs; killed when dropped.
pub struct KcmRs {
    process: ManagedProcess,
}

impl KcmRs {
    /// Starts kcm-rs with `args` after the defaults `--kubeconfig <admin> --secure-port=0
    /// --leader-elect=false -v 2` (later flags win, so `args` can override any of them).
    pub fn start(env: &TestEnv, args: &[&str]) -> anyhow::Result<Self> {
        let mut command = Command::new(kcm_rs_binary()?);
        command
            .arg(format!(
                "--kubeconfig={}",
                env.kubeconfig(Identity::Admin).display()
            ))
            .args(["--secure-port=0", "--leader-elect=false", "-v", "2"])
            .args(args);
        Ok(Self {
            process: env.spawn("kcm-rs", command)?,
        })
    }

    /// Starts kcm-rs and waits until its controllers' caches are synced.
    pub async fn start_synced(env: &TestEnv, args: &[&str]) -> anyhow::Result<Self> {
        let mut kcm = Self::start(env, args)?;
        kcm.process
            .wait_for_log("Caches are synced", Duration::from_secs(60))
            .await
            .with_context(|| format!("kcm-rs did not sync:\n{}", kcm.process.log_tail(30)))?;
        Ok(kcm)
    }

    pub fn process(&self) -> &ManagedProcess {
        &self.process
    }

    pub fn process_mut(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }
}
