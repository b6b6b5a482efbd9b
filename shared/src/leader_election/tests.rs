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
    /// Notified on every write, as election.rs's watch on the Lease does.
    watchers: Arc<Mutex<Vec<Arc<tokio::sync::Notify>>>>,
}

/// One candidate's view; `cut_off` makes its calls fail at once, `hung` makes them never answer.
#[derive(Clone)]
struct Candidate {
    lease: MemoryLease,
    cut_off: Arc<AtomicBool>,
    hung: Arc<AtomicBool>,
}

impl MemoryLease {
    fn candidate(&self) -> Candidate {
        Candidate {
            lease: self.clone(),
            cut_off: Arc::new(AtomicBool::new(false)),
            hung: Arc::new(AtomicBool::new(false)),
        }
    }

    fn watch(&self, waker: Arc<tokio::sync::Notify>) {
        self.watchers.lock().push(waker);
    }

    fn written(&self) {
        for waker in self.watchers.lock().iter() {
            waker.notify_one();
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
    async fn check(&self) -> Result<(), LockError> {
        if self.hung.load(Ordering::SeqCst) {
            std::future::pending::<()>().await;
        }
        if self.cut_off.load(Ordering::SeqCst) || self.lease.unreachable.load(Ordering::SeqCst) {
            Err(LockError::Api("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

impl LeaseLock for Candidate {
    async fn get(&self) -> Result<Option<StoredLease>, LockError> {
        self.check().await?;
        Ok(self
            .lease
            .stored
            .lock()
            .as_ref()
            .map(|(r, rv)| MemoryLease::as_stored(r, *rv)))
    }

    async fn create(&self, record: &LeaderElectionRecord) -> Result<StoredLease, LockError> {
        self.check().await?;
        let mut stored = self.lease.stored.lock();
        if stored.is_some() {
            return Err(LockError::Lost("already exists".into()));
        }
        let rv = self.lease.next_rv.fetch_add(1, Ordering::SeqCst) + 1;
        *stored = Some((record.clone(), rv));
        drop(stored);
        self.lease.written();
        Ok(MemoryLease::as_stored(record, rv))
    }

    async fn update(
        &self,
        current: &StoredLease,
        record: &LeaderElectionRecord,
    ) -> Result<StoredLease, LockError> {
        self.check().await?;
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
        drop(stored);
        self.lease.written();
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

#[tokio::test(start_paused = true)]
async fn a_hung_apiserver_ends_leadership_exactly_at_the_renew_deadline() {
    let lease = MemoryLease::default();
    let a_lock = lease.candidate();
    let hung = a_lock.hung.clone();
    let a = LeaderElector::new(config("a", false), a_lock);
    let intervals = Intervals::default();
    let cancel = CancellationToken::new();
    let lead = intervals.lead("a");
    let run = async { a.run(&cancel, lead).await };
    let test = async {
        // Renewals happen every 2s from t=0; the last one before the hang is at t=4s.
        tokio::time::sleep(Duration::from_millis(4500)).await;
        hung.store(true, Ordering::SeqCst);
    };
    let (outcome, ()) = tokio::join!(run, test);
    assert_eq!(outcome, Outcome::Lost);
    tokio::time::sleep(Duration::from_millis(1)).await;
    let started = intervals.0.lock()[0].1;
    let ended = intervals.0.lock()[0].2.expect("work cancelled") - started;
    // Each hung call would take 5s (fast-path PUT, then GET): without the overall deadline the
    // loss would come at 4 + 2 + 10 = 16s, past the 15s a follower waits.
    assert!(
        ended >= Duration::from_secs(14) && ended <= Duration::from_millis(14_010),
        "lost at {ended:?}; the last renewal was at 4s and the deadline is 10s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_wake_up_lets_a_standby_take_a_released_lease_at_once() {
    let lease = MemoryLease::default();
    let a = Arc::new(LeaderElector::new(config("a", true), lease.candidate()));
    let b = Arc::new(LeaderElector::new(config("b", true), lease.candidate()));
    let (cancel_a, cancel_b) = (CancellationToken::new(), CancellationToken::new());
    let intervals = Intervals::default();
    let run_a = {
        let (a, c, l) = (a.clone(), cancel_a.clone(), intervals.lead("a"));
        tokio::spawn(async move { a.run(&c, l).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let run_b = {
        let (b, c, l) = (b.clone(), cancel_b.clone(), intervals.lead("b"));
        tokio::spawn(async move { b.run(&c, l).await })
    };
    // b tried at 10ms and now pauses at least one retry period (2s).
    tokio::time::sleep(Duration::from_millis(100)).await;
    cancel_a.cancel();
    assert_eq!(run_a.await.expect("a ends"), Outcome::Stopped);
    let released_at = Instant::now();
    // What election.rs's watch on the Lease does when it sees the release.
    b.waker().notify_one();
    while lease.holder().as_deref() != Some("b") {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(
        released_at.elapsed() < Duration::from_millis(10),
        "b took over {:?} after the release",
        released_at.elapsed()
    );
    cancel_b.cancel();
    run_b.await.expect("b ends");
    intervals.assert_no_overlap();
}

#[tokio::test(start_paused = true)]
async fn a_watching_standby_takes_over_one_lease_duration_after_the_last_renewal() {
    let lease = MemoryLease::default();
    let a = Arc::new(LeaderElector::new(config("a", false), lease.candidate()));
    let b = Arc::new(LeaderElector::new(config("b", false), lease.candidate()));
    lease.watch(b.waker());
    let run_a = {
        let a = a.clone();
        tokio::spawn(async move {
            a.run(
                &CancellationToken::new(),
                |t| async move { t.cancelled().await },
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let run_b = {
        let b = b.clone();
        tokio::spawn(async move {
            b.run(
                &CancellationToken::new(),
                |t| async move { t.cancelled().await },
            )
            .await
        })
    };
    // a renews every 2s from t=0; it dies 5ms after the renewal at 20s.
    tokio::time::sleep(Duration::from_millis(19_995)).await;
    run_a.abort();
    let last_renewal = Instant::now() - Duration::from_millis(5);
    while lease.holder().as_deref() != Some("b") {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = last_renewal.elapsed();
    // client-go's poll would add up to 2.2 retry periods twice: to see the last renewal, and
    // to notice the expiry.
    assert!(
        took >= Duration::from_secs(15) && took <= Duration::from_millis(15_010),
        "b took over {took:?} after a's last renewal"
    );
    run_b.abort();
}

/// Three replicas ("processes") with one elector per controller lease, balanced per process.
struct Replicas {
    leases: Vec<MemoryLease>,
    runs: Vec<Vec<tokio::task::JoinHandle<Outcome>>>,
}

impl Replicas {
    fn new(controllers: usize) -> Self {
        Self {
            leases: (0..controllers).map(|_| MemoryLease::default()).collect(),
            runs: Vec::new(),
        }
    }

    fn start(&mut self, balanced: bool) {
        let replica = format!("r{}", self.runs.len());
        let held = Arc::new(HeldLeases::new());
        let runs = self
            .leases
            .iter()
            .map(|lease| {
                let mut elector = LeaderElector::new(config(&replica, false), lease.candidate());
                if balanced {
                    elector = elector.with_balance(held.clone());
                }
                lease.watch(elector.waker());
                tokio::spawn(async move {
                    elector
                        .run(&CancellationToken::new(), |leading| async move {
                            leading.cancelled().await
                        })
                        .await
                })
            })
            .collect();
        self.runs.push(runs);
    }

    fn holders(&self) -> Vec<Option<String>> {
        self.leases.iter().map(MemoryLease::holder).collect()
    }

    fn led_by(&self, replica: &str) -> usize {
        self.holders()
            .iter()
            .filter(|h| h.as_deref() == Some(replica))
            .count()
    }
}

#[tokio::test(start_paused = true)]
async fn without_balancing_the_first_replica_takes_every_lease() {
    let mut replicas = Replicas::new(6);
    replicas.start(false);
    tokio::time::sleep(Duration::from_millis(100)).await;
    replicas.start(false);
    replicas.start(false);
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(replicas.led_by("r0"), 6, "{:?}", replicas.holders());
}

#[tokio::test(start_paused = true)]
async fn balancing_spreads_leases_and_a_death_moves_only_the_dead_replicas() {
    let mut replicas = Replicas::new(6);
    replicas.start(true);
    tokio::time::sleep(Duration::from_millis(100)).await;
    replicas.start(true);
    replicas.start(true);
    tokio::time::sleep(Duration::from_secs(60)).await;
    let before = replicas.holders();
    for replica in ["r0", "r1", "r2"] {
        assert_eq!(
            replicas.led_by(replica),
            2,
            "{replica} leads its share: {before:?}"
        );
    }

    // r1 dies without releasing (kill -9).
    for run in &replicas.runs[1] {
        run.abort();
    }
    tokio::time::sleep(Duration::from_secs(60)).await;
    let after = replicas.holders();
    for (old, new) in before.iter().zip(&after) {
        if old.as_deref() == Some("r1") {
            assert_ne!(new.as_deref(), Some("r1"), "r1's lease moved: {after:?}");
            assert!(new.is_some(), "r1's lease was taken over: {after:?}");
        } else {
            assert_eq!(old, new, "leases of the survivors stay put: {after:?}");
        }
    }
    assert_eq!(
        (replicas.led_by("r0"), replicas.led_by("r2")),
        (3, 3),
        "the less loaded survivor wins the second orphan: {after:?}"
    );
}
