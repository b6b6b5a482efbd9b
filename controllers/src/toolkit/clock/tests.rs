use super::*;

#[test]
fn a_manual_clock_stands_still_until_moved() {
    let start = Timestamp::from_second(1_000).unwrap();
    let (clock, hand) = Clock::manual(start);
    assert_eq!(clock.now(), start);
    hand.advance(SignedDuration::from_secs(5));
    assert_eq!(clock.clone().now(), Timestamp::from_second(1_005).unwrap());
    hand.set(start);
    assert_eq!(clock.now(), start);
}

#[test]
fn the_system_clock_moves() {
    let clock = Clock::system();
    assert!(clock.now() > Timestamp::from_second(1_700_000_000).unwrap());
}
