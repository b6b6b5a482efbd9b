//! Why a request to the apiserver failed, in words an operator can act on.
//!
//! kube's errors print the outermost layer only (`ServiceError: client error (Connect)`), which
//! hides whether the port is closed, the CA is wrong or the credentials were rejected. client-go
//! prints `Get "https://…/healthz": dial tcp …: connect: connection refused`. [`FailureClass`]
//! walks the error's source chain (including the errors wrapped inside `std::io::Error`, which
//! `source()` skips) and names the class; [`describe`] adds the whole chain; [`ApiTarget`] says
//! which server and which kubeconfig the request was for.

use std::error::Error as StdError;
use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of failure a request met.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FailureClass {
    /// Nothing listens on the port (`ECONNREFUSED`).
    ConnectionRefused,
    /// The connection or the request timed out.
    Timeout,
    /// The host could not be resolved or reached.
    Unreachable(String),
    /// The server's certificate chain does not end at a CA the client trusts (wrong or missing
    /// `certificate-authority` in the kubeconfig).
    TlsUnknownAuthority,
    /// The server's certificate was rejected for another reason (expired, wrong name, ...).
    TlsCertificate(String),
    /// Any other TLS failure (handshake alert, protocol mismatch).
    Tls(String),
    /// The apiserver rejected the credentials (401).
    Unauthorized,
    /// The credentials are valid but lack the rights (403).
    Forbidden,
    /// Any other HTTP status from the apiserver.
    Status(u16),
    /// Client-side setup: reading credentials, building the request.
    Other,
}

impl FailureClass {
    /// Classifies any error by looking through its whole source chain.
    pub fn of(err: &(dyn StdError + 'static)) -> Self {
        if let Some(kube::Error::Api(status)) = err.downcast_ref::<kube::Error>() {
            return Self::from_status(status.code);
        }
        let mut tls_seen = false;
        for layer in chain(err) {
            if let Some(tls) = layer.downcast_ref::<rustls::Error>() {
                return Self::from_rustls(tls);
            }
            if let Some(io) = layer.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::ConnectionRefused => return Self::ConnectionRefused,
                    std::io::ErrorKind::TimedOut => return Self::Timeout,
                    std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
                    | std::io::ErrorKind::AddrNotAvailable => {
                        return Self::Unreachable(io.to_string());
                    }
                    _ => {}
                }
            }
            if layer
                .downcast_ref::<tokio::time::error::Elapsed>()
                .is_some()
            {
                return Self::Timeout;
            }
            let text = layer.to_string();
            if text.contains("dns error") || text.contains("failed to lookup address") {
                return Self::Unreachable(text);
            }
            tls_seen |= text.contains("tls") || text.contains("TLS");
        }
        if tls_seen {
            return Self::Tls(innermost(err));
        }
        Self::Other
    }

    fn from_status(code: u16) -> Self {
        match code {
            401 => Self::Unauthorized,
            403 => Self::Forbidden,
            code => Self::Status(code),
        }
    }

    fn from_rustls(err: &rustls::Error) -> Self {
        use rustls::{CertificateError, Error};
        match err {
            Error::InvalidCertificate(CertificateError::UnknownIssuer) => Self::TlsUnknownAuthority,
            Error::InvalidCertificate(other) => Self::TlsCertificate(format!("{other:?}")),
            other => Self::Tls(other.to_string()),
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnectionRefused => f.write_str("connection refused"),
            Self::Timeout => f.write_str("timed out"),
            Self::Unreachable(cause) => write!(f, "server unreachable ({cause})"),
            Self::TlsUnknownAuthority => f.write_str(
                "TLS: certificate signed by unknown authority (check the kubeconfig's certificate-authority)",
            ),
            Self::TlsCertificate(cause) => write!(f, "TLS: server certificate rejected ({cause})"),
            Self::Tls(cause) => write!(f, "TLS: {cause}"),
            Self::Unauthorized => f.write_str("401 Unauthorized: the credentials were rejected"),
            Self::Forbidden => f.write_str("403 Forbidden: the identity lacks the rights"),
            Self::Status(code) => write!(f, "HTTP {code}"),
            Self::Other => f.write_str("client error"),
        }
    }
}

/// `<class>: <every layer of the error, outermost first>`, repeated layers dropped.
pub fn describe(err: &(dyn StdError + 'static)) -> String {
    // kube prints an API error with the whole Status struct; the message says it all.
    if let Some(kube::Error::Api(status)) = err.downcast_ref::<kube::Error>() {
        return format!("{}: {}", FailureClass::of(err), status.message);
    }
    let mut layers: Vec<String> = Vec::new();
    for layer in chain(err) {
        let text = layer.to_string();
        if !layers.iter().any(|seen| seen.contains(&text)) {
            layers.push(text);
        }
    }
    format!("{}: {}", FailureClass::of(err), layers.join(": "))
}

/// The layers of an error, outermost first, looking inside `std::io::Error`s too.
fn chain<'a>(
    err: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    let mut next = Some(err);
    std::iter::from_fn(move || {
        let current = next?;
        next = match current.downcast_ref::<std::io::Error>() {
            Some(io) => match io.get_ref() {
                Some(inner) => Some(inner as &(dyn StdError + 'static)),
                None => current.source(),
            },
            None => current.source(),
        };
        Some(current)
    })
    .take(32)
}

fn innermost(err: &(dyn StdError + 'static)) -> String {
    chain(err)
        .last()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Which apiserver a client talks to, and where that came from: named in every connection
/// error so the operator knows which file to fix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApiTarget {
    pub server: String,
    /// `--kubeconfig`; `None` for `--master` alone or the in-cluster configuration.
    pub kubeconfig: Option<PathBuf>,
}

impl ApiTarget {
    pub fn new(server: impl Into<String>, kubeconfig: Option<&Path>) -> Self {
        Self {
            server: server.into(),
            kubeconfig: kubeconfig.map(Path::to_path_buf),
        }
    }
}

impl fmt::Display for ApiTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kubeconfig {
            Some(path) => write!(
                f,
                "server {} (--kubeconfig {})",
                self.server,
                path.display()
            ),
            None => write!(f, "server {} (in-cluster or --master)", self.server),
        }
    }
}

#[cfg(test)]
mod tests;
