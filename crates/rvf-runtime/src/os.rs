//! Operating-system calls the standard library does not offer.

use std::fs::File;

/// Asks the kernel to start writing a byte range of `file` to disk now, without waiting.
/// A bulk load that syncs only at close then finds most of its data already on disk,
/// so the final sync overlaps the load instead of following it. Best effort: errors are
/// ignored, because the sync that follows reports any real failure.
#[cfg(target_os = "linux")]
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is valid
    // for the duration of the call because `file` is borrowed.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn start_writeback(_file: &File, _offset: u64, _len: u64) {}
