//! `${Name}` substitution as SAM's DefinitionSubstitutions does it (SAM hands the definition to
//! `Fn::Sub`, so `${!Name}` stands for a literal `${Name}`).

use std::collections::BTreeMap;

use crate::AslError;

/// Replaces every `${Name}` in `text` with `values[Name]`; an unknown name is an error naming it.
/// `${!Name}` yields the literal `${Name}`, and a `${` with no closing `}` is left as it is.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, AslError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push_str(&rest[start..]);
            return Ok(out);
        };
        let name = &after[..end];
        if let Some(literal) = name.strip_prefix('!') {
            out.push_str("${");
            out.push_str(literal);
            out.push('}');
        } else {
            let value = values.get(name).ok_or_else(|| AslError::UnknownSubstitution { name: name.to_string() })?;
            out.push_str(value);
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> BTreeMap<String, String> {
        [("Fn", "arn:aws:lambda:eu-west-1:1:function:f"), ("Env", "staging")].into_iter().map(|(k, v)| (k.into(), v.into())).collect()
    }

    #[test]
    fn replaces_every_occurrence() {
        let text = r#"{"Resource": "${Fn}", "Comment": "${Env}/${Env}"}"#;
        assert_eq!(
            substitute(text, &values()).unwrap(),
            r#"{"Resource": "arn:aws:lambda:eu-west-1:1:function:f", "Comment": "staging/staging"}"#
        );
    }

    #[test]
    fn unknown_name_is_an_error_naming_it() {
        assert_eq!(substitute("a ${Missing} b", &values()), Err(AslError::UnknownSubstitution { name: "Missing".into() }));
    }

    #[test]
    fn bang_escapes_and_unterminated_are_literal() {
        assert_eq!(substitute("${!Fn} ${Env} ${open", &values()).unwrap(), "${Fn} staging ${open");
        assert_eq!(substitute("no placeholders $ { }", &values()).unwrap(), "no placeholders $ { }");
    }
}
