//! The image's root filesystem: the binary, its shared libraries at the paths the loader looks
//! them up by, a CA bundle, and the account files for the non-root user. Nothing else: no shell,
//! no package manager, as in distroless images.

use std::{
    collections::BTreeMap,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
};

use crate::Error;

/// Where the binary goes; the image's entrypoint.
pub const BINARY_PATH: &str = "/usr/local/bin/kcm-rs";
/// Where the CA bundle goes (where rustls-native-certs, OpenSSL and Go all look).
pub const CA_BUNDLE_PATH: &str = "/etc/ssl/certs/ca-certificates.crt";
/// The user the image runs as, distroless's `nonroot`.
pub const USER_ID: u32 = 65532;
pub const USER_NAME: &str = "nonroot";

/// A directory or a regular file (links are not needed: each library sits at its own path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    Dir,
    File(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub node: Node,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Entries by path relative to `/` (`etc/passwd`). A `BTreeMap` keeps every directory before
/// what it contains and the layer's byte order independent of insertion order.
#[derive(Debug, Default, Clone)]
pub struct RootFs {
    entries: BTreeMap<String, Entry>,
}

impl RootFs {
    /// Adds a root-owned file, creating missing parent directories (0755, root).
    pub fn add_file(&mut self, path: &str, data: Vec<u8>, mode: u32) -> Result<(), Error> {
        let path = relative(path)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Entry {
                node: Node::File(data),
                mode,
                uid: 0,
                gid: 0,
            },
        );
        Ok(())
    }

    /// Adds (or re-owns) a directory, creating missing parents.
    pub fn add_dir(&mut self, path: &str, mode: u32, uid: u32, gid: u32) -> Result<(), Error> {
        let path = relative(path)?;
        self.add_parents(&path);
        self.entries.insert(
            path,
            Entry {
                node: Node::Dir,
                mode,
                uid,
                gid,
            },
        );
        Ok(())
    }

    fn add_parents(&mut self, path: &str) {
        let mut end = 0;
        while let Some(slash) = path[end..].find('/') {
            end += slash;
            self.entries.entry(path[..end].to_owned()).or_insert(Entry {
                node: Node::Dir,
                mode: 0o755,
                uid: 0,
                gid: 0,
            });
            end += 1;
        }
    }

    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries
            .iter()
            .map(|(path, entry)| (path.as_str(), entry))
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path.trim_start_matches('/'))
    }
}

/// `/usr/local/bin/kcm-rs` → `usr/local/bin/kcm-rs`, refusing what could escape the root.
fn relative(path: &str) -> Result<String, Error> {
    let trimmed = path.trim_start_matches('/').trim_end_matches('/');
    let bad = trimmed.is_empty()
        || trimmed
            .split('/')
            .any(|part| part.is_empty() || part == "." || part == "..");
    if bad || !path.starts_with('/') {
        return Err(Error::Invalid(format!(
            "image path {path:?} must be absolute and normalised"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Reads a host file with its permission bits (symlinks followed: the image stores the content
/// under the path the loader asks for).
fn host_file(path: &Path) -> Result<(Vec<u8>, u32), Error> {
    let resolved: PathBuf = std::fs::canonicalize(path).map_err(Error::io("resolving", path))?;
    let data = std::fs::read(&resolved).map_err(Error::io("reading", &resolved))?;
    let mode = std::fs::metadata(&resolved)
        .map_err(Error::io("reading the mode of", &resolved))?
        .permissions()
        .mode()
        & 0o7777;
    Ok((data, mode))
}

/// The account files: root (for ownership lookups) and the non-root user the image runs as.
fn account_files() -> [(&'static str, String); 3] {
    [
        (
            "/etc/passwd",
            format!(
                "root:x:0:0:root:/root:/sbin/nologin\n\
                 {USER_NAME}:x:{USER_ID}:{USER_ID}:{USER_NAME}:/home/{USER_NAME}:/sbin/nologin\n"
            ),
        ),
        (
            "/etc/group",
            format!("root:x:0:\n{USER_NAME}:x:{USER_ID}:\n"),
        ),
        // glibc without this file would try DNS before /etc/hosts.
        ("/etc/nsswitch.conf", "hosts: files dns\n".to_owned()),
    ]
}

/// The root filesystem for `binary` with the given shared libraries and CA bundle.
pub fn assemble(binary: &Path, libraries: &[PathBuf], ca_bundle: &Path) -> Result<RootFs, Error> {
    let mut root = RootFs::default();
    let (data, _) = host_file(binary)?;
    root.add_file(BINARY_PATH, data, 0o755)?;
    for library in libraries {
        let (data, mode) = host_file(library)?;
        let path = library.to_str().ok_or_else(|| {
            Error::Invalid(format!("library path {} is not UTF-8", library.display()))
        })?;
        root.add_file(path, data, mode)?;
    }
    let (bundle, _) = host_file(ca_bundle)?;
    if !String::from_utf8_lossy(&bundle).contains("-----BEGIN CERTIFICATE-----") {
        return Err(Error::Invalid(format!(
            "{} holds no PEM certificate",
            ca_bundle.display()
        )));
    }
    root.add_file(CA_BUNDLE_PATH, bundle, 0o644)?;
    for (path, text) in account_files() {
        root.add_file(path, text.into_bytes(), 0o644)?;
    }
    root.add_dir("/root", 0o700, 0, 0)?;
    root.add_dir(&format!("/home/{USER_NAME}"), 0o700, USER_ID, USER_ID)?;
    root.add_dir("/tmp", 0o1777, 0, 0)?;
    Ok(root)
}

#[cfg(test)]
mod tests;
