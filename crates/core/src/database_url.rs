//! DATABASE_URL handling. The staging URL is production's with the host and port of the staging
//! instance and a password of its own: same user and database name (the instance is restored
//! from production's snapshot), while its master password is reset to the new one, so staging
//! never holds production's.

use crate::cloud::{DbTarget, Endpoint};
use crate::secret::Secret;
use url::Url;

/// Why a DATABASE_URL could not be used. Never contains the URL itself (it holds a password).
fn problem(what: &str) -> String {
    format!("DATABASE_URL {what}")
}

fn parse(url: &Secret) -> Result<Url, String> {
    let parsed = Url::parse(url.expose()).map_err(|e| problem(&format!("is not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(problem(&format!("has scheme {:?}, expected postgres://", parsed.scheme())));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(problem("has no host"));
    }
    Ok(parsed)
}

/// Production's URL pointed at the staging endpoint with `password`, keeping the user, the
/// database and the options.
pub fn for_staging(production_url: &Secret, endpoint: &Endpoint, password: &Secret) -> Result<Secret, String> {
    let mut url = parse(production_url)?;
    url.set_host(Some(&endpoint.address)).map_err(|e| problem(&format!("host cannot be replaced ({e})")))?;
    url.set_port(Some(endpoint.port)).map_err(|()| problem("port cannot be replaced"))?;
    url.set_password(Some(password.expose())).map_err(|()| problem("password cannot be replaced"))?;
    Ok(Secret::new(url.to_string()))
}

/// Where to connect for the SQL checks, with percent-decoded credentials.
pub fn target(url: &Secret) -> Result<DbTarget, String> {
    let url = parse(url)?;
    let decode = |s: &str| percent_decode(s).ok_or_else(|| problem("has badly encoded credentials"));
    let database = url.path().trim_start_matches('/');
    if database.is_empty() {
        return Err(problem("names no database"));
    }
    Ok(DbTarget {
        host: url.host_str().unwrap_or_default().to_string(),
        port: url.port().unwrap_or(5432),
        database: decode(database)?,
        user: decode(url.username())?,
        password: Secret::new(decode(url.password().unwrap_or_default())?),
    })
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_url_keeps_user_and_database_with_its_own_password() {
        let prod = Secret::new("postgres://tableicty:p%40ss@prod.abc.us-east-1.rds.amazonaws.com:5432/tableicty?sslmode=require");
        let endpoint = Endpoint { address: "staging.abc.us-east-1.rds.amazonaws.com".into(), port: 5433 };
        let staging = for_staging(&prod, &endpoint, &Secret::new("n3w@pass")).unwrap();
        assert_eq!(
            staging.expose(),
            "postgres://tableicty:n3w%40pass@staging.abc.us-east-1.rds.amazonaws.com:5433/tableicty?sslmode=require"
        );
        let t = target(&staging).unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.database.as_str(), t.user.as_str()),
            ("staging.abc.us-east-1.rds.amazonaws.com", 5433, "tableicty", "tableicty")
        );
        assert_eq!(t.password.expose(), "n3w@pass");
    }

    #[test]
    fn problems_never_echo_the_url() {
        for bad in ["mysql://u:hunter2@h/db", "postgres://u:hunter2@h", "not a url hunter2"] {
            let e = target(&Secret::new(bad)).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
            assert!(e.starts_with("DATABASE_URL"), "{e}");
        }
    }
}
