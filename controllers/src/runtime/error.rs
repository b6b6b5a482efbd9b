//! What a sync returns: an [`Action`] when it finished, a [`SyncError`] when it did not.
//!
//! Errors keep their cause (`#[source]`) all the way to the worker, which decides from the
//! variant how to retry and how loudly to log: a conflict is retried quietly, a
//! [`SyncError::Requeue`] comes back after its delay without backoff ("content remains, come back
//! in 8 s"), a [`SyncError::Permanent`] is dropped until the object changes, everything else is
//! retried with the queue's rate limiter and logged at warning level.

use std::time::Duration;

use crate::toolkit::api_error::{ApiFailure, FailureKind};

/// What the worker does with a key after a successful sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Action {
    /// Nothing more until the next event (the key's failure history is forgotten).
    #[default]
    Done,
    /// Sync again after this delay, e.g. when the next pod becomes available
    /// (`queue.AddAfter(key, d)` after a successful sync).
    RequeueAfter(Duration),
}

impl Action {
    pub fn requeue_after(delay: Duration) -> Self {
        Action::RequeueAfter(delay)
    }
}

/// Why a sync could not finish.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// An API call failed; its message is the status message, as upstream's `err.Error()`.
    #[error(transparent)]
    Api(#[from] ApiFailure),
    /// An API call failed while doing `context` ("unable to delete pods: …").
    #[error("{context}: {source}")]
    ApiContext {
        context: String,
        #[source]
        source: ApiFailure,
    },
    /// Worth retrying with backoff, without an API failure behind it (an unmet precondition).
    #[error("{0}")]
    Retry(String),
    /// Not finished, by design: sync again after `after`, without backoff and without
    /// counting as an error (upstream's `ResourcesRemainingError` → `AddAfter`).
    #[error("{reason}; syncing again in {after:?}")]
    Requeue { after: Duration, reason: String },
    /// Retrying cannot help (an invalid object); the key is dropped until it changes.
    #[error("{0}")]
    Permanent(String),
    /// Several failures of one sync, reported together as Go's `utilerrors.Aggregate` prints
    /// them: the only message, or `[first, second, …]`.
    #[error("{}", aggregate_message(.0))]
    Many(Vec<SyncError>),
}

fn aggregate_message(errors: &[SyncError]) -> String {
    match errors {
        [only] => only.to_string(),
        many => format!(
            "[{}]",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

impl From<kube::Error> for SyncError {
    fn from(error: kube::Error) -> Self {
        SyncError::Api(ApiFailure::from(error))
    }
}

impl SyncError {
    /// Wraps an API failure with what was being done.
    pub fn api(context: impl Into<String>, source: ApiFailure) -> Self {
        SyncError::ApiContext {
            context: context.into(),
            source,
        }
    }

    /// `utilerrors.NewAggregate`: `None` for no errors, the error itself for one.
    pub fn aggregate(mut errors: Vec<SyncError>) -> Option<SyncError> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(SyncError::Many(errors)),
        }
    }

    /// The API failure class behind this error, if there is exactly one.
    pub fn failure_kind(&self) -> Option<FailureKind> {
        match self {
            SyncError::Api(failure)
            | SyncError::ApiContext {
                source: failure, ..
            } => Some(failure.kind),
            _ => None,
        }
    }

    /// A conflict (or only conflicts): someone else wrote first; retry quietly.
    pub fn is_conflict(&self) -> bool {
        match self {
            SyncError::Many(errors) => !errors.is_empty() && errors.iter().all(Self::is_conflict),
            other => other.failure_kind() == Some(FailureKind::Conflict),
        }
    }
}

#[cfg(test)]
mod tests;
