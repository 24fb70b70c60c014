//! StripeClient against a stand-in for Stripe's webhook endpoints API on a loopback port: alone,
//! and under core's staging step and rollback.

#[path = "../loopback/mod.rs"]
mod loopback;

mod client;
mod stand_in;
mod step;
