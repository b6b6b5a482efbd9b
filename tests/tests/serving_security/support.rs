//! What the serving-security scenarios share: the identities of serving-security.md §9, an
//! HTTPS client (curl, as a scraper or the kubelet would call), the managers under test with
//! the same flags, and the apiserver's request counts.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
use k8s_openapi::api::core::v1::ServiceAccount;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use kube::api::{Api, ObjectMeta, PostParams};
use testenv::{
    KcmRs, ManagedProcess, TestEnv, TestNamespace, UpstreamKcm,
    env::Identity,
    pki::{Pair, Pki},
};

pub fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Who calls, and how.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    pub label: &'static str,
    pub cert: Option<Pair>,
    pub token: Option<String>,
    pub headers: Vec<(String, String)>,
    /// Sent instead of curl's own (which makes upstream indent its JSON).
    pub user_agent: Option<&'static str>,
}

/// One response: status code and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub code: u16,
    pub body: String,
}

impl Caller {
    pub fn anonymous() -> Self {
        Caller {
            label: "A anonymous",
            ..Default::default()
        }
    }

    /// `curl -k` as a scraper would; `method` GET or POST.
    pub fn call(&self, port: u16, method: &str, path: &str) -> anyhow::Result<Answer> {
        let mut curl = Command::new("curl");
        curl.args(["-sk", "-m", "20", "-X", method, "-w", "\n%{http_code}"]);
        if let Some(pair) = &self.cert {
            curl.arg("--cert")
                .arg(&pair.cert)
                .arg("--key")
                .arg(&pair.key);
        }
        if let Some(token) = &self.token {
            curl.args(["-H", &format!("Authorization: Bearer {token}")]);
        }
        if let Some(agent) = self.user_agent {
            curl.args(["-A", agent]);
        }
        for (k, v) in &self.headers {
            curl.args(["-H", &format!("{k}: {v}")]);
        }
        let out = curl
            .arg(format!("https://127.0.0.1:{port}{path}"))
            .output()
            .context("running curl")?;
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
        Ok(Answer {
            code: code.trim().parse().unwrap_or(0),
            body: body.to_owned(),
        })
    }
}

/// The certificates of a scenario: the environment's client CA, a front-proxy CA, an
/// unrelated CA, and the leaves they sign.
pub struct Certificates {
    pub dir: PathBuf,
    pub client_ca: Pki,
    pub front_proxy_ca: Pki,
    pub stranger_ca: Pki,
}

impl Certificates {
    /// E: a client certificate in `system:masters` from the client CA.
    pub fn masters_caller(&self) -> anyhow::Result<Caller> {
        Ok(Caller {
            label: "E client cert in system:masters",
            cert: Some(self.client("alice", "alice", &["system:masters"])?),
            ..Default::default()
        })
    }

    /// F: a `system:masters` certificate from a CA nobody trusts.
    pub fn stranger_caller(&self) -> anyhow::Result<Caller> {
        Ok(Caller {
            label: "F client cert from an unrelated CA",
            cert: Some(
                self.stranger_ca
                    .client(&self.dir, "bob", "bob", &["system:masters"])?,
            ),
            ..Default::default()
        })
    }

    /// A front proxy (CN front-proxy-client) asserting user carol in `group`.
    pub fn proxy_caller(&self, label: &'static str, group: &str) -> anyhow::Result<Caller> {
        Ok(Caller {
            label,
            cert: Some(self.front_proxy_ca.client(
                &self.dir,
                "proxy",
                "front-proxy-client",
                &[],
            )?),
            headers: vec![
                ("X-Remote-User".into(), "carol".into()),
                ("X-Remote-Group".into(), group.into()),
            ],
            ..Default::default()
        })
    }

    pub fn new(env: &TestEnv, label: &str) -> anyhow::Result<Self> {
        let dir = env.processes_dir().join(format!("pki-{label}"));
        Ok(Certificates {
            client_ca: Pki::environment_client_ca(env),
            front_proxy_ca: Pki::new_ca(&dir, "front-proxy-ca", "kcm-test front-proxy CA")?,
            stranger_ca: Pki::new_ca(&dir, "stranger-ca", "kcm-test unrelated CA")?,
            dir,
        })
    }

    pub fn client(&self, file: &str, cn: &str, orgs: &[&str]) -> anyhow::Result<Pair> {
        self.client_ca.client(&self.dir, file, cn, orgs)
    }
}

/// A ServiceAccount with a fresh token (TokenRequest).
pub async fn service_account_token(ns: &TestNamespace, name: &str) -> anyhow::Result<String> {
    let api: Api<ServiceAccount> = ns.api();
    let sa = ServiceAccount {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        ..Default::default()
    };
    api.create(&PostParams::default(), &sa).await?;
    let request = TokenRequest {
        spec: TokenRequestSpec {
            audiences: vec![],
            expiration_seconds: Some(3600),
            bound_object_ref: None,
        },
        ..Default::default()
    };
    let created = api
        .create_token_request(name, &PostParams::default(), &request)
        .await?;
    created
        .status
        .map(|s| s.token)
        .context("the TokenRequest returned no token")
}

/// A ClusterRole with `get` on the non-resource `paths`, bound to `ns/sa`.
pub async fn grant_get(
    env: &TestEnv,
    ns: &TestNamespace,
    sa: &str,
    role: &str,
    paths: &[&str],
) -> anyhow::Result<()> {
    let client = env.admin_client();
    let name = format!("{}-{role}", ns.name());
    let cluster_role = ClusterRole {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        rules: Some(vec![PolicyRule {
            non_resource_urls: Some(paths.iter().map(|p| p.to_string()).collect()),
            verbs: vec!["get".into()],
            ..Default::default()
        }]),
        ..Default::default()
    };
    Api::<ClusterRole>::all(client.clone())
        .create(&PostParams::default(), &cluster_role)
        .await?;
    let binding = ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name,
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: sa.into(),
            namespace: Some(ns.name().into()),
            ..Default::default()
        }]),
    };
    Api::<ClusterRoleBinding>::all(client)
        .create(&PostParams::default(), &binding)
        .await?;
    Ok(())
}

/// kubeadm's serving flags with the test environment's files: its client CA, a front-proxy
/// CA, and `kubeconfig` for both delegations.
pub fn kubeadm_serving_flags(port: u16, kubeconfig: &Path, certs: &Certificates) -> Vec<String> {
    vec![
        format!("--secure-port={port}"),
        "--bind-address=127.0.0.1".into(),
        format!("--authentication-kubeconfig={}", kubeconfig.display()),
        format!("--authorization-kubeconfig={}", kubeconfig.display()),
        format!("--client-ca-file={}", certs.client_ca.ca_cert().display()),
        format!(
            "--requestheader-client-ca-file={}",
            certs.front_proxy_ca.ca_cert().display()
        ),
    ]
}

/// A manager under test with its serving port.
pub enum Manager {
    Ours(KcmRs),
    Upstream(UpstreamKcm),
}

impl Manager {
    pub async fn kcm_rs(env: &TestEnv, flags: &[String]) -> anyhow::Result<Self> {
        let mut args: Vec<&str> = vec!["--controllers=replicaset-controller"];
        args.extend(flags.iter().map(String::as_str));
        Ok(Manager::Ours(KcmRs::start_synced(env, &args).await?))
    }

    pub async fn upstream(env: &TestEnv, flags: &[String]) -> anyhow::Result<Self> {
        let args: Vec<&str> = flags.iter().map(String::as_str).collect();
        Ok(Manager::Upstream(
            UpstreamKcm::start_with_args(env, &["replicaset-controller"], &args).await?,
        ))
    }

    /// kcm-rs or upstream with `flags`, once its port `port` answers `/healthz`.
    pub async fn serving(
        env: &TestEnv,
        upstream: bool,
        flags: &[String],
        port: u16,
    ) -> anyhow::Result<Self> {
        let manager = if upstream {
            Manager::upstream(env, flags).await?
        } else {
            Manager::kcm_rs(env, flags).await?
        };
        wait_serving(port, &manager).await?;
        Ok(manager)
    }

    pub fn label(&self) -> &'static str {
        match self {
            Manager::Ours(_) => "kcm-rs",
            Manager::Upstream(_) => "upstream",
        }
    }

    pub fn process(&self) -> &ManagedProcess {
        match self {
            Manager::Ours(k) => k.process(),
            Manager::Upstream(u) => u.process(),
        }
    }

    pub async fn stop(mut self) -> anyhow::Result<()> {
        let process = match &mut self {
            Manager::Ours(k) => k.process_mut(),
            Manager::Upstream(u) => u.process_mut(),
        };
        process.terminate(Duration::from_secs(10)).await?;
        Ok(())
    }
}

/// Waits until the serving port answers `/healthz`.
pub async fn wait_serving(port: u16, manager: &Manager) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        if Caller::anonymous().call(port, "GET", "/healthz")?.code == 200 {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "{} does not serve /healthz on {port}:\n{}",
            manager.label(),
            manager.process().log_tail(30)
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The apiserver's `apiserver_request_total` summed over lines naming `resource`.
pub async fn apiserver_requests(env: &TestEnv, resource: &str) -> anyhow::Result<f64> {
    let text = env
        .admin_client()
        .request_text(http::Request::get("/metrics").body(Vec::new())?)
        .await?;
    let needle = format!("resource=\"{resource}\"");
    Ok(text
        .lines()
        .filter(|l| l.starts_with("apiserver_request_total{") && l.contains(&needle))
        .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<f64>().ok()))
        .sum())
}

/// Identity used for both delegations in the kubeadm-like configuration (serving-security.md §9).
pub fn delegation_kubeconfig(env: &TestEnv) -> PathBuf {
    env.kubeconfig(Identity::Admin)
}
