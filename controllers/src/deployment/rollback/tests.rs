use super::*;
use crate::deployment::testing::*;

fn with_template(mut rs: ReplicaSet, image: &str) -> ReplicaSet {
    let mut t = template(image);
    if let Some(labels) = t.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.insert(POD_TEMPLATE_HASH_LABEL.into(), format!("h-{image}"));
    }
    if let Some(s) = rs.spec.as_mut() {
        s.template = Some(t);
    }
    rs
}

fn current(image: &str) -> Deployment {
    let mut d = deployment(1, int(1), int(0));
    if let Some(s) = d.spec.as_mut() {
        s.template = template(image);
    }
    d
}

#[test]
fn rollback_to_an_older_revision() {
    let r1 = with_revision(with_template(rs("r1", 0, 0, 0), "a"), 1);
    let r2 = with_revision(with_template(rs("r2", 1, 1, 1), "b"), 2);
    let d = current("b");
    match plan(&d, &[&r1, &r2], 1) {
        RollbackPlan::To { rs, revision } => {
            assert_eq!(rs.metadata.name.as_deref(), Some("r1"));
            assert_eq!(revision, 1);
            let t = template_without_hash(rs);
            assert!(
                !t.metadata
                    .and_then(|m| m.labels)
                    .unwrap_or_default()
                    .contains_key(POD_TEMPLATE_HASH_LABEL)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    // 0 means the previous revision.
    assert!(matches!(
        plan(&d, &[&r1, &r2], 0),
        RollbackPlan::To { revision: 1, .. }
    ));
}

#[test]
fn rollback_to_the_current_template_or_a_missing_revision() {
    let r1 = with_revision(with_template(rs("r1", 0, 0, 0), "a"), 1);
    let r2 = with_revision(with_template(rs("r2", 1, 1, 1), "b"), 2);
    let d = current("b");
    assert_eq!(plan(&d, &[&r1, &r2], 2), RollbackPlan::Unchanged);
    assert_eq!(
        plan(&d, &[&r1, &r2], 7),
        RollbackPlan::NotFound("Unable to find the revision to rollback to.")
    );
    assert_eq!(
        plan(&d, &[&r2], 0),
        RollbackPlan::NotFound("Unable to find last revision.")
    );
}
