//! A group of kcm-rs replicas in one election: who leads, and when each one led.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use testenv::{Check, TestEnv, wait_until};

use super::{lease, replica::Replica};

/// A replica and the identity it elects with.
pub struct Member {
    pub replica: Replica,
    pub identity: String,
}

impl Member {
    pub async fn start(env: &TestEnv, label: &str, args: &[String]) -> anyhow::Result<Self> {
        let mut replica = Replica::spawn(env, label, args)?;
        let identity = replica.identity().await?;
        Ok(Self { replica, identity })
    }
}

/// Starts `count` replicas back to back, then waits for each one's identity.
pub async fn start_members(
    env: &TestEnv,
    prefix: &str,
    count: usize,
    args: &[String],
) -> anyhow::Result<Vec<Member>> {
    let mut replicas = Vec::new();
    for i in 0..count {
        replicas.push(Replica::spawn(env, &format!("{prefix}-{i}"), args)?);
    }
    let mut members = Vec::new();
    for mut replica in replicas {
        let identity = replica.identity().await?;
        members.push(Member { replica, identity });
    }
    Ok(members)
}

/// Waits until `name` is held by one of `members` that has logged taking it; returns its index.
pub async fn wait_for_leader(
    leases: &Api<Lease>,
    name: &str,
    members: &[Member],
    timeout: Duration,
) -> anyhow::Result<usize> {
    let full = format!("{}/{name}", lease::NAMESPACE);
    let index = wait_until(timeout, &format!("a leader of {full}"), || async {
        let held = match lease::read(leases, name).await {
            Ok(held) => held.unwrap_or_default(),
            Err(e) => return Check::NotYet(format!("reading the lease: {e:#}")),
        };
        match members.iter().position(|m| m.identity == held.holder) {
            Some(i) if members[i].replica.acquired(&full).is_some() => Check::Done(i),
            _ => Check::NotYet(format!("held by {:?}", held.holder)),
        }
    })
    .await?;
    Ok(index)
}

/// Seconds from `from` to `to` (negative if `to` is earlier).
pub fn seconds(from: jiff::Timestamp, to: jiff::Timestamp) -> f64 {
    to.duration_since(from).as_secs_f64()
}

/// A span of leading: who, from when, until when (`None`: still leading at the end).
pub type Interval = (String, jiff::Timestamp, Option<jiff::Timestamp>);

/// Panics unless every interval ends before the next one (by start time) begins.
pub fn assert_no_overlap(mut intervals: Vec<Interval>) {
    intervals.sort_by_key(|(_, from, _)| *from);
    for pair in intervals.windows(2) {
        let (ref earlier, _, end) = pair[0];
        let (ref later, start, _) = pair[1];
        let end =
            end.unwrap_or_else(|| panic!("{earlier} is still leading, yet {later} led after it"));
        assert!(
            end <= start,
            "{earlier} led until {end}, but {later} led from {start}: {intervals:#?}"
        );
    }
}
