//! The clients of the delegated calls (TokenReview, SubjectAccessReview, the ConfigMap lookup),
//! as `DelegatingAuthenticationOptions.getClient` builds them: from the flag's kubeconfig, else
//! the in-cluster configuration, else none. Review calls time out after 10 s (upstream's webhook
//! timeout); the ConfigMap watch gets a client of its own without a read timeout, so an idle
//! watch does not break the reviews' connection.

use std::path::Path;
use std::time::Duration;

use kube::config::{KubeConfigOptions, Kubeconfig};

const TIMEOUT: Duration = Duration::from_secs(10);

/// The clients of one delegation.
#[derive(Clone)]
pub struct Delegation {
    /// For TokenReview / SubjectAccessReview: 10 s timeouts.
    pub reviews: kube::Client,
    /// For the ConfigMap read and watch: connect timeout only.
    pub watch: kube::Client,
}

/// `Ok(None)` when the flag is empty and the process is not in a cluster.
pub async fn client(flag: &str, path: Option<&Path>) -> Result<Option<Delegation>, String> {
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
    let watch_config = config.clone();
    config.read_timeout = Some(TIMEOUT);
    config.write_timeout = Some(TIMEOUT);
    let build = |config: kube::Config| {
        kube::Client::try_from(config).map_err(|e| match path {
            Some(path) => format!("{flag} {}: {e}", path.display()),
            None => format!("{flag} (in-cluster configuration): {e}"),
        })
    };
    Ok(Some(Delegation {
        reviews: build(config)?,
        watch: build(watch_config)?,
    }))
}
