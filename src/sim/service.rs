//! The simulator's shared state ([`App`]) and the pipeline every Graph request (and every
//! `$batch` item) goes through: bearer check → latency → injected fault → route (from the
//! registry) → throttle admission with the kind's class → permission check → handler → log.
//!
//! Input: the parts of an HTTP request. Output: a [`FinishedReply`] (or a dropped connection).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use crate::kinds::{ApiVersion, Kind};
use crate::sim::SimConfig;
use crate::sim::auth::{AccessClaims, Issuer, TokenRequest};
use crate::sim::bodies::Schemas;
use crate::sim::clock::Clock;
use crate::sim::faults::{Fault, Faults};
use crate::sim::graph::{Call, GraphRequest, resolve_directory};
use crate::sim::log::{Record, RequestLog};
use crate::sim::query::Query;
use crate::sim::routes::RouteTable;
use crate::sim::state::{Defaults, Tenant, TenantState};
use crate::sim::throttle::{self, Admission, Throttle, ThrottleRequest};
use crate::sim::wire::{FinishedReply, Reply, RequestIds};

/// The headers of an HTTP request the simulator reads.
#[derive(Debug, Clone, Default)]
pub(crate) struct RequestHeaders {
    /// `Authorization`.
    pub(crate) authorization: Option<String>,
    /// `client-request-id`.
    pub(crate) client_request_id: Option<String>,
    /// `Prefer` (all values, comma-joined).
    pub(crate) prefer: String,
    /// `Host` (or HTTP/2 `:authority`).
    pub(crate) host: Option<String>,
    /// `scheme://host[:port]` the client called: the base of URLs in answers.
    pub(crate) origin: String,
    /// `ConsistencyLevel`.
    pub(crate) consistency_level: Option<String>,
}

/// The simulator.
pub(crate) struct App {
    /// Configuration it started with.
    pub(crate) config: SimConfig,
    /// `http://ADDR`.
    pub(crate) base_url: String,
    /// The tenants, by index.
    pub(crate) tenants: Vec<Tenant>,
    by_id: HashMap<Box<str>, usize>,
    /// Compiled schemas.
    pub(crate) schemas: Arc<Schemas>,
    /// Shared birth objects.
    pub(crate) defaults: Defaults,
    /// Routes from the registry.
    pub(crate) routes: RouteTable,
    /// Throttling buckets.
    pub(crate) throttle: Throttle,
    /// Fault draws.
    pub(crate) faults: Faults,
    /// Faults queued by `POST /_sim/faults` (used before drawing).
    pub(crate) forced_faults: Mutex<VecDeque<Fault>>,
    /// Milliseconds every Graph HTTP request waits before it is answered, on top of the
    /// configured latency (`POST /_sim/stall`; 0: none): a slow service, so a test can land a
    /// kill in the middle of a run.
    pub(crate) stall_ms: std::sync::atomic::AtomicU64,
    /// The app registration and token signer.
    pub(crate) issuer: Issuer,
    /// The request log.
    pub(crate) log: RequestLog,
    /// Injected time.
    pub(crate) clock: Arc<dyn Clock>,
    /// Wall-clock milliseconds when the clock read zero.
    wall_start_ms: i64,
    /// The request a test holds in flight (`/_sim/stall`).
    pub(crate) stalls: crate::sim::stall::Stalls,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("base_url", &self.base_url)
            .field("tenants", &self.tenants.len())
            .finish_non_exhaustive()
    }
}

/// Everything `App::new` needs.
pub(crate) struct AppParts {
    pub(crate) config: SimConfig,
    pub(crate) base_url: String,
    pub(crate) tenants: Vec<Tenant>,
    pub(crate) schemas: Arc<Schemas>,
    pub(crate) throttle: Throttle,
    pub(crate) faults: Faults,
    pub(crate) issuer: Issuer,
}

/// The read-only permission that also allows reading what `permission` writes
/// (`Policy.ReadWrite.Authorization` → `Policy.Read.All`, `Group.ReadWrite.All` →
/// `Group.Read.All`).
fn read_counterpart(permission: &str) -> String {
    if permission.starts_with("Policy.ReadWrite.") {
        "Policy.Read.All".to_string()
    } else {
        permission.replace(".ReadWrite.", ".Read.")
    }
}

/// True when the token's roles allow the request: writes need every permission of the kind,
/// reads any one of them or its read-only counterpart (as Graph lets `Policy.Read.All` read a
/// policy whose ReadWrite permission was not granted).
fn permitted(kind: &Kind, write: bool, roles: &[String]) -> bool {
    let has = |p: &str| roles.iter().any(|r| r.eq_ignore_ascii_case(p));
    if write {
        kind.permissions.iter().all(|p| has(p))
    } else {
        kind.permissions
            .iter()
            .any(|p| has(p) || has(&read_counterpart(p)))
    }
}

/// Which audit log a path names, and the entry id when it names one.
#[derive(Debug, Clone, Copy)]
enum AuditLog<'a> {
    /// `/auditLogs/directoryAudits[/{id}]`.
    DirectoryAudits(Option<&'a str>),
    /// `/deviceManagement/auditEvents[/{id}]`.
    IntuneEvents(Option<&'a str>),
}

impl AuditLog<'_> {
    fn of_path(path: &str) -> Option<AuditLog<'_>> {
        let path = path.trim_end_matches('/');
        let split = |root: &str| -> Option<Option<&str>> {
            let rest = path
                .get(..root.len())
                .filter(|head| head.eq_ignore_ascii_case(root))
                .map(|_| &path[root.len()..])?;
            match rest {
                "" => Some(None),
                _ => rest
                    .strip_prefix('/')
                    .filter(|id| !id.is_empty() && !id.contains('/'))
                    .map(Some),
            }
        };
        split(crate::sim::audit::DIRECTORY_AUDITS)
            .map(AuditLog::DirectoryAudits)
            .or_else(|| split(crate::sim::audit::INTUNE_AUDIT_EVENTS).map(AuditLog::IntuneEvents))
    }
}

/// True when the token's roles hold `permission`.
fn has_role(claims: &AccessClaims, permission: &str) -> bool {
    claims
        .roles
        .iter()
        .any(|r| r.eq_ignore_ascii_case(permission))
}

/// The outcome of one Graph call, for the log.
pub(crate) struct Outcome {
    pub(crate) reply: Reply,
    pub(crate) throttled: bool,
    pub(crate) retry_after: Option<f64>,
    pub(crate) fault: Option<&'static str>,
}

impl Outcome {
    /// An answer that was neither throttled nor a fault.
    fn plain(reply: Reply) -> Outcome {
        Outcome {
            reply,
            throttled: false,
            retry_after: None,
            fault: None,
        }
    }

    /// Graph's 429, with `Retry-After` when the limit gives one and the throttle's headers.
    fn throttled(retry_after: Option<f64>, headers: Vec<(&'static str, String)>) -> Outcome {
        let mut reply = Reply::error(
            429,
            "TooManyRequests",
            "Too many requests. Please retry again later.",
        );
        if let Some(seconds) = retry_after {
            reply = reply.with_header("Retry-After", throttle::retry_after_value(seconds));
        }
        for (name, value) in headers {
            reply = reply.with_header(name, value);
        }
        Outcome {
            reply,
            throttled: true,
            retry_after,
            fault: None,
        }
    }
}

pub(crate) fn fault_name(fault: &Fault) -> &'static str {
    match fault {
        Fault::InternalError => "500",
        Fault::Unavailable {
            retry_after: Some(_),
        } => "503-retry-after",
        Fault::Unavailable { retry_after: None } => "503",
        Fault::GatewayTimeout => "504",
        Fault::DroppedConnection => "dropped-connection",
        Fault::LostResponse => "lost-response",
    }
}

/// The reply a fault stands for (a dropped connection inside a batch becomes a 504 item).
pub(crate) fn fault_reply(fault: &Fault, in_batch: bool) -> Reply {
    match fault {
        Fault::InternalError => {
            Reply::error(500, "generalException", "An unexpected error occurred.")
        }
        Fault::Unavailable { retry_after } => {
            let reply = Reply::error(
                503,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry after a delay.",
            );
            match retry_after {
                Some(seconds) => {
                    reply.with_header("Retry-After", throttle::retry_after_value(*seconds))
                }
                None => reply,
            }
        }
        Fault::GatewayTimeout => Reply::error(
            504,
            "gatewayTimeout",
            "The gateway did not receive a timely response.",
        ),
        Fault::DroppedConnection | Fault::LostResponse if in_batch => Reply::error(
            504,
            "gatewayTimeout",
            "The gateway did not receive a timely response.",
        ),
        Fault::DroppedConnection | Fault::LostResponse => Reply::dropped(),
    }
}

impl App {
    /// Assemble the simulator.
    pub(crate) fn new(parts: AppParts) -> App {
        let by_id = parts
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id.to_ascii_lowercase().into_boxed_str(), i))
            .collect();
        let defaults = Defaults::build(&parts.schemas);
        let log = RequestLog::new(parts.tenants.len(), parts.config.request_log_capacity);
        let wall_start_ms = jiff::Timestamp::now().as_millisecond();
        App {
            clock: parts.config.clock.clone(),
            config: parts.config,
            base_url: parts.base_url,
            tenants: parts.tenants,
            by_id,
            schemas: parts.schemas,
            defaults,
            routes: RouteTable::from_registry(),
            throttle: parts.throttle,
            faults: parts.faults,
            forced_faults: Mutex::new(VecDeque::new()),
            stall_ms: std::sync::atomic::AtomicU64::new(0),
            issuer: parts.issuer,
            log,
            wall_start_ms,
            stalls: crate::sim::stall::Stalls::default(),
        }
    }

    /// Clock milliseconds since start.
    pub(crate) fn clock_ms(&self) -> u64 {
        u64::try_from(self.clock.now().as_millis()).unwrap_or(u64::MAX)
    }

    /// Simulated wall-clock milliseconds since the epoch (start time + clock).
    pub(crate) fn now_ms(&self) -> i64 {
        self.wall_start_ms + i64::try_from(self.clock_ms()).unwrap_or(i64::MAX / 2)
    }

    /// A tenant by id (case-insensitive).
    pub(crate) fn tenant(&self, id: &str) -> Option<&Tenant> {
        self.by_id
            .get(id.to_ascii_lowercase().as_str())
            .map(|i| &self.tenants[*i])
    }

    /// Every object of a tenant by kind, with the tenant's id, name and consented roles (what
    /// `GET /_sim/tenants/{id}/state` answers).
    pub(crate) fn tenant_state(&self, tenant: &Tenant) -> serde_json::Value {
        let mut state = tenant.lock().export(&self.defaults);
        state["id"] = serde_json::json!(&*tenant.id);
        state["name"] = serde_json::json!(&*tenant.name);
        state["roles"] = serde_json::json!(tenant.roles);
        state["withdrawnPermissions"] = serde_json::json!(tenant.withdrawn);
        state
    }

    /// Put every tenant back to its birth state and forget the log and the buckets.
    pub(crate) fn reset(&self) {
        for tenant in &self.tenants {
            *tenant.lock() = TenantState::birth();
        }
        self.log.clear();
        self.throttle.reset();
        if let Ok(mut forced) = self.forced_faults.lock() {
            forced.clear();
        }
        self.stall_ms.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    /// The next fault: one queued by `/_sim/faults`, else a seeded draw.
    pub(crate) fn next_fault(&self) -> Option<Fault> {
        let forced = self
            .forced_faults
            .lock()
            .ok()
            .and_then(|mut queue| queue.pop_front());
        forced.or_else(|| self.faults.draw())
    }

    /// `POST /{tenant}/oauth2/v2.0/token`.
    pub(crate) fn token(
        &self,
        tenant_segment: &str,
        headers: &RequestHeaders,
        body: &[u8],
        path: &str,
    ) -> FinishedReply {
        let tenant = self.tenant(tenant_segment);
        let request = TokenRequest {
            tenant: tenant_segment,
            body,
            authorization: headers.authorization.as_deref(),
            client_request_id: headers.client_request_id.as_deref(),
            host: headers.host.as_deref(),
        };
        let now = self.now_ms();
        let reply = self.issuer.token(&request, tenant, &self.base_url, now);
        let request_id = reply
            .headers
            .iter()
            .find(|(n, _)| n == "x-ms-request-id")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        self.log.record(&Record {
            tenant: tenant.map(|t| t.index),
            method: "POST",
            path,
            status: reply.status,
            request_id: &request_id,
            batch_item: false,
            throttled: false,
            retry_after: None,
            fault: None,
            at_ms: now,
        });
        reply
    }

    /// Authenticate a Graph request: the caller's claims and tenant, or the 401.
    pub(crate) fn authenticate(
        &self,
        headers: &RequestHeaders,
    ) -> Result<(AccessClaims, &Tenant), Reply> {
        let claims = self
            .issuer
            .verify(headers.authorization.as_deref(), self.now_ms())?;
        match self.tenant(&claims.tid) {
            Some(tenant) => Ok((claims, tenant)),
            None => Err(Reply::error(
                401,
                "InvalidAuthenticationToken",
                "Access token validation failure. The token's tenant is unknown.",
            )),
        }
    }

    /// One Graph call (a request or a `$batch` item) after authentication: fault, route,
    /// throttle, permissions, handler.
    pub(crate) fn call(
        &self,
        claims: &AccessClaims,
        tenant: &Tenant,
        request: &GraphRequest<'_>,
        in_batch: bool,
    ) -> Outcome {
        match self.next_fault() {
            // The request is applied; only its answer is lost.
            Some(fault @ Fault::LostResponse) => {
                let mut outcome = self.call_unfaulted(claims, tenant, request);
                outcome.reply = fault_reply(&fault, in_batch);
                outcome.fault = Some(fault_name(&fault));
                outcome
            }
            Some(fault) => Outcome {
                reply: fault_reply(&fault, in_batch),
                throttled: false,
                retry_after: None,
                fault: Some(fault_name(&fault)),
            },
            None => self.call_unfaulted(claims, tenant, request),
        }
    }

    /// A Graph call without faults: route, throttle, permissions, handler.
    fn call_unfaulted(
        &self,
        claims: &AccessClaims,
        tenant: &Tenant,
        request: &GraphRequest<'_>,
    ) -> Outcome {
        let plain = Outcome::plain;
        if let Some(log) = AuditLog::of_path(request.path) {
            return self.audit_log(claims, tenant, request, log);
        }
        let target = self.routes.resolve(request.version, request.path);
        let directory = target
            .is_err()
            .then(|| resolve_directory(request.path))
            .flatten();
        let pim = (target.is_err() && directory.is_none())
            .then(|| crate::sim::graph::pim::resolve(request.version, request.path))
            .flatten();
        let provisioning_log = crate::sim::graph::provisioning_log::is_path(request.path);
        let synchronization = (target.is_err() && directory.is_none() && pim.is_none())
            .then(|| crate::sim::graph::sync::resolve(request.path))
            .flatten();
        let organization =
            (target.is_err() && directory.is_none() && pim.is_none() && synchronization.is_none())
                .then(|| crate::sim::graph::organization::resolve(request.path))
                .flatten();
        let tcm = (target.is_err()
            && directory.is_none()
            && pim.is_none()
            && synchronization.is_none()
            && organization.is_none())
        .then(|| crate::sim::graph::tcm::resolve(request.version, request.path))
        .flatten();
        let write = request.method != "GET";
        let class = match (&target, &directory) {
            (Ok(t), _) => Some(t.kind().throttle),
            (Err(_), Some(d)) => Some(d.throttle()),
            (Err(_), None) if provisioning_log => Some(crate::kinds::ThrottleClass::Reports),
            (Err(_), None) => (synchronization.is_some()
                || pim.is_some()
                || tcm.is_some()
                || organization.is_some())
            .then_some(crate::kinds::ThrottleClass::Identity),
        };
        let path_only = request.path;
        let admission = self.throttle.admit(&ThrottleRequest {
            app_id: &claims.appid,
            tenant_id: &tenant.id,
            class,
            write,
            resource_units: throttle::resource_units(write, path_only, request.query),
        });
        let extra_headers = match admission {
            Admission::Allowed { headers } => headers,
            Admission::Throttled {
                retry_after,
                headers,
            } => return Outcome::throttled(retry_after, headers),
        };
        if let Some(synchronization) = synchronization {
            let allowed = has_role(claims, synchronization.permission(write));
            return self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
                call.sync(synchronization)
            });
        }
        if provisioning_log {
            let allowed = has_role(claims, crate::sim::graph::provisioning_log::PERMISSION);
            return self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
                call.provisioning_log()
            });
        }
        if let Some(organization) = organization {
            let allowed = organization.permitted(write, &claims.roles);
            return self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
                call.organization(organization)
            });
        }
        if let Some(pim) = pim {
            let allowed = has_role(claims, pim.permission());
            return self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
                call.pim(pim)
            });
        }
        if let Some(tcm) = tcm {
            let allowed = tcm.permitted(write, &claims.roles);
            return self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
                call.tcm(tcm)
            });
        }
        if let Some(directory) = directory {
            let allowed = directory
                .permissions(write)
                .iter()
                .any(|p| has_role(claims, p));
            return self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
                call.directory(directory)
            });
        }
        let target = match target {
            Ok(target) => target,
            Err(no_route) => {
                return plain(Reply::error(
                    400,
                    "BadRequest",
                    format!("Resource not found for the segment '{}'.", no_route.segment),
                ));
            }
        };
        let allowed = permitted(target.kind(), write, &claims.roles);
        self.call_admitted(claims, tenant, request, allowed, extra_headers, |call| {
            call.handle(target)
        })
    }

    /// A call already admitted by the throttle: 403 unless `allowed` (the caller's roles
    /// grant what the route needs), else `handle` with the parsed query and the caller as the
    /// actor, and the throttle's headers on the reply.
    fn call_admitted(
        &self,
        claims: &AccessClaims,
        tenant: &Tenant,
        request: &GraphRequest<'_>,
        allowed: bool,
        extra_headers: Vec<(&'static str, String)>,
        handle: impl FnOnce(&Call<'_>) -> Reply,
    ) -> Outcome {
        let plain = Outcome::plain;
        if !allowed {
            return plain(Reply::error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        let query = match Query::parse(request.query) {
            Ok(query) => query,
            Err(reply) => return plain(reply),
        };
        let actor = crate::sim::audit::Actor::App {
            app_id: claims.appid.clone(),
            service_principal_id: claims.oid.clone(),
        };
        let call = Call {
            app: self,
            tenant,
            request,
            query,
            now_ms: self.now_ms(),
            clock_ms: self.clock_ms(),
            actor: &actor,
        };
        let mut reply = handle(&call);
        for (name, value) in extra_headers {
            reply = reply.with_header(name, value);
        }
        plain(reply)
    }

    /// A read of one of the tenant's audit logs: throttled as Graph throttles it, 403 without
    /// the permissions it needs.
    fn audit_log(
        &self,
        claims: &AccessClaims,
        tenant: &Tenant,
        request: &GraphRequest<'_>,
        log: AuditLog<'_>,
    ) -> Outcome {
        use crate::kinds::ThrottleClass;
        use crate::sim::audit;
        let plain = Outcome::plain;
        if request.method != "GET" {
            return plain(Reply::error(
                405,
                "Request_BadRequest",
                "Specified HTTP method is not allowed for the request target.",
            ));
        }
        let intune = matches!(log, AuditLog::IntuneEvents(_));
        let admission = self.throttle.admit(&ThrottleRequest {
            app_id: &claims.appid,
            tenant_id: &tenant.id,
            class: Some(if intune {
                ThrottleClass::Intune
            } else {
                ThrottleClass::Reports
            }),
            write: false,
            resource_units: 1,
        });
        if let Admission::Throttled {
            retry_after,
            headers,
        } = admission
        {
            return Outcome::throttled(retry_after, headers);
        }
        let has = |p: &str| has_role(claims, p);
        let allowed = if intune {
            audit::INTUNE_AUDIT_PERMISSIONS.iter().any(|p| has(p))
        } else {
            audit::DIRECTORY_AUDIT_PERMISSIONS.iter().all(|p| has(p))
        };
        if !allowed {
            return plain(Reply::error(
                403,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ));
        }
        // Graph time → the simulator's clock: divided by the time scale, like throttling.
        let scaled = |d: std::time::Duration| {
            (d.as_secs_f64() * 1000.0 / self.config.time_scale.max(1e-9)).min(i64::MAX as f64 / 4.0)
                as i64
        };
        let retention = if intune {
            crate::sim::INTUNE_AUDIT_RETENTION
        } else {
            self.config
                .audit_retention_by_tenant
                .iter()
                .rev()
                .find(|(index, _)| *index == tenant.index)
                .map_or(self.config.audit_retention, |(_, r)| *r)
        };
        let window = audit::Window {
            now_ms: self.now_ms(),
            delay_ms: scaled(self.config.audit_delay),
            retention_ms: scaled(retention),
        };
        // Entries past the retention are filtered out, not dropped: entry ids count the
        // tenant's entries, so the log keeps them (reads never see them again).
        let state = tenant.lock();
        let reply = match log {
            AuditLog::DirectoryAudits(None) | AuditLog::IntuneEvents(None) => {
                let base = format!(
                    "{}/{}{}",
                    request.origin,
                    request.version.segment(),
                    request.path
                );
                audit::list(&state.audit, intune, request.query, &base, &window)
            }
            AuditLog::DirectoryAudits(Some(id)) | AuditLog::IntuneEvents(Some(id)) => {
                audit::get(&state.audit, intune, id, &window)
            }
        };
        plain(reply)
    }

    /// A whole Graph HTTP request (not `$batch`): authenticate, wait the latency, call, log.
    pub(crate) async fn graph(
        &self,
        method: &str,
        version: ApiVersion,
        path: &str,
        query: &str,
        headers: &RequestHeaders,
        body: &[u8],
    ) -> FinishedReply {
        let ids = RequestIds::new(headers.client_request_id.as_deref());
        let full_path = if query.is_empty() {
            format!("/{}{path}", version.segment())
        } else {
            format!("/{}{path}?{query}", version.segment())
        };
        let (claims, tenant) = match self.authenticate(headers) {
            Ok(found) => found,
            Err(reply) => {
                let outcome = Outcome {
                    reply,
                    throttled: false,
                    retry_after: None,
                    fault: None,
                };
                return self.finish_and_log(&ids, method, &full_path, None, outcome);
            }
        };
        let stall = self.stall_ms.load(std::sync::atomic::Ordering::Relaxed);
        let latency = self.faults.latency() + std::time::Duration::from_millis(stall);
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        if path.eq_ignore_ascii_case("/$batch") {
            let batch = crate::sim::batch::run(
                self,
                &claims,
                tenant,
                version,
                method,
                body,
                &headers.origin,
            );
            let outcome = Outcome {
                reply: batch.reply,
                throttled: false,
                retry_after: None,
                fault: batch.fault,
            };
            return self.finish_and_log(&ids, method, &full_path, Some(tenant.index), outcome);
        }
        let request = GraphRequest {
            method,
            version,
            path,
            query,
            prefer: &headers.prefer,
            body,
            origin: &headers.origin,
            consistency_level: headers.consistency_level.as_deref(),
        };
        let stall = self.stalls.check(method, &full_path, &tenant.id);
        if let Some((crate::sim::stall::Hold::Before, generation)) = stall {
            // Held before it was applied: released, it is dropped unapplied (its client was
            // killed while it waited).
            self.stalls.wait(generation).await;
            let outcome = Outcome::plain(Reply::dropped());
            return self.finish_and_log(&ids, method, &full_path, Some(tenant.index), outcome);
        }
        let outcome = self.call(&claims, tenant, &request, false);
        if let Some((crate::sim::stall::Hold::After, generation)) = stall {
            self.stalls.wait(generation).await;
        }
        self.finish_and_log(&ids, method, &full_path, Some(tenant.index), outcome)
    }

    /// Finish a top-level reply (correlation headers) and record it in the request log.
    fn finish_and_log(
        &self,
        ids: &RequestIds,
        method: &str,
        full_path: &str,
        tenant: Option<usize>,
        outcome: Outcome,
    ) -> FinishedReply {
        let finished = outcome.reply.finish(ids, self.now_ms());
        self.log.record(&Record {
            tenant,
            method,
            path: full_path,
            status: finished.status,
            request_id: &ids.request_id,
            batch_item: false,
            throttled: outcome.throttled,
            retry_after: outcome.retry_after,
            fault: outcome.fault,
            at_ms: self.now_ms(),
        });
        finished
    }
}
