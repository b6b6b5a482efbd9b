use super::*;

const LEASE: Duration = Duration::from_secs(15);

fn held_by(holder: &str, renew: jiff::Timestamp) -> LeaderElectionRecord {
    LeaderElectionRecord {
        holder_identity: holder.into(),
        lease_duration_seconds: 15,
        acquire_time: Some(renew),
        renew_time: Some(renew),
        leader_transitions: 3,
    }
}

#[tokio::test(start_paused = true)]
async fn remote_renew_time_in_the_future_or_past_changes_nothing() {
    let wall = jiff::Timestamp::now();
    for skew in [-3600, 3600] {
        let remote = wall + jiff::SignedDuration::from_secs(skew);
        let mut seen = Observation::default();
        seen.observe(&held_by("other", remote), Instant::now());
        // Fresh observation: valid for a full lease duration, whatever renewTime says.
        assert_eq!(
            seen.decide("me", LEASE, Instant::now(), wall),
            Decision::Follow {
                holder: "other".into()
            }
        );
        tokio::time::advance(Duration::from_secs(14)).await;
        seen.observe(&held_by("other", remote), Instant::now());
        assert!(matches!(
            seen.decide("me", LEASE, Instant::now(), wall),
            Decision::Follow { .. }
        ));
        tokio::time::advance(Duration::from_secs(2)).await;
        seen.observe(&held_by("other", remote), Instant::now());
        let Decision::Write(taken) = seen.decide("me", LEASE, Instant::now(), wall) else {
            panic!("an unchanged record observed 16s ago has expired");
        };
        assert_eq!(taken.holder_identity, "me");
        assert_eq!(taken.leader_transitions, 4);
        assert_eq!(taken.acquire_time, Some(wall));
    }
}

#[tokio::test(start_paused = true)]
async fn every_change_restarts_the_wait() {
    let wall = jiff::Timestamp::now();
    let mut seen = Observation::default();
    seen.observe(&held_by("other", wall), Instant::now());
    tokio::time::advance(Duration::from_secs(10)).await;
    let renewed = held_by("other", wall + jiff::SignedDuration::from_secs(10));
    seen.observe(&renewed, Instant::now());
    tokio::time::advance(Duration::from_secs(10)).await;
    seen.observe(&renewed, Instant::now());
    assert!(matches!(
        seen.decide("me", LEASE, Instant::now(), wall),
        Decision::Follow { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn own_and_released_leases_are_written_at_once() {
    let wall = jiff::Timestamp::now();
    let mut seen = Observation::default();
    seen.observe(&held_by("me", wall), Instant::now());
    let Decision::Write(renewal) = seen.decide("me", LEASE, Instant::now(), wall) else {
        panic!("renewing our own lease")
    };
    assert_eq!(
        renewal.leader_transitions, 3,
        "a renewal is not a transition"
    );
    let empty = released(&held_by("other", wall), wall);
    assert_eq!(
        (empty.holder_identity.as_str(), empty.lease_duration_seconds),
        ("", 1)
    );
    seen.observe(&empty, Instant::now());
    let Decision::Write(taken) = seen.decide("me", LEASE, Instant::now(), wall) else {
        panic!("a released lease is free at once")
    };
    assert_eq!(taken.leader_transitions, 4);
}

#[test]
fn spec_round_trip_keeps_foreign_fields() {
    let mut spec = LeaseSpec {
        strategy: Some("OldestEmulationVersion".into()),
        ..Default::default()
    };
    let record = held_by("a", jiff::Timestamp::UNIX_EPOCH);
    record.apply_to(&mut spec);
    assert_eq!(LeaderElectionRecord::from_spec(&spec), record);
    assert_eq!(spec.strategy.as_deref(), Some("OldestEmulationVersion"));
}
