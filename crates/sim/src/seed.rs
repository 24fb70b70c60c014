//! The production stack the account starts with, as the runbook describes it (us-east-1,
//! account 123456789012). Identifiers are public constants; secret values are only readable
//! through Parameter Store, like in a real account.

use crate::app::BACKFILL_TOKEN_PARAMETER_VARIABLE;
use crate::apprunner::{Deployment, OpKind, Operation, Service};
use crate::database::Database;
use crate::rds::{Instance, Lifecycle};
use crate::ssm::{session_principal, Param};
use crate::world::{Origin, World};
use chrono::{DateTime, Utc};
use rehearsal_core::cloud::{CodeBuild, DbStorage, ParameterKind, ServiceSource};
use rehearsal_core::steps::plan_rehearsal::{EcsStackSettings, StackSettings};
use rehearsal_core::tags::Tags;
use std::collections::{BTreeMap, BTreeSet};

pub const ACCOUNT_ID: &str = "123456789012";
pub const REGION: &str = "us-east-1";
/// The per-account part of every RDS endpoint in the region.
pub const RDS_ENDPOINT_SUFFIX: &str = "c9akciq32.us-east-1.rds.amazonaws.com";
pub const APP_RUNNER_DOMAIN: &str = "us-east-1.awsapprunner.com";

pub const PRODUCTION_DB: &str = "tableicty-production-db";
pub const PRODUCTION_DB_ENDPOINT: &str = "tableicty-production-db.c9akciq32.us-east-1.rds.amazonaws.com";
pub const PRODUCTION_DB_CLASS: &str = "db.t3.small";
/// Production's allocated storage (gp3), which its restored copies get.
pub const PRODUCTION_DB_STORAGE_GB: u32 = 50;
pub const DB_PORT: u16 = 5432;
/// The Aurora cluster of an Aurora production (`SimAccount::make_production_aurora`), whose
/// writer is [`PRODUCTION_DB`].
pub const PRODUCTION_DB_CLUSTER: &str = "tableicty-production-cluster";
/// An Aurora production's cluster parameter group and its writer's DB parameter group.
pub const PRODUCTION_CLUSTER_PARAMETER_GROUP: &str = "tableicty-aurora-postgresql15-cluster";
pub const PRODUCTION_AURORA_PARAMETER_GROUP: &str = "tableicty-aurora-postgresql15";
pub const DB_SUBNET_GROUP: &str = "tableicty-db-subnets";
pub const DB_SECURITY_GROUP: &str = "sg-0a1b2c3d4e5f60718";
pub const DATABASE_NAME: &str = "tableicty";
pub const DB_MASTER_USER: &str = "tableicty";

pub const PRODUCTION_PARAMETER_PATH: &str = "/tableicty/production/";
pub const STRIPE_TEST_PARAMETER_PATH: &str = "/tableicty/rehearsal/";
pub const TEST_ADMIN_PASSWORD_PARAMETER: &str = "/tableicty/rehearsal/TEST_ADMIN_PASSWORD";
pub const TEST_ADMIN_EMAIL: &str = "testadmin@tableicty.com";

pub const PRODUCTION_SERVICE: &str = "tableicty-backend";
/// The runbook's production frontend bucket (versioned, as a deployment pipeline keeps it).
pub const PRODUCTION_FRONTEND_BUCKET: &str = "tableicty-frontend";
/// Production's frontend build: a login form, a billing page, their assets and the runtime
/// configuration the pages read the API's URL from.
pub const PRODUCTION_FRONTEND: [(&str, &str, &str); 6] = [
    ("index.html", "text/html", "<!doctype html><title>tableicty</title><script src=\"/assets/app.js\"></script><a href=\"/login.html\">Log in</a>"),
    ("login.html", "text/html", "<!doctype html><form id=\"login\"><input name=\"email\" type=\"email\"><input name=\"password\" type=\"password\"><button>Log in</button></form><script src=\"/assets/app.js\"></script>"),
    ("billing.html", "text/html", "<!doctype html><section id=\"billing\"><h1>Billing</h1><div id=\"subscription\"></div></section><script src=\"/assets/app.js\"></script>"),
    ("assets/app.js", "application/javascript", "fetch('/config.json').then(r => r.json()).then(c => { window.API_URL = c.apiUrl; });"),
    ("assets/app.css", "text/css", "body { font-family: sans-serif; }"),
    ("config.json", "application/json", "{\"apiUrl\": \"https://api.tableicty.com\", \"stripePublishableKey\": \"pk_live_51NqTbLivePublishable\"}"),
];
pub const PRODUCTION_SERVICE_ARN: &str =
    "arn:aws:apprunner:us-east-1:123456789012:service/tableicty-backend/5f0c2e7a9b1d4c3e8f6a2b9d0c7e1f34";
pub const PRODUCTION_SERVICE_URL: &str = "mx3p7kq2vd.us-east-1.awsapprunner.com";
pub const REPOSITORY_URL: &str = "https://github.com/tableicty/tableicty-backend";
pub const CONNECTION_ARN: &str = "arn:aws:apprunner:us-east-1:123456789012:connection/tableicty-github/0c9f1e2d3b4a49587a6b5c4d3e2f1a0b";
/// Production's App Runner instance role: reads the production path.
pub const INSTANCE_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/tableicty-apprunner-instance";
/// The staging service's instance role, which the SAM template creates: reads only the staging path.
pub const STAGING_INSTANCE_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/rehearsal-staging-instance";
pub const VPC_CONNECTOR: &str = "tableicty-vpc-connector";
pub const VPC_CONNECTOR_ARN: &str =
    "arn:aws:apprunner:us-east-1:123456789012:vpcconnector/tableicty-vpc-connector/1/3a8e5c1f7b2d4e6f9a0b1c2d3e4f5a6b";
/// Scheduler groups: `default`, and `rehearsal`, which the SAM template creates.
pub const SCHEDULE_GROUPS: [&str; 2] = ["default", "rehearsal"];
/// The SNS topic the SAM template creates for the state machines' alerts.
pub const ALERT_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:rehearsal-alerts";
/// For [`SimAccount::deploy_production_from_image`](crate::SimAccount::deploy_production_from_image):
/// the image of the release production runs, and the image of the multi-tenancy release.
pub const PRODUCTION_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend:release-41";
pub const RELEASE_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/tableicty-backend:release-42";

/// The app's ECR repository: `release-41` (what production runs), `release-42` (the
/// multi-tenancy release, also tagged `latest`). [`SimAccount::push_image`](crate::SimAccount::push_image)
/// moves a tag to a new build.
pub const ECR_REGISTRY: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
pub const ECR_REPOSITORY: &str = "tableicty-backend";
pub const PRODUCTION_IMAGE_TAG: &str = "release-41";
pub const RELEASE_IMAGE_TAG: &str = "release-42";
pub const PRODUCTION_IMAGE_DIGEST: &str = "sha256:5d1e8a0c3f7b2946e1a8c0d5f3b7e2a9c4d6f8b0a1e3c5d7f9b2a4c6e8d0f1a3";
pub const RELEASE_IMAGE_DIGEST: &str = "sha256:9a3c5e7f1b2d4f6a8c0e2b4d6f8a1c3e5b7d9f0a2c4e6b8d1f3a5c7e9b0d2f4a";
/// The role App Runner pulls the private images with.
pub const ECR_ACCESS_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/service-role/AppRunnerECRAccessRole";

/// ECS Express Mode: the cluster, the VPC's private subnets and the app's security group.
pub const ECS_CLUSTER: &str = "tableicty";
pub const ECS_SUBNETS: [&str; 2] = ["subnet-0c1d2e3f4a5b60711", "subnet-0c1d2e3f4a5b60722"];
pub const APP_SECURITY_GROUP: &str = "sg-0f1e2d3c4b5a69788";
/// Lets ECS manage the load balancer and the rest of an Express service.
pub const ECS_INFRASTRUCTURE_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/ecsInfrastructureRoleForExpressServices";
/// Production's execution role (reads the production path) and task role.
pub const PRODUCTION_EXECUTION_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/tableicty-ecs-execution";
pub const PRODUCTION_TASK_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/tableicty-ecs-task";
/// The staging service's own roles, which the SAM template creates: the execution role reads
/// only the staging path, never production's.
pub const STAGING_EXECUTION_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/rehearsal-staging-execution";
pub const STAGING_TASK_ROLE_ARN: &str = "arn:aws:iam::123456789012:role/rehearsal-staging-task";
pub const STAGING_PARAMETER_PATH: &str = "/tableicty/staging/";
/// For [`SimAccount::deploy_production_on_ecs_express`](crate::SimAccount::deploy_production_on_ecs_express).
pub const PRODUCTION_EXPRESS_SERVICE_ARN: &str = "arn:aws:ecs:us-east-1:123456789012:service/tableicty/tableicty-backend";
pub const PRODUCTION_EXPRESS_URL: &str = "tableicty-backend-7c3a91fe.ecs.us-east-1.on.aws";

/// Production's own parameter group (a restore would get `default.postgres15` unless told).
pub const PRODUCTION_DB_PARAMETER_GROUP: &str = "tableicty-postgres15";
/// Production's option group, and what RDS gives an instance restored without one.
pub const PRODUCTION_DB_OPTION_GROUP: &str = "tableicty-postgres15-options";
pub const DEFAULT_DB_OPTION_GROUP: &str = "default:postgres-15";
/// What RDS gives an instance restored without a parameter group.
pub const DEFAULT_DB_PARAMETER_GROUP: &str = "default.postgres15";
/// Production's daily automated backup starts then (its backup window, UTC); a point-in-time
/// restore replays the transaction log written since.
pub const BACKUP_WINDOW_HOUR: u32 = 3;

const DB_PASSWORD: &str = "Vq7rT2mXc9LwP4sK8nZe";
const TEST_ADMIN_PASSWORD: &str = "Rehearse-Tq4!mW8zLp2";

/// The deployed stack's staging settings in the simulated account: the staging instance role
/// the template creates, the runbook's VPC connector and build (the template's defaults), and
/// the repository an operator whose production runs an image gives (unused while production
/// names its own).
pub fn stack_settings() -> StackSettings {
    StackSettings {
        staging_instance_role_arn: STAGING_INSTANCE_ROLE_ARN.to_string(),
        vpc_connector: VPC_CONNECTOR.to_string(),
        repository_url: REPOSITORY_URL.to_string(),
        connection_arn: CONNECTION_ARN.to_string(),
        build: CodeBuild {
            runtime: "PYTHON_311".to_string(),
            build_command: "pip install -r requirements.txt".to_string(),
            start_command: "sh -c 'python manage.py migrate --noinput && gunicorn --bind 0.0.0.0:8000 tableicty.wsgi:application'"
                .to_string(),
        },
        image_access_role_arn: ECR_ACCESS_ROLE_ARN.to_string(),
        // Production's subnets and security groups: the stack leaves EcsSubnetIds and
        // EcsSecurityGroupIds empty.
        ecs: EcsStackSettings {
            cluster: ECS_CLUSTER.to_string(),
            subnets: String::new(),
            security_groups: String::new(),
            execution_role_arn: STAGING_EXECUTION_ROLE_ARN.to_string(),
            task_role_arn: STAGING_TASK_ROLE_ARN.to_string(),
            infrastructure_role_arn: ECS_INFRASTRUCTURE_ROLE_ARN.to_string(),
        },
    }
}

/// The tags the production stack carries (none of them the tool's).
fn production_tags() -> Tags {
    Tags::from([("Project".to_string(), "tableicty".to_string()), ("Environment".to_string(), "production".to_string())])
}

pub(crate) fn production(world: &mut World, start: DateTime<Utc>) {
    world.subnet_groups.extend(["default".to_string(), DB_SUBNET_GROUP.to_string()]);
    world.connections.insert(CONNECTION_ARN.to_string());
    world.vpc_connectors.insert(VPC_CONNECTOR.to_string(), VPC_CONNECTOR_ARN.to_string());
    world.schedule_groups.extend(SCHEDULE_GROUPS.map(String::from));
    world.topics.insert(ALERT_TOPIC_ARN.to_string());
    for (role, path) in [(INSTANCE_ROLE_ARN, PRODUCTION_PARAMETER_PATH), (STAGING_INSTANCE_ROLE_ARN, STAGING_PARAMETER_PATH)] {
        world.roles.insert(role.to_string(), vec![path.to_string()]);
    }

    world.instances.insert(
        PRODUCTION_DB.to_string(),
        Instance {
            id: PRODUCTION_DB.to_string(),
            class: PRODUCTION_DB_CLASS.to_string(),
            storage: DbStorage { allocated_gb: PRODUCTION_DB_STORAGE_GB, storage_type: "gp3".to_string() },
            subnet_group: Some(DB_SUBNET_GROUP.to_string()),
            security_group_ids: vec![DB_SECURITY_GROUP.to_string()],
            parameter_group: PRODUCTION_DB_PARAMETER_GROUP.to_string(),
            option_group: PRODUCTION_DB_OPTION_GROUP.to_string(),
            backup_retention_days: 7,
            cluster_id: None,
            publicly_accessible: false,
            address: PRODUCTION_DB_ENDPOINT.to_string(),
            port: DB_PORT,
            master_user: DB_MASTER_USER.to_string(),
            master_password: DB_PASSWORD.to_string(),
            data: Database::pre_multi_tenancy(DATABASE_NAME, TEST_ADMIN_EMAIL, TEST_ADMIN_PASSWORD),
            life: Lifecycle::existing(start - chrono::Duration::days(400)),
            tags: production_tags(),
            origin: Origin::Seed,
            busy: None,
            stopped: None,
            password_reset: None,
            copy_tags_to_snapshot: false,
            cold_tables: BTreeSet::new(),
        },
    );

    let database_url = format!("postgres://{DB_MASTER_USER}:{DB_PASSWORD}@{PRODUCTION_DB_ENDPOINT}:{DB_PORT}/{DATABASE_NAME}");
    let production = [
        ("DATABASE_URL", database_url.as_str(), ParameterKind::SecureString),
        ("SECRET_KEY", "django-prod-8f#kq2!vz7@xw3$mn5^tb9&hc1*rd6", ParameterKind::SecureString),
        ("PGCRYPTO_KEY", "pgcrypto-4e9a1c7f2b8d6e0a3c5f7b9d1e2a4c6f", ParameterKind::SecureString),
        ("STRIPE_SECRET_KEY", "sk_live_51NqTbLiveSecretKey7Hd2kQ9wX4mZ8pR3vT6yB1nC5", ParameterKind::SecureString),
        ("STRIPE_WEBHOOK_SECRET", "whsec_LiveWebhook5tQ8wE2rY7uI4oP1aS9dF3gH6j", ParameterKind::SecureString),
        ("STRIPE_PUBLISHABLE_KEY", "pk_live_51NqTbLivePublishable2Xc7Vb4Nm9Qw1Er6Ty3Ui8", ParameterKind::String),
        ("FRONTEND_URL", "https://app.tableicty.com", ParameterKind::String),
    ];
    let rehearsal = [
        ("STRIPE_SECRET_KEY", "sk_test_51NqTbTestSecretKey3Kd8mQ1wZ6xP4rV9tY2bN7c", ParameterKind::SecureString),
        ("STRIPE_WEBHOOK_SECRET", "whsec_test_Webhook9qA2sD5fG8hJ1kL4zX7cV3bN6m", ParameterKind::SecureString),
        ("STRIPE_PUBLISHABLE_KEY", "pk_test_51NqTbTestPublishable6Zx1Cv8Bn3Mq5Wr2Et9Yu4", ParameterKind::String),
        ("TEST_ADMIN_PASSWORD", TEST_ADMIN_PASSWORD, ParameterKind::SecureString),
    ];
    for (path, entries) in [(PRODUCTION_PARAMETER_PATH, &production[..]), (STRIPE_TEST_PARAMETER_PATH, &rehearsal[..])] {
        for (key, value, kind) in entries {
            let param = Param {
                kind: *kind,
                value: value.to_string(),
                version: 1,
                tags: Tags::new(),
                origin: Origin::Seed,
                writer: session_principal("seed"),
            };
            world.parameters.insert(format!("{path}{key}"), param);
        }
    }

    crate::ecr::seed(world, start);
    crate::ecs::seed(world);

    world.buckets.insert(PRODUCTION_FRONTEND_BUCKET.to_string(), crate::s3::Bucket::new(Origin::Seed, production_tags(), true));
    for (key, content_type, body) in PRODUCTION_FRONTEND {
        world.seed_frontend_object(key, body.as_bytes(), content_type);
    }

    let secrets: BTreeMap<String, String> = production
        .iter()
        .map(|(key, _, _)| (key.to_string(), crate::ssm::parameter_arn(&format!("{PRODUCTION_PARAMETER_PATH}{key}"))))
        .collect();
    let environment = BTreeMap::from([
        ("IS_PRODUCTION".to_string(), "True".to_string()),
        ("DEBUG".to_string(), "False".to_string()),
        ("ALLOWED_HOSTS".to_string(), format!("api.tableicty.com,.{APP_RUNNER_DOMAIN}")),
        // Set by the release's apprunner.yaml, so its backfill endpoint can run on production too.
        (BACKFILL_TOKEN_PARAMETER_VARIABLE.to_string(), format!("{PRODUCTION_PARAMETER_PATH}BACKFILL_TOKEN")),
    ]);
    let resolved = crate::apprunner::resolve_secrets(world, INSTANCE_ROLE_ARN, &secrets);
    let deployed = start - chrono::Duration::days(30);
    world.services.push(Service {
        arn: PRODUCTION_SERVICE_ARN.to_string(),
        name: PRODUCTION_SERVICE.to_string(),
        url: PRODUCTION_SERVICE_URL.to_string(),
        source: Some(ServiceSource {
            repository_url: REPOSITORY_URL.to_string(),
            branch: "main".to_string(),
            connection_arn: CONNECTION_ARN.to_string(),
        }),
        // Production reads its build and start from the repository's apprunner.yaml.
        build: None,
        instance_role_arn: INSTANCE_ROLE_ARN.to_string(),
        vpc_connector_arn: VPC_CONNECTOR_ARN.to_string(),
        tags: production_tags(),
        origin: Origin::Seed,
        operations: vec![Operation {
            id: "8d2f6a1c9e4b47d3a5f0c8e1b2d7a6f9".to_string(),
            kind: OpKind::Create,
            ends_at: Some(deployed),
            succeeded: Some(true),
            fails_by_fault: false,
            deployment: Some(Deployment { environment, secrets, resolved, image: None, runs_release: false }),
        }],
    });
}
