//! The only place that maps files into memory.

use std::fs::File;
use std::path::{Path, PathBuf};

use memmap2::{Mmap, MmapOptions};

use crate::error::{Result, RvfError};

/// A read-only view of the committed bytes of one file.
#[derive(Debug)]
pub(crate) struct MappedFile {
    pub path: PathBuf,
    map: Option<Mmap>,
}

impl MappedFile {
    /// Maps the first `len` bytes of the file at `path`, through a descriptor of its own:
    /// a mapping keeps its descriptor alive, and the writer lock (flock) lives as long
    /// as the descriptor that took it, so mapping the locked descriptor would let any
    /// branch holding this map keep the store locked after `close`.
    pub fn map(path: &Path, len: u64) -> Result<MappedFile> {
        let file =
            File::open(path).map_err(|e| RvfError::io(path, "opening the file to map it", e))?;
        Self::map_file(path, &file, len)
    }

    fn map_file(path: &Path, file: &File, len: u64) -> Result<MappedFile> {
        if len == 0 {
            return Ok(MappedFile {
                path: path.to_path_buf(),
                map: None,
            });
        }
        let len_usize = usize::try_from(len).map_err(|_| {
            RvfError::InvalidArgument(format!("{}: file too large to map", path.display()))
        })?;
        // SAFETY: the mapping is read-only and covers only bytes below the committed end
        // that the file's writer never rewrites (RVF files are append-only; the writer only
        // truncates bytes beyond the committed end, and compaction replaces the file by
        // rename, leaving this inode intact). Another program modifying the file behind our
        // back could still change the bytes we read, which is why every structure read
        // from the map is checksummed and bounds checked before use.
        let map = unsafe { MmapOptions::new().len(len_usize).map(file) }
            .map_err(|e| RvfError::io(path, "mapping the file", e))?;
        // Lets the kernel map the vectors with 2 MiB pages where the page cache holds them
        // in 2 MiB folios (the writer aligns its large writes for that): a scan then takes
        // far fewer TLB misses. Only advice, so a kernel that declines changes nothing.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        Ok(MappedFile {
            path: path.to_path_buf(),
            map: Some(map),
        })
    }

    pub fn bytes(&self) -> &[u8] {
        self.map.as_deref().unwrap_or(&[])
    }

    pub fn len(&self) -> u64 {
        self.bytes().len() as u64
    }
}
