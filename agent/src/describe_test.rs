use super::*;

#[test]
fn engine_info_fields_are_read() {
    let body = br#"{"ServerVersion":"28.2.2","NCPU":8,"MemTotal":16777216000,"Labels":["zone=a","ssd=true","junk"]}"#;
    let info = parse_info(body).expect("info");
    assert_eq!(info.version, "28.2.2");
    assert_eq!(info.cpus, Some(8));
    assert_eq!(info.memory, Some(16_777_216_000));
    assert_eq!(info.labels.get("zone").map(String::as_str), Some("a"));
    assert_eq!(info.labels.len(), 2);
}

#[test]
fn engine_info_without_version_is_rejected() {
    assert_eq!(parse_info(br#"{"NCPU":8}"#), None);
    assert_eq!(parse_info(b"not json"), None);
}

#[test]
fn meminfo_total_is_in_bytes() {
    let text = "MemTotal:       24576000 kB\nMemFree:  100 kB\n";
    assert_eq!(parse_meminfo(text), Some(24_576_000 * 1024));
    assert_eq!(parse_meminfo("MemFree: 1 kB\n"), None);
}

#[tokio::test]
async fn a_missing_engine_is_none_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    assert_eq!(engine_info(&dir.path().join("no.sock")).await, None);
}

#[tokio::test]
async fn a_node_describes_itself_with_or_without_an_engine() {
    let d = describe("h1".into(), "127.0.0.1:7420".into()).await;
    assert_eq!(d.hostname, "h1");
    assert!(d.cpus.0 >= 1_000_000_000);
    assert!(d.memory.0 > 0);
    assert_eq!(d.os, std::env::consts::OS);
}
