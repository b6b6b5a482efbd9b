//! The `pod-template-hash` and finding a ReplicaSet by its template (upstream
//! `controller.ComputeHash`, `rand.SafeEncodeString`, util `EqualIgnoreHash`,
//! `generateReplicaSetName`).
//!
//! Upstream hashes go-spew's dump of the Go struct, which cannot be reproduced outside Go; any
//! deterministic hash with the same alphabet serves, because ReplicaSets are found by comparing
//! templates, never by hash. Here it is FNV-32a over the template's normalised JSON, then the
//! collision count as upstream appends it (4 little-endian bytes padded to 8), rendered as
//! decimal digits mapped into `[456789bcdf]`.
//!
//! Template equality is `apiequality.Semantic.DeepEqual` with the hash label removed from both:
//! absent and empty lists and maps compare equal. The comparison runs on JSON with nulls,
//! empty lists and empty objects pruned, which also equates a missing struct with an empty one
//! (`securityContext: {}`); the apiserver writes both templates the same way, so this only
//! matters for hand-made ReplicaSets.

use k8s_openapi::api::core::v1::PodTemplateSpec;
use serde_json::Value;

/// `apps.DefaultDeploymentUniqueLabelKey`.
pub const POD_TEMPLATE_HASH_LABEL: &str = "pod-template-hash";

/// `validation.DNS1123SubdomainMaxLength`.
const MAX_NAME_LENGTH: usize = 253;

/// The alphabet of `rand.SafeEncodeString` (no vowels, no 0/1/3).
const SAFE_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// `rand.SafeEncodeString`: each byte mapped into [`SAFE_ALPHABET`].
pub fn safe_encode(s: &str) -> String {
    s.bytes()
        .map(|b| char::from(SAFE_ALPHABET[usize::from(b) % SAFE_ALPHABET.len()]))
        .collect()
}

/// 32-bit FNV-1a.
struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Self(0x811c_9dc5)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u32::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
}

/// The template as JSON with nulls, empty lists and empty objects removed, recursively, and
/// the `pod-template-hash` label dropped.
pub fn normalized_template(template: &PodTemplateSpec) -> Value {
    let mut value = serde_json::to_value(template).unwrap_or(Value::Null);
    if let Some(labels) = value
        .get_mut("metadata")
        .and_then(|m| m.get_mut("labels"))
        .and_then(Value::as_object_mut)
    {
        labels.remove(POD_TEMPLATE_HASH_LABEL);
    }
    prune(&mut value);
    value
}

/// Removes nulls, empty arrays and empty objects below `value`; true if `value` itself is empty.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(items) => {
            for item in items.iter_mut() {
                // An empty element stays (lists are positional), as an empty value.
                prune(item);
            }
            items.is_empty()
        }
        Value::Object(map) => {
            map.retain(|_, v| !prune(v));
            map.is_empty()
        }
        _ => false,
    }
}

/// `ComputeHash(template, collisionCount)`.
pub fn compute_hash(template: &PodTemplateSpec, collision_count: Option<i32>) -> String {
    let mut hasher = Fnv32a::new();
    let json = serde_json::to_vec(&normalized_template(template)).unwrap_or_default();
    hasher.write(&json);
    if let Some(count) = collision_count {
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&(count as u32).to_le_bytes());
        hasher.write(&bytes);
    }
    safe_encode(&hasher.0.to_string())
}

/// `EqualIgnoreHash`: the templates are semantically equal once the hash label is removed.
pub fn equal_ignore_hash(a: &PodTemplateSpec, b: &PodTemplateSpec) -> bool {
    normalized_template(a) == normalized_template(b)
}

/// `generateReplicaSetName`: `<deployment>-<hash>`, the Deployment part cut so the name fits
/// 253 characters.
pub fn replica_set_name(deployment: &str, hash: &str) -> String {
    let max_prefix = MAX_NAME_LENGTH.saturating_sub(1 + hash.len());
    let prefix = if deployment.len() > max_prefix && max_prefix > 0 {
        // Names are ASCII (DNS-1123); cut on a char boundary regardless.
        let mut end = max_prefix;
        while !deployment.is_char_boundary(end) {
            end -= 1;
        }
        &deployment[..end]
    } else {
        deployment
    };
    format!("{prefix}-{hash}")
}

#[cfg(test)]
mod tests;
