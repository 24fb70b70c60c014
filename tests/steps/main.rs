//! Each step on its own, through its JSON boundary (`rehearsal_core::steps::invoke`) against the
//! simulated account, without the state machines: one module per handler module of
//! `crates/core/src/steps/`, named after it. Where a step applies, its tests cover a fresh run
//! (what it creates, with the run's tags, and the phase it answers), a re-run adopting what it
//! made, a foreign resource under the planned name (refused, untouched), what it watches
//! vanishing, the AlreadyExists race (the sim's `already-exists` fault), a malformed input
//! field, and production left unwritten. The end-to-end tests run the same steps through the
//! definitions.

mod backfill;
mod common;
mod lease;
mod masking;
mod migrations;
mod plan_rehearsal;
mod prewarm;
mod production_rollback;
mod production_snapshot;
mod promote;
mod rollback;
mod staging_database;
mod staging_frontend;
mod staging_parameters;
mod staging_service;
mod stripe_webhook;
mod teardown;
mod teardown_schedule;
mod validation;
