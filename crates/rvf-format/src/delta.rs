//! DELTA: one commit's changes to the file's state (the journal). Deltas written since the
//! last checkpoint chain backwards through `prev`; replaying them oldest-first on top of
//! the checkpoint gives the generation's state.
//!
//! Payload: `prev` (u64 offset, u64 len; offset 0 = first since the checkpoint), then
//! sections, each `u8 tag`, `varint body length`, body.

use crate::bytes::{put_u64, put_varint, ByteReader};
use crate::error::{FormatError, Result};
use crate::manifest::SegRef;
use crate::runs::{RunDesc, RUN_DESC_LEN};
use crate::sets::{decode_spans, encode_spans, Span, NO_LIMIT};

const TAG_RUNS: u8 = 1;
const TAG_DEAD_SLOTS: u8 = 2;
const TAG_MEMBERSHIP_MODE: u8 = 3;
const TAG_MEMBERS_ADD: u8 = 4;
const TAG_MEMBERS_REMOVE: u8 = 5;

/// Membership filter mode codes on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum MembershipModeCode {
    /// The set lists hidden ids; an empty set shows every inherited vector.
    Exclude = 0,
    /// The set lists visible ids; an empty set shows no inherited vector.
    Include = 1,
}

impl MembershipModeCode {
    pub fn from_u8(v: u8) -> Result<Self> {
        match v {
            0 => Ok(MembershipModeCode::Exclude),
            1 => Ok(MembershipModeCode::Include),
            m => Err(FormatError::invalid(
                "membership",
                format!("unknown mode {m}"),
            )),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delta {
    pub prev: SegRef,
    pub runs_added: Vec<RunDesc>,
    /// Slots that became dead in this commit (ascending, disjoint spans).
    pub dead_slots: Vec<Span>,
    /// A mode change empties the membership set before the adds and removes below apply.
    pub membership_mode: Option<MembershipModeCode>,
    pub members_added: Vec<Span>,
    pub members_removed: Vec<Span>,
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.runs_added.is_empty()
            && self.dead_slots.is_empty()
            && self.membership_mode.is_none()
            && self.members_added.is_empty()
            && self.members_removed.is_empty()
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        put_u64(&mut out, self.prev.offset);
        put_u64(&mut out, self.prev.len);
        let section = |tag: u8, body: Vec<u8>, out: &mut Vec<u8>| {
            out.push(tag);
            put_varint(out, body.len() as u64);
            out.extend_from_slice(&body);
        };
        if !self.runs_added.is_empty() {
            let mut body = Vec::with_capacity(self.runs_added.len() * RUN_DESC_LEN + 4);
            put_varint(&mut body, self.runs_added.len() as u64);
            for r in &self.runs_added {
                r.encode(&mut body);
            }
            section(TAG_RUNS, body, &mut out);
        }
        if !self.dead_slots.is_empty() {
            let mut body = Vec::new();
            encode_spans(&self.dead_slots, &mut body);
            section(TAG_DEAD_SLOTS, body, &mut out);
        }
        if let Some(mode) = self.membership_mode {
            section(TAG_MEMBERSHIP_MODE, vec![mode as u8], &mut out);
        }
        if !self.members_added.is_empty() {
            let mut body = Vec::new();
            encode_spans(&self.members_added, &mut body);
            section(TAG_MEMBERS_ADD, body, &mut out);
        }
        if !self.members_removed.is_empty() {
            let mut body = Vec::new();
            encode_spans(&self.members_removed, &mut body);
            section(TAG_MEMBERS_REMOVE, body, &mut out);
        }
        out
    }

    /// Sets are decoded as spans (see [`crate::sets`]): their memory is bounded by the
    /// payload's size whatever the number of slots or ids they cover. The caller checks
    /// dead slots against its slot count.
    pub fn decode(payload: &[u8]) -> Result<Delta> {
        let what = "DELTA";
        let mut r = ByteReader::new(payload, what);
        let prev = SegRef {
            offset: r.u64()?,
            len: r.u64()?,
        };
        let mut d = Delta {
            prev,
            ..Delta::default()
        };
        let mut last_tag = 0u8;
        while !r.is_empty() {
            let tag = r.u8()?;
            if tag <= last_tag {
                return Err(FormatError::invalid(
                    what,
                    "sections out of order or repeated",
                ));
            }
            last_tag = tag;
            let len = r.varint()?;
            let len = r.count(len, 1)?;
            let body = r.take(len)?;
            let mut b = ByteReader::new(body, what);
            match tag {
                TAG_RUNS => {
                    let raw = b.varint()?;
                    let n = b.count(raw, RUN_DESC_LEN)?;
                    for _ in 0..n {
                        d.runs_added.push(RunDesc::decode(&mut b)?);
                    }
                }
                TAG_DEAD_SLOTS => d.dead_slots = decode_spans(&mut b, NO_LIMIT)?,
                TAG_MEMBERSHIP_MODE => {
                    d.membership_mode = Some(MembershipModeCode::from_u8(b.u8()?)?)
                }
                TAG_MEMBERS_ADD => d.members_added = decode_spans(&mut b, NO_LIMIT)?,
                TAG_MEMBERS_REMOVE => d.members_removed = decode_spans(&mut b, NO_LIMIT)?,
                t => {
                    return Err(FormatError::invalid(
                        what,
                        format!("unknown section tag {t}"),
                    ))
                }
            }
            if !b.is_empty() {
                return Err(FormatError::invalid(what, "section has trailing bytes"));
            }
        }
        Ok(d)
    }
}

/// MEMBERSHIP checkpoint payload: `u8 mode`, then the sorted id set.
pub fn encode_membership(mode: MembershipModeCode, ids: &[Span]) -> Vec<u8> {
    let mut out = vec![mode as u8];
    encode_spans(ids, &mut out);
    out
}

/// The mode and id spans of a MEMBERSHIP payload (at most one span per two bytes).
pub fn decode_membership(payload: &[u8]) -> Result<(MembershipModeCode, Vec<Span>)> {
    let mut r = ByteReader::new(payload, "MEMBERSHIP");
    let mode = MembershipModeCode::from_u8(r.u8()?)?;
    let ids = decode_spans(&mut r, NO_LIMIT)?;
    if !r.is_empty() {
        return Err(FormatError::invalid("MEMBERSHIP", "trailing bytes"));
    }
    Ok((mode, ids))
}

/// DEAD_SET checkpoint payload: the sorted slot set.
pub fn encode_dead_set(slots: &[Span]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_spans(slots, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runs::RunKind;
    use crate::sets::spans_of;
    use proptest::prelude::*;

    fn spans(mut v: Vec<u64>) -> Vec<Span> {
        v.sort_unstable();
        v.dedup();
        spans_of(&v)
    }

    proptest! {
        #[test]
        fn round_trip(dead in proptest::collection::vec(0u64..5000, 0..50),
                      add in proptest::collection::vec(any::<u64>(), 0..20),
                      rem in proptest::collection::vec(any::<u64>(), 0..20),
                      mode in proptest::option::of(any::<bool>()),
                      nruns in 0usize..4) {
            let d = Delta {
                prev: SegRef { offset: 4096, len: 128 },
                runs_added: (0..nruns).map(|i| RunDesc {
                    first_slot: i as u64 * 100, count: 100, kind: RunKind::Append,
                    vec_seg: 1024, vec_seg_len: 64, slot_seg: 2048, slot_seg_len: 64,
                }).collect(),
                dead_slots: spans(dead),
                membership_mode: mode.map(|m| if m { MembershipModeCode::Include } else { MembershipModeCode::Exclude }),
                members_added: spans(add),
                members_removed: spans(rem),
            };
            let bytes = d.encode();
            prop_assert_eq!(Delta::decode(&bytes).unwrap(), d);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Delta::decode(&bytes);
        }

        #[test]
        fn membership_round_trip(ids in proptest::collection::vec(any::<u64>(), 0..40), inc in any::<bool>()) {
            let ids = spans(ids);
            let mode = if inc { MembershipModeCode::Include } else { MembershipModeCode::Exclude };
            let bytes = encode_membership(mode, &ids);
            prop_assert_eq!(decode_membership(&bytes).unwrap(), (mode, ids));
        }
    }

    /// The largest sets the API writes (a delete of a million consecutive slots, a
    /// membership change of every u64 id) are a few bytes and decode as written.
    #[test]
    fn huge_ranges_round_trip() {
        let d = Delta {
            dead_slots: vec![Span::new(0, 999_999)],
            members_added: vec![Span::new(0, u64::MAX)],
            members_removed: vec![Span::new(5, 5), Span::new(1 << 40, (1 << 41) - 1)],
            ..Delta::default()
        };
        let bytes = d.encode();
        assert!(bytes.len() < 64, "{} bytes", bytes.len());
        assert_eq!(Delta::decode(&bytes).unwrap(), d);
        let m = encode_membership(MembershipModeCode::Include, &[Span::new(0, 2_999)]);
        assert_eq!(
            decode_membership(&m).unwrap(),
            (MembershipModeCode::Include, vec![Span::new(0, 2_999)])
        );
    }
}
