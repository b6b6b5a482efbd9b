//! kcm-rs processes that take part in an election, and what their logs say about it.
//!
//! The elector logs `successfully acquired lease`, `released lease` and `leaderelection lost`
//! with `at_unix_ms=<wall clock>`. Every replica runs on this host, so those readings and the
//! test's own `jiff::Timestamp::now()` come from one clock and can be compared directly.

use std::{process::Command, time::Duration};

use anyhow::Context;
use testenv::{ManagedProcess, TestEnv, env::Identity, kcm_rs_binary};

/// Lease duration, renew deadline and retry period.
#[derive(Clone, Copy, Debug)]
pub struct Timings {
    pub lease: Duration,
    pub renew: Duration,
    pub retry: Duration,
}

impl Timings {
    /// Short timings, in upstream's proportions, so failovers take seconds.
    pub const FAST: Self = Self {
        lease: Duration::from_secs(6),
        renew: Duration::from_secs(4),
        retry: Duration::from_secs(1),
    };

    /// Upstream's defaults (15s/10s/2s).
    pub const DEFAULT: Self = Self {
        lease: Duration::from_secs(15),
        renew: Duration::from_secs(10),
        retry: Duration::from_secs(2),
    };

    /// The `--leader-elect-*` timing flags (kcm-rs and upstream spell them alike).
    pub fn flags(&self) -> Vec<String> {
        vec![
            format!("--leader-elect-lease-duration={}s", self.lease.as_secs()),
            format!("--leader-elect-renew-deadline={}s", self.renew.as_secs()),
            format!("--leader-elect-retry-period={}s", self.retry.as_secs()),
        ]
    }

    /// The longest pause between two acquisition attempts: client-go's jitter makes it
    /// `retryPeriod × 2.2`.
    pub fn longest_pause(&self) -> Duration {
        self.retry.mul_f64(2.2)
    }
}

/// The arguments of a replica in single-lease mode on the Lease `kube-system/<lease>`.
pub fn single_lease_args(lease: &str, timings: Timings, controllers: &str) -> Vec<String> {
    let mut args = vec![
        "--leader-elect=true".to_owned(),
        format!("--leader-elect-resource-name={lease}"),
        format!("--controllers={controllers}"),
    ];
    args.extend(timings.flags());
    args
}

/// What a replica's log says happened to its leadership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Acquired,
    Released,
    Lost,
}

/// One leadership change, as the replica logged it.
#[derive(Clone, Debug)]
pub struct LeaderLog {
    pub change: Change,
    /// `namespace/name`.
    pub lease: String,
    pub at: jiff::Timestamp,
}

/// A running (or finished) kcm-rs process.
pub struct Replica {
    pub label: String,
    process: ManagedProcess,
}

impl Replica {
    /// Starts kcm-rs as the admin, without a serving port, with `args`.
    pub fn spawn(env: &TestEnv, label: &str, args: &[String]) -> anyhow::Result<Self> {
        let mut command = Command::new(kcm_rs_binary()?);
        command
            .arg(format!(
                "--kubeconfig={}",
                env.kubeconfig(Identity::Admin).display()
            ))
            .arg("--secure-port=0")
            .args(args);
        let process = env.spawn(&format!("kcm-rs-{label}"), command)?;
        Ok(Self {
            label: label.to_owned(),
            process,
        })
    }

    pub fn process(&mut self) -> &mut ManagedProcess {
        &mut self.process
    }

    /// The election identity the replica logged at start-up (waits up to 30s for it).
    pub async fn identity(&mut self) -> anyhow::Result<String> {
        self.process
            .wait_for_log("leader election identity", Duration::from_secs(30))
            .await?;
        self.log()
            .lines()
            .filter(|line| line.contains("leader election identity"))
            .find_map(|line| field(line, "identity"))
            .with_context(|| format!("{}: no identity= in the log", self.label))
    }

    /// The whole log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.process.log_path()).unwrap_or_default()
    }

    /// Every leadership change logged so far, in order.
    pub fn leadership(&self) -> Vec<LeaderLog> {
        self.log().lines().filter_map(parse_leader_log).collect()
    }

    /// When the replica first acquired `lease` (`namespace/name`), if it did.
    pub fn acquired(&self, lease: &str) -> Option<jiff::Timestamp> {
        self.leadership()
            .into_iter()
            .find(|l| l.change == Change::Acquired && l.lease == lease)
            .map(|l| l.at)
    }
}

fn parse_leader_log(line: &str) -> Option<LeaderLog> {
    let change = if line.contains("successfully acquired lease") {
        Change::Acquired
    } else if line.contains("released lease") {
        Change::Released
    } else if line.contains("leaderelection lost") {
        Change::Lost
    } else {
        return None;
    };
    let lease = field(line, "lease")?;
    let at = field(line, "at_unix_ms")?.parse::<i64>().ok()?;
    Some(LeaderLog {
        change,
        lease,
        at: jiff::Timestamp::from_millisecond(at).ok()?,
    })
}

/// The value of `key=value` in a log line (values are logged without spaces or quotes).
fn field(line: &str, key: &str) -> Option<String> {
    let prefix = format!("{key}=");
    line.split_whitespace()
        .find_map(|word| word.strip_prefix(prefix.as_str()))
        .map(|value| value.trim_matches('"').to_owned())
}

#[test]
fn leader_log_lines_are_parsed() {
    let line = "I1124 08:00:00.123456   4242 kcm_shared::leader_election::elector] successfully \
                acquired lease lease=kube-system/x identity=h_1 at_unix_ms=1700000000123";
    let parsed = parse_leader_log(line).expect("parsed");
    assert_eq!(parsed.change, Change::Acquired);
    assert_eq!(parsed.lease, "kube-system/x");
    assert_eq!(parsed.at.as_millisecond(), 1_700_000_000_123);
    let lost =
        "E1124 08:00:01.0 1 x] leaderelection lost lease=kube-system/x identity=h_1 at_unix_ms=5";
    assert_eq!(parse_leader_log(lost).map(|l| l.change), Some(Change::Lost));
    assert!(parse_leader_log("I1124 x] new leader elected lease=a holder=b").is_none());
}
