//! What `kubectl get` would show for the kinds the tour touches, plus who created each
//! object (its field manager), so the output says which process did what.

use k8s_openapi::api::{
    apps::v1::{Deployment, ReplicaSet},
    core::v1::{Endpoints, Event, Node, Pod, ReplicationController},
};
use kube::{Api, Client, ResourceExt, api::ListParams};

use crate::table::{Table, age, created_by, written_by};

fn image_of(spec: Option<&k8s_openapi::api::core::v1::PodSpec>) -> String {
    spec.and_then(|s| s.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

pub async fn nodes(client: &Client) -> anyhow::Result<()> {
    let mut t = Table::new(&[
        "NAME",
        "STATUS",
        "AGE",
        "INTERNAL-IP",
        "POD-CIDR",
        "RUNTIME",
    ]);
    for n in Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await?
        .items
    {
        let status = n.status.clone().unwrap_or_default();
        let ready = status
            .conditions
            .iter()
            .flatten()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        let ip = status
            .addresses
            .iter()
            .flatten()
            .find(|a| a.type_ == "InternalIP")
            .map(|a| a.address.clone())
            .unwrap_or_default();
        t.row(vec![
            n.name_any(),
            if ready { "Ready" } else { "NotReady" }.into(),
            age(n.metadata.creation_timestamp.as_ref()),
            ip,
            n.spec.and_then(|s| s.pod_cidr).unwrap_or_default(),
            status
                .node_info
                .map(|i| i.container_runtime_version)
                .unwrap_or_default(),
        ]);
    }
    t.print();
    Ok(())
}

pub async fn deployments(client: &Client, ns: &str) -> anyhow::Result<()> {
    let mut t = Table::new(&["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "IMAGE", "AGE"]);
    for d in Api::<Deployment>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
    {
        let s = d.status.clone().unwrap_or_default();
        let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        t.row(vec![
            d.name_any(),
            format!("{}/{desired}", s.ready_replicas.unwrap_or(0)),
            s.updated_replicas.unwrap_or(0).to_string(),
            s.available_replicas.unwrap_or(0).to_string(),
            image_of(d.spec.as_ref().and_then(|s| s.template.spec.as_ref())),
            age(d.metadata.creation_timestamp.as_ref()),
        ]);
    }
    t.print();
    Ok(())
}

pub fn revision(rs: &ReplicaSet) -> i64 {
    rs.annotations()
        .get("deployment.kubernetes.io/revision")
        .and_then(|r| r.parse().ok())
        .unwrap_or(0)
}

pub async fn replica_sets(client: &Client, ns: &str) -> anyhow::Result<()> {
    let mut t = Table::new(&[
        "NAME",
        "DESIRED",
        "CURRENT",
        "READY",
        "REVISION",
        "IMAGE",
        "CREATED BY",
    ]);
    let mut list = Api::<ReplicaSet>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items;
    list.sort_by_key(revision);
    for rs in list {
        let s = rs.status.clone().unwrap_or_default();
        t.row(vec![
            rs.name_any(),
            rs.spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1)
                .to_string(),
            s.replicas.to_string(),
            s.ready_replicas.unwrap_or(0).to_string(),
            revision(&rs).to_string(),
            image_of(
                rs.spec
                    .as_ref()
                    .and_then(|s| s.template.as_ref())
                    .and_then(|t| t.spec.as_ref()),
            ),
            created_by(&rs.metadata),
        ]);
    }
    t.print();
    Ok(())
}

pub async fn replication_controllers(client: &Client, ns: &str) -> anyhow::Result<()> {
    let mut t = Table::new(&["NAME", "DESIRED", "CURRENT", "READY", "AGE"]);
    for rc in Api::<ReplicationController>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await?
        .items
    {
        let s = rc.status.clone().unwrap_or_default();
        t.row(vec![
            rc.name_any(),
            rc.spec
                .as_ref()
                .and_then(|s| s.replicas)
                .unwrap_or(1)
                .to_string(),
            s.replicas.to_string(),
            s.ready_replicas.unwrap_or(0).to_string(),
            age(rc.metadata.creation_timestamp.as_ref()),
        ]);
    }
    t.print();
    Ok(())
}

/// kubectl's STATUS column: Terminating, a container's waiting reason, the pod's reason, or
/// its phase.
pub fn pod_status(p: &Pod) -> String {
    if p.metadata.deletion_timestamp.is_some() {
        return "Terminating".into();
    }
    let status = p.status.clone().unwrap_or_default();
    if let Some(reason) = status.reason {
        return reason;
    }
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.clone());
    waiting.unwrap_or_else(|| status.phase.unwrap_or_else(|| "Pending".into()))
}

pub async fn pods(client: &Client, ns: &str, selector: &str) -> anyhow::Result<()> {
    let mut t = Table::new(&[
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "IP",
        "NODE",
        "CREATED BY",
        "STATUS BY",
    ]);
    let mut list = Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default().labels(selector))
        .await?
        .items;
    list.sort_by_key(|p| p.name_any());
    for p in list {
        let status = p.status.clone().unwrap_or_default();
        let containers = status.container_statuses.clone().unwrap_or_default();
        let ready = containers.iter().filter(|c| c.ready).count();
        let total = p.spec.as_ref().map_or(0, |s| s.containers.len());
        t.row(vec![
            p.name_any(),
            format!("{ready}/{total}"),
            pod_status(&p),
            containers
                .iter()
                .map(|c| c.restart_count)
                .sum::<i32>()
                .to_string(),
            status.pod_ip.unwrap_or_else(|| "<none>".into()),
            p.spec
                .as_ref()
                .and_then(|s| s.node_name.clone())
                .unwrap_or_else(|| "<none>".into()),
            created_by(&p.metadata),
            written_by(&p.metadata, "status"),
        ]);
    }
    t.print();
    Ok(())
}

pub fn endpoint_ips(e: &Endpoints) -> (Vec<String>, Vec<String>) {
    let (mut ready, mut not_ready) = (Vec::new(), Vec::new());
    for s in e.subsets.iter().flatten() {
        ready.extend(s.addresses.iter().flatten().map(|a| a.ip.clone()));
        not_ready.extend(s.not_ready_addresses.iter().flatten().map(|a| a.ip.clone()));
    }
    ready.sort();
    not_ready.sort();
    (ready, not_ready)
}

pub async fn endpoints(client: &Client, ns: &str, name: &str) -> anyhow::Result<()> {
    let e = Api::<Endpoints>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await?;
    let mut t = Table::new(&["NAME", "READY ADDRESSES", "NOT READY", "WRITTEN BY"]);
    if let Some(e) = e {
        let (ready, not_ready) = endpoint_ips(&e);
        t.row(vec![
            e.name_any(),
            ready.join(","),
            not_ready.join(","),
            created_by(&e.metadata),
        ]);
    }
    t.print();
    Ok(())
}

/// `kubectl get events --field-selector involvedObject.kind=<kind>,involvedObject.name=<name>`:
/// what the controller acting on the object reported, oldest first.
pub async fn events(client: &Client, ns: &str, kind: &str, name: &str) -> anyhow::Result<()> {
    let selector = format!("involvedObject.kind={kind},involvedObject.name={name}");
    let mut list = Api::<Event>::namespaced(client.clone(), ns)
        .list(&ListParams::default().fields(&selector))
        .await?
        .items;
    let when = |e: &Event| {
        e.first_timestamp
            .as_ref()
            .map(|t| t.0)
            .or_else(|| e.event_time.as_ref().map(|t| t.0))
    };
    list.sort_by_key(when);
    let mut t = Table::new(&["TYPE", "REASON", "FROM", "COUNT", "MESSAGE"]);
    for e in list {
        t.row(vec![
            e.type_.clone().unwrap_or_default(),
            e.reason.clone().unwrap_or_default(),
            e.source
                .as_ref()
                .and_then(|s| s.component.clone())
                .or_else(|| e.reporting_component.clone())
                .unwrap_or_default(),
            e.count.unwrap_or(1).to_string(),
            e.message.clone().unwrap_or_default(),
        ]);
    }
    t.print();
    Ok(())
}
