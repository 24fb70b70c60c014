//! Choice rules: every comparison operator and its `...Path` variant, StringMatches, the `Is...`
//! type tests, And/Or/Not. A Variable (or comparison path) that names nothing is a States.Runtime
//! failure, except under IsPresent, as in AWS; a value of the wrong type simply does not match.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::path::{JsonPath, Scope};

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Compare(Kind, Cmp),
    Matches,
    IsNull,
    IsPresent,
    IsNumeric,
    IsString,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Value(Value),
    Path(JsonPath),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Glob {
    Char(char),
    Star,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Test { variable: JsonPath, op: Op, operand: Operand },
}

/// One entry of a Choice state's `Choices`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChoiceRule {
    rule: Rule,
    pub(crate) next: String,
}

const KINDS: [(&str, Kind); 4] =
    [("String", Kind::String), ("Numeric", Kind::Numeric), ("Boolean", Kind::Boolean), ("Timestamp", Kind::Timestamp)];
const CMPS: [(&str, Cmp); 5] = [
    ("Equals", Cmp::Equals),
    ("LessThan", Cmp::LessThan),
    ("GreaterThan", Cmp::GreaterThan),
    ("LessThanEquals", Cmp::LessThanEquals),
    ("GreaterThanEquals", Cmp::GreaterThanEquals),
];

/// The operator a field name denotes, and whether it is a `...Path` variant.
fn operator(name: &str) -> Option<(Op, bool)> {
    let simple = match name {
        "StringMatches" => Some(Op::Matches),
        "IsNull" => Some(Op::IsNull),
        "IsPresent" => Some(Op::IsPresent),
        "IsNumeric" => Some(Op::IsNumeric),
        "IsString" => Some(Op::IsString),
        "IsBoolean" => Some(Op::IsBoolean),
        "IsTimestamp" => Some(Op::IsTimestamp),
        _ => None,
    };
    if let Some(op) = simple {
        return Some((op, false));
    }
    let (base, is_path) = match name.strip_suffix("Path") {
        Some(base) => (base, true),
        None => (name, false),
    };
    for (kind_name, kind) in KINDS {
        let Some(cmp_name) = base.strip_prefix(kind_name) else { continue };
        let cmp = CMPS.iter().find(|(n, _)| *n == cmp_name).map(|(_, c)| *c)?;
        if kind == Kind::Boolean && cmp != Cmp::Equals {
            return None;
        }
        return Some((Op::Compare(kind, cmp), is_path));
    }
    None
}

/// Timestamps as ASL defines them: RFC 3339 with an uppercase `T` and, without an offset, an uppercase `Z`.
pub(crate) fn parse_timestamp(text: &str) -> Option<DateTime<FixedOffset>> {
    if text.len() < 20 || text.as_bytes()[10] != b'T' || text.contains(['t', 'z', ' ']) {
        return None;
    }
    DateTime::parse_from_rfc3339(text).ok()
}

impl ChoiceRule {
    /// Parses one top-level rule (which needs `Next`); errors are messages for the Choice state.
    pub(crate) fn parse(value: &Value) -> Result<ChoiceRule, String> {
        let map = value.as_object().ok_or("a Choice rule must be a JSON object")?;
        let next = match map.get("Next") {
            Some(Value::String(next)) => next.clone(),
            Some(_) => return Err("a Choice rule's Next must be a string".into()),
            None => return Err("a top-level Choice rule needs Next".into()),
        };
        Ok(ChoiceRule { rule: parse_rule(map, true)?, next })
    }

    pub(crate) fn matches(&self, scope: &Scope) -> Result<bool, String> {
        self.rule.eval(scope)
    }

    /// The rule in a short readable form for diagrams: `$.db.phase == 'ready'`,
    /// `$.a > 3 and not ($.b is null)`.
    pub(crate) fn describe(&self) -> String {
        self.rule.describe()
    }
}

fn parse_rule(map: &Map<String, Value>, top: bool) -> Result<Rule, String> {
    let mut combinators = Vec::new();
    let mut operators = Vec::new();
    for key in map.keys() {
        match key.as_str() {
            "And" | "Or" | "Not" => combinators.push(key.as_str()),
            "Variable" | "Comment" => {}
            "Next" if top => {}
            "Next" => return Err("a nested Choice rule may not have Next".into()),
            other => match operator(other) {
                Some((op, is_path)) => operators.push((other, op, is_path)),
                None => return Err(format!("unknown field '{other}' in a Choice rule")),
            },
        }
    }
    if let Some(&combinator) = combinators.first() {
        if combinators.len() > 1 || !operators.is_empty() || map.contains_key("Variable") {
            return Err(format!("a Choice rule with {combinator} may not have another operator or a Variable"));
        }
        let nested = |v: &Value| {
            v.as_object().ok_or_else(|| format!("{combinator} must hold Choice rule objects")).and_then(|m| parse_rule(m, false))
        };
        return match (combinator, &map[combinator]) {
            ("Not", rule) => Ok(Rule::Not(Box::new(nested(rule)?))),
            (_, Value::Array(rules)) if !rules.is_empty() => {
                let rules = rules.iter().map(nested).collect::<Result<Vec<_>, _>>()?;
                Ok(if combinator == "And" { Rule::And(rules) } else { Rule::Or(rules) })
            }
            _ => Err(format!("{combinator} must be a non-empty array of Choice rules")),
        };
    }
    let variable = match map.get("Variable") {
        Some(Value::String(text)) => JsonPath::parse(text).map_err(|e| format!("Variable: {e:?}"))?,
        Some(_) => return Err("Variable must be a string".into()),
        None => return Err("a Choice rule needs Variable and a comparison operator, or And/Or/Not".into()),
    };
    if !variable.is_definite() {
        return Err(format!("Variable '{}' must be a reference path naming one value", variable.text()));
    }
    let [(name, op, is_path)] = operators[..] else {
        return Err(format!("a Choice rule needs exactly one comparison operator, found {}", operators.len()));
    };
    let value = &map[name];
    let operand = if is_path {
        let text = value.as_str().ok_or_else(|| format!("{name} must be a path string"))?;
        let path = JsonPath::parse(text).map_err(|e| format!("{name}: {e:?}"))?;
        if !path.is_definite() {
            return Err(format!("{name} '{text}' must be a reference path naming one value"));
        }
        Operand::Path(path)
    } else {
        literal_operand(name, op, value)?
    };
    Ok(Rule::Test { variable, op, operand })
}

fn literal_operand(name: &str, op: Op, value: &Value) -> Result<Operand, String> {
    let ok = match op {
        Op::Matches | Op::Compare(Kind::String, _) => value.is_string(),
        Op::Compare(Kind::Numeric, _) => value.is_number(),
        Op::Compare(Kind::Boolean, _) => value.is_boolean(),
        Op::Compare(Kind::Timestamp, _) => value.as_str().is_some_and(|s| parse_timestamp(s).is_some()),
        _ => value.is_boolean(),
    };
    let expected = match op {
        Op::Matches | Op::Compare(Kind::String, _) => "a string",
        Op::Compare(Kind::Numeric, _) => "a number",
        Op::Compare(Kind::Timestamp, _) => "an RFC 3339 timestamp such as 2016-03-14T01:59:00Z",
        _ => "a boolean",
    };
    if ok {
        Ok(Operand::Value(value.clone()))
    } else {
        Err(format!("{name} must be {expected}, not {value}"))
    }
}

/// `*` matches any run of characters; `\*` and `\\` are a literal star and backslash.
fn glob(pattern: &str) -> Vec<Glob> {
    let mut out = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push(Glob::Char(chars.next().unwrap_or('\\'))),
            '*' => out.push(Glob::Star),
            c => out.push(Glob::Char(c)),
        }
    }
    out
}

fn glob_matches(pattern: &[Glob], text: &[char]) -> bool {
    // Iterative wildcard matching with one backtrack point: linear in practice, no recursion.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Glob::Char(c)) if *c == text[t] => {
                p += 1;
                t += 1;
            }
            Some(Glob::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|g| *g == Glob::Star)
}

fn invalid_path(path: &JsonPath) -> String {
    format!("Invalid path '{}': The choice state's condition path references an invalid value.", path.text())
}

impl Rule {
    fn eval(&self, scope: &Scope) -> Result<bool, String> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.eval(scope)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.eval(scope)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.eval(scope)?),
            Rule::Test { variable, op, operand } => {
                let Ok(value) = scope.resolve(variable) else {
                    return match op {
                        Op::IsPresent => Ok(operand == &Operand::Value(Value::Bool(false))),
                        _ => Err(invalid_path(variable)),
                    };
                };
                let operand = match operand {
                    Operand::Path(path) => scope.resolve(path).map_err(|_| invalid_path(path))?,
                    Operand::Value(v) => v.clone(),
                };
                Ok(test(*op, &value, &operand))
            }
        }
    }
}

impl Rule {
    fn describe(&self) -> String {
        // And/Or inside a compound is parenthesized; a test and `not (...)` need nothing more.
        let nested = |rule: &Rule| match rule {
            Rule::Test { .. } | Rule::Not(_) => rule.describe(),
            _ => format!("({})", rule.describe()),
        };
        match self {
            Rule::And(rules) => rules.iter().map(nested).collect::<Vec<_>>().join(" and "),
            Rule::Or(rules) => rules.iter().map(nested).collect::<Vec<_>>().join(" or "),
            Rule::Not(rule) => format!("not ({})", rule.describe()),
            Rule::Test { variable, op, operand } => describe_test(variable.text(), *op, operand),
        }
    }
}

fn describe_test(variable: &str, op: Op, operand: &Operand) -> String {
    let operand_text = match operand {
        Operand::Path(path) => path.text().to_string(),
        Operand::Value(Value::String(s)) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Operand::Value(v) => v.to_string(),
    };
    let yes = operand == &Operand::Value(Value::Bool(true));
    let is = |what: &str| format!("{variable} is {}{what}", if yes { "" } else { "not " });
    match op {
        Op::Compare(_, cmp) => {
            let symbol = match cmp {
                Cmp::Equals => "==",
                Cmp::LessThan => "<",
                Cmp::GreaterThan => ">",
                Cmp::LessThanEquals => "<=",
                Cmp::GreaterThanEquals => ">=",
            };
            format!("{variable} {symbol} {operand_text}")
        }
        Op::Matches => format!("{variable} matches {operand_text}"),
        Op::IsPresent if yes => format!("{variable} is present"),
        Op::IsPresent => format!("{variable} is absent"),
        Op::IsNull => is("null"),
        Op::IsNumeric => is("numeric"),
        Op::IsString => is("a string"),
        Op::IsBoolean => is("a boolean"),
        Op::IsTimestamp => is("a timestamp"),
    }
}

fn test(op: Op, value: &Value, operand: &Value) -> bool {
    let expected = operand.as_bool() == Some(true);
    match op {
        Op::IsNull => value.is_null() == expected,
        Op::IsNumeric => value.is_number() == expected,
        Op::IsString => value.is_string() == expected,
        Op::IsBoolean => value.is_boolean() == expected,
        Op::IsTimestamp => value.as_str().is_some_and(|s| parse_timestamp(s).is_some()) == expected,
        // The value was found, so IsPresent holds exactly when it asks for presence.
        Op::IsPresent => expected,
        Op::Matches => match (value.as_str(), operand.as_str()) {
            (Some(text), Some(pattern)) => glob_matches(&glob(pattern), &text.chars().collect::<Vec<_>>()),
            _ => false,
        },
        Op::Compare(kind, cmp) => compare(kind, value, operand).is_some_and(|ordering| holds(cmp, ordering)),
    }
}

fn holds(cmp: Cmp, ordering: Ordering) -> bool {
    match cmp {
        Cmp::Equals => ordering == Ordering::Equal,
        Cmp::LessThan => ordering == Ordering::Less,
        Cmp::GreaterThan => ordering == Ordering::Greater,
        Cmp::LessThanEquals => ordering != Ordering::Greater,
        Cmp::GreaterThanEquals => ordering != Ordering::Less,
    }
}

/// Orders two values of the operator's kind; `None` (no match) when either is of another type.
fn compare(kind: Kind, a: &Value, b: &Value) -> Option<Ordering> {
    match kind {
        // UTF-16 order, as Java's String.compareTo, which AWS uses.
        Kind::String => Some(a.as_str()?.encode_utf16().cmp(b.as_str()?.encode_utf16())),
        Kind::Numeric => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => a.as_f64()?.partial_cmp(&b.as_f64()?),
        },
        Kind::Boolean => Some(a.as_bool()?.cmp(&b.as_bool()?)),
        Kind::Timestamp => Some(parse_timestamp(a.as_str()?)?.cmp(&parse_timestamp(b.as_str()?)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(rule: Value, input: Value) -> Result<bool, String> {
        let mut rule = rule;
        rule["Next"] = json!("N");
        let context = json!({"State": {"Name": "C"}});
        ChoiceRule::parse(&rule).unwrap().matches(&Scope { input: &input, context: &context })
    }

    fn is(rule: Value, input: Value) -> bool {
        check(rule, input).unwrap()
    }

    #[test]
    fn string_operators() {
        let input = json!({"s": "beta", "t": "beta", "u": "alpha"});
        assert!(is(json!({"Variable": "$.s", "StringEquals": "beta"}), input.clone()));
        assert!(!is(json!({"Variable": "$.s", "StringEquals": "Beta"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringEqualsPath": "$.t"}), input.clone()));
        assert!(is(json!({"Variable": "$.u", "StringLessThan": "beta"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringGreaterThan": "alpha"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringLessThanEquals": "beta"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringGreaterThanEquals": "beta"}), input.clone()));
        assert!(is(json!({"Variable": "$.u", "StringLessThanPath": "$.s"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringGreaterThanPath": "$.u"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringLessThanEqualsPath": "$.t"}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "StringGreaterThanEqualsPath": "$.t"}), input.clone()));
        assert!(!is(json!({"Variable": "$.s", "StringGreaterThanPath": "$.t"}), input));
    }

    #[test]
    fn string_matches_with_wildcards_and_escapes() {
        let m = |pattern: &str, s: &str| is(json!({"Variable": "$.s", "StringMatches": pattern}), json!({ "s": s }));
        assert!(m("log-*.txt", "log-2024.txt"));
        assert!(m("*", ""));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(!m("log-*.txt", "log-2024.csv"));
        assert!(m(r"a\*b", "a*b"));
        assert!(!m(r"a\*b", "aXb"));
        assert!(m(r"a\\*", r"a\anything"));
        assert!(!is(json!({"Variable": "$.n", "StringMatches": "*"}), json!({"n": 5})));
    }

    #[test]
    fn numeric_operators_compare_integers_and_floats() {
        let input = json!({"n": 5, "f": 5.0, "big": 7.5});
        assert!(is(json!({"Variable": "$.n", "NumericEquals": 5.0}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "NumericEqualsPath": "$.f"}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "NumericLessThan": 5.5}), input.clone()));
        assert!(is(json!({"Variable": "$.big", "NumericGreaterThan": 7}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "NumericLessThanEquals": 5}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "NumericGreaterThanEquals": 5}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "NumericLessThanPath": "$.big"}), input.clone()));
        assert!(is(json!({"Variable": "$.big", "NumericGreaterThanPath": "$.n"}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "NumericLessThanEqualsPath": "$.f"}), input.clone()));
        assert!(!is(json!({"Variable": "$.n", "NumericGreaterThanEqualsPath": "$.big"}), input.clone()));
        // A string never equals a number: no match, not an error.
        assert!(!is(json!({"Variable": "$.s", "NumericEquals": 5}), json!({"s": "5"})));
    }

    #[test]
    fn boolean_and_timestamp_operators() {
        let input =
            json!({"b": true, "c": true, "t": "2024-03-14T01:59:00Z", "u": "2024-03-14T03:59:00+02:00", "later": "2024-03-15T00:00:00Z"});
        assert!(is(json!({"Variable": "$.b", "BooleanEquals": true}), input.clone()));
        assert!(is(json!({"Variable": "$.b", "BooleanEqualsPath": "$.c"}), input.clone()));
        assert!(!is(json!({"Variable": "$.b", "BooleanEquals": false}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampEquals": "2024-03-14T01:59:00Z"}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampEqualsPath": "$.u"}), input.clone()), "same instant, other offset");
        assert!(is(json!({"Variable": "$.t", "TimestampLessThan": "2024-03-14T02:00:00Z"}), input.clone()));
        assert!(is(json!({"Variable": "$.later", "TimestampGreaterThan": "2024-03-14T02:00:00Z"}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampLessThanEquals": "2024-03-14T01:59:00Z"}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampGreaterThanEquals": "2024-03-14T01:59:00Z"}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampLessThanPath": "$.later"}), input.clone()));
        assert!(is(json!({"Variable": "$.later", "TimestampGreaterThanPath": "$.t"}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampLessThanEqualsPath": "$.u"}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "TimestampGreaterThanEqualsPath": "$.u"}), input.clone()));
        assert!(!is(json!({"Variable": "$.t", "TimestampEquals": "2024-03-14T01:59:00Z"}), json!({"t": "2024-03-14t01:59:00z"})));
    }

    #[test]
    fn type_tests_and_presence() {
        let input = json!({"n": 1, "s": "x", "z": null, "b": false, "t": "2024-01-01T00:00:00Z"});
        assert!(is(json!({"Variable": "$.z", "IsNull": true}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "IsNull": false}), input.clone()));
        assert!(is(json!({"Variable": "$.n", "IsNumeric": true}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "IsString": true}), input.clone()));
        assert!(is(json!({"Variable": "$.b", "IsBoolean": true}), input.clone()));
        assert!(is(json!({"Variable": "$.t", "IsTimestamp": true}), input.clone()));
        assert!(is(json!({"Variable": "$.s", "IsTimestamp": false}), input.clone()));
        assert!(is(json!({"Variable": "$.nope", "IsPresent": false}), input.clone()));
        assert!(is(json!({"Variable": "$.z", "IsPresent": true}), input.clone()));
        assert!(!is(json!({"Variable": "$.nope", "IsPresent": true}), input.clone()));
        assert!(is(json!({"Variable": "$$.State.Name", "StringEquals": "C"}), input));
    }

    #[test]
    fn combinators() {
        let input = json!({"a": 1, "b": "x"});
        let and = json!({"And": [{"Variable": "$.a", "NumericEquals": 1}, {"Variable": "$.b", "StringEquals": "x"}]});
        assert!(is(and, input.clone()));
        let or = json!({"Or": [{"Variable": "$.a", "NumericEquals": 2}, {"Not": {"Variable": "$.b", "StringEquals": "y"}}]});
        assert!(is(or, input.clone()));
        let none = json!({"Or": [{"Variable": "$.a", "NumericEquals": 2}, {"Variable": "$.b", "StringEquals": "y"}]});
        assert!(!is(none, input));
    }

    #[test]
    fn missing_variable_or_operand_path_is_a_runtime_error() {
        let err = check(json!({"Variable": "$.missing", "NumericEquals": 1}), json!({})).unwrap_err();
        assert_eq!(err, "Invalid path '$.missing': The choice state's condition path references an invalid value.");
        let err = check(json!({"Variable": "$.a", "NumericEqualsPath": "$.right"}), json!({"a": 1})).unwrap_err();
        assert!(err.starts_with("Invalid path '$.right'"));
        assert!(check(json!({"Variable": "$.missing", "IsNull": true}), json!({})).is_err());
    }

    #[test]
    fn malformed_rules_are_refused() {
        let bad = |rule: Value| ChoiceRule::parse(&rule).is_err();
        assert!(bad(json!({"Variable": "$.a", "NumericEquals": 1})), "no Next");
        assert!(bad(json!({"Variable": "$.a", "Next": "N"})), "no operator");
        assert!(bad(json!({"Variable": "$.a", "NumericEquals": 1, "StringEquals": "x", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "NumericEquals": "1", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "BooleanEquals": "true", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "TimestampEquals": "yesterday", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "IsNull": "yes", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "StringEqualsPath": "nope", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "BooleanLessThan": true, "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a[*]", "IsNull": true, "Next": "N"})));
        assert!(bad(json!({"And": [], "Next": "N"})));
        assert!(bad(json!({"And": [{"Variable": "$.a", "IsNull": true, "Next": "X"}], "Next": "N"})));
        assert!(bad(json!({"Not": {"Variable": "$.a", "IsNull": true}, "Variable": "$.a", "Next": "N"})));
        assert!(bad(json!({"Variable": "$.a", "Frobnicate": 1, "Next": "N"})));
    }

    #[test]
    fn rules_read_back_in_a_short_form() {
        let describe = |rule: Value| ChoiceRule::parse(&rule).unwrap().describe();
        assert_eq!(describe(json!({"Variable": "$.s.phase", "StringEquals": "ready", "Next": "N"})), "$.s.phase == 'ready'");
        assert_eq!(describe(json!({"Variable": "$.s", "StringEquals": "it's", "Next": "N"})), r"$.s == 'it\'s'");
        assert_eq!(describe(json!({"Variable": "$.n", "NumericGreaterThanEquals": 60, "Next": "N"})), "$.n >= 60");
        assert_eq!(describe(json!({"Variable": "$.a", "NumericLessThanPath": "$.b", "Next": "N"})), "$.a < $.b");
        assert_eq!(describe(json!({"Variable": "$.t", "BooleanEquals": true, "Next": "N"})), "$.t == true");
        assert_eq!(describe(json!({"Variable": "$.x", "StringMatches": "log-*", "Next": "N"})), "$.x matches 'log-*'");
        assert_eq!(describe(json!({"Variable": "$.x", "IsPresent": false, "Next": "N"})), "$.x is absent");
        assert_eq!(describe(json!({"Variable": "$.x", "IsNull": false, "Next": "N"})), "$.x is not null");
        assert_eq!(describe(json!({"Variable": "$.x", "IsTimestamp": true, "Next": "N"})), "$.x is a timestamp");
        let compound = json!({"Or": [
            {"Variable": "$.p", "StringEquals": "failed"},
            {"And": [{"Variable": "$.p", "StringEquals": "gone"}, {"Not": {"Variable": "$.q", "IsNull": true}}]}
        ], "Next": "N"});
        assert_eq!(describe(compound), "$.p == 'failed' or ($.p == 'gone' and not ($.q is null))");
    }
}
