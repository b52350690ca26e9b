//! [`FileStore`]: one JSON file shared by the processes of one machine, replaced atomically,
//! readable by its owner only, with an advisory lock beside it.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures::future::BoxFuture;
use tokenkeeper_core::TokenSet;
use zeroize::Zeroizing;

use super::codec::{self, MAX_STORED};
use super::{HeldLock, StoreError, StoreLock, TokenStore};

/// Tokens in a file, for the processes of one machine that share an identity.
///
/// - The set is JSON with absolute times (see the crate README), written to a temporary file
///   in the same directory, flushed to disk, then renamed over the old one: a reader sees the
///   old set or the new one, never half of one, and a crash leaves one of them.
/// - Files are created with mode `0600` (owner only); a file found with a wider mode is
///   replaced by a `0600` one at the next save.
/// - The lock is an advisory `flock` on `<path>.lock` (created beside the file, never
///   removed): the operating system releases it when its holder exits or is killed, so a
///   crashed holder delays no one.
/// - Every file operation runs on tokio's blocking pool.
#[derive(Clone, Debug)]
pub struct FileStore {
    paths: Arc<Paths>,
}

#[derive(Debug)]
struct Paths {
    file: PathBuf,
    lock: PathBuf,
    dir: PathBuf,
    name: String,
}

impl FileStore {
    /// A store in `path` (the directory must exist; the file is created at the first save).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let file = path.into();
        let name = file
            .file_name()
            .map_or_else(|| "tokens".to_owned(), |n| n.to_string_lossy().into_owned());
        let dir = match file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut lock = file.clone().into_os_string();
        lock.push(".lock");
        FileStore {
            paths: Arc::new(Paths {
                lock: PathBuf::from(lock),
                file,
                dir,
                name,
            }),
        }
    }

    /// The file holding the tokens.
    pub fn path(&self) -> &Path {
        &self.paths.file
    }

    /// The lock file beside it.
    pub fn lock_path(&self) -> &Path {
        &self.paths.lock
    }

    async fn blocking<R: Send + 'static>(
        &self,
        f: impl FnOnce(&Paths) -> Result<R, StoreError> + Send + 'static,
    ) -> Result<R, StoreError> {
        let paths = Arc::clone(&self.paths);
        match tokio::task::spawn_blocking(move || f(&paths)).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Io {
                op: "run a file operation for",
                path: self.paths.file.display().to_string(),
                source: io::Error::other(e.to_string()),
            }),
        }
    }
}

fn io_error(op: &'static str, path: &Path, source: io::Error) -> StoreError {
    StoreError::Io {
        op,
        path: path.display().to_string(),
        source,
    }
}

/// Reads the stored set (`None` when there is no file).
fn read(paths: &Paths) -> Result<Option<TokenSet>, StoreError> {
    let path = &paths.file;
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io_error("read", path, e)),
    };
    let mut buf = Zeroizing::new(Vec::new());
    file.take(MAX_STORED as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| io_error("read", path, e))?;
    codec::decode(&buf).map(Some)
}

/// Distinguishes the temporary files of concurrent saves in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `tokens` to a temporary file (mode 0600), flushes it, renames it over the file and
/// flushes the directory. Keeps a newer set found in the file.
fn write(paths: &Paths, tokens: &TokenSet) -> Result<(), StoreError> {
    if let Ok(Some(held)) = read(paths)
        && held.issued_at > tokens.issued_at
    {
        return Ok(());
    }
    let bytes = codec::encode(tokens);
    let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = paths
        .dir
        .join(format!(".{}.{}.{n}.tmp", paths.name, std::process::id()));
    let result = (|| {
        let mut f = create_private(&temp).map_err(|e| io_error("create", &temp, e))?;
        f.write_all(&bytes)
            .map_err(|e| io_error("write", &temp, e))?;
        f.sync_all().map_err(|e| io_error("flush", &temp, e))?;
        fs::rename(&temp, &paths.file).map_err(|e| io_error("replace", &paths.file, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result?;
    sync_dir(paths);
    Ok(())
}

fn clear(paths: &Paths) -> Result<(), StoreError> {
    match fs::remove_file(&paths.file) {
        Ok(()) => {
            sync_dir(paths);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error("remove", &paths.file, e)),
    }
}

/// Flushes the directory entry of a rename or removal (best effort: not every file system
/// allows opening a directory).
fn sync_dir(paths: &Paths) {
    if let Ok(d) = File::open(&paths.dir) {
        let _ = d.sync_all();
    }
}

/// Creates a new file readable and writable by its owner only; never follows a symlink
/// planted at `path` (`create_new`).
fn create_private(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)
}

fn open_lock(path: &Path) -> io::Result<File> {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        o.mode(0o600);
    }
    o.open(path)
}

/// A held `flock`: closing the file releases it (as the OS does when the process dies).
struct Held(File);

impl HeldLock for Held {
    fn release(self: Box<Self>) -> BoxFuture<'static, ()> {
        let _ = self.0.unlock();
        Box::pin(async move { drop(self) })
    }
}

#[async_trait::async_trait]
impl TokenStore for FileStore {
    async fn load(&self) -> Result<Option<TokenSet>, StoreError> {
        self.blocking(read).await
    }

    async fn save(&self, tokens: Option<&TokenSet>) -> Result<(), StoreError> {
        let tokens = tokens.cloned();
        self.blocking(move |p| match &tokens {
            Some(t) => write(p, t),
            None => clear(p),
        })
        .await
    }

    async fn try_lock(&self) -> Result<Option<StoreLock>, StoreError> {
        self.blocking(|p| {
            // A new open file description per attempt: two keepers in one process exclude
            // each other as two processes do.
            let f = open_lock(&p.lock).map_err(|e| io_error("open", &p.lock, e))?;
            match f.try_lock() {
                Ok(()) => Ok(Some(StoreLock::new(Held(f)))),
                Err(TryLockError::WouldBlock) => Ok(None),
                Err(TryLockError::Error(e)) => Err(io_error("lock", &p.lock, e)),
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use tokenkeeper_core::Timestamp;

    use super::*;

    fn set(access: &str, issued_ms: u64) -> TokenSet {
        TokenSet {
            access_token: access.into(),
            refresh_token: Some(format!("r-{access}").into()),
            issued_at: Timestamp::from_millis(issued_ms),
            expires_at: Timestamp::from_millis(issued_ms + 60_000),
            refresh_expires_at: None,
        }
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    #[tokio::test]
    async fn a_saved_set_is_loaded_back_from_an_owner_only_file() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("tokens.json"));
        assert_eq!(store.load().await.unwrap(), None, "no file yet");
        store.save(Some(&set("a1", 1_000))).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(set("a1", 1_000)));
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(names(dir.path()), ["tokens.json"], "no temporary file left");
        // Another store on the same path (another process) sees it.
        let other = FileStore::new(dir.path().join("tokens.json"));
        assert_eq!(other.load().await.unwrap(), Some(set("a1", 1_000)));
    }

    #[tokio::test]
    async fn a_wider_file_is_replaced_by_an_owner_only_one_and_an_older_set_never_wins() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("t"));
        store.save(Some(&set("a2", 2_000))).await.unwrap();
        fs::set_permissions(store.path(), fs::Permissions::from_mode(0o644)).unwrap();
        store.save(Some(&set("a1", 1_000))).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(set("a2", 2_000)), "kept");
        store.save(Some(&set("a3", 3_000))).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(set("a3", 3_000)));
        let mode = fs::metadata(store.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        store.save(None).await.unwrap();
        assert_eq!(store.load().await.unwrap(), None, "cleared");
        store.save(None).await.unwrap();
    }

    #[tokio::test]
    async fn a_damaged_file_is_reported_and_replaced_by_the_next_save() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileStore::new(dir.path().join("t"));
        fs::write(
            store.path(),
            b"{\"version\":1,\"tokens\":{\"access_token\":\"SECRET",
        )
        .unwrap();
        let e = store.load().await.unwrap_err();
        assert!(matches!(e, StoreError::Corrupt { .. }), "{e}");
        assert!(!format!("{e} {e:?}").contains("SECRET"));
        store.save(Some(&set("a1", 1_000))).await.unwrap();
        assert_eq!(store.load().await.unwrap(), Some(set("a1", 1_000)));
    }

    #[tokio::test]
    async fn the_lock_excludes_other_holders_until_released_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let a = FileStore::new(dir.path().join("t"));
        let b = FileStore::new(dir.path().join("t"));
        let held = a.try_lock().await.unwrap().expect("free");
        assert!(b.try_lock().await.unwrap().is_none(), "held by a");
        assert!(a.try_lock().await.unwrap().is_none(), "not reentrant");
        held.release().await;
        let held = b.try_lock().await.unwrap().expect("released");
        drop(held);
        assert!(a.try_lock().await.unwrap().is_some(), "dropping releases");
        let mode = fs::metadata(a.lock_path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn a_missing_directory_is_an_io_error_naming_the_file() {
        let store = FileStore::new("/nonexistent-tokenkeeper-dir/t.json");
        let e = store.save(Some(&set("a1", 1))).await.unwrap_err();
        assert!(matches!(e, StoreError::Io { .. }), "{e}");
        assert!(
            e.to_string().contains("/nonexistent-tokenkeeper-dir"),
            "{e}"
        );
        assert!(store.try_lock().await.is_err());
    }
}
