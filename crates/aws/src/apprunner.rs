//! App Runner as a [`ServiceHost`](rehearsal_core::cloud::ServiceHost) backend: the staging
//! service built from the production repository or from a pinned ECR image, its Parameter Store
//! references, its operations and its VPC connector.

use crate::error::{absent_if_not_found, from_build, from_sdk, unsupported};
use aws_sdk_apprunner::types::{
    AuthenticationConfiguration, CodeConfiguration, CodeConfigurationValues, CodeRepository, ConfigurationSource, EgressConfiguration,
    EgressType, HealthCheckConfiguration, HealthCheckProtocol, ImageConfiguration, ImageRepository, ImageRepositoryType,
    InstanceConfiguration, NetworkConfiguration, Runtime, Service, ServiceStatus, SourceCodeVersion, SourceCodeVersionType,
    SourceConfiguration, Tag, VpcConnectorStatus,
};
use aws_sdk_apprunner::Client;
use rehearsal_core::cloud::{
    AppRunnerSettings, CloudResult, CodeBuild, ImageRelease, OperationStatus, ReleaseSource, ServiceBackend, ServiceInfo, ServiceOperation,
    ServiceSource, ServiceSpec,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::{BTreeMap, HashMap};

fn non_empty(map: &BTreeMap<String, String>) -> Option<HashMap<String, String>> {
    (!map.is_empty()).then(|| map.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
}

fn source_of(config: &SourceConfiguration) -> Option<ServiceSource> {
    let repo = config.code_repository()?;
    Some(ServiceSource {
        repository_url: repo.repository_url().to_string(),
        branch: repo.source_code_version()?.value().to_string(),
        connection_arn: config.authentication_configuration()?.connection_arn()?.to_string(),
    })
}

/// The build and start configured through the API; `None` when App Runner reads apprunner.yaml.
fn build_of(config: &SourceConfiguration) -> Option<CodeBuild> {
    let code = config.code_repository()?.code_configuration()?;
    if code.configuration_source() != &ConfigurationSource::Api {
        return None;
    }
    let values = code.code_configuration_values()?;
    Some(CodeBuild {
        runtime: values.runtime().as_str().to_string(),
        build_command: values.build_command()?.to_string(),
        start_command: values.start_command()?.to_string(),
    })
}

fn secrets_of(config: &SourceConfiguration) -> BTreeMap<String, String> {
    let code = config.code_repository().and_then(|r| r.code_configuration()?.code_configuration_values()?.runtime_environment_secrets());
    let image = config.image_repository().and_then(|r| r.image_configuration()?.runtime_environment_secrets());
    code.or(image).map(|s| s.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default()
}

fn service_info(service: &Service, tags: Tags) -> CloudResult<ServiceInfo> {
    let source = service.source_configuration();
    let host_status = service.status().as_str();
    let status = rehearsal_core::cloud::ServiceStatus::from_app_runner(host_status)
        .ok_or_else(|| unsupported("UnknownServiceStatus", format!("{} is {host_status}", service.service_arn())))?;
    Ok(ServiceInfo {
        arn: service.service_arn().to_string(),
        name: service.service_name().to_string(),
        backend: ServiceBackend::AppRunner,
        url: service.service_url().unwrap_or_default().to_string(),
        status,
        host_status: host_status.to_string(),
        source: source.and_then(source_of),
        build: source.and_then(build_of),
        image_identifier: source.and_then(|s| s.image_repository()).map(|r| r.image_identifier().to_string()),
        instance_role_arn: service.instance_configuration().and_then(|i| i.instance_role_arn()).map(str::to_string),
        vpc_connector_arn: service.network_configuration().and_then(|n| n.egress_configuration()?.vpc_connector_arn()).map(str::to_string),
        ecs: None,
        secrets: source.map(secrets_of).unwrap_or_default(),
        tags,
    })
}

/// The described source configuration with its Parameter Store references replaced; everything
/// else (repository, branch, connection, build, port, plain variables) is kept as it is.
fn with_secrets(mut config: SourceConfiguration, secrets: &BTreeMap<String, String>) -> CloudResult<SourceConfiguration> {
    let secrets: HashMap<String, String> = secrets.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if let Some(repo) = config.code_repository.as_mut() {
        match repo.code_configuration.as_mut() {
            Some(CodeConfiguration { configuration_source: ConfigurationSource::Api, code_configuration_values: Some(values), .. }) => {
                values.runtime_environment_secrets = Some(secrets);
            }
            // With REPOSITORY, App Runner reads apprunner.yaml and ignores values set through the API.
            _ => {
                return Err(unsupported(
                    "UnsupportedSourceConfiguration",
                    "the service reads its configuration from apprunner.yaml; its secrets cannot be replaced through the API",
                ))
            }
        }
    } else if let Some(image) = config.image_repository.as_mut() {
        image.image_configuration.get_or_insert_with(|| ImageConfiguration::builder().build()).runtime_environment_secrets = Some(secrets);
    } else {
        return Err(unsupported("UnsupportedSourceConfiguration", "the service has neither a code nor an image repository"));
    }
    Ok(config)
}

fn code_source(
    spec: &ServiceSpec,
    repository: &ServiceSource,
    build: &CodeBuild,
    auto_deployments: bool,
) -> CloudResult<SourceConfiguration> {
    // Configuration source API: App Runner ignores the repository's apprunner.yaml, so the
    // staging Parameter Store references set here are the ones the service gets.
    let values = CodeConfigurationValues::builder()
        .runtime(Runtime::from(build.runtime.as_str()))
        .build_command(&build.build_command)
        .start_command(&build.start_command)
        .port(spec.port.to_string())
        .set_runtime_environment_variables(non_empty(&spec.environment))
        .set_runtime_environment_secrets(non_empty(&spec.secrets))
        .build()
        .map_err(from_build)?;
    let repository_config = CodeRepository::builder()
        .repository_url(&repository.repository_url)
        .source_code_version(
            SourceCodeVersion::builder().r#type(SourceCodeVersionType::Branch).value(&repository.branch).build().map_err(from_build)?,
        )
        .code_configuration(
            CodeConfiguration::builder()
                .configuration_source(ConfigurationSource::Api)
                .code_configuration_values(values)
                .build()
                .map_err(from_build)?,
        )
        .build()
        .map_err(from_build)?;
    Ok(SourceConfiguration::builder()
        .code_repository(repository_config)
        .auto_deployments_enabled(auto_deployments)
        .authentication_configuration(AuthenticationConfiguration::builder().connection_arn(&repository.connection_arn).build())
        .build())
}

fn image_source(spec: &ServiceSpec, release: &ImageRelease) -> CloudResult<SourceConfiguration> {
    let configuration = ImageConfiguration::builder()
        .port(spec.port.to_string())
        .set_runtime_environment_variables(non_empty(&spec.environment))
        .set_runtime_environment_secrets(non_empty(&spec.secrets))
        .build();
    let repository = ImageRepository::builder()
        .image_identifier(&release.image)
        .image_repository_type(ImageRepositoryType::Ecr)
        .image_configuration(configuration)
        .build()
        .map_err(from_build)?;
    Ok(SourceConfiguration::builder()
        .image_repository(repository)
        // The image is pinned by digest: nothing to watch.
        .auto_deployments_enabled(false)
        .set_authentication_configuration(
            release.access_role_arn.as_ref().map(|role| AuthenticationConfiguration::builder().access_role_arn(role).build()),
        )
        .build())
}

/// The App Runner client as a service host; [`AwsCloud`](crate::AwsCloud) sends it what names
/// an App Runner service.
pub(crate) struct AppRunner<'a>(pub(crate) &'a Client);

impl AppRunner<'_> {
    /// The service as DescribeService answers it; `None` when it does not exist.
    async fn describe_sdk(&self, arn: &str) -> CloudResult<Option<Service>> {
        let out = absent_if_not_found(self.0.describe_service().service_arn(arn).send().await.map_err(from_sdk))?;
        Ok(out.and_then(|o| o.service))
    }

    pub(crate) async fn find_service(&self, name: &str) -> CloudResult<Option<ServiceInfo>> {
        let mut pages = self.0.list_services().into_paginator().send();
        let mut found = None;
        while let Some(page) = pages.next().await {
            let page = page.map_err(from_sdk)?;
            for summary in page.service_summary_list() {
                if summary.service_name() == Some(name) {
                    let deleted = summary.status() == Some(&ServiceStatus::Deleted);
                    // A deleted service may still be listed next to a live one of the same name.
                    if found.is_none() || !deleted {
                        found = summary.service_arn().map(str::to_string);
                    }
                }
            }
        }
        match found {
            Some(arn) => self.describe_service(&arn).await,
            None => Ok(None),
        }
    }

    pub(crate) async fn describe_service(&self, arn: &str) -> CloudResult<Option<ServiceInfo>> {
        let Some(service) = self.describe_sdk(arn).await? else { return Ok(None) };
        // A service deleted between the two calls is as absent as one never created.
        let Some(tags) = absent_if_not_found(self.0.list_tags_for_resource().resource_arn(arn).send().await.map_err(from_sdk))? else {
            return Ok(None);
        };
        let tags = tags.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect();
        service_info(&service, tags).map(Some)
    }

    pub(crate) async fn create_service(
        &self,
        spec: &ServiceSpec,
        settings: &AppRunnerSettings,
        tags: &Tags,
    ) -> CloudResult<(ServiceInfo, String)> {
        let source = match &spec.source {
            ReleaseSource::Code { repository, build, auto_deployments } => code_source(spec, repository, build, *auto_deployments)?,
            ReleaseSource::Image(release) => image_source(spec, release)?,
        };
        let egress = EgressConfiguration::builder().egress_type(EgressType::Vpc).vpc_connector_arn(&settings.vpc_connector_arn).build();
        let out = self
            .0
            .create_service()
            .service_name(&spec.name)
            .source_configuration(source)
            .instance_configuration(
                InstanceConfiguration::builder().cpu(&spec.cpu).memory(&spec.memory).instance_role_arn(&settings.instance_role_arn).build(),
            )
            .network_configuration(NetworkConfiguration::builder().egress_configuration(egress).build())
            .health_check_configuration(
                HealthCheckConfiguration::builder().protocol(HealthCheckProtocol::Http).path(&spec.health_check_path).build(),
            )
            .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .send()
            .await
            .map_err(from_sdk)?;
        let service = out
            .service()
            .ok_or_else(|| unsupported("MissingInResponse", format!("CreateService answered no service for {}", spec.name)))?;
        // CreateService does not echo tags; they were applied by this same call.
        Ok((service_info(service, tags.clone())?, out.operation_id().to_string()))
    }

    pub(crate) async fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> CloudResult<String> {
        let not_found = || CloudError::new(CloudErrorKind::NotFound, "ResourceNotFoundException", format!("no service {arn}"));
        let service = self.describe_sdk(arn).await?.ok_or_else(not_found)?;
        let source = service
            .source_configuration
            .ok_or_else(|| unsupported("UnsupportedSourceConfiguration", format!("{arn} has no source configuration")))?;
        let out =
            self.0.update_service().service_arn(arn).source_configuration(with_secrets(source, secrets)?).send().await.map_err(from_sdk)?;
        Ok(out.operation_id().to_string())
    }

    pub(crate) async fn describe_operation(&self, arn: &str, operation_id: &str) -> CloudResult<Option<ServiceOperation>> {
        let mut pages = self.0.list_operations().service_arn(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            let Some(page) = absent_if_not_found(page.map_err(from_sdk))? else { return Ok(None) };
            if let Some(op) = page.operation_summary_list().iter().find(|op| op.id() == Some(operation_id)) {
                return service_operation(op).map(Some);
            }
        }
        Ok(None)
    }

    /// ListOperations answers the last started operation first.
    pub(crate) async fn latest_operation(&self, arn: &str) -> CloudResult<Option<ServiceOperation>> {
        let Some(page) = absent_if_not_found(self.0.list_operations().service_arn(arn).max_results(1).send().await.map_err(from_sdk))?
        else {
            return Ok(None);
        };
        page.operation_summary_list().first().map(service_operation).transpose()
    }

    pub(crate) async fn delete_service(&self, arn: &str) -> CloudResult<String> {
        let out = self.0.delete_service().service_arn(arn).send().await.map_err(from_sdk)?;
        Ok(out.operation_id().to_string())
    }

    pub(crate) async fn start_deployment(&self, arn: &str) -> CloudResult<String> {
        let out = self.0.start_deployment().service_arn(arn).send().await.map_err(from_sdk)?;
        Ok(out.operation_id().to_string())
    }

    pub(crate) async fn update_service_image(&self, arn: &str, image_identifier: &str) -> CloudResult<String> {
        let not_found = || CloudError::new(CloudErrorKind::NotFound, "ResourceNotFoundException", format!("no service {arn}"));
        let service = self.describe_sdk(arn).await?.ok_or_else(not_found)?;
        let mut source = service
            .source_configuration
            .ok_or_else(|| unsupported("UnsupportedSourceConfiguration", format!("{arn} has no source configuration")))?;
        // Only the identifier changes: port, variables and secrets stay as configured.
        let image = source
            .image_repository
            .as_mut()
            .ok_or_else(|| unsupported("UnsupportedSourceConfiguration", format!("{arn} is built from source code, not an image")))?;
        image.image_identifier = image_identifier.to_string();
        let out = self.0.update_service().service_arn(arn).source_configuration(source).send().await.map_err(from_sdk)?;
        Ok(out.operation_id().to_string())
    }

    pub(crate) async fn find_vpc_connector(&self, name_or_arn: &str) -> CloudResult<Option<String>> {
        let mut pages = self.0.list_vpc_connectors().into_paginator().send();
        // Each change makes a new revision under the same name; the live one is the newest ACTIVE.
        let mut best: Option<(i32, String)> = None;
        while let Some(page) = pages.next().await {
            for c in page.map_err(from_sdk)?.vpc_connectors() {
                let matches = c.vpc_connector_arn() == Some(name_or_arn) || c.vpc_connector_name() == Some(name_or_arn);
                if matches
                    && c.status() == Some(&VpcConnectorStatus::Active)
                    && best.as_ref().is_none_or(|(r, _)| c.vpc_connector_revision() > *r)
                {
                    if let Some(arn) = c.vpc_connector_arn() {
                        best = Some((c.vpc_connector_revision(), arn.to_string()));
                    }
                }
            }
        }
        Ok(best.map(|(_, arn)| arn))
    }
}

fn service_operation(op: &aws_sdk_apprunner::types::OperationSummary) -> CloudResult<ServiceOperation> {
    let id = op.id().unwrap_or_default();
    let host_status = op.status().map(|s| s.as_str()).unwrap_or_default();
    let status = OperationStatus::from_app_runner(host_status)
        .ok_or_else(|| unsupported("UnknownOperationStatus", format!("operation {id} is {host_status:?}")))?;
    Ok(ServiceOperation {
        id: id.to_string(),
        kind: op.r#type().map(|t| t.as_str()).unwrap_or_default().to_string(),
        status,
        host_status: host_status.to_string(),
    })
}
