//! Container image names: an ECR repository with a tag or a digest, as a run document names a
//! release, and the digest-pinned form (`<repository>@sha256:…`) the plan resolves it to, so a
//! tag that moves later changes nothing.

use regex::Regex;
use std::fmt;
use std::sync::LazyLock;

/// `<account>.dkr.ecr.<region>.amazonaws.com[.cn]`.
static REGISTRY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9]{12})\.dkr\.ecr\.([a-z]{2}(?:-[a-z]+)+-[0-9])\.amazonaws\.com(?:\.cn)?$").expect("valid regex"));
/// ECR repository names: lowercase components separated by `.`, `_`, `-` (or `__`), namespaces by `/`.
static REPOSITORY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*/)*[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$").expect("valid regex")
});
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").expect("valid regex"));
static DIGEST: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^sha256:[0-9a-f]{64}$").expect("valid regex"));

/// Which image of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageReference {
    /// Mutable: whatever image carries the tag when it is resolved.
    Tag(String),
    /// `sha256:<64 hex digits>`: one image, forever.
    Digest(String),
}

/// An image in an ECR repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageName {
    /// The registry host, `<account>.dkr.ecr.<region>.amazonaws.com`.
    pub registry: String,
    /// The account the registry belongs to (ECR's `registryId`).
    pub registry_id: String,
    pub region: String,
    pub repository: String,
    pub reference: ImageReference,
}

impl ImageName {
    /// Parses `<registry>/<repository>:<tag>` or `<registry>/<repository>@sha256:<digest>`.
    /// The error says what is wrong, never guessing a default tag (`latest` moves).
    pub fn parse(name: &str) -> Result<Self, String> {
        let (registry, rest) =
            name.split_once('/').ok_or_else(|| format!("{name:?} is not <account>.dkr.ecr.<region>.amazonaws.com/<repository>:<tag>"))?;
        let captures = REGISTRY
            .captures(registry)
            .ok_or_else(|| format!("{registry:?} is not an ECR registry (<account>.dkr.ecr.<region>.amazonaws.com)"))?;
        let (repository, reference) = match rest.split_once('@') {
            Some((repository, digest)) if DIGEST.is_match(digest) => (repository, ImageReference::Digest(digest.to_string())),
            Some((_, digest)) => return Err(format!("{digest:?} is not a digest (sha256: and 64 lowercase hex digits)")),
            None => match rest.rsplit_once(':') {
                Some((repository, tag)) if TAG.is_match(tag) => (repository, ImageReference::Tag(tag.to_string())),
                Some((_, tag)) => return Err(format!("{tag:?} is not an image tag (up to 128 letters, digits, '_', '.', '-')")),
                None => return Err(format!("{name:?} names no tag or digest; name one (say :v42 or @sha256:…)")),
            },
        };
        if repository.contains(':') {
            return Err(format!("{name:?} names both a tag and a digest; name one"));
        }
        if !(2..=256).contains(&repository.len()) || !REPOSITORY.is_match(repository) {
            return Err(format!("{repository:?} is not an ECR repository name (lowercase letters, digits, '.', '_', '-', '/')"));
        }
        Ok(Self {
            registry: registry.to_string(),
            registry_id: captures[1].to_string(),
            region: captures[2].to_string(),
            repository: repository.to_string(),
            reference,
        })
    }

    /// `<registry>/<repository>`.
    pub fn repository_uri(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The same repository, at one digest.
    pub fn pinned(&self, digest: &str) -> Self {
        Self { reference: ImageReference::Digest(digest.to_string()), ..self.clone() }
    }

    pub fn is_pinned(&self) -> bool {
        matches!(self.reference, ImageReference::Digest(_))
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reference {
            ImageReference::Tag(tag) => write!(f, "{}:{tag}", self.repository_uri()),
            ImageReference::Digest(digest) => write!(f, "{}@{digest}", self.repository_uri()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REGISTRY_HOST: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    const DIGEST_VALUE: &str = "sha256:4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b";

    #[test]
    fn tags_and_digests_parse_and_print_back() {
        let tagged = ImageName::parse(&format!("{REGISTRY_HOST}/tableicty/backend:release-42")).unwrap();
        assert_eq!(
            (tagged.registry_id.as_str(), tagged.region.as_str(), tagged.repository.as_str()),
            ("123456789012", "us-east-1", "tableicty/backend")
        );
        assert_eq!(tagged.reference, ImageReference::Tag("release-42".into()));
        assert!(!tagged.is_pinned());
        assert_eq!(tagged.to_string(), format!("{REGISTRY_HOST}/tableicty/backend:release-42"));

        let pinned = tagged.pinned(DIGEST_VALUE);
        assert!(pinned.is_pinned());
        assert_eq!(pinned.to_string(), format!("{REGISTRY_HOST}/tableicty/backend@{DIGEST_VALUE}"));
        assert_eq!(ImageName::parse(&pinned.to_string()), Ok(pinned));
        let china = ImageName::parse("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v1").unwrap();
        assert_eq!(china.region, "cn-north-1");
    }

    #[test]
    fn what_is_not_an_ecr_image_is_refused_saying_why() {
        for (name, why) in [
            ("tableicty-backend:v1", "is not <account>"),
            ("docker.io/library/python:3.11", "is not an ECR registry"),
            ("12345.dkr.ecr.us-east-1.amazonaws.com/app:v1", "is not an ECR registry"),
            (&format!("{REGISTRY_HOST}/app"), "names no tag or digest"),
            (&format!("{REGISTRY_HOST}/app:v1@{DIGEST_VALUE}"), "both a tag and a digest"),
            (&format!("{REGISTRY_HOST}/app@sha256:abc"), "is not a digest"),
            (&format!("{REGISTRY_HOST}/app:bad tag"), "is not an image tag"),
            (&format!("{REGISTRY_HOST}/App:v1"), "is not an ECR repository name"),
            (&format!("{REGISTRY_HOST}/-app:v1"), "is not an ECR repository name"),
        ] {
            let error = ImageName::parse(name).unwrap_err();
            assert!(error.contains(why), "{name}: {error}");
        }
    }
}
