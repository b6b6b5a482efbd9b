//! `make demo`: a scripted tour of kcm-rs on the cluster of `make up`.
//!
//! Every step is an API call kubectl would make (apply, scale, set image, rollout undo,
//! annotate, delete), followed by what `kubectl get` would show. Tables carry who created
//! or wrote each object (its field manager), and each step says which process's controller
//! acted: kcm-rs runs the controllers it implements (`kcm-rs --list-implemented-controllers`),
//! the upstream kube-controller-manager the rest, kube-scheduler binds, kcm-virtual-node runs
//! the pods.
//!
//! ```text
//! cargo run -p kcm-tests --example demo -- [CLUSTER_DIR]   (default target/cluster)
//! ```

mod steps;
mod table;
mod views;

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::Context;
use http::{HeaderValue, header::USER_AGENT};
use kube::{
    Client,
    config::{KubeConfigOptions, Kubeconfig},
};

/// Which process runs a controller in the side-by-side setup of `make up`.
pub struct Roles {
    implemented: Vec<String>,
}

impl Roles {
    /// `controller (process)`, e.g. `deployment-controller (kube-controller-manager)`.
    pub fn who(&self, controller: &str) -> String {
        let process = if self.implemented.iter().any(|c| c == controller) {
            "kcm-rs"
        } else {
            "kube-controller-manager"
        };
        format!("{controller} ({process})")
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn implemented_controllers() -> anyhow::Result<Vec<String>> {
    let binary = std::env::var_os("KCM_RS_BINARY")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/release/kcm-rs"));
    let output = Command::new(&binary)
        .arg("--list-implemented-controllers")
        .output()
        .with_context(|| format!("running {} (make up builds it)", binary.display()))?;
    anyhow::ensure!(output.status.success(), "{} failed", binary.display());
    Ok(String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect())
}

async fn client(cluster: &Path) -> anyhow::Result<Client> {
    let path = cluster.join("admin.kubeconfig");
    let file = Kubeconfig::read_from(&path)
        .with_context(|| format!("reading {}: is the cluster up? (make up)", path.display()))?;
    let mut config = kube::Config::from_custom_kubeconfig(file, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading {}", path.display()))?;
    // Objects the tour writes show `demo` as their field manager.
    config
        .headers
        .push((USER_AGENT, HeaderValue::from_static("demo/v0.1.0")));
    Ok(Client::try_from(config)?)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cluster = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("target/cluster"));
    let roles = Roles {
        implemented: implemented_controllers()?,
    };
    let client = client(&cluster).await?;
    println!(
        "kcm-rs runs: {}. The upstream kube-controller-manager runs the rest (its own --controllers and Lease).",
        roles.implemented.join(", ")
    );
    steps::run(&client, &roles, &cluster).await?;
    println!("\nThe tour is over: every step above was done by the controllers named beside it.");
    Ok(())
}
