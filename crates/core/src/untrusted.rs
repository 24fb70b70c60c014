//! Text that neither this tool nor AWS wrote (the app's answers, an operator's comment) on its
//! way into an error cause or an alert: bounded, on one line, and marked as untrusted, so that a
//! reader of the alert cannot take it for the tool's own words (review L4).

/// The most characters of untrusted text an alert quotes.
pub const MAX_UNTRUSTED: usize = 300;

/// `<source> (untrusted text, at most 300 characters): "<text>"`, control characters (line
/// breaks included) replaced by spaces and the quotes inside escaped.
pub fn untrusted(source: &str, text: &str) -> String {
    let mut quoted: String =
        text.chars().take(MAX_UNTRUSTED).map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().replace('"', "\\\"");
    if text.chars().count() > MAX_UNTRUSTED {
        quoted.push('…');
    }
    format!("{source} (untrusted text, at most {MAX_UNTRUSTED} characters): \"{quoted}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_bounded_kept_on_one_line_and_marked() {
        assert_eq!(untrusted("the app's answer", "ok"), "the app's answer (untrusted text, at most 300 characters): \"ok\"");
        let forged = "fine\n\nrehearsal: promoted to production \"all good\"";
        let shown = untrusted("the comment", forged);
        assert!(!shown.contains('\n') && shown.contains("\\\"all good\\\""), "{shown}");
        let long = untrusted("x", &"a".repeat(1000));
        assert!(long.ends_with(&format!(": \"{}…\"", "a".repeat(MAX_UNTRUSTED))), "{long}");
    }
}
