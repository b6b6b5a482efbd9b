use super::*;
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn failing_check_fails_healthz_until_excluded() {
    let checks = HealthChecks::new();
    let broken = Arc::new(AtomicBool::new(true));
    let flag = broken.clone();
    checks.add_health("leaderElection", move || {
        if flag.load(Ordering::SeqCst) {
            Err("stale".into())
        } else {
            Ok(())
        }
    });
    checks.add_health("replicaset-controller", || Ok(()));
    let report = checks.healthz(&[]);
    assert!(!report.healthy);
    assert!(
        report
            .render(false, "healthz")
            .contains("[-]leaderElection failed")
    );
    assert!(checks.healthz(&["leaderElection".into()]).healthy);
    assert_eq!(checks.health_check("replicaset-controller"), Some(Ok(())));
    assert_eq!(checks.health_check("nope"), None);
    broken.store(false, Ordering::SeqCst);
    assert_eq!(checks.healthz(&[]).render(false, "healthz"), "ok");
}

#[test]
fn replacing_a_check_keeps_one_entry() {
    let checks = HealthChecks::new();
    checks.add_ready("informers", || Err("not synced".into()));
    checks.add_ready("informers", || Ok(()));
    assert!(checks.readyz(&[]).healthy);
    assert_eq!(checks.readyz(&[]).lines.len(), 2);
}
