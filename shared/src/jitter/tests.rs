use super::*;

#[test]
fn stays_within_period_and_period_times_one_plus_factor() {
    assert_eq!(jitter(Duration::ZERO, 1.0), Duration::ZERO);
    for factor in [1.0, 1.2, 0.0, -3.0, f64::NAN] {
        let bound = if factor > 0.0 { factor } else { 1.0 };
        for _ in 0..200 {
            let j = jitter(Duration::from_secs(2), factor);
            assert!(j >= Duration::from_secs(2), "{j:?}");
            assert!(j < Duration::from_secs_f64(2.0 * (1.0 + bound)), "{j:?}");
        }
    }
}

#[test]
fn huge_periods_saturate() {
    assert!(jitter(Duration::MAX, 1.0) >= Duration::MAX / 2);
}
