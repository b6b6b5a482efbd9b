//! Shared machinery for kcm-rs.
//!
//! Everything a controller stands on but should not have to write itself: the shared informer
//! factory with its indexed caches, the client-go-style work queue with its rate limiters,
//! expectations, the Lease leader elector, the API client with its QPS/burst limit and user
//! agent, the non-blocking event recorder, Prometheus metrics and small Kubernetes helpers.
//!
//! kube-rs supplies transport, list/watch with relist and backoff, discovery and selectors; the
//! modules here add the client-go semantics that kube-rs lacks (see the README's design notes).

pub mod cached_pod;
pub mod client;
pub mod events;
pub mod expectations;
pub mod features;
pub mod health;
pub mod informer;
pub mod intern;
pub mod jitter;
pub mod k8s;
pub mod leader_election;
pub mod meta;
pub mod metrics;
pub mod panics;
pub mod token_bucket;
pub mod workqueue;
