use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn parses_go_syntax() {
    let cases: &[(&str, Duration)] = &[
        ("0", Duration::ZERO),
        ("+0", Duration::ZERO),
        ("-0", Duration::ZERO),
        ("0s", Duration::ZERO),
        ("5m0s", Duration::from_secs(300)),
        ("1h30m", Duration::from_secs(5400)),
        ("12h0m0s", Duration::from_secs(43200)),
        ("1.5s", ms(1500)),
        (".5s", ms(500)),
        ("1.s", Duration::from_secs(1)),
        ("300ms", ms(300)),
        ("10us", Duration::from_micros(10)),
        ("10\u{b5}s", Duration::from_micros(10)),
        ("10\u{3bc}s", Duration::from_micros(10)),
        ("7ns", Duration::from_nanos(7)),
        ("1h1m1s1ms1us1ns", Duration::from_nanos(3_661_001_001_001)),
        ("2h45m", Duration::from_secs(9900)),
        ("0.1h", Duration::from_secs(360)),
        ("+15s", Duration::from_secs(15)),
        (
            "9223372036854775807ns",
            Duration::from_nanos(i64::MAX as u64),
        ),
        ("0.100000000000000000000h", Duration::from_secs(360)),
    ];
    for (input, want) in cases {
        assert_eq!(parse(input).as_ref(), Ok(want), "{input}");
    }
}

#[test]
fn rejects_what_go_rejects_and_negatives() {
    let cases: &[(&str, &str)] = &[
        ("", "empty duration"),
        ("-", "empty duration"),
        ("3", "missing unit"),
        ("s", "expected a number"),
        (".s", "expected a number"),
        ("15x", "unknown unit \"x\""),
        ("1d", "unknown unit \"d\""),
        ("1S", "unknown unit \"S\""),
        ("1 s", "unknown unit \" s\""),
        ("-5s", "must not be negative"),
        (
            "9223372036854775808ns",
            "out of range: at most 2562047h47m16.854775807s",
        ),
        (
            "9223372036854775807ns1ns",
            "out of range: at most 2562047h47m16.854775807s",
        ),
        ("3000000h", "out of range: at most 2562047h47m16.854775807s"),
    ];
    for (input, reason) in cases {
        let err = parse(input).expect_err(input).to_string();
        assert!(err.contains(reason), "{input}: {err}");
        assert!(
            err.starts_with(&format!("invalid duration {input:?}")),
            "{err}"
        );
    }
}

#[test]
fn formats_like_go_duration_string() {
    let cases: &[(Duration, &str)] = &[
        (Duration::ZERO, "0s"),
        (Duration::from_nanos(1), "1ns"),
        (Duration::from_nanos(1100), "1.1\u{b5}s"),
        (ms(300), "300ms"),
        (Duration::from_micros(2200), "2.2ms"),
        (ms(1500), "1.5s"),
        (Duration::from_secs(1), "1s"),
        (Duration::from_secs(15), "15s"),
        (Duration::from_secs(90), "1m30s"),
        (Duration::from_secs(300), "5m0s"),
        (Duration::from_secs(5400), "1h30m0s"),
        (Duration::from_secs(43200), "12h0m0s"),
        (Duration::from_nanos(3_661_001_001_001), "1h1m1.001001001s"),
        (
            Duration::from_nanos(i64::MAX as u64),
            "2562047h47m16.854775807s",
        ),
        (Duration::MAX, "2562047h47m16.854775807s"),
    ];
    for (d, want) in cases {
        assert_eq!(&format(*d), want, "{d:?}");
    }
}

#[test]
fn format_then_parse_round_trips() {
    for nanos in [1, 999, 1_000, 1_500_000, 2_000_000_000, 3_600_000_000_001] {
        let d = Duration::from_nanos(nanos);
        assert_eq!(parse(&format(d)), Ok(d), "{nanos}ns");
    }
}

#[test]
fn serde_helpers_use_go_strings() {
    #[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
    struct Holder {
        #[serde(with = "go_string")]
        period: Duration,
    }
    let json = serde_json::to_string(&Holder {
        period: Duration::from_secs(300),
    })
    .unwrap();
    assert_eq!(json, r#"{"period":"5m0s"}"#);
    let back: Holder = serde_json::from_str(r#"{"period":"1h30m"}"#).unwrap();
    assert_eq!(back.period, Duration::from_secs(5400));
    assert!(serde_json::from_str::<Holder>(r#"{"period":"15x"}"#).is_err());
}
