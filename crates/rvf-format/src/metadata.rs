//! Per-vector metadata: a map from field name to a typed value, encoded as
//! `varint(field count)` then per field `varint(name len)`, name (UTF-8), `u8 tag`, value.

use std::collections::BTreeMap;

use crate::bytes::{put_varint, ByteReader};
use crate::error::{FormatError, Result};

/// One typed metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum MetaValue {
    Int(i64),
    Float(f64),
    Str(String),
    Bool(bool),
}

/// The metadata of one vector: field name → value, kept sorted by name.
pub type Metadata = BTreeMap<String, MetaValue>;

const TAG_INT: u8 = 1;
const TAG_FLOAT: u8 = 2;
const TAG_STR: u8 = 3;
const TAG_BOOL: u8 = 4;

/// Longest field name and string value accepted (on write and read alike).
pub const MAX_META_NAME_LEN: usize = 1024;
pub const MAX_META_STR_LEN: usize = 1 << 20;

/// Checks the limits that the decoder enforces, so nothing is written that cannot be read.
pub fn validate_metadata(m: &Metadata) -> std::result::Result<(), String> {
    for (name, value) in m {
        if name.len() > MAX_META_NAME_LEN {
            return Err(format!("field name longer than {MAX_META_NAME_LEN} bytes"));
        }
        if let MetaValue::Str(s) = value {
            if s.len() > MAX_META_STR_LEN {
                return Err(format!(
                    "string value of {name:?} longer than {MAX_META_STR_LEN} bytes"
                ));
            }
        }
    }
    Ok(())
}

pub fn encode_metadata(m: &Metadata, out: &mut Vec<u8>) {
    put_varint(out, m.len() as u64);
    for (name, value) in m {
        put_varint(out, name.len() as u64);
        out.extend_from_slice(name.as_bytes());
        match value {
            MetaValue::Int(v) => {
                out.push(TAG_INT);
                out.extend_from_slice(&v.to_le_bytes());
            }
            MetaValue::Float(v) => {
                out.push(TAG_FLOAT);
                out.extend_from_slice(&v.to_le_bytes());
            }
            MetaValue::Str(s) => {
                out.push(TAG_STR);
                put_varint(out, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            MetaValue::Bool(b) => {
                out.push(TAG_BOOL);
                out.push(u8::from(*b));
            }
        }
    }
}

pub fn decode_metadata(bytes: &[u8]) -> Result<Metadata> {
    let what = "metadata";
    let mut r = ByteReader::new(bytes, what);
    let raw = r.varint()?;
    let n = r.count(raw, 3)?;
    let mut m = Metadata::new();
    for _ in 0..n {
        let name_len = r.varint()? as usize;
        if name_len > MAX_META_NAME_LEN {
            return Err(FormatError::TooLarge {
                what,
                len: name_len as u64,
                max: MAX_META_NAME_LEN as u64,
            });
        }
        let name = std::str::from_utf8(r.take(name_len)?)
            .map_err(|_| FormatError::invalid(what, "field name is not UTF-8"))?
            .to_string();
        let value = match r.u8()? {
            TAG_INT => MetaValue::Int(r.i64()?),
            TAG_FLOAT => MetaValue::Float(r.f64()?),
            TAG_STR => {
                let len = r.varint()? as usize;
                if len > MAX_META_STR_LEN {
                    return Err(FormatError::TooLarge {
                        what,
                        len: len as u64,
                        max: MAX_META_STR_LEN as u64,
                    });
                }
                let s = std::str::from_utf8(r.take(len)?)
                    .map_err(|_| FormatError::invalid(what, "string value is not UTF-8"))?;
                MetaValue::Str(s.to_string())
            }
            TAG_BOOL => match r.u8()? {
                0 => MetaValue::Bool(false),
                1 => MetaValue::Bool(true),
                b => return Err(FormatError::invalid(what, format!("bool byte {b}"))),
            },
            t => return Err(FormatError::invalid(what, format!("unknown value tag {t}"))),
        };
        if m.insert(name, value).is_some() {
            return Err(FormatError::invalid(what, "duplicate field name"));
        }
    }
    if !r.is_empty() {
        return Err(FormatError::invalid(what, "trailing bytes"));
    }
    Ok(m)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    pub fn arb_value() -> impl Strategy<Value = MetaValue> {
        prop_oneof![
            any::<i64>().prop_map(MetaValue::Int),
            any::<f64>()
                .prop_filter("not NaN", |f| !f.is_nan())
                .prop_map(MetaValue::Float),
            ".{0,12}".prop_map(MetaValue::Str),
            any::<bool>().prop_map(MetaValue::Bool),
        ]
    }

    pub fn arb_metadata() -> impl Strategy<Value = Metadata> {
        proptest::collection::btree_map("[a-z]{0,6}", arb_value(), 0..5)
    }

    proptest! {
        #[test]
        fn round_trip(m in arb_metadata()) {
            let mut buf = Vec::new();
            encode_metadata(&m, &mut buf);
            prop_assert_eq!(decode_metadata(&buf).unwrap(), m);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_metadata(&bytes);
        }
    }
}
