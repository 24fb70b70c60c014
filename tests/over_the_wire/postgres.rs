//! The PostgreSQL on 127.0.0.1:5432 (user postgres, trust) standing for the staging RDS instance:
//! one database per test, created with tableicty's schema before multi-tenancy and dropped
//! afterwards. SQL goes through `psql`, values as psql variables (`:'name'` quotes them).

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

pub const HOST: &str = "127.0.0.1";
pub const PORT: u16 = 5432;
pub const USER: &str = "postgres";

/// Runs `sql` in `database` with `vars` bound; answers psql's unaligned, tuples-only output.
pub fn psql(database: &str, sql: &str, vars: &[(&str, &str)]) -> Result<String, String> {
    let mut command = Command::new("psql");
    command.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", HOST, "-p", &PORT.to_string(), "-U", USER, "-d", database]);
    for (name, value) in vars {
        command.arg("-v").arg(format!("{name}={value}"));
    }
    let mut child =
        command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().map_err(|e| format!("psql: {e}"))?;
    child.stdin.take().expect("psql's stdin").write_all(sql.as_bytes()).map_err(|e| format!("psql: {e}"))?;
    let output = child.wait_with_output().map_err(|e| format!("psql: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_string())
    }
}

/// tableicty before the multi-tenancy release: users (one test admin), issuers, shareholders.
const PRE_MULTI_TENANCY: &str = "
CREATE TABLE core_user (id serial PRIMARY KEY, email text UNIQUE NOT NULL, password text NOT NULL);
INSERT INTO core_user (email, password) VALUES (:'email', encode(sha256(convert_to(:'password', 'UTF8')), 'hex'));
CREATE TABLE core_issuer (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE core_shareholder (id serial PRIMARY KEY, issuer_id int NOT NULL REFERENCES core_issuer (id), name text NOT NULL);
INSERT INTO core_issuer (name) VALUES ('Acme Holdings'), ('Globex');
INSERT INTO core_shareholder (issuer_id, name) VALUES (1, 'Ann'), (1, 'Bob'), (2, 'Cy');
CREATE TABLE django_migrations (id serial PRIMARY KEY, app text NOT NULL, name text NOT NULL, applied timestamptz NOT NULL);
";

/// The release's migrations, as its start command runs them on every deployment.
pub const MIGRATIONS: &str = "
CREATE TABLE IF NOT EXISTS core_tenant (id serial PRIMARY KEY, name text NOT NULL, slug text UNIQUE NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE IF NOT EXISTS core_tenantmembership (id serial PRIMARY KEY, tenant_id int NOT NULL REFERENCES core_tenant (id), user_id int NOT NULL REFERENCES core_user (id), role text NOT NULL);
CREATE TABLE IF NOT EXISTS core_tenantinvitation (id serial PRIMARY KEY, tenant_id int NOT NULL REFERENCES core_tenant (id), email text NOT NULL, token text NOT NULL);
CREATE TABLE IF NOT EXISTS core_subscriptionplan (id serial PRIMARY KEY, name text UNIQUE NOT NULL, max_users int NOT NULL, max_issuers int NOT NULL, storage_gb int NOT NULL);
CREATE TABLE IF NOT EXISTS core_subscription (id serial PRIMARY KEY, tenant_id int NOT NULL REFERENCES core_tenant (id), plan_id int NOT NULL REFERENCES core_subscriptionplan (id), status text NOT NULL);
ALTER TABLE core_issuer ADD COLUMN IF NOT EXISTS tenant_id int REFERENCES core_tenant (id);
ALTER TABLE core_shareholder ADD COLUMN IF NOT EXISTS tenant_id int REFERENCES core_tenant (id);
INSERT INTO django_migrations (app, name, applied)
    SELECT 'core', '0042_multi_tenancy', now() WHERE NOT EXISTS (SELECT 1 FROM django_migrations WHERE name = '0042_multi_tenancy');
";

/// The one-time backfill: the default tenant and the plans, every row assigned to the tenant.
/// Answers how many rows it assigned.
pub const BACKFILL: &str = "
INSERT INTO core_tenant (name, slug) VALUES ('Default', 'default') ON CONFLICT (slug) DO NOTHING;
INSERT INTO core_subscriptionplan (name, max_users, max_issuers, storage_gb)
    VALUES ('Starter', 5, 1, 5), ('Growth', 25, 10, 20), ('Enterprise', -1, -1, 50) ON CONFLICT (name) DO NOTHING;
INSERT INTO core_subscription (tenant_id, plan_id, status)
    SELECT t.id, p.id, 'active' FROM core_tenant t, core_subscriptionplan p
    WHERE t.slug = 'default' AND p.name = 'Enterprise' AND NOT EXISTS (SELECT 1 FROM core_subscription s WHERE s.tenant_id = t.id);
INSERT INTO core_tenantmembership (tenant_id, user_id, role)
    SELECT t.id, u.id, 'owner' FROM core_tenant t, core_user u
    WHERE t.slug = 'default' AND NOT EXISTS (SELECT 1 FROM core_tenantmembership m WHERE m.user_id = u.id);
WITH tenant AS (SELECT id FROM core_tenant WHERE slug = 'default'),
     issuers AS (UPDATE core_issuer SET tenant_id = (SELECT id FROM tenant) WHERE tenant_id IS NULL RETURNING 1),
     holders AS (UPDATE core_shareholder SET tenant_id = (SELECT id FROM tenant) WHERE tenant_id IS NULL RETURNING 1)
SELECT (SELECT count(*) FROM issuers) + (SELECT count(*) FROM holders);
";

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A database of its own for one test, dropped when this is.
pub struct TestDatabase {
    pub name: String,
}

impl TestDatabase {
    /// Creates it with the pre-multi-tenancy schema and `email`/`password` as the test admin.
    pub fn create(email: &str, password: &str) -> Self {
        let name = format!("rehearsal_wire_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        psql("postgres", &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name};"), &[])
            .unwrap_or_else(|e| panic!("cannot create a database on {HOST}:{PORT} as {USER}: {e}"));
        let database = Self { name };
        database.sql(PRE_MULTI_TENANCY, &[("email", email), ("password", password)]).expect("the fixture schema");
        database
    }

    pub fn sql(&self, sql: &str, vars: &[(&str, &str)]) -> Result<String, String> {
        psql(&self.name, sql, vars)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = psql("postgres", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE);", self.name), &[]);
    }
}
