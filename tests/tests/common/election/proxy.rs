//! A TCP relay to the apiserver that a test can cut, to make the apiserver unreachable for
//! one process only.
//!
//! Cutting it turns it into a black hole rather than closing anything: relayed connections
//! stay open but carry nothing more, and new connections are accepted and ignored. That is a
//! network partition as a client sees it (requests hang until their own timeouts), the harder
//! case for an elector than a refused connection.

use std::{net::SocketAddr, sync::Arc};

use anyhow::Context;
use parking_lot::Mutex;
use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::JoinHandle,
};

/// A relay from `127.0.0.1:<port>` to the apiserver; stops relaying on [`cut`](Self::cut).
pub struct CuttableProxy {
    port: u16,
    cut: watch::Sender<bool>,
    accepting: JoinHandle<()>,
}

/// Sockets kept open but silent once the link is cut.
type Parked = Arc<Mutex<Vec<TcpStream>>>;

impl CuttableProxy {
    /// Relays to `upstream` (e.g. `127.0.0.1:6443`).
    pub async fn start(upstream: SocketAddr) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the proxy")?;
        let port = listener.local_addr()?.port();
        let (cut, is_cut) = watch::channel(false);
        let accepting = tokio::spawn(accept_loop(listener, upstream, is_cut));
        Ok(Self {
            port,
            cut,
            accepting,
        })
    }

    /// `https://127.0.0.1:<port>`: the apiserver's serving certificate names 127.0.0.1.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.port)
    }

    /// From now on nothing gets through, in either direction.
    pub fn cut(&self) {
        self.cut.send_replace(true);
    }
}

impl Drop for CuttableProxy {
    fn drop(&mut self) {
        self.cut.send_replace(true);
        self.accepting.abort();
    }
}

async fn accept_loop(listener: TcpListener, upstream: SocketAddr, is_cut: watch::Receiver<bool>) {
    let parked: Parked = Arc::default();
    loop {
        let Ok((client, _)) = listener.accept().await else {
            continue;
        };
        if *is_cut.borrow() {
            parked.lock().push(client);
            continue;
        }
        let (parked, is_cut) = (parked.clone(), is_cut.clone());
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(upstream).await {
                relay(client, server, is_cut, parked).await;
            }
        });
    }
}

async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    mut is_cut: watch::Receiver<bool>,
    parked: Parked,
) {
    let cut_off = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => false,
        cut = is_cut.wait_for(|cut| *cut) => cut.is_ok(),
    };
    if cut_off {
        parked.lock().extend([client, server]);
    }
}
