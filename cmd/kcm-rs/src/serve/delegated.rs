//! The clients of the delegated calls (TokenReview, SubjectAccessReview, the ConfigMap lookup),
//! as `DelegatingAuthenticationOptions.getClient` builds them: from the flag's kubeconfig, else
//! the in-cluster configuration, else none. Requests time out after 10 s (upstream's webhook
//! timeout).

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

const TIMEOUT: Duration = Duration::from_secs(10);

/// `Ok(None)` when the flag is empty and the process is not in a cluster.
pub async fn client(flag: &str, path: Option<&Path>) -> Result<Option<kube::Client>, String> {
    let mut config = match path {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("{flag} {}: {e}", path.display()))?;
            kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
                .await
                .map_err(|e| format!("{flag} {}: {e}", path.display()))?
        }
        None => match kube::Config::incluster() {
            Ok(config) => {
                tracing::info!("{flag} is empty: using the in-cluster configuration");
                config
            }
            Err(_) => return Ok(None),
        },
    };
    config.connect_timeout = Some(TIMEOUT);
    config.read_timeout = Some(TIMEOUT);
    config.write_timeout = Some(TIMEOUT);
    let client = kube::Client::try_from(config).map_err(|e| match path {
        Some(path) => format!("{flag} {}: {e}", path.display()),
        None => format!("{flag} (in-cluster configuration): {e}"),
    })?;
    Ok(Some(client))
}
