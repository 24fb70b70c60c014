//! `rehearsal asl diagram`: the Mermaid flowchart of a definition ([`rehearsal_asl::flowchart`]),
//! which the README's diagrams are (tests/diagrams_and_estimates.rs holds them to it).

use crate::asl_run::parse_substitution;
use crate::exit::{CliError, Exit};
use rehearsal_asl::{flowchart, substitute, Definition};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(clap::Args)]
pub struct AslDiagramCommand {
    /// The ASL (JSONPath) definition file.
    definition: PathBuf,
    /// A value for a `${KEY}` placeholder, as SAM's DefinitionSubstitutions. The chart does not
    /// show resources, so a placeholder without one stands for a Lambda function of its name.
    /// Repeatable.
    #[arg(long = "substitute", value_name = "KEY=VALUE", value_parser = parse_substitution)]
    substitute: Vec<(String, String)>,
    /// Wrap the chart in a ```mermaid fence, as Markdown shows it.
    #[arg(long)]
    markdown: bool,
}

impl AslDiagramCommand {
    pub fn run(self) -> Result<Exit, CliError> {
        let text =
            std::fs::read_to_string(&self.definition).map_err(|e| CliError::Refused(format!("{}: {e}", self.definition.display())))?;
        print!("{}", diagram(&text, &self.substitute.into_iter().collect(), self.markdown)?);
        Ok(Exit::Succeeded)
    }
}

/// The chart of `text`, its placeholders substituted: from `given`, or with a function ARN.
pub fn diagram(text: &str, given: &BTreeMap<String, String>, markdown: bool) -> Result<String, CliError> {
    let mut values = given.clone();
    for name in text.split("${").skip(1).filter_map(|rest| rest.split_once('}')).map(|(name, _)| name) {
        if !name.starts_with('!') && !values.contains_key(name) {
            values.insert(name.to_string(), format!("arn:aws:lambda:us-east-1:000000000000:function:{name}"));
        }
    }
    let refused = |e: rehearsal_asl::AslError| CliError::Refused(e.to_string());
    let chart = flowchart(&Definition::parse(&substitute(text, &values).map_err(refused)?).map_err(refused)?);
    Ok(if markdown { format!("```mermaid\n{chart}```\n") } else { chart })
}
