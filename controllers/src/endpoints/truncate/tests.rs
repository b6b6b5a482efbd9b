use super::*;
use crate::endpoints::testing::{address, port, subset};

fn addresses(prefix: &str, n: usize) -> Vec<EndpointAddress> {
    (0..n)
        .map(|i| {
            address(
                &format!("{prefix}{i}"),
                &format!("10.{}.{}.{}", prefix.len(), i / 250, i % 250),
            )
        })
        .collect()
}

fn counts(subsets: &[EndpointSubset]) -> Vec<(usize, usize)> {
    subsets
        .iter()
        .map(|s| (count(&s.addresses), count(&s.not_ready_addresses)))
        .collect()
}

#[test]
fn up_to_1000_addresses_nothing_changes() {
    let mut subsets = vec![subset(
        addresses("r", 990),
        addresses("nr", 10),
        vec![port("http", 80)],
    )];
    let before = subsets.clone();
    assert!(!truncate_subsets(&mut subsets));
    assert_eq!(subsets, before);
}

#[test]
fn ready_addresses_win_over_not_ready_ones() {
    let mut subsets = vec![subset(
        addresses("r", 1000),
        addresses("nr", 5),
        vec![port("http", 80)],
    )];
    assert!(truncate_subsets(&mut subsets));
    assert_eq!(counts(&subsets), [(1000, 0)]);

    let mut subsets = vec![subset(addresses("r", 1001), vec![], vec![port("http", 80)])];
    assert!(truncate_subsets(&mut subsets));
    assert_eq!(counts(&subsets), [(1000, 0)]);
    // A prefix of the sorted list survives.
    assert_eq!(
        subsets[0].addresses.as_ref().unwrap()[999].ip,
        addresses("r", 1001)[999].ip
    );
}

#[test]
fn room_is_shared_in_proportion_rounded_up() {
    // 1200 ready over two subsets: 1000 * 600/1200 = 500 each.
    let mut subsets = vec![
        subset(addresses("a", 600), addresses("x", 3), vec![port("a", 1)]),
        subset(addresses("bb", 600), vec![], vec![port("b", 2)]),
    ];
    assert!(truncate_subsets(&mut subsets));
    assert_eq!(counts(&subsets), [(500, 0), (500, 0)]);

    // 900 ready stay; 100 not-ready places for 150 + 50 not ready: ceil(75) and then the rest.
    let mut subsets = vec![
        subset(addresses("a", 450), addresses("x", 150), vec![port("a", 1)]),
        subset(
            addresses("bb", 450),
            addresses("yy", 50),
            vec![port("b", 2)],
        ),
    ];
    assert!(truncate_subsets(&mut subsets));
    assert_eq!(counts(&subsets), [(450, 75), (450, 25)]);
}

#[test]
fn the_capacity_annotation_check() {
    let small = vec![subset(addresses("r", 3), vec![], vec![port("http", 80)])];
    assert!(capacity_annotation_set_correctly(None, &small));
    let annotated: BTreeMap<String, String> =
        [(ANNOTATION_OVER_CAPACITY.to_owned(), TRUNCATED.to_owned())].into();
    assert!(!capacity_annotation_set_correctly(Some(&annotated), &small));
    let big = vec![subset(addresses("r", 1001), vec![], vec![port("http", 80)])];
    assert!(!capacity_annotation_set_correctly(None, &big));
    assert_eq!(address_count(&big), 1001);
}
