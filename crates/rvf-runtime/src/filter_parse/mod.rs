//! The text syntax of [`FilterExpr`], shared by the `rvf` CLI, its HTTP server and the
//! Python package:
//!
//! ```text
//! expr       := or
//! or         := and ("or" and)*
//! and        := unary ("and" unary)*
//! unary      := "not" unary | "(" expr ")" | "true" | "false" | comparison
//! comparison := field op value | field "in" "[" [value ("," value)*] "]"
//! op         := "=" | "==" | "!=" | "<" | "<=" | ">" | ">="
//! field      := identifier | quoted string
//! value      := integer | float | quoted string | "true" | "false"
//! ```
//!
//! Keywords (`and or not in true false`) are case-insensitive; a field named like a
//! keyword, or with characters outside `[A-Za-z0-9_.]`, is written quoted. Strings take
//! double or single quotes and the escapes `\\ \" \' \n \r \t \0 \u{hex}`. A number with
//! a `.`, an exponent, `inf` or `nan` is a float; otherwise an integer. `true` alone is
//! the empty `and` (matches everything), `false` the empty `or`.
//!
//! [`Display`](std::fmt::Display) prints an expression that [`FilterExpr::parse`] reads
//! back to an equal value, except that an `and`/`or` of a single operand prints (and so
//! reads back) as that operand, which matches the same vectors.

use std::fmt::{self, Write as _};
use std::str::FromStr;

use rvf_format::MetaValue;

use crate::error::{Result, RvfError};
use crate::filter::FilterExpr;

impl FilterExpr {
    /// Parses the text syntax described in this module. Errors name the column (1-based,
    /// in characters) and what was expected there.
    pub fn parse(text: &str) -> Result<FilterExpr> {
        let tokens = tokenize(text)?;
        let mut p = Parser {
            tokens,
            pos: 0,
            end_col: text.chars().count() + 1,
            depth: 0,
        };
        let expr = p.or()?;
        match p.peek() {
            None => Ok(expr),
            Some(t) => Err(p.error_at(t.col, "`and`, `or` or the end", &t.kind)),
        }
    }
}

impl FromStr for FilterExpr {
    type Err = RvfError;
    fn from_str(s: &str) -> Result<FilterExpr> {
        FilterExpr::parse(s)
    }
}

/// Nesting deeper than this is refused rather than risking the parser's stack.
const MAX_DEPTH: usize = 128;

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Op(&'static str),
    Word(String),
    Str(String),
    Number(String),
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::LParen => f.write_str("`(`"),
            Tok::RParen => f.write_str("`)`"),
            Tok::LBracket => f.write_str("`[`"),
            Tok::RBracket => f.write_str("`]`"),
            Tok::Comma => f.write_str("`,`"),
            Tok::Op(o) => write!(f, "`{o}`"),
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Str(s) => write!(f, "the string {s:?}"),
            Tok::Number(n) => write!(f, "the number {n}"),
        }
    }
}

#[derive(Debug, Clone)]
struct Token {
    kind: Tok,
    col: usize,
}

fn syntax(col: usize, msg: impl fmt::Display) -> RvfError {
    RvfError::InvalidArgument(format!("filter: {msg} at column {col}"))
}

fn is_word_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.'
}

fn tokenize(text: &str) -> Result<Vec<Token>> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while let Some(&c) = chars.get(i) {
        let col = i + 1;
        let next = chars.get(i + 1).copied();
        let (kind, len) = match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '(' => (Tok::LParen, 1),
            ')' => (Tok::RParen, 1),
            '[' => (Tok::LBracket, 1),
            ']' => (Tok::RBracket, 1),
            ',' => (Tok::Comma, 1),
            '=' if next == Some('=') => (Tok::Op("="), 2),
            '=' => (Tok::Op("="), 1),
            '!' if next == Some('=') => (Tok::Op("!="), 2),
            '<' if next == Some('=') => (Tok::Op("<="), 2),
            '<' => (Tok::Op("<"), 1),
            '>' if next == Some('=') => (Tok::Op(">="), 2),
            '>' => (Tok::Op(">"), 1),
            '"' | '\'' => {
                let (s, len) = string_literal(&chars[i..], col)?;
                (Tok::Str(s), len)
            }
            c if c.is_ascii_digit() || ((c == '-' || c == '+') && next.is_some()) => {
                let len = chars[i..]
                    .iter()
                    .enumerate()
                    .take_while(|&(k, &d)| {
                        d.is_ascii_alphanumeric()
                            || d == '.'
                            || d == '_'
                            || (k == 0 && (d == '-' || d == '+'))
                            || ((d == '-' || d == '+')
                                && k > 0
                                && matches!(chars.get(i + k - 1), Some('e' | 'E')))
                    })
                    .count();
                (Tok::Number(chars[i..i + len].iter().collect()), len)
            }
            c if is_word_start(c) => {
                let len = chars[i..].iter().take_while(|&&d| is_word_char(d)).count();
                (Tok::Word(chars[i..i + len].iter().collect()), len)
            }
            other => return Err(syntax(col, format!("unexpected character {other:?}"))),
        };
        out.push(Token { kind, col });
        i += len;
    }
    Ok(out)
}

/// Reads a quoted string starting at `chars[0]`; returns its value and its length in
/// characters, quotes included.
fn string_literal(chars: &[char], col: usize) -> Result<(String, usize)> {
    let quote = chars.first().copied().unwrap_or('"');
    let mut s = String::new();
    let mut i = 1;
    loop {
        let Some(&c) = chars.get(i) else {
            return Err(syntax(col, "unterminated string starting"));
        };
        i += 1;
        if c == quote {
            return Ok((s, i));
        }
        if c != '\\' {
            s.push(c);
            continue;
        }
        let esc_col = col + i - 1;
        let Some(&e) = chars.get(i) else {
            return Err(syntax(esc_col, "unterminated escape"));
        };
        i += 1;
        match e {
            '\\' | '"' | '\'' => s.push(e),
            'n' => s.push('\n'),
            'r' => s.push('\r'),
            't' => s.push('\t'),
            '0' => s.push('\0'),
            'u' => {
                if chars.get(i) != Some(&'{') {
                    return Err(syntax(esc_col, "expected `{` after `\\u`"));
                }
                let hex: String = chars[i + 1..].iter().take_while(|&&h| h != '}').collect();
                let close = i + 1 + hex.chars().count();
                let ch = u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| chars.get(close) == Some(&'}') && hex.len() <= 6)
                    .and_then(char::from_u32)
                    .ok_or_else(|| syntax(esc_col, "invalid `\\u{...}` escape"))?;
                s.push(ch);
                i = close + 1;
            }
            other => return Err(syntax(esc_col, format!("unknown escape `\\{other}`"))),
        }
    }
}

fn keyword(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
}

const KEYWORDS: [&str; 6] = ["and", "or", "not", "in", "true", "false"];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    end_col: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self, expected: &str) -> Result<Token> {
        let t =
            self.tokens.get(self.pos).cloned().ok_or_else(|| {
                syntax(self.end_col, format!("expected {expected}, found the end"))
            })?;
        self.pos += 1;
        Ok(t)
    }

    fn error_at(&self, col: usize, expected: &str, found: &Tok) -> RvfError {
        syntax(col, format!("expected {expected}, found {found}"))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| keyword(&t.kind, kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<FilterExpr> {
        let mut xs = vec![self.and()?];
        while self.eat_keyword("or") {
            xs.push(self.and()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            FilterExpr::Or(xs)
        })
    }

    fn and(&mut self) -> Result<FilterExpr> {
        let mut xs = vec![self.unary()?];
        while self.eat_keyword("and") {
            xs.push(self.unary()?);
        }
        Ok(if xs.len() == 1 {
            xs.remove(0)
        } else {
            FilterExpr::And(xs)
        })
    }

    fn unary(&mut self) -> Result<FilterExpr> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let col = self.peek().map_or(self.end_col, |t| t.col);
            return Err(syntax(col, format!("nesting deeper than {MAX_DEPTH}")));
        }
        let result = self.unary_inner();
        self.depth -= 1;
        result
    }

    fn unary_inner(&mut self) -> Result<FilterExpr> {
        let t = self.next("a comparison, `not` or `(`")?;
        match &t.kind {
            k if keyword(k, "not") => Ok(FilterExpr::Not(Box::new(self.unary()?))),
            k if keyword(k, "true") => Ok(FilterExpr::And(Vec::new())),
            k if keyword(k, "false") => Ok(FilterExpr::Or(Vec::new())),
            Tok::LParen => {
                let inner = self.or()?;
                let close = self.next("`)`")?;
                if close.kind != Tok::RParen {
                    return Err(self.error_at(close.col, "`)`", &close.kind));
                }
                Ok(inner)
            }
            Tok::Str(field) => self.comparison(field.clone()),
            Tok::Word(w) if !KEYWORDS.iter().any(|k| w.eq_ignore_ascii_case(k)) => {
                self.comparison(w.clone())
            }
            other => Err(self.error_at(
                t.col,
                "a field name, `not` or `(` (quote field names that are keywords)",
                other,
            )),
        }
    }

    fn comparison(&mut self, field: String) -> Result<FilterExpr> {
        let t = self.next("a comparison operator or `in`")?;
        let op = match &t.kind {
            Tok::Op(op) => *op,
            k if keyword(k, "in") => return self.in_list(field),
            other => return Err(self.error_at(t.col, "a comparison operator or `in`", other)),
        };
        let v = self.value()?;
        Ok(match op {
            "=" => FilterExpr::Eq(field, v),
            "!=" => FilterExpr::Ne(field, v),
            "<" => FilterExpr::Lt(field, v),
            "<=" => FilterExpr::Le(field, v),
            ">" => FilterExpr::Gt(field, v),
            _ => FilterExpr::Ge(field, v),
        })
    }

    fn in_list(&mut self, field: String) -> Result<FilterExpr> {
        let open = self.next("`[`")?;
        if open.kind != Tok::LBracket {
            return Err(self.error_at(open.col, "`[`", &open.kind));
        }
        let mut values = Vec::new();
        if self.peek().is_some_and(|t| t.kind == Tok::RBracket) {
            self.pos += 1;
            return Ok(FilterExpr::In(field, values));
        }
        loop {
            values.push(self.value()?);
            let t = self.next("`,` or `]`")?;
            match t.kind {
                Tok::Comma => continue,
                Tok::RBracket => return Ok(FilterExpr::In(field, values)),
                other => return Err(self.error_at(t.col, "`,` or `]`", &other)),
            }
        }
    }

    fn value(&mut self) -> Result<MetaValue> {
        let t = self.next("a value")?;
        match &t.kind {
            Tok::Str(s) => Ok(MetaValue::Str(s.clone())),
            k if keyword(k, "true") => Ok(MetaValue::Bool(true)),
            k if keyword(k, "false") => Ok(MetaValue::Bool(false)),
            Tok::Number(n) => number(n).ok_or_else(|| syntax(t.col, format!("invalid number {n}"))),
            Tok::Word(w) if matches!(w.to_ascii_lowercase().as_str(), "inf" | "nan") => {
                number(w).ok_or_else(|| syntax(t.col, format!("invalid number {w}")))
            }
            other => Err(self.error_at(
                t.col,
                "a value (number, quoted string, true or false)",
                other,
            )),
        }
    }
}

fn number(text: &str) -> Option<MetaValue> {
    let lower = text.to_ascii_lowercase();
    let body = lower.trim_start_matches(['-', '+']);
    let is_float = body.contains(['.', 'e']) || body == "inf" || body == "nan";
    if is_float {
        // Rust's float parser also takes "infinity"; only the spellings above are ours.
        let ok = body == "inf"
            || body == "nan"
            || body
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '-' | '+'));
        return ok
            .then(|| lower.parse::<f64>().ok())
            .flatten()
            .map(MetaValue::Float);
    }
    if !body.chars().all(|c| c.is_ascii_digit()) || body.is_empty() {
        return None;
    }
    text.parse::<i64>().ok().map(MetaValue::Int)
}

impl fmt::Display for FilterExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cmp = |f: &mut fmt::Formatter<'_>, field: &str, op: &str, v: &MetaValue| {
            write_field(f, field)?;
            write!(f, " {op} ")?;
            write_value(f, v)
        };
        match self {
            FilterExpr::Eq(n, v) => cmp(f, n, "=", v),
            FilterExpr::Ne(n, v) => cmp(f, n, "!=", v),
            FilterExpr::Lt(n, v) => cmp(f, n, "<", v),
            FilterExpr::Le(n, v) => cmp(f, n, "<=", v),
            FilterExpr::Gt(n, v) => cmp(f, n, ">", v),
            FilterExpr::Ge(n, v) => cmp(f, n, ">=", v),
            FilterExpr::In(n, vs) => {
                write_field(f, n)?;
                f.write_str(" in [")?;
                for (i, v) in vs.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_value(f, v)?;
                }
                f.write_str("]")
            }
            FilterExpr::And(xs) => write_group(f, xs, "and", "true"),
            FilterExpr::Or(xs) => write_group(f, xs, "or", "false"),
            FilterExpr::Not(x) => {
                f.write_str("not ")?;
                write_operand(f, x)
            }
        }
    }
}

fn write_group(
    f: &mut fmt::Formatter<'_>,
    xs: &[FilterExpr],
    op: &str,
    empty: &str,
) -> fmt::Result {
    match xs {
        [] => f.write_str(empty),
        [one] => write!(f, "{one}"),
        _ => {
            for (i, x) in xs.iter().enumerate() {
                if i > 0 {
                    write!(f, " {op} ")?;
                }
                write_operand(f, x)?;
            }
            Ok(())
        }
    }
}

/// Parenthesizes groups so that nesting reads back as written.
fn write_operand(f: &mut fmt::Formatter<'_>, x: &FilterExpr) -> fmt::Result {
    match x {
        FilterExpr::And(xs) | FilterExpr::Or(xs) if xs.len() >= 2 => write!(f, "({x})"),
        _ => write!(f, "{x}"),
    }
}

fn write_field(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    let bare = name.chars().next().is_some_and(is_word_start)
        && name.chars().all(is_word_char)
        && !KEYWORDS.iter().any(|k| name.eq_ignore_ascii_case(k))
        && !name.eq_ignore_ascii_case("inf")
        && !name.eq_ignore_ascii_case("nan");
    if bare {
        f.write_str(name)
    } else {
        write_string(f, name)
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, v: &MetaValue) -> fmt::Result {
    match v {
        MetaValue::Int(i) => write!(f, "{i}"),
        // `{:?}` is the shortest text that parses back to the same bits, and always has
        // a `.`, an exponent, `inf` or `NaN`, so it reads back as a float.
        MetaValue::Float(x) => write!(f, "{x:?}"),
        MetaValue::Str(s) => write_string(f, s),
        MetaValue::Bool(b) => write!(f, "{b}"),
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => write!(f, "\\u{{{:x}}}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

#[cfg(test)]
mod tests;
