//! Test support: a real etcd + kube-apiserver per test binary, and the helpers a cluster
//! without kubelets needs.
//!
//! Every integration test starts with
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let Some(env) = testenv::TestEnv::get().await else { return Ok(()) };
//! let ns = env.namespace("my-test").await?;
//! # Ok(()) }
//! ```
//!
//! [`TestEnv::get`] starts one control plane per test binary through `tests/env/testenv.sh`
//! (or reuses the one named by `KCM_TESTENV`), and returns `None` only when the Kubernetes
//! binaries are missing outside CI; with `CI=true` that is a failure.
//!
//! - [`env`]: start or reuse the control plane, clients, identities.
//! - [`bench`]: what the benchmarks in `tests/examples` share (contenders, a fresh control
//!   plane each, CPU and memory from `/proc`, requests from `/metrics`).
//! - [`namespace`]: one fresh namespace per test.
//! - [`nodes`] and [`pods`]: what kubelets and a scheduler would do (Ready nodes, binding,
//!   Running/Ready status, finishing deletions); [`kubelet`] does all of it in the background,
//!   running the pods with `kcm-virtual-node`'s own pod controller.
//! - [`cluster`]: the real kube-scheduler and the `kcm-virtual-node` binary as child processes.
//! - [`workloads`]: ReplicaSets, ReplicationControllers, Deployments and pod templates to create;
//!   [`quota`]: a pod-count ResourceQuota.
//! - [`wait`]: polling with a deadline that reports the last thing it saw.
//! - [`kcm`]: kcm-rs itself as a child process.
//! - [`pki`]: CAs and client or serving certificates (openssl) for serving-port tests.
//! - [`proxy`]: a TCP relay to the apiserver that a test can cut, for one client's outage.
//! - [`process`]: child processes with logs under the environment directory, killed on drop
//!   and by a reaper if the test binary dies; [`upstream`] runs the upstream
//!   kube-controller-manager with it.

pub mod bench;
pub mod cluster;
pub mod env;
pub mod kcm;
pub mod kubelet;
pub mod namespace;
pub mod nodes;
pub mod pki;
pub mod pods;
pub mod process;
pub mod proxy;
pub mod quota;
pub mod upstream;
pub mod wait;
pub mod workloads;

pub use env::TestEnv;
pub use kcm::{KcmRs, kcm_rs_binary};
pub use kubelet::FakeKubelet;
pub use namespace::TestNamespace;
pub use pods::PodFinisher;
pub use process::ManagedProcess;
pub use proxy::CuttableProxy;
pub use upstream::UpstreamKcm;
pub use wait::{Check, WaitTimeout, wait_for_deletion, wait_for_object, wait_until};
