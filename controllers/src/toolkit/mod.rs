//! What more than one controller needs, written once (upstream `pkg/controller/controller_utils.go`
//! and `controller_ref_manager.go`):
//!
//! * [`selector`]: label selectors converted for matching, with upstream's nil/empty rules;
//! * [`claim`]: adopt matching orphans, release what stopped matching, for any owned kind;
//! * [`owner`]: controller-reference resolution and owner/candidate lookups through indexes;
//! * [`api_error`]: the classes of API failure controllers treat differently;
//! * [`clock`]: the injectable wall clock;
//! * [`consistency`]: read-your-own-writes before a sync (`StaleControllerConsistency*` gates).
//!
//! The run loops, typed sync errors and requeue outcomes are in [`crate::runtime`].

pub mod api_error;
pub mod claim;
pub mod clock;
pub mod consistency;
pub mod owner;
pub mod selector;

pub use api_error::{ApiFailure, FailureKind};
pub use clock::Clock;
pub use selector::{InvalidSelector, ObjectSelector};
