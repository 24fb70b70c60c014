//! [`ServiceHost`] for [`SimCloud`]: each call goes to the backend its ARN, spec or location
//! names, the simulated App Runner ([`crate::apprunner`]) or ECS Express Mode ([`crate::ecs`]).

use crate::account::SimCloud;
use crate::apprunner::{api as apprunner, describe, operation};
use crate::ecs::api as ecs;
use rehearsal_core::cloud::{
    CloudResult, HostSettings, ServiceBackend, ServiceHost, ServiceInfo, ServiceLocation, ServiceOperation, ServiceSpec,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;

fn is_ecs(arn: &str) -> bool {
    ServiceBackend::of_arn(arn) == Some(ServiceBackend::EcsExpress)
}

impl ServiceHost for SimCloud {
    async fn find_service(&self, name: &str, location: &ServiceLocation) -> CloudResult<Option<ServiceInfo>> {
        match location {
            ServiceLocation::AppRunner => {
                self.aws(apprunner("ListServices"), |w, ctx| Ok(w.service_named(name, ctx.now).map(|s| describe(&w.services[s], ctx.now))))
            }
            ServiceLocation::EcsExpress { cluster } => {
                self.aws(ecs("ListServices"), |w, ctx| Ok(w.express_named(cluster, name, ctx.now).map(|s| w.describe_express(s, ctx.now))))
            }
        }
    }

    async fn describe_service(&self, arn: &str) -> CloudResult<Option<ServiceInfo>> {
        if is_ecs(arn) {
            return self.aws(ecs("DescribeExpressGatewayService"), |w, ctx| Ok(w.express_by_arn(arn, ctx.now)));
        }
        self.aws(apprunner("DescribeService"), |w, ctx| Ok(w.service_by_arn(arn).map(|s| describe(&w.services[s], ctx.now))))
    }

    async fn create_service(&self, spec: &ServiceSpec, tags: &Tags) -> CloudResult<(ServiceInfo, String)> {
        match &spec.host {
            HostSettings::AppRunner(settings) => self.aws(apprunner("CreateService"), |w, ctx| w.create_service(ctx, spec, settings, tags)),
            HostSettings::EcsExpress(settings) => {
                self.aws(ecs("CreateExpressGatewayService"), |w, ctx| w.create_express_service(ctx, spec, settings, tags))
            }
        }
    }

    async fn update_service_secrets(&self, arn: &str, secrets: &BTreeMap<String, String>) -> CloudResult<String> {
        if is_ecs(arn) {
            return self.aws(ecs("UpdateExpressGatewayService"), |w, ctx| w.update_express_secrets(ctx, arn, secrets));
        }
        self.aws(apprunner("UpdateService"), |w, ctx| w.update_service_secrets(ctx, arn, secrets))
    }

    async fn describe_operation(&self, arn: &str, operation_id: &str) -> CloudResult<Option<ServiceOperation>> {
        if is_ecs(arn) {
            return self.aws(ecs("ListServiceDeployments"), |w, ctx| Ok(w.express_operation(arn, operation_id, ctx.now)));
        }
        self.aws(apprunner("ListOperations"), |w, ctx| {
            let Some(service) = w.service_by_arn(arn).map(|s| &w.services[s]) else { return Ok(None) };
            Ok(service.operations.iter().find(|op| op.id == operation_id).map(|op| operation(op, ctx.now)))
        })
    }

    async fn latest_operation(&self, arn: &str) -> CloudResult<Option<ServiceOperation>> {
        if is_ecs(arn) {
            return self.aws(ecs("ListServiceDeployments"), |w, ctx| Ok(w.latest_express_operation(arn, ctx.now)));
        }
        self.aws(apprunner("ListOperations"), |w, ctx| {
            let Some(service) = w.service_by_arn(arn).map(|s| &w.services[s]) else { return Ok(None) };
            Ok(service.operations.last().map(|op| operation(op, ctx.now)))
        })
    }

    async fn delete_service(&self, arn: &str) -> CloudResult<String> {
        if is_ecs(arn) {
            return self.aws(ecs("DeleteExpressGatewayService"), |w, ctx| w.delete_express_service(ctx, arn));
        }
        self.aws(apprunner("DeleteService"), |w, ctx| w.delete_service(ctx, arn))
    }

    async fn start_deployment(&self, arn: &str) -> CloudResult<String> {
        if is_ecs(arn) {
            // What the SDK adapter answers: ECS Express has no such call.
            return Err(CloudError::new(
                CloudErrorKind::Fatal,
                "UnsupportedOperation",
                format!("{arn} is an ECS Express service, which runs a pinned image: deploy another with update_service_image"),
            ));
        }
        self.aws(apprunner("StartDeployment"), |w, ctx| w.start_deployment(ctx, arn))
    }

    async fn update_service_image(&self, arn: &str, image_identifier: &str) -> CloudResult<String> {
        if is_ecs(arn) {
            return self.aws(ecs("UpdateExpressGatewayService"), |w, ctx| w.update_express_image(ctx, arn, image_identifier));
        }
        self.aws(apprunner("UpdateService"), |w, ctx| w.update_service_image(ctx, arn, image_identifier))
    }

    async fn find_vpc_connector(&self, name_or_arn: &str) -> CloudResult<Option<String>> {
        self.aws(apprunner("ListVpcConnectors"), |w, _| {
            Ok(w.vpc_connectors.iter().find(|(name, arn)| *name == name_or_arn || *arn == name_or_arn).map(|(_, arn)| arn.clone()))
        })
    }
}
