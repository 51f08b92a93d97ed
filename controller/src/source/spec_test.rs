//! The stored source: what it opens, how it reads, and that it never holds a credential.

use std::path::PathBuf;

use super::*;
use crate::raft::fixtures::source;

#[test]
fn a_git_source_opens_its_branch_with_a_clone_per_url_and_reads_as_one_line() {
    let spec = source();
    assert_eq!(
        spec.describe(),
        "git https://example.com/ops.git branch main path /stacks"
    );
    assert_eq!(spec.root_name(), "stacks");
    assert_eq!(spec.interval(), Duration::from_secs(60));
    let Followed::Git { config, .. } = spec.followed(Path::new("/data")).expect("followed") else {
        panic!("a git source");
    };
    assert_eq!(
        (config.branch.as_str(), config.path.as_path()),
        ("main", Path::new("stacks"))
    );
    assert!(
        config.cache_dir.starts_with("/data/git/"),
        "{:?}",
        config.cache_dir
    );
}

#[test]
fn credentials_are_stored_by_name_and_read_where_the_source_is_opened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let token = dir.path().join("token");
    std::fs::write(&token, "s3cret-token\n").expect("write");
    let SourceSpec::Git(mut git) = source() else {
        panic!("a git source");
    };
    git.token_file = Some(token.clone());
    let spec = SourceSpec::Git(git.clone());
    let stored = serde_json::to_string(&spec).expect("serialises");
    assert!(!stored.contains("s3cret"), "{stored}");
    assert!(stored.contains(&*token.to_string_lossy()), "{stored}");
    let Followed::Git { config, .. } = spec.followed(dir.path()).expect("followed") else {
        panic!("a git source");
    };
    assert!(
        config.credentials.token.is_some(),
        "read from the file here"
    );

    git.token_file = Some(dir.path().join("missing"));
    let err = SourceSpec::Git(git)
        .followed(dir.path())
        .expect_err("unreadable");
    assert!(err.to_string().contains("missing"), "{err}");
}

#[test]
fn a_directory_source_names_its_stack_after_the_directory() {
    let spec = SourceSpec::Directory {
        path: PathBuf::from("/srv/Shop"),
        interval_ms: 500,
    };
    assert_eq!(spec.root_name(), "shop");
    assert_eq!(spec.describe(), "directory /srv/Shop");
    assert!(matches!(
        spec.followed(Path::new("/data")),
        Ok(Followed::Directory(p)) if p == Path::new("/srv/Shop")
    ));
    let json = serde_json::to_value(&spec).expect("serialises");
    assert_eq!(json["kind"], "directory");
}
