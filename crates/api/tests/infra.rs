//! The deployment agrees with the code: the SAM template (infra/template.yaml) has a function
//! for every step, all built once from the one bootstrap under functions/, every `${…}` of every statemachine/*.asl.json
//! is substituted (Lambda ARNs by those functions, which the machine may invoke), only the
//! functions the template's header lists under PRODUCTION WRITE may write production, and the API's
//! routes are the same in the handler, in infra/openapi.yaml and in the template's HTTP API.

use rehearsal_api::{Config, Route, IDEMPOTENCY_KEY, PLAN_STATE};
use rehearsal_core::steps::Step;
use serde_json::Value as Json;
use serde_norway::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("the repository root")
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn resources(template: &Value) -> &serde_norway::Mapping {
    template["Resources"].as_mapping().expect("Resources")
}

fn of_type<'a>(template: &'a Value, kind: &'a str) -> impl Iterator<Item = (&'a str, &'a Value)> + 'a {
    resources(template).iter().filter(move |(_, r)| r["Type"] == kind).map(|(id, r)| (id.as_str().expect("a logical id"), r))
}

/// `!Tag value` as (tag, value).
fn tagged(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(t) => Some((t.tag.to_string().trim_start_matches('!').to_string(), &t.value)),
        _ => None,
    }
}

fn intrinsic(value: &Value) -> String {
    match tagged(value) {
        Some((tag, inner)) => format!("!{tag} {}", inner.as_str().unwrap_or("?")),
        None => format!("{value:?}"),
    }
}

/// Every `${Name}` in a definition.
fn placeholders(text: &str) -> BTreeSet<String> {
    text.split("${").skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name.to_string()).collect()
}

/// The binaries of every package under functions/.
fn function_binaries() -> BTreeSet<String> {
    let mut binaries = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else { continue };
        let mut in_bin = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_bin = line == "[[bin]]";
            } else if let (true, Some(name)) = (in_bin, line.strip_prefix("name = ")) {
                binaries.insert(name.trim_matches('"').to_string());
            }
        }
    }
    binaries
}

/// The API function's handler (`rehearsal_lambda::Function::API`; that crate depends on this one).
const API_HANDLER: &str = "api";

/// Logical id → handler of every function.
fn template_functions(template: &Value) -> BTreeMap<String, String> {
    of_type(template, "AWS::Serverless::Function")
        .map(|(id, f)| {
            let handler = f["Properties"]["Handler"].as_str().unwrap_or_else(|| panic!("{id} has no Handler"));
            (id.to_string(), handler.to_string())
        })
        .collect()
}

#[test]
fn every_step_has_its_function_and_every_function_serves_a_step_or_the_api() {
    let template = yaml("infra/template.yaml");
    let functions = template_functions(&template);
    for step in Step::ALL {
        let id = step.arn_key().strip_suffix("Arn").expect("arn keys end in Arn");
        assert_eq!(functions.get(id).map(String::as_str), Some(step.name()), "{step:?}: no function {id} with Handler {}", step.name());
    }
    for (id, handler) in &functions {
        match Step::from_name(handler) {
            Some(step) => assert_eq!(format!("{}Arn", id), step.arn_key(), "{id} serves {handler}, the function of another step"),
            None => assert_eq!((id.as_str(), handler.as_str()), ("ApiFunction", API_HANDLER), "{id}: Handler {handler:?} names no step"),
        }
    }
    assert_eq!(functions.len(), Step::ALL.len() + 1, "one function per step and the API's");
}

/// SAM builds once the functions whose CodeUri, Runtime, Architectures and Metadata are equal
/// (samcli/lib/build/build_graph.py, `FunctionBuildDefinition.__eq__`): all of them come from
/// Globals but Metadata, which must be the same block everywhere.
#[test]
fn every_function_is_the_one_bootstrap_built_once() {
    let template = yaml("infra/template.yaml");
    let binaries = function_binaries();
    assert_eq!(binaries.len(), 1, "functions/ holds one binary, the bootstrap: {binaries:?}");
    let bootstrap = binaries.first().unwrap().as_str();

    let globals = &template["Globals"]["Function"];
    assert_eq!(globals["CodeUri"], "..", "the workspace");
    assert_eq!(globals["Runtime"], "provided.al2023");
    let architectures: Vec<String> = globals["Architectures"].as_sequence().expect("Architectures").iter().map(intrinsic).collect();
    assert_eq!(architectures, ["!Ref Architecture"]);
    let parameter = &template["Parameters"]["Architecture"];
    assert_eq!(parameter["Default"], "arm64");
    assert_eq!(parameter["AllowedValues"], serde_norway::from_str::<Value>("[arm64, x86_64]").unwrap());

    let mut metadata = None;
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        for property in ["CodeUri", "Runtime", "Architectures", "InlineCode", "PackageType", "ImageUri"] {
            assert!(function["Properties"].get(property).is_none(), "{id} sets its own {property}: SAM would build it apart");
        }
        assert_eq!(function["Metadata"]["BuildMethod"], "rust-cargolambda", "{id}");
        assert_eq!(function["Metadata"]["BuildProperties"]["Binary"].as_str(), Some(bootstrap), "{id}");
        let first = metadata.get_or_insert((id, &function["Metadata"]));
        assert_eq!(&function["Metadata"], first.1, "{id}'s Metadata differs from {}'s: SAM would build it apart", first.0);
    }
}

/// The functions whose Properties set `property`.
fn functions_setting<'a>(template: &'a Value, property: &str) -> BTreeSet<&'a str> {
    of_type(template, "AWS::Serverless::Function").filter(|(_, f)| f["Properties"].get(property).is_some()).map(|(id, _)| id).collect()
}

/// checkov skips CKV_AWS_173 (environment encryption) and CKV_AWS_117 (VPC) for every function
/// (infra/checkov.yaml); these are the facts those skips rest on, held here for every function.
#[test]
fn only_the_api_function_has_an_environment() {
    let template = yaml("infra/template.yaml");
    assert_eq!(functions_setting(&template, "Environment"), BTreeSet::from(["ApiFunction"]));
    assert!(template["Globals"]["Function"].get("Environment").is_none());
}

#[test]
fn every_substitution_of_every_state_machine_is_provided() {
    let template = yaml("infra/template.yaml");
    let functions = template_functions(&template);
    let machines: BTreeMap<String, (&str, &Value)> = of_type(&template, "AWS::Serverless::StateMachine")
        .map(|(id, m)| (m["Properties"]["DefinitionUri"].as_str().expect("DefinitionUri").to_string(), (id, m)))
        .collect();
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("statemachine")).expect("statemachine/") {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if !name.ends_with(".asl.json") {
            continue;
        }
        let uri = format!("../statemachine/{name}");
        files.insert(uri.clone());
        let text = std::fs::read_to_string(root().join("statemachine").join(&name)).unwrap();
        let Some((id, machine)) = machines.get(&uri) else { panic!("no state machine in the template has DefinitionUri {uri}") };
        let substitutions = machine["Properties"]["DefinitionSubstitutions"].as_mapping().expect("DefinitionSubstitutions");
        let given: BTreeSet<String> = substitutions.keys().map(|k| k.as_str().unwrap().to_string()).collect();
        assert_eq!(given, placeholders(&text), "{id}: DefinitionSubstitutions against the ${{…}} of {name}");

        let policies = machine["Properties"]["Policies"].as_sequence().expect("Policies");
        let invoked: BTreeSet<String> = policies
            .iter()
            .filter_map(|p| p.get("LambdaInvokePolicy"))
            .map(|p| intrinsic(&p["FunctionName"]).trim_start_matches("!Ref ").to_string())
            .collect();
        let mut used = BTreeSet::new();
        for (key, value) in substitutions {
            let key = key.as_str().unwrap();
            let expected = match key.strip_suffix("Arn") {
                Some(function) if key.ends_with("FunctionArn") => {
                    assert!(functions.contains_key(function), "{id}: {key} names {function}, which is not a function of the template");
                    used.insert(function.to_string());
                    format!("!GetAtt {function}.Arn")
                }
                Some(machine) if machine.ends_with("StateMachine") => format!("!Ref {machine}"),
                _ => match key {
                    "AlertTopicArn" => "!Ref AlertTopic".to_string(),
                    "SchedulerRoleArn" => "!GetAtt SchedulerRole.Arn".to_string(),
                    // Stack parameters the promote machine hands its steps, as they are.
                    "AllowApprovalSkip" | "Approvers" => format!("!Ref {key}"),
                    // The stack's roles the staging service runs or pulls its image with.
                    "StagingInstanceRoleArn" | "StagingImageAccessRoleArn" | "StagingEcsExecutionRoleArn" | "StagingEcsTaskRoleArn" => {
                        format!("!GetAtt {}.Arn", key.trim_end_matches("Arn"))
                    }
                    // The stack's staging settings are its parameters of the same name.
                    "StagingVpcConnector"
                    | "StagingRepositoryUrl"
                    | "StagingConnectionArn"
                    | "StagingRuntime"
                    | "StagingBuildCommand"
                    | "StagingStartCommand"
                    | "EcsCluster"
                    | "EcsSubnetIds"
                    | "EcsSecurityGroupIds"
                    | "EcsInfrastructureRoleArn" => format!("!Ref {key}"),
                    other => panic!("{id}: no rule for the substitution {other}; add it here and in the template"),
                },
            };
            assert_eq!(intrinsic(value), expected, "{id}: {key}");
        }
        assert_eq!(invoked, used, "{id}: a LambdaInvokePolicy for exactly the functions it substitutes");
        let publishes = policies.iter().any(|p| p.get("SNSPublishMessagePolicy").is_some());
        assert_eq!(publishes, given.contains("AlertTopicArn"), "{id}: SNSPublishMessagePolicy exactly when it publishes alerts");
    }
    let deployed: BTreeSet<String> = machines.keys().cloned().collect();
    assert_eq!(deployed, files, "every state machine of the template has its definition, and every definition a state machine");
}

#[test]
fn state_machines_reference_each_other_without_a_cycle() {
    let template = yaml("infra/template.yaml");
    let references: BTreeMap<String, BTreeSet<String>> = of_type(&template, "AWS::Serverless::StateMachine")
        .map(|(id, m)| {
            let substitutions = m["Properties"]["DefinitionSubstitutions"].as_mapping().unwrap();
            let machines = substitutions.keys().filter_map(|k| k.as_str()?.strip_suffix("Arn")).filter(|k| k.ends_with("StateMachine"));
            (id.to_string(), machines.map(str::to_string).collect())
        })
        .collect();
    fn reaches(from: &str, to: &str, references: &BTreeMap<String, BTreeSet<String>>, seen: &mut BTreeSet<String>) -> bool {
        references
            .get(from)
            .into_iter()
            .flatten()
            .any(|next| next == to || (seen.insert(next.clone()) && reaches(next, to, references, seen)))
    }
    for id in references.keys() {
        assert!(!reaches(id, id, &references, &mut BTreeSet::new()), "{id} depends on itself through {references:?}");
    }
    assert!(references["TeardownStateMachine"].is_empty(), "the teardown machine references no other machine");
}

#[test]
fn the_staging_machine_plans_first_as_the_api_reads_it() {
    let definition: Json = serde_json::from_str(&std::fs::read_to_string(root().join("statemachine/staging.asl.json")).unwrap()).unwrap();
    assert_eq!(definition["StartAt"], PLAN_STATE);
    let plan = &definition["States"][PLAN_STATE];
    assert_eq!(plan["Resource"], "${PlanRehearsalFunctionArn}");
    assert_eq!((&plan["ResultSelector"], &plan["ResultPath"]), (&serde_json::json!({"plan.$": "$"}), &serde_json::json!("$")));
}

#[test]
fn only_the_database_checks_run_in_the_vpc() {
    let template = yaml("infra/template.yaml");
    let in_vpc = functions_setting(&template, "VpcConfig");
    let checks = [
        Step::MaskStagingDatabase,
        Step::VerifyMasking,
        Step::PrewarmStagingDatabase,
        Step::VerifyStagingMigrations,
        Step::VerifyProductionMigrations,
        Step::VerifyStagingBackfill,
        Step::VerifyProductionBackfill,
    ];
    assert_eq!(in_vpc, checks.iter().map(|s| function_id(*s)).collect());
}

fn function_id(step: Step) -> &'static str {
    step.arn_key().strip_suffix("Arn").expect("arn keys end in Arn")
}

fn strings(value: &Value) -> Vec<&Value> {
    value.as_sequence().map_or_else(|| vec![value], |s| s.iter().collect())
}

/// The statements of a function's (or state machine's) `Policies` (`!If` statements with both branches).
fn statements<'a>(id: &str, function: &'a Value) -> Vec<&'a Value> {
    let mut statements = Vec::new();
    for policy in function["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        // A state machine's SAM policy templates (LambdaInvokePolicy, SNSPublishMessagePolicy) have no
        // statements here; a function must spell out every statement.
        if function["Type"] == "AWS::Serverless::StateMachine" && policy.get("Statement").is_none() {
            continue;
        }
        let list = policy.get("Statement").and_then(Value::as_sequence);
        for statement in list.unwrap_or_else(|| panic!("{id}: a policy that is not a Statement list: {policy:?}")) {
            match tagged(statement) {
                Some((tag, branches)) if tag == "If" => {
                    statements.extend(branches.as_sequence().unwrap()[1..].iter().filter(|b| b.get("Action").is_some()))
                }
                _ => statements.push(statement),
            }
        }
    }
    statements
}

/// A resource as written: the `!Sub` string, `${X}` for `!Ref X`, `${X.Y}` for `!GetAtt X.Y`.
fn as_written(value: &Value) -> String {
    match tagged(value) {
        Some((tag, inner)) if tag == "Sub" || tag == "Ref" || tag == "GetAtt" => {
            let text = inner.as_str().unwrap_or_else(|| panic!("!{tag} of a non-string: {inner:?}"));
            if tag == "Sub" {
                text.to_string()
            } else {
                format!("${{{text}}}")
            }
        }
        _ => value.as_str().map(str::to_string).unwrap_or_else(|| panic!("no rule for the resource {value:?}")),
    }
}

/// What a policy statement allows: (action, resource as written). `!If` statements count with
/// both branches.
fn allowed(id: &str, function: &Value) -> Vec<(String, String)> {
    let mut allowed = Vec::new();
    for statement in statements(id, function) {
        assert_eq!(statement["Effect"], "Allow", "{id}: only Allow statements");
        for action in strings(&statement["Action"]) {
            for arn in strings(&statement["Resource"]) {
                allowed.push((action.as_str().expect("an action").to_string(), as_written(arn)));
            }
        }
    }
    allowed
}

/// An ARN of production: its database (with the restored copy that replaces it and the damaged
/// one kept aside, both named after it), its parameter path, its service (App Runner's or ECS's,
/// with its task definition family), the roles its service runs or pulls with.
fn is_production(arn: &str) -> bool {
    [
        "${ProductionDbInstanceId}",
        "${ProductionParameterPath}",
        "${ProductionServiceName}",
        "${ImageAccessRoleArn}",
        "${ProductionEcsRoleArns}",
    ]
    .iter()
    .any(|p| arn.contains(p))
}

fn is_staging(arn: &str) -> bool {
    ["${StagingDbInstanceId}", "${StagingParameterPath}", "${StagingServiceName}"].iter().any(|p| arn.contains(p))
}

/// An action that leaves the resource it names as it was. CreateDBSnapshot names the instance
/// it copies (runbook step 1 backs production up); the snapshot is a new resource.
fn only_reads(action: &str) -> bool {
    let (_, operation) = action.split_once(':').expect("service:Operation");
    ["Describe", "Get", "List"].iter().any(|p| operation.starts_with(p)) || action == "rds:CreateDBSnapshot"
}

/// The functions the template's header lists under `PRODUCTION WRITE:`, one a line.
fn listed_production_writers(text: &str) -> BTreeSet<String> {
    let lines = text.lines().skip_while(|l| !(l.starts_with('#') && l.trim_end().ends_with("PRODUCTION WRITE:"))).skip(1);
    let listed: BTreeSet<String> = lines
        .map_while(|l| l.strip_prefix("#       "))
        .map(|l| l.split_whitespace().next().unwrap_or_default().to_string())
        .take_while(|name| name.ends_with("Function"))
        .collect();
    assert!(!listed.is_empty(), "the template's header lists no function under PRODUCTION WRITE:");
    listed
}

#[test]
fn only_the_functions_the_header_lists_may_write_production() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let template = yaml("infra/template.yaml");
    let listed = listed_production_writers(&text);
    let mut writers = BTreeSet::new();
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        let writes: Vec<_> = allowed(id, function).into_iter().filter(|(action, arn)| is_production(arn) && !only_reads(action)).collect();
        let description = function["Properties"]["Description"].as_str().unwrap_or_default();
        assert_eq!(description.contains("PRODUCTION WRITE"), !writes.is_empty(), "{id}: its Description against its writes {writes:?}");
        if !writes.is_empty() {
            writers.insert(id.to_string());
        }
    }
    assert_eq!(writers, listed, "the functions whose policies write production against the header's PRODUCTION WRITE list");
}

#[test]
fn a_production_step_touches_no_staging_resource_and_a_staging_check_reads_nothing_of_production() {
    let template = yaml("infra/template.yaml");
    for step in Step::ALL {
        let id = function_id(*step);
        let arns: BTreeSet<String> = allowed(id, &template["Resources"][id]).into_iter().map(|(_, arn)| arn).collect();
        if step.name().contains("production") {
            assert!(!arns.iter().any(|a| is_staging(a)), "{id} names a staging resource: {arns:?}");
        }
        if step.name().contains("staging") && !step.mutates() {
            assert!(!arns.iter().any(|a| is_production(a)), "{id} names a production resource: {arns:?}");
        }
    }
}

#[test]
fn the_promote_machine_calls_no_function_named_for_staging() {
    let text = std::fs::read_to_string(root().join("statemachine/promote.asl.json")).unwrap();
    let functions: Vec<String> = placeholders(&text).into_iter().filter(|p| p.ends_with("FunctionArn")).collect();
    assert!(functions.len() > 10, "{functions:?}");
    let staging: Vec<&String> = functions.iter().filter(|f| f.contains("Staging")).collect();
    assert!(staging.is_empty(), "promote.asl.json runs on production and calls {staging:?}");
    assert!(!text.contains("\"environment\""), "the step, not the input, says which environment a check reads");
}

#[test]
fn the_api_function_is_given_the_machines_it_starts() {
    let template = yaml("infra/template.yaml");
    let variables = &template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"];
    let names: BTreeSet<&str> = variables.as_mapping().unwrap().keys().map(|k| k.as_str().unwrap()).collect();
    assert_eq!(names, BTreeSet::from([Config::STAGING, Config::PROMOTE, Config::TEARDOWN, Config::APPROVERS]));
    assert_eq!(intrinsic(&variables[Config::STAGING]), "!Ref StagingStateMachine");
    assert_eq!(intrinsic(&variables[Config::PROMOTE]), "!Ref PromoteStateMachine");
    assert_eq!(intrinsic(&variables[Config::TEARDOWN]), "!Ref TeardownStateMachine");
    assert_eq!(intrinsic(&variables[Config::APPROVERS]), "!Ref Approvers");
}

/// The ids of the functions and state machines, each with what its policies allow.
fn every_policy(template: &Value) -> Vec<(&str, Vec<(String, String)>)> {
    of_type(template, "AWS::Serverless::Function")
        .map(|(id, f)| (id, allowed(id, f)))
        .chain(of_type(template, "AWS::Serverless::StateMachine").map(|(id, m)| (id, state_machine_allowed(id, m))))
        .collect()
}

/// A state machine's statements (its SAM policy templates name functions and the topic only).
fn state_machine_allowed(id: &str, machine: &Value) -> Vec<(String, String)> {
    let mut found = allowed(id, machine);
    for policy in machine["Properties"]["Policies"].as_sequence().into_iter().flatten() {
        if let Some(invoke) = policy.get("LambdaInvokePolicy") {
            found.push(("lambda:InvokeFunction".into(), intrinsic(&invoke["FunctionName"])));
        }
    }
    found
}

#[test]
fn every_pass_role_names_the_service_it_passes_to() {
    let template = yaml("infra/template.yaml");
    let mut passes = 0;
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        for statement in statements(id, function) {
            if !strings(&statement["Action"]).iter().any(|a| a.as_str() == Some("iam:PassRole")) {
                continue;
            }
            passes += 1;
            let service = statement["Condition"]["StringEquals"]["iam:PassedToService"].as_str();
            assert!(
                service.is_some_and(|s| s.ends_with(".amazonaws.com")),
                "{id}: iam:PassRole without iam:PassedToService: {statement:?}"
            );
            assert_eq!(strings(&statement["Action"]).len(), 1, "{id}: the condition would also bind the other actions");
        }
    }
    assert!(passes >= 5, "{passes} PassRole statements found");
}

/// (role as written, service) for every role a function's policies let it pass.
fn passed_roles(id: &str, function: &Value) -> BTreeSet<(String, String)> {
    let mut passed = BTreeSet::new();
    for statement in statements(id, function) {
        if !strings(&statement["Action"]).iter().any(|a| a.as_str() == Some("iam:PassRole")) {
            continue;
        }
        let service = statement["Condition"]["StringEquals"]["iam:PassedToService"].as_str();
        let service = service.unwrap_or_else(|| panic!("{id}: iam:PassRole without iam:PassedToService: {statement:?}"));
        passed.extend(strings(&statement["Resource"]).into_iter().map(|role| (as_written(role), service.to_string())));
    }
    passed
}

/// Every role a function may pass is the stack's own or one a parameter names, each passed only to
/// the service that runs with it; production's (its image access role, its ECS roles) only by the
/// functions that write production.
#[test]
fn every_pass_role_passes_a_known_role_to_the_service_that_runs_with_it() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let template = yaml("infra/template.yaml");
    let production_writers = listed_production_writers(&text);
    let services = BTreeMap::from([
        ("${SchedulerRole.Arn}", "scheduler.amazonaws.com"),
        ("${StagingInstanceRole.Arn}", "tasks.apprunner.amazonaws.com"),
        ("${StagingImageAccessRole.Arn}", "apprunner.amazonaws.com"),
        ("${StagingEcsExecutionRole.Arn}", "ecs-tasks.amazonaws.com"),
        ("${StagingEcsTaskRole.Arn}", "ecs-tasks.amazonaws.com"),
        ("${EcsInfrastructureRoleArn}", "ecs.amazonaws.com"),
        ("${ImageAccessRoleArn}", "apprunner.amazonaws.com"),
        ("${ProductionEcsRoleArns}", "ecs-tasks.amazonaws.com"),
    ]);
    let mut passed = BTreeSet::new();
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        for (role, service) in passed_roles(id, function) {
            assert_eq!(services.get(role.as_str()), Some(&service.as_str()), "{id} may pass {role} to {service}");
            assert!(!is_production(&role) || production_writers.contains(id), "{id} may pass production's {role}");
            passed.insert(role);
        }
    }
    assert_eq!(passed, services.keys().map(|r| r.to_string()).collect(), "the roles some function passes");
}

#[test]
fn no_task_token_can_approve_and_only_the_api_writes_decisions() {
    let template = yaml("infra/template.yaml");
    for file in ["staging", "promote", "teardown"] {
        let text = std::fs::read_to_string(root().join(format!("statemachine/{file}.asl.json"))).unwrap();
        assert!(!text.contains("waitForTaskToken") && !text.contains("$$.Task.Token"), "{file}.asl.json waits on a task token");
    }
    let mut decision_writers = BTreeSet::new();
    for (id, allowed) in every_policy(&template) {
        for (action, arn) in allowed {
            assert!(!action.starts_with("states:SendTask") && action != "states:*" && action != "*", "{id}: {action}");
            let (service, operation) = action.split_once(':').unwrap();
            // A resource that covers the approvals path: the path itself, or any wildcard above it.
            let covers_approvals = arn.contains("/rehearsal/approvals/") || arn == "*" || arn.ends_with(":parameter/*");
            if service == "ssm" && covers_approvals && !only_reads(&action) {
                decision_writers.insert((id.to_string(), operation.to_string()));
            }
        }
    }
    let expected = BTreeSet::from([
        ("ApiFunction".to_string(), "PutParameter".to_string()),
        ("CloseApprovalFunction".to_string(), "DeleteParameter".to_string()),
    ]);
    assert_eq!(decision_writers, expected, "who may change /rehearsal/approvals/");
}

#[test]
fn only_the_state_machines_invoke_the_step_functions() {
    let template = yaml("infra/template.yaml");
    for (id, allowed) in every_policy(&template) {
        let invokes: Vec<&(String, String)> = allowed.iter().filter(|(action, _)| action.starts_with("lambda:")).collect();
        let machine = template["Resources"][id]["Type"] == "AWS::Serverless::StateMachine";
        assert!(machine || invokes.is_empty(), "{id} may invoke {invokes:?}");
    }
}

#[test]
fn reads_of_parameters_name_what_each_step_uses() {
    let template = yaml("infra/template.yaml");
    let reads = |id: &str| -> BTreeSet<String> {
        allowed(id, &template["Resources"][id]).into_iter().filter(|(a, _)| a == "ssm:GetParameter").map(|(_, arn)| arn).collect()
    };
    let parameter = |path: &str| format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter{path}");
    for (id, arns) in every_policy(&template) {
        for (action, arn) in arns {
            let wildcard = arn.ends_with("Path}*") && !arn.contains("${StagingParameterPath}");
            assert!(!(action.starts_with("ssm:Get") && wildcard), "{id} reads a whole path other than staging's: {arn}");
        }
    }
    // Existence checks describe; only the Stripe test keys are read, to refuse live ones.
    let stripe: BTreeSet<String> =
        ["STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY"].iter().map(|k| parameter(&format!("${{RehearsalParameterPath}}{k}"))).collect();
    assert_eq!(reads("PlanRehearsalFunction"), stripe);
    assert_eq!(reads("VerifyRehearsalPassedFunction"), stripe);
    // The writer reads what it copies (and its own staging path, where the ARN is read back).
    let production = reads("WriteStagingParametersFunction").into_iter().filter(|a| is_production(a)).collect::<BTreeSet<_>>();
    let copied = ["SECRET_KEY", "PGCRYPTO_KEY"].iter().map(|k| parameter(&format!("${{ProductionParameterPath}}{k}"))).collect();
    assert_eq!(production, copied);
    // The checklists read the test admin's password and nothing else.
    for id in ["ValidateStagingFunction", "ValidateProductionFunction"] {
        assert_eq!(reads(id), BTreeSet::from([parameter("${TestAdminPasswordParameter}")]), "{id}");
    }
}

/// (method, path) of every route, as the handler answers them.
fn handler_routes() -> BTreeSet<(String, String)> {
    Route::ALL.iter().map(|r| (r.method().to_string(), r.path().to_string())).collect()
}

#[test]
fn the_openapi_document_describes_the_handlers_routes() {
    let document = yaml("infra/openapi.yaml");
    assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "an OpenAPI 3 document");
    assert_eq!(document["security"][0].as_mapping().map(|m| m.contains_key("sigv4")), Some(true), "SigV4 for every operation");
    let mut documented = BTreeSet::new();
    for (path, operations) in document["paths"].as_mapping().expect("paths") {
        for (method, operation) in operations.as_mapping().unwrap() {
            let (path, method) = (path.as_str().unwrap().to_string(), method.as_str().unwrap().to_uppercase());
            let route = Route::ALL.iter().find(|r| r.method() == method && r.path() == path);
            let Some(route) = route else { panic!("{method} {path} is documented but not answered by the handler") };
            let headers: BTreeSet<&str> = operation["parameters"]
                .as_sequence()
                .into_iter()
                .flatten()
                .filter_map(|p| p["$ref"].as_str().or(p["name"].as_str()))
                .collect();
            let takes_key = headers.contains("#/components/parameters/IdempotencyKey");
            assert_eq!(takes_key, route.takes_idempotency_key(), "{method} {path}: the {IDEMPOTENCY_KEY} header");
            let responses = operation["responses"].as_mapping().unwrap();
            assert!(responses.contains_key("400"), "{method} {path} documents its 400");
            documented.insert((method, path));
        }
    }
    assert_eq!(documented, handler_routes());
    let key = &document["components"]["parameters"]["IdempotencyKey"];
    assert_eq!((key["name"].as_str(), key["in"].as_str(), key["required"].as_bool()), (Some(IDEMPOTENCY_KEY), Some("header"), Some(true)));
}

#[test]
fn the_templates_http_api_routes_are_the_handlers() {
    let template = yaml("infra/template.yaml");
    let api = &template["Resources"]["RehearsalApi"]["Properties"];
    assert_eq!(api["Auth"]["DefaultAuthorizer"], "AWS_IAM");
    assert_eq!(api["Auth"]["EnableIamAuthorizer"], true);
    let events = template["Resources"]["ApiFunction"]["Properties"]["Events"].as_mapping().expect("the API function's events");
    let mut routed = BTreeSet::new();
    for (name, event) in events {
        assert_eq!(event["Type"], "HttpApi", "{name:?}");
        assert_eq!(intrinsic(&event["Properties"]["ApiId"]), "!Ref RehearsalApi", "{name:?}");
        let (method, path) = (event["Properties"]["Method"].as_str().unwrap(), event["Properties"]["Path"].as_str().unwrap());
        let route = Route::ALL.iter().find(|r| r.method() == method && r.path() == path);
        assert_eq!(route.map(|r| format!("{r:?}")).as_deref(), name.as_str(), "the event of {method} {path} is named after its route");
        routed.insert((method.to_string(), path.to_string()));
    }
    assert_eq!(routed, handler_routes());
}

#[test]
fn staging_runs_as_the_stacks_staging_role_which_reads_only_the_staging_path() {
    let template = yaml("infra/template.yaml");
    assert!(template["Parameters"].get("ServiceInstanceRoleArn").is_none(), "no parameter hands staging production's role");
    let role = &template["Resources"]["StagingInstanceRole"];
    let trust = &role["Properties"]["AssumeRolePolicyDocument"]["Statement"];
    assert_eq!(trust.as_sequence().map(Vec::len), Some(1));
    assert_eq!(trust[0]["Principal"]["Service"], "tasks.apprunner.amazonaws.com");
    for policy in role["Properties"]["Policies"].as_sequence().expect("the role's policies") {
        for statement in policy["PolicyDocument"]["Statement"].as_sequence().expect("statements") {
            let actions: Vec<&str> = statement["Action"].as_sequence().unwrap().iter().filter_map(Value::as_str).collect();
            assert!(actions.iter().all(|a| ["ssm:GetParameter", "ssm:GetParameters"].contains(a)), "{actions:?}");
            let resource = intrinsic(&statement["Resource"]);
            assert!(resource.contains("parameter${StagingParameterPath}*") && !is_production(&resource), "{resource}");
        }
    }
    // CreateStagingService passes that role to App Runner, and otherwise only the stack's other
    // staging roles (an image's, ECS's) and the operator's ECS infrastructure role.
    let id = "CreateStagingServiceFunction";
    let passed = passed_roles(id, &template["Resources"][id]);
    let expected = [
        ("${StagingInstanceRole.Arn}", "tasks.apprunner.amazonaws.com"),
        ("${StagingImageAccessRole.Arn}", "apprunner.amazonaws.com"),
        ("${StagingEcsExecutionRole.Arn}", "ecs-tasks.amazonaws.com"),
        ("${StagingEcsTaskRole.Arn}", "ecs-tasks.amazonaws.com"),
        ("${EcsInfrastructureRoleArn}", "ecs.amazonaws.com"),
    ];
    assert_eq!(passed, expected.iter().map(|(role, service)| (role.to_string(), service.to_string())).collect());
}

#[test]
fn snapshots_are_created_tagged_and_deleted_only_under_the_tools_names() {
    let template = yaml("infra/template.yaml");
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        for (action, arn) in allowed(id, function) {
            if arn.contains(":snapshot:") && action != "rds:DescribeDBSnapshots" {
                // `rehearsal-<run id>` and the predeploy backup, or staging's final snapshot.
                assert!(
                    arn.ends_with(":snapshot:rehearsal-*") || arn.ends_with(":snapshot:${StagingDbInstanceId}-final-*"),
                    "{id}: {action} on {arn}"
                );
            }
        }
    }
}

const ECS_CLUSTER_ARN: &str = "arn:${AWS::Partition}:ecs:${AWS::Region}:${AWS::AccountId}:cluster/${EcsCluster}";
const RELEASE_REPOSITORY_ARN: &str = "arn:${AWS::Partition}:ecr:${AWS::Region}:${AWS::AccountId}:repository/${ReleaseRepositoryName}";

/// The ECS Express service named by the parameter `name` (`StagingServiceName`, `ProductionServiceName`).
fn ecs_service(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:service/${{EcsCluster}}/${{{name}}}")
}

/// The task definition family Express Mode registers that service's revisions in.
fn ecs_family(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:ecs:${{AWS::Region}}:${{AWS::AccountId}}:task-definition/${{EcsCluster}}-${{{name}}}:*")
}

/// ECS Express Mode: a staging service is created only with the tool's tag in the request (and
/// tagged only as it is created), changed or deleted only when it carries the tag; production's
/// service is changed only by the functions that write production; a revision is registered only
/// in the family of the service being created or changed; only ListServices names `*`, for the
/// stack's cluster.
#[test]
fn ecs_writes_are_held_to_the_tools_tag_or_to_productions_service() {
    let text = std::fs::read_to_string(root().join("infra/template.yaml")).unwrap();
    let template = yaml("infra/template.yaml");
    let production_writers = listed_production_writers(&text);
    let (staging, production) = (ecs_service("StagingServiceName"), ecs_service("ProductionServiceName"));
    let tagged_in = |statement: &Value, key: &str| statement["Condition"]["StringEquals"][key].as_str() == Some("rehearsal");
    let mut writers: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        for statement in statements(id, function) {
            let resources: Vec<String> = strings(&statement["Resource"]).into_iter().map(as_written).collect();
            for action in strings(&statement["Action"]).into_iter().filter_map(Value::as_str).filter(|a| a.starts_with("ecs:")) {
                if only_reads(action) {
                    if resources.iter().any(|r| r == "*") {
                        assert_eq!(action, "ecs:ListServices", "{id}: {action} on *");
                        assert_eq!(as_written(&statement["Condition"]["ArnEquals"]["ecs:cluster"]), ECS_CLUSTER_ARN, "{id}: {action}");
                    }
                    continue;
                }
                let on_production = resources == [production.as_str()] || resources == [ecs_family("ProductionServiceName")];
                match action {
                    "ecs:CreateExpressGatewayService" => {
                        assert!(tagged_in(statement, "aws:RequestTag/rehearsal:tool"), "{id}: {action} without the tag in the request");
                        assert_eq!(resources, [staging.as_str()], "{id}: {action}");
                    }
                    "ecs:TagResource" => {
                        assert!(tagged_in(statement, "aws:RequestTag/rehearsal:tool"), "{id}: {action} without the tag in the request");
                        let creating = strings(&statement["Condition"]["StringEquals"]["ecs:CreateAction"]);
                        assert!(!creating.is_empty() && creating.iter().all(|c| c.is_string()), "{id}: {action} of an existing resource");
                        assert_eq!(resources, [staging.as_str(), &ecs_family("StagingServiceName")], "{id}: {action}");
                    }
                    "ecs:UpdateExpressGatewayService" | "ecs:DeleteExpressGatewayService" if on_production => {
                        assert!(production_writers.contains(id), "{id}: {action} on production's service");
                    }
                    "ecs:UpdateExpressGatewayService" | "ecs:DeleteExpressGatewayService" => {
                        assert!(tagged_in(statement, "aws:ResourceTag/rehearsal:tool"), "{id}: {action} of a service without the tag");
                        assert_eq!(resources, [staging.as_str()], "{id}: {action}");
                    }
                    "ecs:RegisterTaskDefinition" if on_production => {
                        assert!(production_writers.contains(id), "{id}: {action} in production's family");
                    }
                    "ecs:RegisterTaskDefinition" => assert_eq!(resources, [ecs_family("StagingServiceName")], "{id}: {action}"),
                    other => panic!("{id}: no rule for the ECS write {other}; add one here"),
                }
                writers.entry(format!("{action} on {}", if on_production { "production" } else { "staging" })).or_default().insert(id);
            }
        }
    }
    let expected = BTreeMap::from([
        ("ecs:CreateExpressGatewayService on staging", vec!["CreateStagingServiceFunction"]),
        ("ecs:TagResource on staging", vec!["CreateStagingServiceFunction"]),
        ("ecs:RegisterTaskDefinition on staging", vec!["CreateStagingServiceFunction", "PublishFrontendUrlFunction"]),
        ("ecs:UpdateExpressGatewayService on staging", vec!["PublishFrontendUrlFunction"]),
        ("ecs:DeleteExpressGatewayService on staging", vec!["RollbackStagingFunction", "TeardownStagingFunction"]),
        ("ecs:RegisterTaskDefinition on production", vec!["RollBackProductionCodeFunction", "StartProductionDeploymentFunction"]),
        ("ecs:UpdateExpressGatewayService on production", vec!["RollBackProductionCodeFunction", "StartProductionDeploymentFunction"]),
    ]);
    let expected: BTreeMap<String, BTreeSet<&str>> = expected.into_iter().map(|(k, v)| (k.to_string(), v.into_iter().collect())).collect();
    assert_eq!(writers, expected, "which functions may write which ECS service");
}

/// CloudFront: a distribution is created only with the tool's tag in the request, updated
/// (disabled) and deleted only when it carries it; the staging bucket's policy is put only by
/// the step that serves it; each write by the functions that need it.
#[test]
fn cloudfront_writes_are_held_to_the_tools_tag_and_the_bucket_policy_to_the_staging_bucket() {
    let template = yaml("infra/template.yaml");
    let tagged_in = |statement: &Value, key: &str| statement["Condition"]["StringEquals"][key].as_str() == Some("rehearsal");
    let distributions = "arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/*";
    let mut writers: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for (id, function) in of_type(&template, "AWS::Serverless::Function") {
        for statement in statements(id, function) {
            let resources: Vec<String> = strings(&statement["Resource"]).into_iter().map(as_written).collect();
            for action in strings(&statement["Action"]).into_iter().filter_map(Value::as_str) {
                let cloudfront = action.starts_with("cloudfront:");
                if !(cloudfront || action == "s3:PutBucketPolicy") || only_reads(action) {
                    continue;
                }
                match action {
                    "cloudfront:CreateDistribution" | "cloudfront:TagResource" => {
                        assert!(tagged_in(statement, "aws:RequestTag/rehearsal:tool"), "{id}: {action} without the tag in the request");
                        assert_eq!(resources, [distributions], "{id}: {action}");
                    }
                    "cloudfront:UpdateDistribution" | "cloudfront:DeleteDistribution" => {
                        assert!(tagged_in(statement, "aws:ResourceTag/rehearsal:tool"), "{id}: {action} of a distribution without the tag");
                        assert_eq!(resources, [distributions], "{id}: {action}");
                    }
                    "cloudfront:CreateOriginAccessControl" | "cloudfront:DeleteOriginAccessControl" => {
                        assert_eq!(
                            resources,
                            ["arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:origin-access-control/*"],
                            "{id}: {action}"
                        );
                    }
                    "s3:PutBucketPolicy" => {
                        assert_eq!(resources, ["arn:${AWS::Partition}:s3:::${StagingFrontendBucket}"], "{id}: {action}")
                    }
                    other => panic!("{id}: no rule for the write {other}; add one here"),
                }
                writers.entry(action.to_string()).or_default().insert(id);
            }
        }
    }
    let serve = vec!["ServeStagingFrontendFunction"];
    let remove = vec!["RollbackStagingFunction", "TeardownStagingFunction"];
    let expected = BTreeMap::from([
        ("cloudfront:CreateDistribution", serve.clone()),
        ("cloudfront:TagResource", serve.clone()),
        ("cloudfront:CreateOriginAccessControl", serve.clone()),
        ("s3:PutBucketPolicy", serve),
        ("cloudfront:UpdateDistribution", remove.clone()),
        ("cloudfront:DeleteDistribution", remove.clone()),
        ("cloudfront:DeleteOriginAccessControl", remove),
    ]);
    let expected: BTreeMap<String, BTreeSet<&str>> = expected.into_iter().map(|(k, v)| (k.to_string(), v.into_iter().collect())).collect();
    assert_eq!(writers, expected, "which functions may write CloudFront and the staging bucket's policy");
}

/// Release images: only the planning steps (plan_rehearsal, verify_rehearsal_passed, which plans
/// again, record_production_source) read the release repository, with DescribeImages; no step
/// pulls, pushes or tags an image.
#[test]
fn only_the_planning_steps_describe_release_images() {
    let template = yaml("infra/template.yaml");
    let mut readers = BTreeSet::new();
    for (id, allowed) in every_policy(&template) {
        for (action, arn) in allowed.into_iter().filter(|(action, _)| action.starts_with("ecr:")) {
            assert_eq!((action.as_str(), arn.as_str()), ("ecr:DescribeImages", RELEASE_REPOSITORY_ARN), "{id}");
            readers.insert(id);
        }
    }
    let planning = [Step::PlanRehearsal, Step::VerifyRehearsalPassed, Step::RecordProductionSource];
    assert_eq!(readers, planning.iter().map(|s| function_id(*s)).collect());
}

/// The roles a staging service on ECS Express runs with (execution, task) or App Runner pulls a
/// staging image with: each trusts its one service, reads parameters of the staging path only,
/// pulls only from the release repository, and the execution role writes only the staging
/// service's logs.
#[test]
fn the_staging_services_ecs_and_image_roles_reach_only_staging_parameters_and_the_release_image() {
    let template = yaml("infra/template.yaml");
    let staging_parameters = "arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${StagingParameterPath}*";
    let staging_logs =
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/ecs/${EcsCluster}/${StagingServiceName}*:*";
    let pulls = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage", "ecr:DescribeImages"];
    for (id, trusted, reads_parameters) in [
        ("StagingEcsExecutionRole", "ecs-tasks.amazonaws.com", true),
        ("StagingEcsTaskRole", "ecs-tasks.amazonaws.com", true),
        ("StagingImageAccessRole", "build.apprunner.amazonaws.com", false),
    ] {
        let role = &template["Resources"][id]["Properties"];
        let trust = role["AssumeRolePolicyDocument"]["Statement"].as_sequence().expect("a trust policy");
        assert_eq!(trust.len(), 1, "{id}");
        assert_eq!(trust[0]["Principal"]["Service"], trusted, "{id}");
        let mut granted = BTreeSet::new();
        for policy in role["Policies"].as_sequence().expect("the role's policies") {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().expect("statements") {
                for action in strings(&statement["Action"]).into_iter().filter_map(Value::as_str) {
                    for resource in strings(&statement["Resource"]).into_iter().map(as_written) {
                        let expected = match action {
                            "ssm:GetParameter" | "ssm:GetParameters" => staging_parameters,
                            // ECR's token is per registry, not per repository.
                            "ecr:GetAuthorizationToken" => "*",
                            pull if pulls.contains(&pull) => RELEASE_REPOSITORY_ARN,
                            "logs:CreateLogStream" | "logs:PutLogEvents" if id == "StagingEcsExecutionRole" => staging_logs,
                            other => panic!("{id} may {other}"),
                        };
                        assert_eq!(resource, expected, "{id}: {action}");
                        granted.insert(action);
                    }
                }
            }
        }
        assert_eq!(granted.contains("ssm:GetParameters"), reads_parameters, "{id}: {granted:?}");
        assert_eq!(granted.contains("ecr:BatchGetImage"), id != "StagingEcsTaskRole", "{id} pulls the image: {granted:?}");
    }
}
