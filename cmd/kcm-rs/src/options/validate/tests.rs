use super::*;

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn with_leader_election(lease: Duration, renew: Duration, retry: Duration) -> KcmConfig {
    let mut config = KcmConfig::default();
    let le = &mut config.component.generic.leader_election;
    (le.lease_duration, le.renew_deadline, le.retry_period) = (lease, renew, retry);
    config
}

#[test]
fn defaults_are_valid() {
    assert!(validate(&KcmConfig::default(), &Origins::default()).is_empty());
}

#[test]
fn leader_election_timing_follows_client_go() {
    let origins = Origins::default();
    let ok = [
        (secs(15), secs(10), secs(2)),
        (secs(3), secs(2), Duration::from_millis(1666)),
    ];
    for (lease, renew, retry) in ok {
        let errors = validate(&with_leader_election(lease, renew, retry), &origins);
        assert!(
            errors.is_empty(),
            "{lease:?}/{renew:?}/{retry:?}: {errors:?}"
        );
    }
    let bad: [(Duration, Duration, Duration, &[&str]); 4] = [
        (
            secs(10),
            secs(10),
            secs(2),
            &[
                "--leader-elect-lease-duration: must be greater than the renew deadline (10s <= 10s)",
            ],
        ),
        (
            secs(15),
            Duration::from_millis(2400),
            secs(2),
            &[
                "--leader-elect-renew-deadline: must be greater than 1.2 x the retry period (2.4s <= 1.2 x 2s)",
            ],
        ),
        (
            secs(15),
            secs(10),
            Duration::ZERO,
            &["--leader-elect-retry-period: must be greater than zero"],
        ),
        (
            secs(5),
            secs(10),
            secs(9),
            &[
                "--leader-elect-lease-duration: must be greater than the renew deadline (5s <= 10s)",
                "--leader-elect-renew-deadline: must be greater than 1.2 x the retry period (10s <= 1.2 x 9s)",
            ],
        ),
    ];
    for (lease, renew, retry, want) in bad {
        assert_eq!(
            validate(&with_leader_election(lease, renew, retry), &origins),
            want
        );
    }
}

#[test]
fn leader_election_settings_are_ignored_when_it_is_off() {
    let mut config = with_leader_election(secs(1), secs(10), secs(20));
    let le = &mut config.component.generic.leader_election;
    le.leader_elect = false;
    le.resource_lock = "endpoints".into();
    assert!(validate(&config, &Origins::default()).is_empty());
}

#[test]
fn only_leases_lock() {
    let mut config = KcmConfig::default();
    config.component.generic.leader_election.resource_lock = "endpoints".into();
    assert_eq!(
        validate(&config, &Origins::default()),
        ["--leader-elect-resource-lock: must be \"leases\", got \"endpoints\""]
    );
}

#[test]
fn tls_files_come_in_pairs() {
    let mut config = KcmConfig::default();
    config.process.tls_cert_file = Some("/tls.crt".into());
    assert_eq!(
        validate(&config, &Origins::default()),
        ["--tls-cert-file and --tls-private-key-file must be given together"]
    );
}
