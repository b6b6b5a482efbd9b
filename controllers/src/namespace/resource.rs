//! What the deleter knows about one kind of namespaced content: its group/version/resource and
//! which of the verbs it needs the server offers for it.
//!
//! The text forms matter: upstream writes them into conditions and errors, and users grep for
//! them. A GVR prints as Go's `schema.GroupVersionResource` does (`/v1, Resource=pods`,
//! `apps/v1, Resource=deployments`) and a group/resource as `<resource>.<group>`, which leaves
//! a trailing dot for the core group (`configmaps.`).

use std::fmt;

/// `schema.GroupVersionResource`. The core group is the empty string.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GroupVersionResource {
    pub group: String,
    pub version: String,
    pub resource: String,
}

impl GroupVersionResource {
    pub fn new(group: &str, version: &str, resource: &str) -> Self {
        Self {
            group: group.to_owned(),
            version: version.to_owned(),
            resource: resource.to_owned(),
        }
    }

    /// `v1/pods`, the one resource deleted before everything else.
    pub fn pods() -> Self {
        Self::new("", "v1", "pods")
    }

    pub fn is_pods(&self) -> bool {
        self.group.is_empty() && self.version == "v1" && self.resource == "pods"
    }

    /// `<resource>.<group>` as the ContentRemaining condition prints it (Go
    /// `fmt.Sprintf("%s.%s", gvr.Resource, gvr.Group)`), so core resources end in a dot.
    pub fn group_resource(&self) -> String {
        format!("{}.{}", self.resource, self.group)
    }

    /// The collection URL of this resource in `namespace`.
    pub fn collection_path(&self, namespace: &str) -> String {
        let root = if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        };
        format!("{root}/namespaces/{namespace}/{}", self.resource)
    }
}

impl fmt::Display for GroupVersionResource {
    /// Go's `GroupVersionResource.String()`: `group/version, Resource=resource`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}, Resource={}",
            self.group, self.version, self.resource
        )
    }
}

/// The verbs the deleter uses, as discovery reported them for a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Verbs {
    pub delete: bool,
    pub delete_collection: bool,
    pub list: bool,
}

impl Verbs {
    pub fn from_names<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        let mut verbs = Verbs::default();
        for name in names {
            match name {
                "delete" => verbs.delete = true,
                "deletecollection" => verbs.delete_collection = true,
                "list" => verbs.list = true,
                _ => {}
            }
        }
        verbs
    }
}

/// A namespaced resource found by discovery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespacedResource {
    pub gvr: GroupVersionResource,
    pub verbs: Verbs,
}

#[cfg(test)]
mod tests;
