//! Whom the serving port trusts: the client CA and the front-proxy (request-header) settings.
//!
//! Each comes from a file flag (`--client-ca-file`, `--requestheader-client-ca-file` with the
//! `--requestheader-*` names), or, when the flag is empty and lookup is allowed, from the
//! `kube-system/extension-apiserver-authentication` ConfigMap ([`super::lookup`]). Both are
//! swapped atomically when their source changes; a bad or empty new content keeps the last good
//! one (`DynamicFileCAContent`, `ConfigMapCAController`). [`Trust::generation`] lets the TLS
//! layer rebuild its client-CA hints after a change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use rustls::DistinguishedName;
use rustls::pki_types::{CertificateDer, TrustAnchor};
use tokio_util::sync::CancellationToken;

/// How often CA files are checked for changes (upstream: fsnotify plus a 1-minute loop).
const FILE_POLL: Duration = Duration::from_secs(2);

/// A parsed CA bundle.
#[derive(Debug)]
pub struct CaBundle {
    pub anchors: Vec<TrustAnchor<'static>>,
    pub subjects: Vec<DistinguishedName>,
    /// The PEM text it was read from, to tell a real change from a rewrite.
    pem: Vec<u8>,
}

impl CaBundle {
    /// Parses PEM certificates; an empty or unparsable bundle is an error (upstream's "missing
    /// content" / "unable to load").
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let certs: Vec<CertificateDer<'static>> = rustls_pemfile::certs(&mut &pem[..])
            .collect::<Result<_, _>>()
            .map_err(|e| format!("not PEM certificates: {e}"))?;
        if certs.is_empty() {
            return Err("no PEM certificate found".to_owned());
        }
        let mut roots = rustls::RootCertStore::empty();
        for cert in certs {
            roots
                .add(cert)
                .map_err(|e| format!("not a CA certificate: {e}"))?;
        }
        Ok(CaBundle {
            subjects: roots.subjects(),
            anchors: roots.roots,
            pem: pem.to_vec(),
        })
    }
}

/// `RequestHeaderConfig`: who may assert identities in headers, and in which headers.
#[derive(Debug)]
pub struct RequestHeader {
    pub ca: CaBundle,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefix: Vec<String>,
}

/// Where one of the two comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    None,
    File(PathBuf),
    ConfigMap,
}

/// The current client CA and request-header configuration.
pub struct Trust {
    client_ca: RwLock<Option<Arc<CaBundle>>>,
    request_header: RwLock<Option<Arc<RequestHeader>>>,
    pub client_ca_source: Source,
    pub request_header_source: Source,
    generation: AtomicU64,
}

impl Trust {
    pub fn new(client_ca_source: Source, request_header_source: Source) -> Self {
        Trust {
            client_ca: RwLock::new(None),
            request_header: RwLock::new(None),
            client_ca_source,
            request_header_source,
            generation: AtomicU64::new(0),
        }
    }

    pub fn client_ca(&self) -> Option<Arc<CaBundle>> {
        self.client_ca.read().clone()
    }

    pub fn request_header(&self) -> Option<Arc<RequestHeader>> {
        self.request_header.read().clone()
    }

    /// Bumped on every change; the TLS layer compares it.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Whether a client certificate could be verified at all: upstream sets
    /// `RequestClientCert` only when some client-CA provider exists.
    pub fn client_certs_possible(&self) -> bool {
        self.client_ca_source != Source::None || self.request_header_source != Source::None
    }

    /// The union of both bundles' subjects, offered in the handshake.
    pub fn hint_subjects(&self) -> Vec<DistinguishedName> {
        let mut subjects: Vec<DistinguishedName> = Vec::new();
        let client = self.client_ca();
        let header = self.request_header();
        for s in client
            .iter()
            .flat_map(|c| c.subjects.iter())
            .chain(header.iter().flat_map(|h| h.ca.subjects.iter()))
        {
            if !subjects.iter().any(|k| k.as_ref() == s.as_ref()) {
                subjects.push(s.clone());
            }
        }
        subjects
    }

    /// Replaces the client CA if the content changed.
    pub fn set_client_ca(&self, bundle: CaBundle) -> bool {
        let mut current = self.client_ca.write();
        if current.as_ref().is_some_and(|c| c.pem == bundle.pem) {
            return false;
        }
        *current = Some(Arc::new(bundle));
        drop(current);
        self.generation.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// Replaces the request-header configuration if anything changed.
    pub fn set_request_header(&self, config: RequestHeader) -> bool {
        let mut current = self.request_header.write();
        if current.as_ref().is_some_and(|c| {
            c.ca.pem == config.ca.pem
                && c.allowed_names == config.allowed_names
                && c.username_headers == config.username_headers
                && c.uid_headers == config.uid_headers
                && c.group_headers == config.group_headers
                && c.extra_headers_prefix == config.extra_headers_prefix
        }) {
            return false;
        }
        *current = Some(Arc::new(config));
        drop(current);
        self.generation.fetch_add(1, Ordering::AcqRel);
        true
    }
}

/// The header names the request-header flags give, for a file-based front-proxy CA.
#[derive(Debug, Clone)]
pub struct HeaderNames {
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefix: Vec<String>,
}

/// Reads the file-based bundles once (an unreadable file at start is an error naming the flag)
/// and then keeps polling them until `cancel`.
pub fn load_files(
    trust: &Arc<Trust>,
    headers: &HeaderNames,
    cancel: CancellationToken,
) -> Result<(), String> {
    if let Source::File(path) = &trust.client_ca_source {
        let bundle =
            read_bundle(path).map_err(|e| format!("--client-ca-file {}: {e}", path.display()))?;
        trust.set_client_ca(bundle);
    }
    if let Source::File(path) = &trust.request_header_source {
        let bundle = read_bundle(path)
            .map_err(|e| format!("--requestheader-client-ca-file {}: {e}", path.display()))?;
        trust.set_request_header(with_names(bundle, headers));
    }
    let files: Vec<PathBuf> = [&trust.client_ca_source, &trust.request_header_source]
        .into_iter()
        .filter_map(|s| match s {
            Source::File(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    if files.is_empty() {
        return Ok(());
    }
    let trust = trust.clone();
    let headers = headers.clone();
    tokio::spawn(async move {
        let stamp = |p: &Path| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
        };
        let mut seen: Vec<_> = files.iter().map(|p| stamp(p)).collect();
        loop {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = tokio::time::sleep(FILE_POLL) => {}
            }
            let now: Vec<_> = files.iter().map(|p| stamp(p)).collect();
            if now == seen {
                continue;
            }
            seen = now;
            if let Source::File(path) = &trust.client_ca_source {
                match read_bundle(path) {
                    Ok(b) => {
                        if trust.set_client_ca(b) {
                            tracing::info!(file = %path.display(), "loaded a new client CA bundle");
                        }
                    }
                    Err(error) => {
                        tracing::error!(file = %path.display(), %error, "keeping the current client CA bundle")
                    }
                }
            }
            if let Source::File(path) = &trust.request_header_source {
                match read_bundle(path) {
                    Ok(b) => {
                        if trust.set_request_header(with_names(b, &headers)) {
                            tracing::info!(file = %path.display(), "loaded a new request-header CA bundle");
                        }
                    }
                    Err(error) => {
                        tracing::error!(file = %path.display(), %error, "keeping the current request-header CA bundle")
                    }
                }
            }
        }
    });
    Ok(())
}

fn read_bundle(path: &Path) -> Result<CaBundle, String> {
    let pem = std::fs::read(path).map_err(|e| e.to_string())?;
    CaBundle::from_pem(&pem)
}

fn with_names(ca: CaBundle, names: &HeaderNames) -> RequestHeader {
    RequestHeader {
        ca,
        allowed_names: names.allowed_names.clone(),
        username_headers: names.username_headers.clone(),
        uid_headers: names.uid_headers.clone(),
        group_headers: names.group_headers.clone(),
        extra_headers_prefix: names.extra_headers_prefix.clone(),
    }
}
