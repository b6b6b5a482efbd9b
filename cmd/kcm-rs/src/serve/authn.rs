//! Delegated authentication, in upstream's order (`DelegatingAuthenticatorConfig.New`):
//!
//! ```text
//! FailOnError( AuthenticatedGroupAdder( Union[ requestHeader?, x509?, bearerToken?, websocket? ] ), anonymous )
//! ```
//!
//! Each authenticator answers "this user", "not me" or an error. The first user wins; if none
//! and any errored, the request is rejected (401); if nobody had an opinion it is anonymous
//! (`system:anonymous` in `system:unauthenticated`). Authenticated users get
//! `system:authenticated` added.

use std::collections::BTreeMap;
use std::sync::Arc;

use http::HeaderMap;
use rustls::pki_types::{CertificateDer, UnixTime};

use super::tokenreview::TokenReviewer;
use super::trust::{CaBundle, Trust};

pub const ANONYMOUS: &str = "system:anonymous";
pub const UNAUTHENTICATED: &str = "system:unauthenticated";
pub const AUTHENTICATED: &str = "system:authenticated";
const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

/// `user.Info`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct User {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    pub fn anonymous() -> Self {
        User {
            name: ANONYMOUS.to_owned(),
            groups: vec![UNAUTHENTICATED.to_owned()],
            ..Default::default()
        }
    }
}

/// One authenticator's answer.
#[derive(Debug)]
enum Answer {
    User(User),
    NotMe,
    Error(String),
}

/// The outcome for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    User(User),
    /// 401; the messages are for the log only (upstream logs them, the client sees
    /// "Unauthorized").
    Unauthorized(Vec<String>),
}

/// The authenticator chain.
pub struct Authenticator {
    pub trust: Arc<Trust>,
    pub tokens: Option<TokenReviewer>,
}

impl Authenticator {
    /// Authenticates a request from its peer certificates and headers; request-header
    /// credentials are removed from `headers` once used.
    pub async fn authenticate(
        &self,
        peer: &[CertificateDer<'static>],
        headers: &mut HeaderMap,
    ) -> Outcome {
        let mut errors = Vec::new();
        let answers = [self.request_header(peer, headers), self.x509(peer)];
        for answer in answers {
            match answer {
                Answer::User(user) => return Outcome::User(with_authenticated(user)),
                Answer::NotMe => {}
                Answer::Error(e) => errors.push(e),
            }
        }
        for answer in [self.bearer(headers).await, self.websocket(headers).await] {
            match answer {
                Answer::User(user) => return Outcome::User(with_authenticated(user)),
                Answer::NotMe => {}
                Answer::Error(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Outcome::User(User::anonymous())
        } else {
            Outcome::Unauthorized(errors)
        }
    }

    /// `headerrequest.New…` behind `x509request.NewDynamicCAVerifier`.
    fn request_header(&self, peer: &[CertificateDer<'static>], headers: &mut HeaderMap) -> Answer {
        let Some(config) = self.trust.request_header() else {
            return Answer::NotMe;
        };
        if peer.is_empty() {
            return Answer::NotMe;
        }
        let leaf = match verify_client(&config.ca, peer) {
            Ok(leaf) => leaf,
            Err(e) => return Answer::Error(e),
        };
        if !config.allowed_names.is_empty() && !config.allowed_names.contains(&leaf.common_name) {
            return Answer::Error(format!(
                "x509: subject with cn={} is not in the allowed list",
                leaf.common_name
            ));
        }
        let first = |names: &[String]| {
            names
                .iter()
                .find_map(|n| {
                    headers
                        .get(n.as_str())
                        .and_then(|v| v.to_str().ok())
                        .filter(|v| !v.is_empty())
                })
                .map(str::to_owned)
        };
        let Some(name) = first(&config.username_headers) else {
            return Answer::NotMe;
        };
        let uid = first(&config.uid_headers).unwrap_or_default();
        let mut groups = Vec::new();
        for header in &config.group_headers {
            for value in headers.get_all(header.as_str()) {
                if let Ok(v) = value.to_str()
                    && !v.is_empty()
                {
                    groups.push(v.to_owned());
                }
            }
        }
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let prefixes: Vec<String> = config
            .extra_headers_prefix
            .iter()
            .map(|p| p.to_ascii_lowercase())
            .collect();
        for (key, value) in headers.iter() {
            let key = key.as_str(); // lowercase already
            for prefix in &prefixes {
                if let Some(rest) = key.strip_prefix(prefix.as_str())
                    && let Ok(v) = value.to_str()
                {
                    extra
                        .entry(unescape_extra_key(rest))
                        .or_default()
                        .push(v.to_owned());
                }
            }
        }
        // ClearAuthenticationHeaders.
        for h in config
            .username_headers
            .iter()
            .chain(&config.uid_headers)
            .chain(&config.group_headers)
        {
            headers.remove(h.as_str());
        }
        let extra_keys: Vec<_> = headers
            .keys()
            .filter(|k| prefixes.iter().any(|p| k.as_str().starts_with(p.as_str())))
            .cloned()
            .collect();
        for k in extra_keys {
            headers.remove(k);
        }
        Answer::User(User {
            name,
            uid,
            groups,
            extra,
        })
    }

    /// `x509.NewDynamic(…, CommonNameUserConversion)`.
    fn x509(&self, peer: &[CertificateDer<'static>]) -> Answer {
        let Some(ca) = self.trust.client_ca() else {
            return Answer::NotMe;
        };
        if peer.is_empty() {
            return Answer::NotMe;
        }
        let leaf = match verify_client(&ca, peer) {
            Ok(leaf) => leaf,
            Err(e) => return Answer::Error(e),
        };
        if leaf.common_name.is_empty() {
            return Answer::NotMe;
        }
        let fingerprint = ring::digest::digest(&ring::digest::SHA256, peer[0].as_ref());
        let hex: String = fingerprint
            .as_ref()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Answer::User(User {
            name: leaf.common_name,
            uid: String::new(),
            groups: leaf.organizations,
            extra: BTreeMap::from([(CREDENTIAL_ID.to_owned(), vec![format!("X509SHA256={hex}")])]),
        })
    }

    /// `bearertoken.New(cachedTokenReview)`.
    async fn bearer(&self, headers: &mut HeaderMap) -> Answer {
        let Some(reviewer) = &self.tokens else {
            // No authentication kubeconfig: tokens are ignored, the request is anonymous.
            return Answer::NotMe;
        };
        let Some(token) = bearer_token(headers) else {
            return Answer::NotMe;
        };
        match reviewer.review(&token).await {
            Ok(Some(user)) => {
                headers.remove(http::header::AUTHORIZATION);
                Answer::User(user)
            }
            Ok(None) => Answer::Error("invalid bearer token".to_owned()),
            Err(e) => Answer::Error(e),
        }
    }
}

impl Authenticator {
    /// `websocket.NewProtocolAuthenticator`: a WebSocket upgrade carrying the token as the
    /// subprotocol `base64url.bearer.authorization.k8s.io.<base64url(token)>`.
    async fn websocket(&self, headers: &mut HeaderMap) -> Answer {
        let Some(reviewer) = &self.tokens else {
            return Answer::NotMe;
        };
        let protocols = match websocket_token(headers) {
            Ok(None) => return Answer::NotMe,
            Ok(Some(found)) => found,
            Err(e) => return Answer::Error(e.to_owned()),
        };
        match reviewer.review(&protocols.token).await {
            Ok(Some(user)) => {
                if let Ok(rest) = http::HeaderValue::from_str(&protocols.others.join(",")) {
                    headers.insert(WEBSOCKET_PROTOCOL, rest);
                }
                Answer::User(user)
            }
            Ok(None) => Answer::Error("invalid bearer token".to_owned()),
            Err(e) => Answer::Error(e),
        }
    }
}

const WEBSOCKET_PROTOCOL: &str = "sec-websocket-protocol";
const BEARER_PROTOCOL_PREFIX: &str = "base64url.bearer.authorization.k8s.io.";

/// A token found among the WebSocket subprotocols, and the other subprotocols.
#[derive(Debug, PartialEq, Eq)]
struct WebsocketToken {
    token: String,
    others: Vec<String>,
}

/// `ProtocolAuthenticator.AuthenticateRequest`'s parsing: only for WebSocket upgrades; at most
/// one token protocol, base64url without padding, UTF-8, and at least one other protocol.
fn websocket_token(headers: &HeaderMap) -> Result<Option<WebsocketToken>, &'static str> {
    let has_token = |name: http::header::HeaderName, wanted: &str| {
        headers.get_all(name).iter().any(|v| {
            v.to_str()
                .map(|s| s.split(',').any(|t| t.trim().eq_ignore_ascii_case(wanted)))
                .unwrap_or(false)
        })
    };
    if !has_token(http::header::CONNECTION, "upgrade")
        || !has_token(http::header::UPGRADE, "websocket")
    {
        return Ok(None);
    }
    use base64::Engine;
    let mut token = None;
    let mut others = Vec::new();
    for value in headers.get_all(WEBSOCKET_PROTOCOL) {
        let Ok(value) = value.to_str() else { continue };
        for protocol in value.split(',').map(str::trim) {
            let Some(encoded) = protocol.strip_prefix(BEARER_PROTOCOL_PREFIX) else {
                others.push(protocol.to_owned());
                continue;
            };
            if token.is_some() {
                return Err("multiple base64.bearer.authorization tokens specified");
            }
            let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(encoded)
                .map_err(|_| "invalid base64.bearer.authorization token encoding")?;
            token = Some(
                String::from_utf8(decoded)
                    .map_err(|_| "invalid base64.bearer.authorization token")?,
            );
        }
    }
    match token {
        Some(t) if !t.is_empty() && others.is_empty() => Err("missing additional subprotocol"),
        Some(t) if !t.is_empty() => Ok(Some(WebsocketToken { token: t, others })),
        _ => Ok(None),
    }
}

/// `Authorization: Bearer <token>`, scheme case-insensitive; anything else is "not me".
pub fn bearer_token(headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let mut parts = value.splitn(3, ' ');
    let scheme = parts.next()?;
    let token = parts.next()?;
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// `group.AuthenticatedGroupAdder`.
fn with_authenticated(mut user: User) -> User {
    if !user
        .groups
        .iter()
        .any(|g| g == AUTHENTICATED || g == UNAUTHENTICATED)
    {
        user.groups.push(AUTHENTICATED.to_owned());
    }
    user
}

/// `headerrequest.unescapeExtraKey`: URL-unescaped, or as is when the escape is malformed.
fn unescape_extra_key(key: &str) -> String {
    super::decode_path(key).unwrap_or_else(|| key.to_owned())
}

/// What authentication reads from a verified client certificate.
#[derive(Debug)]
struct Leaf {
    common_name: String,
    organizations: Vec<String>,
}

/// Go's `cert.Verify` with `ExtKeyUsageClientAuth`, intermediates = the rest of the chain.
fn verify_client(ca: &CaBundle, peer: &[CertificateDer<'static>]) -> Result<Leaf, String> {
    let end_entity = webpki::EndEntityCert::try_from(&peer[0])
        .map_err(|e| format!("x509: cannot parse the client certificate: {e}"))?;
    end_entity
        .verify_for_usage(
            webpki::ALL_VERIFICATION_ALGS,
            &ca.anchors,
            &peer[1..],
            UnixTime::now(),
            webpki::KeyUsage::client_auth(),
            None,
            None,
        )
        .map_err(|e| format!("verifying certificate: {e}"))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(peer[0].as_ref())
        .map_err(|e| format!("x509: cannot parse the client certificate: {e}"))?;
    let subject = parsed.subject();
    let common_name = subject
        .iter_common_name()
        // Go's pkix.Name keeps the last CommonName.
        .last()
        .and_then(|cn| cn.as_str().ok())
        .unwrap_or_default()
        .to_owned();
    let organizations = subject
        .iter_organization()
        .filter_map(|o| o.as_str().ok())
        .map(str::to_owned)
        .collect();
    Ok(Leaf {
        common_name,
        organizations,
    })
}

#[cfg(test)]
mod tests;
