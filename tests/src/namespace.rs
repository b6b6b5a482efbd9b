//! One fresh namespace per test, so tests sharing a control plane cannot see each other's
//! namespaced objects.
//!
//! Namespaces are left behind on purpose: deleting one needs a namespace controller, and the
//! whole control plane is thrown away when the test binary exits anyway.

use std::collections::BTreeMap;

use anyhow::Context;
use k8s_openapi::api::core::v1::Namespace;
use kube::{
    Api, Client, Resource,
    api::{ObjectMeta, PostParams},
};
use rand::{Rng, distr::Alphanumeric};
use serde::de::DeserializeOwned;

/// Label put on every namespace this crate creates.
pub const TEST_NAMESPACE_LABEL: &str = "kcm-testenv/test-namespace";

/// A namespace created for one test.
#[derive(Clone)]
pub struct TestNamespace {
    name: String,
    client: Client,
}

impl TestNamespace {
    /// Creates `<prefix>-<6 random characters>` with the admin client.
    pub async fn create(client: Client, prefix: &str) -> anyhow::Result<Self> {
        let name = unique_name(prefix);
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([(
                    TEST_NAMESPACE_LABEL.to_owned(),
                    "true".to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .with_context(|| format!("creating namespace {name}"))?;
        Ok(Self { name, client })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The admin client the namespace was created with.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// An admin `Api` for a namespaced kind in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned,
        K::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.name)
    }
}

impl std::fmt::Debug for TestNamespace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestNamespace")
            .field("name", &self.name)
            .finish()
    }
}

/// A DNS-1123 label: the prefix lower-cased, other characters turned into '-', cut so the
/// whole name fits in 63 characters, plus a random suffix.
fn unique_name(prefix: &str) -> String {
    let suffix: String = rand::rng()
        .sample_iter(Alphanumeric)
        .take(6)
        .map(|c| char::from(c).to_ascii_lowercase())
        .collect();
    let cleaned: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(63 - 7)
        .collect();
    let cleaned = cleaned.trim_matches('-');
    if cleaned.is_empty() {
        format!("test-{suffix}")
    } else {
        format!("{cleaned}-{suffix}")
    }
}

#[cfg(test)]
mod tests;
