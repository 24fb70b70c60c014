//! SSM Parameter Store: read with decryption, describe (no value), write, tag, delete. Values only ever travel inside
//! [`Secret`]; an error that quotes a value has it masked before it leaves this module.

use crate::error::{absent_if_not_found, from_sdk, unsupported};
use crate::AwsCloud;
use aws_sdk_ssm::types::{ParameterStringFilter, ParameterType, ResourceTypeForTagging, Tag};
use rehearsal_core::cloud::{CloudResult, Parameter, ParameterInfo, ParameterKind, ParameterStore};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, Secret};

fn kind_of(name: &str, t: Option<&ParameterType>) -> CloudResult<ParameterKind> {
    match t {
        Some(ParameterType::SecureString) => Ok(ParameterKind::SecureString),
        Some(ParameterType::String) => Ok(ParameterKind::String),
        other => Err(unsupported(
            "UnsupportedParameterType",
            format!("{name} is of type {}; only String and SecureString are supported", other.map_or("unknown", |t| t.as_str())),
        )),
    }
}

fn parameter_type(kind: ParameterKind) -> ParameterType {
    match kind {
        ParameterKind::String => ParameterType::String,
        ParameterKind::SecureString => ParameterType::SecureString,
    }
}

fn sdk_tags(tags: &Tags) -> CloudResult<Vec<Tag>> {
    tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build().map_err(crate::error::from_build)).collect()
}

/// Masks the value wherever the service quoted it (validation messages can echo input).
fn masked(mut err: CloudError, value: &Secret) -> CloudError {
    if !value.expose().is_empty() {
        err.message = err.message.replace(value.expose(), "***");
    }
    err
}

impl ParameterStore for AwsCloud {
    async fn get_parameter(&self, name: &str) -> CloudResult<Option<Parameter>> {
        let out = absent_if_not_found(self.ssm.get_parameter().name(name).with_decryption(true).send().await.map_err(from_sdk))?;
        let Some(p) = out.as_ref().and_then(|o| o.parameter()) else { return Ok(None) };
        Ok(Some(Parameter {
            name: p.name().unwrap_or(name).to_string(),
            arn: p.arn().unwrap_or_default().to_string(),
            kind: kind_of(name, p.r#type())?,
            value: Secret::new(p.value().unwrap_or_default()),
            version: u64::try_from(p.version()).unwrap_or_default(),
        }))
    }

    async fn describe_parameter(&self, name: &str) -> CloudResult<Option<ParameterInfo>> {
        let filter =
            ParameterStringFilter::builder().key("Name").option("Equals").values(name).build().map_err(crate::error::from_build)?;
        // A filtered page may be empty and still carry a NextToken: follow it.
        let mut token = None;
        let p = loop {
            let out =
                self.ssm.describe_parameters().parameter_filters(filter.clone()).set_next_token(token).send().await.map_err(from_sdk)?;
            if let Some(p) = out.parameters().iter().find(|p| p.name() == Some(name)) {
                break p.clone();
            }
            match out.next_token() {
                Some(next) => token = Some(next.to_string()),
                None => return Ok(None),
            }
        };
        Ok(Some(ParameterInfo {
            name: name.to_string(),
            kind: kind_of(name, p.r#type())?,
            version: u64::try_from(p.version()).unwrap_or_default(),
            last_modified_user: p.last_modified_user().map(str::to_string),
        }))
    }

    async fn put_parameter(&self, name: &str, value: &Secret, kind: ParameterKind, overwrite: bool) -> CloudResult<String> {
        self.write_parameter(name, value, kind, overwrite, None).await
    }

    async fn create_parameter(&self, name: &str, value: &Secret, kind: ParameterKind, tags: &Tags) -> CloudResult<String> {
        self.write_parameter(name, value, kind, false, Some(sdk_tags(tags)?)).await
    }

    async fn parameter_tags(&self, name: &str) -> CloudResult<Tags> {
        let out = self
            .ssm
            .list_tags_for_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(out.tag_list().iter().map(|t| (t.key().to_string(), t.value().to_string())).collect())
    }

    async fn add_parameter_tags(&self, name: &str, tags: &Tags) -> CloudResult<()> {
        let tags = sdk_tags(tags)?;
        self.ssm
            .add_tags_to_resource()
            .resource_type(ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(from_sdk)?;
        Ok(())
    }

    async fn delete_parameter(&self, name: &str) -> CloudResult<()> {
        self.ssm.delete_parameter().name(name).send().await.map_err(from_sdk)?;
        Ok(())
    }
}

impl AwsCloud {
    /// PutParameter (tags only on a creation: AWS refuses them with an overwrite), answering the
    /// stored parameter's ARN.
    async fn write_parameter(
        &self,
        name: &str,
        value: &Secret,
        kind: ParameterKind,
        overwrite: bool,
        tags: Option<Vec<Tag>>,
    ) -> CloudResult<String> {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value.expose())
            .r#type(parameter_type(kind))
            .overwrite(overwrite)
            .set_tags(tags)
            .send()
            .await
            .map_err(|e| masked(from_sdk(e), value))?;
        self.parameter_arn(name).await
    }

    /// PutParameter answers only the version; the ARN (which the services reference) comes from
    /// a read without decryption, so the value is not fetched back.
    async fn parameter_arn(&self, name: &str) -> CloudResult<String> {
        let out = self.ssm.get_parameter().name(name).with_decryption(false).send().await.map_err(from_sdk)?;
        out.parameter()
            .and_then(|p| p.arn())
            .map(str::to_string)
            .ok_or_else(|| unsupported("MissingInResponse", format!("GetParameter answered no ARN for {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rehearsal_core::CloudErrorKind;

    #[test]
    fn quoted_values_are_masked() {
        let err = CloudError::new(CloudErrorKind::Fatal, "ValidationException", "Value 'sk_test_1' at 'value' failed");
        assert_eq!(masked(err, &Secret::new("sk_test_1")).message, "Value '***' at 'value' failed");
    }
}
