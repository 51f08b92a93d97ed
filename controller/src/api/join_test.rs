use super::*;

#[test]
fn node_ids_are_dns_labels_and_distinct() {
    let a = crate::ids::new_id();
    let b = crate::ids::new_id();
    assert_eq!(a.len(), 25);
    assert_ne!(a, b);
    crate::pki::identity::validate_node_id(&a).expect("a DNS label");
}

#[test]
fn raft_ids_are_stable_nonzero_and_json_safe() {
    let id = raft_id_for("abc");
    assert_eq!(id, raft_id_for("abc"));
    assert_ne!(id, raft_id_for("abd"));
    assert!(id > 0 && id < (1 << 53));
}

#[test]
fn only_even_manager_counts_warn() {
    assert_eq!(even_managers_warning(1), None);
    assert_eq!(even_managers_warning(3), None);
    let warning = even_managers_warning(4).expect("warns");
    assert!(warning.contains("4 managers"), "{warning}");
    assert!(warning.contains("1, 3, 5 or 7"), "{warning}");
}

#[test]
fn addresses_give_their_ip() {
    assert_eq!(ip_of("10.0.0.2:7420").to_string(), "10.0.0.2");
    assert_eq!(ip_of("10.0.0.3").to_string(), "10.0.0.3");
    assert_eq!(ip_of("junk").to_string(), "127.0.0.1");
}

/// Collects what a `fmt` subscriber writes.
#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_refused_joiners_hostname_cannot_forge_log_lines() {
    let logs = LogBuffer::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    tracing::subscriber::with_default(subscriber, || {
        log_refused("w1\nFORGED INFO all is well", &"the token is not valid");
    });
    let text = String::from_utf8_lossy(&logs.0.lock().expect("log lock")).into_owned();
    assert_eq!(text.lines().count(), 1, "{text}");
    assert!(
        text.contains(r#"hostname="w1\nFORGED INFO all is well""#),
        "{text}"
    );
}
