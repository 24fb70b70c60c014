//! Payload templates (Parameters, ResultSelector): a field named `x.$` takes its value from a path,
//! a `$$` context path or an intrinsic function, however deeply nested, arrays included.

use serde_json::{Map, Value};

use crate::intrinsic::{is_intrinsic, Call};
use crate::path::{ExprError, JsonPath, Scope};

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Template {
    Literal(Value),
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
    Path { field: String, path: JsonPath },
    Intrinsic { field: String, source: String, call: Call },
}

impl Template {
    /// Parses a template; the caller has checked that the top level is an object.
    pub(crate) fn parse(value: &Value) -> Result<Template, ExprError> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, value) in map {
                    let Some(field) = key.strip_suffix(".$") else {
                        fields.push((key.clone(), Template::parse(value)?));
                        continue;
                    };
                    if map.contains_key(field) {
                        return Err(ExprError::Invalid(format!("the fields '{field}' and '{key}' would both produce '{field}'")));
                    }
                    let Value::String(text) = value else {
                        return Err(ExprError::Invalid(format!("the value of '{key}' must be a string: a path or an intrinsic function")));
                    };
                    let template = if is_intrinsic(text) {
                        let call = Call::parse(text).map_err(|e| prefix(key, e))?;
                        Template::Intrinsic { field: field.to_string(), source: text.clone(), call }
                    } else if text.starts_with('$') {
                        Template::Path { field: field.to_string(), path: JsonPath::parse(text).map_err(|e| prefix(key, e))? }
                    } else {
                        return Err(ExprError::Invalid(format!(
                            "the value of '{key}' must be a path starting with '$' or an intrinsic function, not '{text}'"
                        )));
                    };
                    fields.push((field.to_string(), template));
                }
                Ok(Template::Object(fields))
            }
            Value::Array(items) => Ok(Template::Array(items.iter().map(Template::parse).collect::<Result<_, _>>()?)),
            other => Ok(Template::Literal(other.clone())),
        }
    }

    /// Builds the payload; a failure is the cause of the States.Runtime error AWS reports.
    pub(crate) fn eval(&self, scope: &Scope) -> Result<Value, String> {
        match self {
            Template::Literal(v) => Ok(v.clone()),
            Template::Object(fields) => {
                let mut out = Map::new();
                for (key, template) in fields {
                    out.insert(key.clone(), template.eval(scope)?);
                }
                Ok(Value::Object(out))
            }
            Template::Array(items) => Ok(Value::Array(items.iter().map(|t| t.eval(scope)).collect::<Result<_, _>>()?)),
            Template::Path { field, path } => scope.resolve(path).map_err(|_| {
                let searched = if path.is_context() { scope.context } else { scope.input };
                format!("The JSONPath '{}' specified for the field '{field}.$' could not be found in the input '{searched}'", path.text())
            }),
            Template::Intrinsic { field, source, call } => {
                call.eval(scope).map_err(|e| format!("The value for the field '{field}.$' could not be computed by '{source}': {e}"))
            }
        }
    }
}

fn prefix(key: &str, e: ExprError) -> ExprError {
    match e {
        ExprError::Invalid(m) => ExprError::Invalid(format!("field '{key}': {m}")),
        ExprError::Unsupported(m) => ExprError::Unsupported(format!("field '{key}': {m}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn eval(template: Value, input: Value) -> Result<Value, String> {
        let context = json!({"State": {"Name": "Step", "RetryCount": 2}});
        Template::parse(&template).unwrap().eval(&Scope { input: &input, context: &context })
    }

    #[test]
    fn substitutes_paths_context_and_intrinsics_at_any_depth() {
        let out = eval(
            json!({
                "literal": {"keep": [1, "two"], "x": null},
                "id.$": "$.order.id",
                "ids.$": "$.items[*].id",
                "state.$": "$$.State.Name",
                "nested": {"retries.$": "$$.State.RetryCount", "list": [{"first.$": "$.items[0]"}]},
                "msg.$": "States.Format('order {}', $.order.id)"
            }),
            json!({"order": {"id": 7}, "items": [{"id": "a"}, {"id": "b"}]}),
        )
        .unwrap();
        assert_eq!(
            out,
            json!({
                "literal": {"keep": [1, "two"], "x": null},
                "id": 7,
                "ids": ["a", "b"],
                "state": "Step",
                "nested": {"retries": 2, "list": [{"first": {"id": "a"}}]},
                "msg": "order 7"
            })
        );
    }

    #[test]
    fn missing_path_reports_the_field_and_input_like_aws() {
        let err = eval(json!({"JobName.$": "$.JobName"}), json!({})).unwrap_err();
        assert_eq!(err, "The JSONPath '$.JobName' specified for the field 'JobName.$' could not be found in the input '{}'");
    }

    #[test]
    fn malformed_templates_are_refused() {
        let invalid = |v: Value| matches!(Template::parse(&v), Err(ExprError::Invalid(_)));
        assert!(invalid(json!({"a.$": 3})));
        assert!(invalid(json!({"a.$": "plain text"})));
        assert!(invalid(json!({"a": 1, "a.$": "$.a"})));
        assert!(invalid(json!({"a.$": "States.Unknown()"})));
        assert!(invalid(json!({"deep": [{"a.$": "$.["}]})));
    }
}
