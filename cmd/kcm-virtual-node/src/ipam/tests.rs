use super::*;

#[test]
fn cidrs_parse_and_reject_bad_input() {
    let c: Cidr = "10.244.0.0/16".parse().unwrap();
    assert_eq!(c.to_string(), "10.244.0.0/16");
    assert_eq!(c.size(), 65536);
    assert!(matches!(
        "10.244.1.0/16".parse::<Cidr>(),
        Err(CidrError::HostBits { .. })
    ));
    for bad in ["10.244.0.0", "10.244.0.0/33", "x/8", "fd00::/64"] {
        assert!(
            matches!(bad.parse::<Cidr>(), Err(CidrError::Syntax { .. })),
            "{bad}"
        );
    }
}

#[test]
fn nodes_get_consecutive_subnets() {
    let c: Cidr = "10.244.0.0/16".parse().unwrap();
    let subnets = c.subnets(24, 3).unwrap();
    let names: Vec<String> = subnets.iter().map(ToString::to_string).collect();
    assert_eq!(names, ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"]);
    let e = c.subnets(24, 257).unwrap_err();
    assert!(e.to_string().contains("holds 256"), "{e}");
    assert!(c.subnets(8, 1).is_err());
}

#[test]
fn addresses_are_unique_until_released_and_reused_round_robin() {
    let mut a = Allocator::new("10.0.0.0/29".parse().unwrap());
    assert!(a.reserve("10.0.0.3".parse().unwrap()));
    assert!(!a.reserve("10.0.1.3".parse().unwrap()));
    let got: Vec<String> = std::iter::from_fn(|| a.allocate())
        .map(|ip| ip.to_string())
        .collect();
    // .0 and .7 are network and broadcast; .3 was reserved.
    assert_eq!(
        got,
        ["10.0.0.1", "10.0.0.2", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    );
    assert_eq!(a.in_use(), 6);
    a.release("10.0.0.2".parse().unwrap());
    a.release("10.0.0.5".parse().unwrap());
    assert_eq!(a.allocate().unwrap().to_string(), "10.0.0.2");
    assert_eq!(a.allocate().unwrap().to_string(), "10.0.0.5");
    assert_eq!(a.allocate(), None);
}
