//! What the benchmarks in `tests/examples` share: command-line flags, the contenders (upstream
//! kube-controller-manager or a kcm-rs binary), a fresh control plane per contender, a
//! harness client outside APF's exempt level, and the figures read from `/proc` and the
//! apiserver's `/metrics`.
//!
//! Fairness (test-environment.md §3.3): contenders run one after the other, each against its
//! own fresh etcd + kube-apiserver, with the same admin identity (APF's exempt level for
//! both) and, for `upstream`, JSON instead of protobuf unless `upstream-protobuf` is asked for.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{Context, bail};
use k8s_openapi::api::{core::v1::Namespace, rbac::v1::ClusterRoleBinding};
use kube::{
    Api, Client,
    api::{ListParams, PostParams},
};
use serde_json::json;

use crate::{Check, env::config_from_kubeconfig, wait_until};

const TARGET_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target");

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

/// Refuses any `--flag` whose key is not among the space-separated `known`.
pub fn check_flags(args: &[String], known: &str) -> anyhow::Result<()> {
    for arg in args.iter().filter_map(|a| a.strip_prefix("--")) {
        let key = arg.split_once('=').map(|(k, _)| k);
        if !key.is_some_and(|k| known.split(' ').any(|f| f == k)) {
            bail!("--{arg}: expected --KEY=VALUE with KEY one of: {known}");
        }
    }
    Ok(())
}

/// `$CARGO_TARGET_DIR`, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| TARGET_DIR.into(), PathBuf::from)
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

/// One controller manager to measure.
#[derive(Debug)]
pub struct Contender {
    pub label: String,
    pub binary: PathBuf,
    /// `Some(protobuf)` for the upstream kube-controller-manager.
    pub upstream: Option<bool>,
}

impl Contender {
    /// The flags every contender gets: the admin kubeconfig of `dir`, no leader election, no
    /// serving port; upstream also its own credentials and JSON unless protobuf was asked for.
    pub fn command(&self, dir: &Path) -> Command {
        let mut command = Command::new(&self.binary);
        command.args([
            format!("--kubeconfig={}", dir.join("admin.kubeconfig").display()),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
        ]);
        if let Some(protobuf) = self.upstream {
            command.arg("--use-service-account-credentials=false");
            if !protobuf {
                command.arg("--kube-api-content-type=application/json");
            }
        }
        command
    }

    /// The binary's file name, for process logs.
    pub fn process_name(&self) -> &str {
        self.binary
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("controller")
    }
}

/// The contenders named on the command line: `upstream`, `upstream-protobuf`, `debug`,
/// `release` or a path to a kcm-rs binary; by default upstream, debug, and release when built.
pub fn contenders(names: &[&str], bin_dir: &Path) -> anyhow::Result<Vec<Contender>> {
    let target = target_dir();
    let mut names: Vec<&str> = names.to_vec();
    if names.is_empty() {
        names = vec!["upstream", "debug"];
        if target.join("release/kcm-rs").is_file() {
            names.push("release");
        }
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
    dir: PathBuf,
    bin_dir: PathBuf,
}

impl ControlPlane {
    /// Starts one in `dir`, replacing whatever an earlier run left there.
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A client for one of the kubeconfigs `testenv.sh` wrote.
    pub async fn client(&self, kubeconfig: &str) -> anyhow::Result<Client> {
        Ok(Client::try_from(
            config_from_kubeconfig(&self.dir.join(kubeconfig)).await?,
        )?)
    }

    /// A client allowed everything (cluster-admin) but not in APF's exempt level, so its
    /// requests do not count as the controller's.
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
        if let Err(e) = testenv_sh(&["down"], &self.dir, &self.bin_dir) {
            tracing::warn!("{e:#}");
        }
    }
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

/// `VmHWM` (peak resident set) of a process, in MB.
pub fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .context("no VmHWM")?;
    Ok(kb.trim().trim_end_matches("kB").trim().parse::<f64>()? / 1024.0)
}

/// Clock ticks per second (`getconf CLK_TCK`), for [`cpu_seconds`].
pub fn clock_ticks() -> f64 {
    command_output(Path::new("getconf"), "CLK_TCK")
        .and_then(|t| t.parse().ok())
        .unwrap_or(100.0)
}

fn command_output(program: &Path, arg: &str) -> Option<String> {
    let out = Command::new(program).arg(arg).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_owned())
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

/// The apiserver's `/metrics`, also saved to `save_to`.
pub async fn apiserver_metrics(admin: &Client, save_to: &Path) -> anyhow::Result<String> {
    let text = admin
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    std::fs::write(save_to, &text)?;
    Ok(text)
}

/// The APF-exempt requests the apiserver dispatched, per `text` from [`apiserver_metrics`]:
/// the controller's (admin identity) plus a few of the apiserver's own.
pub fn exempt_requests(text: &str) -> f64 {
    metric_sum(
        text,
        "apiserver_flowcontrol_dispatched_requests_total",
        &[r#"flow_schema="exempt""#],
    )
}

/// `rows` under `header` (cells separated by `|`), one labelled line each, right-aligned to
/// the header's columns.
pub fn table(header: &str, rows: &[(String, Vec<String>)]) -> String {
    let widths: Vec<usize> = header.split('|').map(str::len).collect();
    let line = |label: &str, cells: &[String]| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        format!("{label:<28} {}\n", cells.join(" "))
    };
    let titles: Vec<String> = header.split('|').map(str::to_owned).collect();
    let mut text = line("contender", &titles);
    for (label, cells) in rows {
        text.push_str(&line(label, cells));
    }
    text
}

/// `VmRSS` (current resident set) of a process, in MB.
pub fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .context("no VmRSS")?;
    Ok(kb.trim().trim_end_matches("kB").trim().parse::<f64>()? / 1024.0)
}

/// Runs `run(index, dir)` for each contender (`contenders[index]`) in turn, each with its own
/// directory `root/<index>`, and reports each outcome with `summary`. Returns the outcomes of those that
/// succeeded and how many failed (a failure is logged and the next contender still runs).
pub async fn run_each<O, F, Fut>(
    contenders: &[Contender],
    root: &Path,
    mut run: F,
    summary: impl Fn(&O) -> String,
) -> (Vec<O>, usize)
where
    F: FnMut(usize, PathBuf) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<O>>,
{
    let (mut outcomes, mut failed) = (Vec::new(), 0);
    for (i, contender) in contenders.iter().enumerate() {
        let label = &contender.label;
        eprintln!("== {label}: starting a fresh etcd + kube-apiserver");
        match run(i, root.join(i.to_string())).await {
            Ok(outcome) => {
                eprintln!("{label}: {}", summary(&outcome));
                outcomes.push(outcome);
            }
            Err(e) => {
                eprintln!("{label}: FAILED: {e:#}");
                failed += 1;
            }
        }
    }
    (outcomes, failed)
}
