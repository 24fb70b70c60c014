//! The library views of the real definitions: the Mermaid flowchart holds every state and every
//! transition of `statemachine/*.asl.json`; the critical path of `staging.asl.json` with the
//! simulated account's durations is what a run on that account takes, state by state, with an
//! ETA that stays on the same finish all along the run; the AWS-typical durations cover every
//! wait loop; a local run's Markdown report holds its timeline, resources, checks and cost; a
//! plan only reads; and the README shows each definition's current diagram.

use std::collections::BTreeMap;
use std::time::Duration;

use rehearsal_asl::{critical_path, eta, flowchart, Definition, Event, ExpectedDurations, RecordingObserver, RunOptions, Span};
use rehearsal_cli::follow_up::substitutions;
use rehearsal_cli::invoker::StepInvoker;
use rehearsal_core::durations::TypicalDurations;
use rehearsal_core::steps::Step;
use rehearsal_sim::SimConfig;
use rehearsal_tests::{new_account, run_pipeline, runtime, stack_settings, start_time, RUN_ID};
use serde_json::{json, Value};

const DEFINITIONS: [(&str, &str); 3] = [
    ("staging", include_str!("../statemachine/staging.asl.json")),
    ("promote", include_str!("../statemachine/promote.asl.json")),
    ("teardown", include_str!("../statemachine/teardown.asl.json")),
];

fn parse(text: &str) -> Definition {
    Definition::parse(&rehearsal_asl::substitute(text, &substitutions(&Default::default())).unwrap()).unwrap()
}

/// Every line the flowchart must hold for `states` (of the machine, or of a Parallel branch),
/// read from the raw JSON: node declarations and edges. A Parallel is entered at its node (its
/// fork), left from its join `j_<name>` and caught from its box `p_<name>`. Choice and Catch
/// labels are the library's wording, so those edges are matched by their ends (`…`).
fn expected_lines(states: &serde_json::Map<String, Value>, start: (&str, &str), end_marker: &str, lines: &mut Vec<(String, String)>) {
    lines.push((format!("{} start", start.0), format!("  {} --> s_{}", start.1, start.0)));
    for (name, state) in states {
        assert!(name.chars().all(|c| c.is_ascii_alphanumeric()), "{name}: the check below assumes plain names");
        let id = format!("s_{name}");
        let parallel = state["Type"] == "Parallel";
        let (leaves, caught) = if parallel { (format!("j_{name}"), format!("p_{name}")) } else { (id.clone(), id.clone()) };
        lines.push((format!("node {name}"), id.clone()));
        if parallel {
            lines.push((format!("{name} box"), format!("subgraph p_{name} ")));
        }
        if let Some(next) = state["Next"].as_str() {
            lines.push((format!("{name} → {next}"), format!("  {leaves} --> s_{next}")));
        }
        if state["End"] == json!(true) {
            lines.push((format!("{name} → end"), format!("  {leaves} --> {end_marker}")));
        }
        for rule in state["Choices"].as_array().into_iter().flatten() {
            lines.push((format!("{name} → {} (rule)", rule["Next"]), format!("  {id} -->|\"…\"| s_{}", rule["Next"].as_str().unwrap())));
        }
        if let Some(default) = state["Default"].as_str() {
            lines.push((format!("{name} → {default} (default)"), format!("  {id} -->|\"default\"| s_{default}")));
        }
        for catcher in state["Catch"].as_array().into_iter().flatten() {
            let next = catcher["Next"].as_str().unwrap();
            lines.push((format!("{name} → {next} (catch)"), format!("  {caught} -.->|\"catch …\"| s_{next}")));
        }
        for (i, branch) in state["Branches"].as_array().into_iter().flatten().enumerate() {
            lines.push((format!("{name} branch {i}"), format!("subgraph b{i}_{name} ")));
            let first = branch["StartAt"].as_str().unwrap();
            expected_lines(branch["States"].as_object().unwrap(), (first, &id), &format!("j_{name}"), lines);
        }
    }
}

/// Whether `chart` holds `line`, where `…` stands for any label.
fn holds(chart: &str, line: &str) -> usize {
    match line.split_once('…') {
        Some((head, tail)) => chart.lines().filter(|l| l.starts_with(head) && l.ends_with(tail)).count(),
        None if line.starts_with("  ") => chart.lines().filter(|l| *l == line).count(),
        // A node: its id opens a declaration line, followed by its shape.
        None if line.starts_with("s_") => {
            chart.lines().filter(|l| l.trim_start().strip_prefix(line).is_some_and(|rest| rest.starts_with(['[', '(', '{']))).count()
        }
        None => chart.lines().filter(|l| l.trim_start().starts_with(line)).count(),
    }
}

#[test]
fn every_state_and_every_transition_of_the_real_definitions_is_drawn() {
    for (file, text) in DEFINITIONS {
        let chart = flowchart(&parse(text));
        let raw: Value = serde_json::from_str(text).unwrap();
        let mut lines = Vec::new();
        expected_lines(raw["States"].as_object().unwrap(), (raw["StartAt"].as_str().unwrap(), "start"), "finish", &mut lines);
        // Two rules of one Choice may lead to the same state: count them.
        let mut wanted: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for (what, line) in &lines {
            wanted.entry(line).or_insert((0, what)).0 += 1;
        }
        for (line, (count, what)) in wanted {
            assert_eq!(holds(&chart, line), count, "{file}: {what} ({line:?}) is not drawn {count} time(s):\n{chart}");
        }
        // Nothing else: one line per node, edge, subgraph and subgraph end, plus the markers and styles.
        let edges = chart.lines().filter(|l| l.contains("-->") || l.contains("-.->")).count();
        let expected_edges = lines.iter().filter(|(_, l)| l.starts_with("  ")).count();
        assert_eq!(edges, expected_edges, "{file}: unexpected edges:\n{chart}");
    }
}

/// The simulated account's durations, as the definitions' state names see them: the Lambdas
/// take no virtual time; each wait loop waits for what the simulated account takes.
fn simulated_durations() -> ExpectedDurations {
    let sim = SimConfig::default();
    let waits = [
        ("WaitForSnapshot", sim.snapshot),
        ("WaitForDatabase", sim.restore),
        ("WaitForPasswordReset", sim.password_reset),
        ("WaitForService", sim.service_create),
        ("WaitForRedeploy", sim.deployment),
    ];
    // The run below takes the default staging.source, snapshot, no warm-up and the runbook's frontend.
    let choices = BTreeMap::from(
        [
            ("ChooseStagingSource", "SnapshotProductionDatabase"),
            ("IsRestoreStarted", "RestoreStagingDatabase"),
            ("IsPrewarmOn", "PrewarmOff"),
            ("IsFrontendServedByCloudFront", "StagingFrontendNotServed"),
            ("IsFrontendUrlPublished", "PublishFrontendUrl"),
        ]
        .map(|(choice, next)| (choice.to_string(), next.to_string())),
    );
    ExpectedDurations { waits: waits.into_iter().map(|(w, d)| (w.to_string(), d)).collect(), choices, ..ExpectedDurations::default() }
}

/// Runs the staging definition on a fresh simulated account and returns every event.
fn run_staging_on_the_sim() -> (Definition, Vec<Event>, Duration) {
    runtime().block_on(async {
        let account = new_account();
        let definition = parse(DEFINITIONS[0].1);
        let invoker = StepInvoker::new(|step: Step| account.session(step.name()));
        let recorder = RecordingObserver::new();
        let options = RunOptions { start_time: start_time(), ..RunOptions::default() };
        let execution = rehearsal_asl::run(&definition, json!({}), &invoker, &recorder, &options).await.unwrap();
        assert!(matches!(execution.outcome, rehearsal_asl::Outcome::Succeeded { .. }), "{:?}", execution.outcome);
        (definition, recorder.events(), execution.elapsed)
    })
}

/// The states entered in the first `events`, as an ETA sees them, and the time of the last one.
fn spans_of(events: &[Event]) -> (Vec<Span>, Duration) {
    let mut spans: Vec<Span> = Vec::new();
    let mut now = Duration::ZERO;
    for event in events {
        match event {
            Event::StateEntered { name, at, .. } => {
                spans.push(Span { name: name.clone(), entered: *at, exited: None });
                now = *at;
            }
            Event::StateExited { name, at, .. } => {
                let open = spans.iter_mut().rev().find(|s| &s.name == name && s.exited.is_none()).unwrap();
                open.exited = Some(*at);
                now = *at;
            }
            _ => {}
        }
    }
    (spans, now)
}

#[test]
fn the_critical_path_is_what_a_run_on_the_simulated_account_takes() {
    let (definition, events, elapsed) = run_staging_on_the_sim();
    let durations = simulated_durations();
    let estimate = critical_path(&definition, &durations).unwrap();
    // The README's figure: snapshot, restore, password reset, service and redeploy back to back.
    assert_eq!(estimate.finish, Duration::from_secs(34 * 60));
    assert_eq!(estimate.finish, elapsed, "the run took {elapsed:?}");

    // Each state on the critical path starts, ends and repeats as it did in the run.
    let (spans, _) = spans_of(&events);
    for step in &estimate.critical_path {
        let runs: Vec<&Span> = spans.iter().filter(|s| s.name == step.name).collect();
        assert!(!runs.is_empty(), "{} never ran", step.name);
        assert_eq!(step.start, runs[0].entered, "{} started", step.name);
        assert_eq!(Some(step.end), runs.last().unwrap().exited, "{} ended", step.name);
        assert_eq!(step.entries, runs.len() as u64, "{} entered", step.name);
    }
    let names: Vec<&str> = estimate.critical_path.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "PlanRehearsal",
            "TakeStagingLease",
            "PrepareStaging",
            "ChooseStagingSource",
            "SnapshotProductionDatabase",
            "IsSnapshotAvailable",
            "WaitForSnapshot",
            "CheckProductionSnapshot",
            "IsRestoreStarted",
            "RestoreStagingDatabase",
            "IsDatabaseAvailable",
            "WaitForDatabase",
            "CheckStagingDatabase",
            "WriteStagingDatabaseUrl",
            "ResetStagingDatabasePassword",
            "IsPasswordReset",
            "WaitForPasswordReset",
            "CheckPasswordReset",
            "StagingDatabaseReady",
            "MaskStagingDatabase",
            "VerifyMasking",
            "IsPrewarmOn",
            "PrewarmOff",
            "CreateStagingService",
            "IsServiceRunning",
            "WaitForService",
            "CheckStagingService",
            "DeployedChecks",
            "PointStripeWebhook",
            "IsFrontendUrlPublished",
            "PublishFrontendUrl",
            "IsRedeployDone",
            "WaitForRedeploy",
            "CheckRedeploy",
            "FrontendUrlPublished",
            "ValidateStaging",
            "Summary"
        ]
    );
    // Every state the run entered, in every branch, is counted (each is a billed transition).
    assert_eq!(estimate.state_entries, spans.len() as u64);
}

#[test]
fn the_eta_stays_on_the_run_s_finish_at_every_event() {
    let (definition, events, elapsed) = run_staging_on_the_sim();
    let durations = simulated_durations();
    let mut checked = 0;
    for k in 0..=events.len() {
        let (spans, now) = spans_of(&events[..k]);
        let estimate = eta(&definition, &durations, &spans, now).unwrap();
        assert_eq!(estimate.finish, elapsed, "after {k} events ({:?} at {now:?}): {:?}", events.get(k.wrapping_sub(1)), estimate);
        // While a state runs, what the ETA waits on first is a running state (a Parallel, or
        // the state itself), not one still to come.
        if spans.iter().any(|s| s.exited.is_none()) {
            let first = &estimate.critical_path[0];
            assert!(spans.iter().any(|s| s.name == first.name && s.exited.is_none()), "after {k} events: {first:?} is not running");
        }
        checked += 1;
    }
    assert!(checked > 100, "{checked}");
}

#[test]
fn the_aws_durations_table_names_the_definitions_states_and_estimates_each_definition() {
    let table = TypicalDurations::aws();
    let definitions: Vec<Definition> = DEFINITIONS.iter().map(|(_, text)| parse(text)).collect();
    let kinds: Vec<(String, &str)> = definitions.iter().flat_map(Definition::state_kinds).collect();
    let of_kind = |kind: &str| kinds.iter().filter(|(_, k)| *k == kind).map(|(n, _)| n.clone()).collect::<Vec<_>>();
    // Every wait loop of the definitions has its figure, and nothing else does.
    let mut waits = of_kind("Wait");
    waits.sort();
    assert_eq!(table.waits.keys().cloned().collect::<Vec<_>>(), waits);
    let tasks = of_kind("Task");
    for name in table.tasks.keys() {
        assert!(tasks.contains(name), "{name} is not a Task state of the definitions");
    }
    let durations = ExpectedDurations {
        tasks: table.task_durations(),
        default_task: table.default_task(),
        waits: table.wait_durations(),
        choices: BTreeMap::new(),
    };
    for ((file, _), definition) in DEFINITIONS.iter().zip(&definitions) {
        let estimate = critical_path(definition, &durations).unwrap();
        assert!(estimate.finish > Duration::from_secs(60), "{file}: {estimate:?}");
    }
    // The staging run in AWS: the runbook's snapshot and restore, the service's build and redeploy.
    let staging = critical_path(&definitions[0], &durations).unwrap().finish;
    assert!((Duration::from_secs(40 * 60)..Duration::from_secs(50 * 60)).contains(&staging), "{staging:?}");
}

/// (scripts/test renders the Markdown report of README's command 1 with a real Mermaid.)
#[test]
fn a_local_run_s_markdown_report_holds_its_timeline_resources_checks_and_cost() {
    // The account is made inside the runtime, whose paused clock it keeps time by.
    let (report, cost) = runtime().block_on(async {
        let account = new_account();
        let report = run_pipeline(&account, json!({}), &[]).await.unwrap();
        // As `rehearsal run --local --report-md` prices it: the plan's environment, the run's usage.
        let planned =
            rehearsal_cli::plan::plan(&account.session("report"), json!({}), "staging", start_time(), &stack_settings()).await.unwrap();
        let cost = planned.cost_of(report.usage()).unwrap();
        (report, cost)
    });
    assert_eq!(cost.lines.iter().find(|l| l.item == "Step Functions state transitions").unwrap().quantity, report.states.len().to_string());
    let ledger = report.ledger().unwrap();
    let created = ledger.resources_created.as_array().unwrap();
    let text = report.markdown(Some(cost));
    assert!(text.starts_with(&format!("# Rehearsal {RUN_ID}: succeeded\n")), "{text}");
    assert!(text.contains("| Took | 34 min 0 s |"), "{text}");
    // One Gantt row per state the run entered, each branch of both Parallels its own section.
    let gantt = &text[text.find("\ngantt\n").unwrap()..];
    let gantt = &gantt[..gantt.find("\n```\n").unwrap()];
    let distinct: std::collections::BTreeSet<(&str, &str)> = report.states.iter().map(|s| (s.path.as_str(), s.name.as_str())).collect();
    assert_eq!(gantt.lines().filter(|l| l.contains(" :")).count(), distinct.len(), "{gantt}");
    assert_eq!(gantt.lines().filter(|l| l.starts_with("  section ")).count(), 8, "{gantt}");
    assert!(gantt.contains("  WaitForSnapshot ×10 :done, "), "{gantt}");
    for check in &report.checks {
        let name = check["name"].as_str().unwrap();
        assert!(text.contains(&format!("| ✅ | {} |", name.replace('_', "\\_"))), "{name} missing");
    }
    assert!(text.contains(&format!("### Created ({})", created.len())), "{text}");
    assert!(text.contains("`tableicty-staging-db`") && text.contains("Production was only read."), "{text}");
    assert!(text.contains("## Cost\n\nAn estimate, not a quote or a bill: USD on-demand list prices for us-east-1"), "{text}");
}

/// The README shows each definition's flowchart as `rehearsal asl diagram FILE --markdown`
/// prints it (scripts/test renders every Mermaid block of the README with a real Mermaid).
#[test]
fn the_readme_shows_each_definition_s_current_diagram() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    for (file, text) in DEFINITIONS {
        let chart = rehearsal_cli::asl_diagram::diagram(text, &BTreeMap::new(), true).unwrap();
        let heading = format!("### `statemachine/{file}.asl.json`\n\n");
        let at = readme.find(&heading).unwrap_or_else(|| panic!("README.md has no heading {heading:?}"));
        assert!(
            readme[at + heading.len()..].starts_with(&chart),
            "README.md's diagram of {file}.asl.json is out of date: run scripts/draw-state-machines (it puts there what \
             `cargo run -p rehearsal-cli -- asl diagram statemachine/{file}.asl.json --markdown` prints)"
        );
    }
}

/// `rehearsal plan`: the pipeline's own plan step and reads of production, nothing else; the
/// resources a run creates, its duration and its cost; a bad document refused before any call.
#[test]
fn a_plan_only_reads_and_says_what_a_run_creates_takes_and_costs() {
    runtime().block_on(async {
        let account = new_account();
        let planned =
            rehearsal_cli::plan::plan(&account.session("plan"), json!({}), "staging", start_time(), &stack_settings()).await.unwrap();
        let ledger = account.ledger();
        assert!(ledger.created.is_empty() && ledger.deleted.is_empty() && ledger.production_writes.is_empty(), "{ledger:?}");
        assert!(!ledger.calls.is_empty());
        for call in &ledger.calls {
            assert!(["Describe", "Get", "List"].iter().any(|read| call.operation.starts_with(read)), "a write: {call:?}");
        }
        // What a run on the same account creates is what the plan says it creates.
        let report = run_pipeline(&new_account(), json!({}), &[]).await.unwrap();
        let created = report.ledger().unwrap().resources_created.as_array().unwrap().clone();
        for kind in ["db-snapshot", "db-instance", "parameter", "service", "schedule"] {
            let planned_names: std::collections::BTreeSet<&str> =
                planned.creates.iter().filter(|r| r.kind == kind).map(|r| r.name.as_str()).collect();
            let made: std::collections::BTreeSet<&str> =
                created.iter().filter(|r| r["kind"] == kind).map(|r| r["id"].as_str().unwrap().rsplit('/').next().unwrap()).collect();
            let planned_short: std::collections::BTreeSet<&str> = planned_names.iter().map(|n| n.rsplit('/').next().unwrap()).collect();
            assert_eq!(planned_short, made, "{kind}");
        }
        assert!((40.0..50.0).contains(&planned.expected_minutes), "{}", planned.expected_minutes);
        assert!(planned.cost.per_hour > 0.0 && (planned.cost.per_day - planned.cost.per_hour * 24.0).abs() < 1e-9, "{:?}", planned.cost);
        let text = planned.text();
        assert!(text.contains("tableicty-staging-db") && text.contains("per hour") && text.contains("per day"), "{text}");

        let refused = new_account();
        let error =
            rehearsal_cli::plan::plan(&refused.session("plan"), json!({"ttl_hours": 0}), "staging", start_time(), &stack_settings())
                .await
                .unwrap_err();
        assert!(error.to_string().contains("field `ttl_hours`"), "{error}");
        assert!(refused.ledger().calls.is_empty());
    });
}
