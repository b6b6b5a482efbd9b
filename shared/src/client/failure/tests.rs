use std::error::Error as StdError;
use std::fmt;
use std::path::Path;

use super::{ApiTarget, FailureClass, describe};

/// An error with a message and a cause, like hyper's and kube's wrappers.
#[derive(Debug)]
struct Wrapper {
    message: &'static str,
    cause: Box<dyn StdError + Send + Sync>,
}

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message)
    }
}

impl StdError for Wrapper {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(self.cause.as_ref())
    }
}

fn wrapped(cause: impl StdError + Send + Sync + 'static) -> Wrapper {
    Wrapper {
        message: "client error (Connect)",
        cause: Box::new(Wrapper {
            message: "tcp connect error",
            cause: Box::new(cause),
        }),
    }
}

fn api_error(code: u16) -> kube::Error {
    kube::Error::Api(Box::new(
        kube::core::Status::failure("denied", "Denied").with_code(code),
    ))
}

#[test]
fn api_statuses_name_401_and_403() {
    assert_eq!(
        FailureClass::of(&api_error(401)),
        FailureClass::Unauthorized
    );
    assert_eq!(FailureClass::of(&api_error(403)), FailureClass::Forbidden);
    assert_eq!(FailureClass::of(&api_error(500)), FailureClass::Status(500));
    assert_eq!(
        describe(&api_error(403)),
        "403 Forbidden: the identity lacks the rights: denied"
    );
}

#[test]
fn a_refused_connection_is_found_deep_in_the_chain() {
    let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    let err = wrapped(refused);
    assert_eq!(FailureClass::of(&err), FailureClass::ConnectionRefused);
    let text = describe(&err);
    assert!(
        text.starts_with("connection refused: client error (Connect): tcp connect error"),
        "{text}"
    );
}

#[test]
fn a_rustls_error_inside_an_io_error_is_an_unknown_authority() {
    let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
    let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
    let err = wrapped(io);
    assert_eq!(FailureClass::of(&err), FailureClass::TlsUnknownAuthority);
    assert!(
        describe(&err).contains("unknown authority"),
        "{}",
        describe(&err)
    );
}

#[test]
fn other_certificate_problems_and_tls_alerts_are_told_apart() {
    let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
    let err = wrapped(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        expired,
    ));
    assert!(
        matches!(FailureClass::of(&err), FailureClass::TlsCertificate(c) if c.contains("Expired"))
    );
    let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
    let err = wrapped(std::io::Error::new(std::io::ErrorKind::InvalidData, alert));
    assert!(matches!(FailureClass::of(&err), FailureClass::Tls(_)));
}

#[test]
fn repeated_layers_are_printed_once() {
    let err = Wrapper {
        message: "failed: boom",
        cause: Box::new(Wrapper {
            message: "boom",
            cause: Box::new(std::io::Error::other("boom")),
        }),
    };
    assert_eq!(describe(&err), "client error: failed: boom");
}

#[test]
fn the_target_names_server_and_kubeconfig() {
    let target = ApiTarget::new(
        "https://10.0.0.1:6443",
        Some(Path::new("/etc/kubernetes/cm.conf")),
    );
    assert_eq!(
        target.to_string(),
        "server https://10.0.0.1:6443 (--kubeconfig /etc/kubernetes/cm.conf)"
    );
    assert_eq!(
        ApiTarget::new("https://k", None).to_string(),
        "server https://k (in-cluster or --master)"
    );
}
