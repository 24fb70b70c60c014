//! Deterministic identifiers: the same sequence of calls always yields the same ids, URLs and
//! operation ids, so runs and their reports are reproducible.

/// FNV-1a, 64 bits: a stable, dependency-free hash (not for security).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, b| (hash ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// A splitmix64 sequence.
#[derive(Debug, Clone)]
pub(crate) struct IdSource {
    state: u64,
}

impl IdSource {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `len` characters from `alphabet`.
    fn chars(&mut self, len: usize, alphabet: &[u8]) -> String {
        (0..len).map(|_| char::from(alphabet[usize::try_from(self.next() % alphabet.len() as u64).unwrap_or(0)])).collect()
    }

    /// Lowercase hex, like App Runner's service and operation ids.
    pub fn hex(&mut self, len: usize) -> String {
        self.chars(len, b"0123456789abcdef")
    }

    /// Lowercase letters and digits, like the subdomain of an App Runner URL.
    pub fn alphanumeric(&mut self, len: usize) -> String {
        self.chars(len, b"abcdefghijklmnopqrstuvwxyz0123456789")
    }

    /// A UUID-shaped id, like an SNS message id.
    pub fn uuid(&mut self) -> String {
        let hex = self.hex(32);
        format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_repeat_and_look_like_aws_ids() {
        let (mut a, mut b) = (IdSource::new(7), IdSource::new(7));
        let id = a.hex(32);
        assert_eq!(id, b.hex(32));
        assert!(id.len() == 32 && id.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.alphanumeric(10), IdSource::new(8).alphanumeric(10));
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
    }
}
