//! Controllers read pods only as `CachedPod`, the compact form the informer cache holds, so a
//! controller cannot depend on a pod field the cache does not carry: reading one is a compile
//! error, and this test fails if controller code reaches for the full k8s-openapi `Pod` instead
//! (outside the two places that build new pods from a template and send them to the API).

use std::{fs, path::Path};

/// Files that may name the full `Pod`: they create pods, never read cached ones.
const ALLOWED: &[&str] = &["replicaset/pod_template.rs", "replicaset/control.rs"];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("readable source tree").flatten() {
        let path = entry.path();
        if path.is_dir() {
            // Unit tests build full pods on purpose and convert them.
            if path.file_name().is_some_and(|n| n == "tests") {
                continue;
            }
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && path.file_name().is_some_and(|n| n != "tests.rs")
        {
            out.push(path);
        }
    }
}

/// The code of a line without its comment and string literals.
fn code_of(line: &str) -> String {
    let mut code = String::new();
    let mut in_string = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if in_string => {
                chars.next();
            }
            '"' => in_string = !in_string,
            '/' if !in_string && chars.peek() == Some(&'/') => break,
            _ if !in_string => code.push(c),
            _ => {}
        }
    }
    code
}

fn names_full_pod(code: &str) -> bool {
    code.match_indices("Pod").any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + 3..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '_')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '_')
    })
}

#[test]
fn controllers_read_pods_only_in_their_cached_form() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    assert!(files.len() > 10, "found the sources: {files:?}");
    let mut offenders = Vec::new();
    for file in files {
        let relative = file
            .strip_prefix(&src)
            .expect("under src")
            .to_string_lossy()
            .replace('\\', "/");
        if ALLOWED.contains(&relative.as_str()) {
            continue;
        }
        let text = fs::read_to_string(&file).expect("readable file");
        for (number, line) in text.lines().enumerate() {
            if names_full_pod(&code_of(line)) {
                offenders.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "controller code uses the full Pod type; read kcm_shared::cached_pod::CachedPod (and \
         add the field there, documented, if it is missing):\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scanner_sees_a_full_pod_but_not_its_relatives() {
    assert!(names_full_pod("use k8s_openapi::api::core::v1::Pod;"));
    assert!(names_full_pod("fn f(p: &Pod) {}"));
    assert!(!names_full_pod("CachedPod PodTemplateSpec PodPort"));
    assert!(!names_full_pod(&code_of(
        r#"format!("can't adopt Pod {x}") // a Pod"#
    )));
}
