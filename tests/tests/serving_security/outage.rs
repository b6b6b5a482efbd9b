//! serving-security.md §9 "Outage": the delegation kubeconfig reaches the apiserver through a
//! proxy the test cuts (connections refused). `system:masters` and the always-allow paths keep
//! working, cached answers hold for their TTL, then a token is 401 (its review fails) and a
//! certificate user who needs a SubjectAccessReview gets 500; kcm-rs and upstream side by side.

use std::time::Duration;

use testenv::{CuttableProxy, TestEnv, env::Identity};

use crate::support::{
    Caller, Certificates, Manager, free_port, grant_get, kubeadm_serving_flags,
    service_account_token,
};

// The proxy relays on the runtime while curl blocks the test's thread: two workers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_apiserver_fails_closed_as_upstream() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-outage").await?;
    let certs = Certificates::new(env, "outage")?;
    let mon = service_account_token(&ns, "mon").await?;
    grant_get(env, &ns, "mon", "metrics", &["/metrics"]).await?;
    let callers = [
        Caller::anonymous(),
        Caller {
            label: "E masters cert",
            cert: Some(certs.client("alice", "alice", &["system:masters"])?),
            ..Default::default()
        },
        Caller {
            label: "C SA with get /metrics",
            token: Some(mon),
            ..Default::default()
        },
        Caller {
            label: "dave cert, no masters",
            cert: Some(certs.client("dave", "dave", &[])?),
            ..Default::default()
        },
    ];
    let paths = ["/healthz", "/metrics", "/metrics", "/metrics"];
    let mut all = Vec::new();
    for upstream in [false, true] {
        let proxy = CuttableProxy::to_apiserver(env).await?;
        let kubeconfig = certs.dir.join(format!("via-proxy-{upstream}.kubeconfig"));
        let admin = std::fs::read_to_string(env.kubeconfig(Identity::Admin))?;
        std::fs::write(
            &kubeconfig,
            admin.replace(env.apiserver_url(), &proxy.url()),
        )?;
        let port = free_port()?;
        let flags = kubeadm_serving_flags(port, &kubeconfig, &certs);
        let manager = Manager::serving(env, upstream, &flags, port).await?;
        let mut phases = Vec::new();
        let run = |phase: &str| -> anyhow::Result<Vec<u16>> {
            let mut codes = Vec::new();
            for (caller, path) in callers.iter().zip(paths) {
                codes.push(caller.call(port, "GET", path)?.code);
            }
            println!(
                "{:>8} {phase:<28} A /healthz, E, C, dave /metrics: {codes:?}",
                manager.label()
            );
            Ok(codes)
        };
        phases.push(run("apiserver reachable")?);
        proxy.refuse();
        phases.push(run("cut, answers cached")?);
        // Past both TTLs (10 s).
        tokio::time::sleep(Duration::from_secs(11)).await;
        phases.push(run("cut, caches expired")?);
        proxy.restore();
        manager.stop().await?;
        all.push(phases);
    }
    assert_eq!(all[0], all[1], "kcm-rs vs upstream");
    assert_eq!(
        all[0],
        vec![
            vec![200, 200, 200, 403],
            vec![200, 200, 200, 403],
            vec![200, 200, 401, 500],
        ]
    );
    Ok(())
}
