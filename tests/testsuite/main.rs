//! The one integration-test binary (one binary links once: much faster on two cores than a
//! binary per file). Modules per feature; `harness` is the fluent runner they share.

mod azurite;
mod cli;
mod compile;
mod completions;
mod deploy;
mod drift;
mod evidence;
mod export;
mod facts;
mod fuzz_corpus;
mod harness;
mod import;
mod injection;
mod intune;
mod invalid;
mod kinds_domains_pim;
mod kinds_entra;
mod monitors;
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
mod sim_tcm;
mod state;
mod sync;
mod valid;
