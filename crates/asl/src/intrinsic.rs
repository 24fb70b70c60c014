//! Intrinsic functions (`States.Format(...)` and friends) for JSONPath states: parsed once with the
//! definition, evaluated per use. A failure is a cause string; the runner reports it as States.Runtime.

use std::collections::VecDeque;

use base64::Engine;
use serde_json::Value;
use sha1::Digest;

use crate::path::{ExprError, JsonPath, Scope};

/// AWS allows at most ten nested intrinsic calls in one field.
const MAX_NESTING: usize = 10;
/// The encode, decode and hash intrinsics refuse inputs longer than this many characters.
const MAX_TEXT_CHARS: usize = 10_000;
/// States.ArrayRange may not build a larger array.
const MAX_RANGE_ITEMS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Func {
    Format,
    StringToJson,
    JsonToString,
    Array,
    ArrayPartition,
    ArrayContains,
    ArrayRange,
    ArrayGetItem,
    ArrayLength,
    ArrayUnique,
    Base64Encode,
    Base64Decode,
    Hash,
    JsonMerge,
    MathRandom,
    MathAdd,
    StringSplit,
    Uuid,
}

const FUNCS: [(&str, Func); 18] = [
    ("States.Format", Func::Format),
    ("States.StringToJson", Func::StringToJson),
    ("States.JsonToString", Func::JsonToString),
    ("States.Array", Func::Array),
    ("States.ArrayPartition", Func::ArrayPartition),
    ("States.ArrayContains", Func::ArrayContains),
    ("States.ArrayRange", Func::ArrayRange),
    ("States.ArrayGetItem", Func::ArrayGetItem),
    ("States.ArrayLength", Func::ArrayLength),
    ("States.ArrayUnique", Func::ArrayUnique),
    ("States.Base64Encode", Func::Base64Encode),
    ("States.Base64Decode", Func::Base64Decode),
    ("States.Hash", Func::Hash),
    ("States.JsonMerge", Func::JsonMerge),
    ("States.MathRandom", Func::MathRandom),
    ("States.MathAdd", Func::MathAdd),
    ("States.StringSplit", Func::StringSplit),
    ("States.UUID", Func::Uuid),
];

impl Func {
    fn name(self) -> &'static str {
        FUNCS.iter().find(|(_, f)| *f == self).map(|(n, _)| *n).unwrap_or("States.?")
    }

    /// Allowed argument counts (inclusive); `None` means no upper bound.
    fn arity(self) -> (usize, Option<usize>) {
        match self {
            Func::Format => (1, None),
            Func::Array => (0, None),
            Func::Uuid => (0, Some(0)),
            Func::StringToJson | Func::JsonToString | Func::ArrayLength | Func::ArrayUnique | Func::Base64Encode | Func::Base64Decode => {
                (1, Some(1))
            }
            Func::ArrayPartition | Func::ArrayContains | Func::ArrayGetItem | Func::Hash | Func::MathAdd | Func::StringSplit => {
                (2, Some(2))
            }
            Func::ArrayRange | Func::JsonMerge => (3, Some(3)),
            Func::MathRandom => (2, Some(3)),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Literal(Value),
    /// A quoted string: `raw` keeps the escapes, which States.Format needs to tell `\{` from `{`.
    Text {
        value: String,
        raw: String,
    },
    Path(JsonPath),
    Call(Box<Call>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    func: Func,
    args: Vec<Arg>,
}

impl Call {
    pub(crate) fn parse(text: &str) -> Result<Call, ExprError> {
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser { text, chars: &chars, pos: 0 };
        let call = parser.call(1)?;
        parser.skip_spaces();
        if parser.pos != chars.len() {
            return Err(parser.invalid("unexpected text after the closing parenthesis"));
        }
        Ok(call)
    }

    pub(crate) fn eval(&self, scope: &Scope) -> Result<Value, String> {
        let args = self.args.iter().map(|a| a.eval(scope)).collect::<Result<Vec<_>, _>>()?;
        let result = match (self.func, &self.args[..]) {
            // A literal template keeps its escapes so that `\{}` stays text.
            (Func::Format, [Arg::Text { raw, .. }, ..]) => format_template(raw, true, &args[1..]),
            _ => apply(self.func, args),
        };
        result.map_err(|why| format!("{}: {why}", self.func.name()))
    }
}

/// Fills each `{}` of a template; a template read from the input is plain data, so only a literal
/// one honours backslash escapes.
fn format_template(template: &str, escaped: bool, values: &[Value]) -> Result<Value, String> {
    let mut out = String::new();
    let mut remaining = values.iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if escaped => out.extend(chars.next()),
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                let value = remaining
                    .next()
                    .ok_or_else(|| format!("the template has more {{}} placeholders than the {} values given", values.len()))?;
                out.push_str(&format_value(value));
            }
            c => out.push(c),
        }
    }
    if remaining.next().is_some() {
        return Err(format!("the template has fewer {{}} placeholders than the {} values given", values.len()));
    }
    Ok(Value::String(out))
}

impl Arg {
    fn eval(&self, scope: &Scope) -> Result<Value, String> {
        match self {
            Arg::Literal(v) => Ok(v.clone()),
            Arg::Text { value, .. } => Ok(Value::String(value.clone())),
            Arg::Path(path) => scope.resolve(path).map_err(|e| format!("Invalid path '{}' : {e}", path.text())),
            Arg::Call(call) => call.eval(scope),
        }
    }
}

/// How States.Format renders a non-string value: as Java's toString would (AWS runs on the JVM).
fn format_value(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => format!("[{}]", items.iter().map(format_value).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!("{{{}}}", map.iter().map(|(k, v)| format!("{k}={}", format_value(v))).collect::<Vec<_>>().join(", ")),
        other => other.to_string(),
    }
}

/// Rounds a number to an integer as AWS documents for the numeric intrinsics (Java's Math.round).
fn integer(value: &Value, what: &str) -> Result<i64, String> {
    if let Some(i) = value.as_i64() {
        return Ok(i);
    }
    match value.as_f64() {
        Some(f) if f.is_finite() && f.abs() < 9.0e15 => Ok((f + 0.5).floor() as i64),
        _ => Err(format!("{what} must be an integer, not {value}")),
    }
}

fn array(value: Value, what: &str) -> Result<Vec<Value>, String> {
    match value {
        Value::Array(items) => Ok(items),
        other => Err(format!("{what} must be an array, not {other}")),
    }
}

fn text(value: Value, what: &str) -> Result<String, String> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(format!("{what} must be a string, not {other}")),
    }
}

fn limited(value: Value, what: &str) -> Result<String, String> {
    let s = text(value, what)?;
    if s.chars().count() > MAX_TEXT_CHARS {
        return Err(format!("{what} is longer than {MAX_TEXT_CHARS} characters"));
    }
    Ok(s)
}

fn apply(func: Func, args: Vec<Value>) -> Result<Value, String> {
    let given = args.len();
    let mut args = VecDeque::from(args);
    let mut next = || args.pop_front().unwrap_or(Value::Null);
    match func {
        Func::Format => {
            let template = text(next(), "the template")?;
            format_template(&template, false, args.make_contiguous())
        }
        Func::Array => Ok(Value::Array(args.into())),
        Func::StringToJson => {
            let s = text(next(), "the argument")?;
            serde_json::from_str(&s).map_err(|e| format!("the argument is not JSON text: {e}"))
        }
        Func::JsonToString => Ok(Value::String(next().to_string())),
        Func::ArrayPartition => {
            let items = array(next(), "the first argument")?;
            let size = integer(&next(), "the chunk size")?;
            if size <= 0 {
                return Err(format!("the chunk size must be a positive integer, not {size}"));
            }
            Ok(Value::Array(items.chunks(size as usize).map(|c| Value::Array(c.to_vec())).collect()))
        }
        Func::ArrayContains => {
            let items = array(next(), "the first argument")?;
            let wanted = next();
            Ok(Value::Bool(items.contains(&wanted)))
        }
        Func::ArrayRange => {
            let start = integer(&next(), "the first element")?;
            let end = integer(&next(), "the last element")?;
            let step = integer(&next(), "the step")?;
            if step == 0 {
                return Err("the step must not be zero".to_string());
            }
            let mut out = Vec::new();
            let mut v = start;
            while (step > 0 && v <= end) || (step < 0 && v >= end) {
                if out.len() == MAX_RANGE_ITEMS {
                    return Err(format!("the range would have more than {MAX_RANGE_ITEMS} items"));
                }
                out.push(Value::from(v));
                v += step;
            }
            Ok(Value::Array(out))
        }
        Func::ArrayGetItem => {
            let items = array(next(), "the first argument")?;
            let index = integer(&next(), "the index")?;
            usize::try_from(index)
                .ok()
                .and_then(|i| items.get(i).cloned())
                .ok_or_else(|| format!("index {index} is out of bounds for an array of {} items", items.len()))
        }
        Func::ArrayLength => Ok(Value::from(array(next(), "the argument")?.len())),
        Func::ArrayUnique => {
            let mut unique: Vec<Value> = Vec::new();
            for item in array(next(), "the argument")? {
                if !unique.contains(&item) {
                    unique.push(item);
                }
            }
            Ok(Value::Array(unique))
        }
        Func::Base64Encode => Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(limited(next(), "the data")?))),
        Func::Base64Decode => {
            let encoded = limited(next(), "the data")?;
            let bytes = base64::engine::general_purpose::STANDARD.decode(encoded.as_bytes()).map_err(|e| format!("invalid Base64: {e}"))?;
            String::from_utf8(bytes).map(Value::String).map_err(|_| "the decoded data is not UTF-8 text".to_string())
        }
        Func::Hash => {
            let data = limited(next(), "the data")?;
            let algorithm = text(next(), "the algorithm")?;
            let bytes = data.as_bytes();
            let digest: Vec<u8> = match algorithm.as_str() {
                "MD5" => md5::Md5::digest(bytes).to_vec(),
                "SHA-1" => sha1::Sha1::digest(bytes).to_vec(),
                "SHA-256" => sha2::Sha256::digest(bytes).to_vec(),
                "SHA-384" => sha2::Sha384::digest(bytes).to_vec(),
                "SHA-512" => sha2::Sha512::digest(bytes).to_vec(),
                other => return Err(format!("unknown algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384 or SHA-512)")),
            };
            Ok(Value::String(digest.iter().map(|b| format!("{b:02x}")).collect()))
        }
        Func::JsonMerge => {
            let (first, second, deep) = (next(), next(), next());
            let (Value::Object(mut merged), Value::Object(second)) = (first, second) else {
                return Err("the first two arguments must be JSON objects".to_string());
            };
            if deep != Value::Bool(false) {
                return Err("only shallow merging is supported: the third argument must be false".to_string());
            }
            merged.extend(second);
            Ok(Value::Object(merged))
        }
        Func::MathAdd => {
            let a = integer(&next(), "the first value")?;
            let b = integer(&next(), "the second value")?;
            for v in [a, b] {
                if i32::try_from(v).is_err() {
                    return Err(format!("{v} is outside the range -2147483648..2147483647"));
                }
            }
            Ok(Value::from(a + b))
        }
        Func::MathRandom => {
            let start = integer(&next(), "the start")?;
            let end = integer(&next(), "the end")?;
            let seed = if given == 3 { Some(integer(&next(), "the seed")?) } else { None };
            if start >= end {
                return Err(format!("the start ({start}) must be less than the end ({end})"));
            }
            let span = (end - start) as u64;
            let bits = match seed {
                Some(seed) => splitmix64(seed as u64),
                None => random_u64()?,
            };
            Ok(Value::from(start + (bits % span) as i64))
        }
        Func::StringSplit => {
            let s = text(next(), "the string")?;
            let delimiters = text(next(), "the delimiters")?;
            // Every character of the second argument is a delimiter; empty pieces are dropped.
            let parts = s.split(|c| delimiters.contains(c)).filter(|p| !p.is_empty()).map(|p| Value::String(p.to_string()));
            Ok(Value::Array(parts.collect()))
        }
        Func::Uuid => {
            let mut bytes = [0u8; 16];
            getrandom::fill(&mut bytes).map_err(|e| format!("no randomness available: {e}"))?;
            bytes[6] = (bytes[6] & 0x0f) | 0x40;
            bytes[8] = (bytes[8] & 0x3f) | 0x80;
            Ok(Value::String(uuid_text(&bytes)))
        }
    }
}

pub(crate) fn uuid_text(bytes: &[u8; 16]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

fn random_u64() -> Result<u64, String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness available: {e}"))?;
    Ok(u64::from_le_bytes(bytes))
}

/// A seeded draw is deterministic per seed, as AWS promises; AWS's own sequence is not reproduced.
fn splitmix64(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

struct Parser<'a> {
    text: &'a str,
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn invalid(&self, why: &str) -> ExprError {
        ExprError::Invalid(format!("invalid intrinsic function '{}': {why} at position {}", self.text, self.pos))
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn rest_starts_with(&self, prefix: &str) -> bool {
        self.chars[self.pos..].iter().take(prefix.len()).copied().eq(prefix.chars())
    }

    fn call(&mut self, depth: usize) -> Result<Call, ExprError> {
        if depth > MAX_NESTING {
            return Err(self.invalid(&format!("more than {MAX_NESTING} nested intrinsic functions")));
        }
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '.') {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        let func = FUNCS
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, f)| *f)
            .ok_or_else(|| ExprError::Invalid(format!("unknown intrinsic function '{name}' in '{}'", self.text)))?;
        self.skip_spaces();
        if self.peek() != Some('(') {
            return Err(self.invalid("expected '('"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_spaces();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                args.push(self.arg(depth)?);
                self.skip_spaces();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(self.invalid("expected ',' or ')'")),
                }
            }
        }
        let (min, max) = func.arity();
        if args.len() < min || max.is_some_and(|max| args.len() > max) {
            let expected = match max {
                Some(max) if max == min => format!("{min}"),
                Some(max) => format!("{min} to {max}"),
                None => format!("at least {min}"),
            };
            return Err(ExprError::Invalid(format!("{name} takes {expected} arguments, {} given in '{}'", args.len(), self.text)));
        }
        if func == Func::JsonToString && !matches!(args[0], Arg::Path(_)) {
            return Err(ExprError::Invalid(format!("States.JsonToString takes a path argument in '{}'", self.text)));
        }
        if func == Func::Format {
            match &args[0] {
                Arg::Text { raw, .. } => {
                    let placeholders = count_placeholders(raw);
                    if placeholders != args.len() - 1 {
                        return Err(ExprError::Invalid(format!(
                            "States.Format template has {placeholders} {{}} placeholders but {} values in '{}'",
                            args.len() - 1,
                            self.text
                        )));
                    }
                }
                Arg::Literal(_) => return Err(ExprError::Invalid(format!("States.Format template must be a string in '{}'", self.text))),
                _ => {}
            }
        }
        Ok(Call { func, args })
    }

    fn arg(&mut self, depth: usize) -> Result<Arg, ExprError> {
        self.skip_spaces();
        match self.peek() {
            Some('\'') => self.text_literal(),
            Some('$') => self.path(),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            _ if self.rest_starts_with("States.") => Ok(Arg::Call(Box::new(self.call(depth + 1)?))),
            _ => {
                for (word, value) in [("true", Value::Bool(true)), ("false", Value::Bool(false)), ("null", Value::Null)] {
                    if self.rest_starts_with(word) {
                        self.pos += word.len();
                        return Ok(Arg::Literal(value));
                    }
                }
                Err(self.invalid("expected a string, number, boolean, null, path or intrinsic function"))
            }
        }
    }

    fn text_literal(&mut self) -> Result<Arg, ExprError> {
        self.pos += 1;
        let mut value = String::new();
        let mut raw = String::new();
        loop {
            match self.peek() {
                None => return Err(self.invalid("unterminated string")),
                Some('\'') => {
                    self.pos += 1;
                    return Ok(Arg::Text { value, raw });
                }
                Some('\\') => {
                    self.pos += 1;
                    match self.peek() {
                        Some(c @ ('\'' | '{' | '}' | '\\')) => {
                            value.push(c);
                            raw.push('\\');
                            raw.push(c);
                            self.pos += 1;
                        }
                        _ => return Err(self.invalid("a backslash may only escape ' { } or \\")),
                    }
                }
                Some(c) => {
                    value.push(c);
                    raw.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A path argument runs to the next top-level ',' or ')' (brackets may quote those characters).
    fn path(&mut self) -> Result<Arg, ExprError> {
        let start = self.pos;
        let mut depth = 0usize;
        let mut quote: Option<char> = None;
        while let Some(c) = self.peek() {
            match (quote, c) {
                (Some(_), '\\') => self.pos += 1,
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '\'' | '"') if depth > 0 => quote = Some(c),
                (None, '[') => depth += 1,
                (None, ']') => depth = depth.saturating_sub(1),
                (None, ',' | ')') if depth == 0 => break,
                (None, c) if c.is_whitespace() && depth == 0 => break,
                _ => {}
            }
            self.pos += 1;
        }
        let end = self.pos.min(self.chars.len());
        let text: String = self.chars[start..end].iter().collect();
        JsonPath::parse(&text).map(Arg::Path)
    }

    fn number(&mut self) -> Result<Arg, ExprError> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_digit() || "+-.eE".contains(c)) {
            self.pos += 1;
        }
        let text: String = self.chars[start..self.pos].iter().collect();
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Number(_)) => Ok(Arg::Literal(v)),
            _ => Err(self.invalid(&format!("'{text}' is not a number"))),
        }
    }
}

fn count_placeholders(raw: &str) -> usize {
    let mut count = 0;
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '{' if chars.peek() == Some(&'}') => {
                chars.next();
                count += 1;
            }
            _ => {}
        }
    }
    count
}

/// Whether a `.$` value or a Fail path is an intrinsic call rather than a path.
pub(crate) fn is_intrinsic(text: &str) -> bool {
    text.starts_with("States.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval_with(text: &str, input: &Value) -> Result<Value, String> {
        let context = json!({"State": {"Name": "S"}});
        Call::parse(text).unwrap().eval(&Scope { input, context: &context })
    }

    fn eval(text: &str) -> Value {
        eval_with(text, &json!({"name": "Arnav", "n": 3, "arr": [1, 2, 3, 3], "obj": {"a": 1}, "tmpl": "x{}y"})).unwrap()
    }

    #[test]
    fn format_with_literals_paths_escapes_and_context() {
        assert_eq!(eval("States.Format('Hello, my name is {}.', $.name)"), json!("Hello, my name is Arnav."));
        assert_eq!(eval("States.Format($.tmpl, $.n)"), json!("x3y"));
        assert_eq!(eval(r"States.Format('\{} {} \'q\' \\', $$.State.Name)"), json!(r"{} S 'q' \"));
        assert_eq!(eval("States.Format('{} {} {}', $.arr, $.obj, true)"), json!("[1, 2, 3, 3] {a=1} true"));
    }

    #[test]
    fn array_functions() {
        assert_eq!(eval("States.Array($.n, 'x', States.Array())"), json!([3, "x", []]));
        assert_eq!(eval("States.ArrayPartition(States.ArrayRange(1, 9, 1), 4)"), json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]));
        assert_eq!(eval("States.ArrayContains($.arr, 2)"), json!(true));
        assert_eq!(eval("States.ArrayContains($.arr, 7)"), json!(false));
        assert_eq!(eval("States.ArrayRange(1, 9, 2)"), json!([1, 3, 5, 7, 9]));
        assert_eq!(eval("States.ArrayRange(5, 1, -2)"), json!([5, 3, 1]));
        assert_eq!(eval("States.ArrayGetItem($.arr, 1)"), json!(2));
        assert_eq!(eval("States.ArrayLength($.arr)"), json!(4));
        assert_eq!(eval("States.ArrayUnique($.arr)"), json!([1, 2, 3]));
    }

    #[test]
    fn encoding_hashing_json_math_string_uuid() {
        assert_eq!(eval("States.Base64Encode('Data to encode')"), json!("RGF0YSB0byBlbmNvZGU="));
        assert_eq!(eval("States.Base64Decode('RGF0YSB0byBlbmNvZGU=')"), json!("Data to encode"));
        assert_eq!(eval("States.Hash('input data', 'SHA-1')"), json!("aaff4a450a104cd177d28d18d74485e8cae074b7"));
        assert_eq!(eval("States.Hash('abc', 'MD5')"), json!("900150983cd24fb0d6963f7d28e17f72"));
        assert_eq!(eval("States.Hash('abc', 'SHA-256')"), json!("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert_eq!(eval("States.Hash('abc', 'SHA-384')").as_str().unwrap().len(), 96);
        assert_eq!(eval("States.Hash('abc', 'SHA-512')").as_str().unwrap().len(), 128);
        assert_eq!(
            eval_with("States.JsonMerge($.a, $.b, false)", &json!({"a": {"k": {"x": 1}, "b": 2}, "b": {"k": {"y": 1}, "c": 3}})).unwrap(),
            json!({"k": {"y": 1}, "b": 2, "c": 3})
        );
        assert_eq!(eval("States.StringToJson('{\"foo\": \"bar\"}')"), json!({"foo": "bar"}));
        assert_eq!(eval("States.JsonToString($.obj)"), json!("{\"a\":1}"));
        assert_eq!(eval("States.MathAdd($.n, -1)"), json!(2));
        assert_eq!(eval("States.MathAdd(1.5, 2)"), json!(4));
        assert_eq!(eval("States.StringSplit('This.is+a,,test=string', '.+,=')"), json!(["This", "is", "a", "test", "string"]));
        let uuid = eval("States.UUID()");
        let uuid = uuid.as_str().unwrap();
        assert_eq!(uuid.len(), 36);
        assert_eq!(&uuid[14..15], "4");
        assert_ne!(eval("States.UUID()"), eval("States.UUID()"));
    }

    #[test]
    fn math_random_is_in_range_and_seeded_draws_repeat() {
        for _ in 0..200 {
            let v = eval("States.MathRandom(10, 13)").as_i64().unwrap();
            assert!((10..13).contains(&v), "{v}");
        }
        assert_eq!(eval("States.MathRandom(1, 1000, 42)"), eval("States.MathRandom(1, 1000, 42)"));
    }

    #[test]
    fn runtime_failures_name_the_function() {
        let input = json!({"arr": [1], "s": "not json"});
        let err = |t: &str| eval_with(t, &input).unwrap_err();
        assert!(err("States.ArrayGetItem($.arr, 5)").starts_with("States.ArrayGetItem: index 5 is out of bounds"));
        assert!(err("States.StringToJson($.s)").starts_with("States.StringToJson: the argument is not JSON text"));
        assert!(err("States.JsonMerge($.arr, $.arr, false)").starts_with("States.JsonMerge:"));
        assert!(err("States.Hash('x', 'SHA-3')").contains("unknown algorithm 'SHA-3'"));
        assert!(err("States.MathRandom(5, 5)").contains("must be less than"));
        assert!(err("States.MathAdd(2147483648, 1)").contains("outside the range"));
        assert!(err("States.ArrayRange(1, 2000, 1)").contains("more than 1000"));
        assert!(err("States.ArrayLength($.missing)").starts_with("Invalid path '$.missing' : No results for path"));
    }

    #[test]
    fn parse_errors() {
        let invalid = |t: &str| matches!(Call::parse(t), Err(ExprError::Invalid(_)));
        assert!(invalid("States.Nope($.a)"));
        assert!(invalid("States.Format('{} {}', $.a)"));
        assert!(invalid("States.ArrayLength($.a, $.b)"));
        assert!(invalid("States.JsonToString('literal')"));
        assert!(invalid("States.Format('bad \\q escape')"));
        assert!(invalid("States.Array($.a"));
        assert!(invalid("States.Array($.a) trailing"));
        assert!(matches!(Call::parse("States.Array($.items[?(@.x)])"), Err(ExprError::Unsupported(_))));
        let deep = (0..11).fold("$.a".to_string(), |acc, _| format!("States.Array({acc})"));
        assert!(invalid(&deep));
        let ok = (0..10).fold("$.a".to_string(), |acc, _| format!("States.Array({acc})"));
        assert!(Call::parse(&ok).is_ok());
        assert!(Call::parse("States.Format('{}', $.abc.['def ghi'])").is_ok());
    }
}
