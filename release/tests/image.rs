//! The release image, checked the way a registry and a container runtime would see it: unpack the
//! archive with the system's `tar`, verify every blob against its digest with `sha256sum`, read
//! the index, manifest and config with the OCI spec types, unpack the layer and run the binary
//! from that root filesystem (`chroot` as the image's user when running as root, otherwise
//! through the image's own dynamic loader).
//!
//! Which archive: `KCM_RELEASE_IMAGE=<path>` checks that one (`make release` sets it to the
//! archive it just wrote). Without it, the test packages the debug build of kcm-rs the same way
//! `make release` packages the release build, so `make test` checks the packaging on every run.

use std::{
    collections::HashMap,
    os::unix::fs::PermissionsExt,
    path::{Path, PathBuf},
    process::{Command, Output},
};

use kcm_release::{
    Built, Options,
    oci_spec::image::{ImageConfiguration, ImageIndex, ImageManifest, MediaType},
    rootfs,
};

#[test]
fn image_archive_unpacks_and_its_binary_runs_from_the_unpacked_root() {
    // Per process: `make test` (debug) and `make release` (release) share CARGO_TARGET_TMPDIR.
    let work = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("release-image-test.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).expect("creating the work directory");

    let archive = match std::env::var_os("KCM_RELEASE_IMAGE").filter(|p| !p.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(
                path.is_file(),
                "KCM_RELEASE_IMAGE={} does not exist",
                path.display()
            );
            eprintln!("checking {}", path.display());
            path
        }
        None => {
            let built = package_debug_build(&work.join("build"));
            eprintln!(
                "packaged the debug build as {} ({}, {} bytes)",
                built.archive.display(),
                built.manifest_digest,
                built.archive_size
            );
            built.archive
        }
    };

    let layout = work.join("layout");
    std::fs::create_dir_all(&layout).expect("creating the layout directory");
    run_ok(
        Command::new("tar")
            .arg("-xf")
            .arg(&archive)
            .arg("-C")
            .arg(&layout),
    );
    let image = read_layout(&layout);
    let root = work.join("root");
    std::fs::create_dir_all(&root).expect("creating the root directory");
    run_ok(
        Command::new("tar")
            .arg("--numeric-owner")
            .arg("-xzf")
            .arg(&image.layer)
            .arg("-C")
            .arg(&root),
    );
    check_root_filesystem(&root);
    run_from_root(&root, &image.labels);

    std::fs::remove_dir_all(&work).expect("removing the work directory");
}

/// Packages the debug build of kcm-rs with the release tooling: `KCM_RS_BINARY`, else
/// `target/debug/kcm-rs` as `make test`'s build left it, else a fresh `cargo build`. An older
/// binary is as good as a new one here: the test compares the image with the binary it holds.
fn package_debug_build(output_dir: &Path) -> Built {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the release package has a parent directory");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|p| !p.is_empty())
        .map_or_else(|| workspace.join("target"), |dir| workspace.join(dir));
    let binary = match std::env::var_os("KCM_RS_BINARY").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => {
            let binary = target.join("debug").join("kcm-rs");
            if !binary.is_file() {
                cargo_build_kcm_rs(workspace);
            }
            binary
        }
    };
    kcm_release::build(&Options {
        binary,
        output_dir: output_dir.to_path_buf(),
        name: kcm_release::DEFAULT_NAME.to_owned(),
        tag: None,
        source: Some("https://example.invalid/kcm-rs".to_owned()),
        ca_bundle: None,
        strip: true,
    })
    .unwrap_or_else(|e| panic!("packaging the debug build: {e:?}"))
}

/// `cargo build -p kcm-rs`, run only when no debug binary exists yet.
fn cargo_build_kcm_rs(workspace: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut build = Command::new(cargo);
    build
        .args(["build", "--quiet", "-p", "kcm-rs", "--bin", "kcm-rs"])
        .current_dir(workspace);
    // cargo test gives this process CARGO_MANIFEST_DIR, CARGO_PKG_*, ...; ring's build script
    // tracks some of them, so passing them on would rebuild ring and everything above it.
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy();
        if name.starts_with("CARGO_") && name != "CARGO_HOME" && name != "CARGO_TARGET_DIR" {
            build.env_remove(&*name);
        }
    }
    run_ok(&mut build);
}

struct Image {
    layer: PathBuf,
    labels: HashMap<String, String>,
}

/// Checks the OCI layout (and docker's manifest.json) and returns the layer and the labels.
fn read_layout(layout: &Path) -> Image {
    let layout_file = read_json(&layout.join("oci-layout"));
    assert_eq!(layout_file["imageLayoutVersion"], "1.0.0");

    // Every blob is named by its content's digest; sha256sum checks that independently.
    let blobs = layout.join("blobs").join("sha256");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&blobs).expect("reading blobs/sha256") {
        let entry = entry.expect("reading blobs/sha256");
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    assert_eq!(names.len(), 3, "config, manifest, one layer: {names:?}");
    for name in &names {
        let path = blobs.join(name);
        let sum = run_ok(Command::new("sha256sum").arg(&path));
        let sum = String::from_utf8_lossy(&sum.stdout);
        assert_eq!(
            sum.split_whitespace().next(),
            Some(name.as_str()),
            "{}",
            path.display()
        );
    }
    let blob = |digest: &str| blobs.join(digest.trim_start_matches("sha256:"));

    let index = ImageIndex::from_file(layout.join("index.json")).expect("index.json");
    assert_eq!(index.schema_version(), 2);
    assert_eq!(index.manifests().len(), 1, "one image in the index");
    let entry = &index.manifests()[0];
    assert_eq!(entry.media_type(), &MediaType::ImageManifest);
    let annotations = entry.annotations().clone().unwrap_or_default();
    let reference = annotations
        .get("io.containerd.image.name")
        .expect("io.containerd.image.name annotation")
        .clone();
    let tag = annotations
        .get("org.opencontainers.image.ref.name")
        .expect("org.opencontainers.image.ref.name annotation");
    assert!(
        reference.ends_with(&format!(":{tag}")),
        "{reference} vs {tag}"
    );
    let platform = entry.platform().clone().expect("platform in the index");
    assert_eq!(platform.os().to_string(), "linux");

    let manifest_path = blob(entry.digest().as_ref());
    assert_eq!(file_size(&manifest_path), entry.size());
    let manifest = ImageManifest::from_file(&manifest_path).expect("the image manifest");
    assert_eq!(manifest.schema_version(), 2);
    assert_eq!(manifest.config().media_type(), &MediaType::ImageConfig);
    let config_path = blob(manifest.config().digest().as_ref());
    assert_eq!(file_size(&config_path), manifest.config().size());
    assert_eq!(manifest.layers().len(), 1, "one layer");
    let layer_descriptor = &manifest.layers()[0];
    assert_eq!(layer_descriptor.media_type(), &MediaType::ImageLayerGzip);
    let layer = blob(layer_descriptor.digest().as_ref());
    assert_eq!(file_size(&layer), layer_descriptor.size());

    let config = ImageConfiguration::from_file(&config_path).expect("the image config");
    assert_eq!(config.os().to_string(), "linux");
    assert_eq!(config.architecture(), platform.architecture());
    // The config names the uncompressed layer by digest (diff_id).
    let unpacked = run_ok(
        Command::new("sh")
            .arg("-c")
            .arg(format!("gzip -dc '{}' | sha256sum", layer.display())),
    );
    let diff_id = format!(
        "sha256:{}",
        String::from_utf8_lossy(&unpacked.stdout)
            .split_whitespace()
            .next()
            .unwrap_or_default()
    );
    assert_eq!(config.rootfs().diff_ids(), &vec![diff_id]);
    let run = config.config().clone().expect("the config's run settings");
    assert_eq!(
        run.entrypoint().as_deref(),
        Some(&[rootfs::BINARY_PATH.to_owned()][..])
    );
    assert_eq!(run.user().as_deref(), Some("65532:65532"));
    let labels = run.labels().clone().expect("labels");
    for key in ["title", "version", "revision", "created", "source"] {
        let key = format!("org.opencontainers.image.{key}");
        assert!(
            labels.get(&key).is_some_and(|v| !v.is_empty()),
            "label {key} missing: {labels:?}"
        );
    }
    assert_eq!(labels["org.opencontainers.image.title"], "kcm-rs");
    assert_eq!(
        config.created().as_deref(),
        Some(labels["org.opencontainers.image.created"].as_str())
    );
    // docker's manifest.json points at the same blobs under the same reference.
    let docker = read_json(&layout.join("manifest.json"));
    let docker = &docker[0];
    assert_eq!(
        docker["Config"],
        format!("blobs/sha256/{}", manifest.config().digest().digest())
    );
    assert_eq!(
        docker["Layers"],
        serde_json::json!([format!(
            "blobs/sha256/{}",
            layer_descriptor.digest().digest()
        )])
    );
    assert_eq!(docker["RepoTags"], serde_json::json!([reference]));

    Image { layer, labels }
}

/// The unpacked root holds the binary (stripped), its loader, a CA bundle and the accounts.
fn check_root_filesystem(root: &Path) {
    let binary = root.join(rootfs::BINARY_PATH.trim_start_matches('/'));
    let mode = std::fs::metadata(&binary)
        .unwrap_or_else(|e| panic!("{}: {e}", binary.display()))
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "{}", binary.display());
    let elf = std::fs::read(&binary).expect("reading the binary");
    assert!(
        !elf.windows(8).any(|w| w == b".symtab\0"),
        "the binary still has a symbol table: not stripped"
    );
    let interpreter = elf_interpreter(&elf).expect("kcm-rs is dynamically linked on glibc");
    assert!(
        root.join(interpreter.trim_start_matches('/')).is_file(),
        "the loader {interpreter} is not in the image"
    );

    let passwd = read_text(&root.join("etc/passwd"));
    assert!(
        passwd
            .lines()
            .any(|l| l.starts_with("nonroot:x:65532:65532:")),
        "{passwd}"
    );
    let group = read_text(&root.join("etc/group"));
    assert!(group.lines().any(|l| l == "nonroot:x:65532:"), "{group}");
    let bundle = read_text(&root.join(rootfs::CA_BUNDLE_PATH.trim_start_matches('/')));
    assert!(
        bundle.matches("-----BEGIN CERTIFICATE-----").count() > 10,
        "the CA bundle holds a handful of certificates at least"
    );
}

/// `--version` and `--help` from the unpacked root: under `chroot` as the image's user when we
/// can (root), else through the image's loader with the image's libraries only.
fn run_from_root(root: &Path, labels: &HashMap<String, String>) {
    let uid = run_ok(Command::new("id").arg("-u"));
    let as_root = String::from_utf8_lossy(&uid.stdout).trim() == "0";
    let kcm_rs = |args: &[&str]| -> Output {
        let mut command = if as_root {
            let mut c = Command::new("chroot");
            c.arg("--userspec=65532:65532")
                .arg(root)
                .arg(rootfs::BINARY_PATH);
            c
        } else {
            let elf = std::fs::read(root.join(rootfs::BINARY_PATH.trim_start_matches('/')))
                .expect("reading the binary");
            let interpreter = elf_interpreter(&elf).expect("the binary's loader");
            let library_dirs = [
                "lib",
                "lib64",
                "usr/lib",
                "lib/x86_64-linux-gnu",
                "lib/aarch64-linux-gnu",
            ]
            .map(|d| root.join(d).display().to_string())
            .join(":");
            let mut c = Command::new(root.join(interpreter.trim_start_matches('/')));
            c.arg("--library-path")
                .arg(library_dirs)
                .arg(root.join(rootfs::BINARY_PATH.trim_start_matches('/')));
            c
        };
        command
            .args(args)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");
        command
            .output()
            .expect("starting kcm-rs from the image root")
    };
    eprintln!(
        "running kcm-rs from {} {}",
        root.display(),
        if as_root {
            "under chroot as 65532:65532"
        } else {
            "through its own loader (not root: no chroot)"
        }
    );

    let version = kcm_rs(&["--version"]);
    assert!(version.status.success(), "--version: {version:?}");
    let expected = format!(
        "{} {} (commit {}, built {})\n",
        labels["org.opencontainers.image.title"],
        labels["org.opencontainers.image.version"],
        labels["org.opencontainers.image.revision"],
        labels["org.opencontainers.image.created"]
    );
    assert_eq!(String::from_utf8_lossy(&version.stdout), expected);

    let help = kcm_rs(&["--help"]);
    assert!(help.status.success(), "--help: {help:?}");
    let help = String::from_utf8_lossy(&help.stdout);
    for flag in [
        "--kubeconfig",
        "--leader-elect",
        "--controllers",
        "--secure-port",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
    }

    // Bad input is refused with exit code 2 and the flag named, inside the image as outside.
    let bad = kcm_rs(&["--kube-api-qps=fast"]);
    assert_eq!(bad.status.code(), Some(2), "{bad:?}");
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("--kube-api-qps"),
        "{bad:?}"
    );
}

/// PT_INTERP of a 64-bit little-endian ELF file.
fn elf_interpreter(elf: &[u8]) -> Option<String> {
    let u16_at = |at: usize| Some(u16::from_le_bytes(elf.get(at..at + 2)?.try_into().ok()?));
    let u32_at = |at: usize| Some(u32::from_le_bytes(elf.get(at..at + 4)?.try_into().ok()?));
    let u64_at = |at: usize| Some(u64::from_le_bytes(elf.get(at..at + 8)?.try_into().ok()?));
    if elf.get(..5)? != b"\x7fELF\x02" {
        return None;
    }
    let phoff = usize::try_from(u64_at(0x20)?).ok()?;
    let phentsize = usize::from(u16_at(0x36)?);
    for i in 0..usize::from(u16_at(0x38)?) {
        let header = phoff + i * phentsize;
        if u32_at(header)? == 3 {
            let offset = usize::try_from(u64_at(header + 8)?).ok()?;
            let size = usize::try_from(u64_at(header + 32)?).ok()?;
            let path = elf.get(offset..offset + size)?;
            return Some(
                String::from_utf8_lossy(path)
                    .trim_end_matches('\0')
                    .to_owned(),
            );
        }
    }
    None
}

fn run_ok(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("starting {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn read_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read_text(path)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .len()
}
