use super::*;

fn flags(args: &[&str]) -> Flags {
    Flags::try_parse_from(std::iter::once("kcm-virtual-node").chain(args.iter().copied())).unwrap()
}

#[test]
fn defaults_give_one_kubelet_like_node() {
    let s = flags(&[]).validate().unwrap();
    assert_eq!(s.nodes.len(), 1);
    assert_eq!(s.nodes[0].name, "virtual-node-1");
    assert_eq!(s.nodes[0].pod_cidr.to_string(), "10.244.0.0/24");
    assert_eq!(s.nodes[0].internal_ip.to_string(), "10.253.0.1");
    assert_eq!(s.template.capacity["pods"].0, "110");
    assert_eq!(s.heartbeat.renew_interval(), Duration::from_secs(10));
    assert_eq!(s.max_grace_period, Duration::from_secs(30));
}

#[test]
fn nodes_labels_and_taints() {
    let s = flags(&[
        "--nodes=3",
        "--node-name-prefix=vn",
        "--node-labels=zone=a,tier=web",
        "--node-taints=virtual=true:NoSchedule",
        "--node-taints=dedicated:NoExecute",
    ])
    .validate()
    .unwrap();
    let names: Vec<&str> = s.nodes.iter().map(|n| n.name.as_str()).collect();
    assert_eq!(names, ["vn-1", "vn-2", "vn-3"]);
    assert_eq!(s.nodes[2].pod_cidr.to_string(), "10.244.2.0/24");
    assert_eq!(s.template.labels["tier"], "web");
    assert_eq!(s.template.taints.len(), 2);
    assert_eq!(s.template.taints[0].value.as_deref(), Some("true"));
    assert_eq!(s.template.taints[1].value, None);
}

#[test]
fn bad_values_name_their_flag() {
    for (args, flag) in [
        (vec!["--nodes=0"], "--nodes"),
        (vec!["--node-name-prefix=Bad_Name"], "--node-name-prefix"),
        (vec!["--pod-cidr=10.244.0.0"], "--pod-cidr"),
        (vec!["--nodes=300"], "--node-cidr-mask-size"),
        (vec!["--node-labels=novalue"], "--node-labels"),
        (vec!["--node-taints=a=b:Sometimes"], "--node-taints"),
        (vec!["--node-memory=lots"], "--node-memory"),
        (vec!["--restart-backoff=10m"], "--restart-backoff"),
    ] {
        let e = flags(&args).validate().unwrap_err();
        assert!(e.to_string().starts_with(flag), "{args:?}: {e}");
    }
    assert!(Flags::try_parse_from(["kcm-virtual-node", "--max-grace-period=soon"]).is_err());
}
