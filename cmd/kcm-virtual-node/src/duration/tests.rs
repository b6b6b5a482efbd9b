use super::*;

#[test]
fn go_durations_parse() {
    let ms = Duration::from_millis;
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    assert_eq!(parse_duration("500ms").unwrap(), ms(500));
    assert_eq!(parse_duration("5s").unwrap(), ms(5000));
    assert_eq!(parse_duration("1.5s").unwrap(), ms(1500));
    assert_eq!(parse_duration("1m30s").unwrap(), ms(90_000));
    assert_eq!(parse_duration("1h").unwrap(), ms(3_600_000));
    assert_eq!(parse_duration("250us").unwrap(), Duration::from_micros(250));
}

#[test]
fn bad_durations_say_why() {
    for (input, why) in [
        ("", "empty"),
        ("5", "missing unit"),
        ("5x", "unknown unit"),
        ("-5s", "negative"),
        ("s", "expected a number"),
        ("1..2s", "malformed number"),
    ] {
        let e = parse_duration(input).unwrap_err();
        assert!(e.to_string().contains(why), "{input:?}: {e}");
        assert!(e.to_string().contains(&format!("{input:?}")), "{e}");
    }
}
