//! A metadata-only client for any namespaced resource (client-go's `metadata.Interface` as the
//! namespace deleter uses it): list, delete one, delete the collection.
//!
//! Every request asks for `PartialObjectMetadata(List)`, so the server never sends whole
//! objects: a `deletecollection` of 1 000 Secrets returns 1 000 names and finalizers, not their
//! data. kube's `Api::delete_collection` cannot ask for that (it sends no metadata `Accept`
//! header for deletes), hence this small client on kube's request builder. Deletes use
//! Background propagation, so the garbage collector never adds the orphan finalizer to what a
//! namespace deletion removes.

use kube::{
    api::{DeleteParams, ListParams},
    core::Request,
};
use serde::Deserialize;

use super::{estimate::PodGrace, resource::GroupVersionResource};
use crate::toolkit::ApiFailure;

const METADATA_LIST: &str =
    "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json";
const METADATA: &str =
    "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json";

/// The metadata of one listed item that the deleter reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
pub struct ItemMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default, deserialize_with = "null_as_empty")]
    pub finalizers: Vec<String>,
}

/// An absent or `null` list as empty: the apiserver writes an empty metadata list as
/// `"items": null`.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Item {
    #[serde(default)]
    metadata: ItemMeta,
}

#[derive(Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
struct List<T> {
    #[serde(default = "Vec::new", deserialize_with = "null_as_empty")]
    items: Vec<T>,
}

/// Metadata-only access to namespaced content, through the namespace controller's client.
#[derive(Clone)]
pub struct MetadataClient {
    client: kube::Client,
}

fn build(
    result: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    accept: &str,
) -> Result<http::Request<Vec<u8>>, ApiFailure> {
    let mut request = result.map_err(|e| ApiFailure::from(kube::Error::BuildRequest(e)))?;
    let value = http::HeaderValue::from_str(accept)
        .map_err(|e| ApiFailure::from(kube::Error::HttpError(e.into())))?;
    request.headers_mut().insert(http::header::ACCEPT, value);
    Ok(request)
}

impl MetadataClient {
    pub fn new(client: kube::Client) -> Self {
        Self { client }
    }

    /// `DELETE <collection>` with Background propagation and no selector.
    pub async fn delete_collection(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
    ) -> Result<(), ApiFailure> {
        let request = Request::new(gvr.collection_path(namespace))
            .delete_collection(&DeleteParams::background(), &ListParams::default());
        // The body lists what was deleted; only success matters.
        self.client
            .request_text(build(request, METADATA_LIST)?)
            .await?;
        Ok(())
    }

    /// `DELETE <collection>/<name>` with Background propagation.
    pub async fn delete(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
        name: &str,
    ) -> Result<(), ApiFailure> {
        let request =
            Request::new(gvr.collection_path(namespace)).delete(name, &DeleteParams::background());
        self.client.request_text(build(request, METADATA)?).await?;
        Ok(())
    }

    /// `GET <collection>`: every item's name and finalizers.
    pub async fn list(
        &self,
        gvr: &GroupVersionResource,
        namespace: &str,
    ) -> Result<Vec<ItemMeta>, ApiFailure> {
        let request = Request::new(gvr.collection_path(namespace)).list(&ListParams::default());
        let list: List<Item> = self.client.request(build(request, METADATA_LIST)?).await?;
        Ok(list.items.into_iter().map(|item| item.metadata).collect())
    }

    /// The pods of `namespace` as the grace estimate reads them. This one list needs the spec
    /// and status, so it is a full list (upstream lists through the typed client too); only
    /// the two fields are kept.
    pub async fn pod_graces(&self, namespace: &str) -> Result<Vec<PodGrace>, ApiFailure> {
        let request = Request::new(GroupVersionResource::pods().collection_path(namespace))
            .list(&ListParams::default())
            .map_err(|e| ApiFailure::from(kube::Error::BuildRequest(e)))?;
        let list: List<PodGrace> = self.client.request(request).await?;
        Ok(list.items)
    }
}

#[cfg(test)]
mod tests;
