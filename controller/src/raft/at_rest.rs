//! Encryption at rest of the replicated store: every value in `raft.redb` (log entries, the
//! applied objects, the pointers and the kept snapshot) is sealed with the store's data key, so
//! a copy of the file — a backup, a disk image, a file read through a loosened mode — shows
//! neither the cluster CA's key nor a join-token secret nor anything else in clear.
//!
//! ```text
//!   unlock key (KEK) ──wraps──▶ data key (DEK, in the file, sealed) ──seals──▶ every value
//!   <data dir>/raft.key, 0600                                 (ChaCha20-Poly1305, random nonce)
//!   or, with autolock, nowhere: printed once, given back by `reconciler unlock` after a restart
//! ```
//!
//! As in SwarmKit, each manager has its own data key: values travel between managers in clear
//! inside mutual TLS and are sealed by whoever stores them. What to do with the unlock key is a
//! pure decision ([`plan`]) of what the file and the data directory hold and what the operator
//! asked for; [`super::db::Db::open`] carries it out.
//!
//! Random 96-bit nonces stay safe up to about 2³² sealed values per data key; a store writes
//! one per changed object, which at a thousand writes a second is over a century.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use ring::aead::{Aad, CHACHA20_POLY1305, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// File name of the unlock key inside the data directory (absent under autolock).
pub const KEY_FILE_NAME: &str = "raft.key";

/// Prefix of an unlock key's text form (the version of the format follows it).
const KEY_PREFIX: &str = "RECKEY-1-";

/// First bytes of every sealed value: `0xFF` never starts UTF-8, so no JSON value written by an
/// older version can be mistaken for a sealed one; the third byte is the format version.
const SEALED_MAGIC: [u8; 3] = [0xFF, b'S', 1];

/// Additional data of the wrapped data key: a sealed value can never pass for it.
const WRAP_AAD: &[u8] = b"reconciler data key v1";

/// Bytes of a key (256 bits).
const KEY_LEN: usize = 32;

/// Why a key or a sealed value could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not an unlock key.
    #[error(
        "not an unlock key: expected {KEY_PREFIX}<43 characters>, as printed when autolock was turned on"
    )]
    Malformed,
    /// The unlock key does not open this store's data key.
    #[error("wrong unlock key: it does not open this store's data key")]
    Wrong,
    /// A sealed value failed its authentication (damaged, or written with another data key).
    #[error(
        "a sealed value does not open with the store's data key (damaged, or from another store)"
    )]
    Damaged,
    /// A value that should be sealed is not.
    #[error(
        "a value is not sealed although the store is encrypted (damaged, or written by another program)"
    )]
    NotSealed,
}

/// The key-encryption key: it wraps the store's data key. Its text form is what autolock
/// prints and `reconciler unlock` reads; it never shows in `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct UnlockKey([u8; KEY_LEN]);

impl UnlockKey {
    /// A fresh random key.
    pub fn generate() -> UnlockKey {
        UnlockKey(random_key())
    }

    /// Parses the text form (surrounding whitespace ignored).
    pub fn parse(text: &str) -> Result<UnlockKey, KeyError> {
        let body = text
            .trim()
            .strip_prefix(KEY_PREFIX)
            .ok_or(KeyError::Malformed)?;
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| KeyError::Malformed)?;
        let key: [u8; KEY_LEN] = bytes.try_into().map_err(|_| KeyError::Malformed)?;
        Ok(UnlockKey(key))
    }

    /// The text form, `RECKEY-1-` and the key in unpadded URL-safe base64.
    pub fn to_text(&self) -> String {
        format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(self.0))
    }

    /// The data key wrapped by this key, to keep in the store.
    pub(crate) fn wrap(&self, data_key: &DataKey) -> Vec<u8> {
        seal_with(&aead_key(&self.0), WRAP_AAD, &data_key.raw)
    }

    /// The data key this key wrapped.
    pub(crate) fn unwrap(&self, wrapped: &[u8]) -> Result<DataKey, KeyError> {
        let raw = open_with(&aead_key(&self.0), WRAP_AAD, wrapped).map_err(|_| KeyError::Wrong)?;
        let raw: [u8; KEY_LEN] = raw.try_into().map_err(|_| KeyError::Wrong)?;
        Ok(DataKey::from_raw(raw))
    }
}

impl fmt::Debug for UnlockKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UnlockKey(…)")
    }
}

/// The data key: seals and opens every value of one store file.
pub(crate) struct DataKey {
    raw: [u8; KEY_LEN],
    key: LessSafeKey,
}

impl DataKey {
    /// A fresh random data key.
    pub(crate) fn generate() -> DataKey {
        DataKey::from_raw(random_key())
    }

    fn from_raw(raw: [u8; KEY_LEN]) -> DataKey {
        DataKey {
            key: aead_key(&raw),
            raw,
        }
    }

    /// `plain` sealed: magic, nonce, ciphertext and tag.
    pub(crate) fn seal(&self, plain: &[u8]) -> Vec<u8> {
        seal_with(&self.key, &[], plain)
    }

    /// The plain bytes of a value [`seal`](Self::seal) made.
    pub(crate) fn open(&self, sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
        open_with(&self.key, &[], sealed)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(…)")
    }
}

/// Whether `bytes` has the shape of a sealed value (magic first).
pub(crate) fn is_sealed(bytes: &[u8]) -> bool {
    bytes.starts_with(&SEALED_MAGIC)
}

fn random_key() -> [u8; KEY_LEN] {
    let mut key = [0u8; KEY_LEN];
    // ThreadRng is a CSPRNG reseeded from the OS, suitable for keys.
    rand::rng().fill_bytes(&mut key);
    key
}

fn aead_key(raw: &[u8; KEY_LEN]) -> LessSafeKey {
    // A 32-byte key is exactly what ChaCha20-Poly1305 takes, so this cannot fail.
    let unbound = UnboundKey::new(&CHACHA20_POLY1305, raw).expect("a 256-bit key");
    LessSafeKey::new(unbound)
}

fn seal_with(key: &LessSafeKey, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    rand::rng().fill_bytes(&mut nonce);
    let header = SEALED_MAGIC.len() + NONCE_LEN;
    let mut out = Vec::with_capacity(header + plain.len() + CHACHA20_POLY1305.tag_len());
    out.extend_from_slice(&SEALED_MAGIC);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plain);
    // Sealing in memory fails only for inputs over 256 GiB.
    let tag = key
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[header..],
        )
        .expect("a value under 256 GiB");
    out.extend_from_slice(tag.as_ref());
    out
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, KeyError> {
    if !is_sealed(sealed) {
        return Err(KeyError::NotSealed);
    }
    let rest = &sealed[SEALED_MAGIC.len()..];
    if rest.len() < NONCE_LEN + CHACHA20_POLY1305.tag_len() {
        return Err(KeyError::Damaged);
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| KeyError::Damaged)?;
    let mut body = body.to_vec();
    let plain_len = key
        .open_in_place(nonce, Aad::from(aad), &mut body)
        .map_err(|_| KeyError::Damaged)?
        .len();
    body.truncate(plain_len);
    Ok(body)
}

/// What the operator asked for the unlock key.
#[derive(Debug, Clone, Default)]
pub struct Keys {
    /// Keep no unlock key on disk: print it once, and after every restart wait for
    /// `reconciler unlock`.
    pub autolock: bool,
    /// The unlock key given by `reconciler unlock`.
    pub supplied: Option<UnlockKey>,
}

/// What the store holds and the data directory has, for [`plan`].
#[derive(Debug, Clone)]
pub(crate) struct Found {
    /// The store file already has a wrapped data key.
    pub(crate) wrapped: bool,
    /// The unlock key in the key file, if there is one.
    pub(crate) key_file: Option<UnlockKey>,
}

/// How to open the store and what to leave on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KeyPlan {
    /// Unwraps the stored data key; `None`: the store has none yet, make one.
    pub(crate) opens_with: Option<UnlockKey>,
    /// Wrap the data key with this key and store it (a new store, or a new unlock key).
    pub(crate) wrap_with: Option<UnlockKey>,
    /// What the key file must hold afterwards (`None`: no key file).
    pub(crate) key_file: Option<UnlockKey>,
    /// A new unlock key to show the operator once (autolock just turned on).
    pub(crate) show: Option<UnlockKey>,
}

/// Why the store cannot be opened as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refused {
    /// The store is locked: no key file, and no key was supplied.
    Locked,
}

/// Decides which key opens the store and which keys stay on disk.
///
/// - A supplied key is used as given; with autolock off it is then kept in the key file
///   (autolock turned off), with autolock on nothing is written.
/// - Without one, the key file's key opens the store; with autolock on it is replaced by a new
///   key that is shown once and never written (autolock turned on).
/// - A store with no data key yet gets one, wrapped by the key file's key, the supplied key or
///   a new one (shown once under autolock, written to the key file otherwise).
/// - A store with a data key and neither a key file nor a supplied key is locked.
pub(crate) fn plan(found: &Found, keys: &Keys) -> Result<KeyPlan, Refused> {
    let known = keys.supplied.clone().or_else(|| found.key_file.clone());
    let opens_with = match (found.wrapped, &known) {
        (true, None) => return Err(Refused::Locked),
        (true, Some(key)) => Some(key.clone()),
        (false, _) => None,
    };
    let (current, fresh) = match &known {
        Some(key) => (key.clone(), false),
        None => (UnlockKey::generate(), true),
    };
    if !keys.autolock {
        let wrap_with = (!found.wrapped).then(|| current.clone());
        return Ok(KeyPlan {
            opens_with,
            wrap_with,
            key_file: Some(current),
            show: None,
        });
    }
    // Autolock: the key the store ends with must not be on disk. A key that was (the key
    // file's) is replaced; a supplied one was never written.
    let on_disk = keys.supplied.is_none() && found.key_file.is_some();
    let (final_key, show) = if on_disk || fresh {
        let new = if fresh {
            current
        } else {
            UnlockKey::generate()
        };
        (new.clone(), Some(new))
    } else {
        (current, None)
    };
    let wrap_with = (!found.wrapped || show.is_some()).then(|| final_key.clone());
    Ok(KeyPlan {
        opens_with,
        wrap_with,
        key_file: None,
        show,
    })
}
