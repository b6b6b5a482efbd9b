//! The process lifecycle: clients, serving port, signals, and when the controllers run.
//!
//! Exit codes: 0 after a clean shutdown on SIGTERM/SIGINT, 1 when leadership is lost (as
//! upstream, so the kubelet restarts us as a fresh candidate) or the process cannot start, 2 for
//! bad flags or configuration (from [`crate::options`]). A second signal exits at once.

use std::sync::Arc;

use kcm_shared::{
    client::{ClientFactory, RateLimits},
    health::HealthChecks,
    panics,
};
use kube::config::{KubeConfigOptions, Kubeconfig};
use tokio_util::sync::CancellationToken;

use crate::{
    election,
    manager::{self, ControllerSetup, Stopped},
    options::Loaded,
    serve::{self, ServingOptions},
};

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Where `--use-service-account-credentials` finds (or creates) the controllers' accounts; the
/// bootstrap RBAC binds `system:controller:<name>` to accounts in this namespace.
const CONTROLLER_ACCOUNTS_NAMESPACE: &str = "kube-system";

/// Runs the process to completion and returns its exit code.
pub async fn run(loaded: Loaded) -> u8 {
    let config = Arc::new(loaded.config);
    tracing::info!(
        version = VERSION,
        commit = crate::version::GIT_COMMIT,
        built = crate::version::BUILD_DATE,
        "starting kcm-rs"
    );

    let kube_config =
        match kube_config(&config.process.kubeconfig, config.process.master.as_deref()).await {
            Ok(c) => c,
            Err(message) => {
                tracing::error!("{message}");
                return 1;
            }
        };
    let limits = RateLimits {
        qps: config.component.generic.client_connection.qps,
        burst: config.component.generic.client_connection.burst,
    };
    let mut clients = ClientFactory::new(kube_config, limits, VERSION)
        .with_kubeconfig_path(config.process.kubeconfig.as_deref());
    tracing::info!(target = %clients.target(), "API server");
    if config
        .component
        .kube_cloud_shared
        .use_service_account_credentials
    {
        clients = match clients.with_service_account_credentials(CONTROLLER_ACCOUNTS_NAMESPACE) {
            Ok(clients) => clients,
            Err(error) => {
                tracing::error!("{error}");
                return 1;
            }
        };
    }
    let checks = HealthChecks::new();
    let shutdown = CancellationToken::new();
    // A panic outside a sync (an informer loop, a client's request worker, the event sink)
    // shuts the process down and makes it exit 1 (see kcm_shared::panics).
    let fatal = panics::install(&checks);
    let on_fatal = {
        let (fatal, shutdown, checks) = (fatal.clone(), shutdown.clone(), checks.clone());
        tokio::spawn(async move {
            fatal.happened().await;
            tracing::error!(
                what = fatal.what().unwrap_or_default(),
                healthz = %checks.healthz(&[]).render(true, "healthz"),
                "a long-lived task panicked; shutting down (exit code 1)"
            );
            shutdown.cancel();
        })
    };
    let serving = CancellationToken::new();

    if config.process.secure_port != 0 {
        let options = ServingOptions {
            bind_address: config.process.bind_address,
            port: config.process.secure_port,
            cert_file: config.process.tls_cert_file.clone(),
            key_file: config.process.tls_private_key_file.clone(),
            serving: config.process.serving.clone(),
        };
        // /configz shows where the port really is (issue 19 item 8), not upstream's fixed
        // 0.0.0.0:0.
        let configz = |bound: std::net::SocketAddr| {
            let mut shown = (*config).clone();
            shown.component.generic.serving = Some(bound);
            serde_json::to_string(&shown.configz()).unwrap_or_else(|_| "{}".into())
        };
        if let Err(error) = serve::start(&options, checks.clone(), configz, serving.clone()).await {
            tracing::error!("{error}");
            return 1;
        }
    }

    let host = hostname::get()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".into());
    let (recorder, sink) = match manager::event_pipeline(&clients, &host) {
        Ok(pipeline) => pipeline,
        Err(error) => {
            tracing::error!("{error}");
            return 1;
        }
    };
    let sink_stop = CancellationToken::new();
    let sink_task = tokio::spawn(sink.run(sink_stop.clone()));
    watch_signals(shutdown.clone());

    let setup = ControllerSetup {
        config: config.clone(),
        enabled: loaded.controllers.enabled.clone(),
        clients: clients.clone(),
        checks: checks.clone(),
        host: host.as_str().into(),
        label: None,
        informers: None,
        feature_gates: Arc::new(config.feature_gates.clone()),
    };
    let leader_election = &config.component.generic.leader_election;
    let code = if !leader_election.leader_elect {
        exit_code(manager::run_controllers(setup, shutdown.clone()).await)
    } else {
        match election::run_elected(&config, &clients, &checks, &recorder, setup, &shutdown).await {
            Ok(code) => code,
            Err(message) => {
                tracing::error!("{message}");
                1
            }
        }
    };
    sink_stop.cancel();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), sink_task).await;
    serving.cancel();
    on_fatal.abort();
    let code = if fatal.what().is_some() {
        code.max(1)
    } else {
        code
    };
    tracing::info!(code, "exiting");
    code
}

/// The exit code for how a run of the controllers ended.
pub fn exit_code(result: Result<Stopped, manager::RunError>) -> u8 {
    match result {
        Ok(Stopped::Drained | Stopped::TimedOut) => 0,
        Err(error) => {
            tracing::error!("{error}");
            1
        }
    }
}

/// `clientcmd.BuildConfigFromFlags(--master, --kubeconfig)`; in-cluster when neither is given.
async fn kube_config(
    kubeconfig: &Option<std::path::PathBuf>,
    master: Option<&str>,
) -> Result<kube::Config, String> {
    let mut config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("--kubeconfig {}: {e}", path.display()))?;
            let ca_source = certificate_authority_source(&file);
            let config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("--kubeconfig {}: {e}", path.display()))?;
            // kube takes a CA file without a single PEM certificate as "no extra roots", and
            // every request then fails with "unknown authority": say what is really wrong.
            if config.root_cert.as_ref().is_some_and(Vec::is_empty) {
                return Err(format!(
                    "--kubeconfig {}: {} holds no PEM certificate",
                    path.display(),
                    ca_source.unwrap_or_else(|| "the cluster's certificate-authority".into())
                ));
            }
            config
        }
        None if master.is_some() => kube::Config::new(
            master
                .unwrap_or_default()
                .parse()
                .map_err(|e| format!("--master: {e}"))?,
        ),
        None => kube::Config::infer()
            .await
            .map_err(|e| format!("no --kubeconfig given and no in-cluster configuration: {e}"))?,
    };
    if let Some(master) = master {
        config.cluster_url = master
            .parse()
            .map_err(|e| format!("--master {master:?}: {e}"))?;
    }
    Ok(config)
}

/// Where the current context's cluster takes its CA from, for error messages.
fn certificate_authority_source(file: &Kubeconfig) -> Option<String> {
    let context_name = file.current_context.as_deref()?;
    let context = file.contexts.iter().find(|c| c.name == context_name)?;
    let cluster_name = &context.context.as_ref()?.cluster;
    let cluster = file.clusters.iter().find(|c| &c.name == cluster_name)?;
    let cluster = cluster.cluster.as_ref()?;
    match (
        &cluster.certificate_authority,
        &cluster.certificate_authority_data,
    ) {
        (Some(path), _) => Some(format!("certificate-authority {path}")),
        (None, Some(_)) => Some("certificate-authority-data".into()),
        (None, None) => None,
    }
}

/// First SIGTERM/SIGINT starts a graceful shutdown; a second one exits at once.
fn watch_signals(shutdown: CancellationToken) {
    tokio::spawn(async move {
        let mut received = 0;
        loop {
            wait_for_signal().await;
            received += 1;
            if received == 1 {
                tracing::info!(
                    "received termination signal; shutting down (send again to exit at once)"
                );
                shutdown.cancel();
            } else {
                tracing::warn!("second termination signal; exiting now");
                std::process::exit(1);
            }
        }
    });
}

#[cfg(unix)]
async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

#[cfg(not(unix))]
async fn wait_for_signal() {
    if tokio::signal::ctrl_c().await.is_err() {
        std::future::pending::<()>().await;
    }
}
