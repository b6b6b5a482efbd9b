use super::*;

#[test]
fn env_file_lines_are_parsed_into_variables() {
    let text = "# comment\n\
        export KUBECONFIG=/d/admin.kubeconfig APISERVER_URL=https://127.0.0.1:40123 ADMIN_TOKEN=ab12\n\
        export TESTENV_DIR=/a\\ b/c ETCD_URL=http://127.0.0.1:1\n";
    let vars = parse_env_file(text);
    assert_eq!(vars["KUBECONFIG"], "/d/admin.kubeconfig");
    assert_eq!(vars["APISERVER_URL"], "https://127.0.0.1:40123");
    assert_eq!(vars["ADMIN_TOKEN"], "ab12");
    assert_eq!(vars["TESTENV_DIR"], "/a b/c");
    assert_eq!(vars["ETCD_URL"], "http://127.0.0.1:1");
    assert_eq!(vars.len(), 5);
}

#[test]
fn identities_have_distinct_users_and_files() {
    let users: std::collections::HashSet<_> = Identity::ALL.iter().map(|i| i.user()).collect();
    let files: std::collections::HashSet<_> =
        Identity::ALL.iter().map(|i| i.kubeconfig_file()).collect();
    assert_eq!(users.len(), Identity::ALL.len());
    assert_eq!(files.len(), Identity::ALL.len());
    assert!(users.contains("system:kube-controller-manager"));
}
