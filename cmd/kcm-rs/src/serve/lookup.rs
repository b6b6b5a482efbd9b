//! The `kube-system/extension-apiserver-authentication` ConfigMap the apiserver publishes: the
//! client CA and the front-proxy settings for whatever the flags left empty
//! (`ConfigMapCAController`, `DynamicRequestHeaderController`).
//!
//! Start-up reads it once: for the request-header part a 404 is fine (no header authentication
//! until it appears), any other error is fatal unless `--authentication-tolerate-lookup-failure`;
//! the client-CA part ignores errors (no x509 until it loads). Then a watch on that one name
//! keeps both current, and a re-read every minute (`FileRefreshDuration`) covers missed events.
//! Empty or bad keys keep the last good content.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio_util::sync::CancellationToken;

use super::trust::{CaBundle, RequestHeader, Source, Trust};

pub const NAMESPACE: &str = "kube-system";
pub const NAME: &str = "extension-apiserver-authentication";
const REFRESH: Duration = Duration::from_secs(60);

/// Reads the ConfigMap once and starts keeping [`Trust`] current from it. Returns an error only
/// when the request-header part must come from it, the read failed with something other than
/// 404, and failures are not tolerated.
pub async fn start(
    client: kube::Client,
    trust: Arc<Trust>,
    tolerate_failure: bool,
    cancel: CancellationToken,
) -> Result<(), String> {
    let api: Api<ConfigMap> = Api::namespaced(client, NAMESPACE);
    match api.get_opt(NAME).await {
        Ok(Some(cm)) => apply(&trust, &cm),
        Ok(None) => tracing::warn!(
            "configmap {NAMESPACE}/{NAME} not found: no client CA or request-header authentication from the cluster until it appears"
        ),
        Err(error) if trust.request_header_source == Source::ConfigMap && !tolerate_failure => {
            return Err(format!(
                "unable to load configmap based request-header-client-ca-file: {error} (read {NAMESPACE}/{NAME} with the --authentication-kubeconfig identity, or set --authentication-tolerate-lookup-failure)"
            ));
        }
        Err(error) => tracing::warn!(
            %error,
            "unable to read configmap {NAMESPACE}/{NAME}; continuing without the authentication configuration it holds"
        ),
    }
    tokio::spawn(async move {
        let config = watcher::Config::default().fields(&format!("metadata.name={NAME}"));
        // Failures back off as client-go's reflector does (kube's default backoff).
        let mut events = watcher::watcher(api.clone(), config)
            .default_backoff()
            .boxed();
        let mut refresh = tokio::time::interval(REFRESH);
        refresh.tick().await;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = refresh.tick() => {
                    if let Ok(Some(cm)) = api.get_opt(NAME).await {
                        apply(&trust, &cm);
                    }
                }
                event = events.next() => match event {
                    Some(Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm))) => apply(&trust, &cm),
                    Some(Ok(_)) => {}
                    Some(Err(error)) => {
                        tracing::debug!(%error, "watching configmap {NAMESPACE}/{NAME}");
                    }
                    None => return,
                },
            }
        }
    });
    Ok(())
}

/// Takes what the flags left to the ConfigMap; bad content keeps the last good bundle.
pub fn apply(trust: &Trust, cm: &ConfigMap) {
    let data = cm.data.clone().unwrap_or_default();
    if trust.client_ca_source == Source::ConfigMap {
        match data.get("client-ca-file").map(String::as_bytes) {
            Some(pem) if !pem.is_empty() => match CaBundle::from_pem(pem) {
                Ok(bundle) => {
                    if trust.set_client_ca(bundle) {
                        tracing::info!("loaded the client CA from configmap {NAMESPACE}/{NAME}");
                    }
                }
                Err(error) => {
                    tracing::error!(%error, "client-ca-file in configmap {NAMESPACE}/{NAME}; keeping the last good bundle")
                }
            },
            _ => tracing::debug!("configmap {NAMESPACE}/{NAME} has no client-ca-file"),
        }
    }
    if trust.request_header_source == Source::ConfigMap {
        let Some(pem) = data
            .get("requestheader-client-ca-file")
            .filter(|p| !p.is_empty())
        else {
            return;
        };
        let list = |key: &str| -> Vec<String> {
            data.get(key)
                .and_then(|v| serde_json::from_str::<Vec<String>>(v).ok())
                .unwrap_or_default()
        };
        match CaBundle::from_pem(pem.as_bytes()) {
            Ok(ca) => {
                let config = RequestHeader {
                    ca,
                    allowed_names: list("requestheader-allowed-names"),
                    username_headers: list("requestheader-username-headers"),
                    uid_headers: list("requestheader-uid-headers"),
                    group_headers: list("requestheader-group-headers"),
                    extra_headers_prefix: list("requestheader-extra-headers-prefix"),
                };
                if trust.set_request_header(config) {
                    tracing::info!(
                        "loaded the request-header configuration from configmap {NAMESPACE}/{NAME}"
                    );
                }
            }
            Err(error) => {
                tracing::error!(%error, "requestheader-client-ca-file in configmap {NAMESPACE}/{NAME}; keeping the last good bundle")
            }
        }
    }
}
