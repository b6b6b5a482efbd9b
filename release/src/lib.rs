//! Release artefacts for kcm-rs: the stripped binary and an OCI image archive of it, written
//! directly, with no container daemon and no registry, so `make release` works wherever cargo
//! does.
//!
//! The archive is an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/...`) with
//! docker's `manifest.json` beside it, as `docker save` writes since Docker 25: `skopeo copy
//! oci-archive:...`, `crane push`, `docker load`, `podman load` and `ctr images import` accept
//! it. The image is one layer: the binary, the shared libraries `ldd` names for it (glibc and the
//! dynamic loader), a CA bundle, and `/etc/passwd` and `/etc/group` with the non-root user it
//! runs as. Its labels come from the binary's own `--version` (version, commit, build date), and
//! every timestamp is the build date, so the same binary always gives the same image digest.

pub mod archive;
pub mod binary;
mod digest;
pub mod layer;
pub mod rootfs;

use std::{
    collections::BTreeMap,
    io,
    path::{Path, PathBuf},
};

pub use binary::BinaryVersion;
/// Re-exported so readers of the archive (the image test) use the same spec types.
pub use oci_spec;

/// Where the CA bundle is looked for when none is given: Debian/Ubuntu, Fedora/RHEL, Alpine/SUSE.
pub const CA_BUNDLE_CANDIDATES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
];

/// The image repository `make release` tags by default; the manifests in config/manifests name it.
pub const DEFAULT_NAME: &str = "localhost/kcm-rs";

/// The file name of the archive inside the output directory.
pub const ARCHIVE_NAME: &str = "kcm-rs.oci.tar";

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// The kcm-rs binary to package (stripped into the output directory first when `strip`).
    pub binary: PathBuf,
    /// Receives the stripped binary and [`ARCHIVE_NAME`].
    pub output_dir: PathBuf,
    /// Repository part of the image reference, e.g. `localhost/kcm-rs`.
    pub name: String,
    /// Tag; the binary's version (`v0.1.0`) when `None`.
    pub tag: Option<String>,
    /// `org.opencontainers.image.source`; "unknown" when `None` or empty.
    pub source: Option<String>,
    /// CA bundle to install; the first of [`CA_BUNDLE_CANDIDATES`] that exists when `None`.
    pub ca_bundle: Option<PathBuf>,
    pub strip: bool,
}

/// What [`build`] wrote.
#[derive(Debug, Clone)]
pub struct Built {
    /// The binary inside the image (the stripped copy, or the input when not stripping).
    pub binary: PathBuf,
    pub archive: PathBuf,
    /// `name:tag`.
    pub reference: String,
    /// `sha256:...` of the image manifest: the digest a registry reports after a push.
    pub manifest_digest: String,
    pub archive_size: u64,
    /// The compressed layer, i.e. what a pull downloads.
    pub layer_size: u64,
    pub version: BinaryVersion,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{what} {}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("`{command}` failed: {detail}")]
    Command { command: String, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error("building the image {what}")]
    Spec {
        what: &'static str,
        #[source]
        source: oci_spec::OciSpecError,
    },
    #[error("serialising the image {what}")]
    Json {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    pub(crate) fn io(what: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Error {
        let path = path.to_path_buf();
        move |source| Error::Io { what, path, source }
    }
}

/// Strips the binary, assembles the root filesystem and writes the image archive.
pub fn build(options: &Options) -> Result<Built, Error> {
    std::fs::create_dir_all(&options.output_dir)
        .map_err(Error::io("creating", &options.output_dir))?;
    let binary = if options.strip {
        let stripped = options.output_dir.join("kcm-rs");
        binary::strip(&options.binary, &stripped)?;
        stripped
    } else {
        options.binary.clone()
    };
    let version = binary::read_version(&binary)?;
    let created = (version.built.parse::<jiff::Timestamp>())
        .map_err(|e| Error::Invalid(format!("build date {:?}: {e}", version.built)))?;
    let mtime = u64::try_from(created.as_second())
        .map_err(|_| Error::Invalid(format!("build date {} is before 1970", version.built)))?;

    let ca_bundle = match &options.ca_bundle {
        Some(path) => path.clone(),
        None => CA_BUNDLE_CANDIDATES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                Error::Invalid(format!(
                    "no CA bundle found (looked at {}); install ca-certificates or pass --ca-bundle",
                    CA_BUNDLE_CANDIDATES.join(", ")
                ))
            })?,
    };
    let libraries = binary::shared_libraries(&binary)?;
    let root = rootfs::assemble(&binary, &libraries, &ca_bundle)?;
    let layer = layer::write_layer(&root, mtime)?;

    let tag = options
        .tag
        .clone()
        .unwrap_or_else(|| version.version.clone());
    let source = options
        .source
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "unknown".to_owned());
    let labels = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_owned(),
            version.program.clone(),
        ),
        (
            "org.opencontainers.image.description".to_owned(),
            "A kube-controller-manager-style process in Rust".to_owned(),
        ),
        (
            "org.opencontainers.image.version".to_owned(),
            version.version.clone(),
        ),
        (
            "org.opencontainers.image.revision".to_owned(),
            version.commit.clone(),
        ),
        (
            "org.opencontainers.image.created".to_owned(),
            version.built.clone(),
        ),
        ("org.opencontainers.image.source".to_owned(), source),
        (
            "org.opencontainers.image.licenses".to_owned(),
            env!("CARGO_PKG_LICENSE").to_owned(),
        ),
    ]);
    let metadata = archive::ImageMetadata {
        name: options.name.clone(),
        tag,
        created: version.built.clone(),
        labels,
        architecture: archive::host_architecture().to_owned(),
    };
    let archive = options.output_dir.join(ARCHIVE_NAME);
    let written = archive::write_archive(&metadata, &layer, mtime, &archive)?;
    Ok(Built {
        binary,
        archive,
        reference: metadata.reference(),
        manifest_digest: written.manifest_digest,
        archive_size: written.size,
        layer_size: layer.data.len() as u64,
        version,
    })
}
