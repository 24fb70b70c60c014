//! The JSONPath dialect Step Functions accepts (it evaluates with Jayway JsonPath): `$`, `$$`
//! (the context object), `.key`, `['key']`, `[n]` (negative counts from the end), `[*]`/`.*`,
//! `..` (deep scan), `['a','b']`, `[0,2]` and `[start:end]`. Filters, scripts and functions are
//! refused when the definition is parsed. Error texts follow Jayway's, since AWS quotes them in
//! the causes of States.Runtime failures.

use serde_json::{Map, Value};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ExprError {
    Invalid(String),
    Unsupported(String),
}

#[derive(Debug, Clone, PartialEq)]
enum Selector {
    Key(String),
    Index(i64),
    Wildcard,
    Keys(Vec<String>),
    Indices(Vec<i64>),
    Slice(Option<i64>, Option<i64>),
}

#[derive(Debug, Clone, PartialEq)]
struct Segment {
    deep: bool,
    selector: Selector,
}

/// What paths are evaluated against: the effective input, or the context object for `$$` paths.
pub(crate) struct Scope<'a> {
    pub(crate) input: &'a Value,
    pub(crate) context: &'a Value,
}

impl Scope<'_> {
    pub(crate) fn resolve(&self, path: &JsonPath) -> Result<Value, String> {
        path.select(if path.is_context() { self.context } else { self.input })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonPath {
    text: String,
    context: bool,
    segments: Vec<Segment>,
}

impl JsonPath {
    pub(crate) fn parse(text: &str) -> Result<JsonPath, ExprError> {
        let (context, start) = if text.starts_with("$$") {
            (true, 2)
        } else if text.starts_with('$') {
            (false, 1)
        } else {
            return Err(ExprError::Invalid(format!("the path '{text}' must start with '$'")));
        };
        let chars: Vec<char> = text.chars().collect();
        let mut parser = Parser { text, chars: &chars, pos: start };
        let mut segments = Vec::new();
        while parser.pos < chars.len() {
            segments.push(parser.segment()?);
        }
        let path = JsonPath { text: text.to_string(), context, segments };
        if context {
            path.check_context_fields()?;
        }
        Ok(path)
    }

    /// `$`: the whole input.
    pub(crate) fn root() -> JsonPath {
        JsonPath { text: "$".to_string(), context: false, segments: Vec::new() }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    pub(crate) fn is_context(&self) -> bool {
        self.context
    }

    /// A definite path names at most one node; Jayway returns that node itself, not a list.
    pub(crate) fn is_definite(&self) -> bool {
        self.segments.iter().all(|s| !s.deep && matches!(s.selector, Selector::Key(_) | Selector::Index(_)))
    }

    /// The context fields this interpreter cannot model are refused up front rather than failing at run time.
    fn check_context_fields(&self) -> Result<(), ExprError> {
        let keys: Vec<&str> = self
            .segments
            .iter()
            .map_while(|s| match (&s.selector, s.deep) {
                (Selector::Key(k), false) => Some(k.as_str()),
                _ => None,
            })
            .collect();
        match keys.as_slice() {
            // The definition admits it in .waitForTaskToken tasks only.
            ["Task", "Token"] => Ok(()),
            ["Task", ..] => Err(ExprError::Unsupported(format!("context path '{}' (only $$.Task.Token is modelled)", self.text))),
            ["Map", ..] => Err(ExprError::Unsupported(format!("context path '{}' (Map states)", self.text))),
            ["Execution", "RoleArn", ..] => {
                Err(ExprError::Unsupported(format!("context path '{}' (no execution role is modelled)", self.text)))
            }
            _ => Ok(()),
        }
    }

    /// Jayway's normalized form, as AWS quotes it in error causes: `$['a'][0]`.
    fn normalized(segments: &[Segment]) -> String {
        let mut out = String::from("$");
        for segment in segments {
            if segment.deep {
                out.push_str("..");
            }
            match &segment.selector {
                Selector::Key(k) => out.push_str(&format!("['{k}']")),
                Selector::Index(i) => out.push_str(&format!("[{i}]")),
                Selector::Wildcard => out.push_str("[*]"),
                Selector::Keys(ks) => out.push_str(&format!("[{}]", ks.iter().map(|k| format!("'{k}'")).collect::<Vec<_>>().join(","))),
                Selector::Indices(is) => out.push_str(&format!("[{}]", is.iter().map(i64::to_string).collect::<Vec<_>>().join(","))),
                Selector::Slice(a, b) => out.push_str(&format!(
                    "[{}:{}]",
                    a.map(|v| v.to_string()).unwrap_or_default(),
                    b.map(|v| v.to_string()).unwrap_or_default()
                )),
            }
        }
        out
    }

    /// Evaluates against `root` (the caller picks the input or the context object). A definite
    /// path yields its node or an error; any other path yields the array of what it matched.
    pub(crate) fn select(&self, root: &Value) -> Result<Value, String> {
        let mut found = Vec::new();
        collect(&self.segments, 0, root, true, &mut found)?;
        if self.is_definite() {
            match found.first() {
                Some(v) => Ok((*v).clone()),
                None => Err(format!("No results for path: {}", Self::normalized(&self.segments))),
            }
        } else {
            Ok(Value::Array(found.into_iter().cloned().collect()))
        }
    }

    /// Writes `value` into `target` at this reference path (ResultPath), creating missing objects on the way.
    pub(crate) fn assign(&self, target: Value, value: Value) -> Result<Value, String> {
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut root = target;
        let mut value = Some(value);
        let mut current = &mut root;
        let last = self.segments.len() - 1;
        for (i, segment) in self.segments.iter().enumerate() {
            let here = Self::normalized(&self.segments[..i]);
            match &segment.selector {
                Selector::Key(key) => {
                    let object = current.as_object_mut().ok_or_else(|| format!("cannot set field '{key}': {here} is not a JSON object"))?;
                    if i == last {
                        object.insert(key.clone(), value.take().unwrap_or(Value::Null));
                        break;
                    }
                    current = object.entry(key.clone()).or_insert_with(|| Value::Object(Map::new()));
                }
                Selector::Index(index) => {
                    let array = current.as_array_mut().ok_or_else(|| format!("cannot set index [{index}]: {here} is not an array"))?;
                    let at = resolve_index(*index, array.len())
                        .ok_or_else(|| format!("cannot set index [{index}]: {here} has {} elements", array.len()))?;
                    if i == last {
                        array[at] = value.take().unwrap_or(Value::Null);
                        break;
                    }
                    current = &mut array[at];
                }
                _ => return Err(format!("'{}' is not a reference path", self.text)),
            }
        }
        Ok(root)
    }
}

fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let len = i64::try_from(len).ok()?;
    let at = if index < 0 { len + index } else { index };
    (0..len).contains(&at).then_some(at as usize)
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Jayway's evaluation: a missing property is an error only where everything before it was definite
/// and it is not the last token; otherwise that branch of the evaluation just yields nothing.
fn collect<'v>(segments: &[Segment], at: usize, node: &'v Value, upstream_definite: bool, out: &mut Vec<&'v Value>) -> Result<(), String> {
    let Some(segment) = segments.get(at) else {
        out.push(node);
        return Ok(());
    };
    let leaf = at + 1 == segments.len();
    if segment.deep {
        let mut nodes = Vec::new();
        descendants_or_self(node, &mut nodes);
        for candidate in nodes {
            for child in children(&segment.selector, candidate) {
                collect(segments, at + 1, child, false, out)?;
            }
        }
        return Ok(());
    }
    match &segment.selector {
        Selector::Key(key) => match node {
            Value::Object(map) => match map.get(key) {
                Some(child) => collect(segments, at + 1, child, upstream_definite, out),
                None if !leaf && upstream_definite => Err(format!("Missing property in path {}", JsonPath::normalized(&segments[..=at]))),
                None => Ok(()),
            },
            other if upstream_definite => Err(format!(
                "Expected to find an object with property ['{key}'] in path {} but found {}",
                JsonPath::normalized(&segments[..at]),
                kind_of(other)
            )),
            _ => Ok(()),
        },
        Selector::Index(index) => match node {
            Value::Array(items) => match resolve_index(*index, items.len()) {
                Some(i) => collect(segments, at + 1, &items[i], upstream_definite, out),
                None => Ok(()),
            },
            other if upstream_definite => Err(format!(
                "Filter: [{index}] can only be applied to arrays, but {} is {}",
                JsonPath::normalized(&segments[..at]),
                kind_of(other)
            )),
            _ => Ok(()),
        },
        selector => {
            for child in children(selector, node) {
                collect(segments, at + 1, child, false, out)?;
            }
            Ok(())
        }
    }
}

/// The nodes a selector picks out of one node, skipping whatever is absent.
fn children<'v>(selector: &Selector, node: &'v Value) -> Vec<&'v Value> {
    match (selector, node) {
        (Selector::Key(k), Value::Object(map)) => map.get(k).into_iter().collect(),
        (Selector::Keys(ks), Value::Object(map)) => ks.iter().filter_map(|k| map.get(k)).collect(),
        (Selector::Wildcard, Value::Object(map)) => map.values().collect(),
        (Selector::Wildcard, Value::Array(items)) => items.iter().collect(),
        (Selector::Index(i), Value::Array(items)) => resolve_index(*i, items.len()).map(|i| &items[i]).into_iter().collect(),
        (Selector::Indices(is), Value::Array(items)) => {
            is.iter().filter_map(|i| resolve_index(*i, items.len())).map(|i| &items[i]).collect()
        }
        (Selector::Slice(from, to), Value::Array(items)) => {
            let len = items.len() as i64;
            let clamp = |v: i64| if v < 0 { (len + v).max(0) } else { v.min(len) };
            let from = clamp(from.unwrap_or(0));
            let to = clamp(to.unwrap_or(len));
            if from < to {
                items[from as usize..to as usize].iter().collect()
            } else {
                Vec::new()
            }
        }
        _ => Vec::new(),
    }
}

fn descendants_or_self<'v>(node: &'v Value, out: &mut Vec<&'v Value>) {
    out.push(node);
    match node {
        Value::Object(map) => map.values().for_each(|v| descendants_or_self(v, out)),
        Value::Array(items) => items.iter().for_each(|v| descendants_or_self(v, out)),
        _ => {}
    }
}

struct Parser<'a> {
    text: &'a str,
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn invalid(&self, why: &str) -> ExprError {
        ExprError::Invalid(format!("invalid JSONPath '{}': {why} at position {}", self.text, self.pos))
    }

    fn segment(&mut self) -> Result<Segment, ExprError> {
        match self.peek() {
            Some('[') => Ok(Segment { deep: false, selector: self.bracket()? }),
            Some('.') => {
                self.pos += 1;
                let deep = self.peek() == Some('.');
                if deep {
                    self.pos += 1;
                }
                let selector = match self.peek() {
                    Some('*') => {
                        self.pos += 1;
                        Selector::Wildcard
                    }
                    Some('[') => self.bracket()?,
                    _ => Selector::Key(self.name()?),
                };
                Ok(Segment { deep, selector })
            }
            _ => Err(self.invalid("expected '.' or '['")),
        }
    }

    fn name(&mut self) -> Result<String, ExprError> {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c == '.' || c == '[' {
                break;
            }
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if name.is_empty() {
            return Err(self.invalid("empty property name"));
        }
        if name.contains('(') {
            return Err(ExprError::Unsupported(format!("JSONPath function '{name}' in '{}'", self.text)));
        }
        if name.chars().any(|c| c.is_whitespace() || "'\"),]?@".contains(c)) {
            return Err(self.invalid(&format!("property name '{name}' needs bracket notation")));
        }
        Ok(name)
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn expect(&mut self, c: char) -> Result<(), ExprError> {
        self.skip_spaces();
        if self.peek() == Some(c) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.invalid(&format!("expected '{c}'")))
        }
    }

    fn bracket(&mut self) -> Result<Selector, ExprError> {
        self.expect('[')?;
        self.skip_spaces();
        let selector = match self.peek() {
            Some('*') => {
                self.pos += 1;
                Selector::Wildcard
            }
            Some('?') => return Err(ExprError::Unsupported(format!("JSONPath filter expression in '{}'", self.text))),
            Some('(') => return Err(ExprError::Unsupported(format!("JSONPath script expression in '{}'", self.text))),
            Some('\'' | '"') => {
                let mut keys = vec![self.quoted()?];
                loop {
                    self.skip_spaces();
                    if self.peek() != Some(',') {
                        break;
                    }
                    self.pos += 1;
                    self.skip_spaces();
                    keys.push(self.quoted()?);
                }
                if keys.len() == 1 {
                    Selector::Key(keys.remove(0))
                } else {
                    Selector::Keys(keys)
                }
            }
            Some(c) if c == '-' || c == ':' || c.is_ascii_digit() => self.numeric()?,
            _ => return Err(self.invalid("unexpected bracket content")),
        };
        self.expect(']')?;
        Ok(selector)
    }

    fn quoted(&mut self) -> Result<String, ExprError> {
        let quote = self.peek().ok_or_else(|| self.invalid("expected a quoted name"))?;
        if quote != '\'' && quote != '"' {
            return Err(self.invalid("expected a quoted name"));
        }
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return Err(self.invalid("unterminated quoted name")),
                Some('\\') => {
                    self.pos += 1;
                    let escaped = self.peek().ok_or_else(|| self.invalid("unterminated escape"))?;
                    out.push(escaped);
                    self.pos += 1;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn integer(&mut self) -> Result<Option<i64>, ExprError> {
        self.skip_spaces();
        let start = self.pos;
        if self.peek() == Some('-') {
            self.pos += 1;
        }
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.pos += 1;
        }
        let digits: String = self.chars[start..self.pos].iter().collect();
        if digits.is_empty() {
            return Ok(None);
        }
        digits.parse().map(Some).map_err(|_| self.invalid(&format!("'{digits}' is not an index")))
    }

    fn numeric(&mut self) -> Result<Selector, ExprError> {
        let first = self.integer()?;
        self.skip_spaces();
        match self.peek() {
            Some(':') => {
                self.pos += 1;
                let second = self.integer()?;
                self.skip_spaces();
                if self.peek() == Some(':') {
                    return Err(ExprError::Unsupported(format!("JSONPath slice step in '{}'", self.text)));
                }
                Ok(Selector::Slice(first, second))
            }
            Some(',') => {
                let mut indices = vec![first.ok_or_else(|| self.invalid("missing index"))?];
                while self.peek() == Some(',') {
                    self.pos += 1;
                    indices.push(self.integer()?.ok_or_else(|| self.invalid("missing index"))?);
                    self.skip_spaces();
                }
                Ok(Selector::Indices(indices))
            }
            _ => Ok(Selector::Index(first.ok_or_else(|| self.invalid("missing index"))?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn select(path: &str, root: &Value) -> Result<Value, String> {
        JsonPath::parse(path).unwrap().select(root)
    }

    fn doc() -> Value {
        json!({
            "a": {"b": [10, 20, 30], "c": "x"},
            "items": [{"id": 1, "tags": ["p"]}, {"id": 2}, {"name": "no id"}],
            "odd key": 5
        })
    }

    #[test]
    fn definite_paths_select_one_node() {
        let d = doc();
        assert_eq!(select("$", &d).unwrap(), d);
        assert_eq!(select("$.a.c", &d).unwrap(), json!("x"));
        assert_eq!(select("$['a']['b'][1]", &d).unwrap(), json!(20));
        assert_eq!(select("$.a.b[-1]", &d).unwrap(), json!(30));
        assert_eq!(select("$.['odd key']", &d).unwrap(), json!(5));
        assert_eq!(select("$[\"odd key\"]", &d).unwrap(), json!(5));
        assert!(JsonPath::parse("$.a.b[0]").unwrap().is_definite());
    }

    #[test]
    fn missing_nodes_fail_with_jayway_messages() {
        let d = doc();
        assert_eq!(select("$.nope", &d).unwrap_err(), "No results for path: $['nope']");
        assert_eq!(select("$.nope.deeper", &d).unwrap_err(), "Missing property in path $['nope']");
        assert_eq!(select("$.a.b[7]", &d).unwrap_err(), "No results for path: $['a']['b'][7]");
        assert!(select("$.a.c.d", &d).unwrap_err().starts_with("Expected to find an object with property ['d'] in path $['a']['c']"));
    }

    #[test]
    fn indefinite_paths_return_arrays_and_skip_absent_nodes() {
        let d = doc();
        assert_eq!(select("$.items[*].id", &d).unwrap(), json!([1, 2]));
        assert_eq!(select("$..id", &d).unwrap(), json!([1, 2]));
        assert_eq!(select("$.a.b[0:2]", &d).unwrap(), json!([10, 20]));
        assert_eq!(select("$.a.b[-2:]", &d).unwrap(), json!([20, 30]));
        assert_eq!(select("$.a.b[0,2]", &d).unwrap(), json!([10, 30]));
        assert_eq!(select("$.items[*].missing", &d).unwrap(), json!([]));
        assert_eq!(select("$.a['c','nope']", &d).unwrap(), json!(["x"]));
        // Everything before 'nope' is definite and it is not the last token, so Jayway fails.
        assert_eq!(select("$.nope[*]", &d).unwrap_err(), "Missing property in path $['nope']");
    }

    #[test]
    fn unsupported_and_invalid_syntax_is_refused() {
        assert!(matches!(JsonPath::parse("$.items[?(@.id == 1)]"), Err(ExprError::Unsupported(_))));
        assert!(matches!(JsonPath::parse("$.items.length()"), Err(ExprError::Unsupported(_))));
        assert!(matches!(JsonPath::parse("$.a[0:4:2]"), Err(ExprError::Unsupported(_))));
        assert!(JsonPath::parse("$$.Task.Token").unwrap().is_context());
        assert!(matches!(JsonPath::parse("$$.Task"), Err(ExprError::Unsupported(_))));
        assert!(matches!(JsonPath::parse("$$.Task.Other"), Err(ExprError::Unsupported(_))));
        assert!(matches!(JsonPath::parse("$$.Map.Item.Value"), Err(ExprError::Unsupported(_))));
        assert!(matches!(JsonPath::parse("a.b"), Err(ExprError::Invalid(_))));
        assert!(matches!(JsonPath::parse("$.a b"), Err(ExprError::Invalid(_))));
        assert!(matches!(JsonPath::parse("$..."), Err(ExprError::Invalid(_))));
        assert!(matches!(JsonPath::parse("$['unterminated"), Err(ExprError::Invalid(_))));
        assert!(JsonPath::parse("$$.Execution.Input.x").unwrap().is_context());
    }

    #[test]
    fn assign_creates_and_overwrites() {
        let set = |path: &str, target: Value, value: Value| JsonPath::parse(path).unwrap().assign(target, value);
        assert_eq!(set("$", json!({"a": 1}), json!(2)).unwrap(), json!(2));
        assert_eq!(set("$.r", json!({"a": 1}), json!(2)).unwrap(), json!({"a": 1, "r": 2}));
        assert_eq!(set("$.x.y.z", json!({"x": {"k": 0}}), json!(true)).unwrap(), json!({"x": {"k": 0, "y": {"z": true}}}));
        assert_eq!(set("$.a", json!({"a": {"old": 1}}), json!("new")).unwrap(), json!({"a": "new"}));
        assert_eq!(set("$.l[1]", json!({"l": [0, 0]}), json!(9)).unwrap(), json!({"l": [0, 9]}));
        assert!(set("$.a.b", json!({"a": "scalar"}), json!(1)).is_err());
        assert!(set("$.a", json!([1, 2]), json!(1)).is_err());
        assert!(set("$.l[5]", json!({"l": []}), json!(1)).is_err());
    }
}
