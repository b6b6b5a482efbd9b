//! serving-security.md §9 "Config 1" (kubeadm-like flags, the admin kubeconfig for both
//! delegations): every identity against kcm-rs and upstream, codes compared, and 401/403 bodies
//! compared byte for byte.

use std::time::Duration;

use testenv::{Check, TestEnv, wait_until};

use crate::support::{
    Caller, Certificates, Manager, apiserver_requests, delegation_kubeconfig, free_port, grant_get,
    kubeadm_serving_flags, service_account_token,
};

const PATHS: [(&str, &str); 4] = [
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/configz"),
    ("POST", "/metrics"),
];

/// What serving-security.md §9 says each identity gets on [`PATHS`].
fn expected(label: &str) -> [u16; 4] {
    match label.split_whitespace().next().unwrap_or_default() {
        "A" | "H" | "I" => [200, 403, 403, 403],
        "B" | "F" | "G2" => [401, 401, 401, 401],
        "C" | "G" => [200, 200, 403, 403],
        "D" => [200, 403, 200, 403],
        "E" => [200, 200, 200, 200],
        other => panic!("no expectation for {other}"),
    }
}

#[tokio::test]
async fn every_identity_gets_upstreams_answer() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-ids").await?;
    let certs = Certificates::new(env, "ids")?;
    let mon = service_account_token(&ns, "mon").await?;
    grant_get(env, &ns, "mon", "metrics", &["/metrics"]).await?;
    let cfg = service_account_token(&ns, "cfg").await?;
    grant_get(env, &ns, "cfg", "configz", &["/configz"]).await?;
    let nobody = service_account_token(&ns, "nobody").await?;
    let callers = vec![
        Caller::anonymous(),
        Caller {
            label: "B forged token",
            token: Some("abc".into()),
            ..Default::default()
        },
        Caller {
            label: "C SA with get /metrics",
            token: Some(mon.clone()),
            ..Default::default()
        },
        Caller {
            label: "D SA with get /configz",
            token: Some(cfg),
            ..Default::default()
        },
        certs.masters_caller()?,
        certs.stranger_caller()?,
        certs.proxy_caller(
            "G front proxy asserting system:monitoring",
            "system:monitoring",
        )?,
        Caller {
            label: "G2 front-proxy cert without a user header",
            cert: Some(certs.front_proxy_ca.client(
                &certs.dir,
                "proxy2",
                "front-proxy-client",
                &[],
            )?),
            ..Default::default()
        },
        Caller {
            label: "H headers without a proxy cert",
            headers: vec![
                ("X-Remote-User".into(), "carol".into()),
                ("X-Remote-Group".into(), "system:masters".into()),
            ],
            ..Default::default()
        },
        Caller {
            label: "I SA without rights",
            token: Some(nobody.clone()),
            ..Default::default()
        },
        // Compact JSON (a scraper's User-Agent) for the error bodies too.
        Caller {
            label: "A anonymous as Prometheus",
            user_agent: Some("Prometheus/2.53.0"),
            ..Default::default()
        },
        Caller {
            label: "B forged token as Prometheus",
            token: Some("abc".into()),
            user_agent: Some("Prometheus/2.53.0"),
            ..Default::default()
        },
        Caller {
            label: "I SA without rights as Prometheus",
            token: Some(nobody),
            user_agent: Some("Prometheus/2.53.0"),
            ..Default::default()
        },
    ];

    let mut tables = Vec::new();
    for upstream in [false, true] {
        let port = free_port()?;
        let flags = kubeadm_serving_flags(port, &delegation_kubeconfig(env), &certs);
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        let mut rows = Vec::new();
        for caller in &callers {
            let mut answers = Vec::new();
            for (method, path) in PATHS {
                answers.push(caller.call(port, method, path)?);
            }
            let codes: Vec<u16> = answers.iter().map(|a| a.code).collect();
            println!("{:>8} {:<45} {codes:?}", manager.label(), caller.label);
            rows.push(answers);
        }
        // The TokenReview cache: 20 requests with a token not seen before cost one review at
        // the apiserver (two if the 10 s TTL ran out in between), not twenty.
        let fresh_token = service_account_token(&ns, &format!("fresh-{}", manager.label())).await?;
        let before = apiserver_requests(env, "tokenreviews").await?;
        let fresh = Caller {
            label: "fresh token",
            token: Some(fresh_token),
            ..Default::default()
        };
        for _ in 0..20 {
            assert_eq!(fresh.call(port, "GET", "/metrics")?.code, 403);
        }
        let reviews = apiserver_requests(env, "tokenreviews").await? - before;
        println!(
            "{:>8} tokenreviews at the apiserver for 20 requests with one new token: {reviews}",
            manager.label()
        );
        assert!(
            (1.0..=2.0).contains(&reviews),
            "{}: {reviews} TokenReviews for 20 requests",
            manager.label()
        );
        tables.push(rows);
        manager.stop().await?;
    }

    let (ours, theirs) = (&tables[0], &tables[1]);
    for (i, caller) in callers.iter().enumerate() {
        for (j, (method, path)) in PATHS.iter().enumerate() {
            let (a, b) = (&ours[i][j], &theirs[i][j]);
            assert_eq!(
                a.code, b.code,
                "{} {method} {path}: kcm-rs {} ({}) vs upstream {} ({})",
                caller.label, a.code, a.body, b.code, b.body
            );
            assert_eq!(
                a.code,
                expected(caller.label)[j],
                "{} {method} {path}: {}",
                caller.label,
                a.body
            );
            if a.code == 401 || a.code == 403 {
                assert_eq!(
                    a.body, b.body,
                    "{} {method} {path}: bodies differ",
                    caller.label
                );
            }
        }
    }
    Ok(())
}

/// A ServiceAccount without rights is forbidden /metrics; once a ClusterRole with `get` on
/// `/metrics` is bound it is allowed, after at most the unauthorized TTL (10 s).
#[tokio::test]
async fn binding_a_role_opens_metrics_after_the_cache_ttl() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-bind").await?;
    let certs = Certificates::new(env, "bind")?;
    for upstream in [false, true] {
        let sa = if upstream {
            "late-upstream"
        } else {
            "late-kcm-rs"
        };
        let token = service_account_token(&ns, sa).await?;
        let port = free_port()?;
        let flags = kubeadm_serving_flags(port, &delegation_kubeconfig(env), &certs);
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        let caller = Caller {
            label: "late",
            token: Some(token),
            ..Default::default()
        };
        let answer = caller.call(port, "GET", "/metrics")?;
        assert_eq!(answer.code, 403, "{}: {}", manager.label(), answer.body);
        assert!(
            answer.body.contains(&format!(
                "User \\\"system:serviceaccount:{}:{sa}\\\" cannot get path \\\"/metrics\\\"",
                ns.name()
            )),
            "{}",
            answer.body
        );
        grant_get(env, &ns, sa, sa, &["/metrics"]).await?;
        let started = tokio::time::Instant::now();
        wait_until(Duration::from_secs(30), "/metrics allowed", || async {
            match caller.call(port, "GET", "/metrics") {
                Ok(a) if a.code == 200 => Check::Done(()),
                Ok(a) => Check::NotYet(format!("{} {}", a.code, a.body)),
                Err(e) => Check::NotYet(e.to_string()),
            }
        })
        .await?;
        println!("{}: allowed after {:?}", manager.label(), started.elapsed());
        manager.stop().await?;
    }
    Ok(())
}

/// With `--requestheader-allowed-names`, only a proxy certificate with an allowed name may
/// assert identities; another name from the same CA is 401 (kcm-rs and upstream).
#[tokio::test]
async fn request_headers_only_from_an_allowed_proxy_name() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let certs = Certificates::new(env, "names")?;
    let allowed = certs
        .front_proxy_ca
        .client(&certs.dir, "allowed", "front-proxy-client", &[])?;
    let other = certs
        .front_proxy_ca
        .client(&certs.dir, "other", "someone-else", &[])?;
    let headers = vec![
        ("X-Remote-User".to_owned(), "carol".to_owned()),
        ("X-Remote-Group".to_owned(), "system:masters".to_owned()),
    ];
    for upstream in [false, true] {
        let port = free_port()?;
        let mut flags = kubeadm_serving_flags(port, &delegation_kubeconfig(env), &certs);
        flags.push("--requestheader-allowed-names=front-proxy-client".into());
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        let good = Caller {
            label: "allowed proxy",
            cert: Some(allowed.clone()),
            headers: headers.clone(),
            ..Default::default()
        };
        let bad = Caller {
            label: "other proxy",
            cert: Some(other.clone()),
            headers: headers.clone(),
            ..Default::default()
        };
        let (g, b) = (
            good.call(port, "GET", "/configz")?,
            bad.call(port, "GET", "/configz")?,
        );
        println!(
            "{}: allowed proxy {} / other name {}",
            manager.label(),
            g.code,
            b.code
        );
        assert_eq!(
            (g.code, b.code),
            (200, 401),
            "{}: {} / {}",
            manager.label(),
            g.body,
            b.body
        );
        manager.stop().await?;
    }
    Ok(())
}
