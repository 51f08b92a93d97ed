//! The one generator of the identifiers the cluster hands out: cluster, node and task ids.
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
