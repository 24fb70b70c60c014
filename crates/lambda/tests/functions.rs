//! `functions/` holds one binary per step, named after it and serving that step: a copy-paste
//! slip would deploy one step's code under another's name. (Other functions live there too.)

use rehearsal_lambda::Step;
use std::fs;
use std::path::Path;

fn functions_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../functions"))
}

#[test]
fn every_step_has_a_function_named_after_it_that_serves_it() {
    for step in Step::ALL {
        let dir = functions_dir().join(step.name());
        let manifest = fs::read_to_string(dir.join("Cargo.toml")).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let package = format!("name = \"rehearsal-fn-{}\"", step.name().replace('_', "-"));
        assert!(manifest.contains(&package), "{}: expected {package}", dir.display());
        let binary = format!("[[bin]]\nname = \"{}\"\npath = \"src/main.rs\"", step.name());
        assert!(manifest.contains(&binary), "{}: expected {binary}", dir.display());

        let main = fs::read_to_string(dir.join("src/main.rs")).unwrap();
        let call = format!("serve(Step::{step:?})");
        assert!(main.contains(&call), "{}: expected {call}", dir.display());
        assert_eq!(main.matches("Step::").count(), 1, "{}: serves one step", dir.display());
    }
}
