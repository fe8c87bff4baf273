//! Reading ahead while the project validates: a run that only compares (`plan`, `drift`)
//! signs each tenant in and sends its first Conditional Access read as soon as the tenant's
//! bundle has validated, instead of once the whole fleet has. Graph answers Conditional Access
//! one request per second per tenant, so a tenant's paced reads are a chain of seconds that
//! starts with its first read; on a fleet of a thousand, validating took the first third of a
//! second of a `plan --all`, and every chain started after it. The scheduler then takes each
//! tenant's session (signed in) and the answer in place of signing in and sending that read.
//!
//! What is read ahead is bounded as the scheduler admits tenants: by the memory budget (each
//! tenant's estimated footprint) and the `--concurrency` cap; tenants past it start as before.
//! A project that does not validate still plans nothing: the reads already sent only read.
//!
//! Input: each validated bundle with its tenant (the compile sink). Output: per tenant, an
//! [`Ahead`] the scheduler takes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::compile::validate::ValidatedBundle;
use crate::deploy::admission::footprint;
use crate::deploy::fleet::Fleet;
use crate::deploy::tenant::{session_of, ungranted};
use crate::graph::client::{GraphClient, NoObserver, TenantSession};
use crate::live::reader::{EarlyRead, first_paced_read};
use crate::source::model::Tenant;

/// What was started for one tenant ahead of the scheduler.
#[derive(Debug)]
pub struct Ahead {
    /// Its session, signed in (or signing in).
    pub session: Arc<TenantSession>,
    /// Its first Conditional Access read, when its bundle has one.
    pub first_read: Option<EarlyRead>,
}

/// The tenants read ahead, and what is left of the budget for more.
#[derive(Debug)]
pub struct ReadAhead {
    runtime: tokio::runtime::Handle,
    client: Arc<GraphClient>,
    budget: u64,
    cap: Option<usize>,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Estimated bytes of the tenants started.
    used: u64,
    /// Tenants started.
    started: usize,
    tenants: HashMap<String, Ahead>,
}

impl ReadAhead {
    /// Reads ahead through `client`, on `runtime`, for tenants whose estimated footprints
    /// ([`footprint`]) fit in `budget`, at most `cap` of them.
    pub fn new(
        runtime: tokio::runtime::Handle,
        client: Arc<GraphClient>,
        budget: u64,
        cap: Option<usize>,
    ) -> ReadAhead {
        ReadAhead {
            runtime,
            client,
            budget,
            cap,
            state: Mutex::new(State::default()),
        }
    }

    /// Reading ahead for a run with `options` (its memory budget and `--concurrency` cap),
    /// through `client`, on `runtime`.
    pub fn for_run(
        runtime: &tokio::runtime::Runtime,
        client: &Arc<GraphClient>,
        options: &crate::deploy::DeployOptions,
    ) -> Arc<ReadAhead> {
        Arc::new(ReadAhead::new(
            runtime.handle().clone(),
            client.clone(),
            options.memory_budget,
            options.concurrency,
        ))
    }

    /// Sign `tenant` in and send its first Conditional Access read, if it fits. A tenant whose
    /// session cannot be made (its credentials), or whose facts do not grant a permission its
    /// bundle needs (nothing is sent to it: the plan names the permission), is left to the
    /// scheduler, which says why.
    pub fn start(&self, fleet: &Fleet, tenant: &Tenant, bundle: &ValidatedBundle) {
        let operations = &bundle.bundle().operations;
        let id = bundle.bundle().tenant.id.clone();
        if !ungranted(tenant, operations).is_empty() {
            return;
        }
        let cost = footprint(operations.len());
        {
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            if self.cap.is_some_and(|cap| state.started >= cap) || state.used + cost > self.budget {
                return;
            }
            state.used += cost;
            state.started += 1;
        }
        let Ok(session) = session_of(fleet, &id, tenant) else {
            // Not read ahead after all: its place goes to the next tenant.
            let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
            state.used -= cost;
            state.started -= 1;
            return;
        };
        let session = Arc::new(session);
        let first_read = first_paced_read(operations).map(|request| {
            let (sender, answer) = tokio::sync::oneshot::channel();
            let path = request.path.clone();
            let client = self.client.clone();
            let session = session.clone();
            self.runtime.spawn(async move {
                // Sent as the reader sends it (paced, retried); the reader's next paced read
                // is paced after this one's answer. A failed sign-in is the read's error.
                let answer = client.send(&session, &request, &NoObserver).await;
                // The receiver is gone when the tenant did not get to read: nothing to keep.
                let _ = sender.send(answer);
            });
            EarlyRead { path, answer }
        });
        if first_read.is_none() {
            // No paced read: signing in ahead is all.
            let client = self.client.clone();
            let session = session.clone();
            self.runtime.spawn(async move {
                // A sign-in that fails here fails again, and is reported, when the tenant starts.
                let _ = client.token(&session, false, &NoObserver).await;
            });
        }
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.tenants.insert(
            id,
            Ahead {
                session,
                first_read,
            },
        );
    }

    /// What was started for `tenant`, taken (once).
    pub fn take(&self, tenant: &str) -> Option<Ahead> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.tenants.remove(tenant)
    }

    /// How many tenants were read ahead.
    pub fn started(&self) -> usize {
        self.state.lock().unwrap_or_else(|p| p.into_inner()).started
    }
}
