//! What a benchmark reads about a contender: CPU seconds and resident memory from `/proc`,
//! its API requests from the apiserver's audit log, and progress samples over time.

use std::{
    collections::BTreeMap,
    io::{Read, Seek, SeekFrom},
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, bail};
use serde::Serialize;
use tokio::time::Instant;

use crate::{ManagedProcess, process::ProcessState};

/// `utime + stime` of a process, in seconds: fields 14 and 15 of `/proc/<pid>/stat`.
pub fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name may hold spaces; fields after it start at field 3.
    let (_, after_command) = stat.rsplit_once(") ").context("odd /proc/<pid>/stat")?;
    let fields: Vec<&str> = after_command.split_whitespace().collect();
    let ticks =
        |i: usize| -> anyhow::Result<f64> { Ok(fields.get(i).context("short stat")?.parse()?) };
    Ok((ticks(11)? + ticks(12)?) / clock_ticks())
}

/// Clock ticks per second (`getconf CLK_TCK`), read once.
pub fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        super::contender::output(Path::new("getconf"), "CLK_TCK")
            .and_then(|t| t.parse().ok())
            .unwrap_or(100.0)
    })
}

fn status_mb(pid: u32, field: &str) -> anyhow::Result<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .with_context(|| format!("no {field} in /proc/{pid}/status"))?;
    Ok(kb.trim().trim_end_matches("kB").trim().parse::<f64>()? / 1024.0)
}

/// `VmHWM` (peak resident set) of a process, in MB.
pub fn peak_rss_mb(pid: u32) -> anyhow::Result<f64> {
    status_mb(pid, "VmHWM:")
}

/// `VmRSS` (current resident set) of a process, in MB.
pub fn rss_mb(pid: u32) -> anyhow::Result<f64> {
    status_mb(pid, "VmRSS:")
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

/// API requests, as the apiserver's audit log records them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Requests {
    pub total: u64,
    /// Per verb (`get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, ...).
    pub by_verb: BTreeMap<String, u64>,
    /// Per `verb resource[/subresource]`.
    pub by_resource: BTreeMap<String, u64>,
    /// Responses with a status code of 400 or more (conflicts, not found, timeouts).
    pub errors: u64,
}

impl Requests {
    /// `verb=count` pairs, most frequent first: `create 2000, update 410, ...`.
    pub fn verbs_text(&self) -> String {
        let mut verbs: Vec<(&String, &u64)> = self.by_verb.iter().collect();
        verbs.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        verbs
            .iter()
            .map(|(v, n)| format!("{v} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Adds one audit event (a JSON line); events other than a request's last are skipped:
    /// a watch counts at `ResponseStarted` (it may never complete), anything else at
    /// `ResponseComplete`.
    fn add_event(&mut self, line: &str) {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(line) else {
            return;
        };
        let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
        let verb = text(&event["verb"]);
        let counted = match event["stage"].as_str() {
            Some("ResponseStarted") => verb == "watch",
            Some("ResponseComplete") => verb != "watch",
            Some("Panic") => true,
            _ => false,
        };
        if !counted {
            return;
        }
        let object = &event["objectRef"];
        let mut resource = text(&object["resource"]);
        if resource.is_empty() {
            resource = text(&event["requestURI"])
                .split('?')
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        let sub = text(&object["subresource"]);
        if !sub.is_empty() {
            resource = format!("{resource}/{sub}");
        }
        self.total += 1;
        if event["responseStatus"]["code"].as_u64().unwrap_or(0) >= 400 {
            self.errors += 1;
        }
        *self.by_verb.entry(verb.clone()).or_default() += 1;
        *self
            .by_resource
            .entry(format!("{verb} {resource}"))
            .or_default() += 1;
    }
}

/// The audit log from a point on: the contender's requests (see [`super::plane`]).
#[derive(Debug, Clone)]
pub struct Audit {
    path: PathBuf,
    offset: u64,
}

impl Audit {
    /// Requests logged after this call.
    pub fn from_now(path: PathBuf) -> Self {
        let offset = std::fs::metadata(&path).map_or(0, |m| m.len());
        Self { path, offset }
    }

    /// The requests logged since [`from_now`](Self::from_now) (complete lines only).
    pub fn requests(&self) -> anyhow::Result<Requests> {
        let mut file = match std::fs::File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Requests::default()),
            Err(e) => return Err(e).with_context(|| format!("opening {}", self.path.display())),
        };
        file.seek(SeekFrom::Start(self.offset))?;
        let mut text = String::new();
        file.read_to_string(&mut text)
            .with_context(|| format!("reading {}", self.path.display()))?;
        let mut requests = Requests::default();
        for line in text.lines() {
            requests.add_event(line);
        }
        Ok(requests)
    }
}

/// One point of a progress curve.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Sample {
    /// Seconds since the workload's clock started.
    pub t: f64,
    /// The workload's progress measure (objects done, objects left, ...).
    pub progress: f64,
    /// The contender's resident memory then, MB (absent for the floor client).
    pub rss_mb: Option<f64>,
    /// The contender's CPU seconds since the clock started.
    pub cpu_s: Option<f64>,
}

/// Progress samples against one clock, with the contender's memory and CPU at each.
#[derive(Debug)]
pub struct Recorder {
    start: Instant,
    pid: Option<u32>,
    cpu_at_start: f64,
    pub samples: Vec<Sample>,
}

impl Recorder {
    /// Starts the clock now; `pid` is the contender's process, if there is one.
    pub fn start(pid: Option<u32>) -> Self {
        let cpu_at_start = pid.and_then(|p| cpu_seconds(p).ok()).unwrap_or(0.0);
        Self {
            start: Instant::now(),
            pid,
            cpu_at_start,
            samples: Vec::new(),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// The contender's CPU seconds since the clock started.
    pub fn cpu(&self) -> Option<f64> {
        let pid = self.pid?;
        Some(cpu_seconds(pid).ok()? - self.cpu_at_start)
    }

    /// Records `progress` now.
    pub fn sample(&mut self, progress: f64) {
        let rss_mb = self.pid.and_then(|p| rss_mb(p).ok());
        self.samples.push(Sample {
            t: self.elapsed().as_secs_f64(),
            progress,
            rss_mb,
            cpu_s: self.cpu(),
        });
    }
}

/// Waits until `process` has logged "Caches are synced" `controllers` times (once per
/// controller, upstream and kcm-rs alike); fails if it exits or after `timeout`.
pub async fn wait_synced(
    process: &mut ManagedProcess,
    controllers: usize,
    timeout: Duration,
) -> anyhow::Result<()> {
    let started = Instant::now();
    loop {
        let log = std::fs::read_to_string(process.log_path()).unwrap_or_default();
        if log.matches("Caches are synced").count() >= controllers {
            return Ok(());
        }
        check_running(process)?;
        if started.elapsed() > timeout {
            bail!(
                "{} not synced after {timeout:?}:\n{}",
                process.name(),
                process.log_tail(30)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// An error with the log tail if `process` has exited.
pub fn check_running(process: &mut ManagedProcess) -> anyhow::Result<()> {
    if let ProcessState::Exited(status) = process.state() {
        bail!(
            "{} exited ({status}):\n{}",
            process.name(),
            process.log_tail(30)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
