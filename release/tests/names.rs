//! The image name and tag are written in several places that nothing else ties together: the
//! Makefile's default for `make release`, the manifests in config/manifests and the
//! Containerfile. A version bump or a rename must change all of them, or a kubeadm user imports
//! one name and the static pod asks for another.

use std::path::Path;

fn read(relative: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn manifests_containerfile_and_makefile_agree_on_the_image_name() {
    // kcm-rs and the release tooling share the workspace version, so this is the binary's.
    let version = concat!("v", env!("CARGO_PKG_VERSION"));
    let reference = format!("{}:{version}", kcm_release::DEFAULT_NAME);

    let makefile = read("Makefile");
    assert!(
        makefile
            .lines()
            .any(|l| l == format!("IMAGE_NAME ?= {}", kcm_release::DEFAULT_NAME)),
        "the Makefile's IMAGE_NAME default is not {}",
        kcm_release::DEFAULT_NAME
    );
    for manifest in [
        "config/manifests/static-pod.yaml",
        "config/manifests/ha-deployment.yaml",
    ] {
        let text = read(manifest);
        let images: Vec<&str> = text
            .lines()
            .filter_map(|l| l.trim().strip_prefix("image: "))
            .collect();
        assert_eq!(images, [reference.as_str()], "{manifest}");
    }
    let containerfile = read("Containerfile");
    assert!(
        containerfile.contains(&format!("ARG KCM_VERSION={version}\n")),
        "the Containerfile's KCM_VERSION is not {version}"
    );
}
