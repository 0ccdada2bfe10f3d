//! Compaction and materialization (filled in below).
