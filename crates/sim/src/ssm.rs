//! SSM Parameter Store: parameters with versions, types and tags.

use crate::account::{Api, SimCloud};
use crate::seed::{ACCOUNT_ID, PRODUCTION_PARAMETER_PATH, REGION};
use crate::world::{Ctx, Origin, World};
use rehearsal_core::cloud::{CloudResult, Parameter, ParameterInfo, ParameterKind, ParameterStore};
use rehearsal_core::naming::path_is_within;
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind, Secret};

#[derive(Debug, Clone)]
pub(crate) struct Param {
    pub kind: ParameterKind,
    pub value: String,
    pub version: u64,
    pub tags: Tags,
    pub origin: Origin,
    /// `LastModifiedUser`: the principal of the session that wrote the current version.
    pub writer: String,
}

/// The IAM principal a session of this account acts as: the role of the step (or the named
/// caller, `api`, `operator`, …) it stands for, as LastModifiedUser reports an assumed role.
pub fn session_principal(session: &str) -> String {
    format!("arn:aws:sts::{ACCOUNT_ID}:assumed-role/rehearsal-{session}/{session}")
}

fn api(action: &'static str) -> Api {
    Api { service: "ssm", action }
}

/// `arn:aws:ssm:us-east-1:123456789012:parameter/tableicty/…`: a name that starts with `/`
/// keeps it, any other gains one.
pub fn parameter_arn(name: &str) -> String {
    let separator = if name.starts_with('/') { "" } else { "/" };
    format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter{separator}{name}")
}

/// The parameter a reference (a name, or an ARN in this account and region) denotes. An ARN
/// cannot tell `/x` from `x`; like SSM, the hierarchical name is tried first.
pub(crate) fn referenced_parameter<'a>(world: &'a World, reference: &str) -> Option<(String, &'a Param)> {
    let prefix = format!("arn:aws:ssm:{REGION}:{ACCOUNT_ID}:parameter");
    let candidates: Vec<String> = match reference.strip_prefix(&prefix) {
        Some(rest) => vec![rest.to_string(), rest.trim_start_matches('/').to_string()],
        None if reference.starts_with("arn:") => vec![],
        None => vec![reference.to_string()],
    };
    candidates.into_iter().find_map(|name| world.parameters.get(&name).map(|p| (name, p)))
}

fn validation(message: String) -> CloudError {
    CloudError::new(CloudErrorKind::Fatal, "ValidationException", message)
}

fn check_name(name: &str) -> CloudResult<()> {
    if name.is_empty() || name.len() > 1011 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c)) {
        return Err(validation(format!("Parameter name {name:?} must be 1 to 1011 letters, digits, '_', '.', '-' or '/'.")));
    }
    if name.contains('/') && !name.starts_with('/') {
        return Err(validation("Parameter name must be a fully qualified name.".into()));
    }
    let lower = name.trim_start_matches('/').to_ascii_lowercase();
    if lower.starts_with("aws") || lower.starts_with("ssm") {
        return Err(validation(format!("No access to reserved parameter name: {name}.")));
    }
    if name.matches('/').count() > 15 {
        return Err(CloudError::new(
            CloudErrorKind::Fatal,
            "HierarchyLevelLimitExceededException",
            "A hierarchy can have a maximum of 15 levels.",
        ));
    }
    Ok(())
}

/// Tag keys AWS reserves, and its 50 tags per resource (`total`: with the ones it has).
fn check_tags(tags: &Tags, total: usize) -> CloudResult<()> {
    if let Some(key) = tags.keys().find(|k| k.to_ascii_lowercase().starts_with("aws:")) {
        return Err(validation(format!("Tag keys may not start with aws: ({key}).")));
    }
    if total > 50 {
        return Err(CloudError::new(CloudErrorKind::Fatal, "TooManyTagsError", "A resource can have at most 50 tags."));
    }
    Ok(())
}

fn invalid_resource(name: &str) -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "InvalidResourceId", format!("Parameter {name} was not found."))
}

impl World {
    fn note_production_parameter(&mut self, ctx: &Ctx, name: &str, operation: &str) {
        if path_is_within(name, PRODUCTION_PARAMETER_PATH) {
            self.production_write(ctx, format!("parameter {name}"), operation);
        }
    }

    /// PutParameter; `tags` are given at creation (AWS refuses them with `Overwrite`). The
    /// account is one lock, so of two concurrent creations exactly one succeeds.
    fn put_parameter(
        &mut self,
        ctx: &Ctx,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        overwrite: bool,
        tags: &Tags,
    ) -> CloudResult<String> {
        check_name(name)?;
        if overwrite && !tags.is_empty() {
            return Err(validation("Invalid request: tags and overwrite can't be used together.".into()));
        }
        check_tags(tags, tags.len())?;
        let length = value.expose().chars().count();
        if length == 0 || length > 4096 {
            return Err(validation(format!("Parameter value must be 1 to 4096 characters (got {length}).")));
        }
        self.note_production_parameter(ctx, name, "PutParameter");
        if !self.parameters.contains_key(name) && self.plant_conflict(ctx, "PutParameter") {
            let foreign = Param {
                kind: ParameterKind::String,
                value: "managed-by-another-team".into(),
                version: 1,
                tags: Tags::new(),
                origin: Origin::Foreign,
                writer: session_principal("another-team"),
            };
            self.parameters.insert(name.to_string(), foreign);
            self.foreign(ctx, "parameter", name);
        }
        match self.parameters.get_mut(name) {
            Some(_) if !overwrite => Err(CloudError::new(
                CloudErrorKind::AlreadyExists,
                "ParameterAlreadyExists",
                "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.",
            )),
            Some(existing) => {
                // An overwrite may change the type; tags stay.
                existing.kind = kind;
                existing.value = value.expose().to_string();
                existing.version += 1;
                existing.writer = session_principal(ctx.step);
                Ok(parameter_arn(name))
            }
            None => {
                let param = Param {
                    kind,
                    value: value.expose().to_string(),
                    version: 1,
                    tags: tags.clone(),
                    origin: Origin::Created,
                    writer: session_principal(ctx.step),
                };
                self.parameters.insert(name.to_string(), param);
                self.created(ctx, "parameter", name);
                Ok(parameter_arn(name))
            }
        }
    }

    fn add_parameter_tags(&mut self, ctx: &Ctx, name: &str, tags: &Tags) -> CloudResult<()> {
        self.note_production_parameter(ctx, name, "AddTagsToResource");
        let param = self.parameters.get_mut(name).ok_or_else(|| invalid_resource(name))?;
        let mut merged = param.tags.clone();
        merged.extend(tags.clone());
        check_tags(tags, merged.len())?;
        param.tags = merged;
        Ok(())
    }

    fn delete_parameter(&mut self, ctx: &Ctx, name: &str) -> CloudResult<()> {
        self.note_production_parameter(ctx, name, "DeleteParameter");
        if self.parameters.remove(name).is_none() {
            return Err(CloudError::new(CloudErrorKind::NotFound, "ParameterNotFound", format!("Parameter {name} not found.")));
        }
        self.deleted(ctx, "parameter", name);
        Ok(())
    }
}

impl ParameterStore for SimCloud {
    async fn get_parameter(&self, name: &str) -> CloudResult<Option<Parameter>> {
        self.aws(api("GetParameter"), |w, _| {
            Ok(w.parameters.get(name).map(|p| Parameter {
                name: name.to_string(),
                arn: parameter_arn(name),
                kind: p.kind,
                value: Secret::new(p.value.clone()),
                version: p.version,
            }))
        })
    }

    async fn describe_parameter(&self, name: &str) -> CloudResult<Option<ParameterInfo>> {
        self.aws(api("DescribeParameters"), |w, _| {
            Ok(w.parameters.get(name).map(|p| ParameterInfo {
                name: name.to_string(),
                kind: p.kind,
                version: p.version,
                last_modified_user: Some(p.writer.clone()),
            }))
        })
    }

    async fn put_parameter(&self, name: &str, value: &Secret, kind: ParameterKind, overwrite: bool) -> CloudResult<String> {
        self.aws(api("PutParameter"), |w, ctx| w.put_parameter(ctx, name, value, kind, overwrite, &Tags::new()))
    }

    async fn create_parameter(&self, name: &str, value: &Secret, kind: ParameterKind, tags: &Tags) -> CloudResult<String> {
        self.aws(api("PutParameter"), |w, ctx| w.put_parameter(ctx, name, value, kind, false, tags))
    }

    async fn parameter_tags(&self, name: &str) -> CloudResult<Tags> {
        self.aws(api("ListTagsForResource"), |w, _| w.parameters.get(name).map(|p| p.tags.clone()).ok_or_else(|| invalid_resource(name)))
    }

    async fn add_parameter_tags(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        self.aws(api("AddTagsToResource"), |w, ctx| w.add_parameter_tags(ctx, name, tags))
    }

    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        self.aws(api("DeleteParameter"), |w, ctx| w.delete_parameter(ctx, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arns_and_names() {
        assert_eq!(parameter_arn("/tableicty/staging/X"), "arn:aws:ssm:us-east-1:123456789012:parameter/tableicty/staging/X");
        assert_eq!(parameter_arn("flat"), "arn:aws:ssm:us-east-1:123456789012:parameter/flat");
        assert!(check_name("/tableicty/staging/X").is_ok());
        assert!(check_name("tableicty/staging").is_err());
        assert!(check_name("/aws/reserved").is_err());
        assert_eq!(check_name(&"/a".repeat(16)).unwrap_err().code, "HierarchyLevelLimitExceededException");
    }
}
