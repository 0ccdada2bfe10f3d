//! Marks of the nodes a search has visited: one stamp per node, reused across searches
//! (a new search takes a new stamp instead of clearing the array).

use std::cell::RefCell;

pub(crate) struct Visited {
    stamps: Vec<u16>,
    current: u16,
}

impl Visited {
    fn new() -> Self {
        Visited {
            stamps: Vec::new(),
            current: 0,
        }
    }

    /// Starts a search over `n` nodes.
    fn reset(&mut self, n: usize) {
        if self.stamps.len() < n {
            self.stamps.resize(n, 0);
        }
        self.current = self.current.wrapping_add(1);
        if self.current == 0 {
            self.stamps.iter_mut().for_each(|s| *s = 0);
            self.current = 1;
        }
    }

    /// Marks `i`; true if it was not marked in this search.
    #[inline]
    pub fn insert(&mut self, i: u32) -> bool {
        match self.stamps.get_mut(i as usize) {
            Some(s) if *s != self.current => {
                *s = self.current;
                true
            }
            _ => false,
        }
    }
}

thread_local! {
    static POOL: RefCell<Visited> = RefCell::new(Visited::new());
}

/// Runs `f` with this thread's visited marks, reset for `n` nodes.
pub(crate) fn with_visited<R>(n: usize, f: impl FnOnce(&mut Visited) -> R) -> R {
    POOL.with(|p| match p.try_borrow_mut() {
        Ok(mut v) => {
            v.reset(n);
            f(&mut v)
        }
        // A search inside a search (not done today): a private set.
        Err(_) => {
            let mut v = Visited::new();
            v.reset(n);
            f(&mut v)
        }
    })
}
