use super::*;

#[test]
fn the_handicap_grows_with_each_lease_led() {
    let held = HeldLeases::new();
    let retry = Duration::from_secs(2);
    assert_eq!(held.handicap(retry), Duration::ZERO);
    held.gained();
    held.gained();
    assert_eq!(held.handicap(retry), Duration::from_secs(4));
    held.dropped();
    held.dropped();
    held.dropped();
    assert_eq!(held.count(), 0, "never negative");
}
