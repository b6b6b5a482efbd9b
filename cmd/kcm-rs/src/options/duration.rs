//! Go duration syntax (`5m0s`, `1h30m`, `300ms`) for flags, the config file and `/configz`.
//!
//! Upstream durations are Go `time.Duration`s: flags parse them with `time.ParseDuration` and
//! `/configz` prints them with `Duration.String()`. Copying both exactly keeps command lines,
//! `--help` defaults and `/configz` output interchangeable with kube-controller-manager's.
//!
//! Go durations are signed; kcm-rs stores `std::time::Duration`, so a negative duration is
//! rejected when parsed. None of the durations in scope means anything when negative.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// Go's `time.Duration` holds at most `i64::MAX` nanoseconds (about 292 years).
const MAX_NANOS: u128 = i64::MAX as u128;
/// The longest Go duration, `2562047h47m16.854775807s`.
pub const MAX: Duration = Duration::from_nanos(i64::MAX as u64);

const NANOSECOND: u64 = 1;
const MICROSECOND: u64 = 1_000 * NANOSECOND;
const MILLISECOND: u64 = 1_000 * MICROSECOND;
const SECOND: u64 = 1_000 * MILLISECOND;
const MINUTE: u64 = 60 * SECOND;
const HOUR: u64 = 60 * MINUTE;

/// A `std::time::Duration` that parses and prints in Go syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct GoDuration(pub Duration);

impl From<GoDuration> for Duration {
    fn from(d: GoDuration) -> Duration {
        d.0
    }
}

/// Why a string is not a Go duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration {input:?}: {reason}")]
pub struct ParseDurationError {
    input: String,
    reason: String,
}

impl ParseDurationError {
    fn new(input: &str, reason: impl Into<String>) -> Self {
        ParseDurationError {
            input: input.to_owned(),
            reason: reason.into(),
        }
    }
}

impl FromStr for GoDuration {
    type Err = ParseDurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse(s).map(GoDuration)
    }
}

impl fmt::Display for GoDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format(self.0))
    }
}

/// Parses Go syntax: `[-+]?([0-9]*(\.[0-9]*)?[a-z]+)+`, or a bare `0`.
///
/// Mirrors `time.ParseDuration`, including its units (`ns`, `us`/`µs`/`μs`, `ms`, `s`, `m`, `h`),
/// its overflow limit and its float arithmetic for fractions.
pub fn parse(input: &str) -> Result<Duration, ParseDurationError> {
    let mut rest = input;
    let mut negative = false;
    if let Some(stripped) = rest.strip_prefix('-') {
        negative = true;
        rest = stripped;
    } else if let Some(stripped) = rest.strip_prefix('+') {
        rest = stripped;
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(ParseDurationError::new(input, "empty duration"));
    }

    let overflow = || {
        ParseDurationError::new(
            input,
            "out of range: at most 2562047h47m16.854775807s (Go's time.Duration)",
        )
    };
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let (whole, after_whole) = leading_int(rest).ok_or_else(overflow)?;
        let consumed_whole = after_whole.len() != rest.len();
        rest = after_whole;

        let mut fraction: u64 = 0;
        let mut scale: f64 = 1.0;
        let mut consumed_fraction = false;
        if let Some(after_dot) = rest.strip_prefix('.') {
            let (f, s, after) = leading_fraction(after_dot);
            consumed_fraction = after.len() != after_dot.len();
            (fraction, scale, rest) = (f, s, after);
        }
        if !consumed_whole && !consumed_fraction {
            return Err(ParseDurationError::new(input, "expected a number"));
        }

        let unit_len = rest
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(rest.len());
        if unit_len == 0 {
            return Err(ParseDurationError::new(input, "missing unit"));
        }
        let (unit_str, after_unit) = rest.split_at(unit_len);
        rest = after_unit;
        let unit = unit_nanos(unit_str).ok_or_else(|| {
            ParseDurationError::new(
                input,
                format!("unknown unit {unit_str:?} (use ns, us, ms, s, m or h)"),
            )
        })?;

        let mut value = u128::from(whole) * u128::from(unit);
        if value > MAX_NANOS + 1 {
            return Err(overflow());
        }
        if fraction > 0 {
            // Float arithmetic, as Go does: it is exact enough for fractions of an hour.
            value += (fraction as f64 * (unit as f64 / scale)) as u128;
            if value > MAX_NANOS + 1 {
                return Err(overflow());
            }
        }
        total += value;
        if total > MAX_NANOS + 1 {
            return Err(overflow());
        }
    }
    if negative && total > 0 {
        return Err(ParseDurationError::new(
            input,
            "must not be negative (from 0s to 2562047h47m16.854775807s)",
        ));
    }
    if total > MAX_NANOS {
        return Err(overflow());
    }
    let nanos = u64::try_from(total).map_err(|_| overflow())?;
    Ok(Duration::from_nanos(nanos))
}

/// Consumes leading ASCII digits; `None` if the value overflows Go's int64 range.
fn leading_int(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut value: u64 = 0;
    for digit in s[..end].bytes() {
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
        if value > i64::MAX as u64 {
            return None;
        }
    }
    Some((value, &s[end..]))
}

/// Consumes leading ASCII digits as a fraction `value / scale`, dropping digits once more
/// precision no longer fits (Go's `leadingFraction`).
fn leading_fraction(s: &str) -> (u64, f64, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let mut value: u64 = 0;
    let mut scale = 1.0;
    let mut saturated = false;
    for digit in s[..end].bytes() {
        if saturated {
            continue;
        }
        match value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(digit - b'0')))
            .filter(|v| *v <= i64::MAX as u64)
        {
            Some(v) => {
                value = v;
                scale *= 10.0;
            }
            None => saturated = true,
        }
    }
    (value, scale, &s[end..])
}

fn unit_nanos(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => NANOSECOND,
        // Go accepts the micro sign (U+00B5) and the Greek letter mu (U+03BC).
        "us" | "\u{b5}s" | "\u{3bc}s" => MICROSECOND,
        "ms" => MILLISECOND,
        "s" => SECOND,
        "m" => MINUTE,
        "h" => HOUR,
        _ => return None,
    })
}

/// Prints like Go's `Duration.String()`: `0s`, `300ms`, `1.5s`, `5m0s`, `12h0m0s`.
///
/// Durations beyond Go's range (which kcm-rs never parses) print saturated at its maximum.
pub fn format(d: Duration) -> String {
    let nanos = u64::try_from(d.as_nanos())
        .unwrap_or(u64::MAX)
        .min(i64::MAX as u64);
    if nanos == 0 {
        return "0s".to_owned();
    }
    if nanos < SECOND {
        // Below a second Go switches to the largest sub-second unit that keeps a whole part.
        let (unit, digits) = if nanos < MICROSECOND {
            ("ns", 0)
        } else if nanos < MILLISECOND {
            ("\u{b5}s", 3)
        } else {
            ("ms", 6)
        };
        return format!("{}{unit}", with_fraction(nanos, digits));
    }
    let seconds = nanos / SECOND;
    let sub_second = nanos % SECOND;
    let seconds_part = with_fraction((seconds % 60) * SECOND + sub_second, 9);
    let minutes = seconds / 60;
    if minutes == 0 {
        return format!("{seconds_part}s");
    }
    let hours = minutes / 60;
    if hours == 0 {
        return format!("{}m{seconds_part}s", minutes % 60);
    }
    format!("{hours}h{}m{seconds_part}s", minutes % 60)
}

/// `value / 10^digits` in decimal without trailing zeros (Go's `fmtFrac` + `fmtInt`).
fn with_fraction(value: u64, digits: u32) -> String {
    let divisor = 10u64.pow(digits);
    let whole = value / divisor;
    let fraction = value % divisor;
    if fraction == 0 {
        return whole.to_string();
    }
    let fraction = format!("{fraction:0width$}", width = digits as usize);
    format!("{whole}.{}", fraction.trim_end_matches('0'))
}

/// `serde(with = ...)` helpers: a duration as a Go duration string.
pub mod go_string {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&super::GoDuration(*d))
    }

    // The effective config is only serialized (for /configz); reading goes through the
    // config file's own types, so only the round-trip test deserializes with this.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// `serde(deserialize_with = ...)` for an optional Go duration string; `null` means unset.
pub fn deserialize_optional<'de, D>(deserializer: D) -> Result<Option<Duration>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    use serde::Deserialize;

    struct GoDurationString(String);
    impl<'de> Deserialize<'de> for GoDurationString {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct Visitor;
            impl serde::de::Visitor<'_> for Visitor {
                type Value = GoDurationString;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a Go duration string such as \"5m0s\"")
                }
                fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                    Ok(GoDurationString(v.to_owned()))
                }
            }
            d.deserialize_str(Visitor)
        }
    }

    match Option::<GoDurationString>::deserialize(deserializer)? {
        None => Ok(None),
        Some(GoDurationString(text)) => parse(&text).map(Some).map_err(serde::de::Error::custom),
    }
}

#[cfg(test)]
mod tests;
