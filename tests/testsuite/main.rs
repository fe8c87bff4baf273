//! The one integration-test binary (one binary links once: much faster on two cores than a
//! binary per file). Modules per feature; `harness` is the fluent runner they share.

mod cli;
mod compile;
mod completions;
mod deploy;
mod drift;
mod export;
mod fuzz_corpus;
mod harness;
mod import;
mod injection;
mod invalid;
mod pipelines;
mod report;
mod robustness;
mod rollback;
mod shipped;
mod sim_audit;
mod sim_auth;
mod sim_batch;
mod sim_clients;
mod sim_graph;
mod sim_state;
mod sim_support;
mod sync;
mod valid;
