//! serving-security.md §9 Configs 2 to 4: no delegation kubeconfig at all, the client CA from the
//! `extension-apiserver-authentication` ConfigMap (no CA flags), and the same with
//! `--authentication-skip-lookup`; kcm-rs and upstream side by side.

use testenv::TestEnv;

use crate::support::{
    Caller, Certificates, Manager, delegation_kubeconfig, free_port, grant_get,
    service_account_token, wait_serving,
};

#[tokio::test]
async fn configmap_lookup_and_missing_kubeconfigs_match_upstream() -> anyhow::Result<()> {
    let Some(env) = TestEnv::get().await else {
        return Ok(());
    };
    let _exclusive = env.controller_lock().await;
    let ns = env.namespace("serving-lookup").await?;
    let certs = Certificates::new(env, "lookup")?;
    let mon = service_account_token(&ns, "mon").await?;
    grant_get(env, &ns, "mon", "metrics", &["/metrics"]).await?;
    let callers = [
        Caller {
            label: "C SA with get /metrics",
            token: Some(mon),
            ..Default::default()
        },
        Caller {
            label: "E client cert in system:masters",
            cert: Some(certs.client("alice", "alice", &["system:masters"])?),
            ..Default::default()
        },
        Caller {
            label: "F client cert from an unrelated CA",
            cert: Some(
                certs
                    .stranger_ca
                    .client(&certs.dir, "bob", "bob", &["system:masters"])?,
            ),
            ..Default::default()
        },
        Caller {
            label: "G front-proxy cert with headers",
            cert: Some(certs.front_proxy_ca.client(
                &certs.dir,
                "proxy",
                "front-proxy-client",
                &[],
            )?),
            headers: vec![
                ("X-Remote-User".into(), "carol".into()),
                ("X-Remote-Group".into(), "system:masters".into()),
            ],
            ..Default::default()
        },
    ];
    let kubeconfig = delegation_kubeconfig(env);
    let authn = format!("--authentication-kubeconfig={}", kubeconfig.display());
    let authz = format!("--authorization-kubeconfig={}", kubeconfig.display());
    // (configuration, flags beyond port and address, expected /metrics code per caller)
    let configs: [(&str, Vec<String>, [u16; 4]); 3] = [
        // Config 2: tokens are ignored and certificates unverifiable: everyone is anonymous.
        ("no kubeconfigs", vec![], [403, 403, 403, 403]),
        // Config 4: the client CA comes from the ConfigMap (the test apiserver publishes its
        // --client-ca-file there, and no front-proxy CA).
        (
            "ConfigMap lookup",
            vec![authn.clone(), authz.clone()],
            [200, 200, 401, 401],
        ),
        (
            "lookup skipped",
            vec![authn, authz, "--authentication-skip-lookup".into()],
            [200, 403, 403, 403],
        ),
    ];
    for (config, extra, expected) in &configs {
        let mut codes = Vec::new();
        for upstream in [false, true] {
            let port = free_port()?;
            let mut flags = vec![
                format!("--secure-port={port}"),
                "--bind-address=127.0.0.1".to_owned(),
            ];
            flags.extend(extra.iter().cloned());
            let manager = if upstream {
                Manager::upstream(env, &flags).await?
            } else {
                Manager::kcm_rs(env, &flags).await?
            };
            wait_serving(port, &manager).await?;
            let mut row = Vec::new();
            for caller in &callers {
                row.push(caller.call(port, "GET", "/metrics")?.code);
            }
            println!(
                "{:>8} {config:<18} /metrics for C, E, F, G: {row:?}",
                manager.label()
            );
            codes.push(row);
            manager.stop().await?;
        }
        assert_eq!(codes[0], codes[1], "{config}: kcm-rs vs upstream");
        assert_eq!(codes[0], expected.to_vec(), "{config}");
    }
    Ok(())
}
