//! StripeClient against a stand-in for Stripe's webhook endpoints API on a loopback port.

#[path = "../loopback/mod.rs"]
mod loopback;

mod client;
mod stand_in;
