//! What a run produces: one [`Measurement`] per contender, workload and variant, rendered as
//! markdown tables (stdout) and one JSON file (`target/bench/`).

use std::{collections::BTreeMap, fmt::Write as _, path::Path};

use serde::Serialize;

use super::measure::{Requests, Sample};

/// Who produced a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    Upstream,
    KcmRs,
    /// The tight client doing the same writes with no controller (the apiserver's floor).
    Floor,
}

/// One contender's figures for one workload variant.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub workload: String,
    /// Empty for the workload as specified; `limits off`, `5000 pods`, ... otherwise.
    pub variant: String,
    pub contender: String,
    pub role: Role,
    /// From the clock's start to the end state.
    pub wall_s: f64,
    /// Named parts of `wall_s`, in order.
    pub phases: Vec<(String, f64)>,
    /// The contender's user+sys CPU seconds over `wall_s`.
    pub cpu_s: Option<f64>,
    /// `VmHWM` at the end.
    pub peak_rss_mb: Option<f64>,
    /// `VmRSS` after the end state plus a short settle.
    pub steady_rss_mb: Option<f64>,
    /// The contender's requests over `wall_s` (audit log).
    pub requests: Option<Requests>,
    /// Workload-specific figures (the scale curve's, say).
    pub figures: BTreeMap<String, f64>,
    pub samples: Vec<Sample>,
}

impl Measurement {
    /// An empty measurement of `workload`/`variant` by `contender`.
    pub fn new(workload: &str, variant: &str, contender: &str, role: Role) -> Self {
        Self {
            workload: workload.to_owned(),
            variant: variant.to_owned(),
            contender: contender.to_owned(),
            role,
            wall_s: 0.0,
            phases: Vec::new(),
            cpu_s: None,
            peak_rss_mb: None,
            steady_rss_mb: None,
            requests: None,
            figures: BTreeMap::new(),
            samples: Vec::new(),
        }
    }

    /// The line label in tables and charts.
    pub fn series(&self) -> String {
        if self.variant.is_empty() {
            self.contender.clone()
        } else {
            format!("{} ({})", self.contender, self.variant)
        }
    }

    pub fn figure(&self, key: &str) -> Option<f64> {
        self.figures.get(key).copied()
    }
}

/// A contender that did not produce a measurement, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Skipped {
    pub workload: String,
    pub contender: String,
    pub reason: String,
}

/// A numeric table column.
pub struct Column {
    pub title: &'static str,
    pub value: fn(&Measurement) -> Option<f64>,
    pub digits: usize,
}

/// Wall time, CPU, peak and steady RSS, requests: the columns every workload shows.
pub fn standard_columns() -> Vec<Column> {
    vec![
        Column {
            title: "wall (s)",
            value: |m| Some(m.wall_s),
            digits: 1,
        },
        Column {
            title: "CPU (s)",
            value: |m| m.cpu_s,
            digits: 2,
        },
        Column {
            title: "peak RSS (MB)",
            value: |m| m.peak_rss_mb,
            digits: 1,
        },
        Column {
            title: "steady RSS (MB)",
            value: |m| m.steady_rss_mb,
            digits: 1,
        },
        Column {
            title: "requests",
            value: |m| m.requests.as_ref().map(|r| r.total as f64),
            digits: 0,
        },
    ]
}

fn cell(value: Option<f64>, digits: usize) -> String {
    value.map_or_else(|| "–".to_owned(), |v| format!("{v:.digits$}"))
}

/// A markdown table of `rows` with `columns`, then phases and requests by verb; after each
/// variant's rows, the ratio kcm-rs / upstream of every column where both have a value.
pub fn markdown_table(rows: &[&Measurement], columns: &[Column], with_verbs: bool) -> String {
    let mut out = String::new();
    let titles: Vec<&str> = columns.iter().map(|c| c.title).collect();
    let _ = write!(out, "| contender | {} |", titles.join(" | "));
    if with_verbs {
        out.push_str(" phases (s) | requests by verb |");
    }
    out.push('\n');
    let extra = if with_verbs { 2 } else { 0 };
    out.push_str(&"|---".repeat(columns.len() + 1 + extra));
    out.push_str("|\n");
    let mut variants: Vec<&str> = Vec::new();
    for m in rows {
        if !variants.contains(&m.variant.as_str()) {
            variants.push(&m.variant);
        }
    }
    for variant in variants {
        let group: Vec<&&Measurement> = rows.iter().filter(|m| m.variant == variant).collect();
        for m in &group {
            let cells: Vec<String> = columns
                .iter()
                .map(|c| cell((c.value)(m), c.digits))
                .collect();
            let _ = write!(out, "| {} | {} |", m.series(), cells.join(" | "));
            if with_verbs {
                let phases: Vec<String> = m
                    .phases
                    .iter()
                    .map(|(n, s)| format!("{n} {s:.1}"))
                    .collect();
                let verbs = m
                    .requests
                    .as_ref()
                    .map(Requests::verbs_text)
                    .unwrap_or_default();
                let _ = write!(out, " {} | {verbs} |", phases.join(", "));
            }
            out.push('\n');
        }
        let find = |role: Role| group.iter().find(|m| m.role == role);
        if let (Some(up), Some(rs)) = (find(Role::Upstream), find(Role::KcmRs)) {
            let ratios: Vec<String> = columns
                .iter()
                .map(|c| match ((c.value)(rs), (c.value)(up)) {
                    (Some(a), Some(b)) if b > 0.0 => format!("**{:.2}**", a / b),
                    _ => "–".to_owned(),
                })
                .collect();
            let label = if variant.is_empty() {
                "kcm-rs / upstream".to_owned()
            } else {
                format!("kcm-rs / upstream ({variant})")
            };
            let _ = write!(out, "| *{label}* | {} |", ratios.join(" | "));
            if with_verbs {
                out.push_str(" | |");
            }
            out.push('\n');
        }
    }
    out
}

/// The machine a run measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gb: f64,
    pub kernel: String,
    /// `/proc/loadavg`'s first three fields at the start and at the end.
    pub load_start: String,
    pub load_end: String,
}

impl Machine {
    pub fn now() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let cpu = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .map(|l| l.trim_start_matches([' ', '\t', ':']).to_owned())
            .unwrap_or_else(|| "unknown".to_owned());
        let memory_gb = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                m.lines()
                    .find_map(|l| l.strip_prefix("MemTotal:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            })
            .map_or(0.0, |kb| kb / 1024.0 / 1024.0);
        Self {
            cpu,
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            memory_gb,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .unwrap_or_default()
                .trim()
                .to_owned(),
            load_start: load_average(),
            load_end: String::new(),
        }
    }

    pub fn describe(&self) -> String {
        format!(
            "{} cores ({}), {:.0} GB RAM, Linux {}; load average {} at the start, {} at the end",
            self.cores, self.cpu, self.memory_gb, self.kernel, self.load_start, self.load_end
        )
    }
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Everything a run produced, as written to JSON.
#[derive(Debug, Serialize)]
pub struct Report {
    pub started: String,
    pub elapsed_s: f64,
    pub machine: Machine,
    /// Each workload's settings, as its table heading prints them.
    pub settings: BTreeMap<String, String>,
    pub measurements: Vec<Measurement>,
    pub skipped: Vec<Skipped>,
}

impl Report {
    /// Writes `bench-<start>.json` and `latest.json` in `dir`; returns the first's path.
    pub fn write_json(&self, dir: &Path) -> anyhow::Result<std::path::PathBuf> {
        std::fs::create_dir_all(dir)?;
        let text = serde_json::to_string_pretty(self)?;
        let stamp = self.started.replace([':', '.'], "-");
        let path = dir.join(format!("bench-{stamp}.json"));
        std::fs::write(&path, &text)?;
        std::fs::write(dir.join("latest.json"), &text)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests;
