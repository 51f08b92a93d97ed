//! The one generator of the identifiers the cluster hands out: cluster, node and task ids, and
//! the Raft member id each node id maps to.
//! Pure decisions never call it; they take it as a parameter (`new_id: &mut impl FnMut() ->
//! String`), so tests can pass a counter and get the same ids every run.

/// Length of generated ids (base 36, like Docker's 25-character node and task ids).
const ID_LEN: usize = 25;

/// A fresh random id: 25 characters of `[a-z0-9]`, a valid DNS label.
pub fn new_id() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..ID_LEN)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// The Raft member id of a node: derived from its id, never 0.
pub fn raft_id_for(node_id: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(node_id.as_bytes());
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    // Keep ids in JavaScript's safe integer range so JSON tooling reads them exactly.
    (u64::from_be_bytes(bytes) >> 12).max(1)
}
