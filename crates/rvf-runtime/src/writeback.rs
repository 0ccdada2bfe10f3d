//! Early writeback for bulk loads (`Durability::OnClose`), started from a helper thread.
//!
//! Asking the kernel to start writing a range (`sync_file_range`) lets the disk work
//! while the load goes on, so the sync at close finds little left to do. The call blocks
//! whenever the device queue is full, though, and made on the loading thread it would
//! tie the load to the disk's pace (CPU time plus disk time instead of the larger of
//! the two). A helper thread takes the requests instead.

use std::fs::File;
use std::sync::mpsc::{channel, Sender};
use std::thread::JoinHandle;

#[derive(Debug)]
pub(crate) struct Writeback {
    requests: Option<Sender<(u64, u64)>>,
    thread: Option<JoinHandle<()>>,
    /// Used directly when no thread could be started.
    file: File,
}

impl Writeback {
    /// A writeback helper for `file`, or `None` if its descriptor cannot be duplicated.
    pub fn new(file: &File) -> Option<Writeback> {
        let own = file.try_clone().ok()?;
        let for_thread = file.try_clone().ok()?;
        let (tx, rx) = channel::<(u64, u64)>();
        let thread = std::thread::Builder::new()
            .name("rvf-writeback".into())
            .spawn(move || {
                for (offset, len) in rx {
                    let _ = crate::fileio::start_writeback(&for_thread, offset, len);
                }
            })
            .ok();
        Some(Writeback {
            requests: thread.as_ref().map(|_| tx),
            thread,
            file: own,
        })
    }

    /// Asks for `offset..offset + len` to be written out soon; returns at once.
    pub fn request(&self, offset: u64, len: u64) {
        let sent = self
            .requests
            .as_ref()
            .is_some_and(|tx| tx.send((offset, len)).is_ok());
        if !sent {
            let _ = crate::fileio::start_writeback(&self.file, offset, len);
        }
    }
}

impl Drop for Writeback {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has passed on what was asked.
        self.requests.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
