//! The process: client, node registration and heartbeats, the pod controller, the watch on
//! our Node objects, progress logs, and shutdown on SIGTERM/SIGINT.
//!
//! Exit codes: 0 after a signal, 1 when the process cannot start (no API server, a node
//! cannot be registered).

use std::{collections::HashMap, sync::Arc, time::Duration};

use anyhow::Context;
use futures::{StreamExt, TryStreamExt, stream};
use http::{HeaderValue, header::USER_AGENT};
use k8s_openapi::api::core::v1::Node;
use kcm_shared::{client::ThrottleLayer, token_bucket::TokenBucket};
use kube::{
    Api, Client,
    client::ClientBuilder,
    config::{KubeConfigOptions, Kubeconfig},
    runtime::{WatchStreamExt, watcher},
};
use tokio_util::sync::CancellationToken;

use crate::{
    node::{self, MANAGED_LABEL},
    node_set::NodeSet,
    options::Settings,
    pod_controller::{PodController, PodControllerConfig},
    provider::Simulated,
};

/// How often progress is logged (only when something changed).
const PROGRESS_EVERY: Duration = Duration::from_secs(10);

/// A client with the process's user agent and its own QPS/burst budget.
pub async fn client(settings: &Settings) -> anyhow::Result<Client> {
    let mut config = match &settings.kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .with_context(|| format!("--kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("--kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no --kubeconfig given, and neither $KUBECONFIG, ~/.kube/config nor an in-cluster configuration works")?,
    };
    let agent = format!(
        "kcm-virtual-node/v{} ({}/{})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    config.headers.retain(|(h, _)| h != USER_AGENT);
    config.headers.push((
        USER_AGENT,
        HeaderValue::from_str(&agent).context("user agent")?,
    ));
    let host = config
        .cluster_url
        .authority()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // A non-positive qps means no limit, as for client-go and kcm-rs's own clients.
    let bucket = (settings.qps > 0.0).then(|| {
        Arc::new(TokenBucket::new(
            f64::from(settings.qps),
            u32::try_from(settings.burst).unwrap_or(1),
        ))
    });
    let builder = ClientBuilder::try_from(config).context("building the API client")?;
    Ok(builder
        .with_layer(&ThrottleLayer::new(bucket, host))
        .build())
}

/// Runs until `shutdown`; returns the exit code.
pub async fn run(settings: Settings, shutdown: CancellationToken) -> u8 {
    match run_inner(settings, shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            tracing::error!("{e:#}");
            1
        }
    }
}

async fn run_inner(settings: Settings, shutdown: CancellationToken) -> anyhow::Result<()> {
    let client = client(&settings).await?;
    let nodes = Arc::new(NodeSet::new(settings.nodes.clone()));
    let registered: Vec<Node> = stream::iter(settings.nodes.iter())
        .map(|info| node::register(&client, info, &settings.template))
        .buffered(16)
        .try_collect()
        .await?;
    tracing::info!(
        nodes = registered.len(),
        first = settings
            .nodes
            .first()
            .map(|n| n.name.as_str())
            .unwrap_or_default(),
        "registered the nodes"
    );

    let mut heartbeats = HashMap::new();
    let mut tasks = Vec::new();
    for (info, node) in settings.nodes.iter().zip(registered) {
        let cancel = shutdown.child_token();
        heartbeats.insert(info.name.clone(), cancel.clone());
        tasks.push(tokio::spawn(node::heartbeat(
            client.clone(),
            info.clone(),
            settings.template.clone(),
            settings.heartbeat,
            node,
            cancel,
        )));
    }

    let pods = PodController::new(
        client.clone(),
        nodes.clone(),
        Simulated {
            backoff: settings.backoff,
        },
        PodControllerConfig {
            namespace: None,
            workers: settings.workers,
            max_grace_period: settings.max_grace_period,
        },
    );
    tasks.push(tokio::spawn(pods.clone().run(shutdown.clone())));
    tasks.push(tokio::spawn(log_progress(pods.clone(), shutdown.clone())));

    watch_nodes(client, &nodes, &pods, &heartbeats, &shutdown).await;
    shutdown.cancel();
    for task in tasks {
        let _ = task.await;
    }
    let stats = pods.stats();
    tracing::info!(
        started = stats.started,
        deleted = stats.deleted,
        tracked = stats.tracked,
        "stopped"
    );
    Ok(())
}

/// Follows our Node objects: one deleted by someone else stops being run (no heartbeats, its
/// pods left alone), as a kubelet whose Node is deleted stops reporting for it.
async fn watch_nodes(
    client: Client,
    nodes: &NodeSet,
    pods: &PodController<Simulated>,
    heartbeats: &HashMap<String, CancellationToken>,
    shutdown: &CancellationToken,
) {
    let api: Api<Node> = Api::all(client);
    let config = watcher::Config::default().labels(&format!("{MANAGED_LABEL}=true"));
    let mut events = watcher(api, config).default_backoff().boxed();
    let mut listed: Option<Vec<String>> = None;
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => return,
            event = events.next() => event,
        };
        let gone: Vec<String> = match event {
            None => return,
            Some(Err(e)) => {
                tracing::warn!("node watch: {e}");
                continue;
            }
            Some(Ok(watcher::Event::Delete(node))) => node.metadata.name.into_iter().collect(),
            Some(Ok(watcher::Event::Init)) => {
                listed = Some(Vec::new());
                continue;
            }
            Some(Ok(watcher::Event::InitApply(node))) => {
                if let (Some(l), Some(name)) = (listed.as_mut(), node.metadata.name) {
                    l.push(name);
                }
                continue;
            }
            Some(Ok(watcher::Event::InitDone)) => {
                let seen = listed.take().unwrap_or_default();
                nodes
                    .names()
                    .into_iter()
                    .filter(|n| !seen.contains(n))
                    .collect()
            }
            Some(Ok(watcher::Event::Apply(_))) => continue,
        };
        for name in gone {
            if nodes.mark_gone(&name) {
                if let Some(cancel) = heartbeats.get(&name) {
                    cancel.cancel();
                }
                pods.forget_node(&name);
                tracing::warn!(
                    node = name,
                    "the Node object was deleted; no longer running it or its pods (restart kcm-virtual-node to register it again)"
                );
            }
        }
    }
}

async fn log_progress(pods: Arc<PodController<Simulated>>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    tick.tick().await;
    let mut last = pods.stats();
    loop {
        tokio::select! {
            () = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        let now = pods.stats();
        if now == last {
            continue;
        }
        let started = now.started - last.started;
        tracing::info!(
            tracked = now.tracked,
            running = now.running,
            started_total = now.started,
            deleted_total = now.deleted,
            "started {started} pods in the last {}s ({:.1}/s)",
            PROGRESS_EVERY.as_secs(),
            started as f64 / PROGRESS_EVERY.as_secs_f64()
        );
        last = now;
    }
}
