//! The image archive: an OCI image layout in a tar file, with docker's `manifest.json` beside
//! it so that `docker load` of any age and go-containerregistry's tarball reader take it too.
//!
//! JSON documents are written canonically (object keys sorted, no whitespace): oci-spec keeps
//! labels and annotations in `HashMap`s, whose order changes from run to run, and a digest must
//! not.

use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::{self, BufWriter, Write},
    path::Path,
};

use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, HistoryBuilder, ImageConfigurationBuilder,
    ImageIndexBuilder, ImageManifestBuilder, MediaType, OciLayoutBuilder, Os, PlatformBuilder,
    RootFsBuilder, Sha256Digest,
};
use serde_json::Value;

use crate::{Error, layer::Layer, rootfs};

/// Everything about the image besides its layer.
#[derive(Debug, Clone)]
pub struct ImageMetadata {
    /// Repository, e.g. `localhost/kcm-rs`.
    pub name: String,
    pub tag: String,
    /// RFC 3339, the binary's build date.
    pub created: String,
    pub labels: BTreeMap<String, String>,
    /// GOARCH spelling (`amd64`, `arm64`), as image platforms use.
    pub architecture: String,
}

impl ImageMetadata {
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }
}

/// What [`write_archive`] produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// `sha256:...` of the image manifest.
    pub manifest_digest: String,
    /// Bytes of the archive file.
    pub size: u64,
}

/// This machine's architecture in GOARCH spelling: the binary is built for it.
pub fn host_architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// Serialises with object keys sorted at every level, whatever map type the value used.
pub fn canonical_json<T: serde::Serialize>(
    value: &T,
    what: &'static str,
) -> Result<Vec<u8>, Error> {
    fn sort(value: Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<String, Value> =
                    map.into_iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().collect())
            }
            Value::Array(items) => Value::Array(items.into_iter().map(sort).collect()),
            other => other,
        }
    }
    let json_error = |source| Error::Json { what, source };
    let value = serde_json::to_value(value).map_err(json_error)?;
    serde_json::to_vec(&sort(value)).map_err(json_error)
}

fn descriptor(media_type: MediaType, data: &[u8], what: &'static str) -> Result<Descriptor, Error> {
    Ok(Descriptor::new(
        media_type,
        data.len() as u64,
        sha256(&crate::digest::sha256_hex(data), what)?,
    ))
}

fn sha256(hex: &str, what: &'static str) -> Result<Sha256Digest, Error> {
    hex.parse().map_err(|source| Error::Spec { what, source })
}

/// The image configuration: how a runtime starts the container.
fn config_json(metadata: &ImageMetadata, layer: &Layer) -> Result<Vec<u8>, Error> {
    let spec = |source| Error::Spec {
        what: "configuration",
        source,
    };
    let labels: HashMap<String, String> = metadata.labels.clone().into_iter().collect();
    let config = ConfigBuilder::default()
        .user(format!("{}:{}", rootfs::USER_ID, rootfs::USER_ID))
        .entrypoint(vec![rootfs::BINARY_PATH.to_owned()])
        .env(vec![
            "PATH=/usr/local/bin:/usr/bin:/bin".to_owned(),
            format!("SSL_CERT_FILE={}", rootfs::CA_BUNDLE_PATH),
        ])
        .working_dir("/")
        .exposed_ports(vec!["10257/tcp".to_owned()])
        .labels(labels)
        .build()
        .map_err(spec)?;
    let image = ImageConfigurationBuilder::default()
        .created(metadata.created.clone())
        .architecture(Arch::from(metadata.architecture.as_str()))
        .os(Os::Linux)
        .config(config)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(vec![format!("sha256:{}", layer.diff_id)])
                .build()
                .map_err(spec)?,
        )
        .history(vec![
            HistoryBuilder::default()
                .created(metadata.created.clone())
                .created_by(format!(
                    "kcm-release {}: {} with its shared libraries, CA bundle, user {}",
                    env!("CARGO_PKG_VERSION"),
                    rootfs::BINARY_PATH,
                    rootfs::USER_NAME
                ))
                .build()
                .map_err(spec)?,
        ])
        .build()
        .map_err(spec)?;
    canonical_json(&image, "configuration")
}

/// Writes the archive to `path` (through a temporary file, so a failed run leaves no half
/// archive behind).
pub fn write_archive(
    metadata: &ImageMetadata,
    layer: &Layer,
    mtime: u64,
    path: &Path,
) -> Result<Written, Error> {
    let config = config_json(metadata, layer)?;
    let spec = |what| move |source| Error::Spec { what, source };

    let layer_descriptor = Descriptor::new(
        MediaType::ImageLayerGzip,
        layer.data.len() as u64,
        sha256(&layer.digest, "layer descriptor")?,
    );
    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(descriptor(
            MediaType::ImageConfig,
            &config,
            "config descriptor",
        )?)
        .layers(vec![layer_descriptor])
        .build()
        .map_err(spec("manifest"))?;
    let manifest = canonical_json(&manifest, "manifest")?;
    let manifest_descriptor = descriptor(MediaType::ImageManifest, &manifest, "manifest")?;
    let manifest_digest = manifest_descriptor.digest().to_string();

    // containerd and docker read the full reference, skopeo and the OCI spec the tag.
    let annotations = HashMap::from([
        ("io.containerd.image.name".to_owned(), metadata.reference()),
        (
            "org.opencontainers.image.ref.name".to_owned(),
            metadata.tag.clone(),
        ),
    ]);
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![
            DescriptorBuilder::default()
                .media_type(MediaType::ImageManifest)
                .digest(manifest_descriptor.digest().clone())
                .size(manifest_descriptor.size())
                .annotations(annotations)
                .platform(
                    PlatformBuilder::default()
                        .architecture(Arch::from(metadata.architecture.as_str()))
                        .os(Os::Linux)
                        .build()
                        .map_err(spec("platform"))?,
                )
                .build()
                .map_err(spec("index"))?,
        ])
        .build()
        .map_err(spec("index"))?;
    let index = canonical_json(&index, "index")?;
    let layout = canonical_json(
        &OciLayoutBuilder::default()
            .image_layout_version("1.0.0")
            .build()
            .map_err(spec("oci-layout"))?,
        "oci-layout",
    )?;

    let config_blob = format!("blobs/sha256/{}", crate::digest::sha256_hex(&config));
    let layer_blob = format!("blobs/sha256/{}", layer.digest);
    let docker_manifest = canonical_json(
        &serde_json::json!([{
            "Config": config_blob,
            "RepoTags": [metadata.reference()],
            "Layers": [layer_blob],
        }]),
        "docker manifest.json",
    )?;

    let files: [(String, &[u8]); 6] = [
        (config_blob.clone(), &config),
        (layer_blob.clone(), &layer.data),
        (
            format!("blobs/sha256/{}", manifest_descriptor.digest().digest()),
            &manifest,
        ),
        ("oci-layout".to_owned(), &layout),
        ("index.json".to_owned(), &index),
        ("manifest.json".to_owned(), &docker_manifest),
    ];

    let tmp = path.with_extension("tar.tmp");
    let write_error = |source| Error::Io {
        what: "writing",
        path: tmp.clone(),
        source,
    };
    let file = File::create(&tmp).map_err(write_error)?;
    let mut tar = tar::Builder::new(BufWriter::new(file));
    for dir in ["blobs/", "blobs/sha256/"] {
        let mut header = header(mtime, 0o755, 0);
        header.set_entry_type(tar::EntryType::Directory);
        tar.append_data(&mut header, dir, io::empty())
            .map_err(write_error)?;
    }
    for (name, data) in files {
        let mut header = header(mtime, 0o644, data.len() as u64);
        tar.append_data(&mut header, name, data)
            .map_err(write_error)?;
    }
    let mut out = tar.into_inner().map_err(write_error)?;
    out.flush().map_err(write_error)?;
    let size = out.get_ref().metadata().map_err(write_error)?.len();
    drop(out);
    std::fs::rename(&tmp, path).map_err(Error::io("renaming the archive to", path))?;
    Ok(Written {
        manifest_digest,
        size,
    })
}

fn header(mtime: u64, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_mtime(mtime);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(size);
    header
}

#[cfg(test)]
mod tests;
