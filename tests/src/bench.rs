//! `make bench`: every controller of kcm-rs against the upstream kube-controller-manager,
//! side by side, each contender on a fresh etcd + kube-apiserver (tests/examples/bench.rs is
//! the entry point).
//!
//! - [`flags`]: the command line (`--key=value`, contender names).
//! - [`contender`]: upstream and kcm-rs builds, the flags both get ([`contender::Limits`]).
//! - [`plane`]: a fresh control plane per run, with an audit log of the contender's requests.
//! - [`pods`]: the virtual node and a binder, so pods created by a controller run.
//! - [`measure`]: CPU and memory from `/proc`, requests from the audit log, progress samples.
//! - [`report`] and [`chart`]: markdown tables, JSON, SVG charts.
//! - One module per workload: [`deployments`], [`endpoints`], [`namespace`], [`podgc`],
//!   [`scale`], [`floor`] (the apiserver's own limit for deployments and namespace), and
//!   [`replicasets`] and [`virtual_node`] (not part of the default set).
//!
//! Fairness (test-environment.md §3.3): contenders run one after the other, each against its
//! own fresh etcd + kube-apiserver (`tests/env/testenv.sh up`, etcd with `--unsafe-no-fsync`:
//! fair between contenders, faster than a real cluster), with the same identity, controllers,
//! `--kube-api-qps`/`--kube-api-burst` and workers, and for upstream JSON instead of protobuf.

pub mod chart;
pub mod contender;
pub mod deployments;
pub mod endpoints;
pub mod flags;
pub mod floor;
pub mod measure;
pub mod namespace;
pub mod plane;
pub mod podgc;
pub mod pods;
pub mod replicasets;
pub mod report;
pub mod scale;
pub mod virtual_node;

use std::{
    future::Future,
    path::{Path, PathBuf},
    process::Command,
};

pub use contender::{Contender, Limits};
pub use measure::metric_sum;
pub use plane::ControlPlane;

use report::{Column, Measurement, Skipped};

const TARGET_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../target");

/// `$CARGO_TARGET_DIR`, else the workspace's `target/`.
pub fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| TARGET_DIR.into(), PathBuf::from);
    dir.canonicalize().unwrap_or(dir)
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

/// What every workload needs: the binaries, the contenders, where to write.
pub struct Context {
    pub bin_dir: PathBuf,
    pub contenders: Vec<Contender>,
    /// `target/bench`: JSON, charts, and one directory per run with its logs.
    pub out_dir: PathBuf,
}

impl Context {
    /// The directory of one run: `<out>/<workload>/<label>`.
    pub fn run_dir(&self, workload: &str, label: &str) -> PathBuf {
        let label: String = label
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        self.out_dir.join(workload).join(label)
    }
}

/// A workload's results: its table and its chart.
pub struct Section {
    pub workload: &'static str,
    /// The table heading: sizes, limits, what is measured.
    pub heading: String,
    pub columns: Vec<Column>,
    pub measurements: Vec<Measurement>,
    pub skipped: Vec<Skipped>,
    /// Charts to draw: file stem (`<stem>.svg`) and content.
    pub charts: Vec<(String, ChartSpec)>,
}

/// What to draw for a section.
pub struct ChartSpec {
    pub title: String,
    pub x_desc: String,
    pub y_desc: String,
    pub series: Vec<chart::Series>,
}

impl Section {
    pub fn new(workload: &'static str, heading: String) -> Self {
        Self {
            workload,
            heading,
            columns: report::standard_columns(),
            measurements: Vec::new(),
            skipped: Vec::new(),
            charts: Vec::new(),
        }
    }

    /// A progress-over-time chart `<stem>.svg` of the measurements of `variant` (all when
    /// `None`).
    pub fn progress_chart(&mut self, stem: &str, variant: Option<&str>, title: &str, y_desc: &str) {
        let rows: Vec<&Measurement> = self
            .measurements
            .iter()
            .filter(|m| variant.is_none_or(|v| m.variant == v))
            .collect();
        let spec = ChartSpec {
            title: title.to_owned(),
            x_desc: "seconds since the clock started".to_owned(),
            y_desc: y_desc.to_owned(),
            series: chart::progress_series(&rows),
        };
        self.charts.push((stem.to_owned(), spec));
    }

    /// Runs `run` for every contender of `ctx` that implements all of `controllers`, one
    /// after the other; a failure is logged and recorded, and the next contender still runs.
    pub async fn run_contenders<F, Fut>(
        &mut self,
        ctx: &Context,
        controllers: &[&str],
        variant: &str,
        mut run: F,
    ) where
        F: FnMut(Contender, PathBuf) -> Fut,
        Fut: Future<Output = anyhow::Result<Measurement>>,
    {
        for contender in &ctx.contenders {
            if let Some(missing) = controllers.iter().find(|c| !contender.implements(c)) {
                self.skip(&contender.label, format!("this build has no {missing}"));
                continue;
            }
            let name = if variant.is_empty() {
                contender.label.clone()
            } else {
                format!("{} {variant}", contender.label)
            };
            tracing::info!("== {}: {name}: fresh etcd + kube-apiserver", self.workload);
            match run(contender.clone(), ctx.run_dir(self.workload, &name)).await {
                Ok(m) => {
                    tracing::info!("== {}: {name}: {:.1} s", self.workload, m.wall_s);
                    self.measurements.push(m);
                }
                Err(e) => {
                    tracing::info!("== {}: {name}: FAILED: {e:#}", self.workload);
                    self.skip(&name, format!("failed: {e:#}"));
                }
            }
        }
    }

    pub fn skip(&mut self, contender: &str, reason: String) {
        tracing::info!("== {}: {contender}: skipped: {reason}", self.workload);
        self.skipped.push(Skipped {
            workload: self.workload.to_owned(),
            contender: contender.to_owned(),
            reason,
        });
    }

    /// The markdown: heading, table, skipped contenders.
    pub fn markdown(&self) -> String {
        let rows: Vec<&Measurement> = self.measurements.iter().collect();
        let mut text = format!("### {}\n\n{}\n\n", self.workload, self.heading);
        text.push_str(&report::markdown_table(&rows, &self.columns, true));
        for s in &self.skipped {
            text.push_str(&format!("\n- {}: {}", s.contender, s.reason));
        }
        text.push('\n');
        text
    }

    /// Draws the charts that have data into `<dir>/<stem>.svg`; returns their paths.
    pub fn draw(&self, dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
        let mut paths = Vec::new();
        for (stem, spec) in &self.charts {
            if spec.series.iter().all(|s| s.points.is_empty()) {
                continue;
            }
            std::fs::create_dir_all(dir)?;
            let path = dir.join(format!("{stem}.svg"));
            chart::line_chart(&path, &spec.title, &spec.x_desc, &spec.y_desc, &spec.series)?;
            paths.push(path);
        }
        Ok(paths)
    }
}

/// Builds the `run` measurement's final figures from a recorder: wall time, CPU, peak and
/// steady memory, requests.
pub fn finish(
    m: &mut Measurement,
    recorder: measure::Recorder,
    pid: Option<u32>,
    audit: &measure::Audit,
) -> anyhow::Result<()> {
    m.wall_s = recorder.elapsed().as_secs_f64();
    m.cpu_s = recorder.cpu();
    if let Some(pid) = pid {
        m.peak_rss_mb = Some(measure::peak_rss_mb(pid)?);
    }
    m.requests = Some(audit.requests()?);
    m.samples = recorder.samples;
    Ok(())
}

/// Runs `f` on every item with `concurrency` in flight; the first error stops the rest.
pub async fn for_all<I, T, F, Fut>(items: I, concurrency: usize, f: F) -> anyhow::Result<()>
where
    I: IntoIterator<Item = T>,
    F: Fn(T) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    use futures::{StreamExt, TryStreamExt};
    futures::stream::iter(items)
        .map(f)
        .buffer_unordered(concurrency)
        .try_for_each(|()| async { Ok(()) })
        .await
}

/// `VmRSS` of `pid` after `settle`: the steady memory once the end state is reached.
pub async fn steady_rss(pid: u32, settle: std::time::Duration) -> anyhow::Result<f64> {
    tokio::time::sleep(settle).await;
    measure::rss_mb(pid)
}

/// Namespaces `names`, created with `client`.
pub async fn create_namespaces(client: &kube::Client, names: &[String]) -> anyhow::Result<()> {
    use k8s_openapi::api::core::v1::Namespace;
    let api: kube::Api<Namespace> = kube::Api::all(client.clone());
    for name in names {
        let object: Namespace =
            serde_json::from_value(serde_json::json!({ "metadata": { "name": name } }))?;
        api.create(&Default::default(), &object).await?;
    }
    Ok(())
}

/// `--qps`, `--burst` and `--workers` if given (for every workload), else the workload's
/// defaults `qps`, `burst` and `workers` (upstream's default for the workload's controllers).
pub fn limits(f: &flags::Flags, qps: f32, burst: u32, workers: u32) -> anyhow::Result<Limits> {
    Ok(Limits {
        qps: f.get("qps", qps)?,
        burst: f.get("burst", burst)?,
        workers: f.get("workers", workers)?,
    })
}

impl Contender {
    /// The role of this contender's measurements.
    pub fn role(&self) -> report::Role {
        if self.is_upstream() {
            report::Role::Upstream
        } else {
            report::Role::KcmRs
        }
    }

    /// Spawns this contender against `plane` (see [`Contender::command`]) and waits until
    /// every one of `controllers` has synced its caches.
    pub async fn start_synced(
        &self,
        plane: &ControlPlane,
        controllers: &[&str],
        limits: &Limits,
        worker_flags: &[&str],
        extra: &[String],
    ) -> anyhow::Result<crate::ManagedProcess> {
        let command = self.command(plane.dir(), controllers, limits, worker_flags, extra);
        let mut process =
            crate::ManagedProcess::spawn_in(&plane.processes_dir(), self.process_name(), command)?;
        measure::wait_synced(
            &mut process,
            controllers.len(),
            std::time::Duration::from_secs(120),
        )
        .await?;
        Ok(process)
    }
}

/// Samples `probe` (progress, done) every `interval` until it says done; fails when one of
/// `watched` has exited or after `timeout` on `recorder`'s clock. A probe error is logged and
/// the poll goes on (the apiserver may time out under load).
pub async fn poll_until<F, Fut>(
    recorder: &mut measure::Recorder,
    watched: &mut [&mut crate::ManagedProcess],
    timeout: std::time::Duration,
    interval: std::time::Duration,
    mut probe: F,
) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<(f64, bool)>>,
{
    loop {
        match probe().await {
            Ok((progress, done)) => {
                recorder.sample(progress);
                if done {
                    return Ok(());
                }
            }
            Err(e) => tracing::info!("  reading progress: {e:#}"),
        }
        for process in watched.iter_mut() {
            measure::check_running(process)?;
        }
        if recorder.elapsed() > timeout {
            let logs: Vec<String> = watched
                .iter()
                .map(|p| p.log_path().display().to_string())
                .collect();
            anyhow::bail!("not done after {timeout:?}; see {}", logs.join(", "));
        }
        tokio::time::sleep(interval).await;
    }
}
