//! The Graph client used by plan and deploy: clouds and endpoints, authentication, retries and
//! pacing. Pure decision logic (what to retry, how long to wait, when a tenant may send its
//! next request) lives apart from I/O so tests drive it with an injected clock and RNG.
//!
//! Input: a tenant's cloud and endpoint overrides, responses' statuses and headers. Output:
//! URLs, retry decisions, waits.

pub mod auth;
pub mod client;
pub mod cloud;
pub mod lean;
pub mod pacing;
pub mod retry;
