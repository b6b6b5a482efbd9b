//! The serving port's delegated authentication and authorization against a real apiserver,
//! kcm-rs and upstream kube-controller-manager side by side with the same flags (issue 15), its
//! TLS reload, kubeadm's own command line, and a descriptor flood that must not starve the
//! controllers (issue 19 item 3).

mod identities;
mod kubeadm;
mod lookup;
mod outage;
mod starvation;
mod support;
mod tls;
