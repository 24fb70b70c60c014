//! The database model behind each simulated RDS instance: tables of JSON rows, enough to answer
//! the structured checks and to let Django's migrations and the backfill change it.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The multi-tenancy tables the new release's migrations create.
pub const TENANT_TABLES: [&str; 5] =
    ["core_tenant", "core_tenantmembership", "core_tenantinvitation", "core_subscription", "core_subscriptionplan"];
/// Existing tables that gain a nullable `tenant_id`.
pub const TENANT_SCOPED_TABLES: [&str; 2] = ["core_issuer", "core_shareholder"];
pub const DEFAULT_TENANT_SLUG: &str = "default";

pub(crate) type Row = Map<String, Value>;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    pub(crate) columns: Vec<String>,
    pub(crate) rows: Vec<Row>,
}

impl Table {
    pub(crate) fn new(columns: &[&str]) -> Self {
        Self { columns: columns.iter().map(|c| c.to_string()).collect(), rows: Vec::new() }
    }

    pub(crate) fn insert(&mut self, values: Value) -> i64 {
        let id = self.rows.iter().filter_map(|r| r.get("id").and_then(Value::as_i64)).max().unwrap_or(0) + 1;
        let mut row: Row = self.columns.iter().map(|c| (c.clone(), Value::Null)).collect();
        row.insert("id".into(), json!(id));
        if let Value::Object(given) = values {
            row.extend(given);
        }
        self.rows.push(row);
        id
    }
}

/// One PostgreSQL database (the instance's single application database).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Database {
    pub name: String,
    pub(crate) tables: BTreeMap<String, Table>,
}

/// What the backfill endpoint reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Backfill {
    pub tenants_created: i64,
    pub plans_created: i64,
    pub rows_assigned: i64,
}

/// `(name, max_users, max_issuers, storage_gb)`; -1 means unlimited.
const PLANS: [(&str, i64, i64, i64); 3] = [("Starter", 5, 3, 5), ("Professional", 25, 20, 20), ("Enterprise", -1, -1, 50)];

impl Database {
    /// Production's data before multi-tenancy: users (the test admin among them), issuers,
    /// shareholders and Django's bookkeeping.
    pub fn pre_multi_tenancy(name: &str, test_admin_email: &str, test_admin_password: &str) -> Self {
        let mut db = Database { name: name.to_string(), tables: BTreeMap::new() };
        let mut users = Table::new(&["id", "email", "password", "is_superuser", "username", "first_name", "last_name"]);
        users.insert(json!({"email": test_admin_email, "password": password_hash(test_admin_password), "is_superuser": true,
            "username": "testadmin", "first_name": "Test", "last_name": "Admin"}));
        for (email, password, username, first, last) in [
            ("cfo@acme-holdings.example", "Acme#2024", "jmorales", "Julia", "Morales"),
            ("ops@northwind.example", "nw-ops-77", "pnair", "Priya", "Nair"),
        ] {
            users.insert(json!({"email": email, "password": password_hash(password), "is_superuser": false,
                "username": username, "first_name": first, "last_name": last}));
        }
        let mut issuers = Table::new(&["id", "name", "ticker"]);
        for (name, ticker) in
            [("Acme Holdings", "ACMH"), ("Northwind Traders", "NWTR"), ("Globex Corporation", "GLBX"), ("Initech", "INTC")]
        {
            issuers.insert(json!({"name": name, "ticker": ticker}));
        }
        // Real-looking people: what masking must leave no trace of in staging.
        let people = [
            "Ann Whitfield",
            "Bob Okafor",
            "Carla Rossi",
            "Deepak Rao",
            "Elena Petrova",
            "Farid Haddad",
            "Grace Kim",
            "Hiro Tanaka",
            "Ines Duarte",
            "Jonas Berg",
            "Kofi Mensah",
        ];
        let mut shareholders = Table::new(&["id", "name", "issuer_id", "shares", "email", "phone", "address", "encrypted_tax_id"]);
        for (i, name) in (0i64..).zip(people) {
            let email = (i % 5 != 4).then(|| format!("{}@mail.example", name.to_lowercase().replace(' ', ".")));
            shareholders.insert(json!({"name": name, "issuer_id": i % 4 + 1, "shares": 1000 * (i + 1), "email": email,
                "phone": format!("+44 20 7946 {:04}", 100 + i), "address": format!("{} High Street, London", i + 1),
                "encrypted_tax_id": format!("\\x{:032x}", crate::ids::fnv1a(name.as_bytes()))}));
        }
        let mut migrations = Table::new(&["id", "app", "name", "applied"]);
        for (app, name) in [
            ("contenttypes", "0001_initial"),
            ("auth", "0001_initial"),
            ("auth", "0012_alter_user_first_name_max_length"),
            ("core", "0001_initial"),
            ("core", "0029_shareholder_encrypted_tax_id"),
            ("core", "0030_issuer_ticker"),
            ("sessions", "0001_initial"),
        ] {
            migrations.insert(json!({"app": app, "name": name, "applied": "2025-11-02T09:14:00Z"}));
        }
        db.tables.insert("auth_user".into(), users);
        db.tables.insert("core_issuer".into(), issuers);
        db.tables.insert("core_shareholder".into(), shareholders);
        db.tables.insert("django_content_type".into(), Table::new(&["id", "app_label", "model"]));
        db.tables.insert("django_migrations".into(), migrations);
        db.tables.insert("django_session".into(), Table::new(&["session_key", "session_data", "expire_date"]));
        db
    }

    /// Somebody else's database, for a foreign instance that takes a name the run wanted.
    pub fn unrelated(name: &str) -> Self {
        let mut events = Table::new(&["id", "kind", "payload"]);
        events.insert(json!({"kind": "page_view", "payload": "{}"}));
        Database { name: name.to_string(), tables: BTreeMap::from([("events".to_string(), events)]) }
    }

    pub fn is_migrated(&self) -> bool {
        TENANT_TABLES.iter().all(|t| self.tables.contains_key(*t))
    }

    /// Django's `migrate` for the multi-tenancy release; a second run changes nothing.
    pub fn migrate(&mut self, applied: &str) {
        if self.is_migrated() {
            return;
        }
        let new_tables: [(&str, &[&str]); 5] = [
            ("core_tenant", &["id", "name", "slug", "created_at"]),
            ("core_tenantmembership", &["id", "tenant_id", "user_id", "role"]),
            ("core_tenantinvitation", &["id", "tenant_id", "email", "token"]),
            ("core_subscription", &["id", "tenant_id", "plan_id", "status"]),
            ("core_subscriptionplan", &["id", "name", "max_users", "max_issuers", "storage_gb"]),
        ];
        for (name, columns) in new_tables {
            self.tables.entry(name.to_string()).or_insert_with(|| Table::new(columns));
        }
        for name in TENANT_SCOPED_TABLES {
            if let Some(table) = self.tables.get_mut(name) {
                if !table.columns.iter().any(|c| c == "tenant_id") {
                    table.columns.push("tenant_id".into());
                    for row in &mut table.rows {
                        row.insert("tenant_id".into(), Value::Null);
                    }
                }
            }
        }
        let migrations = self.tables.entry("django_migrations".into()).or_insert_with(|| Table::new(&["id", "app", "name", "applied"]));
        for name in ["0031_tenant_subscription_models", "0032_issuer_shareholder_tenant"] {
            migrations.insert(json!({"app": "core", "name": name, "applied": applied}));
        }
    }

    /// The `backfill_tenants` management command: default tenant, plans, every row assigned.
    /// Re-running it finds nothing to do. The caller checks that migrations ran.
    pub fn backfill(&mut self, created_at: &str) -> Backfill {
        let mut summary = Backfill { tenants_created: 0, plans_created: 0, rows_assigned: 0 };
        let tenant_id = match self.find("core_tenant", "slug", json!(DEFAULT_TENANT_SLUG)) {
            Some(id) => id,
            None => {
                summary.tenants_created = 1;
                self.table("core_tenant").insert(json!({"name": "Default", "slug": DEFAULT_TENANT_SLUG, "created_at": created_at}))
            }
        };
        for (name, users, issuers, storage) in PLANS {
            if self.find("core_subscriptionplan", "name", json!(name)).is_none() {
                summary.plans_created += 1;
                self.table("core_subscriptionplan")
                    .insert(json!({"name": name, "max_users": users, "max_issuers": issuers, "storage_gb": storage}));
            }
        }
        if self.find("core_subscription", "tenant_id", json!(tenant_id)).is_none() {
            let enterprise = self.find("core_subscriptionplan", "name", json!("Enterprise"));
            self.table("core_subscription").insert(json!({"tenant_id": tenant_id, "plan_id": enterprise, "status": "active"}));
        }
        for name in TENANT_SCOPED_TABLES {
            for row in &mut self.table(name).rows {
                if row.get("tenant_id").is_none_or(Value::is_null) {
                    row.insert("tenant_id".into(), json!(tenant_id));
                    summary.rows_assigned += 1;
                }
            }
        }
        if summary.tenants_created == 1 {
            if let Some(admin) = self.tables.get("auth_user").and_then(|t| t.rows.iter().find(|r| r["is_superuser"] == json!(true))) {
                let user_id = admin["id"].clone();
                self.table("core_tenantmembership").insert(json!({"tenant_id": tenant_id, "user_id": user_id, "role": "owner"}));
            }
        }
        summary
    }

    /// Registers a tenant; `Err` is the field error the API answers with 400.
    pub fn register_tenant(&mut self, name: &str, slug: &str, created_at: &str) -> Result<i64, String> {
        if self.find("core_tenant", "slug", json!(slug)).is_some() {
            return Err("tenant with this slug already exists.".into());
        }
        Ok(self.table("core_tenant").insert(json!({"name": name, "slug": slug, "created_at": created_at})))
    }

    /// The plan of the first subscription, as `(name, users, issuers, storage_gb)`.
    pub fn subscribed_plan(&self) -> Option<(String, i64, i64, i64)> {
        let plan_id = self.tables.get("core_subscription")?.rows.first()?.get("plan_id")?.as_i64()?;
        let plan = self.tables.get("core_subscriptionplan")?.rows.iter().find(|r| r.get("id").and_then(Value::as_i64) == Some(plan_id))?;
        let number = |k: &str| plan.get(k).and_then(Value::as_i64).unwrap_or(0);
        Some((plan.get("name")?.as_str()?.to_string(), number("max_users"), number("max_issuers"), number("storage_gb")))
    }

    /// The stored password hash of a user, by email.
    pub fn password_hash_of(&self, email: &str) -> Option<String> {
        let users = self.tables.get("auth_user")?;
        let row = users.rows.iter().find(|r| r.get("email").and_then(Value::as_str).is_some_and(|e| e.eq_ignore_ascii_case(email)))?;
        row.get("password").and_then(Value::as_str).map(str::to_string)
    }

    /// `information_schema.tables` filtered by prefix, one row per table, sorted.
    pub fn tables_like(&self, prefix: &str) -> Vec<Vec<Value>> {
        self.tables.keys().filter(|t| t.starts_with(prefix)).map(|t| vec![json!(t)]).collect()
    }

    /// `SELECT COUNT(*) FROM public."table" [WHERE "column" IS NULL]`, with PostgreSQL's errors.
    pub fn count_rows(&self, table: &str, null_column: Option<&str>) -> Result<i64, String> {
        let Some(t) = self.tables.get(table) else {
            return Err(format!("relation \"public.{table}\" does not exist"));
        };
        let count = match null_column {
            None => t.rows.len(),
            Some(column) if t.columns.iter().any(|c| c == column) => {
                t.rows.iter().filter(|r| r.get(column).is_none_or(Value::is_null)).count()
            }
            Some(column) => return Err(format!("column \"{column}\" does not exist")),
        };
        Ok(i64::try_from(count).unwrap_or(i64::MAX))
    }

    /// Table name → row count, for tests and reports.
    pub fn row_counts(&self) -> BTreeMap<String, usize> {
        self.tables.iter().map(|(name, t)| (name.clone(), t.rows.len())).collect()
    }

    /// The database as a deployment whose migrations and backfill never ran would see it:
    /// no tenant tables, every `tenant_id` NULL.
    pub fn as_if_never_migrated(&self) -> Database {
        let mut view = self.clone();
        for name in TENANT_TABLES {
            view.tables.remove(name);
        }
        for name in TENANT_SCOPED_TABLES {
            if let Some(table) = view.tables.get_mut(name) {
                for row in &mut table.rows {
                    if row.contains_key("tenant_id") {
                        row.insert("tenant_id".into(), Value::Null);
                    }
                }
            }
        }
        view
    }

    fn table(&mut self, name: &str) -> &mut Table {
        self.tables.entry(name.to_string()).or_insert_with(|| Table::new(&["id"]))
    }

    fn find(&self, table: &str, column: &str, value: Value) -> Option<i64> {
        let rows = &self.tables.get(table)?.rows;
        rows.iter().find(|r| r.get(column) == Some(&value)).and_then(|r| r.get("id")?.as_i64())
    }
}

/// How the app stores passwords. Not a real hash: the model only needs "the database holds the
/// credential, the request must match it".
pub(crate) fn password_hash(password: &str) -> String {
    format!("sim_sha256${:016x}", crate::ids::fnv1a(password.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prod() -> Database {
        Database::pre_multi_tenancy("tableicty", "admin@example.com", "pw")
    }

    #[test]
    fn migrations_add_tables_and_nullable_tenant_ids() {
        let mut db = prod();
        assert!(!db.is_migrated());
        assert_eq!(db.count_rows("core_tenant", None), Err("relation \"public.core_tenant\" does not exist".into()));
        assert_eq!(db.count_rows("core_issuer", Some("tenant_id")), Err("column \"tenant_id\" does not exist".into()));
        db.migrate("2025-12-25T10:00:00Z");
        let again = {
            let mut d = db.clone();
            d.migrate("later");
            d
        };
        assert_eq!(again, db, "migrate is idempotent");
        assert_eq!(db.tables_like("core_tenant").len(), 3);
        assert_eq!(db.count_rows("core_issuer", Some("tenant_id")), Ok(4));
        assert_eq!(db.count_rows("core_shareholder", Some("tenant_id")), Ok(11));
    }

    #[test]
    fn backfill_assigns_every_row_once() {
        let mut db = prod();
        db.migrate("t");
        assert_eq!(db.backfill("t"), Backfill { tenants_created: 1, plans_created: 3, rows_assigned: 15 });
        assert_eq!(db.backfill("t"), Backfill { tenants_created: 0, plans_created: 0, rows_assigned: 0 });
        assert_eq!(db.count_rows("core_issuer", Some("tenant_id")), Ok(0));
        assert_eq!(db.subscribed_plan(), Some(("Enterprise".into(), -1, -1, 50)));
        assert_eq!(db.register_tenant("Acme", "default", "t"), Err("tenant with this slug already exists.".into()));
        assert_eq!(db.register_tenant("Acme", "acme", "t"), Ok(2));
        let view = db.as_if_never_migrated();
        assert!(view.tables_like("core_").iter().all(|r| !r[0].as_str().unwrap().starts_with("core_tenant")));
        assert_eq!(view.count_rows("core_issuer", Some("tenant_id")), Ok(4));
    }
}
