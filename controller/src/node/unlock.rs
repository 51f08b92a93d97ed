//! Opening a manager's replicated store, and a locked manager's wait for its unlock key.
//!
//! Under autolock the unlock key is kept nowhere on the node, so after a restart the store
//! cannot be opened until an operator gives the key back. The manager then listens on
//! `<data dir>/unlock.sock` — a Unix socket inside the 0700 data directory, so only the node's
//! own user reaches it — and `reconciler unlock` sends it one line, the key, and reads one line
//! back: `unlocked`, or `error: …` (a wrong key keeps the manager waiting for the next try).

use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use crate::raft::at_rest::{KeyError, Keys, UnlockKey};
use crate::raft::{self, Opened};

/// File name of the socket a locked manager listens on, inside its data directory.
pub const SOCKET_NAME: &str = "unlock.sock";

/// What the manager answers to a key that opened its store.
pub const UNLOCKED: &str = "unlocked";

/// Longest line accepted on the socket (a key is 52 characters).
const MAX_LINE: u64 = 512;

/// How long a client may take to send its line.
const READ_DEADLINE: Duration = Duration::from_secs(10);

/// Why a store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store itself.
    #[error(transparent)]
    Store(#[from] raft::Error),
    /// The unlock socket could not be set up.
    #[error("cannot listen for the unlock key on {path}: {source}")]
    Socket {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Opening ran on the blocking pool and did not finish.
    #[error("opening the store did not finish: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// Opens the store in `data_dir`; when it is locked, waits on the unlock socket until a key
/// that opens it is given.
pub async fn open_store(data_dir: &Path, autolock: bool) -> Result<Opened, Error> {
    let keys = Keys {
        autolock,
        supplied: None,
    };
    match open_blocking(data_dir, keys).await {
        Err(Error::Store(raft::Error::Locked { .. })) => wait_for_key(data_dir, autolock).await,
        other => other,
    }
}

async fn open_blocking(data_dir: &Path, keys: Keys) -> Result<Opened, Error> {
    let dir = data_dir.to_owned();
    Ok(tokio::task::spawn_blocking(move || raft::open_store_with(&dir, &keys)).await??)
}

async fn wait_for_key(data_dir: &Path, autolock: bool) -> Result<Opened, Error> {
    let path = data_dir.join(SOCKET_NAME);
    let socket_error = |source| Error::Socket {
        path: path.clone(),
        source,
    };
    // A socket left by a process that died while locked.
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(socket_error(e)),
        _ => {}
    }
    let listener = UnixListener::bind(&path).map_err(socket_error)?;
    tracing::warn!(
        socket = %path.display(),
        "this manager is locked: its store is encrypted and its unlock key is kept nowhere \
         (autolock); run `reconciler unlock --data-dir {}` and paste the key printed when \
         autolock was turned on",
        data_dir.display()
    );
    let opened = loop {
        let (stream, _) = listener.accept().await.map_err(socket_error)?;
        let (read, mut write) = stream.into_split();
        let key = match read_key(read).await {
            Ok(key) => key,
            Err(message) => {
                let _ = write
                    .write_all(format!("error: {message}\n").as_bytes())
                    .await;
                continue;
            }
        };
        let keys = Keys {
            autolock,
            supplied: Some(key),
        };
        match open_blocking(data_dir, keys).await {
            Ok(opened) => {
                let _ = write.write_all(format!("{UNLOCKED}\n").as_bytes()).await;
                break opened;
            }
            Err(Error::Store(raft::Error::Unlock {
                source: KeyError::Wrong,
                ..
            })) => {
                tracing::warn!("an unlock attempt gave a wrong key; still locked");
                let _ = write
                    .write_all(format!("error: {}\n", KeyError::Wrong).as_bytes())
                    .await;
            }
            Err(other) => {
                let _ = write
                    .write_all(format!("error: {other}\n").as_bytes())
                    .await;
                let _ = std::fs::remove_file(&path);
                return Err(other);
            }
        }
    };
    let _ = std::fs::remove_file(&path);
    tracing::info!("unlocked the replicated store");
    Ok(opened)
}

/// One line from the client, parsed as a key.
async fn read_key(read: tokio::net::unix::OwnedReadHalf) -> Result<UnlockKey, String> {
    let mut line = String::new();
    let mut reader = BufReader::new(read.take(MAX_LINE));
    match tokio::time::timeout(READ_DEADLINE, reader.read_line(&mut line)).await {
        Ok(Ok(_)) => UnlockKey::parse(&line).map_err(|e| e.to_string()),
        Ok(Err(e)) => Err(format!("cannot read the key: {e}")),
        Err(_) => Err(format!("no key within {READ_DEADLINE:?}")),
    }
}

/// The client's end: sends `key` to the manager waiting in `data_dir` and returns its answer.
pub async fn send_key(data_dir: &Path, key: &str) -> Result<String, std::io::Error> {
    let path = data_dir.join(SOCKET_NAME);
    let mut stream = UnixStream::connect(&path).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!(
                "no locked manager is waiting on {} ({e}): is it running, and is it locked?",
                path.display()
            ),
        )
    })?;
    stream
        .write_all(format!("{}\n", key.trim()).as_bytes())
        .await?;
    let mut answer = String::new();
    BufReader::new(stream.take(MAX_LINE))
        .read_line(&mut answer)
        .await?;
    Ok(answer.trim().to_owned())
}

/// Shows a new unlock key once, on standard output, where the operator who started the
/// manager reads it (the log never carries it).
pub fn announce(key: &UnlockKey, data_dir: &Path) {
    tracing::warn!(
        "autolock is on: this manager keeps no unlock key for its store; the key is printed \
         once on standard output"
    );
    println!(
        "\nThis manager's store is encrypted and its unlock key is kept nowhere (autolock).\n\
         Keep this key safe; it is shown only now:\n\n    {}\n\n\
         After every restart, unlock the manager with:\n    \
         reconciler unlock --data-dir {}\n",
        key.to_text(),
        data_dir.display()
    );
}
