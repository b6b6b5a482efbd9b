//! A TCP relay to the apiserver that a test can cut and restore, to take the apiserver away from
//! one client only.
//!
//! Two ways to cut it, for two kinds of outage:
//! - [`black_hole`](CuttableProxy::black_hole): connections stay open but carry nothing more and
//!   new ones are accepted and ignored. A network partition as a client sees it: requests hang
//!   until their own timeouts (the hard case for a leader elector).
//! - [`refuse`](CuttableProxy::refuse): open connections are closed and new ones are dropped at
//!   once, as when the apiserver restarts; clients notice immediately and retry.
//!
//! [`restore`](CuttableProxy::restore) relays new connections again.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use parking_lot::Mutex;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// What the proxy does with traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Relay,
    BlackHole,
    Refuse,
}

/// A relay from `127.0.0.1:<port>` to the apiserver.
pub struct CuttableProxy {
    port: u16,
    link: watch::Sender<Link>,
    accepting: JoinHandle<()>,
}

/// Sockets kept open but silent while black-holed.
type Parked = Arc<Mutex<Vec<TcpStream>>>;

impl CuttableProxy {
    /// Relays to `upstream` (e.g. `127.0.0.1:6443`).
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let (link, watch_link) = watch::channel(Link::Relay);
        let accepting = tokio::spawn(accept_loop(listener, upstream, watch_link));
        Ok(Self {
            port,
            link,
            accepting,
        })
    }

    /// Relays to the test environment's apiserver.
    pub async fn to_apiserver(env: &crate::TestEnv) -> anyhow::Result<Self> {
        let url = env.apiserver_url();
        let authority = url.trim_start_matches("https://");
        let upstream: SocketAddr = authority
            .parse()
            .with_context(|| format!("apiserver address {authority}"))?;
        Self::start(upstream).await
    }

    /// `https://127.0.0.1:<port>`: the apiserver's serving certificate names 127.0.0.1.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// From now on nothing gets through, in either direction; connections hang.
    pub fn black_hole(&self) {
        self.link.send_replace(Link::BlackHole);
    }

    /// Closes every relayed connection and drops new ones until [`restore`](Self::restore).
    pub fn refuse(&self) {
        self.link.send_replace(Link::Refuse);
    }

    /// Relays new connections again.
    pub fn restore(&self) {
        self.link.send_replace(Link::Relay);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.link.send_replace(Link::Refuse);
        self.accepting.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, link: watch::Receiver<Link>) {
    let parked: Parked = Arc::default();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        let now = *link.borrow();
        match now {
            Link::BlackHole => parked.lock().push(client),
            Link::Refuse => drop(client),
            Link::Relay => {
                let (parked, link) = (parked.clone(), link.clone());
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(upstream).await {
                        relay(client, server, link, parked).await;
                    }
                });
            }
        }
    }
}

async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    mut link: watch::Receiver<Link>,
    parked: Parked,
) {
    let cut = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => None,
        changed = link.wait_for(|l| *l != Link::Relay) => changed.ok().map(|l| *l),
    };
    if cut == Some(Link::BlackHole) {
        parked.lock().extend([client, server]);
    }
    // Refuse: both sockets drop here, closing the connection.
}
