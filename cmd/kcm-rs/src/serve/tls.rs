//! TLS for the serving port, as apiserver's `SecureServingOptions` sets it up.
//!
//! * The served pair comes from `--tls-cert-file`/`--tls-private-key-file`, else from
//!   `--cert-dir` (`kube-controller-manager.{crt,key}`, generated and written when unreadable,
//!   reused when readable, as `MaybeDefaultWithSelfSignedCerts`), else an in-memory self-signed
//!   pair (CA `localhost-ca@<unix>` signing leaf `localhost@<unix>`).
//! * Files are polled; a changed, valid pair is served on new handshakes without a restart, a
//!   bad one keeps the last good pair (`DynamicCertKeyPairContent`).
//! * Client certificates are *requested*, never required or judged in the handshake (Go's
//!   `tls.RequestClientCert`): the authentication layer verifies them, so an unknown CA is an
//!   HTTP 401 as upstream, not a TLS alert. The CA names offered as hints are the client CA and
//!   the front-proxy CA of [`super::trust::Trust`], so the config is rebuilt when those change.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use parking_lot::RwLock;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_util::sync::CancellationToken;

use super::ServeError;
use super::trust::Trust;
use crate::options::serving::TlsMinVersion;

/// `ServerCert.PairName` of kube-controller-manager.
const PAIR_NAME: &str = "kube-controller-manager";
/// How often cert/key files are checked for changes (upstream: fsnotify plus a 1-minute loop).
const FILE_POLL: Duration = Duration::from_secs(2);

/// What `--tls-*` and `--cert-dir` ask for.
#[derive(Clone, Debug)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    pub cert_dir: Option<PathBuf>,
    pub min_version: TlsMinVersion,
    /// Go names, already checked by `options::serving`.
    pub cipher_suites: Vec<String>,
    /// Go CurveIDs, already checked by `options::serving`.
    pub curves: Vec<u16>,
    pub http2: bool,
    /// The address the self-signed certificate also names, when not unspecified.
    pub bind_ip: Option<std::net::IpAddr>,
}

/// Where the served pair comes from.
#[derive(Debug)]
enum PairSource {
    Files { cert: PathBuf, key: PathBuf },
    InMemory,
}

/// The current server configuration, rebuilt when the served pair or the client-CA hints change.
pub struct ServingTls {
    current: RwLock<Arc<rustls::ServerConfig>>,
    parts: Parts,
    pair: RwLock<Arc<CertifiedKey>>,
    source: PairSource,
}

struct Parts {
    provider: Arc<CryptoProvider>,
    versions: Vec<&'static rustls::SupportedProtocolVersion>,
    alpn: Vec<Vec<u8>>,
    trust: Arc<Trust>,
}

impl ServingTls {
    /// Loads or makes the pair and builds the first configuration; errors name the flag.
    pub fn new(options: &TlsOptions, trust: Arc<Trust>) -> Result<Arc<Self>, ServeError> {
        let source = match (&options.cert_file, &options.key_file, &options.cert_dir) {
            (Some(cert), Some(key), _) => PairSource::Files {
                cert: cert.clone(),
                key: key.clone(),
            },
            (None, None, Some(dir)) => {
                let cert = dir.join(format!("{PAIR_NAME}.crt"));
                let key = dir.join(format!("{PAIR_NAME}.key"));
                if load_pair(&cert, &key).is_err() {
                    write_self_signed(dir, &cert, &key, options.bind_ip)?;
                }
                PairSource::Files { cert, key }
            }
            (None, None, None) => PairSource::InMemory,
            _ => return Err(ServeError::HalfPair),
        };
        let pair = match &source {
            PairSource::Files { cert, key } => load_pair(cert, key)?,
            PairSource::InMemory => {
                let (chain, key) = self_signed(options.bind_ip)?;
                certified(chain, &key, Path::new("(self-signed)"))?
            }
        };
        let parts = Parts {
            provider: Arc::new(provider(&options.cipher_suites, &options.curves)),
            versions: match options.min_version {
                TlsMinVersion::Tls12 => vec![&rustls::version::TLS13, &rustls::version::TLS12],
                TlsMinVersion::Tls13 => vec![&rustls::version::TLS13],
            },
            alpn: if options.http2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            },
            trust,
        };
        let pair = Arc::new(pair);
        let config = parts.build(pair.clone())?;
        Ok(Arc::new(ServingTls {
            current: RwLock::new(config),
            parts,
            pair: RwLock::new(pair),
            source,
        }))
    }

    /// The configuration for the next handshake.
    pub fn config(&self) -> Arc<rustls::ServerConfig> {
        self.current.read().clone()
    }

    /// Watches the pair's files and the trust bundles until `cancel`.
    pub fn spawn_reloader(self: &Arc<Self>, cancel: CancellationToken) {
        let this = self.clone();
        tokio::spawn(async move {
            let mut files = this.file_stamp();
            let mut trust = this.parts.trust.generation();
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(FILE_POLL) => {}
                }
                let now_files = this.file_stamp();
                let now_trust = this.parts.trust.generation();
                if now_files == files && now_trust == trust {
                    continue;
                }
                if now_files != files
                    && let PairSource::Files { cert, key } = &this.source
                {
                    match load_pair(cert, key) {
                        Ok(pair) => {
                            tracing::info!(cert = %cert.display(), "loaded a new serving certificate");
                            *this.pair.write() = Arc::new(pair);
                        }
                        // DynamicCertKeyPairContent keeps the last good pair.
                        Err(error) => {
                            tracing::error!(%error, "keeping the current serving certificate")
                        }
                    }
                }
                files = now_files;
                trust = now_trust;
                let pair = this.pair.read().clone();
                match this.parts.build(pair) {
                    Ok(config) => *this.current.write() = config,
                    Err(error) => tracing::error!(%error, "rebuilding the TLS configuration"),
                }
            }
        });
    }

    fn file_stamp(&self) -> Vec<Option<(SystemTime, u64)>> {
        match &self.source {
            PairSource::Files { cert, key } => [cert, key]
                .iter()
                .map(|p| {
                    std::fs::metadata(p)
                        .ok()
                        .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
                })
                .collect(),
            PairSource::InMemory => Vec::new(),
        }
    }
}

impl Parts {
    fn build(&self, pair: Arc<CertifiedKey>) -> Result<Arc<rustls::ServerConfig>, ServeError> {
        let verifier = Arc::new(RequestClientCert {
            offer: self.trust.client_certs_possible(),
            hints: self.trust.hint_subjects(),
            algorithms: self.provider.signature_verification_algorithms,
        });
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_protocol_versions(&self.versions)?
            .with_client_cert_verifier(verifier)
            .with_cert_resolver(Arc::new(Fixed(pair)));
        config.alpn_protocols = self.alpn.clone();
        Ok(Arc::new(config))
    }
}

/// Serves one pair; a reload builds a new configuration around the new pair.
#[derive(Debug)]
struct Fixed(Arc<CertifiedKey>);

impl rustls::server::ResolvesServerCert for Fixed {
    fn resolve(&self, _hello: rustls::server::ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// The ring provider with `--tls-cipher-suites` applied to TLS 1.2 (Go ignores the list for 1.3)
/// and `--tls-curve-preferences` as the key-exchange groups, in that order.
fn provider(names: &[String], curves: &[u16]) -> CryptoProvider {
    use rustls::crypto::ring::kx_group;
    let mut provider = rustls::crypto::ring::default_provider();
    if !curves.is_empty() {
        provider.kx_groups = curves
            .iter()
            .filter_map(|id| match id {
                23 => Some(kx_group::SECP256R1),
                24 => Some(kx_group::SECP384R1),
                29 => Some(kx_group::X25519),
                _ => None,
            })
            .collect();
    }
    if names.is_empty() {
        return provider;
    }
    let all = provider.cipher_suites.clone();
    let tls13 = all
        .iter()
        .filter(|s| s.version() == &rustls::version::TLS13)
        .copied();
    let tls12 = names.iter().filter_map(|name| {
        let wanted = rustls_name(name);
        all.iter()
            .find(|s| {
                s.version() == &rustls::version::TLS12 && format!("{:?}", s.suite()) == wanted
            })
            .copied()
    });
    provider.cipher_suites = tls13.chain(tls12).collect();
    provider
}

/// Go's name of a suite as rustls spells it.
fn rustls_name(go: &str) -> String {
    match go {
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
            "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256".to_owned()
        }
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256".to_owned()
        }
        other => other.to_owned(),
    }
}

/// Go's `tls.RequestClientCert`: ask for a certificate, accept whatever comes (or nothing); the
/// handshake signature is still checked, so the peer owns the certificate's key.
#[derive(Debug)]
struct RequestClientCert {
    offer: bool,
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        self.offer
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

fn load_pair(cert: &Path, key: &Path) -> Result<CertifiedKey, ServeError> {
    let chain = read_certs(cert)?;
    let key_der = read_key(key)?;
    certified(chain, &key_der, key)
}

fn certified(
    chain: Vec<CertificateDer<'static>>,
    key: &PrivateKeyDer<'_>,
    key_path: &Path,
) -> Result<CertifiedKey, ServeError> {
    let signing =
        rustls::crypto::ring::sign::any_supported_type(key).map_err(|e| ServeError::Key {
            path: key_path.display().to_string(),
            message: e.to_string(),
        })?;
    let pair = CertifiedKey::new(chain, signing);
    // A key that does not match the certificate would fail every handshake.
    pair.keys_match().map_err(|e| ServeError::Key {
        path: key_path.display().to_string(),
        message: format!("does not match the certificate: {e}"),
    })?;
    Ok(pair)
}

pub(super) fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServeError> {
    let err = |message: String| ServeError::Cert {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let certs = rustls_pemfile::certs(&mut pem.as_slice())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate found".into()));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, ServeError> {
    let err = |message: String| ServeError::Key {
        path: path.display().to_string(),
        message,
    };
    let pem = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    rustls_pemfile::private_key(&mut pem.as_slice())
        .map_err(|e| err(e.to_string()))?
        .ok_or_else(|| err("no PEM private key found".into()))
}

/// `certutil.GenerateSelfSignedCertKeyWithFixtures("localhost", [127.0.0.1], nil)`: a CA valid
/// for a year signs a serving leaf for `localhost`, `127.0.0.1` (and the bind address); the chain
/// served is leaf + CA. Keys are ECDSA P-256 (upstream: RSA-2048; ring cannot generate RSA).
pub(super) fn self_signed(
    bind_ip: Option<std::net::IpAddr>,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), ServeError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
        KeyPair, KeyUsagePurpose, SanType,
    };
    let fail = |e: rcgen::Error| ServeError::SelfSigned(e.to_string());
    let now = jiff::Timestamp::now();
    let stamp = now.as_second();
    let not_before = time_from(stamp - 3600);
    let not_after = time_from(stamp + 365 * 24 * 3600);

    let ca_key = KeyPair::generate().map_err(fail)?;
    let mut ca = CertificateParams::default();
    ca.distinguished_name
        .push(DnType::CommonName, format!("localhost-ca@{stamp}"));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    ca.not_before = not_before;
    ca.not_after = not_after;
    let ca_cert = ca.self_signed(&ca_key).map_err(fail)?;
    let issuer = Issuer::new(ca, ca_key);

    let key = KeyPair::generate().map_err(fail)?;
    let mut leaf = CertificateParams::default();
    leaf.distinguished_name
        .push(DnType::CommonName, format!("localhost@{stamp}"));
    leaf.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let mut sans = vec![
        SanType::DnsName("localhost".try_into().map_err(fail)?),
        SanType::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
    ];
    if let Some(ip) = bind_ip.filter(|ip| !ip.is_unspecified() && !ip.is_loopback()) {
        sans.push(SanType::IpAddress(ip));
    }
    leaf.subject_alt_names = sans;
    leaf.not_before = not_before;
    leaf.not_after = not_after;
    let leaf_cert = leaf.signed_by(&key, &issuer).map_err(fail)?;
    let key_der = PrivateKeyDer::try_from(key.serialize_der())
        .map_err(|e| ServeError::SelfSigned(e.to_string()))?;
    Ok((
        vec![leaf_cert.der().clone(), ca_cert.der().clone()],
        key_der,
    ))
}

fn time_from(unix: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// `--cert-dir` without readable files: generate and write them (mode 0600 for the key).
fn write_self_signed(
    dir: &Path,
    cert: &Path,
    key: &Path,
    bind_ip: Option<std::net::IpAddr>,
) -> Result<(), ServeError> {
    let (chain, key_der) = self_signed(bind_ip)?;
    let err = |path: &Path, e: std::io::Error| ServeError::CertDir {
        path: path.display().to_string(),
        message: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(|e| err(dir, e))?;
    let cert_pem: String = chain
        .iter()
        .map(|c| pem("CERTIFICATE", c.as_ref()))
        .collect();
    let key_pem = pem("PRIVATE KEY", key_der.secret_der());
    std::fs::write(cert, cert_pem).map_err(|e| err(cert, e))?;
    write_private(key, key_pem.as_bytes()).map_err(|e| err(key, e))?;
    tracing::info!(cert = %cert.display(), "generated a self-signed serving certificate in --cert-dir");
    Ok(())
}

#[cfg(unix)]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

#[cfg(not(unix))]
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    std::fs::write(path, bytes)
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let body = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests;
