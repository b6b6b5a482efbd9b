//! Every numeric flag and config field at, below and above its range, through [`load`]; and
//! config files that are not a configuration at all.

use std::io::Write;
use std::time::{Duration, Instant};

use super::*;

/// How one value must fare.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Valid,
    /// Exit 2; the message names where the value came from and contains this text.
    Invalid(&'static str),
}
use Expect::{Invalid, Valid};

/// A value written on the command line and the same value written in the file.
struct Case {
    flag_value: &'static str,
    file_value: &'static str,
    expect: Expect,
}

const fn case(flag_value: &'static str, file_value: &'static str, expect: Expect) -> Case {
    Case {
        flag_value,
        file_value,
        expect,
    }
}

/// The same spelling in both places.
const fn same(value: &'static str, expect: Expect) -> Case {
    case(value, value, expect)
}

const INT32: &str = "whole number from -2147483648 to 2147483647";
const WORKERS: &str = "must be from 1 to 10000 workers";
const NOT_A_DURATION: &str = "duration";
const MAX_DURATION: &str = "2562047h47m16.854775807s";
const ABOVE_MAX_DURATION: &str = "2562047h47m16.854775808s";

fn worker_cases() -> Vec<Case> {
    vec![
        same("0", Invalid("must be from 1 to 10000 workers, got 0: ")),
        same("1", Valid),
        same("10000", Valid),
        same(
            "10001",
            Invalid("must be from 1 to 10000 workers, got 10001"),
        ),
        same("-1", Invalid("must be from 1 to 10000 workers, got -1")),
        same("2147483647", Invalid(WORKERS)),
        same("2147483648", Invalid(INT32)),
        same("-2147483649", Invalid(INT32)),
        case("NaN", ".nan", Invalid(INT32)),
        case("inf", ".inf", Invalid(INT32)),
        same("1e-30", Invalid(INT32)),
        same("1e308", Invalid(INT32)),
        same("2.5", Invalid(INT32)),
    ]
}

fn duration_cases(zero: Expect) -> Vec<Case> {
    vec![
        same("0s", zero),
        same("1ns", Valid),
        same(MAX_DURATION, Valid),
        same(
            ABOVE_MAX_DURATION,
            Invalid("out of range: at most 2562047h47m16.854775807s"),
        ),
        same("-1s", Invalid("must not be negative")),
        same("1e308", Invalid(NOT_A_DURATION)),
        case("NaN", ".nan", Invalid(NOT_A_DURATION)),
        case("inf", ".inf", Invalid(NOT_A_DURATION)),
        same("2147483647", Invalid(NOT_A_DURATION)),
    ]
}

/// Every numeric setting: flag, config file field path, cases, and flags that keep the other
/// leader election timings out of the way.
fn table() -> Vec<(
    &'static str,
    &'static str,
    Vec<Case>,
    &'static [&'static str],
)> {
    let no_le: &[&str] = &["--leader-elect=false"];
    let wide_le: &[&str] = &[
        "--leader-elect-lease-duration=2562047h47m16.854775807s",
        "--leader-elect-renew-deadline=1s",
        "--leader-elect-retry-period=1ns",
    ];
    let mut table = vec![];
    for (flag, field) in [
        (
            "--concurrent-deployment-syncs",
            "deploymentController.concurrentDeploymentSyncs",
        ),
        (
            "--concurrent-endpoint-syncs",
            "endpointController.concurrentEndpointSyncs",
        ),
        (
            "--concurrent-rc-syncs",
            "replicationController.concurrentRCSyncs",
        ),
        (
            "--concurrent-replicaset-syncs",
            "replicaSetController.concurrentRSSyncs",
        ),
        (
            "--concurrent-namespace-syncs",
            "namespaceController.concurrentNamespaceSyncs",
        ),
    ] {
        table.push((flag, field, worker_cases(), no_le));
    }
    table.push((
        "--terminated-pod-gc-threshold",
        "podGCController.terminatedPodGCThreshold",
        vec![
            same("0", Valid),
            same("-1", Valid),
            same("12500", Valid),
            same("2147483647", Valid),
            same("-2147483648", Valid),
            same("2147483648", Invalid(INT32)),
            case("NaN", ".nan", Invalid(INT32)),
            same("1e-30", Invalid(INT32)),
            case("inf", ".inf", Invalid(INT32)),
        ],
        no_le,
    ));
    table.push((
        "--kube-api-qps",
        "generic.clientConnection.qps",
        vec![
            same("0", Valid),
            same("-1", Valid),
            same("-1e30", Valid),
            same("0.5", Valid),
            same("20", Valid),
            same("1e-30", Valid),
            same("2147483647", Valid),
            same("3.4028235e38", Valid),
            same("1e308", Invalid("magnitude at most 3.4028235e38")),
            same("-1e308", Invalid("magnitude at most 3.4028235e38")),
            case("NaN", ".nan", Invalid("must be a finite number")),
            case("inf", ".inf", Invalid("must be a finite number")),
            case("-inf", "-.inf", Invalid("must be a finite number")),
            same("fast", Invalid("number")),
        ],
        no_le,
    ));
    table.push((
        "--kube-api-burst",
        "generic.clientConnection.burst",
        vec![
            same("0", Valid),
            same("1", Valid),
            same("2147483647", Valid),
            same(
                "-1",
                Invalid("must be from 0 to 2147483647 while the QPS limits the clients"),
            ),
            same("2147483648", Invalid(INT32)),
            case("NaN", ".nan", Invalid(INT32)),
            same("1e-30", Invalid(INT32)),
            same("1e308", Invalid(INT32)),
        ],
        no_le,
    ));
    for (flag, field) in [
        ("--min-resync-period", "generic.minResyncPeriod"),
        (
            "--controller-start-interval",
            "generic.controllerStartInterval",
        ),
        (
            "--controller-shutdown-timeout",
            "generic.controllerShutdownTimeout",
        ),
        (
            "--endpoint-updates-batch-period",
            "endpointController.endpointUpdatesBatchPeriod",
        ),
        (
            "--namespace-sync-period",
            "namespaceController.namespaceSyncPeriod",
        ),
    ] {
        table.push((flag, field, duration_cases(Valid), no_le));
    }
    let mut lease = duration_cases(Invalid("must be greater than the renew deadline"));
    lease[1] = same("1ns", Invalid("must be greater than the renew deadline"));
    lease.push(same(
        "1s",
        Invalid("must be greater than the renew deadline (1s <= 1s)"),
    ));
    table.push((
        "--leader-elect-lease-duration",
        "generic.leaderElection.leaseDuration",
        lease,
        &[
            "--leader-elect-renew-deadline=1s",
            "--leader-elect-retry-period=1ns",
        ],
    ));
    let mut renew = duration_cases(Invalid("must be greater than 1.2 x the retry period"));
    renew[1] = same(
        "1ns",
        Invalid("must be greater than 1.2 x the retry period"),
    );
    renew[2] = same(
        MAX_DURATION,
        Invalid("must be greater than the renew deadline"),
    );
    table.push((
        "--leader-elect-renew-deadline",
        "generic.leaderElection.renewDeadline",
        renew,
        &[
            "--leader-elect-lease-duration=2562047h47m16.854775807s",
            "--leader-elect-retry-period=1ns",
        ],
    ));
    let mut retry = duration_cases(Invalid("must be greater than zero"));
    retry[2] = same(
        MAX_DURATION,
        Invalid("must be greater than 1.2 x the retry period"),
    );
    retry.push(same("833ms", Valid));
    retry.push(same(
        "834ms",
        Invalid("must be greater than 1.2 x the retry period"),
    ));
    table.push((
        "--leader-elect-retry-period",
        "generic.leaderElection.retryPeriod",
        retry,
        &[
            "--leader-elect-lease-duration=2562047h47m16.854775807s",
            "--leader-elect-renew-deadline=1s",
        ],
    ));
    let _ = wide_le;
    table
}

fn load_args(args: &[String]) -> Result<Loaded, OptionsError> {
    load(std::iter::once("kcm-rs".to_owned()).chain(args.iter().cloned()))
}

/// A config file setting `field` (a dotted path) to `value`.
fn file_with(field: &str, value: &str) -> tempfile::NamedTempFile {
    let mut body = String::from(
        "apiVersion: kubecontrollermanager.config.k8s.io/v1alpha1\n\
         kind: KubeControllerManagerConfiguration\n",
    );
    let parts: Vec<&str> = field.split('.').collect();
    for (depth, part) in parts.iter().enumerate() {
        body.push_str(&"  ".repeat(depth));
        body.push_str(part);
        body.push(':');
        if depth + 1 == parts.len() {
            body.push(' ');
            body.push_str(value);
        }
        body.push('\n');
    }
    let mut file = tempfile::Builder::new()
        .suffix(".yaml")
        .tempfile()
        .expect("temp file");
    file.write_all(body.as_bytes()).expect("write");
    file
}

fn assert_outcome(
    result: Result<Loaded, OptionsError>,
    expect: Expect,
    location: &str,
    what: &str,
) {
    match (result, expect) {
        (Ok(_), Valid) => {}
        (Ok(_), Invalid(text)) => panic!("{what}: accepted, want an error containing {text:?}"),
        (Err(err), Valid) => panic!("{what}: refused: {}", err.message()),
        (Err(err), Invalid(text)) => {
            assert_eq!(err.exit_code(), 2, "{what}: {}", err.message());
            let message = err.message();
            assert!(
                message.contains(location),
                "{what}: message does not name {location:?}: {message}"
            );
            assert!(
                message.contains(text),
                "{what}: message lacks {text:?}: {message}"
            );
            assert!(message.len() < 1000, "{what}: message too long: {message}");
        }
    }
}

#[test]
fn every_numeric_setting_at_below_and_above_its_range() {
    let mut checked = 0;
    for (flag, field, cases, extra) in table() {
        for Case {
            flag_value,
            file_value,
            expect,
        } in cases
        {
            // An error names the setting, except that the leader election relations name the
            // setting that must give way (the lease outlasts the renew deadline, which
            // outlasts 1.2 retry periods).
            let relation = match expect {
                Invalid(text)
                    if text.contains("renew deadline") && !field.ends_with("leaseDuration") =>
                {
                    Some("--leader-elect-lease-duration")
                }
                Invalid(text) if text.contains("1.2 x") && !field.ends_with("renewDeadline") => {
                    Some("--leader-elect-renew-deadline")
                }
                _ => None,
            };
            let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            args.push(format!("{flag}={flag_value}"));
            assert_outcome(
                load_args(&args),
                expect,
                relation.unwrap_or(flag),
                &format!("{flag}={flag_value}"),
            );

            let file = file_with(field, file_value);
            let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
            args.push(format!("--config={}", file.path().display()));
            let location = match relation {
                Some(other) => other.to_owned(),
                None => format!("config file {}: field {field}", file.path().display()),
            };
            assert_outcome(
                load_args(&args),
                expect,
                &location,
                &format!("{field}: {file_value}"),
            );
            checked += 2;
        }
    }
    assert!(checked > 200, "{checked}");
}

#[test]
fn flag_only_numbers_have_ranges_too() {
    let cases: &[(&str, Expect)] = &[
        ("--secure-port=0", Valid),
        ("--secure-port=65535", Valid),
        ("--secure-port=65536", Invalid("from 0 to 65535")),
        ("--secure-port=-1", Invalid("from 0 to 65535")),
        ("--secure-port=NaN", Invalid("from 0 to 65535")),
        ("--secure-port=2147483647", Invalid("from 0 to 65535")),
        ("-v=0", Valid),
        ("-v=2147483647", Valid),
        ("-v=2147483648", Invalid("log level from 0 to 2147483647")),
        ("-v=-1", Invalid("log level from 0 to 2147483647")),
        ("--v=1e308", Invalid("log level from 0 to 2147483647")),
    ];
    for (arg, expect) in cases {
        let flag = arg.split('=').next().unwrap_or(arg);
        assert_outcome(load_args(&[arg.to_string()]), *expect, flag, arg);
    }
}

#[test]
fn values_with_an_upstream_meaning_are_logged() {
    let loaded = load_args(&[
        "--kube-api-qps=0".into(),
        "--kube-api-burst=0".into(),
        "--secure-port=0".into(),
        "--terminated-pod-gc-threshold=0".into(),
    ])
    .expect("valid");
    let notices = loaded.notices.join("\n");
    for expected in [
        "--kube-api-qps: 0 means client-go's default: using 5 queries per second per client",
        "--kube-api-burst: 0 means client-go's default: using a burst of 10 per client",
        "--secure-port: 0: HTTPS serving is off",
        "--terminated-pod-gc-threshold: 0 (<= 0): terminated pods are not garbage collected",
    ] {
        assert!(
            notices.contains(expected),
            "missing {expected:?} in {notices}"
        );
    }

    let loaded = load_args(&[
        "--kube-api-qps=1e-30".into(),
        "--controller-start-interval=1h".into(),
        "--endpoint-updates-batch-period=5m".into(),
    ])
    .expect("valid");
    let warnings = loaded.warnings.join("\n");
    for expected in [
        "--kube-api-qps: 1e-30 lets each API client send one request every 2562047h47m16.854775807s once its burst of 30 is spent",
        "--controller-start-interval: 1h0m0s: each controller waits a random time",
        "--endpoint-updates-batch-period: 5m0s: Endpoints follow pod changes only after that long",
    ] {
        assert!(
            warnings.contains(expected),
            "missing {expected:?} in {warnings}"
        );
    }
}

#[test]
fn zero_workers_are_fine_for_a_controller_that_does_not_run() {
    assert!(
        load_args(&[
            "--controllers=*,-replicaset-controller".into(),
            "--concurrent-replicaset-syncs=0".into(),
        ])
        .is_ok()
    );
}

#[test]
fn an_empty_controller_list_is_refused_while_electing() {
    let err = load_args(&["--controllers=".into()]).expect_err("refused");
    assert_eq!(err.exit_code(), 2);
    assert!(
        err.message()
            .starts_with("error: --controllers: enables none of the controllers kcm-rs runs"),
        "{}",
        err.message()
    );
    let loaded = load_args(&["--controllers=".into(), "--leader-elect=false".into()])
        .expect("idle is allowed");
    assert!(loaded.controllers.enabled.is_empty());
    assert_eq!(loaded.warnings.len(), 1, "{:?}", loaded.warnings);
}

/// Config files that are not a configuration: each fails fast, naming the file, quoting little.
#[test]
fn config_files_that_are_not_a_configuration_fail_fast_and_briefly() {
    const HEADER: &str = "apiVersion: kubecontrollermanager.config.k8s.io/v1alpha1\n\
                          kind: KubeControllerManagerConfiguration\n";
    let deep_flow = format!(
        "{HEADER}generic: {}{}\n",
        "[".repeat(60_000),
        "]".repeat(60_000)
    );
    let unclosed_flow = format!("{HEADER}generic: {}\n", "{".repeat(60_000));
    let deep_block: String = HEADER.to_owned()
        + &(0..200)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect::<String>();
    let dashes = format!(
        "{HEADER}generic:\n  controllers:\n  {}x\n",
        "- ".repeat(5_000)
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("scalar", "hello\n".into(), "must be a YAML mapping (apiVersion: ..., kind: ..., fields), got a string \"hello\""),
        ("number", "42\n".into(), "must be a YAML mapping (apiVersion: ..., kind: ..., fields), got a number 42"),
        ("list", "- a\n- b\n".into(), "must be a YAML mapping (apiVersion: ..., kind: ..., fields), got a sequence"),
        ("empty", "\n# nothing\n".into(), "is empty: must be a YAML mapping"),
        ("junk text", format!("{}\n", "x".repeat(100_000)), "got a string \"xxxxxxxxxxxxxxxx"),
        ("junk bytes", "\u{1}\u{2}\u{3}garbage: [\n".into(), "not valid YAML"),
        ("two documents", format!("{HEADER}---\n{HEADER}"), "holds more than one YAML document"),
        ("another kind", "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nprofiles: []\n".into(), "field apiVersion: must be \"kubecontrollermanager.config.k8s.io/v1alpha1\""),
        ("over the size limit", format!("{HEADER}# {}\n", "x".repeat(2 * 1024 * 1024)), "larger than 128 KiB"),
        ("deep flow nesting", deep_flow, "nested more than 32 levels deep at line 3"),
        ("unclosed flow nesting", unclosed_flow, "nested more than 32 levels deep at line 3"),
        ("deep block nesting", deep_block, "nested more than 32 levels deep at line 35"),
        ("deep dash nesting", dashes, "nested more than 32 levels deep at line 5"),
        ("a long bad value", format!("{HEADER}generic:\n  minResyncPeriod: {}h\n", "9".repeat(100_000)), "field generic.minResyncPeriod: invalid duration \"99999999"),
        ("a long unknown key", format!("{HEADER}generic:\n  \"{}\": 1\n", "k".repeat(1_000)), "unknown field `kkkk"),
        ("many bad entries", format!("{HEADER}generic:\n  controllers: [{}]\n", vec!["nope"; 20_000].join(",")), "and 19980 more problems"),
    ];
    for (what, body, expected) in cases {
        let mut file = tempfile::Builder::new()
            .suffix(".yaml")
            .tempfile()
            .expect("temp file");
        file.write_all(body.as_bytes()).expect("write");
        let start = Instant::now();
        let err = load_args(&[format!("--config={}", file.path().display())]).expect_err(what);
        let elapsed = start.elapsed();
        let message = err.message();
        assert_eq!(err.exit_code(), 2, "{what}");
        assert!(
            message.starts_with(&format!("error: config file {}: ", file.path().display())),
            "{what}: {message}"
        );
        assert!(
            message.contains(expected),
            "{what}: want {expected:?} in {message}"
        );
        assert!(
            message.len() < 2500,
            "{what}: {} bytes: {message}",
            message.len()
        );
        assert!(elapsed < Duration::from_secs(1), "{what}: took {elapsed:?}");
    }
}
