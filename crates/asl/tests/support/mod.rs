//! Helpers the execution tests share.

use rehearsal_asl::Event;

/// Virtual seconds at which each attempt of `state`'s task was scheduled.
pub fn scheduled_at(events: &[Event], state: &str) -> Vec<f64> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::TaskScheduled { name, at, .. } if name == state => Some(at.as_secs_f64()),
            _ => None,
        })
        .collect()
}
