//! What every benchmark needs: contenders (upstream kube-controller-manager and kcm-rs
//! builds), a fresh control plane per contender, and a process's CPU and memory from `/proc`.
//!
//! Fairness (test-environment.md §3.3): contenders run one after the other, each against its
//! own fresh etcd + kube-apiserver (`tests/env/testenv.sh up`), with the same identity and the
//! same client limits; upstream speaks JSON unless the `upstream-protobuf` contender is asked
//! for.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, bail};
use kube::Client;

use crate::env::config_from_kubeconfig;

const TARGET_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target");

/// One process under test.
#[derive(Clone, Debug)]
pub struct Contender {
    pub label: String,
    pub binary: PathBuf,
    /// `Some(protobuf)` for the upstream kube-controller-manager.
    pub upstream: Option<bool>,
}

impl Contender {
    /// Flags that make upstream comparable: no ServiceAccount credentials, JSON unless asked.
    pub fn upstream_args(&self) -> Vec<String> {
        match self.upstream {
            Some(protobuf) => {
                let mut args = vec!["--use-service-account-credentials=false".to_owned()];
                if !protobuf {
                    args.push("--kube-api-content-type=application/json".to_owned());
                }
                args
            }
            None => Vec::new(),
        }
    }
}

/// The workspace's target directory.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| TARGET_DIR.into(), PathBuf::from)
}

/// The value of `--key=value` among `args`, or `default`.
pub fn flag<T: std::str::FromStr>(args: &[String], key: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let prefix = format!("--{key}=");
    match args.iter().rev().find_map(|a| a.strip_prefix(&prefix)) {
        Some(v) => v.parse().map_err(|e| anyhow::anyhow!("--{key}={v}: {e}")),
        None => Ok(default),
    }
}

/// Rejects `--key=value` arguments whose key is not in `known` (space-separated).
pub fn check_flags(args: &[String], known: &str) -> anyhow::Result<()> {
    for arg in args.iter().filter_map(|a| a.strip_prefix("--")) {
        let key = arg.split_once('=').map(|(k, _)| k);
        if !key.is_some_and(|k| known.split(' ').any(|f| f == k)) {
            bail!("--{arg}: expected --KEY=VALUE with KEY one of: {known}");
        }
    }
    Ok(())
}

/// The contenders named among `args` (`upstream`, `upstream-protobuf`, `debug`, `release` or a
/// path to a kcm-rs binary), or `defaults` when none is named. Fails if a binary is missing.
pub fn contenders(
    args: &[String],
    bin_dir: &Path,
    defaults: &[&str],
) -> anyhow::Result<Vec<Contender>> {
    let target = target_dir();
    let mut names: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(String::as_str)
        .collect();
    if names.is_empty() {
        names = defaults.to_vec();
    }
    let upstream = bin_dir.join("kube-controller-manager");
    let version = command_output(&upstream, "--version").unwrap_or_default();
    let version = version.split_whitespace().last().unwrap_or("?").to_owned();
    let contenders: Vec<Contender> = names
        .into_iter()
        .map(|name| match name {
            "upstream" | "upstream-protobuf" => Contender {
                label: format!(
                    "upstream {version}{}",
                    if name == "upstream" {
                        ""
                    } else {
                        " (protobuf)"
                    }
                ),
                binary: upstream.clone(),
                upstream: Some(name != "upstream"),
            },
            "debug" | "release" => Contender {
                label: format!("kcm-rs ({name})"),
                binary: target.join(name).join("kcm-rs"),
                upstream: None,
            },
            path => Contender {
                label: format!("kcm-rs ({path})"),
                binary: path.into(),
                upstream: None,
            },
        })
        .collect();
    if let Some(missing) = contenders.iter().find(|c| !c.binary.is_file()) {
        bail!(
            "{} is missing (cargo build -p kcm-rs?)",
            missing.binary.display()
        );
    }
    Ok(contenders)
}

/// `K8S_BIN_DIR`, else the cached build of `tests/env/build.sh`.
pub fn k8s_bin_dir() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("K8S_BIN_DIR").filter(|d| !d.is_empty()) {
        return Ok(dir.into());
    }
    let out = Command::new("bash")
        .args([crate::env::BUILD_SCRIPT, "--cached-only"])
        .output()?;
    anyhow::ensure!(
        out.status.success(),
        "no Kubernetes binaries: run tests/env/build.sh"
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    Ok(stdout.lines().last().unwrap_or_default().trim().into())
}

fn testenv_sh(args: &[&str], dir: &Path, bin_dir: &Path) -> anyhow::Result<()> {
    let out = Command::new("bash")
        .arg(crate::env::TESTENV_SCRIPT)
        .args(args)
        .arg(dir)
        .env("K8S_BIN_DIR", bin_dir)
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
    pub dir: PathBuf,
    bin_dir: PathBuf,
}

impl ControlPlane {
    pub fn up(dir: PathBuf, bin_dir: &Path) -> anyhow::Result<Self> {
        if dir.exists() {
            let _ = testenv_sh(&["down"], &dir, bin_dir);
            std::fs::remove_dir_all(&dir)?;
        }
        std::fs::create_dir_all(dir.join("processes"))?;
        let me = std::process::id().to_string();
        testenv_sh(&["up", "--owner-pid", &me], &dir, bin_dir)?;
        // Kills the controller should this process die without unwinding.
        testenv_sh(
            &["reap", "--owner-pid", &me],
            &dir.join("processes"),
            bin_dir,
        )?;
        Ok(Self {
            dir,
            bin_dir: bin_dir.to_owned(),
        })
    }

    /// A client from one of the environment's kubeconfigs (`admin.kubeconfig`, ...).
    pub async fn client(&self, kubeconfig: &str) -> anyhow::Result<Client> {
        Ok(Client::try_from(
            config_from_kubeconfig(&self.dir.join(kubeconfig)).await?,
        )?)
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if let Err(e) = testenv_sh(&["down"], &self.dir, &self.bin_dir) {
            eprintln!("{e:#}");
        }
    }
}

/// The trimmed stdout of `program arg`.
pub fn command_output(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// Clock ticks per second (`getconf CLK_TCK`).
pub fn clock_ticks() -> f64 {
    command_output(Path::new("getconf"), "CLK_TCK")
        .and_then(|t| t.parse().ok())
        .unwrap_or(100.0)
}

/// `utime + stime` of a process, in seconds: fields 14 and 15 of `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32, ticks_per_second: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields after it start at field 3.
    let (_, after_command) = stat.rsplit_once(") ").context("odd /proc/<pid>/stat")?;
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    let ticks =
        |i: usize| -> anyhow::Result<f64> { Ok(fields.get(i).context("short stat")?.parse()?) };
    Ok((ticks(11)? + ticks(12)?) / ticks_per_second)
}

fn status_kb(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kb.trim().trim_end_matches("kB").trim().parse::<f64>()?)
}

/// `VmHWM` (peak resident set) of a process, in MB.
pub fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    Ok(status_kb(pid, "VmHWM:")? / 1024.0)
}

/// `VmRSS` (current resident set) of a process, in MB.
pub fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    Ok(status_kb(pid, "VmRSS:")? / 1024.0)
}

/// Sum of the samples of `name` whose labels include every `key="value"` of `labels` (as
/// text: `,resource="pods"` rather than `resource="pods"` where a key ends another key).
pub fn metric_sum(text: &str, name: &str, labels: &[&str]) -> f64 {
    text.lines()
        .filter_map(|l| l.strip_prefix(name)?.strip_prefix('{'))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit_once(' ')?.1.parse::<f64>().ok())
        .sum()
}
