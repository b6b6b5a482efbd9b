//! Controller names: the `--controllers` vocabulary and the identities each controller uses.
//!
//! kube-controller-manager identifies a controller by a canonical name
//! (`cmd/kube-controller-manager/names/controller_names.go`) and still accepts the short names
//! used before v1.28 as aliases (`ControllerDescriptor.aliases` in `app/*.go`). kcm-rs implements
//! six controllers, but it must understand every upstream name: a kubeadm command line says
//! `--controllers=*,bootstrapsigner,tokencleaner`, and that has to start rather than fail.
//!
//! Besides the `--controllers` name, an upstream controller is known under three more names
//! that are visible from outside and therefore copied here: the client (ServiceAccount) name it
//! authenticates as, which the bootstrap RBAC roles `system:controller:<name>` are bound to; the
//! work-queue name that labels the `workqueue_*` metrics; and the component name on its events.

/// One of the controllers kcm-rs implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ControllerId {
    Endpoints,
    ReplicationController,
    ReplicaSet,
    PodGarbageCollector,
    Namespace,
    Deployment,
}

/// The names one implemented controller is known by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControllerNames {
    /// Canonical `--controllers` name, also used for its health check and in logs.
    pub canonical: &'static str,
    /// Pre-v1.28 names still accepted by `--controllers`.
    pub aliases: &'static [&'static str],
    /// The client name (`ClientOrDie(...)` upstream). With `--use-service-account-credentials`
    /// this is the ServiceAccount in kube-system; it is also the user-agent suffix.
    pub client: &'static str,
    /// The `name` label of its work queue's `workqueue_*` metrics.
    pub queue: &'static str,
    /// `EventSource.Component` of the events it records; `None` when it records none.
    pub event_component: Option<&'static str>,
}

impl ControllerId {
    /// Every implemented controller, in declaration (and `Ord`) order.
    pub const ALL: [ControllerId; 6] = [
        ControllerId::Endpoints,
        ControllerId::ReplicationController,
        ControllerId::ReplicaSet,
        ControllerId::PodGarbageCollector,
        ControllerId::Namespace,
        ControllerId::Deployment,
    ];

    pub const fn names(self) -> &'static ControllerNames {
        match self {
            ControllerId::Endpoints => &ControllerNames {
                canonical: "endpoints-controller",
                aliases: &["endpoint"],
                client: "endpoint-controller",
                queue: "endpoint",
                event_component: Some("endpoint-controller"),
            },
            ControllerId::ReplicationController => &ControllerNames {
                canonical: "replicationcontroller-controller",
                aliases: &["replicationcontroller"],
                client: "replication-controller",
                queue: "replicationmanager",
                event_component: Some("replication-controller"),
            },
            ControllerId::ReplicaSet => &ControllerNames {
                canonical: "replicaset-controller",
                aliases: &["replicaset"],
                client: "replicaset-controller",
                queue: "replicaset",
                event_component: Some("replicaset-controller"),
            },
            ControllerId::PodGarbageCollector => &ControllerNames {
                canonical: "pod-garbage-collector-controller",
                aliases: &["podgc"],
                client: "pod-garbage-collector",
                // A delaying queue of node names awaiting the orphan quarantine.
                queue: "orphaned_pods_nodes",
                event_component: None,
            },
            ControllerId::Namespace => &ControllerNames {
                canonical: "namespace-controller",
                aliases: &["namespace"],
                client: "namespace-controller",
                queue: "namespace",
                event_component: None,
            },
            ControllerId::Deployment => &ControllerNames {
                canonical: "deployment-controller",
                aliases: &["deployment"],
                client: "deployment-controller",
                queue: "deployment",
                event_component: Some("deployment-controller"),
            },
        }
    }

    pub const fn canonical(self) -> &'static str {
        self.names().canonical
    }
}

impl std::fmt::Display for ControllerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.canonical())
    }
}

/// A controller name `--controllers` accepts: upstream's descriptor, reduced to what name
/// resolution needs, plus whether kcm-rs implements it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownController {
    pub canonical: &'static str,
    pub aliases: &'static [&'static str],
    /// Whether `*` turns it on (upstream `ControllersDisabledByDefault` lists the others).
    pub enabled_by_default: bool,
    /// `Some` for the controllers kcm-rs runs; `None` for names accepted only for compatibility.
    pub implemented: Option<ControllerId>,
}

const fn implemented(id: ControllerId) -> KnownController {
    KnownController {
        canonical: id.names().canonical,
        aliases: id.names().aliases,
        enabled_by_default: true,
        implemented: Some(id),
    }
}

const fn upstream(canonical: &'static str, aliases: &'static [&'static str]) -> KnownController {
    KnownController {
        canonical,
        aliases,
        enabled_by_default: true,
        implemented: None,
    }
}

const fn upstream_off_by_default(
    canonical: &'static str,
    aliases: &'static [&'static str],
) -> KnownController {
    KnownController {
        canonical,
        aliases,
        enabled_by_default: false,
        implemented: None,
    }
}

/// Every controller name kube-controller-manager v1.35 knows, sorted by canonical name.
///
/// Upstream's `KnownControllers()` plus the aliases from its descriptors. Controllers added after
/// the v1.28 rename have no alias. The cloud-provider controllers (`service-lb-controller`,
/// `node-route-controller`, `cloud-node-lifecycle-controller`) are listed because upstream still
/// accepts their names, although it never starts them.
pub static KNOWN_CONTROLLERS: &[KnownController] = &[
    upstream_off_by_default("bootstrap-signer-controller", &["bootstrapsigner"]),
    upstream(
        "certificatesigningrequest-approving-controller",
        &["csrapproving"],
    ),
    upstream(
        "certificatesigningrequest-cleaner-controller",
        &["csrcleaner"],
    ),
    upstream(
        "certificatesigningrequest-signing-controller",
        &["csrsigning"],
    ),
    upstream("cloud-node-lifecycle-controller", &["cloud-node-lifecycle"]),
    upstream(
        "clusterrole-aggregation-controller",
        &["clusterrole-aggregation"],
    ),
    upstream("cronjob-controller", &["cronjob"]),
    upstream("daemonset-controller", &["daemonset"]),
    implemented(ControllerId::Deployment),
    upstream("device-taint-eviction-controller", &[]),
    upstream("disruption-controller", &["disruption"]),
    implemented(ControllerId::Endpoints),
    upstream("endpointslice-controller", &["endpointslice"]),
    upstream(
        "endpointslice-mirroring-controller",
        &["endpointslicemirroring"],
    ),
    upstream("ephemeral-volume-controller", &["ephemeral-volume"]),
    upstream("garbage-collector-controller", &["garbagecollector"]),
    upstream(
        "horizontal-pod-autoscaler-controller",
        &["horizontalpodautoscaling"],
    ),
    upstream("job-controller", &["job"]),
    upstream(
        "kube-apiserver-serving-clustertrustbundle-publisher-controller",
        &[],
    ),
    upstream(
        "legacy-serviceaccount-token-cleaner-controller",
        &["legacy-service-account-token-cleaner"],
    ),
    implemented(ControllerId::Namespace),
    upstream("node-ipam-controller", &["nodeipam"]),
    upstream("node-lifecycle-controller", &["nodelifecycle"]),
    upstream("node-route-controller", &["route"]),
    upstream(
        "persistentvolume-attach-detach-controller",
        &["attachdetach"],
    ),
    upstream(
        "persistentvolume-binder-controller",
        &["persistentvolume-binder"],
    ),
    upstream(
        "persistentvolume-expander-controller",
        &["persistentvolume-expander"],
    ),
    upstream("persistentvolume-protection-controller", &["pv-protection"]),
    upstream(
        "persistentvolumeclaim-protection-controller",
        &["pvc-protection"],
    ),
    implemented(ControllerId::PodGarbageCollector),
    upstream("podcertificaterequest-cleaner-controller", &[]),
    implemented(ControllerId::ReplicaSet),
    implemented(ControllerId::ReplicationController),
    upstream("resourceclaim-controller", &["resource-claim-controller"]),
    upstream("resourcequota-controller", &["resourcequota"]),
    upstream(
        "root-ca-certificate-publisher-controller",
        &["root-ca-cert-publisher"],
    ),
    upstream("selinux-warning-controller", &[]),
    upstream("service-cidr-controller", &[]),
    upstream("service-lb-controller", &["service"]),
    upstream("serviceaccount-controller", &["serviceaccount"]),
    upstream("serviceaccount-token-controller", &["serviceaccount-token"]),
    upstream("statefulset-controller", &["statefulset"]),
    upstream("storage-version-migrator-controller", &[]),
    upstream(
        "storageversion-garbage-collector-controller",
        &["storage-version-gc"],
    ),
    upstream("taint-eviction-controller", &[]),
    upstream_off_by_default("token-cleaner-controller", &["tokencleaner"]),
    upstream("ttl-after-finished-controller", &["ttl-after-finished"]),
    upstream("ttl-controller", &["ttl"]),
    upstream("validatingadmissionpolicy-status-controller", &[]),
    upstream("volumeattributesclass-protection-controller", &[]),
];

/// Looks a name up in `known` by canonical name or alias (no leading `-`).
pub fn lookup<'a>(known: &'a [KnownController], name: &str) -> Option<&'a KnownController> {
    known
        .iter()
        .find(|c| c.canonical == name || c.aliases.contains(&name))
}

#[cfg(test)]
mod tests;
