//! Every system call by which the store changes files — write, fsync/fdatasync,
//! `sync_file_range`, ftruncate, rename — in one place. Reads go through the memory
//! map and `pread` elsewhere; nothing here reads.
//!
//! With the `fault-injection` feature (tests only), any of these calls can be made to
//! fail at a chosen call index (see [`faults`]), which is how the tests check that a
//! failed write, sync, truncate or rename never leaves an acknowledged commit behind
//! that a reopen would not show.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

pub(crate) fn write_at(file: &File, buf: &[u8], offset: u64) -> io::Result<()> {
    faults::inject(faults::Call::Write)?;
    file.write_all_at(buf, offset)
}

/// Writes `slices` one after another at `offset` (one `pwritev` per 1,024 pieces).
pub(crate) fn write_vectored_at(file: &File, slices: &[&[u8]], offset: u64) -> io::Result<()> {
    faults::inject(faults::Call::Write)?;
    crate::os::pwritev_all(file, offset, slices)
}

pub(crate) fn sync_data(file: &File) -> io::Result<()> {
    faults::inject(faults::Call::Sync)?;
    file.sync_data()
}

pub(crate) fn sync_all(file: &File) -> io::Result<()> {
    faults::inject(faults::Call::Sync)?;
    file.sync_all()
}

pub(crate) fn set_len(file: &File, len: u64) -> io::Result<()> {
    faults::inject(faults::Call::Truncate)?;
    file.set_len(len)
}

pub(crate) fn rename(from: &Path, to: &Path) -> io::Result<()> {
    faults::inject(faults::Call::Rename)?;
    std::fs::rename(from, to)
}

/// fsync of a directory, so a file created or renamed in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    faults::inject(faults::Call::Sync)?;
    File::open(dir)?.sync_all()
}

/// Asks the kernel to start writing a byte range of `file` to disk now, without
/// waiting. A bulk load that syncs only at close then finds most of its data already on
/// disk, so the final sync overlaps the load instead of following it. Best effort: the
/// error is for the caller to ignore, because the sync that follows reports any real
/// failure.
pub(crate) fn start_writeback(file: &File, offset: u64, len: u64) -> io::Result<()> {
    faults::inject(faults::Call::Writeback)?;
    crate::os::start_writeback(file, offset, len)
}

#[cfg(feature = "fault-injection")]
pub mod faults {
    //! A process-wide fault plan for tests: the `fail_at`-th call (counting from 0
    //! since [`arm`]) of the calls in [`crate::fileio`] fails with `errno` instead of
    //! running. Calls are logged, so a test can first count the calls of a workload and
    //! then fail each one in turn. `sync_file_range` runs on a helper thread at its own
    //! pace, so it is not counted (that would make indices depend on timing); instead
    //! `fail_writeback` fails all of them. The plan is global: tests that arm it must
    //! not run concurrently.

    use std::io;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Mutex;

    /// Which kind of call.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Call {
        Write,
        Sync,
        Writeback,
        Truncate,
        Rename,
    }

    #[derive(Debug, Clone, Copy)]
    pub struct FaultPlan {
        /// Index of the call that fails, among calls other than `Writeback` (None:
        /// count only).
        pub fail_at: Option<u64>,
        /// Every `Writeback` call fails.
        pub fail_writeback: bool,
        /// The error a failing call returns (e.g. `libc::ENOSPC`, `libc::EIO`).
        pub errno: i32,
    }

    struct State {
        plan: FaultPlan,
        calls: Vec<Call>,
    }

    static ARMED: AtomicBool = AtomicBool::new(false);
    static STATE: Mutex<Option<State>> = Mutex::new(None);

    fn state() -> std::sync::MutexGuard<'static, Option<State>> {
        STATE.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts counting calls (and failing the chosen one).
    pub fn arm(plan: FaultPlan) {
        *state() = Some(State {
            plan,
            calls: Vec::new(),
        });
        ARMED.store(true, Ordering::SeqCst);
    }

    /// Counted calls (all but `Writeback`) made since [`arm`] so far.
    pub fn count() -> u64 {
        state().as_ref().map_or(0, |s| s.calls.len() as u64)
    }

    /// Stops injecting; returns the counted calls (all but `Writeback`) since [`arm`].
    pub fn disarm() -> Vec<Call> {
        ARMED.store(false, Ordering::SeqCst);
        state().take().map(|s| s.calls).unwrap_or_default()
    }

    pub(crate) fn inject(call: Call) -> io::Result<()> {
        if !ARMED.load(Ordering::Relaxed) {
            return Ok(());
        }
        let mut guard = state();
        let Some(s) = guard.as_mut() else {
            return Ok(());
        };
        let fail = if call == Call::Writeback {
            s.plan.fail_writeback
        } else {
            let index = s.calls.len() as u64;
            s.calls.push(call);
            s.plan.fail_at == Some(index)
        };
        match fail {
            true => Err(io::Error::from_raw_os_error(s.plan.errno)),
            false => Ok(()),
        }
    }
}

#[cfg(not(feature = "fault-injection"))]
mod faults {
    #[derive(Clone, Copy)]
    pub(crate) enum Call {
        Write,
        Sync,
        Writeback,
        Truncate,
        Rename,
    }

    #[inline(always)]
    pub(crate) fn inject(_call: Call) -> std::io::Result<()> {
        Ok(())
    }
}
