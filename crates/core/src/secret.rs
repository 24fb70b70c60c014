//! A value that must never reach a log line, a report or a state machine payload.

use std::fmt;

/// Wraps a secret string. `Debug`/`Display` print `***`; there is deliberately no `Serialize`,
/// so a secret cannot end up in a step's JSON output by accident.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// `bytes` random bytes as lowercase hex (a one-time token, a generated password or key):
    /// letters and digits only, so it needs no escaping in a URL and RDS accepts it.
    pub fn random_hex(bytes: usize) -> Result<Self, getrandom::Error> {
        let mut buffer = vec![0u8; bytes];
        getrandom::fill(&mut buffer)?;
        Ok(Self(buffer.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The plain value, for the one call that needs it (an SDK request, a connection).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formatting_never_shows_the_value() {
        let s = Secret::new("sk_test_abc");
        assert_eq!(format!("{s} {s:?}"), "*** Secret(***)");
        assert_eq!(s.expose(), "sk_test_abc");
    }
}
