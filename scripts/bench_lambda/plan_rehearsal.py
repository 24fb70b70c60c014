"""The first step, plan_rehearsal, written in Python for scripts/bench-lambda to measure against
the Rust bootstrap: the same AWS calls in the same order (DescribeDBInstances; ListServices,
DescribeService and ListTagsForResource for production's App Runner service; GetParameter with
decryption for the three production parameters, the two Stripe test keys and the test admin's
password; ListVpcConnectors) and a plan of the same shape, for the run document's defaults.
The boto3 clients are built at init, as the Rust function builds its SDK clients.
"""

import boto3

rds = boto3.client("rds")
ssm = boto3.client("ssm")
apprunner = boto3.client("apprunner")
scheduler = boto3.client("scheduler")
sfn = boto3.client("stepfunctions")

DEFAULTS = {
    "app": "tableicty",
    "ttl_hours": 24,
    "production": {
        "db_instance_id": "tableicty-production-db",
        "parameter_path": "/tableicty/production/",
        "service_name": "tableicty-backend",
    },
    "staging": {"db_instance_id": "tableicty-staging-db", "parameter_path": "/tableicty/staging/"},
    "service": {"name": "tableicty-staging-backend", "vpc_connector": "tableicty-vpc-connector"},
    "stripe": {"test_parameter_path": "/tableicty/rehearsal/"},
    "validation": {"test_admin_password_parameter": "/tableicty/rehearsal/TEST_ADMIN_PASSWORD"},
}


class ProductionNotReady(Exception):
    pass


class InvalidInput(Exception):
    pass


def run_document(given):
    unknown = set(given) - set(DEFAULTS)
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]}")
    run = {key: dict(value) if isinstance(value, dict) else value for key, value in DEFAULTS.items()}
    for key, value in given.items():
        run[key] = {**run[key], **value} if isinstance(run[key], dict) else value
    if not 1 <= run["ttl_hours"] <= 168:
        raise InvalidInput("ttl_hours is outside 1 to 168 hours (one week)")
    return run


def required_parameter(name):
    try:
        return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"]
    except ssm.exceptions.ParameterNotFound:
        raise ProductionNotReady(f"parameter {name} does not exist") from None


def pages(operation, **kwargs):
    """Every page of an App Runner list (botocore has no paginator for them)."""
    while True:
        page = operation(**kwargs)
        yield page
        if not page.get("NextToken"):
            return
        kwargs["NextToken"] = page["NextToken"]


def find_service(name):
    for page in pages(apprunner.list_services):
        for summary in page["ServiceSummaryList"]:
            if summary["ServiceName"] == name:
                service = apprunner.describe_service(ServiceArn=summary["ServiceArn"])["Service"]
                tags = apprunner.list_tags_for_resource(ResourceArn=service["ServiceArn"])["Tags"]
                return service, {t["Key"]: t["Value"] for t in tags}
    return None, {}


def find_vpc_connector(name):
    for page in pages(apprunner.list_vpc_connectors):
        for connector in page["VpcConnectors"]:
            if connector["VpcConnectorName"] == name:
                return connector["VpcConnectorArn"]
    return None


def handler(event, context):
    run = run_document(event["input"])
    started_at = event["execution_start"]
    run_date = started_at[:10]
    run_id = f"{run['app']}-{run_date.replace('-', '')}"
    production = run["production"]

    db = rds.describe_db_instances(DBInstanceIdentifier=production["db_instance_id"])["DBInstances"][0]
    if db["DBInstanceStatus"] != "available":
        raise ProductionNotReady(f"production database {db['DBInstanceIdentifier']} is {db['DBInstanceStatus']}, not available")
    service, _tags = find_service(production["service_name"])
    if service is None:
        raise ProductionNotReady(f"production service {production['service_name']} does not exist")
    for key in ["SECRET_KEY", "PGCRYPTO_KEY", "DATABASE_URL"]:
        required_parameter(production["parameter_path"] + key)
    for key in ["STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"]:
        name = run["stripe"]["test_parameter_path"] + key
        if required_parameter(name).startswith(("sk_live_", "pk_live_", "rk_live_")):
            raise InvalidInput(f"{name} holds a live Stripe key; staging must use test keys")
    required_parameter(run["validation"]["test_admin_password_parameter"])
    connector = find_vpc_connector(run["service"]["vpc_connector"])
    if connector is None:
        raise InvalidInput(f"no VPC connector named {run['service']['vpc_connector']}")

    source = service["SourceConfiguration"]
    return {
        "app": run["app"],
        "run_id": run_id,
        "run_date": run_date,
        "started_at": started_at,
        "ttl_hours": run["ttl_hours"],
        "tags": {"app": run["app"], "environment": "staging", "run_id": run_id},
        "production": {
            "db_instance_id": db["DBInstanceIdentifier"],
            "parameter_path": production["parameter_path"],
            "service_name": service["ServiceName"],
            "service_arn": service["ServiceArn"],
        },
        "snapshot_id": f"{db['DBInstanceIdentifier']}-backup-{run_date}",
        "staging_db": {
            "instance_id": run["staging"]["db_instance_id"],
            "subnet_group": db.get("DBSubnetGroup", {}).get("DBSubnetGroupName"),
            "security_group_ids": [g["VpcSecurityGroupId"] for g in db.get("VpcSecurityGroups", [])],
            "publicly_accessible": False,
        },
        "staging_parameter_path": run["staging"]["parameter_path"],
        "service": {
            "name": run["service"]["name"],
            "repository_url": source["CodeRepository"]["RepositoryUrl"],
            "connection_arn": source["AuthenticationConfiguration"]["ConnectionArn"],
            "instance_role_arn": service["InstanceConfiguration"].get("InstanceRoleArn"),
            "vpc_connector_arn": connector,
        },
    }
