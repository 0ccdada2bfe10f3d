//! Operating-system calls the standard library does not offer.

use std::fs::File;
use std::io;

/// `sync_file_range(SYNC_FILE_RANGE_WRITE)`: start writeback of a byte range.
#[cfg(target_os = "linux")]
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let (Ok(offset), Ok(len)) = (i64::try_from(offset), i64::try_from(len)) else {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    };
    // SAFETY: sync_file_range only reads its integer arguments; the descriptor is valid
    // for the duration of the call because `file` is borrowed.
    let rc = unsafe {
        libc::sync_file_range(file.as_raw_fd(), offset, len, libc::SYNC_FILE_RANGE_WRITE)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn start_writeback(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Ok(())
}

/// Writes every byte of `slices`, in order, at `offset` with `pwritev`: one system call
/// for up to 1,024 pieces of the caller's memory, however they are scattered, instead of
/// one per piece or a copy into a buffer first.
pub(crate) fn pwritev_all(file: &File, mut offset: u64, slices: &[&[u8]]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    // Pieces adjacent in memory (rows of one matrix) become one iovec.
    let mut iov: Vec<libc::iovec> = Vec::with_capacity(slices.len());
    for s in slices.iter().filter(|s| !s.is_empty()) {
        match iov.last_mut() {
            Some(last)
                if (last.iov_base as usize).wrapping_add(last.iov_len) == s.as_ptr() as usize =>
            {
                last.iov_len += s.len();
            }
            _ => iov.push(libc::iovec {
                iov_base: s.as_ptr() as *mut libc::c_void,
                iov_len: s.len(),
            }),
        }
    }
    const IOV_MAX: usize = 1024;
    let mut first = 0;
    while first < iov.len() {
        let batch = &iov[first..(first + IOV_MAX).min(iov.len())];
        let off =
            i64::try_from(offset).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: every iovec covers bytes of a slice borrowed for this whole call (two
        // iovecs are merged only when one's range ends exactly where the next begins, so
        // the union is still the two slices' bytes), and pwritev only reads them; the
        // descriptor is valid because `file` is borrowed.
        let n = unsafe { libc::pwritev(file.as_raw_fd(), batch.as_ptr(), batch.len() as i32, off) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        if n == 0 {
            return Err(io::Error::from(io::ErrorKind::WriteZero));
        }
        // Skip what was written, which may end inside an iovec.
        let mut left = n as usize;
        offset += left as u64;
        while left > 0 && first < iov.len() {
            let v = &mut iov[first];
            if left >= v.iov_len {
                left -= v.iov_len;
                first += 1;
            } else {
                // SAFETY: advancing within the same iovec's range (left < iov_len).
                v.iov_base = unsafe { (v.iov_base as *mut u8).add(left) } as *mut libc::c_void;
                v.iov_len -= left;
                left = 0;
            }
        }
    }
    Ok(())
}
