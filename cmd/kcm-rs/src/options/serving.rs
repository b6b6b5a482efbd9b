//! The serving port's flags: apiserver's `SecureServingOptions`, `DelegatingAuthenticationOptions`
//! and `DelegatingAuthorizationOptions` as kube-controller-manager configures them.
//!
//! Names, defaults and help follow upstream (`k8s.io/apiserver/pkg/server/options/{serving,
//! authentication,authorization}.go`); [`resolve`] checks the values as upstream's `Validate`
//! does and turns them into [`ServingConfig`], so a bad value exits 2 naming the flag before
//! anything starts.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgAction, Args};

use super::duration::GoDuration;
use super::flags::{defaults, parse_go_bool, parse_i32};

const SERVING: &str = "Secure serving flags";
const AUTHN: &str = "Authentication flags";
const AUTHZ: &str = "Authorization flags";

/// Upstream's defaults for the delegated authentication and authorization.
pub mod serving_defaults {
    use std::time::Duration;

    pub const TOKEN_WEBHOOK_CACHE_TTL: Duration = Duration::from_secs(10);
    pub const AUTHORIZED_TTL: Duration = Duration::from_secs(10);
    pub const UNAUTHORIZED_TTL: Duration = Duration::from_secs(10);
    pub const ALWAYS_ALLOW_PATHS: &str = "/healthz,/readyz,/livez";
    pub const USERNAME_HEADERS: &str = "x-remote-user";
    pub const GROUP_HEADERS: &str = "x-remote-group";
    pub const EXTRA_HEADERS_PREFIX: &str = "x-remote-extra-";
    /// What `--http2-max-streams-per-connection=0` means (the apiserver's default, 100).
    pub const HTTP2_MAX_STREAMS: u32 = 100;
}

/// The flags, as clap reads them.
#[derive(Debug, Clone, Args)]
pub struct ServingFlags {
    /// The IP address on which to listen for the --secure-port port. The associated interface(s)
    /// must be reachable by the rest of the cluster, and by CLI/web clients. If blank or an
    /// unspecified address (0.0.0.0 or ::), all interfaces and IP address families will be used.
    #[arg(long, value_name = "IP", allow_hyphen_values = true, default_value_t = defaults::BIND_ADDRESS, help_heading = SERVING)]
    pub bind_address: IpAddr,

    /// The port on which to serve HTTPS with authentication and authorization. If 0, don't
    /// serve HTTPS at all.
    #[arg(long, value_name = "PORT", allow_hyphen_values = true, value_parser = parse_port, default_value_t = defaults::SECURE_PORT, help_heading = SERVING)]
    pub secure_port: u16,

    /// The directory where the TLS certs are located. If --tls-cert-file and
    /// --tls-private-key-file are provided, this flag will be ignored.
    #[arg(long, value_name = "DIR", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = SERVING)]
    pub cert_dir: String,

    /// File containing the default x509 Certificate for HTTPS. (CA cert, if any, concatenated
    /// after server cert). If HTTPS serving is enabled, and --tls-cert-file and
    /// --tls-private-key-file are not provided, a self-signed certificate and key are generated
    /// for the public address and saved to the directory specified by --cert-dir. Reloaded when
    /// the file changes.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = SERVING)]
    pub tls_cert_file: Option<PathBuf>,

    /// File containing the default x509 private key matching --tls-cert-file.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, help_heading = SERVING)]
    pub tls_private_key_file: Option<PathBuf>,

    /// Minimum TLS version supported. Possible values: VersionTLS12, VersionTLS13 (upstream also
    /// accepts VersionTLS10 and VersionTLS11, which kcm-rs's TLS library does not implement).
    #[arg(long, value_name = "VERSION", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = SERVING)]
    pub tls_min_version: String,

    /// Comma-separated list of cipher suites for the server (Go names, e.g.
    /// TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256). If omitted, the default suites are used. Applies
    /// to TLS 1.2 only, as in upstream.
    #[arg(long, value_name = "NAMES", action = ArgAction::Append, allow_hyphen_values = true, help_heading = SERVING)]
    pub tls_cipher_suites: Vec<String>,

    /// Comma-separated list of numeric Go crypto/tls CurveID values, in preference order, for
    /// the key exchange: 23 (P-256), 24 (P-384), 29 (X25519). If omitted, the defaults are used.
    #[arg(long, value_name = "IDS", action = ArgAction::Append, allow_hyphen_values = true, help_heading = SERVING)]
    pub tls_curve_preferences: Vec<String>,

    /// A pair of x509 certificate and private key file paths, optionally suffixed with a list of
    /// domain patterns. Not implemented by kcm-rs: giving it is an error.
    #[arg(long, value_name = "CERT,KEY[:NAMES]", action = ArgAction::Append, allow_hyphen_values = true, help_heading = SERVING)]
    pub tls_sni_cert_key: Vec<String>,

    /// The limit that the server gives to clients for the maximum number of streams in an HTTP/2
    /// connection. Zero means to use the default (100).
    #[arg(long, value_name = "N", value_parser = parse_i32, default_value_t = 0, allow_hyphen_values = true, help_heading = SERVING)]
    pub http2_max_streams_per_connection: i32,

    /// If true, HTTP2 serving will be disabled.
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = SERVING)]
    pub disable_http2_serving: bool,

    /// If true, SO_REUSEPORT will be used when binding the port, which allows more than one
    /// instance to bind on the same address and port.
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = SERVING)]
    pub permit_port_sharing: bool,

    /// If true, SO_REUSEADDR will be used when binding the port.
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = SERVING)]
    pub permit_address_sharing: bool,

    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create
    /// tokenreviews.authentication.k8s.io. This is optional. If empty, all token requests are
    /// considered to be anonymous and no client CA is looked up in the cluster.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = AUTHN)]
    pub authentication_kubeconfig: String,

    /// If false, the authentication-kubeconfig will be used to lookup missing authentication
    /// configuration from the cluster.
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = AUTHN)]
    pub authentication_skip_lookup: bool,

    /// If true, failures to look up missing authentication configuration from the cluster are
    /// not considered fatal. Note that this can result in authentication that treats all
    /// requests as anonymous.
    #[arg(long, value_name = "BOOL", default_value_t = false, value_parser = parse_go_bool,
          num_args = 0..=1, require_equals = true, default_missing_value = "true", help_heading = AUTHN)]
    pub authentication_tolerate_lookup_failure: bool,

    /// The duration to cache responses from the webhook token authenticator.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(serving_defaults::TOKEN_WEBHOOK_CACHE_TTL), help_heading = AUTHN)]
    pub authentication_token_webhook_cache_ttl: GoDuration,

    /// If set, any request presenting a client certificate signed by one of the authorities in
    /// the client-ca-file is authenticated with an identity corresponding to the CommonName of
    /// the client certificate.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = AUTHN)]
    pub client_ca_file: String,

    /// Root certificate bundle to use to verify client certificates on incoming requests before
    /// trusting usernames in headers specified by --requestheader-username-headers. WARNING:
    /// generally do not depend on authorization being already done for incoming requests.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = AUTHN)]
    pub requestheader_client_ca_file: String,

    /// List of client certificate common names to allow to provide usernames in headers
    /// specified by --requestheader-username-headers. If empty, any client certificate
    /// validated by the authorities in --requestheader-client-ca-file is allowed.
    #[arg(long, value_name = "NAMES", action = ArgAction::Append, allow_hyphen_values = true, help_heading = AUTHN)]
    pub requestheader_allowed_names: Vec<String>,

    /// List of request headers to inspect for usernames. X-Remote-User is common.
    #[arg(long, value_name = "HEADERS", action = ArgAction::Append, allow_hyphen_values = true, default_value = serving_defaults::USERNAME_HEADERS, help_heading = AUTHN)]
    pub requestheader_username_headers: Vec<String>,

    /// List of request headers to inspect for UIDs. X-Remote-Uid is suggested.
    #[arg(long, value_name = "HEADERS", action = ArgAction::Append, allow_hyphen_values = true, help_heading = AUTHN)]
    pub requestheader_uid_headers: Vec<String>,

    /// List of request headers to inspect for groups. X-Remote-Group is suggested.
    #[arg(long, value_name = "HEADERS", action = ArgAction::Append, allow_hyphen_values = true, default_value = serving_defaults::GROUP_HEADERS, help_heading = AUTHN)]
    pub requestheader_group_headers: Vec<String>,

    /// List of request header prefixes to inspect. X-Remote-Extra- is suggested.
    #[arg(long, value_name = "PREFIXES", action = ArgAction::Append, allow_hyphen_values = true, default_value = serving_defaults::EXTRA_HEADERS_PREFIX, help_heading = AUTHN)]
    pub requestheader_extra_headers_prefix: Vec<String>,

    /// kubeconfig file pointing at the 'core' kubernetes server with enough rights to create
    /// subjectaccessreviews.authorization.k8s.io. This is optional. If empty, all requests not
    /// skipped by authorization are forbidden.
    #[arg(long, value_name = "FILE", allow_hyphen_values = true, default_value = "", hide_default_value = true, help_heading = AUTHZ)]
    pub authorization_kubeconfig: String,

    /// A list of HTTP paths to skip during authorization, i.e. these are authorized without
    /// contacting the 'core' kubernetes server.
    #[arg(long, value_name = "PATHS", action = ArgAction::Append, allow_hyphen_values = true, default_value = serving_defaults::ALWAYS_ALLOW_PATHS, help_heading = AUTHZ)]
    pub authorization_always_allow_paths: Vec<String>,

    /// The duration to cache 'authorized' responses from the webhook authorizer.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(serving_defaults::AUTHORIZED_TTL), help_heading = AUTHZ)]
    pub authorization_webhook_cache_authorized_ttl: GoDuration,

    /// The duration to cache 'unauthorized' responses from the webhook authorizer.
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true, default_value_t = GoDuration(serving_defaults::UNAUTHORIZED_TTL), help_heading = AUTHZ)]
    pub authorization_webhook_cache_unauthorized_ttl: GoDuration,
}

/// The lowest TLS version to accept (`--tls-min-version`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMinVersion {
    /// Upstream's default when the flag is empty.
    #[default]
    Tls12,
    Tls13,
}

/// Validated serving settings (beyond bind address, port and cert files, which stay in
/// [`super::config::ProcessConfig`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ServingConfig {
    pub cert_dir: Option<PathBuf>,
    pub tls_min_version: TlsMinVersion,
    /// Go cipher-suite names, each one kcm-rs implements (checked); empty = the defaults.
    pub tls_cipher_suites: Vec<String>,
    /// Go CurveIDs kcm-rs implements (checked), in preference order; empty = the defaults.
    pub tls_curve_preferences: Vec<u16>,
    pub http2_max_streams: u32,
    pub disable_http2: bool,
    pub permit_port_sharing: bool,
    pub permit_address_sharing: bool,
    pub authentication: AuthenticationConfig,
    pub authorization: AuthorizationConfig,
}

/// `DelegatingAuthenticationOptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthenticationConfig {
    pub kubeconfig: Option<PathBuf>,
    pub skip_lookup: bool,
    pub tolerate_lookup_failure: bool,
    pub token_cache_ttl: Duration,
    pub client_ca_file: Option<PathBuf>,
    pub request_header: RequestHeaderFlags,
}

/// `RequestHeaderAuthenticationOptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestHeaderFlags {
    pub client_ca_file: Option<PathBuf>,
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub uid_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_headers_prefix: Vec<String>,
}

/// `DelegatingAuthorizationOptions`.
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorizationConfig {
    pub kubeconfig: Option<PathBuf>,
    pub always_allow_paths: Vec<String>,
    /// Upstream's fixed `AlwaysAllowGroups`.
    pub always_allow_groups: Vec<String>,
    pub allowed_ttl: Duration,
    pub denied_ttl: Duration,
}

impl Default for ServingConfig {
    fn default() -> Self {
        let split = |s: &str| s.split(',').map(str::to_owned).collect::<Vec<_>>();
        ServingConfig {
            cert_dir: None,
            tls_min_version: TlsMinVersion::Tls12,
            tls_cipher_suites: Vec::new(),
            tls_curve_preferences: Vec::new(),
            http2_max_streams: serving_defaults::HTTP2_MAX_STREAMS,
            disable_http2: false,
            permit_port_sharing: false,
            permit_address_sharing: false,
            authentication: AuthenticationConfig {
                kubeconfig: None,
                skip_lookup: false,
                tolerate_lookup_failure: false,
                token_cache_ttl: serving_defaults::TOKEN_WEBHOOK_CACHE_TTL,
                client_ca_file: None,
                request_header: RequestHeaderFlags {
                    client_ca_file: None,
                    allowed_names: Vec::new(),
                    username_headers: split(serving_defaults::USERNAME_HEADERS),
                    uid_headers: Vec::new(),
                    group_headers: split(serving_defaults::GROUP_HEADERS),
                    extra_headers_prefix: split(serving_defaults::EXTRA_HEADERS_PREFIX),
                },
            },
            authorization: AuthorizationConfig {
                kubeconfig: None,
                always_allow_paths: split(serving_defaults::ALWAYS_ALLOW_PATHS),
                always_allow_groups: vec!["system:masters".to_owned()],
                allowed_ttl: serving_defaults::AUTHORIZED_TTL,
                denied_ttl: serving_defaults::UNAUTHORIZED_TTL,
            },
        }
    }
}

/// Go cipher-suite names (`tls.CipherSuites()`, `tls.InsecureCipherSuites()` and the two legacy
/// ChaCha20 aliases) and whether kcm-rs's TLS stack implements them.
const CIPHER_SUITES: &[(&str, bool)] = &[
    ("TLS_AES_128_GCM_SHA256", true),
    ("TLS_AES_256_GCM_SHA384", true),
    ("TLS_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384", true),
    ("TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256", true),
    ("TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", true),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", true),
    ("TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305", true),
    ("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305", true),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_RSA_WITH_RC4_128_SHA", false),
    ("TLS_RSA_WITH_3DES_EDE_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_128_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_256_CBC_SHA", false),
    ("TLS_RSA_WITH_AES_128_CBC_SHA256", false),
    ("TLS_RSA_WITH_AES_128_GCM_SHA256", false),
    ("TLS_RSA_WITH_AES_256_GCM_SHA384", false),
    ("TLS_ECDHE_ECDSA_WITH_RC4_128_SHA", false),
    ("TLS_ECDHE_RSA_WITH_RC4_128_SHA", false),
    ("TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA", false),
    ("TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256", false),
    ("TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256", false),
];

/// Checks the flags as upstream's `Validate` and `ApplyTo` do and builds the configuration;
/// every problem names its flag.
pub fn resolve(flags: &ServingFlags) -> Result<ServingConfig, Vec<String>> {
    let mut problems = Vec::new();
    let defaults = ServingConfig::default();

    let tls_min_version = match flags.tls_min_version.as_str() {
        "" | "VersionTLS12" => TlsMinVersion::Tls12,
        "VersionTLS13" => TlsMinVersion::Tls13,
        "VersionTLS10" | "VersionTLS11" => {
            problems.push(format!(
                "--tls-min-version: {}: kcm-rs implements TLS 1.2 and 1.3 only (use VersionTLS12 or VersionTLS13)",
                flags.tls_min_version
            ));
            TlsMinVersion::Tls12
        }
        other => {
            problems.push(format!(
                "--tls-min-version: unknown tls version {other:?} (valid: VersionTLS12, VersionTLS13)"
            ));
            TlsMinVersion::Tls12
        }
    };

    let mut tls_cipher_suites = Vec::new();
    for name in csv(&flags.tls_cipher_suites) {
        match CIPHER_SUITES.iter().find(|(known, _)| *known == name) {
            Some((_, true)) => tls_cipher_suites.push(name),
            Some((_, false)) => problems.push(format!(
                "--tls-cipher-suites: {name} is a CBC, RC4, 3DES or RSA-key-exchange suite, which kcm-rs's TLS library (rustls) does not implement; use the ECDHE GCM or ChaCha20 suites"
            )),
            None => problems.push(format!(
                "--tls-cipher-suites: Cipher suite {name} not supported or doesn't exist"
            )),
        }
    }
    if !tls_cipher_suites.is_empty()
        && tls_min_version == TlsMinVersion::Tls12
        && tls_cipher_suites.iter().all(|n| !n.contains("_WITH_"))
    {
        problems.push(
            "--tls-cipher-suites: names only TLS 1.3 suites, which leaves TLS 1.2 with none; add a TLS 1.2 suite or set --tls-min-version=VersionTLS13".to_owned(),
        );
    }
    let mut tls_curve_preferences = Vec::new();
    for id in csv(&flags.tls_curve_preferences) {
        match id.trim().parse::<u16>() {
            Ok(id @ (23 | 24 | 29)) => tls_curve_preferences.push(id),
            Ok(id) => problems.push(format!(
                "--tls-curve-preferences: curve {id} is not implemented by kcm-rs's TLS library (use 23 P-256, 24 P-384 or 29 X25519)"
            )),
            Err(_) => problems.push(format!(
                "--tls-curve-preferences: {id:?} is not a numeric Go CurveID"
            )),
        }
    }
    if !flags.tls_sni_cert_key.is_empty() {
        problems.push(
            "--tls-sni-cert-key: kcm-rs does not implement SNI certificates; serve one certificate with --tls-cert-file/--tls-private-key-file".to_owned(),
        );
    }
    let http2_max_streams = match flags.http2_max_streams_per_connection {
        0 => serving_defaults::HTTP2_MAX_STREAMS,
        n if n > 0 => n as u32,
        n => {
            problems.push(format!(
                "--http2-max-streams-per-connection: {n}: must be 0 (the default, 100) or more"
            ));
            serving_defaults::HTTP2_MAX_STREAMS
        }
    };

    let mut header_list = |flag: &str, values: &[String]| -> Vec<String> {
        let list = csv(values);
        if list.iter().any(|v| v.trim().is_empty()) {
            problems.push(format!("--{flag}: cannot contain empty values"));
        }
        list
    };
    let request_header = RequestHeaderFlags {
        client_ca_file: path(&flags.requestheader_client_ca_file),
        allowed_names: header_list(
            "requestheader-allowed-names",
            &flags.requestheader_allowed_names,
        ),
        username_headers: header_list(
            "requestheader-username-headers",
            &flags.requestheader_username_headers,
        ),
        uid_headers: header_list(
            "requestheader-uid-headers",
            &flags.requestheader_uid_headers,
        ),
        group_headers: header_list(
            "requestheader-group-headers",
            &flags.requestheader_group_headers,
        ),
        extra_headers_prefix: header_list(
            "requestheader-extra-headers-prefix",
            &flags.requestheader_extra_headers_prefix,
        ),
    };
    if !request_header.uid_headers.is_empty()
        && !request_header
            .uid_headers
            .iter()
            .any(|h| h.eq_ignore_ascii_case("X-Remote-Uid"))
    {
        problems
            .push("--requestheader-uid-headers: must contain \"X-Remote-Uid\" when set".to_owned());
    }

    let always_allow_paths = csv(&flags.authorization_always_allow_paths);
    for p in &always_allow_paths {
        if p.find('*').is_some_and(|i| i != p.len() - 1) {
            problems.push(format!(
                "--authorization-always-allow-paths: {p:?}: only trailing * allowed"
            ));
        }
    }
    for (flag, ttl) in [
        (
            "authentication-token-webhook-cache-ttl",
            flags.authentication_token_webhook_cache_ttl,
        ),
        (
            "authorization-webhook-cache-authorized-ttl",
            flags.authorization_webhook_cache_authorized_ttl,
        ),
        (
            "authorization-webhook-cache-unauthorized-ttl",
            flags.authorization_webhook_cache_unauthorized_ttl,
        ),
    ] {
        if ttl.0 > Duration::from_secs(24 * 3600) {
            problems.push(format!(
                "--{flag}: {ttl}: at most 24h0m0s (0 turns the cache off)"
            ));
        }
    }

    let config = ServingConfig {
        cert_dir: path(&flags.cert_dir),
        tls_min_version,
        tls_cipher_suites,
        tls_curve_preferences,
        http2_max_streams,
        disable_http2: flags.disable_http2_serving,
        permit_port_sharing: flags.permit_port_sharing,
        permit_address_sharing: flags.permit_address_sharing,
        authentication: AuthenticationConfig {
            kubeconfig: path(&flags.authentication_kubeconfig),
            skip_lookup: flags.authentication_skip_lookup,
            tolerate_lookup_failure: flags.authentication_tolerate_lookup_failure,
            token_cache_ttl: flags.authentication_token_webhook_cache_ttl.0,
            client_ca_file: path(&flags.client_ca_file),
            request_header,
        },
        authorization: AuthorizationConfig {
            kubeconfig: path(&flags.authorization_kubeconfig),
            always_allow_paths,
            always_allow_groups: defaults.authorization.always_allow_groups,
            allowed_ttl: flags.authorization_webhook_cache_authorized_ttl.0,
            denied_ttl: flags.authorization_webhook_cache_unauthorized_ttl.0,
        },
    };
    if problems.is_empty() {
        Ok(config)
    } else {
        Err(problems)
    }
}

/// pflag's string slice: each occurrence is one CSV record, occurrences append, an empty
/// occurrence contributes nothing (the same rule as `--controllers`).
fn csv(occurrences: &[String]) -> Vec<String> {
    super::flags::controller_entries(occurrences)
}

fn path(value: &str) -> Option<PathBuf> {
    (!value.is_empty()).then(|| PathBuf::from(value))
}

/// A TCP port; 0 turns the listener off.
fn parse_port(value: &str) -> Result<u16, String> {
    value.trim().parse().map_err(|_| {
        format!("{value:?} is not a port number from 0 to 65535 (0 turns HTTPS serving off)")
    })
}

#[cfg(test)]
mod tests;
