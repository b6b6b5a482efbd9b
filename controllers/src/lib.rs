//! The controllers of kcm-rs, one module per controller, plus what they share: the names and
//! registry the manager uses to pick and build them, the context they are built from, and the
//! worker runtime that drives their queues.

pub mod context;
pub mod names;
pub mod registry;
pub mod replicaset;
pub mod runtime;
