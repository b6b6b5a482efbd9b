//! The shape of Endpoints: headless Services with and without ports, hostnames, named target
//! ports (protocol mismatch, sidecars), undeclared numeric target ports, several ports.

use serde_json::json;

use crate::support::*;

#[tokio::test]
async fn headless_hostnames_and_target_ports() -> anyhow::Result<()> {
    let Some((ours, upstream)) = with_both("ep-shapes", &[], |h| async move {
        h.start().await?;
        let web = |port: i32, protocol: &str| json!([{ "name": "web", "containerPort": port, "protocol": protocol }]);
        let pods = [
            ("p1", "10.6.0.1", json!({ "hostname": "h1", "subdomain": "hl",
                "containers": [{ "name": "c", "image": "registry.invalid/a:1", "ports": web(9000, "TCP") }] })),
            ("p2", "10.6.0.2", json!({ "containers": [{ "name": "c", "image": "registry.invalid/a:1", "ports": web(9001, "TCP") }] })),
            ("p3", "10.6.0.3", json!({})),
            ("p4", "10.6.0.4", json!({ "containers": [{ "name": "c", "image": "registry.invalid/a:1", "ports": web(9000, "UDP") }] })),
            ("p5", "10.6.0.5", json!({ "initContainers": [{ "name": "side", "image": "registry.invalid/s:1",
                "restartPolicy": "Always", "ports": web(9002, "TCP") }] })),
        ];
        for (name, ip, spec) in pods {
            create_pod(&h, name, &[("app", "a")], spec).await?;
            set_status(&h, name, "Running", Some(ip), true, now()).await?;
        }
        let selector: &[(&str, &str)] = &[("app", "a")];
        create_service(&h, service("named", Some(selector), json!("web"))).await?;
        create_service(&h, service("numeric", Some(selector), json!(1234))).await?;
        let mut multi = service("multi", Some(selector), json!(8080));
        multi["spec"]["ports"] = json!([
            { "name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP" },
            { "name": "web", "port": 81, "targetPort": "web", "protocol": "TCP" },
            { "name": "dns", "port": 53, "targetPort": 53, "protocol": "UDP" },
        ]);
        create_service(&h, multi).await?;
        let mut headless = service("hl", Some(selector), json!(8080));
        headless["spec"]["clusterIP"] = json!("None");
        create_service(&h, headless).await?;
        let mut bare = service("bare", Some(selector), json!(8080));
        bare["spec"]["clusterIP"] = json!("None");
        bare["spec"]["ports"] = json!(null);
        create_service(&h, bare).await?;

        let mut seen = Vec::new();
        for (name, count) in [("named", 3), ("numeric", 5), ("multi", 5), ("hl", 5), ("bare", 5)] {
            let e = wait_endpoints(&h, name, name, |s| {
                let mut ips = s.ready_ips();
                ips.sort();
                ips.dedup();
                ips.len() == count
            })
            .await?;
            let mut s = snapshot(&e);
            s.annotations.remove(TRIGGER_TIME);
            seen.push((name, s));
        }
        Ok(seen)
    })
    .await?
    else {
        return Ok(());
    };
    let named = &ours[0].1;
    let ports: Vec<i32> = named.subsets.iter().map(|s| s.ports[0].1).collect();
    assert_eq!(
        ports,
        [9000, 9001, 9002],
        "p3 and the UDP port of p4 do not match"
    );
    let hl = &ours[3].1;
    assert_eq!(
        hl.labels
            .get("service.kubernetes.io/headless")
            .map(String::as_str),
        Some("")
    );
    assert!(
        hl.subsets[0]
            .ready
            .iter()
            .any(|a| a.hostname.as_deref() == Some("h1")),
        "{hl:?}"
    );
    assert!(
        ours[4].1.subsets.iter().all(|s| s.ports.is_empty()),
        "bare: no ports"
    );
    assert_eq!(ours, upstream);
    Ok(())
}
