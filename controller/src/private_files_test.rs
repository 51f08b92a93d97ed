use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::*;

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path)
        .expect("metadata")
        .permissions()
        .mode()
        & 0o7777
}

fn set(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn created_directories_and_files_are_private_from_the_start() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data/pki");
    create_dir(&dir).expect("create");
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(dir.parent().expect("parent")), 0o700, "parents too");

    let file = dir.join("raft.redb");
    drop(create_file(&file).expect("create file"));
    assert_eq!(mode(&file), 0o600);

    let key = dir.join("node-key.pem");
    write_atomic(&key, b"secret").expect("write");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(fs::read(&key).expect("read"), b"secret");
    assert!(!dir.join("node-key.pem.tmp").exists(), "no temporary left");
}

#[test]
fn an_existing_file_keeps_its_contents_when_opened_again() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("raft.redb");
    fs::write(&file, b"pages").expect("write");
    drop(create_file(&file).expect("open"));
    assert_eq!(fs::read(&file).expect("read"), b"pages");
}

#[test]
fn a_stale_temporary_file_does_not_block_the_next_write() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let path = tmp.path().join("node.json");
    fs::write(tmp.path().join("node.json.tmp"), b"half").expect("stale");
    write_atomic(&path, b"{}").expect("write");
    assert_eq!(fs::read(&path).expect("read"), b"{}");
}

#[test]
fn a_loose_data_dir_is_tightened_and_every_change_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("data");
    fs::create_dir_all(data.join("pki")).expect("pki");
    fs::create_dir_all(data.join("git/objects")).expect("git");
    fs::write(data.join("raft.redb"), b"").expect("store");
    fs::write(data.join("pki/ca-key.pem"), b"").expect("key");
    fs::write(data.join("git/objects/pack"), b"").expect("object");
    set(&data, 0o755);
    set(&data.join("pki"), 0o755);
    set(&data.join("raft.redb"), 0o644);
    set(&data.join("pki/ca-key.pem"), 0o640);
    set(&data.join("git/objects/pack"), 0o444);

    let tightened = secure_data_dir(&data, &["pki"]).expect("secure");
    let mut seen: Vec<(String, u32, u32)> = tightened
        .iter()
        .map(|t| {
            let rel = t.path.strip_prefix(tmp.path()).expect("inside");
            (rel.display().to_string(), t.was, t.now)
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("data".to_owned(), 0o755, 0o700),
            ("data/git".to_owned(), 0o755, 0o700),
            ("data/pki".to_owned(), 0o755, 0o700),
            ("data/pki/ca-key.pem".to_owned(), 0o640, 0o600),
            ("data/raft.redb".to_owned(), 0o644, 0o600),
        ]
    );
    assert_eq!(
        mode(&data.join("git/objects/pack")),
        0o444,
        "the Git cache's inner files are behind a private directory and keep libgit2's modes"
    );
    assert!(
        secure_data_dir(&data, &["pki"]).expect("again").is_empty(),
        "a private directory needs nothing"
    );
}

#[test]
fn tightening_never_adds_a_permission() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let file = tmp.path().join("node.json");
    fs::write(&file, b"{}").expect("write");
    set(&file, 0o404);
    set(tmp.path(), 0o700);
    secure_data_dir(tmp.path(), &["pki"]).expect("secure");
    assert_eq!(mode(&file), 0o400);
}
