use super::*;
use crate::endpoints::testing::{address, port, subset};

fn single(name: &str, ip: &str, ready: bool, ports: Vec<EndpointPort>) -> EndpointSubset {
    if ready {
        subset(vec![address(name, ip)], vec![], ports)
    } else {
        subset(vec![], vec![address(name, ip)], ports)
    }
}

#[test]
fn pods_with_the_same_ports_share_one_subset_sorted_by_ip_string() {
    let got = repack_subsets(&[
        single("p2", "10.0.0.2", true, vec![port("http", 8080)]),
        single("p10", "10.0.0.10", true, vec![port("http", 8080)]),
        single("p3", "10.0.0.3", false, vec![port("http", 8080)]),
    ]);
    assert_eq!(
        got,
        [subset(
            vec![address("p10", "10.0.0.10"), address("p2", "10.0.0.2")],
            vec![address("p3", "10.0.0.3")],
            vec![port("http", 8080)]
        )]
    );
}

#[test]
fn not_ready_trumps_ready_and_duplicates_collapse_on_ip_and_uid() {
    let got = repack_subsets(&[
        single("p1", "10.0.0.1", true, vec![port("http", 8080)]),
        single("p1", "10.0.0.1", false, vec![port("http", 8080)]),
        single("p1", "10.0.0.1", true, vec![port("http", 8080)]),
    ]);
    assert_eq!(
        got,
        [subset(
            vec![],
            vec![address("p1", "10.0.0.1")],
            vec![port("http", 8080)]
        )]
    );
    // Same IP, different pods (UIDs): both stay, ordered by UID.
    let got = repack_subsets(&[
        single("pb", "10.0.0.1", true, vec![port("http", 8080)]),
        single("pa", "10.0.0.1", true, vec![port("http", 8080)]),
    ]);
    assert_eq!(
        got[0]
            .addresses
            .as_ref()
            .unwrap()
            .iter()
            .map(|a| a.target_ref.as_ref().unwrap().name.clone().unwrap())
            .collect::<Vec<_>>(),
        ["pa", "pb"]
    );
}

#[test]
fn different_port_numbers_make_different_subsets() {
    let got = repack_subsets(&[
        single("p1", "10.0.0.1", true, vec![port("http", 9000)]),
        single("p2", "10.0.0.2", true, vec![port("http", 9001)]),
    ]);
    assert_eq!(
        got,
        [
            subset(
                vec![address("p1", "10.0.0.1")],
                vec![],
                vec![port("http", 9000)]
            ),
            subset(
                vec![address("p2", "10.0.0.2")],
                vec![],
                vec![port("http", 9001)]
            ),
        ]
    );
}

#[test]
fn ports_with_the_same_addresses_merge() {
    let got = repack_subsets(&[
        single("p1", "10.0.0.1", true, vec![port("https", 8443)]),
        single("p1", "10.0.0.1", true, vec![port("http", 8080)]),
        single("p2", "10.0.0.2", true, vec![port("http", 8080)]),
        single("p2", "10.0.0.2", true, vec![port("https", 8443)]),
    ]);
    assert_eq!(
        got,
        [subset(
            vec![address("p1", "10.0.0.1"), address("p2", "10.0.0.2")],
            vec![],
            vec![port("http", 8080), port("https", 8443)]
        )]
    );
}

#[test]
fn subsets_without_ports_keep_their_addresses() {
    let got = repack_subsets(&[
        single("p1", "10.0.0.1", true, vec![]),
        single("p2", "10.0.0.2", false, vec![]),
    ]);
    assert_eq!(
        got,
        [subset(
            vec![address("p1", "10.0.0.1")],
            vec![address("p2", "10.0.0.2")],
            vec![]
        )]
    );
    assert!(repack_subsets(&[]).is_empty());
}

#[test]
fn repacking_is_idempotent_and_order_independent() {
    let input = vec![
        single("p3", "10.0.0.3", false, vec![port("http", 9000)]),
        single(
            "p1",
            "10.0.0.1",
            true,
            vec![port("http", 9000), port("dns", 53)],
        ),
        single("p2", "10.0.0.2", true, vec![port("http", 9001)]),
    ];
    let once = repack_subsets(&input);
    assert_eq!(repack_subsets(&once), once);
    let mut reversed = input.clone();
    reversed.reverse();
    assert_eq!(repack_subsets(&reversed), once);
}
