//! Support for the leader election tests: kcm-rs replicas and what their logs say
//! ([`replica`]), groups of them and who led when ([`members`]), the upstream
//! kube-controller-manager as a candidate ([`upstream`]), Lease reads ([`lease`]), and a watch that checks a ReplicaSet never
//! has more pods than it should ([`pod_ceiling`]).

pub mod lease;
pub mod members;
pub mod pod_ceiling;
pub mod replica;
pub mod upstream;

/// `<prefix>-<12 random hex digits>`: a Lease name no other test (or earlier run) uses.
pub fn unique_name(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..12])
}
