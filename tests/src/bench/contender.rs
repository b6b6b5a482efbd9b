//! The controller managers a benchmark compares: the upstream kube-controller-manager of the
//! test environment's tag, and kcm-rs builds.
//!
//! Fairness (test-environment.md §3.3): every contender gets the admin kubeconfig (the same
//! identity), no leader election, no serving port, and the same controllers, client limits
//! and worker counts ([`Limits`]); upstream also gets its own credentials for every
//! controller and JSON instead of protobuf unless `upstream-protobuf` is asked for.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::bail;

use super::target_dir;

/// Which program a contender runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// The upstream kube-controller-manager; `protobuf` keeps its default wire format.
    Upstream { protobuf: bool },
    /// A kcm-rs binary.
    KcmRs,
}

/// One controller manager to measure.
#[derive(Debug, Clone)]
pub struct Contender {
    /// How tables and charts name it.
    pub label: String,
    pub binary: PathBuf,
    pub kind: Kind,
    /// Canonical names of the controllers this build implements (every one for upstream).
    implemented: Option<Vec<String>>,
}

/// Client limits and workers, the same for every contender of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Limits {
    pub qps: f32,
    pub burst: u32,
    pub workers: u32,
}

impl Contender {
    pub fn is_upstream(&self) -> bool {
        matches!(self.kind, Kind::Upstream { .. })
    }

    /// Whether this contender runs the controller `name` (canonical, e.g.
    /// `deployment-controller`); kcm-rs accepts and ignores the names it does not implement.
    pub fn implements(&self, name: &str) -> bool {
        self.implemented
            .as_ref()
            .is_none_or(|list| list.iter().any(|c| c == name))
    }

    /// The command line: admin kubeconfig of the control plane in `dir`, no leader election,
    /// no serving port, `controllers`, `limits` (QPS, burst and every worker count `workers`
    /// names), then `extra`.
    pub fn command(
        &self,
        dir: &Path,
        controllers: &[&str],
        limits: &Limits,
        workers: &[&str],
        extra: &[String],
    ) -> Command {
        let mut command = Command::new(&self.binary);
        command.args([
            format!("--kubeconfig={}", dir.join("admin.kubeconfig").display()),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
            format!("--controllers={}", controllers.join(",")),
            format!("--kube-api-qps={}", limits.qps),
            format!("--kube-api-burst={}", limits.burst),
        ]);
        command.args(workers.iter().map(|w| format!("--{w}={}", limits.workers)));
        if let Kind::Upstream { protobuf } = self.kind {
            command.arg("--use-service-account-credentials=false");
            if !protobuf {
                command.arg("--kube-api-content-type=application/json");
            }
        }
        command.args(extra);
        command
    }

    /// A short name for process logs: `upstream` or `kcm-rs`.
    pub fn process_name(&self) -> &'static str {
        if self.is_upstream() {
            "upstream"
        } else {
            "kcm-rs"
        }
    }
}

/// The contenders named by `names`: `upstream`, `upstream-protobuf`, `debug`, `release` or a
/// path to a kcm-rs binary; by default upstream and release.
pub fn contenders(names: &[String], bin_dir: &Path) -> anyhow::Result<Vec<Contender>> {
    let target = target_dir();
    let names: Vec<&str> = if names.is_empty() {
        vec!["upstream", "release"]
    } else {
        names.iter().map(String::as_str).collect()
    };
    let upstream = bin_dir.join("kube-controller-manager");
    let version = output(&upstream, "--version").unwrap_or_default();
    let version = version.split_whitespace().last().unwrap_or("?").to_owned();
    let mut contenders = Vec::new();
    for name in names {
        let contender = match name {
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
                kind: Kind::Upstream {
                    protobuf: name != "upstream",
                },
                implemented: None,
            },
            "debug" | "release" => {
                kcm_rs(format!("kcm-rs {name}"), target.join(name).join("kcm-rs"))?
            }
            path => kcm_rs(format!("kcm-rs ({path})"), path.into())?,
        };
        if !contender.binary.is_file() {
            bail!(
                "{} is missing (cargo build --release -p kcm-rs?)",
                contender.binary.display()
            );
        }
        contenders.push(contender);
    }
    Ok(contenders)
}

fn kcm_rs(label: String, binary: PathBuf) -> anyhow::Result<Contender> {
    let implemented = if binary.is_file() {
        let help = output(&binary, "--help").unwrap_or_default();
        Some(implemented_controllers(&help))
    } else {
        None
    };
    Ok(Contender {
        label,
        binary,
        kind: Kind::KcmRs,
        implemented,
    })
}

/// The names after "Implemented by kcm-rs:" in kcm-rs's `--help` (clap may wrap the line).
fn implemented_controllers(help: &str) -> Vec<String> {
    let Some((_, rest)) = help.split_once("Implemented by kcm-rs:") else {
        return Vec::new();
    };
    let list = rest.split("All controllers").next().unwrap_or_default();
    list.split(',')
        .map(|n| n.split_whitespace().collect::<String>())
        .filter(|n| !n.is_empty())
        .collect()
}

pub(super) fn output(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

#[cfg(test)]
mod tests;
