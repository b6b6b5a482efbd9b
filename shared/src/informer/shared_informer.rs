//! One shared informer: a watch of one resource type feeding an indexed cache and fanning the
//! changes out to any number of handlers (client-go `sharedIndexInformer`).
//!
//! Data flow: watch stream → [`Informer::process_event`] (strip managedFields, update the cache
//! under its write lock, compute the deltas) → every handler's queue, in watch order.
//!
//! Locking: the *dispatch lock* (`Informer::dispatch`) serialises everything that sends deltas
//! (watch events, resync, the replay of a late handler) and is held from the cache update until
//! the deltas are queued. The cache's own `RwLock` is taken only for the update itself, so
//! listers never wait on handler queues. Because a late handler's replay snapshot and its
//! registration happen under the dispatch lock, it sees every object exactly once: either in
//! the replay or through a later delta, never both and never neither.
//!
//! Lifecycle ([`Lifecycle`]): an informer starts once, with the token that stops it, and never
//! restarts: a process whose controllers stop leading exits (as upstream), so nothing would
//! ever restart one. Relists after watch failures happen inside kube's `watcher` and emit
//! tombstones for what vanished meanwhile.

use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use futures::stream::BoxStream;
use futures::{Stream, StreamExt};
use kube::Api;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event, watcher};
use parking_lot::{Mutex, RwLock};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::cache::{Cache, Listing};
use super::delta::{Delta, Handler};
use super::kind::InformerType;

use super::backoff::{ReflectorBackoff, RetryDelay};
use super::list_strategy::{FallbackToPaged, ListStrategy};
use super::listener::{Backlog, HandlerId, Listener};
use super::lister::Lister;
use super::stats::{Counters, InformerStats};

/// The list+watch stream an informer consumes: kube's `watcher` in production, any stream of
/// watcher events in tests.
pub type WatchStream<K> = BoxStream<'static, Result<Event<K>, watcher::Error>>;

type WatchSource<K> = Box<dyn Fn() -> WatchStream<K> + Send + Sync>;

/// Consecutive watch errors after which a routine watch failure (the connection dropped, the
/// apiserver restarted) is logged at `warn`: with the reflector backoff about 25 s of failing.
const PERSISTENT_WATCH_ERRORS: u32 = 5;

pub struct Informer<K: InformerType> {
    kind: String,
    cache: Arc<RwLock<Cache<K>>>,
    dispatch: Mutex<Dispatch<K>>,
    backlog: Arc<Backlog>,
    synced: watch::Sender<bool>,
    default_resync: Duration,
    /// Wakes the run loop when a handler's resync deadline may have moved earlier.
    resync_rescheduled: Notify,
    lifecycle: Mutex<Lifecycle>,
    /// `None` for a detached informer that is fed only through `process_event`/`run_stream`.
    source: Option<WatchSource<K>>,
    /// The delay the watch's backoff chose after the last failure (for the log line).
    retry_delay: Option<Arc<RetryDelay>>,
    counters: Counters,
}

struct Dispatch<K> {
    listeners: Vec<Listener<K>>,
    list: ListState<K>,
    next_handler_id: u64,
}

/// Where the informer is in kube's watcher protocol.
enum ListState<K> {
    /// Between lists: `Apply`/`Delete` update the cache directly.
    Watching,
    /// Between `Init` and `InitDone`: the new list is buffered, the cache still serves the old one.
    Listing(Listing<K>),
}

/// Where an informer started by [`Informer::start`] is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Lifecycle {
    NotStarted,
    /// The loop task runs.
    Running,
    /// The loop ended (cancelled, or its stream ended); the cache keeps the last state.
    Stopped,
}

impl<K: InformerType> Informer<K> {
    /// An informer that opens `source()` each time it is started.
    /// `default_resync` applies to handlers added without their own period; zero disables it.
    pub fn new(
        source: impl Fn() -> WatchStream<K> + Send + Sync + 'static,
        default_resync: Duration,
    ) -> Self {
        Self::build(Some(Box::new(source)), default_resync, None)
    }

    /// An informer over kube's `watcher` for every object of `api`, filled by `strategy`
    /// (streaming: a streaming list, paged LISTs only if the apiserver refuses it, see
    /// [`FallbackToPaged`]), retried with client-go's reflector backoff ([`ReflectorBackoff`]:
    /// 800 ms doubling to 30 s, jittered, reset only after two minutes without a failure).
    pub fn for_api(api: Api<K>, default_resync: Duration, strategy: ListStrategy) -> Self {
        let retry_delay = Arc::new(RetryDelay::default());
        let chosen = Arc::clone(&retry_delay);
        let kind = K::kind(&()).into_owned();
        let source = move || {
            let backoff = ReflectorBackoff::new(Arc::clone(&chosen));
            match strategy {
                ListStrategy::Streaming => {
                    let api = api.clone();
                    FallbackToPaged::new(kind.clone(), move |strategy| {
                        watcher(api.clone(), strategy.config()).boxed()
                    })
                    .backoff(backoff)
                    .boxed()
                }
                ListStrategy::Paged => watcher(api.clone(), strategy.config())
                    .backoff(backoff)
                    .boxed(),
            }
        };
        Self::build(Some(Box::new(source)), default_resync, Some(retry_delay))
    }

    /// An informer without a watch of its own, fed by [`process_event`](Self::process_event) or
    /// [`run_stream`](Self::run_stream): for tests of code that consumes informers.
    pub fn detached(default_resync: Duration) -> Self {
        Self::build(None, default_resync, None)
    }

    fn build(
        source: Option<WatchSource<K>>,
        default_resync: Duration,
        retry_delay: Option<Arc<RetryDelay>>,
    ) -> Self {
        Self {
            kind: K::kind(&()).into_owned(),
            cache: Arc::new(RwLock::new(Cache::new(K::indexers()))),
            dispatch: Mutex::new(Dispatch {
                listeners: Vec::new(),
                list: ListState::Watching,
                next_handler_id: 0,
            }),
            backlog: Arc::new(Backlog::for_kind(&K::kind(&()))),
            synced: watch::channel(false).0,
            default_resync,
            resync_rescheduled: Notify::new(),
            lifecycle: Mutex::new(Lifecycle::NotStarted),
            source,
            retry_delay,
            counters: Counters::default(),
        }
    }

    pub fn kind(&self) -> &str {
        &self.kind
    }

    pub fn default_resync(&self) -> Duration {
        self.default_resync
    }

    pub fn lister(&self) -> Lister<K> {
        Lister::new(Arc::clone(&self.cache))
    }

    pub fn stats(&self) -> InformerStats {
        self.counters.snapshot()
    }

    /// True once the first complete list has been cached and dispatched. Stays true across
    /// relists, like client-go's `HasSynced`.
    pub fn has_synced(&self) -> bool {
        *self.synced.borrow()
    }

    pub async fn wait_synced(&self) {
        let mut synced = self.synced.subscribe();
        // The sender lives in `self`, so this cannot fail while we borrow `self`.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    pub(crate) fn synced_receiver(&self) -> watch::Receiver<bool> {
        self.synced.subscribe()
    }

    /// Registers a handler with the informer's default resync period. Must be called within a
    /// Tokio runtime (the handler gets its own task). If the cache already holds objects, the
    /// handler first receives each of them as `Added { initial_list: true }`.
    pub fn add_handler(&self, handler: impl Handler<K>) -> HandlerId {
        self.add_handler_with_resync(handler, self.default_resync)
    }

    /// Registers a handler that is re-sent every cached object as `Updated{o,o}` every `resync`
    /// (zero: never; below one second: one second). client-go `AddEventHandlerWithResyncPeriod`,
    /// except that the period is honoured exactly rather than rounded to the informer's
    /// resync check period.
    pub fn add_handler_with_resync(&self, handler: impl Handler<K>, resync: Duration) -> HandlerId {
        let mut dispatch = self.dispatch.lock();
        let id = HandlerId(dispatch.next_handler_id);
        dispatch.next_handler_id += 1;
        let listener = Listener::spawn(
            id,
            handler,
            resync,
            Arc::clone(&self.backlog),
            self.kind.clone(),
        );
        let mut snapshot: Vec<Arc<K>> = self.cache.read().values().cloned().collect();
        snapshot.sort_by_cached_key(|obj| obj.cache_key());
        for obj in snapshot {
            let replay = Delta::Added {
                obj,
                initial_list: true,
            };
            listener.send(replay, &self.backlog);
        }
        dispatch.listeners.push(listener);
        drop(dispatch);
        self.resync_rescheduled.notify_one();
        id
    }

    /// Unregisters a handler; deltas already queued for it are still delivered.
    pub fn remove_handler(&self, id: HandlerId) -> bool {
        let mut dispatch = self.dispatch.lock();
        let before = dispatch.listeners.len();
        dispatch.listeners.retain(|listener| listener.id != id);
        before != dispatch.listeners.len()
    }

    pub fn handler_count(&self) -> usize {
        self.dispatch.lock().listeners.len()
    }

    /// Waits until every handler has run every delta dispatched so far.
    pub async fn wait_handlers_idle(&self) {
        self.backlog.wait_drained().await;
    }

    /// True while the loop started by [`start`](Self::start) runs.
    pub fn is_running(&self) -> bool {
        *self.lifecycle.lock() == Lifecycle::Running
    }

    /// Spawns the run loop on the informer's watch, once: later calls (and calls on a detached
    /// informer) do nothing. The loop stops when `cancel` fires or the stream ends. Returns
    /// whether a loop was started.
    pub fn start(self: &Arc<Self>, cancel: CancellationToken) -> bool {
        let Some(source) = &self.source else {
            tracing::warn!(kind = %self.kind, "detached informer has no watch to start");
            return false;
        };
        {
            let mut lifecycle = self.lifecycle.lock();
            if *lifecycle != Lifecycle::NotStarted {
                return false;
            }
            *lifecycle = Lifecycle::Running;
        }
        self.counters.started();
        let stream = source();
        let informer = Arc::clone(self);
        tokio::spawn(async move {
            let _stopped = MarkStoppedOnDrop {
                lifecycle: &informer.lifecycle,
            };
            informer.run_stream(stream, &cancel).await;
        });
        true
    }

    /// The run loop: consumes `stream` until it ends or `cancel` fires, processing each event
    /// and running handler resyncs when due. `start` calls this with the informer's own watch;
    /// tests call it directly with a scripted stream (one stream at a time).
    pub async fn run_stream<S>(&self, stream: S, cancel: &CancellationToken)
    where
        S: Stream<Item = Result<Event<K>, watcher::Error>>,
    {
        let mut stream = pin!(stream);
        let mut consecutive_errors: u32 = 0;
        tracing::debug!(kind = %self.kind, "informer watch started");
        loop {
            let resync_at = self.next_resync();
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                () = sleep_until(resync_at) => self.resync(Instant::now()),
                () = self.resync_rescheduled.notified() => {}
                item = stream.next() => match item {
                    Some(Ok(event)) => {
                        // `Init` only announces a list attempt; anything else is a success.
                        if !matches!(event, Event::Init) {
                            consecutive_errors = 0;
                        }
                        self.process_event(event);
                    }
                    Some(Err(err)) => {
                        consecutive_errors = consecutive_errors.saturating_add(1);
                        self.counters.watch_error();
                        let retry_in = self.retry_delay.as_deref().map(RetryDelay::last);
                        log_watch_error::<K>(&err, consecutive_errors, retry_in);
                    }
                    None => break,
                },
            }
        }
        tracing::debug!(kind = %self.kind, "informer watch stopped");
    }

    /// Applies one watch event to the cache and dispatches the resulting deltas. Public so that
    /// tests of consumers can script an informer without a stream.
    pub fn process_event(&self, event: Event<K>) {
        let event = event.modify(K::shrink);
        self.counters.watch_event();
        let mut dispatch = self.dispatch.lock();
        let mut completes_first_list = false;
        let deltas = match event {
            Event::Init => {
                dispatch.list = ListState::Listing(Listing::default());
                return;
            }
            Event::InitApply(obj) => {
                match &mut dispatch.list {
                    ListState::Listing(listing) => listing.push(Arc::new(obj)),
                    ListState::Watching => {
                        tracing::debug!(kind = %self.kind, "list item without Init; starting a list");
                        let mut listing = Listing::default();
                        listing.push(Arc::new(obj));
                        dispatch.list = ListState::Listing(listing);
                    }
                }
                return;
            }
            Event::InitDone => {
                let ListState::Listing(listing) =
                    std::mem::replace(&mut dispatch.list, ListState::Watching)
                else {
                    tracing::warn!(kind = %self.kind, "list end without Init; ignored");
                    return;
                };
                completes_first_list = !self.has_synced();
                self.counters.listed();
                self.cache.write().replace(listing, completes_first_list)
            }
            Event::Apply(obj) => {
                let new = Arc::new(obj);
                let old = {
                    let mut cache = self.cache.write();
                    cache.observe_resource_version(new.meta_resource_version());
                    cache.upsert(Arc::clone(&new))
                };
                vec![match old {
                    Some(old) => Delta::Updated { old, new },
                    None => Delta::Added {
                        obj: new,
                        initial_list: false,
                    },
                }]
            }
            Event::Delete(obj) => {
                // Like client-go, the delete is delivered even for a key that was not cached.
                {
                    let mut cache = self.cache.write();
                    cache.observe_resource_version(obj.meta_resource_version());
                    cache.remove(&obj.cache_key());
                }
                vec![Delta::Deleted {
                    obj: Arc::new(obj),
                    final_state_unknown: false,
                }]
            }
        };
        self.counters.emitted(&deltas);
        for listener in &dispatch.listeners {
            for delta in &deltas {
                listener.send(delta.clone(), &self.backlog);
            }
        }
        if completes_first_list {
            self.synced.send_replace(true);
            tracing::debug!(kind = %self.kind, objects = deltas.len(), "informer synced");
        }
    }

    fn next_resync(&self) -> Option<Instant> {
        let dispatch = self.dispatch.lock();
        dispatch
            .listeners
            .iter()
            .filter_map(Listener::next_resync)
            .min()
    }

    /// Re-sends every cached object as `Updated{o,o}` to each handler whose resync is due.
    fn resync(&self, now: Instant) {
        let mut dispatch = self.dispatch.lock();
        if !dispatch.listeners.iter().any(|l| l.resync_due(now)) {
            return;
        }
        let objects: Vec<Arc<K>> = self.cache.read().values().cloned().collect();
        let mut resynced = 0;
        for listener in dispatch.listeners.iter_mut() {
            if !listener.resync_due(now) {
                continue;
            }
            for obj in &objects {
                let delta = Delta::Updated {
                    old: Arc::clone(obj),
                    new: Arc::clone(obj),
                };
                listener.send(delta, &self.backlog);
            }
            resynced += objects.len() as u64;
            listener.schedule_next_resync(now);
        }
        self.counters.resynced(resynced);
    }
}

/// Marks the informer stopped when its loop task ends, even by panic.
struct MarkStoppedOnDrop<'a> {
    lifecycle: &'a Mutex<Lifecycle>,
}

impl Drop for MarkStoppedOnDrop<'_> {
    fn drop(&mut self) {
        *self.lifecycle.lock() = Lifecycle::Stopped;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

/// Which request of the list/watch protocol failed, and how: the fields of the log line.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct FailedRequest {
    pub verb: &'static str,
    /// The HTTP status of an API error; `None` when no answer came (connection, TLS, decode).
    pub code: Option<u16>,
    pub reason: String,
    /// The apiserver's message, or the cause class and chain when no answer came.
    pub message: String,
}

pub(crate) fn failed_request(err: &watcher::Error) -> FailedRequest {
    let from_client = |verb, err: &kube::Error| match err {
        kube::Error::Api(status) => FailedRequest {
            verb,
            code: Some(status.code),
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        other => FailedRequest {
            verb,
            code: None,
            reason: crate::client::failure::FailureClass::of(other).to_string(),
            message: crate::client::failure::describe(other),
        },
    };
    match err {
        watcher::Error::InitialListFailed(err) => from_client("list", err),
        watcher::Error::WatchStartFailed(err) | watcher::Error::WatchFailed(err) => {
            from_client("watch", err)
        }
        watcher::Error::WatchError(status) => FailedRequest {
            verb: "watch",
            code: Some(status.code),
            reason: status.reason.clone(),
            message: status.message.clone(),
        },
        watcher::Error::NoResourceVersion => FailedRequest {
            verb: "list",
            code: None,
            reason: "NoResourceVersion".into(),
            message: err.to_string(),
        },
    }
}

/// Every failure is logged; the backoff bounds the rate (after a minute of failing, one line
/// per 30–60 s per informer). A failed LIST, an API error other than 410 Gone (an expired
/// resourceVersion, answered by a relist) and a long run of failures are warnings; a single
/// dropped watch is routine (apiserver restart, connection reset) and logged at debug.
fn log_watch_error<K: InformerType>(
    err: &watcher::Error,
    consecutive: u32,
    retry_in: Option<Duration>,
) {
    let request = failed_request(err);
    let resource = K::plural(&());
    let group = K::group(&());
    let retry_in = retry_in.map(|d| format!("{:.1}s", d.as_secs_f64()));
    let routine = request.verb == "watch" && matches!(request.code, None | Some(410));
    if !routine || consecutive >= PERSISTENT_WATCH_ERRORS {
        tracing::warn!(
            resource = %resource, group = %group, verb = request.verb, code = request.code,
            reason = %request.reason, consecutive, retry_in, error = %request.message,
            "informer list/watch failed; retrying with backoff"
        );
    } else {
        tracing::debug!(
            resource = %resource, group = %group, verb = request.verb, code = request.code,
            reason = %request.reason, consecutive, retry_in, error = %request.message,
            "informer watch ended; retrying with backoff"
        );
    }
}
