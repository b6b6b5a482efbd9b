//! Leader election of kcm-rs against a real apiserver: failover after `kill -9` and SIGTERM,
//! a leader cut off from the apiserver, the upstream kube-controller-manager as the other
//! candidate, and per-controller Leases spread over replicas.
//!
//! Every test holds [`TestEnv::controller_lock`]: the replicas run real controllers, and the
//! interop test uses the upstream default Lease. Apart from that test, each test elects on a
//! Lease of its own. Timings are short (6s/4s/1s unless said otherwise); what is asserted is
//! relative to them. Measured times are printed to stderr (`--nocapture` shows them).

mod common {
    pub mod election;
}

use std::time::Duration;

use common::election::{
    lease::{self, Held},
    members::{Interval, Member, assert_no_overlap, seconds, start_members, wait_for_leader},
    pod_ceiling::{PodCeiling, replica_set},
    replica::{Change, Timings, single_lease_args},
    unique_name,
    upstream::{assert_stays_held, says_it_leads, spawn_upstream_standby},
};
use k8s_openapi::api::{apps::v1::ReplicaSet, core::v1::Pod};
use kube::api::{Patch, PatchParams, PostParams};
use rand::Rng;
use testenv::{Check, TestEnv, UpstreamKcm, wait_until};

/// Allowance for process start-up and scheduling on a busy two-core machine.
const SLACK: Duration = Duration::from_millis(1000);
/// The controller the single-lease replicas run: real work, quick to drain.
const CONTROLLER: &str = "replicaset-controller";

#[tokio::test]
async fn kill_9_failovers_never_overlap_and_never_overscale() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let timings = Timings::FAST;
    let name = unique_name("kcm-failover");
    let full = format!("{}/{name}", lease::NAMESPACE);
    let args = single_lease_args(&name, timings, CONTROLLER);
    let leases = lease::api(env.admin_client());
    let ns = env.namespace("le-failover").await?;
    let ceiling = PodCeiling::start(ns.api::<Pod>(), 2);
    let replica_sets = ns.api::<ReplicaSet>();
    replica_sets
        .create(&PostParams::default(), &replica_set("web", 2))
        .await?;

    let mut members = start_members(env, "failover", 3, &args).await?;
    ceiling.wait_for_target(Duration::from_secs(60)).await?;
    let bound = timings.lease + timings.longest_pause() + SLACK;
    let mut killed = Vec::new();
    let mut takeovers = Vec::new();
    for (round, replicas) in [4, 1, 5, 3, 6, 2, 5, 1, 4, 3].into_iter().enumerate() {
        let leader = wait_for_leader(&leases, &name, &members, bound + SLACK).await?;
        // Scale, and kill the leader while it may be half-way through the change.
        ceiling.scaling_to(replicas);
        let patch = serde_json::json!({ "spec": { "replicas": replicas } });
        replica_sets
            .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
            .await?;
        let pause = rand::rng().random_range(0..400);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let mut dead = members.remove(leader);
        dead.replica.process().kill()?;
        let killed_at = jiff::Timestamp::now();
        members.push(Member::start(env, &format!("failover-{}", round + 3), &args).await?);

        let next = wait_for_leader(&leases, &name, &members, bound + SLACK).await?;
        let took = seconds(
            killed_at,
            members[next].replica.acquired(&full).expect("logged"),
        );
        takeovers.push(took);
        assert!(
            took <= bound.as_secs_f64(),
            "round {round}: {} took over {took:.2}s after the kill; allowed {bound:?}",
            members[next].replica.label
        );
        killed.push((dead, killed_at));
        ceiling.wait_for_target(Duration::from_secs(30)).await?;
    }

    let mut intervals: Vec<Interval> = Vec::new();
    for (dead, killed_at) in &killed {
        if let Some(from) = dead.replica.acquired(&full) {
            intervals.push((dead.replica.label.clone(), from, Some(*killed_at)));
        }
    }
    for member in &members {
        let log = member.replica.leadership();
        let Some(from) = member.replica.acquired(&full) else {
            continue;
        };
        let to = log
            .iter()
            .find(|l| l.change != Change::Acquired && l.at >= from)
            .map(|l| l.at);
        intervals.push((member.replica.label.clone(), from, to));
    }
    assert_eq!(
        intervals.len(),
        11,
        "ten killed leaders and the last one: {intervals:#?}"
    );
    assert_no_overlap(intervals);
    let violations = ceiling.violations();
    assert!(
        violations.is_empty(),
        "more pods than allowed: {violations:#?}"
    );
    eprintln!(
        "kill -9 takeovers (s, lease {:?} + longest pause {:?}): {takeovers:.2?}; most pods at once: {}",
        timings.lease,
        timings.longest_pause(),
        ceiling.most()
    );
    Ok(())
}

#[tokio::test]
async fn sigterm_on_the_leader_hands_over_within_two_retry_periods() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let timings = Timings::FAST;
    let name = unique_name("kcm-sigterm");
    let full = format!("{}/{name}", lease::NAMESPACE);
    let leases = lease::api(env.admin_client());
    let args = single_lease_args(&name, timings, CONTROLLER);
    let mut members = start_members(env, "sigterm", 3, &args).await?;
    let leader = wait_for_leader(&leases, &name, &members, Duration::from_secs(30)).await?;
    for (i, member) in members.iter_mut().enumerate() {
        if i != leader {
            // A standby that has seen the leader is in its acquire loop.
            member
                .replica
                .process()
                .wait_for_log("new leader elected", Duration::from_secs(10))
                .await?;
        }
    }

    let sigterm_at = jiff::Timestamp::now();
    let mut old = members.remove(leader);
    let status = old
        .replica
        .process()
        .terminate(Duration::from_secs(30))
        .await?;
    assert_eq!(
        status.code(),
        Some(0),
        "a SIGTERM ends cleanly: {}",
        old.replica.process().log_tail(20)
    );
    let released_at = old
        .replica
        .leadership()
        .iter()
        .find(|l| l.change == Change::Released)
        .map(|l| l.at)
        .expect("the leader released the lease on SIGTERM");

    let next = wait_for_leader(&leases, &name, &members, Duration::from_secs(10)).await?;
    let acquired_at = members[next].replica.acquired(&full).expect("logged");
    let took = seconds(sigterm_at, acquired_at);
    eprintln!(
        "SIGTERM: released {:.3}s after the signal, standby led {took:.3}s after it",
        seconds(sigterm_at, released_at)
    );
    assert!(
        released_at <= acquired_at,
        "the standby led before the release"
    );
    assert!(
        took <= (2 * timings.retry).as_secs_f64(),
        "the standby led {took:.3}s after the SIGTERM; allowed 2 × {:?}",
        timings.retry
    );
    Ok(())
}

#[tokio::test]
async fn losing_the_apiserver_ends_leading_and_the_process_before_the_lease_expires()
-> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    // After losing, kcm-rs spends up to 2s flushing events before it exits, so the lease must
    // outlast the renew deadline by more than that (production: 15s vs 10s).
    let timings = Timings {
        lease: Duration::from_secs(8),
        ..Timings::FAST
    };
    let name = unique_name("kcm-partition");
    let full = format!("{}/{name}", lease::NAMESPACE);
    let leases = lease::api(env.admin_client());
    let proxy = testenv::CuttableProxy::to_apiserver(env).await?;
    let mut proxied_args = single_lease_args(&name, timings, CONTROLLER);
    proxied_args.push(format!("--master={}", proxy.url()));
    let mut leader = Member::start(env, "partition-leader", &proxied_args).await?;
    wait_for_leader(
        &leases,
        &name,
        std::slice::from_ref(&leader),
        Duration::from_secs(30),
    )
    .await?;
    let args = single_lease_args(&name, timings, CONTROLLER);
    let mut standby = Member::start(env, "partition-standby", &args).await?;
    standby
        .replica
        .process()
        .wait_for_log("new leader elected", Duration::from_secs(10))
        .await?;

    proxy.black_hole();
    let cut_at = jiff::Timestamp::now();
    let mut last_renew = None;
    let status = loop {
        if let Ok(Some(Held {
            holder, renew_time, ..
        })) = lease::read(&leases, &name).await
            && holder == leader.identity
        {
            last_renew = renew_time;
        }
        if let testenv::process::ProcessState::Exited(status) = leader.replica.process().state() {
            break status;
        }
        assert!(
            seconds(cut_at, jiff::Timestamp::now()) < 30.0,
            "the cut-off leader is still running: {}",
            leader.replica.process().log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let exited_at = jiff::Timestamp::now();
    assert_eq!(
        status.code(),
        Some(1),
        "{}",
        leader.replica.process().log_tail(30)
    );
    let last_renew = last_renew.expect("the lease was read while the leader held it");
    let lost_at = leader
        .replica
        .leadership()
        .iter()
        .find(|l| l.change == Change::Lost)
        .map(|l| l.at)
        .expect("the leader logged the loss");

    let lost_after = seconds(last_renew, lost_at);
    let exited_after = seconds(last_renew, exited_at);
    let next = wait_for_leader(
        &leases,
        &name,
        std::slice::from_ref(&standby),
        timings.lease + timings.longest_pause() + 2 * SLACK,
    )
    .await?;
    assert_eq!(next, 0);
    let taken_after = seconds(last_renew, standby.replica.acquired(&full).expect("logged"));
    eprintln!(
        "apiserver cut: since the last renewal, stopped leading after {lost_after:.2}s, exited \
         after {exited_after:.2}s, standby led after {taken_after:.2}s (lease {:?}, renew deadline {:?})",
        timings.lease, timings.renew
    );
    assert!(
        lost_after <= (timings.renew + Duration::from_millis(500)).as_secs_f64(),
        "stopped leading {lost_after:.2}s after the last renewal; the renew deadline is {:?}",
        timings.renew
    );
    assert!(
        exited_after < timings.lease.as_secs_f64(),
        "exited {exited_after:.2}s after the last renewal, not within the lease duration {:?}",
        timings.lease
    );
    assert!(
        taken_after > exited_after,
        "the standby led before the old leader exited"
    );
    Ok(())
}

#[tokio::test]
async fn interop_with_the_upstream_controller_manager_on_the_default_lease() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let timings = Timings::FAST;
    let name = "kube-controller-manager";
    let full = format!("{}/{name}", lease::NAMESPACE);
    let leases = lease::api(env.admin_client());
    let mut upstream_flags = vec!["--leader-elect=true".to_owned()];
    upstream_flags.extend(timings.flags());
    let flags: Vec<&str> = upstream_flags.iter().map(String::as_str).collect();
    // Upstream leads: start_with_args returns once its controllers run.
    let mut upstream = UpstreamKcm::start_with_args(env, &[CONTROLLER], &flags).await?;
    let upstream_identity = lease::read(&leases, name).await?.unwrap_or_default().holder;
    assert!(!upstream_identity.is_empty());

    let mut args = vec![
        "--leader-elect=true".to_owned(),
        format!("--controllers={CONTROLLER}"),
    ];
    args.extend(timings.flags());
    let mut ours = Member::start(env, "interop", &args).await?;
    ours.replica
        .process()
        .wait_for_log(
            &format!("holder={upstream_identity}"),
            Duration::from_secs(10),
        )
        .await?;
    assert_stays_held(
        &leases,
        name,
        &upstream_identity,
        || ours.replica.log(),
        2 * timings.lease,
    )
    .await?;

    // Upstream dies without releasing; kcm-rs takes over once the lease expires.
    upstream.process_mut().kill()?;
    let killed_at = jiff::Timestamp::now();
    let bound = timings.lease + timings.longest_pause() + SLACK;
    wait_for_leader(&leases, name, std::slice::from_ref(&ours), bound + SLACK).await?;
    let took = seconds(killed_at, ours.replica.acquired(&full).expect("logged"));
    assert!(
        took <= bound.as_secs_f64(),
        "kcm-rs took over {took:.2}s after upstream died"
    );

    // Now upstream is the standby.
    let mut standby = spawn_upstream_standby(env, CONTROLLER, timings)?;
    standby
        .wait_for_log(
            "Attempting to acquire leader lease",
            Duration::from_secs(30),
        )
        .await?;
    let log_path = standby.log_path().to_owned();
    let standby_log = || std::fs::read_to_string(&log_path).unwrap_or_default();
    assert_stays_held(
        &leases,
        name,
        &ours.identity,
        &standby_log,
        2 * timings.lease,
    )
    .await?;

    // kcm-rs releases on SIGTERM, and upstream accepts the released record.
    let status = ours
        .replica
        .process()
        .terminate(Duration::from_secs(30))
        .await?;
    assert_eq!(status.code(), Some(0));
    let released_at = jiff::Timestamp::now();
    wait_until(
        timings.longest_pause() + 2 * SLACK,
        "upstream to take the released lease",
        || async {
            if says_it_leads(&standby_log()) {
                Check::Done(())
            } else {
                Check::NotYet(String::new())
            }
        },
    )
    .await?;
    let after_release = seconds(released_at, jiff::Timestamp::now());
    let held = lease::read(&leases, name).await?.unwrap_or_default();
    assert!(
        !held.holder.is_empty() && held.holder != ours.identity,
        "{held:?}"
    );
    eprintln!(
        "interop: kcm-rs took over {took:.2}s after upstream's kill -9; upstream took the released lease within {after_release:.2}s"
    );
    Ok(())
}

/// The six controllers kcm-rs knows; each gets a Lease of its own in per-controller mode.
const SIX_CONTROLLERS: [&str; 6] = [
    "endpoints-controller",
    "replicationcontroller-controller",
    "replicaset-controller",
    "pod-garbage-collector-controller",
    "namespace-controller",
    "deployment-controller",
];

#[tokio::test]
async fn per_controller_leases_spread_over_replicas_and_move_only_from_the_dead_one()
-> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let timings = Timings::FAST;
    let name = unique_name("kcm-per-controller");
    let lease_names: Vec<String> = SIX_CONTROLLERS
        .iter()
        .map(|c| format!("{name}-{c}"))
        .collect();
    let leases = lease::api(env.admin_client());
    let mut args = vec![
        "--leader-elect=true".to_owned(),
        "--leader-elect-per-controller".to_owned(),
        format!("--leader-elect-resource-name={name}"),
        format!("--controllers={}", SIX_CONTROLLERS.join(",")),
    ];
    args.extend(timings.flags());
    let mut members = start_members(env, "per-controller", 3, &args).await?;

    let read_all = || async {
        let mut all = Vec::new();
        for lease_name in &lease_names {
            all.push(
                lease::read(&leases, lease_name)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
            );
        }
        all
    };
    let identities: Vec<String> = members.iter().map(|m| m.identity.clone()).collect();
    let spread = |held: &[Held]| -> Vec<usize> {
        identities
            .iter()
            .map(|id| held.iter().filter(|h| &h.holder == id).count())
            .collect()
    };
    let before = wait_until(
        Duration::from_secs(30),
        "every lease led, by every replica",
        || async {
            let held = read_all().await;
            let counts = spread(&held);
            if counts.iter().sum::<usize>() == 6 && counts.iter().all(|&n| n >= 1) {
                Check::Done(held)
            } else {
                Check::NotYet(format!("leases per replica: {counts:?}"))
            }
        },
    )
    .await?;
    let counts_before = spread(&before);

    let dead = members[1].identity.clone();
    let dead_leases = before.iter().filter(|h| h.holder == dead).count();
    members[1].replica.process().kill()?;
    let killed_at = tokio::time::Instant::now();
    // Survivors lead up to four leases between them before the last orphan goes.
    let bound = timings.lease + timings.longest_pause() + 4 * timings.retry + 2 * SLACK;
    let after = wait_until(bound, "the dead replica's leases to move", || async {
        let held = read_all().await;
        if held
            .iter()
            .all(|h| !h.holder.is_empty() && h.holder != dead)
        {
            Check::Done(held)
        } else {
            Check::NotYet(format!("{held:?}"))
        }
    })
    .await?;
    let moved_in = killed_at.elapsed();
    for (old, new) in before.iter().zip(&after) {
        if old.holder != dead {
            assert_eq!(
                (&old.holder, old.transitions),
                (&new.holder, new.transitions),
                "a survivor's lease moved: {after:?}"
            );
        }
    }
    // Nothing moves afterwards either.
    tokio::time::sleep(2 * timings.retry).await;
    let settled = read_all().await;
    for (a, b) in after.iter().zip(&settled) {
        assert_eq!((&a.holder, a.transitions), (&b.holder, b.transitions));
    }
    eprintln!(
        "per-controller: leases per replica {counts_before:?}, then {:?} after killing one \
         ({dead_leases} moved in {moved_in:.2?})",
        spread(&settled)
    );
    Ok(())
}

#[tokio::test]
#[ignore = "measures failover with upstream's default timings for the README (about 40s)"]
async fn failover_times_with_default_timings() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _controllers = env.controller_lock().await;
    let timings = Timings::DEFAULT;
    let name = unique_name("kcm-defaults");
    let full = format!("{}/{name}", lease::NAMESPACE);
    let leases = lease::api(env.admin_client());
    let args = single_lease_args(&name, timings, CONTROLLER);
    let mut members = start_members(env, "defaults", 2, &args).await?;
    let leader = wait_for_leader(&leases, &name, &members, Duration::from_secs(30)).await?;
    // Let the standby see a few renewals, as in a cluster that has been up for a while.
    tokio::time::sleep(3 * timings.retry).await;
    let mut dead = members.remove(leader);
    dead.replica.process().kill()?;
    let killed_at = jiff::Timestamp::now();
    members.push(Member::start(env, "defaults-2", &args).await?);
    let bound = timings.lease + timings.longest_pause() + SLACK;
    let next = wait_for_leader(&leases, &name, &members, bound + SLACK).await?;
    let kill_took = seconds(
        killed_at,
        members[next].replica.acquired(&full).expect("logged"),
    );

    tokio::time::sleep(3 * timings.retry).await;
    let mut old = members.remove(next);
    let sigterm_at = jiff::Timestamp::now();
    old.replica
        .process()
        .terminate(Duration::from_secs(30))
        .await?;
    let next = wait_for_leader(&leases, &name, &members, Duration::from_secs(10)).await?;
    let term_took = seconds(
        sigterm_at,
        members[next].replica.acquired(&full).expect("logged"),
    );
    eprintln!(
        "default timings (15s/10s/2s): kill -9 failover {kill_took:.2}s, SIGTERM failover {term_took:.2}s"
    );
    assert!(kill_took <= bound.as_secs_f64());
    assert!(term_took <= (2 * timings.retry).as_secs_f64());
    Ok(())
}
