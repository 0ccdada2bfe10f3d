//! Marks of the nodes a search has visited: one bit per node, so that the marks of a
//! million-node graph (128 KiB) stay in the core's cache where a stamp per node would
//! not, reused across searches (a search clears only the words it touched).

use std::cell::RefCell;

pub(crate) struct Visited {
    bits: Vec<u64>,
    /// Words with a bit set, to clear before the next search.
    touched: Vec<u32>,
}

impl Visited {
    fn new() -> Self {
        Visited {
            bits: Vec::new(),
            touched: Vec::new(),
        }
    }

    /// Starts a search over `n` nodes.
    fn reset(&mut self, n: usize) {
        for &w in &self.touched {
            if let Some(word) = self.bits.get_mut(w as usize) {
                *word = 0;
            }
        }
        self.touched.clear();
        let words = n.div_ceil(64);
        if self.bits.len() < words {
            self.bits.resize(words, 0);
        }
    }

    /// Marks `i`; true if it was not marked in this search.
    #[inline]
    pub fn insert(&mut self, i: u32) -> bool {
        let w = (i / 64) as usize;
        let bit = 1u64 << (i % 64);
        match self.bits.get_mut(w) {
            Some(word) if *word & bit == 0 => {
                if *word == 0 {
                    self.touched.push(w as u32);
                }
                *word |= bit;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_are_fresh_for_each_search() {
        for round in 0..3u32 {
            with_visited(1000, |v| {
                for i in (round..1000).step_by(7) {
                    assert!(v.insert(i), "round {round}: {i} seen before");
                    assert!(!v.insert(i));
                }
                // Past the end: never new (the caller checks ranges itself).
                assert!(!v.insert(5000));
            });
        }
        with_visited(10, |v| assert!(v.insert(3)));
    }
}
