//! The served directory: one `NAME.rvf` per collection, opened on first use and kept
//! open, each behind a read-write lock (many readers or one writer).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};

use axum::http::StatusCode;
use rvf_runtime::{OpenOptions, RvfStore};

use super::error::{ApiError, ApiResult};

/// One collection. `None` once the collection has been deleted (a request that got
/// hold of it before the delete then sees "not found").
pub type Collection = RwLock<Option<RvfStore>>;

pub struct Shared {
    /// The served directory, canonical.
    pub dir: PathBuf,
    pub read_only: bool,
    pub api_key: Option<String>,
    open: Mutex<HashMap<String, Arc<Collection>>>,
}

pub type AppState = Arc<Shared>;

pub fn new_state(
    dir: &Path,
    read_only: bool,
    api_key: Option<String>,
) -> std::io::Result<AppState> {
    let dir = std::fs::canonicalize(dir)?;
    if !dir.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is not a directory", dir.display()),
        ));
    }
    Ok(Arc::new(Shared {
        dir,
        read_only,
        api_key,
        open: Mutex::new(HashMap::new()),
    }))
}

/// `[A-Za-z0-9_-]{1,64}`: no separators, dots or anything a path could be built from.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn bad_name(name: &str, why: &str) -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        "RVF_E_BAD_NAME",
        format!("invalid collection name {name:?}: {why}"),
    )
}

impl Shared {
    fn lock_open(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Collection>>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The file of collection `name`, checked to stay inside the served directory even
    /// through symlinks. It need not exist.
    pub fn path_of(&self, name: &str) -> ApiResult<PathBuf> {
        if !valid_name(name) {
            return Err(bad_name(name, "use 1 to 64 of A-Z a-z 0-9 _ -"));
        }
        let path = self.dir.join(format!("{name}.rvf"));
        match std::fs::symlink_metadata(&path) {
            Err(_) => Ok(path),
            Ok(_) => {
                let real = std::fs::canonicalize(&path)
                    .map_err(|_| bad_name(name, "its file is a dangling link"))?;
                if real.parent() != Some(self.dir.as_path()) || !real.is_file() {
                    return Err(bad_name(
                        name,
                        "its file resolves outside the served directory",
                    ));
                }
                Ok(path)
            }
        }
    }

    /// The open collection `name`, opening its file on first use.
    pub fn get(&self, name: &str) -> ApiResult<Arc<Collection>> {
        let path = self.path_of(name)?;
        let mut open = self.lock_open();
        if let Some(c) = open.get(name) {
            return Ok(c.clone());
        }
        if !path.exists() {
            return Err(ApiError::no_collection(name));
        }
        let store = RvfStore::open_with(
            &path,
            OpenOptions {
                read_only: self.read_only,
                ..OpenOptions::default()
            },
        )?;
        let c = Arc::new(RwLock::new(Some(store)));
        open.insert(name.to_string(), c.clone());
        Ok(c)
    }

    /// Registers a store just created under `name`.
    pub fn insert(&self, name: &str, store: RvfStore) -> Arc<Collection> {
        let c = Arc::new(RwLock::new(Some(store)));
        self.lock_open().insert(name.to_string(), c.clone());
        c
    }

    /// Closes and forgets collection `name`; returns it (still locked by nobody).
    pub fn remove(&self, name: &str) -> Option<Arc<Collection>> {
        self.lock_open().remove(name)
    }

    /// Names of the `.rvf` files of the directory that are valid collection names.
    pub fn names(&self) -> std::io::Result<Vec<String>> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let stem = name.strip_suffix(".rvf")?;
                valid_name(stem).then(|| stem.to_string())
            })
            .collect();
        names.sort();
        Ok(names)
    }

    /// Takes every open store out, for a clean shutdown.
    pub fn drain(&self) -> Vec<(String, Arc<Collection>)> {
        self.lock_open().drain().collect()
    }
}

pub fn read(c: &Collection) -> RwLockReadGuard<'_, Option<RvfStore>> {
    c.read().unwrap_or_else(|p| p.into_inner())
}

pub fn write(c: &Collection) -> RwLockWriteGuard<'_, Option<RvfStore>> {
    c.write().unwrap_or_else(|p| p.into_inner())
}
