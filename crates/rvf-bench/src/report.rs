//! The results table: rows collected by each benchmark, rendered as markdown.

use std::fmt::Write as _;

/// One line of the results table.
#[derive(Debug, Clone)]
pub struct Row {
    /// Benchmark number from the brief (1–7).
    pub section: u8,
    pub what: String,
    pub ours: String,
    /// The peer's (or the reference's) figure.
    pub peer: String,
    /// Peer cost / our cost (or our rate / peer rate): above 1 means we are better.
    pub ratio: Option<f64>,
    pub note: String,
}

impl Row {
    pub fn new(section: u8, what: impl Into<String>) -> Row {
        Row {
            section,
            what: what.into(),
            ours: String::new(),
            peer: "n/a".into(),
            ratio: None,
            note: String::new(),
        }
    }

    pub fn ours(mut self, s: impl Into<String>) -> Row {
        self.ours = s.into();
        self
    }

    pub fn peer(mut self, s: impl Into<String>) -> Row {
        self.peer = s.into();
        self
    }

    pub fn ratio(mut self, r: f64) -> Row {
        self.ratio = r.is_finite().then_some(r);
        self
    }

    pub fn note(mut self, s: impl Into<String>) -> Row {
        self.note = s.into();
        self
    }
}

/// The table: ratio above 1 means we are better; rows we lose are marked.
pub fn table(rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("| # | benchmark | ours | peer / reference | ratio | notes |\n");
    out.push_str("|---|---|---|---|---:|---|\n");
    for r in rows {
        let ratio = match r.ratio {
            Some(x) if x < 0.995 => format!("**{x:.2}** (lose)"),
            Some(x) => format!("{x:.2}"),
            None => "–".into(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            r.section,
            r.what,
            r.ours,
            r.peer,
            ratio,
            r.note.replace('|', "\\|")
        );
    }
    out
}
