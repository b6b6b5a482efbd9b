//! The Deployment controller (with the ReplicaSet controller under it) against a real
//! apiserver: every scenario of issue 11 / reference §6 runs with kcm-rs and then with the
//! upstream kube-controller-manager (`--controllers=deployment-controller,replicaset-controller`),
//! each in a fresh namespace, and both runs must leave the same [`support::View`]: ReplicaSets,
//! replica counts, annotations, conditions and events, with only the `pod-template-hash` value
//! normalised. The tests play kubelet ([`testenv::FakeKubelet`]) where pods must become Ready.
//!
//! `KCM_DEPLOY_MANAGERS=upstream` (or `kcm-rs`) runs one side only, for debugging.

mod basics;
mod history;
mod observer;
mod ownership;
mod progress;
mod recreate;
mod rolling;
mod support;
mod view;
