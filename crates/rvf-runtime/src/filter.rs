//! Metadata filters evaluated during queries and `delete_by_filter`.

use std::cmp::Ordering;

use rvf_format::{MetaValue, Metadata};

/// A predicate over a vector's metadata.
///
/// A comparison on a field the vector does not have (or has with an incomparable type,
/// e.g. a string against a number) is false — `Ne` included; `Not` inverts the result.
/// Integers and floats compare numerically with each other.
#[derive(Debug, Clone, PartialEq)]
pub enum FilterExpr {
    Eq(String, MetaValue),
    Ne(String, MetaValue),
    Lt(String, MetaValue),
    Le(String, MetaValue),
    Gt(String, MetaValue),
    Ge(String, MetaValue),
    In(String, Vec<MetaValue>),
    And(Vec<FilterExpr>),
    Or(Vec<FilterExpr>),
    Not(Box<FilterExpr>),
}

impl FilterExpr {
    pub fn eq(field: &str, v: impl Into<MetaValue>) -> Self {
        FilterExpr::Eq(field.to_string(), v.into())
    }
    pub fn ne(field: &str, v: impl Into<MetaValue>) -> Self {
        FilterExpr::Ne(field.to_string(), v.into())
    }
    pub fn lt(field: &str, v: impl Into<MetaValue>) -> Self {
        FilterExpr::Lt(field.to_string(), v.into())
    }
    pub fn le(field: &str, v: impl Into<MetaValue>) -> Self {
        FilterExpr::Le(field.to_string(), v.into())
    }
    pub fn gt(field: &str, v: impl Into<MetaValue>) -> Self {
        FilterExpr::Gt(field.to_string(), v.into())
    }
    pub fn ge(field: &str, v: impl Into<MetaValue>) -> Self {
        FilterExpr::Ge(field.to_string(), v.into())
    }

    /// Evaluates against a vector's metadata (`None` = the vector has none).
    pub fn matches(&self, meta: Option<&Metadata>) -> bool {
        let field = |name: &str| meta.and_then(|m| m.get(name));
        let cmp = |name: &str, v: &MetaValue| field(name).and_then(|f| compare(f, v));
        match self {
            FilterExpr::Eq(f, v) => cmp(f, v) == Some(Ordering::Equal),
            FilterExpr::Ne(f, v) => matches!(cmp(f, v), Some(o) if o != Ordering::Equal),
            FilterExpr::Lt(f, v) => cmp(f, v) == Some(Ordering::Less),
            FilterExpr::Le(f, v) => matches!(cmp(f, v), Some(Ordering::Less | Ordering::Equal)),
            FilterExpr::Gt(f, v) => cmp(f, v) == Some(Ordering::Greater),
            FilterExpr::Ge(f, v) => {
                matches!(cmp(f, v), Some(Ordering::Greater | Ordering::Equal))
            }
            FilterExpr::In(f, vs) => vs.iter().any(|v| cmp(f, v) == Some(Ordering::Equal)),
            FilterExpr::And(xs) => xs.iter().all(|x| x.matches(meta)),
            FilterExpr::Or(xs) => xs.iter().any(|x| x.matches(meta)),
            FilterExpr::Not(x) => !x.matches(meta),
        }
    }
}

fn compare(a: &MetaValue, b: &MetaValue) -> Option<Ordering> {
    use MetaValue::*;
    match (a, b) {
        (Int(x), Int(y)) => Some(x.cmp(y)),
        (Float(x), Float(y)) => x.partial_cmp(y),
        (Int(x), Float(y)) => (*x as f64).partial_cmp(y),
        (Float(x), Int(y)) => x.partial_cmp(&(*y as f64)),
        (Str(x), Str(y)) => Some(x.cmp(y)),
        (Bool(x), Bool(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> Metadata {
        let mut m = Metadata::new();
        m.insert("year".into(), MetaValue::Int(2020));
        m.insert("score".into(), MetaValue::Float(0.5));
        m.insert("lang".into(), MetaValue::Str("en".into()));
        m.insert("draft".into(), MetaValue::Bool(false));
        m
    }

    #[test]
    fn comparisons() {
        let m = meta();
        let m = Some(&m);
        assert!(FilterExpr::eq("year", MetaValue::Int(2020)).matches(m));
        assert!(FilterExpr::ge("year", MetaValue::Float(2019.5)).matches(m));
        assert!(FilterExpr::lt("score", MetaValue::Int(1)).matches(m));
        assert!(!FilterExpr::gt("score", MetaValue::Float(0.5)).matches(m));
        assert!(FilterExpr::le("score", MetaValue::Float(0.5)).matches(m));
        assert!(FilterExpr::ne("lang", MetaValue::Str("de".into())).matches(m));
        assert!(FilterExpr::eq("draft", MetaValue::Bool(false)).matches(m));
        assert!(FilterExpr::In(
            "lang".into(),
            vec![MetaValue::Str("fr".into()), MetaValue::Str("en".into())]
        )
        .matches(m));
    }

    #[test]
    fn missing_fields_and_type_mismatch_are_false() {
        let m = meta();
        assert!(!FilterExpr::ne("nope", MetaValue::Int(1)).matches(Some(&m)));
        assert!(!FilterExpr::eq("lang", MetaValue::Int(1)).matches(Some(&m)));
        assert!(!FilterExpr::eq("year", MetaValue::Int(2020)).matches(None));
        assert!(FilterExpr::Not(Box::new(FilterExpr::eq("nope", MetaValue::Int(1)))).matches(None));
    }

    #[test]
    fn boolean_combinators() {
        let m = meta();
        let y = FilterExpr::eq("year", MetaValue::Int(2020));
        let n = FilterExpr::eq("year", MetaValue::Int(1999));
        assert!(FilterExpr::And(vec![y.clone(), y.clone()]).matches(Some(&m)));
        assert!(!FilterExpr::And(vec![y.clone(), n.clone()]).matches(Some(&m)));
        assert!(FilterExpr::Or(vec![n.clone(), y]).matches(Some(&m)));
        assert!(FilterExpr::And(vec![]).matches(Some(&m)));
        assert!(!FilterExpr::Or(vec![]).matches(Some(&m)));
    }
}
