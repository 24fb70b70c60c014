//! A run's report as Markdown people read (`--report-md`, `GET /runs/{id}/report.md`): the
//! outcome, a timeline as a Mermaid Gantt chart (one row per state, a section per Parallel
//! branch), the resources created and deleted, the checks with what they found, the cost, and
//! what to do next.
//!
//! The input is plain data, field for field what the CLI's JSON report holds. The output is
//! deterministic; state names, ids and messages are escaped for Markdown tables and for Mermaid.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::checks::CheckResult;
use crate::cost::CostEstimate;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub run_id: String,
    pub execution_name: String,
    pub outcome: Outcome,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub started_at: DateTime<Utc>,
    pub seconds: f64,
    /// Where it ran, for the reader: `the simulated account (virtual clock)`, `AWS (us-east-1)`.
    pub ran_on: String,
    /// Every state entered, in the order entered.
    pub states: Vec<StateTiming>,
    pub checks: Vec<CheckResult>,
    pub resources_created: Vec<ResourceRecord>,
    pub resources_deleted: Vec<ResourceRecord>,
    /// Resources the run created that still exist.
    pub leftovers: Vec<String>,
    /// Writes that reached production (a staging run must have none).
    pub production_writes: Vec<String>,
    pub staging_url: Option<String>,
    /// What staging ran (the output's `release`): the digest-pinned image a promotion deploys,
    /// or the branch App Runner built.
    pub release: Option<crate::plan::PlannedRelease>,
    /// When the teardown schedule removes staging.
    pub teardown_at: Option<DateTime<Utc>>,
    /// What the warm-up (`staging.prewarm`) did, in one line; `None` when it was off.
    pub warm_up: Option<String>,
    pub cost: Option<CostEstimate>,
    /// Commands or advice of the caller's, after the ones the outcome implies.
    pub next_steps: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Succeeded,
    /// Failed, and the rollback removed everything the run created.
    RolledBack,
    /// Failed without a complete rollback (or before anything was created).
    Failed,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateTiming {
    pub name: String,
    /// The Parallel branch, as the runner reports it: `PrepareStaging/0`; empty at the top.
    pub path: String,
    pub kind: String,
    pub start: DateTime<Utc>,
    /// `None` while the state runs.
    pub end: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceRecord {
    pub kind: String,
    pub id: String,
    /// The step that created or deleted it.
    pub step: String,
    pub at: DateTime<Utc>,
}

/// The report as a Markdown document.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    outcome(&mut out, report);
    timeline(&mut out, report);
    resources(&mut out, report);
    checks(&mut out, report);
    if let Some(cost) = &report.cost {
        cost_section(&mut out, cost);
    }
    next_steps(&mut out, report);
    out
}

fn outcome(out: &mut String, r: &RunReport) {
    let (title, summary) = match r.outcome {
        Outcome::Succeeded => ("succeeded", "Succeeded: staging is up and every check passed."),
        Outcome::RolledBack => ("rolled back", "Rolled back: the run failed and everything it created was removed."),
        Outcome::Failed => ("failed", "Failed without a complete rollback (or before anything was created)."),
    };
    out.push_str(&format!("# Rehearsal {}: {title}\n\n{summary}\n\n", inline(&r.run_id)));
    out.push_str("| | |\n|---|---|\n");
    row(out, &["Run", &format!("{} (execution {})", code(&r.run_id), code(&r.execution_name))]);
    row(out, &["Ran on", &cell(&r.ran_on)]);
    row(out, &["Started", &timestamp(r.started_at)]);
    row(out, &["Took", &duration(r.seconds)]);
    if let Some(url) = &r.staging_url {
        row(out, &["Staging", &cell(url)]);
    }
    if let Some(release) = &r.release {
        let ran = match (&release.image, &release.requested_image, &release.branch) {
            (Some(image), Some(requested), _) => {
                format!("{} (pinned from {}): a promotion deploys exactly this digest", code(image), code(requested))
            }
            (_, _, branch) => format!(
                "branch {} as built then: a promotion deploys the branch's head at that time, which staging may not have run",
                code(branch.as_deref().unwrap_or("?"))
            ),
        };
        row(out, &["Release", &format!("{ran} ({})", release.backend.name())]);
    }
    if let Some(line) = &r.warm_up {
        row(out, &["Warm-up", &cell(line)]);
    }
    if let Some(at) = r.teardown_at {
        row(out, &["Torn down", &format!("by its schedule at {}", timestamp(at))]);
    }
    if let Some(error) = &r.error {
        row(out, &["Error", &code(error)]);
    }
    out.push('\n');
    if let Some(cause) = &r.cause {
        out.push_str(&format!("Cause:\n\n{}\n", fenced("text", cause)));
    }
}

/// One Gantt row per state (first entry to last exit, `×N` when entered N times), grouped in
/// sections by branch in the order the branches started.
fn timeline(out: &mut String, r: &RunReport) {
    if r.states.is_empty() {
        return;
    }
    struct Row<'a> {
        state: &'a StateTiming,
        end: Option<DateTime<Utc>>,
        entries: usize,
    }
    let mut sections: Vec<(&str, Vec<Row>)> = Vec::new();
    for state in &r.states {
        let rows = match sections.iter_mut().find(|(path, _)| *path == state.path) {
            Some((_, rows)) => rows,
            None => {
                sections.push((&state.path, Vec::new()));
                &mut sections.last_mut().expect("just pushed").1
            }
        };
        match rows.iter_mut().find(|row| row.state.name == state.name) {
            Some(row) => {
                row.entries += 1;
                row.end = match (row.end, state.end) {
                    (Some(a), Some(b)) => Some(a.max(b)),
                    _ => None,
                };
            }
            None => rows.push(Row { state, end: state.end, entries: 1 }),
        }
    }
    let finish = r.started_at + chrono::Duration::milliseconds((r.seconds * 1000.0).round() as i64);
    // Mermaid leaves section titles 75 px by default; branch titles need more not to run into the bars.
    let widest = sections.iter().map(|(path, _)| section_name(path).chars().count()).max().unwrap_or(0);
    let mut chart = vec![
        "---".to_string(),
        "config:".to_string(),
        "  gantt:".to_string(),
        format!("    leftPadding: {}", (widest * 8 + 16).clamp(75, 400)),
        "---".to_string(),
        "gantt".to_string(),
        format!("  title {}", gantt_text(&format!("Timeline ({})", r.ran_on))),
        "  dateFormat YYYY-MM-DDTHH:mm:ss.SSS".to_string(),
        format!("  axisFormat {}", if r.seconds >= 600.0 { "%H:%M" } else { "%H:%M:%S" }),
        "  todayMarker off".to_string(),
    ];
    let mut id = 0;
    for (path, rows) in &sections {
        chart.push(format!("  section {}", gantt_text(&section_name(path))));
        for row in rows {
            let mut name = row.state.name.clone();
            if row.entries > 1 {
                name.push_str(&format!(" ×{}", row.entries));
            }
            let mut tags = Vec::new();
            if row.state.kind == "Fail" {
                tags.push("crit");
            }
            tags.push(if row.end.is_some() { "done" } else { "active" });
            let start = row.state.start;
            let end = row.end.unwrap_or(finish.max(start));
            let until = if end == start {
                tags.push("milestone");
                "0ms".to_string()
            } else {
                gantt_time(end)
            };
            chart.push(format!("  {} :{}, t{id}, {}, {until}", gantt_text(&name), tags.join(", "), gantt_time(start)));
            id += 1;
        }
    }
    out.push_str("## Timeline\n\n");
    out.push_str(&fenced("mermaid", &(chart.join("\n") + "\n")));
    out.push('\n');
}

/// `Main`, or `PrepareStaging, branch 1` (`A, branch 1 › B, branch 2` when nested).
fn section_name(path: &str) -> String {
    if path.is_empty() {
        return "Main".to_string();
    }
    let parts: Vec<&str> = path.split('/').collect();
    parts
        .chunks(2)
        .map(|pair| match pair {
            [name, index] => {
                format!("{name}, branch {}", index.parse::<usize>().map_or_else(|_| index.to_string(), |i| (i + 1).to_string()))
            }
            [name] => name.to_string(),
            _ => String::new(),
        })
        .collect::<Vec<_>>()
        .join(" › ")
}

fn resources(out: &mut String, r: &RunReport) {
    out.push_str("## Resources\n\n");
    for (title, records) in [("Created", &r.resources_created), ("Deleted", &r.resources_deleted)] {
        out.push_str(&format!("### {title} ({})\n\n", records.len()));
        if records.is_empty() {
            out.push_str("None.\n\n");
            continue;
        }
        out.push_str("| Kind | Id | Step | At |\n|---|---|---|---|\n");
        for record in records.iter() {
            row(out, &[&cell(&record.kind), &code(&record.id), &cell(&record.step), &timestamp(record.at)]);
        }
        out.push('\n');
    }
    out.push_str(&format!("### Still there ({})\n\n", r.leftovers.len()));
    if r.leftovers.is_empty() {
        out.push_str("Nothing the run created is left.\n\n");
    } else {
        r.leftovers.iter().for_each(|l| out.push_str(&format!("- {}\n", code(l))));
        out.push('\n');
    }
    if r.production_writes.is_empty() {
        out.push_str("Production was only read.\n\n");
    } else {
        out.push_str(&format!("**Production was written {} time(s):**\n\n", r.production_writes.len()));
        r.production_writes.iter().for_each(|w| out.push_str(&format!("- {}\n", inline(w))));
        out.push('\n');
    }
}

fn checks(out: &mut String, r: &RunReport) {
    let passed = r.checks.iter().filter(|c| c.passed).count();
    out.push_str(&format!("## Checks ({passed} of {} passed)\n\n", r.checks.len()));
    if r.checks.is_empty() {
        let why = match r.outcome {
            Outcome::Succeeded => "The run reported none.",
            _ => "The run stopped before its checks reported; the cause above says why.",
        };
        out.push_str(&format!("{why}\n\n"));
        return;
    }
    out.push_str("| | Check | Expected | Found |\n|---|---|---|---|\n");
    for check in &r.checks {
        let mark = if check.passed { "✅" } else { "❌" };
        row(out, &[mark, &cell(&check.name), &cell(&check.expected), &cell(&check.found)]);
    }
    out.push('\n');
}

fn cost_section(out: &mut String, cost: &CostEstimate) {
    out.push_str("## Cost\n\n");
    out.push_str(&format!("{}\n\n", inline(&cost.note)));
    out.push_str("| Item | Quantity | Unit price | Per hour | Per run |\n|---|---|---:|---:|---:|\n");
    for line in &cost.lines {
        let price = line.unit_price.map_or_else(|| "unknown".to_string(), |p| format!("{} / {}", money(p), line.unit));
        let amount = |x: Option<f64>, applies: bool| match (x, applies) {
            (Some(x), _) => money(x),
            (None, true) => "unknown".to_string(),
            (None, false) => String::new(),
        };
        let hourly = line.per_run.is_none();
        row(out, &[&cell(&line.item), &cell(&line.quantity), &price, &amount(line.per_hour, hourly), &amount(line.per_run, !hourly)]);
    }
    out.push_str(&format!(
        "\nAbout {} per hour and {} per day while staging exists; the run itself about {}; for its {} h time to live about {}{}.\n\n",
        money(cost.per_hour),
        money(cost.per_day),
        money(cost.per_run),
        number(cost.ttl_hours),
        money(cost.for_ttl),
        if cost.unknown.is_empty() { "" } else { ", without the lines priced unknown" }
    ));
}

fn next_steps(out: &mut String, r: &RunReport) {
    let mut steps = Vec::new();
    match r.outcome {
        Outcome::Succeeded => {
            let url = r.staging_url.as_deref().map(|u| format!(" at {}", inline(u))).unwrap_or_default();
            steps.push(format!("Try staging{url}: it runs the release candidate on a copy of production's data."));
            let until = r.teardown_at.map(|at| format!(" before its teardown at {}", timestamp(at))).unwrap_or_default();
            steps.push(format!("Promote the release when staging looks right, or tear staging down{until} to stop paying for it."));
        }
        Outcome::RolledBack => steps.push("Nothing the run created is left. Fix what the error above says, then run again.".to_string()),
        Outcome::Failed if !r.leftovers.is_empty() => steps.push(format!(
            "The rollback did not finish: {} resource(s) the run created are still there (above) and cost money; tear the run down{}.",
            r.leftovers.len(),
            r.teardown_at.map(|at| format!(" (its schedule also tries at {})", timestamp(at))).unwrap_or_default()
        )),
        Outcome::Failed => steps.push("The run created nothing. Fix what the error above says, then run again.".to_string()),
    }
    if !r.production_writes.is_empty() {
        steps.push("Production was written by a staging run: find out why before the next run (the writes are listed above).".into());
    }
    steps.extend(r.next_steps.iter().map(|s| inline(s)));
    out.push_str("## Next steps\n\n");
    steps.iter().for_each(|s| out.push_str(&format!("- {s}\n")));
}

fn row(out: &mut String, cells: &[&str]) {
    out.push_str(&format!("| {} |\n", cells.join(" | ")));
}

/// Text for a table cell: one line, pipes escaped, Markdown punctuation taken literally.
fn cell(text: &str) -> String {
    inline(text).replace('|', "\\|")
}

/// Text in a paragraph, taken literally: Markdown's punctuation backslash-escaped, one line.
fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// A code span that holds any text, pipes escaped for tables (GitHub honours `\|` in a span).
fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let longest = longest_run(&text, '`');
    let ticks = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{ticks}{pad}{}{pad}{ticks}", text.replace('|', "\\|"))
}

/// A fenced block whose fence is longer than any backtick run in `text`.
fn fenced(info: &str, text: &str) -> String {
    let fence = "`".repeat(longest_run(text, '`').max(2) + 1);
    let body = if text.ends_with('\n') { text.to_string() } else { format!("{text}\n") };
    format!("{fence}{info}\n{body}{fence}\n")
}

fn longest_run(text: &str, c: char) -> usize {
    text.split(|x| x != c).map(str::len).max().unwrap_or(0)
}

/// Text in a Gantt task, section or title: a colon, semicolon or hash would end or comment the
/// line, so they and other markup become Mermaid entity codes.
fn gantt_text(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            ':' | ';' | '#' | '<' | '>' | '&' | '"' | '%' => format!("#{};", u32::from(c)),
            '\n' | '\r' => " ".to_string(),
            c => c.to_string(),
        })
        .collect()
}

fn gantt_time(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3f").to_string()
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// `32 min 0 s`, `1 h 5 min`, `12.5 s`.
fn duration(seconds: f64) -> String {
    let whole = seconds.round() as u64;
    match whole {
        0..=59 => format!("{} s", number(seconds)),
        60..=3599 => format!("{} min {} s", whole / 60, whole % 60),
        _ => format!("{} h {} min", whole / 3600, whole / 60 % 60),
    }
}

/// Dollars with enough digits for small amounts: `$0.0312`, `$1.23`.
fn money(usd: f64) -> String {
    if usd == 0.0 {
        "$0".to_string()
    } else if usd.abs() < 0.01 {
        format!("${usd:.6}").trim_end_matches('0').to_string()
    } else if usd.abs() < 1.0 {
        format!("${usd:.4}")
    } else {
        format!("${usd:.2}")
    }
}

fn number(x: f64) -> String {
    let text = format!("{x:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cost::{estimate, Backend, RunUsage, StagingEnvironment};
    use chrono::TimeZone;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap() + chrono::Duration::seconds(seconds)
    }

    fn state(name: &str, path: &str, kind: &str, start: i64, end: Option<i64>) -> StateTiming {
        StateTiming { name: name.into(), path: path.into(), kind: kind.into(), start: at(start), end: end.map(at) }
    }

    fn succeeded() -> RunReport {
        RunReport {
            run_id: "tableicty-20261124".into(),
            execution_name: "local".into(),
            outcome: Outcome::Succeeded,
            error: None,
            cause: None,
            started_at: at(0),
            seconds: 1920.0,
            ran_on: "the simulated account, virtual clock".into(),
            states: vec![
                state("PlanRehearsal", "", "Task", 0, Some(0)),
                state("PrepareStaging", "", "Parallel", 0, Some(1320)),
                state("WaitForSnapshot", "PrepareStaging/0", "Wait", 0, Some(60)),
                state("WriteStagingParameters", "PrepareStaging/1", "Task", 0, Some(2)),
                state("WaitForSnapshot", "PrepareStaging/0", "Wait", 60, Some(120)),
                state("Summary", "", "Pass", 1920, Some(1920)),
            ],
            checks: vec![
                CheckResult::new("health endpoint returns 200", true, "200", "200"),
                CheckResult::new("tenant | registration", true, "201", "201 `ok`"),
            ],
            resources_created: vec![ResourceRecord {
                kind: "db-instance".into(),
                id: "tableicty-staging-db".into(),
                step: "restore_staging_database".into(),
                at: at(600),
            }],
            resources_deleted: vec![],
            leftovers: vec!["db-instance tableicty-staging-db".into()],
            production_writes: vec![],
            staging_url: Some("https://abc.us-east-1.awsapprunner.com".into()),
            release: None,
            teardown_at: Some(at(86400)),
            warm_up: None,
            cost: None,
            next_steps: vec!["rehearsal promote tableicty-20261124".into()],
        }
    }

    #[test]
    fn a_warm_up_is_a_row_of_the_summary() {
        let report = RunReport { warm_up: Some("warmed 1 table(s): first query on a|b 90 ms before, 2 ms after".into()), ..succeeded() };
        let text = render(&report);
        let row = "| Warm-up | warmed 1 table(s): first query on a\\|b 90 ms before, 2 ms after |\n| Torn down |";
        assert!(text.contains(row), "{text}");
        assert!(!render(&succeeded()).contains("Warm-up"));
    }

    #[test]
    fn a_successful_run_in_full() {
        let expected = r#"# Rehearsal tableicty-20261124: succeeded

Succeeded: staging is up and every check passed.

| | |
|---|---|
| Run | `tableicty-20261124` (execution `local`) |
| Ran on | the simulated account, virtual clock |
| Started | 2026-11-24 09:00:00 UTC |
| Took | 32 min 0 s |
| Staging | https://abc.us-east-1.awsapprunner.com |
| Torn down | by its schedule at 2026-11-25 09:00:00 UTC |

## Timeline

```mermaid
---
config:
  gantt:
    leftPadding: 208
---
gantt
  title Timeline (the simulated account, virtual clock)
  dateFormat YYYY-MM-DDTHH:mm:ss.SSS
  axisFormat %H:%M
  todayMarker off
  section Main
  PlanRehearsal :done, milestone, t0, 2026-11-24T09:00:00.000, 0ms
  PrepareStaging :done, t1, 2026-11-24T09:00:00.000, 2026-11-24T09:22:00.000
  Summary :done, milestone, t2, 2026-11-24T09:32:00.000, 0ms
  section PrepareStaging, branch 1
  WaitForSnapshot ×2 :done, t3, 2026-11-24T09:00:00.000, 2026-11-24T09:02:00.000
  section PrepareStaging, branch 2
  WriteStagingParameters :done, t4, 2026-11-24T09:00:00.000, 2026-11-24T09:00:02.000
```

## Resources

### Created (1)

| Kind | Id | Step | At |
|---|---|---|---|
| db-instance | `tableicty-staging-db` | restore\_staging\_database | 2026-11-24 09:10:00 UTC |

### Deleted (0)

None.

### Still there (1)

- `db-instance tableicty-staging-db`

Production was only read.

## Checks (2 of 2 passed)

| | Check | Expected | Found |
|---|---|---|---|
| ✅ | health endpoint returns 200 | 200 | 200 |
| ✅ | tenant \| registration | 201 | 201 \`ok\` |

## Next steps

- Try staging at https://abc.us-east-1.awsapprunner.com: it runs the release candidate on a copy of production's data.
- Promote the release when staging looks right, or tear staging down before its teardown at 2026-11-25 09:00:00 UTC to stop paying for it.
- rehearsal promote tableicty-20261124
"#;
        assert_eq!(render(&succeeded()), expected);
    }

    #[test]
    fn a_rolled_back_run_shows_the_cause_failed_states_and_what_it_removed() {
        let mut report = succeeded();
        report.outcome = Outcome::RolledBack;
        report.error = Some("CheckFailedError".into());
        report.cause = Some("health endpoint returns 200: expected 200, found ```500```".into());
        report.states.push(state("RolledBack", "", "Fail", 1980, Some(1980)));
        report.states.push(state("RollbackStaging", "", "Task", 1940, None));
        report.seconds = 2000.0;
        report.checks.clear();
        report.leftovers.clear();
        report.resources_deleted = report.resources_created.clone();
        report.staging_url = None;
        report.next_steps.clear();
        let text = render(&report);
        assert!(text.starts_with("# Rehearsal tableicty-20261124: rolled back\n"), "{text}");
        assert!(text.contains("| Error | `CheckFailedError` |"), "{text}");
        // A fence longer than the backticks in the cause.
        assert!(text.contains("Cause:\n\n````text\nhealth endpoint returns 200: expected 200, found ```500```\n````\n"), "{text}");
        assert!(text.contains("  RolledBack :crit, done, milestone, t3, 2026-11-24T09:33:00.000, 0ms"), "{text}");
        // Still running when the report was written: drawn to the run's end.
        assert!(text.contains("  RollbackStaging :active, t4, 2026-11-24T09:32:20.000, 2026-11-24T09:33:20.000"), "{text}");
        assert!(text.contains("### Deleted (1)\n"), "{text}");
        assert!(text.contains("Nothing the run created is left.\n"), "{text}");
        assert!(text.contains("## Checks (0 of 0 passed)\n\nThe run stopped before its checks reported"), "{text}");
        assert!(
            text.ends_with("## Next steps\n\n- Nothing the run created is left. Fix what the error above says, then run again.\n"),
            "{text}"
        );
    }

    #[test]
    fn leftovers_and_production_writes_are_called_out() {
        let mut report = succeeded();
        report.outcome = Outcome::Failed;
        report.production_writes = vec!["parameter /tableicty/production/FRONTEND_URL".into()];
        let text = render(&report);
        assert!(text.contains("**Production was written 1 time(s):**\n\n- parameter /tableicty/production/FRONTEND\\_URL\n"), "{text}");
        assert!(text.contains("- The rollback did not finish: 1 resource(s) the run created are still there"), "{text}");
        assert!(text.contains("- Production was written by a staging run"), "{text}");
    }

    #[test]
    fn names_are_escaped_for_mermaid_and_markdown() {
        assert_eq!(gantt_text("Step: one; #2 <b> 50%"), "Step#58; one#59; #35;2 #60;b#62; 50#37;");
        assert_eq!(section_name("Outer/0/Inner/1"), "Outer, branch 1 › Inner, branch 2");
        assert_eq!(cell("a|b *c* [d](e)"), "a\\|b \\*c\\* \\[d\\](e)");
        assert_eq!(code("x`y|z"), "``x`y\\|z``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(
            (money(0.0), money(0.0000133), money(0.0312), money(12.345)),
            ("$0".into(), "$0.000013".into(), "$0.0312".into(), "$12.35".into())
        );
        assert_eq!((duration(12.5), duration(1920.0), duration(3900.0)), ("12.5 s".into(), "32 min 0 s".into(), "1 h 5 min".into()));
    }

    #[test]
    fn the_cost_table_has_every_line_and_the_totals() {
        let mut report = succeeded();
        let env = StagingEnvironment {
            region: "eu-central-1".into(),
            db_instance_class: "db.t3.micro".into(),
            db_storage_gb: 20.0,
            db_storage_type: "gp2".into(),
            snapshot_gb: 20.0,
            backend: Backend::AppRunner { vcpu: 0.25, memory_gb: 0.5, active_share: 1.0 },
            standard_parameters: 8,
            advanced_parameters: 0,
            ttl_hours: 24.0,
            run: RunUsage { state_transitions: 186, lambda_invocations: 68, lambda_gb_seconds: 30.0, schedule_invocations: 1 },
        };
        let cost = estimate(&env).unwrap();
        let lines = cost.lines.len();
        report.cost = Some(cost);
        let text = render(&report);
        let section = &text[text.find("## Cost").unwrap()..text.find("## Next steps").unwrap()];
        assert!(section.contains("An estimate, not a quote or a bill"), "{section}");
        assert_eq!(section.lines().filter(|l| l.starts_with("| ")).count(), lines + 1, "{section}");
        assert!(section.contains("| RDS instance db.t3.micro | 1 instance | unknown | unknown |  |"), "{section}");
        assert!(section.contains("| Step Functions state transitions | 186 | $0.0250 / 1,000 transitions |  | $0.00465 |"), "{section}");
        assert!(section.contains("for its 24 h time to live about $0.00465, without the lines priced unknown."), "{section}");
    }
}
