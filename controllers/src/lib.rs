//! The controllers of kcm-rs, one module per controller, plus what they share: the names and
//! registry the manager uses to pick and build them, the context they are built from, the
//! runtime that drives their queues and timers, and the toolkit of ownership, selector, API
//! error and clock helpers every controller uses.

pub mod context;
pub mod deployment;
pub mod endpoints;
pub mod names;
pub mod namespace;
pub mod podgc;
pub mod registry;
pub mod replicaset;
pub mod runtime;
pub mod toolkit;
