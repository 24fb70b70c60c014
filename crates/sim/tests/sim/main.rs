//! The simulated account against the capability traits, on tokio's paused clock.

mod app;
mod common;
mod ecs;
mod faults;
mod images;
mod lifecycles;
mod production;
mod promotion;
mod stripe;

/// A session is what the step handlers and the local runner need: every capability, shareable.
#[test]
fn a_session_is_a_whole_cloud_and_cheap_to_share() {
    fn cloud<C: rehearsal_core::steps::Cloud + Clone + Send + Sync + 'static>() {}
    cloud::<rehearsal_sim::SimCloud>();
}
