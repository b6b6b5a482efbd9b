//! The control plane a test binary talks to.
//!
//! Rust's test harness has no global set-up or tear-down, so the environment is a lazily
//! started, process-wide value: the first test to call [`TestEnv::get`] runs
//! `tests/env/testenv.sh up --owner-pid <this process>`, later tests share the result. The
//! script's guard stops etcd and kube-apiserver once this process is gone, however it ends.
//!
//! When `KCM_TESTENV` names the directory of an environment that is already up (say, from
//! `make testenv-up`), it is reused and never stopped by the tests.
//!
//! Clients are built per call: each `#[tokio::test]` runs its own runtime, and a client whose
//! connection pool lives in a finished runtime fails in the next test.

use std::{
    collections::HashMap,
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    sync::Once,
};

use anyhow::Context;
use kube::{
    Client, Config,
    config::{KubeConfigOptions, Kubeconfig},
};
use tokio::sync::{Mutex, MutexGuard, OnceCell};

use crate::{namespace::TestNamespace, process::ManagedProcess};

/// `tests/env/testenv.sh`: starts and stops environments.
pub const TESTENV_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/env/testenv.sh");
/// `tests/env/build.sh`: builds (or finds cached) Kubernetes binaries.
pub const BUILD_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/env/build.sh");

/// The identities `testenv.sh` provisions in its token file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Identity {
    /// `admin` in `system:masters`: allowed everything.
    Admin,
    /// `restricted-user`: no rights beyond discovery, for RBAC tests.
    Restricted,
    /// `system:kube-controller-manager`, bound to the bootstrap role of that name.
    KubeControllerManager,
    /// `rust-controller-manager`: no rights until a test applies the project's RBAC.
    KcmRs,
}

impl Identity {
    /// All identities, in a fixed order.
    pub const ALL: [Identity; 4] = [
        Identity::Admin,
        Identity::Restricted,
        Identity::KubeControllerManager,
        Identity::KcmRs,
    ];

    /// The user name the apiserver authenticates this identity as.
    pub fn user(self) -> &'static str {
        match self {
            Identity::Admin => "admin",
            Identity::Restricted => "restricted-user",
            Identity::KubeControllerManager => "system:kube-controller-manager",
            Identity::KcmRs => "rust-controller-manager",
        }
    }

    fn kubeconfig_file(self) -> &'static str {
        match self {
            Identity::Admin => "admin.kubeconfig",
            Identity::Restricted => "restricted.kubeconfig",
            Identity::KubeControllerManager => "kcm.kubeconfig",
            Identity::KcmRs => "kcm-rs.kubeconfig",
        }
    }
}

/// Who stops the control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ownership {
    /// Started by this test binary; stopped when the binary exits.
    Owned,
    /// Named by `KCM_TESTENV`; left running.
    Reused,
}

/// Why there is no environment.
#[derive(Debug)]
enum Unavailable {
    /// The Kubernetes binaries are not built. Outside CI the tests skip.
    BinariesMissing(String),
    /// Anything else: always a test failure.
    Failed(String),
}

/// A running etcd + kube-apiserver and the identities to talk to it.
#[derive(Debug)]
pub struct TestEnv {
    dir: PathBuf,
    ownership: Ownership,
    apiserver_url: String,
    admin_token: String,
    ca_file: PathBuf,
    bin_dir: PathBuf,
    configs: HashMap<Identity, Config>,
    processes_dir: PathBuf,
}

static ENV: OnceCell<Result<TestEnv, Unavailable>> = OnceCell::const_new();
static SECOND: OnceCell<Result<TestEnv, Unavailable>> = OnceCell::const_new();
static CONTROLLERS: Mutex<()> = Mutex::const_new(());

impl TestEnv {
    /// The environment of this test binary, started on first use.
    ///
    /// Returns `None` (after a message on stderr) only when the Kubernetes binaries are not
    /// built and `CI` is not `true`; the test should then return early.
    ///
    /// # Panics
    /// When the environment cannot start for any other reason, or at all under `CI=true`;
    /// the message carries the tail of each process log.
    pub async fn get() -> Option<&'static TestEnv> {
        Self::available(ENV.get_or_init(start_or_reuse).await)
    }

    /// A second environment of this test binary with its own etcd + kube-apiserver, started on
    /// first use (also when `KCM_TESTENV` names one for [`get`](Self::get)), for tests that
    /// run kcm-rs and upstream side by side on cluster-wide state (the pod GC counts every pod
    /// of the cluster). `None` and panics as for [`get`](Self::get).
    pub async fn second() -> Option<&'static TestEnv> {
        Self::available(SECOND.get_or_init(|| start_owned("second")).await)
    }

    fn available(env: &'static Result<TestEnv, Unavailable>) -> Option<&'static TestEnv> {
        match env {
            Ok(env) => Some(env),
            Err(Unavailable::BinariesMissing(why)) if !running_in_ci() => {
                announce_skip(why);
                None
            }
            Err(Unavailable::BinariesMissing(why)) => {
                panic!("CI=true, so a missing test environment is a failure: {why}")
            }
            Err(Unavailable::Failed(why)) => panic!("the test environment is unavailable: {why}"),
        }
    }

    /// The directory `testenv.sh up` wrote (kubeconfigs, `env`, `pki/`, `logs/`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this process started the environment or reuses one.
    pub fn ownership(&self) -> Ownership {
        self.ownership
    }

    /// Where etcd, kube-apiserver, kube-controller-manager and kube-scheduler live.
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// `https://127.0.0.1:<port>`.
    pub fn apiserver_url(&self) -> &str {
        &self.apiserver_url
    }

    /// Bearer token of the admin identity.
    pub fn admin_token(&self) -> &str {
        &self.admin_token
    }

    /// The CA that signed the apiserver's serving certificate.
    pub fn ca_file(&self) -> &Path {
        &self.ca_file
    }

    /// The kubeconfig file of an identity.
    pub fn kubeconfig(&self, who: Identity) -> PathBuf {
        self.dir.join(who.kubeconfig_file())
    }

    /// The client configuration of an identity, e.g. to tune timeouts.
    pub fn config(&self, who: Identity) -> Config {
        // Every identity is loaded before the environment is handed out.
        self.configs[&who].clone()
    }

    /// A new client for an identity, bound to the current runtime.
    pub fn client(&self, who: Identity) -> anyhow::Result<Client> {
        Client::try_from(self.config(who)).with_context(|| format!("client for {}", who.user()))
    }

    /// A new admin client bound to the current runtime.
    ///
    /// # Panics
    /// Never in practice: the same configuration built a client when the environment started.
    pub fn admin_client(&self) -> Client {
        self.client(Identity::Admin)
            .unwrap_or_else(|e| panic!("admin client: {e:#}"))
    }

    /// A fresh namespace named `<prefix>-<random>`. Namespaces are not deleted afterwards:
    /// without a namespace controller they would only hang in `Terminating`.
    pub async fn namespace(&self, prefix: &str) -> anyhow::Result<TestNamespace> {
        TestNamespace::create(self.admin_client(), prefix).await
    }

    /// Serialises tests that run controllers. A controller watches every namespace, so one
    /// test's controller would act on another test's objects; hold this guard for as long as
    /// a controller (upstream or ours) runs.
    pub async fn controller_lock(&self) -> MutexGuard<'static, ()> {
        CONTROLLERS.lock().await
    }

    /// Restarts kube-apiserver on the same port (`testenv.sh restart-apiserver`): watches
    /// break and resume against an empty watch cache. Hold [`TestEnv::controller_lock`] while
    /// doing this, since every test of the binary shares the apiserver.
    pub async fn restart_apiserver(&self) -> anyhow::Result<()> {
        let dir = self.dir.clone();
        let output = tokio::task::spawn_blocking(move || {
            Command::new("bash")
                .arg(TESTENV_SCRIPT)
                .arg("restart-apiserver")
                .arg(&dir)
                .output()
        })
        .await??;
        anyhow::ensure!(
            output.status.success(),
            "testenv.sh restart-apiserver failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        Ok(())
    }

    /// Compacts etcd up to its current revision (physically), so a watch resuming from any
    /// older resourceVersion gets 410 Gone. Returns the revision compacted to.
    pub async fn compact_etcd(&self) -> anyhow::Result<u64> {
        let env_file = std::fs::read_to_string(self.dir.join("env"))?;
        let etcd = env_file
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ETCD_URL="))
            .ok_or_else(|| anyhow::anyhow!("no ETCD_URL in {}/env", self.dir.display()))?
            .to_string();
        let post = |path: &str, body: String| {
            let out = Command::new("curl")
                .args(["-sf", "-X", "POST", &format!("{etcd}{path}"), "-d", &body])
                .output()?;
            anyhow::ensure!(
                out.status.success(),
                "etcd {path}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Ok(serde_json::from_slice::<serde_json::Value>(&out.stdout)?)
        };
        // Any key will do: the response header carries the store's current revision.
        let range = post("/v3/kv/range", r#"{"key":"Lw==","limit":1}"#.to_string())?;
        let revision: u64 = range["header"]["revision"]
            .as_str()
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| anyhow::anyhow!("no revision in {range}"))?;
        post(
            "/v3/kv/compaction",
            format!(r#"{{"revision":"{revision}","physical":true}}"#),
        )?;
        Ok(revision)
    }

    /// Where logs and pid files of [`ManagedProcess`]es go.
    pub fn processes_dir(&self) -> &Path {
        &self.processes_dir
    }

    /// Starts `command` with its output in [`processes_dir`](Self::processes_dir)`/<name>-N.log`.
    /// It is killed when the returned value is dropped, or by the reaper if this process dies.
    pub fn spawn(&self, name: &str, command: Command) -> anyhow::Result<ManagedProcess> {
        ManagedProcess::spawn_in(&self.processes_dir, name, command)
    }
}

fn running_in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// Says once per binary, straight to stderr so the harness's output capture cannot hide it,
/// that integration tests are skipped; each skipped test also says so in its captured output.
fn announce_skip(why: &str) {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPING integration tests: {why}\n*** Build the binaries with `make test` \
             or tests/env/build.sh, or set K8S_BIN_DIR. With CI=true this is a failure.\n"
        );
    });
    tracing::warn!("skipping: {why}");
}

async fn start_or_reuse() -> Result<TestEnv, Unavailable> {
    let (dir, ownership) = match std::env::var_os("KCM_TESTENV").filter(|v| !v.is_empty()) {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            let checked = dir.clone();
            blocking(move || check_running(&checked)).await?;
            (dir, Ownership::Reused)
        }
        None => (started_dir("").await?, Ownership::Owned),
    };
    loaded(dir, ownership).await
}

/// A fresh environment in its own run directory, whatever `KCM_TESTENV` says.
async fn start_owned(label: &'static str) -> Result<TestEnv, Unavailable> {
    let dir = started_dir(label).await?;
    loaded(dir, Ownership::Owned).await
}

async fn started_dir(label: &'static str) -> Result<PathBuf, Unavailable> {
    let bin_dir = blocking(locate_binaries).await?;
    let dir = blocking(move || run_dir(label)).await?;
    let started = dir.clone();
    blocking(move || start(&started, &bin_dir)).await?;
    Ok(dir)
}

async fn loaded(dir: PathBuf, ownership: Ownership) -> Result<TestEnv, Unavailable> {
    let env = load(dir, ownership)
        .await
        .map_err(|e| Unavailable::Failed(format!("{e:#}")))?;
    let processes_dir = env.processes_dir.clone();
    blocking(move || start_reaper(&processes_dir)).await?;
    tracing::info!(dir = %env.dir.display(), url = env.apiserver_url, ?ownership, "test environment ready");
    Ok(env)
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, Unavailable> + Send + 'static,
) -> Result<T, Unavailable> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Unavailable::Failed(format!("set-up task failed: {e}"))))
}

/// `K8S_BIN_DIR`, else the directory of a finished cached build.
fn locate_binaries() -> Result<PathBuf, Unavailable> {
    let bin_dir = match std::env::var_os("K8S_BIN_DIR").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let output = Command::new("bash")
                .args([BUILD_SCRIPT, "--cached-only"])
                .output()
                .map_err(|e| Unavailable::Failed(format!("running {BUILD_SCRIPT}: {e}")))?;
            if !output.status.success() {
                return Err(Unavailable::BinariesMissing(format!(
                    "K8S_BIN_DIR is not set and there is no cached build ({})",
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            let stdout = String::from_utf8_lossy(&output.stdout);
            PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
        }
    };
    for binary in ["etcd", "kube-apiserver"] {
        if !bin_dir.join(binary).is_file() {
            return Err(Unavailable::BinariesMissing(format!(
                "{} does not exist",
                bin_dir.join(binary).display()
            )));
        }
    }
    Ok(bin_dir)
}

/// `<target>/<profile>/testenv-runs/<test binary>[-<label>]-<pid>`, next to the test binary,
/// after removing the directories of earlier runs whose process is gone.
fn run_dir(label: &str) -> Result<PathBuf, Unavailable> {
    let exe =
        std::env::current_exe().map_err(|e| Unavailable::Failed(format!("current_exe: {e}")))?;
    let stem = exe
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("tests")
        .to_owned();
    let parent = exe
        .parent()
        .map(|deps| deps.parent().unwrap_or(deps).to_owned())
        .unwrap_or_else(std::env::temp_dir);
    let runs = parent.join("testenv-runs");
    prune_finished_runs(&runs);
    let label = if label.is_empty() {
        String::new()
    } else {
        format!("-{label}")
    };
    let dir = runs.join(format!("{stem}{label}-{}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| Unavailable::Failed(format!("creating {}: {e}", dir.display())))?;
    Ok(dir)
}

fn prune_finished_runs(runs: &Path) {
    let Ok(entries) = std::fs::read_dir(runs) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.rsplit_once('-'))
            .map(|(_, pid)| pid)
        else {
            continue;
        };
        if pid.parse::<u32>().is_err() || Path::new("/proc").join(pid).exists() {
            continue;
        }
        // The guard normally stopped it already; `down` is a no-op then.
        let _ = Command::new("bash")
            .arg(TESTENV_SCRIPT)
            .arg("down")
            .arg(entry.path())
            .output();
        let _ = std::fs::remove_dir_all(entry.path());
    }
}

fn start(dir: &Path, bin_dir: &Path) -> Result<(), Unavailable> {
    let output = Command::new("bash")
        .arg(TESTENV_SCRIPT)
        .args(["up", "--owner-pid", &std::process::id().to_string()])
        .arg(dir)
        .env("K8S_BIN_DIR", bin_dir)
        .output()
        .map_err(|e| Unavailable::Failed(format!("running {TESTENV_SCRIPT}: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(Unavailable::Failed(format!(
            "`testenv.sh up {}` failed ({}):\n{stderr}",
            dir.display(),
            output.status
        )));
    }
    tracing::info!("{}", stderr.trim());
    Ok(())
}

fn check_running(dir: &Path) -> Result<(), Unavailable> {
    let output = Command::new("bash")
        .arg(TESTENV_SCRIPT)
        .arg("status")
        .arg(dir)
        .output()
        .map_err(|e| Unavailable::Failed(format!("running {TESTENV_SCRIPT}: {e}")))?;
    if output.status.success() {
        return Ok(());
    }
    Err(Unavailable::Failed(format!(
        "KCM_TESTENV={} is not a running, ready environment:\n{}{}",
        dir.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )))
}

/// Starts the guard that kills this process's children if it dies without dropping them.
fn start_reaper(processes_dir: &Path) -> Result<(), Unavailable> {
    let output = Command::new("bash")
        .arg(TESTENV_SCRIPT)
        .args(["reap", "--owner-pid", &std::process::id().to_string()])
        .arg(processes_dir)
        .output()
        .map_err(|e| Unavailable::Failed(format!("running {TESTENV_SCRIPT}: {e}")))?;
    if !output.status.success() {
        return Err(Unavailable::Failed(format!(
            "`testenv.sh reap` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    Ok(())
}

async fn load(dir: PathBuf, ownership: Ownership) -> anyhow::Result<TestEnv> {
    let env_file = dir.join("env");
    let text = tokio::fs::read_to_string(&env_file)
        .await
        .with_context(|| format!("reading {}", env_file.display()))?;
    let mut vars = parse_env_file(&text);
    let mut take = |key: &str| {
        vars.remove(key)
            .with_context(|| format!("{} has no {key}", env_file.display()))
    };
    let apiserver_url = take("APISERVER_URL")?;
    let admin_token = take("ADMIN_TOKEN")?;
    let ca_file = PathBuf::from(take("CA_FILE")?);
    let bin_dir = PathBuf::from(take("K8S_BIN_DIR")?);

    let mut configs = HashMap::new();
    for who in Identity::ALL {
        let path = dir.join(who.kubeconfig_file());
        let config = config_from_kubeconfig(&path).await?;
        // Fail now, not in the middle of some test, if the configuration is unusable.
        Client::try_from(config.clone())
            .with_context(|| format!("client from {}", path.display()))?;
        configs.insert(who, config);
    }
    let all_processes = dir.join("processes");
    prune_dead_owners(&all_processes);
    let processes_dir = all_processes.join(std::process::id().to_string());
    tokio::fs::create_dir_all(&processes_dir)
        .await
        .with_context(|| format!("creating {}", processes_dir.display()))?;
    Ok(TestEnv {
        dir,
        ownership,
        apiserver_url,
        admin_token,
        ca_file,
        bin_dir,
        configs,
        processes_dir,
    })
}

/// Removes `processes/<pid>` directories of test binaries that have exited (their reaper
/// already stopped what they left), so a long-lived `KCM_TESTENV` does not collect them.
fn prune_dead_owners(processes: &Path) {
    let Ok(entries) = std::fs::read_dir(processes) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().filter(|n| n.parse::<u32>().is_ok()) else {
            continue;
        };
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// Reads a kubeconfig file into a client configuration.
pub async fn config_from_kubeconfig(path: &Path) -> anyhow::Result<Config> {
    let kubeconfig =
        Kubeconfig::read_from(path).with_context(|| format!("reading {}", path.display()))?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading {}", path.display()))
}

/// Parses the `export K=V …` lines `testenv.sh` writes. Values are `printf %q`-quoted, which
/// for the paths, URLs and hex tokens written there means at most backslash escapes.
fn parse_env_file(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let Some(assignments) = line.trim().strip_prefix("export ") else {
            continue;
        };
        for word in split_shell_words(assignments) {
            if let Some((key, value)) = word.split_once('=') {
                vars.insert(key.to_owned(), value.to_owned());
            }
        }
    }
    vars
}

/// Splits on unescaped whitespace and drops the escaping backslashes.
fn split_shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => current.extend(chars.next()),
            c if c.is_whitespace() => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

#[cfg(test)]
mod tests;
