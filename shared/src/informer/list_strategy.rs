//! How an informer fills its cache: a *streaming list* first, a paged LIST when the apiserver
//! refuses one.
//!
//! client-go's reflector (v1.37, `WatchListClient` on by default) opens its first watch with
//! `sendInitialEvents=true`: the apiserver streams every object as an ADDED event from its watch
//! cache, then a bookmark annotated `k8s.io/initial-events-end`, and the same connection goes on
//! as the watch. That is one request per informer instead of a LIST per 500 objects plus a
//! WATCH, and neither side holds a whole list in memory. kube's `watcher` can do the same
//! ([`watcher::Config::streaming_lists`]) but never falls back when the server refuses, so this
//! stream does what client-go's `ListAndWatchWithContext` does: when the streaming watch fails
//! with an answer that retrying cannot change (a 4xx other than 410 Gone and 429, as
//! `isWatchErrorRetriable` classes them: e.g. 422 from an apiserver whose `WatchList` gate is
//! off, or 400 from an old one), it lists in pages instead.
//!
//! One difference: client-go tries the streaming list again on its next `ListAndWatch`, while
//! kube's watcher relists internally, so once refused an informer stays on paged lists until the
//! process restarts. A server that refused once refuses again until it is reconfigured.

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;
use kube::runtime::watcher::{self, Event};

use super::shared_informer::WatchStream;

/// How the informer's watcher gets its initial list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListStrategy {
    /// A WATCH with `sendInitialEvents=true` (client-go's watch-list).
    Streaming,
    /// A LIST in pages of 500, then a WATCH from the list's resourceVersion.
    Paged,
}

impl ListStrategy {
    /// The watcher configuration for this strategy (everything else at kube's defaults).
    pub fn config(self) -> watcher::Config {
        match self {
            Self::Streaming => watcher::Config::default().streaming_lists(),
            Self::Paged => watcher::Config::default(),
        }
    }
}

/// Whether `err` means the apiserver will not serve a streaming list, so retrying the same
/// request is pointless. Mirrors client-go's `isWatchErrorRetriable` (and the expired /
/// too-large resourceVersion cases the reflector handles by relisting): transport failures,
/// 410, 429 and 5xx are worth retrying; any other answer is a refusal.
pub fn refuses_streaming(err: &watcher::Error) -> bool {
    let code = match err {
        watcher::Error::WatchStartFailed(kube::Error::Api(status))
        | watcher::Error::WatchFailed(kube::Error::Api(status)) => status.code,
        watcher::Error::WatchError(status) => status.code,
        _ => return false,
    };
    (400..500).contains(&code) && code != 410 && code != 429
}

/// A watch stream that starts [`ListStrategy::Streaming`] and switches to
/// [`ListStrategy::Paged`] for good the first time the server refuses the streaming list.
/// The refusal itself is logged, not yielded: nothing failed that a retry would change, and
/// the paged watcher starts at once (with its own `Init`, which restarts the informer's list).
pub struct FallbackToPaged<K> {
    open: Box<dyn Fn(ListStrategy) -> WatchStream<K> + Send + Sync>,
    strategy: ListStrategy,
    inner: WatchStream<K>,
    kind: String,
}

impl<K> FallbackToPaged<K> {
    /// `open(strategy)` builds the watcher for a strategy; it is called once for
    /// [`ListStrategy::Streaming`] now and at most once more for [`ListStrategy::Paged`].
    pub fn new(
        kind: impl Into<String>,
        open: impl Fn(ListStrategy) -> WatchStream<K> + Send + Sync + 'static,
    ) -> Self {
        let inner = open(ListStrategy::Streaming);
        Self {
            open: Box::new(open),
            strategy: ListStrategy::Streaming,
            inner,
            kind: kind.into(),
        }
    }

    /// The strategy the stream currently uses.
    pub fn strategy(&self) -> ListStrategy {
        self.strategy
    }
}

impl<K> Stream for FallbackToPaged<K> {
    type Item = Result<Event<K>, watcher::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // Every field is Unpin (boxed stream, boxed closure), so the stream is too.
        let this = self.get_mut();
        loop {
            let item = std::task::ready!(this.inner.as_mut().poll_next(cx));
            match item {
                Some(Err(err))
                    if this.strategy == ListStrategy::Streaming && refuses_streaming(&err) =>
                {
                    let request = super::shared_informer::failed_request(&err);
                    tracing::info!(
                        kind = %this.kind, code = request.code, reason = %request.reason,
                        error = %request.message,
                        "apiserver refused a streaming list; listing in pages from now on"
                    );
                    this.strategy = ListStrategy::Paged;
                    this.inner = (this.open)(ListStrategy::Paged);
                }
                other => return Poll::Ready(other),
            }
        }
    }
}

#[cfg(test)]
mod tests;
