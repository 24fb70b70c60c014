//! [`ServiceHost`] for [`AwsCloud`]: each call goes to the backend its ARN, spec or location
//! names, App Runner ([`AppRunner`]) or ECS Express Mode ([`EcsExpress`]).

use crate::apprunner::AppRunner;
use crate::ecs::EcsExpress;
use crate::error::unsupported;
use crate::AwsCloud;
use rehearsal_core::cloud::{
    CloudResult, HostSettings, ServiceBackend, ServiceHost, ServiceInfo, ServiceLocation, ServiceOperation, ServiceSpec,
};
use rehearsal_core::tags::Tags;
use std::collections::BTreeMap;

/// An ARN neither backend claims goes to App Runner, which answers that it names no service.
fn backend_of(arn: &str) -> ServiceBackend {
    ServiceBackend::of_arn(arn).unwrap_or_default()
}

impl AwsCloud {
    fn app_runner(&self) -> AppRunner<'_> {
        AppRunner(&self.apprunner)
    }

    fn ecs_express(&self) -> EcsExpress<'_> {
        EcsExpress(&self.ecs)
    }
}

impl ServiceHost for AwsCloud {
    async fn find_service(&self, name: &str, location: &ServiceLocation) -> CloudResult<Option<ServiceInfo>> {
        match location {
            ServiceLocation::AppRunner => self.app_runner().find_service(name).await,
            ServiceLocation::EcsExpress { cluster } => self.ecs_express().find_service(cluster, name).await,
        }
    }

    async fn describe_service(&self, arn: &str) -> CloudResult<Option<ServiceInfo>> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().describe_service(arn).await,
            ServiceBackend::EcsExpress => self.ecs_express().describe_service(arn).await,
        }
    }

    async fn create_service(&self, spec: &ServiceSpec, tags: &Tags) -> CloudResult<(ServiceInfo, String)> {
        match &spec.host {
            HostSettings::AppRunner(settings) => self.app_runner().create_service(spec, settings, tags).await,
            HostSettings::EcsExpress(settings) => self.ecs_express().create_service(spec, settings, tags).await,
        }
    }

    async fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> CloudResult<String> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().update_service_secrets(arn, secrets).await,
            ServiceBackend::EcsExpress => self.ecs_express().update_service_secrets(arn, secrets).await,
        }
    }

    async fn describe_operation(&self, arn: &str, operation_id: &str) -> CloudResult<Option<ServiceOperation>> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().describe_operation(arn, operation_id).await,
            ServiceBackend::EcsExpress => self.ecs_express().describe_operation(arn, operation_id).await,
        }
    }

    async fn latest_operation(&self, arn: &str) -> CloudResult<Option<ServiceOperation>> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().latest_operation(arn).await,
            ServiceBackend::EcsExpress => self.ecs_express().latest_operation(arn).await,
        }
    }

    async fn delete_service(&self, arn: &str) -> CloudResult<String> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().delete_service(arn).await,
            ServiceBackend::EcsExpress => self.ecs_express().delete_service(arn).await,
        }
    }

    async fn start_deployment(&self, arn: &str) -> CloudResult<String> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().start_deployment(arn).await,
            ServiceBackend::EcsExpress => Err(unsupported(
                "UnsupportedOperation",
                format!("{arn} is an ECS Express service, which runs a pinned image: deploy another with update_service_image"),
            )),
        }
    }

    async fn update_service_image(&self, arn: &str, image_identifier: &str) -> CloudResult<String> {
        match backend_of(arn) {
            ServiceBackend::AppRunner => self.app_runner().update_service_image(arn, image_identifier).await,
            ServiceBackend::EcsExpress => self.ecs_express().update_service_image(arn, image_identifier).await,
        }
    }

    async fn find_vpc_connector(&self, name_or_arn: &str) -> CloudResult<Option<String>> {
        self.app_runner().find_vpc_connector(name_or_arn).await
    }
}
