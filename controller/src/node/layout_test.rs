use super::*;

fn config() -> NodeConfig {
    NodeConfig {
        node_id: "n1".into(),
        raft_id: 7,
        cluster_id: "c1".into(),
        role: NodeRole::Manager,
        hostname: "h".into(),
        api_addr: "127.0.0.1:7420".into(),
        managers: vec!["127.0.0.1:7420".into()],
    }
}

#[test]
fn a_fresh_directory_has_no_node() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(NodeConfig::load(dir.path()).expect("load"), None);
}

#[test]
fn the_node_file_round_trips() {
    let dir = tempfile::tempdir().expect("tempdir");
    config().save(dir.path()).expect("save");
    assert_eq!(NodeConfig::load(dir.path()).expect("load"), Some(config()));
}

#[test]
fn a_corrupt_node_file_is_refused_with_its_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(NODE_FILE), b"{\"node_id\": 3").expect("write");
    let err = NodeConfig::load(dir.path()).expect_err("corrupt");
    assert!(err.to_string().contains("node.json is corrupt"), "{err}");
}

#[test]
fn leftovers_of_an_interrupted_start_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(dir.path().join(PKI_DIR)).expect("mkdir");
    let err = NodeConfig::load(dir.path()).expect_err("interrupted");
    assert!(err.to_string().contains("interrupted"), "{err}");
}

#[test]
fn forgetting_the_cluster_keeps_other_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    config().save(dir.path()).expect("save");
    std::fs::create_dir(dir.path().join(PKI_DIR)).expect("mkdir");
    std::fs::write(dir.path().join("applied.json"), b"{}").expect("write");
    forget_cluster(dir.path()).expect("forget");
    assert_eq!(NodeConfig::load(dir.path()).expect("load"), None);
    assert!(dir.path().join("applied.json").exists());
}
