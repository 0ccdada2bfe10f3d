use super::*;
use proptest::prelude::*;

fn p(s: &str) -> FilterExpr {
    FilterExpr::parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

fn err(s: &str) -> String {
    FilterExpr::parse(s).expect_err(s).to_string()
}

#[test]
fn comparisons_and_values() {
    assert_eq!(
        p(r#"lang = "en""#),
        FilterExpr::eq("lang", MetaValue::Str("en".into()))
    );
    assert_eq!(
        p("year >= 2020"),
        FilterExpr::ge("year", MetaValue::Int(2020))
    );
    assert_eq!(p("year==-3"), FilterExpr::eq("year", MetaValue::Int(-3)));
    assert_eq!(
        p("score < 0.5"),
        FilterExpr::lt("score", MetaValue::Float(0.5))
    );
    assert_eq!(
        p("score <= 1e3"),
        FilterExpr::le("score", MetaValue::Float(1000.0))
    );
    assert_eq!(
        p("x > -inf"),
        FilterExpr::gt("x", MetaValue::Float(f64::NEG_INFINITY))
    );
    assert_eq!(
        p("draft != false"),
        FilterExpr::ne("draft", MetaValue::Bool(false))
    );
    assert_eq!(p(r"'a b' = 'it\'s'").to_string(), "\"a b\" = \"it's\"");
    assert_eq!(
        p(r#"s = "q\"\\\n\u{e9}""#),
        FilterExpr::eq("s", MetaValue::Str("q\"\\\né".into()))
    );
    assert_eq!(
        p(r#"lang in ["en", "de", 3]"#),
        FilterExpr::In(
            "lang".into(),
            vec![
                MetaValue::Str("en".into()),
                MetaValue::Str("de".into()),
                MetaValue::Int(3)
            ]
        )
    );
    assert_eq!(p("x in []"), FilterExpr::In("x".into(), vec![]));
}

#[test]
fn precedence_and_grouping() {
    let a = FilterExpr::eq("a", MetaValue::Int(1));
    let b = FilterExpr::eq("b", MetaValue::Int(2));
    let c = FilterExpr::eq("c", MetaValue::Int(3));
    assert_eq!(
        p("a = 1 or b = 2 and c = 3"),
        FilterExpr::Or(vec![a.clone(), FilterExpr::And(vec![b.clone(), c.clone()])])
    );
    assert_eq!(
        p("(a = 1 or b = 2) AND c = 3"),
        FilterExpr::And(vec![FilterExpr::Or(vec![a.clone(), b.clone()]), c.clone()])
    );
    assert_eq!(
        p("not a = 1 and b = 2"),
        FilterExpr::And(vec![FilterExpr::Not(Box::new(a.clone())), b.clone()])
    );
    assert_eq!(p("((a = 1))"), a);
    assert_eq!(p("true"), FilterExpr::And(vec![]));
    assert_eq!(
        p("false or a = 1"),
        FilterExpr::Or(vec![FilterExpr::Or(vec![]), a])
    );
    assert_eq!(p(r#""and" = 1"#), FilterExpr::eq("and", MetaValue::Int(1)));
}

#[test]
fn errors_name_column_and_expectation() {
    assert!(err("").contains("expected a comparison"), "{}", err(""));
    assert!(err("year >=").contains("expected a value, found the end at column 8"));
    assert!(err("year 2020").contains("expected a comparison operator or `in`"));
    assert!(err("year 2020").contains("column 6"));
    assert!(err("a = 1 b = 2").contains("column 7"));
    assert!(err("a = 1 and").contains("found the end"));
    assert!(err("(a = 1").contains("expected `)`"));
    assert!(err("a in [1 2]").contains("expected `,` or `]`"));
    assert!(err("a = \"abc").contains("unterminated string"));
    assert!(err("a = 12x").contains("invalid number 12x"));
    assert!(err("a = 99999999999999999999").contains("invalid number"));
    assert!(err("a = #").contains("unexpected character '#' at column 5"));
    assert!(err("and = 1").contains("quote field names"));
    assert!(err("a = b").contains("expected a value"));
    assert!(err(r#"a = "\q""#).contains("unknown escape"));
    assert_eq!(
        FilterExpr::parse("a =").map_err(|e| e.code()).err(),
        Some("RVF_E_INVALID_ARGUMENT")
    );
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}a = 1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(err(&deep).contains("nesting deeper"));
    let nots = format!("{}a = 1", "not ".repeat(10_000));
    assert!(err(&nots).contains("nesting deeper"));
}

#[test]
fn display_quotes_what_needs_quoting() {
    assert_eq!(
        FilterExpr::eq("in", MetaValue::Int(1)).to_string(),
        "\"in\" = 1"
    );
    assert_eq!(
        FilterExpr::eq("a-b", MetaValue::Float(1.0)).to_string(),
        "\"a-b\" = 1.0"
    );
    assert_eq!(
        FilterExpr::eq("x", MetaValue::Str("\u{1}".into())).to_string(),
        "x = \"\\u{1}\""
    );
    assert_eq!(
        "a.b = true".parse::<FilterExpr>().ok(),
        Some(FilterExpr::eq("a.b", MetaValue::Bool(true)))
    );
}

fn arb_value() -> impl Strategy<Value = MetaValue> {
    prop_oneof![
        any::<i64>().prop_map(MetaValue::Int),
        any::<f64>()
            .prop_filter("NaN is never equal to itself", |x| !x.is_nan())
            .prop_map(MetaValue::Float),
        Just(MetaValue::Float(f64::INFINITY)),
        any::<String>().prop_map(MetaValue::Str),
        "[a-z\"'\\\\ ]{0,6}".prop_map(MetaValue::Str),
        any::<bool>().prop_map(MetaValue::Bool),
    ]
}

fn arb_field() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_][a-z0-9_.]{0,6}",
        Just("and".to_string()),
        Just("inf".to_string()),
        any::<String>(),
    ]
}

fn arb_expr() -> impl Strategy<Value = FilterExpr> {
    let leaf = prop_oneof![
        (arb_field(), arb_value()).prop_map(|(f, v)| FilterExpr::Eq(f, v)),
        (arb_field(), arb_value()).prop_map(|(f, v)| FilterExpr::Ne(f, v)),
        (arb_field(), arb_value()).prop_map(|(f, v)| FilterExpr::Lt(f, v)),
        (arb_field(), arb_value()).prop_map(|(f, v)| FilterExpr::Le(f, v)),
        (arb_field(), arb_value()).prop_map(|(f, v)| FilterExpr::Gt(f, v)),
        (arb_field(), arb_value()).prop_map(|(f, v)| FilterExpr::Ge(f, v)),
        (arb_field(), proptest::collection::vec(arb_value(), 0..4))
            .prop_map(|(f, v)| FilterExpr::In(f, v)),
        Just(FilterExpr::And(vec![])),
        Just(FilterExpr::Or(vec![])),
    ];
    leaf.prop_recursive(4, 32, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 2..4).prop_map(FilterExpr::And),
            proptest::collection::vec(inner.clone(), 2..4).prop_map(FilterExpr::Or),
            inner.prop_map(|x| FilterExpr::Not(Box::new(x))),
        ]
    })
}

proptest! {
    #[test]
    fn display_parses_back(e in arb_expr()) {
        let text = e.to_string();
        let back = FilterExpr::parse(&text);
        prop_assert!(back.is_ok(), "{text:?}: {:?}", back.err());
        prop_assert_eq!(back.ok(), Some(e), "{}", text);
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,40}") {
        let _ = FilterExpr::parse(&s);
    }
}
