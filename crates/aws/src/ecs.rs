//! ECS Express Mode as a [`ServiceHost`](rehearsal_core::cloud::ServiceHost) backend: a service
//! from a pinned image with its load balancer, cluster, network and roles; its Parameter Store
//! references as `secrets`; its rollouts as service deployments (canary, rolled back by ECS).
//!
//! ECS has no operation objects, so the operation ids are: the service's ARN for its creation
//! (its first deployment), the target service revision's ARN for an update, and
//! [`ECS_DELETE_OPERATION`] for a deletion (the service draining until `INACTIVE`).

use crate::error::{absent_if_not_found, from_build, from_sdk, unsupported};
use aws_sdk_ecs::types::{
    AccessType, EcsExpressGatewayService, ExpressGatewayContainer, ExpressGatewayServiceConfiguration, ExpressGatewayServiceInclude,
    ExpressGatewayServiceNetworkConfiguration, KeyValuePair, ResourceManagementType, Secret, ServiceDeploymentBrief,
    ServiceDeploymentStatus, Tag,
};
use aws_sdk_ecs::Client;
use rehearsal_core::cloud::{
    CloudResult, EcsExpressSettings, OperationStatus, ReleaseSource, ServiceBackend, ServiceInfo, ServiceOperation, ServiceSpec,
    ServiceStatus, ECS_DELETE_OPERATION,
};
use rehearsal_core::tags::Tags;
use rehearsal_core::{CloudError, CloudErrorKind};
use std::collections::BTreeMap;

/// The kind of every ECS operation but the deletion.
const DEPLOYMENT: &str = "SERVICE_DEPLOYMENT";

fn not_found(arn: &str) -> CloudError {
    CloudError::new(CloudErrorKind::NotFound, "ServiceNotFoundException", format!("no Express service {arn}"))
}

/// The cluster an ECS service ARN names: `arn:…:service/<cluster>/<name>`.
fn cluster_of(arn: &str) -> Option<&str> {
    arn.rsplit('/').nth(1)
}

/// The host an ingress endpoint answers on (ECS may give it with a scheme and a path).
fn host_of(endpoint: &str) -> &str {
    let host = endpoint.split_once("://").map_or(endpoint, |(_, rest)| rest);
    host.split('/').next().unwrap_or(host)
}

/// The configuration the service is (being) deployed to: its newest.
fn newest(service: &EcsExpressGatewayService) -> Option<&ExpressGatewayServiceConfiguration> {
    service.active_configurations().iter().max_by_key(|c| c.created_at().map(|t| (t.secs(), t.subsec_nanos())))
}

/// The public endpoint if there is one, else a private one.
fn endpoint(service: &EcsExpressGatewayService) -> String {
    let paths = || service.active_configurations().iter().flat_map(|c| c.ingress_paths());
    paths()
        .find(|p| p.access_type() == &AccessType::Public)
        .or_else(|| paths().next())
        .map(|p| host_of(p.endpoint()).to_string())
        .unwrap_or_default()
}

fn settings(service: &EcsExpressGatewayService, config: &ExpressGatewayServiceConfiguration) -> EcsExpressSettings {
    let network = config.network_configuration();
    EcsExpressSettings {
        cluster: service.cluster().unwrap_or_default().to_string(),
        subnets: network.map(|n| n.subnets().to_vec()).unwrap_or_default(),
        security_groups: network.map(|n| n.security_groups().to_vec()).unwrap_or_default(),
        execution_role_arn: config.execution_role_arn().unwrap_or_default().to_string(),
        task_role_arn: config.task_role_arn().map(str::to_string),
        infrastructure_role_arn: service.infrastructure_role_arn().unwrap_or_default().to_string(),
    }
}

fn deployment_status(deployment: &ServiceDeploymentBrief) -> CloudResult<OperationStatus> {
    let status = deployment.status().map(ServiceDeploymentStatus::as_str).unwrap_or_default();
    OperationStatus::from_ecs_deployment(status).ok_or_else(|| {
        let arn = deployment.service_deployment_arn().unwrap_or_default();
        unsupported("UnknownDeploymentStatus", format!("service deployment {arn} is {status:?}"))
    })
}

/// The service as the capability types describe it, from DescribeExpressGatewayService and its
/// deployments (oldest first); `tags` when the answer carries none (CreateExpressGatewayService).
fn service_info(service: &EcsExpressGatewayService, deployments: &[ServiceDeploymentBrief], tags: &Tags) -> CloudResult<ServiceInfo> {
    let arn = service.service_arn().unwrap_or_default();
    let host_status = service.status().and_then(|s| s.status_code()).map(|c| c.as_str()).unwrap_or_default();
    let statuses = deployments.iter().map(deployment_status).collect::<CloudResult<Vec<_>>>()?;
    let ever_succeeded = statuses.contains(&OperationStatus::Succeeded);
    let status = ServiceStatus::from_ecs(host_status, statuses.last().copied(), ever_succeeded)
        .ok_or_else(|| unsupported("UnknownServiceStatus", format!("Express service {arn} is {host_status:?}")))?;
    let config = newest(service);
    let container = config.and_then(|c| c.primary_container());
    let answered: Tags =
        service.tags().iter().filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or_default().to_string()))).collect();
    Ok(ServiceInfo {
        arn: arn.to_string(),
        name: service.service_name().unwrap_or_default().to_string(),
        backend: ServiceBackend::EcsExpress,
        url: endpoint(service),
        status,
        host_status: host_status.to_string(),
        source: None,
        build: None,
        image_identifier: container.map(|c| c.image().to_string()),
        instance_role_arn: config.and_then(|c| c.task_role_arn()).map(str::to_string),
        vpc_connector_arn: None,
        ecs: config.map(|c| settings(service, c)),
        secrets: container
            .map(|c| c.secrets().iter().map(|s| (s.name().to_string(), s.value_from().to_string())).collect())
            .unwrap_or_default(),
        tags: if service.tags.is_some() { answered } else { tags.clone() },
    })
}

fn secrets(secrets: &BTreeMap<String, String>) -> CloudResult<Vec<Secret>> {
    secrets.iter().map(|(name, arn)| Secret::builder().name(name).value_from(arn).build().map_err(from_build)).collect()
}

/// The ECS client as a service host; [`AwsCloud`](crate::AwsCloud) sends it what names an ECS
/// service.
pub(crate) struct EcsExpress<'a>(pub(crate) &'a Client);

impl EcsExpress<'_> {
    async fn describe_sdk(&self, arn: &str) -> CloudResult<Option<EcsExpressGatewayService>> {
        let call = self.0.describe_express_gateway_service().service_arn(arn).include(ExpressGatewayServiceInclude::Tags).send().await;
        Ok(absent_if_not_found(call.map_err(from_sdk))?.and_then(|o| o.service))
    }

    /// Every deployment ECS lists for the service, oldest first; `None` when it knows no such
    /// service.
    async fn deployments(&self, arn: &str, cluster: Option<&str>) -> CloudResult<Option<Vec<ServiceDeploymentBrief>>> {
        let mut all = Vec::new();
        let mut next_token = None;
        loop {
            let call = self.0.list_service_deployments().service(arn).set_cluster(cluster.map(str::to_string)).set_next_token(next_token);
            let Some(page) = absent_if_not_found(call.send().await.map_err(from_sdk))? else { return Ok(None) };
            all.extend(page.service_deployments().iter().cloned());
            next_token = page.next_token().map(str::to_string);
            if next_token.is_none() {
                break;
            }
        }
        all.sort_by_key(|d| d.created_at().map(|t| (t.secs(), t.subsec_nanos())));
        Ok(Some(all))
    }

    pub(crate) async fn find_service(&self, cluster: &str, name: &str) -> CloudResult<Option<ServiceInfo>> {
        let mut pages =
            self.0.list_services().cluster(cluster).resource_management_type(ResourceManagementType::Ecs).into_paginator().send();
        while let Some(page) = pages.next().await {
            // No cluster, no service in it.
            let Some(page) = absent_if_not_found(page.map_err(from_sdk))? else { return Ok(None) };
            if let Some(arn) = page.service_arns().iter().find(|arn| arn.rsplit('/').next() == Some(name)) {
                return self.describe_service(arn).await;
            }
        }
        Ok(None)
    }

    pub(crate) async fn describe_service(&self, arn: &str) -> CloudResult<Option<ServiceInfo>> {
        let Some(service) = self.describe_sdk(arn).await? else { return Ok(None) };
        let deployments = self.deployments(arn, service.cluster()).await?.unwrap_or_default();
        service_info(&service, &deployments, &Tags::new()).map(Some)
    }

    pub(crate) async fn create_service(
        &self,
        spec: &ServiceSpec,
        settings: &EcsExpressSettings,
        tags: &Tags,
    ) -> CloudResult<(ServiceInfo, String)> {
        let ReleaseSource::Image(release) = &spec.source else {
            return Err(unsupported("UnsupportedSource", format!("ECS Express runs container images; {} is built from code", spec.name)));
        };
        if release.access_role_arn.is_some() {
            return Err(unsupported(
                "UnsupportedSource",
                "ECS Express pulls the image with the task execution role; an App Runner access role does not apply",
            ));
        }
        let container = ExpressGatewayContainer::builder()
            .image(&release.image)
            .container_port(i32::from(spec.port))
            .set_environment(
                (!spec.environment.is_empty())
                    .then(|| spec.environment.iter().map(|(k, v)| KeyValuePair::builder().name(k).value(v).build()).collect()),
            )
            .set_secrets((!spec.secrets.is_empty()).then(|| secrets(&spec.secrets)).transpose()?)
            .build()
            .map_err(from_build)?;
        let network = ExpressGatewayServiceNetworkConfiguration::builder()
            .set_subnets(Some(settings.subnets.clone()))
            .set_security_groups(Some(settings.security_groups.clone()))
            .build();
        let out = self
            .0
            .create_express_gateway_service()
            .service_name(&spec.name)
            .cluster(&settings.cluster)
            .execution_role_arn(&settings.execution_role_arn)
            .set_task_role_arn(settings.task_role_arn.clone())
            .infrastructure_role_arn(&settings.infrastructure_role_arn)
            .health_check_path(&spec.health_check_path)
            .primary_container(container)
            .network_configuration(network)
            .cpu(&spec.cpu)
            .memory(&spec.memory)
            .set_tags(Some(tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect()))
            .send()
            .await
            .map_err(from_sdk)?;
        let service = out.service().ok_or_else(|| {
            unsupported("MissingInResponse", format!("CreateExpressGatewayService answered no service for {}", spec.name))
        })?;
        let info = service_info(service, &[], tags)?;
        let operation = info.arn.clone();
        Ok((info, operation))
    }

    /// UpdateExpressGatewayService with the newest configuration's primary container as `change`
    /// makes it (everything else stays); answers the service revision it deploys.
    async fn update_container(&self, arn: &str, change: impl FnOnce(&mut ExpressGatewayContainer)) -> CloudResult<String> {
        let service = self.describe_sdk(arn).await?.ok_or_else(|| not_found(arn))?;
        let mut container = newest(&service).and_then(|c| c.primary_container()).cloned().ok_or_else(|| {
            unsupported("UnsupportedServiceConfiguration", format!("{arn} has no configuration with a primary container"))
        })?;
        change(&mut container);
        let out = self.0.update_express_gateway_service().service_arn(arn).primary_container(container).send().await.map_err(from_sdk)?;
        out.service()
            .and_then(|s| s.target_configuration()?.service_revision_arn())
            .map(str::to_string)
            .ok_or_else(|| unsupported("MissingInResponse", format!("UpdateExpressGatewayService answered no target revision for {arn}")))
    }

    pub(crate) async fn update_service_secrets(&self, arn: &str, new: &BTreeMap<String, String>) -> CloudResult<String> {
        let new = secrets(new)?;
        self.update_container(arn, |container| container.secrets = Some(new)).await
    }

    pub(crate) async fn update_service_image(&self, arn: &str, image: &str) -> CloudResult<String> {
        self.update_container(arn, |container| container.image = image.to_string()).await
    }

    pub(crate) async fn describe_operation(&self, arn: &str, operation_id: &str) -> CloudResult<Option<ServiceOperation>> {
        let operation = |status: OperationStatus, host_status: &str, kind: &str| ServiceOperation {
            id: operation_id.to_string(),
            kind: kind.to_string(),
            status,
            host_status: host_status.to_string(),
        };
        if operation_id == ECS_DELETE_OPERATION {
            let Some(service) = self.describe_sdk(arn).await? else { return Ok(None) };
            return Ok(match service.status().and_then(|s| s.status_code()).map(|c| c.as_str()) {
                Some(status @ "DRAINING") => Some(operation(OperationStatus::InProgress, status, ECS_DELETE_OPERATION)),
                Some(status @ "INACTIVE") => Some(operation(OperationStatus::Succeeded, status, ECS_DELETE_OPERATION)),
                // Not being deleted.
                _ => None,
            });
        }
        let Some(deployments) = self.deployments(arn, cluster_of(arn)).await? else { return Ok(None) };
        let deployment = if operation_id == arn {
            deployments.first()
        } else {
            deployments.iter().find(|d| d.target_service_revision_arn() == Some(operation_id))
        };
        Ok(Some(match deployment {
            Some(d) => operation(deployment_status(d)?, d.status().map(ServiceDeploymentStatus::as_str).unwrap_or_default(), DEPLOYMENT),
            None => operation(OperationStatus::Pending, "PENDING", DEPLOYMENT),
        }))
    }

    /// The newest deployment, named by the revision it deploys.
    pub(crate) async fn latest_operation(&self, arn: &str) -> CloudResult<Option<ServiceOperation>> {
        let Some(deployments) = self.deployments(arn, cluster_of(arn)).await? else { return Ok(None) };
        let Some(newest) = deployments.last() else { return Ok(None) };
        Ok(Some(ServiceOperation {
            id: newest.target_service_revision_arn().unwrap_or_default().to_string(),
            kind: DEPLOYMENT.to_string(),
            status: deployment_status(newest)?,
            host_status: newest.status().map(ServiceDeploymentStatus::as_str).unwrap_or_default().to_string(),
        }))
    }

    pub(crate) async fn delete_service(&self, arn: &str) -> CloudResult<String> {
        self.0.delete_express_gateway_service().service_arn(arn).send().await.map_err(from_sdk)?;
        Ok(ECS_DELETE_OPERATION.to_string())
    }
}
