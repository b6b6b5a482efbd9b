use super::*;
use ControllerId::*;

const ALL_SIX: [ControllerId; 6] = ControllerId::ALL;

fn run(list: &str) -> Result<Resolution, UnknownControllers> {
    let entries: Vec<String> = if list.is_empty() {
        Vec::new()
    } else {
        list.split(',').map(str::to_owned).collect()
    };
    resolve(&entries, names::KNOWN_CONTROLLERS)
}

#[test]
fn resolution_table() {
    struct Case {
        list: &'static str,
        enabled: &'static [ControllerId],
        unimplemented: &'static [&'static str],
    }
    let cases = [
        Case {
            list: "*",
            enabled: &ALL_SIX,
            unimplemented: &[],
        },
        Case {
            list: "",
            enabled: &[],
            unimplemented: &[],
        },
        Case {
            list: "deployment",
            enabled: &[Deployment],
            unimplemented: &[],
        },
        Case {
            list: "*,-podgc",
            enabled: &[
                Endpoints,
                ReplicationController,
                ReplicaSet,
                Namespace,
                Deployment,
            ],
            unimplemented: &[],
        },
        Case {
            list: "*,-pod-garbage-collector-controller,-endpoint",
            enabled: &[ReplicationController, ReplicaSet, Namespace, Deployment],
            unimplemented: &[],
        },
        // First match wins, in either direction.
        Case {
            list: "-deployment,deployment-controller,*",
            enabled: &[
                Endpoints,
                ReplicationController,
                ReplicaSet,
                PodGarbageCollector,
                Namespace,
            ],
            unimplemented: &[],
        },
        Case {
            list: "deployment,-deployment",
            enabled: &[Deployment],
            unimplemented: &[],
        },
        Case {
            list: "replicationcontroller,namespace",
            enabled: &[ReplicationController, Namespace],
            unimplemented: &[],
        },
        // kubeadm's list: the bootstrap controllers are accepted, not run, and reported.
        Case {
            list: "*,bootstrapsigner,tokencleaner",
            enabled: &ALL_SIX,
            unimplemented: &["bootstrap-signer-controller", "token-cleaner-controller"],
        },
        Case {
            list: "*,-csrsigning",
            enabled: &ALL_SIX,
            unimplemented: &[],
        },
        Case {
            list: "-garbagecollector,garbagecollector",
            enabled: &[],
            unimplemented: &[],
        },
        Case {
            list: "garbage-collector-controller,endpoint",
            enabled: &[Endpoints],
            unimplemented: &["garbage-collector-controller"],
        },
        // `-*` is not special upstream, so neither is `*` repeated.
        Case {
            list: "*,*",
            enabled: &ALL_SIX,
            unimplemented: &[],
        },
    ];
    for case in cases {
        let got = run(case.list).unwrap_or_else(|e| panic!("{}: {e}", case.list));
        assert_eq!(got.enabled, case.enabled, "enabled for {:?}", case.list);
        assert_eq!(
            got.unimplemented, case.unimplemented,
            "unimplemented for {:?}",
            case.list
        );
        let disabled: Vec<_> = ALL_SIX
            .into_iter()
            .filter(|id| !case.enabled.contains(id))
            .collect();
        assert_eq!(got.disabled, disabled, "disabled for {:?}", case.list);
    }
}

#[test]
fn aliases_are_canonicalized_keeping_the_dash() {
    let got = run("*,-podgc,deployment,bootstrapsigner,-csrsigning,endpoints-controller").unwrap();
    assert_eq!(
        got.canonical_entries,
        [
            "*",
            "-pod-garbage-collector-controller",
            "deployment-controller",
            "bootstrap-signer-controller",
            "-certificatesigningrequest-signing-controller",
            "endpoints-controller",
        ]
    );
}

#[test]
fn unknown_entries_are_errors_naming_each_without_its_dash() {
    let err = run("*,foo,-bar,deployment").unwrap_err();
    assert_eq!(err.names, ["foo", "bar"]);
    assert_eq!(
        err.messages(),
        [
            "\"foo\" is not in the list of known controllers",
            "\"bar\" is not in the list of known controllers"
        ]
    );
    // Like upstream: `-*` and empty entries are not names of controllers.
    assert_eq!(run("-*").unwrap_err().names, ["*"]);
    assert_eq!(run("*,,deployment").unwrap_err().names, [""]);
    // Names are case-sensitive, and a canonical name needs its `-controller` suffix.
    assert_eq!(
        run("Deployment,endpoints").unwrap_err().names,
        ["Deployment", "endpoints"]
    );
}

#[test]
fn off_by_default_controllers_need_to_be_named() {
    // An implemented controller that is off by default, to cover that branch of upstream's logic.
    let known = [
        KnownController {
            canonical: "deployment-controller",
            aliases: &["deployment"],
            enabled_by_default: false,
            implemented: Some(Deployment),
        },
        KnownController {
            canonical: "endpoints-controller",
            aliases: &["endpoint"],
            enabled_by_default: true,
            implemented: Some(Endpoints),
        },
    ];
    let list = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let star = resolve(&list(&["*"]), &known).unwrap();
    assert_eq!(star.enabled, [Endpoints]);
    assert_eq!(star.disabled, [Deployment]);
    let named = resolve(&list(&["*", "deployment"]), &known).unwrap();
    assert_eq!(named.enabled, [Endpoints, Deployment]);
    let only = resolve(&list(&["deployment"]), &known).unwrap();
    assert_eq!(only.enabled, [Deployment]);
}
