//! Elector timing with paused time over an in-memory lease that enforces resourceVersion CAS
//! like the apiserver. The behaviour against a real apiserver is tested in tests/.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicU64, Ordering},
};

use k8s_openapi::api::coordination::v1::Lease;
use parking_lot::Mutex;
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

use super::*;

/// One stored lease shared by several candidates; writes need the current resourceVersion.
#[derive(Clone, Default)]
struct MemoryLease {
    stored: Arc<Mutex<Option<(LeaderElectionRecord, u64)>>>,
    next_rv: Arc<AtomicU64>,
    unreachable: Arc<AtomicBool>,
}

/// One candidate's view; `reachable` lets a test cut this candidate off from the "apiserver".
#[derive(Clone)]
struct Candidate {
    lease: MemoryLease,
    cut_off: Arc<AtomicBool>,
}

impl MemoryLease {
    fn candidate(&self) -> Candidate {
        Candidate {
            lease: self.clone(),
            cut_off: Arc::new(AtomicBool::new(false)),
        }
    }

    fn holder(&self) -> Option<String> {
        self.stored
            .lock()
            .as_ref()
            .map(|(r, _)| r.holder_identity.clone())
    }

    fn as_stored(record: &LeaderElectionRecord, rv: u64) -> StoredLease {
        let mut lease = Lease::default();
        lease.metadata.resource_version = Some(rv.to_string());
        StoredLease {
            record: record.clone(),
            lease,
        }
    }
}

impl Candidate {
    fn check(&self) -> Result<(), LockError> {
        if self.cut_off.load(Ordering::SeqCst) || self.lease.unreachable.load(Ordering::SeqCst) {
            Err(LockError::Api("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

impl LeaseLock for Candidate {
    async fn get(&self) -> Result<Option<StoredLease>, LockError> {
        self.check()?;
        Ok(self
            .lease
            .stored
            .lock()
            .as_ref()
            .map(|(r, rv)| MemoryLease::as_stored(r, *rv)))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<StoredLease, LockError> {
        self.check()?;
        let mut stored = self.lease.stored.lock();
        if stored.is_some() {
            return Err(LockError::Lost("already exists".into()));
        }
        let rv = self.lease.next_rv.fetch_add(1, Ordering::SeqCst) + 1;
        *stored = Some((record.clone(), rv));
        Ok(MemoryLease::as_stored(record, rv))
    }

    async fn update(
        &self,
        current: &StoredLease,
        record: &LeaderElectionRecord,
    ) -> Result<StoredLease, LockError> {
        self.check()?;
        let mut stored = self.lease.stored.lock();
        let expected = current
            .lease
            .metadata
            .resource_version
            .clone()
            .unwrap_or_default();
        match stored.as_ref() {
            Some((_, rv)) if rv.to_string() == expected => {}
            _ => return Err(LockError::Lost("conflict".into())),
        }
        let rv = self.lease.next_rv.fetch_add(1, Ordering::SeqCst) + 1;
        *stored = Some((record.clone(), rv));
        Ok(MemoryLease::as_stored(record, rv))
    }

    fn describe(&self) -> String {
        "kube-system/test".into()
    }
}

fn config(identity: &str, release: bool) -> ElectionConfig {
    ElectionConfig {
        identity: identity.into(),
        name: format!("test-{identity}"),
        lease_duration: Duration::from_secs(15),
        renew_deadline: Duration::from_secs(10),
        retry_period: Duration::from_secs(2),
        release_on_cancel: release,
    }
}

/// Leading intervals, recorded on the (paused) tokio clock.
#[derive(Clone, Default)]
struct Intervals(Arc<Mutex<Vec<Interval>>>);

/// Who led, from when, until when (None while still leading).
type Interval = (String, Instant, Option<Instant>);

impl Intervals {
    fn lead(
        &self,
        who: &str,
    ) -> impl FnOnce(CancellationToken) -> futures::future::BoxFuture<'static, ()> + use<> {
        let log = self.0.clone();
        let who = who.to_string();
        move |leading: CancellationToken| {
            Box::pin(async move {
                let index = {
                    let mut log = log.lock();
                    log.push((who, Instant::now(), None));
                    log.len() - 1
                };
                leading.cancelled().await;
                log.lock()[index].2 = Some(Instant::now());
            })
        }
    }

    fn assert_no_overlap(&self) {
        let mut log = self.0.lock().clone();
        log.sort_by_key(|(_, start, _)| *start);
        for pair in log.windows(2) {
            let end = pair[0].2.expect("an earlier interval has ended");
            assert!(
                end <= pair[1].1,
                "{} led until {:?}, {} from {:?}",
                pair[0].0,
                end,
                pair[1].0,
                pair[1].1
            );
        }
    }
}

#[test]
fn validation_follows_client_go() {
    assert!(config("a", false).validate().is_ok());
    let mut c = config("a", false);
    c.renew_deadline = Duration::from_secs(15);
    assert!(
        c.validate()
            .unwrap_err()
            .contains("greater than renew deadline")
    );
    let mut c = config("a", false);
    c.retry_period = Duration::from_secs(9);
    assert!(c.validate().unwrap_err().contains("1.2"));
    assert!(identity().contains('_'));
}

#[tokio::test(start_paused = true)]
async fn only_one_of_two_candidates_leads_and_a_standby_waits_a_full_lease() {
    let lease = MemoryLease::default();
    let intervals = Intervals::default();
    let a = Arc::new(LeaderElector::new(config("a", false), lease.candidate()));
    let cancel_a = CancellationToken::new();
    let run_a = {
        let (a, cancel, lead) = (a.clone(), cancel_a.clone(), intervals.lead("a"));
        tokio::spawn(async move { a.run(&cancel, lead).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(lease.holder().as_deref(), Some("a"));

    let b_lock = lease.candidate();
    let b = Arc::new(LeaderElector::new(config("b", false), b_lock));
    let cancel_b = CancellationToken::new();
    let run_b = {
        let (b, cancel, lead) = (b.clone(), cancel_b.clone(), intervals.lead("b"));
        tokio::spawn(async move { b.run(&cancel, lead).await })
    };
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        lease.holder().as_deref(),
        Some("a"),
        "a keeps renewing; b never takes over"
    );
    assert!(!b.status().is_leader());

    // a dies without releasing (kill -9): cut it off and stop its task.
    run_a.abort();
    let died = Instant::now();
    intervals.0.lock()[0].2 = Some(died);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if lease.holder().as_deref() == Some("b") {
            break;
        }
    }
    let took = died.elapsed();
    assert!(
        took >= Duration::from_secs(13),
        "b waited a lease duration since its last observed change: {took:?}"
    );
    assert!(
        took <= Duration::from_secs(15 + 2 + 3),
        "within lease + retry (+ jitter): {took:?}"
    );
    cancel_b.cancel();
    assert_eq!(run_b.await.expect("b ends"), Outcome::Stopped);
    intervals.assert_no_overlap();
}

#[tokio::test(start_paused = true)]
async fn losing_the_apiserver_stops_leading_before_anyone_may_take_over() {
    let lease = MemoryLease::default();
    let a_lock = lease.candidate();
    let cut = a_lock.cut_off.clone();
    let a = LeaderElector::new(config("a", false), a_lock);
    let intervals = Intervals::default();
    let cancel = CancellationToken::new();
    let lead = intervals.lead("a");
    let run = async { a.run(&cancel, lead).await };
    let test = async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        cut.store(true, Ordering::SeqCst);
        Instant::now()
    };
    let (outcome, cut_at) = tokio::join!(run, test);
    assert_eq!(outcome, Outcome::Lost);
    // The work task notices its cancelled token on its next poll.
    tokio::time::sleep(Duration::from_millis(1)).await;
    let ended = intervals.0.lock()[0].2.expect("work cancelled");
    // The last successful renewal was at most one retry period before the cut.
    assert!(
        ended - cut_at <= Duration::from_secs(10),
        "stopped {:?} after the cut",
        ended - cut_at
    );
    // A follower that saw that renewal must wait 15s from it; we stopped well before.
    assert!(ended < cut_at + Duration::from_secs(13));
}

#[tokio::test(start_paused = true)]
async fn release_on_cancel_hands_over_within_a_retry_period() {
    let lease = MemoryLease::default();
    let intervals = Intervals::default();
    let a = Arc::new(LeaderElector::new(config("a", true), lease.candidate()));
    let b = Arc::new(LeaderElector::new(config("b", true), lease.candidate()));
    let (cancel_a, cancel_b) = (CancellationToken::new(), CancellationToken::new());
    let run_a = {
        let (a, c, l) = (a.clone(), cancel_a.clone(), intervals.lead("a"));
        tokio::spawn(async move { a.run(&c, l).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let run_b = {
        let (b, c, l) = (b.clone(), cancel_b.clone(), intervals.lead("b"));
        tokio::spawn(async move { b.run(&c, l).await })
    };
    tokio::time::sleep(Duration::from_secs(10)).await;
    cancel_a.cancel();
    let released_at = Instant::now();
    assert_eq!(run_a.await.expect("a ends"), Outcome::Stopped);
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if lease.holder().as_deref() == Some("b") {
            break;
        }
    }
    let took = released_at.elapsed();
    assert!(
        took <= Duration::from_millis(4400 + 100),
        "standby took over in {took:?}"
    );
    let transitions = lease
        .stored
        .lock()
        .as_ref()
        .map(|(r, _)| r.leader_transitions);
    assert_eq!(
        transitions,
        Some(1),
        "release keeps the count; b's takeover adds one"
    );
    cancel_b.cancel();
    run_b.await.expect("b ends");
    intervals.assert_no_overlap();
}

#[tokio::test(start_paused = true)]
async fn a_conflicting_write_means_someone_else_won() {
    let lease = MemoryLease::default();
    let a = lease.candidate();
    let record = LeaderElectionRecord {
        holder_identity: "x".into(),
        lease_duration_seconds: 15,
        ..Default::default()
    };
    let first = a.create(&record).await.expect("create");
    a.update(&first, &record)
        .await
        .expect("update with the current version");
    let stale = a.update(&first, &record).await;
    assert!(
        matches!(stale, Err(LockError::Lost(_))),
        "second write from a stale read must conflict"
    );
    assert!(matches!(a.create(&record).await, Err(LockError::Lost(_))));
}

#[tokio::test(start_paused = true)]
async fn health_check_fails_for_a_wedged_leader() {
    let status = LeaderStatus::default();
    assert!(
        status.check(Duration::from_secs(10)).is_ok(),
        "a standby is healthy"
    );
    status.set_for_tests(true, Some(Instant::now()));
    tokio::time::advance(Duration::from_secs(29)).await;
    assert!(status.check(Duration::from_secs(10)).is_ok());
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(status.check(Duration::from_secs(10)).is_err());
}
