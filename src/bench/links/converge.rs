//! Did every link converge? After the deploy, people join the hub's scope group (through the
//! simulator's `/_sim/tenants/{hub}/users`), one provisioning cycle runs
//! (`/_sim/tenants/{hub}/sync/run`), and then, through Graph as any client reads it: each
//! link's job in the hub (found as deploy and `sync status` find it: the configuration app by
//! display name and template, its Azure2Azure job) is `Active`, not in quarantine, and its last
//! cycle succeeded; and every spoke lists every person as a B2B user (`creationType`
//! `Invitation`) with the link's `userType`.
//!
//! Input: the simulator's base URL, the fleet, the hub and the links. Output: [`Convergence`].

use serde_json::{Value, json};

use super::project::{Hub, SCOPE_GROUP};
use crate::deploy::Fleet;
use crate::graph::client::{GraphClient, NoObserver, Request};
use crate::kinds::{ApiVersion, ThrottleClass};

/// What the convergence check found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Convergence {
    /// People who joined the hub's scope group.
    pub people: usize,
    /// Jobs the provisioning cycle ran (every link's, when all started).
    pub jobs_run: usize,
    /// Links whose job is `Active`, out of quarantine, with a last cycle that succeeded.
    pub jobs_healthy: usize,
    /// Spokes that list every person as a B2B user with the link's `userType`.
    pub spokes_with_everyone: usize,
    /// A few problems, for diagnosis.
    pub problems: Vec<String>,
}

/// `user_type` is the links' `userType`; `links` are (name, configuration name, spoke id).
pub(super) async fn check(
    base_url: &str,
    client: &GraphClient,
    fleet: &Fleet,
    hub: &Hub,
    links: &[(String, String, String)],
    people: usize,
    user_type: &str,
) -> Convergence {
    let mut found = Convergence {
        people,
        ..Convergence::default()
    };
    let problem = |found: &mut Convergence, text: String| {
        if found.problems.len() < 5 {
            found.problems.push(text);
        }
    };
    let http = reqwest::Client::new();
    let domain = hub
        .domain
        .clone()
        .unwrap_or_else(|| format!("{}.example", hub.id));
    let upns: Vec<String> = (1..=people)
        .map(|i| format!("person{i:03}@{domain}"))
        .collect();
    for (i, upn) in upns.iter().enumerate() {
        let body = json!({"userPrincipalName": upn, "displayName": format!("Person {}", i + 1),
            "groups": [SCOPE_GROUP]});
        let sent = http
            .post(format!("{base_url}/_sim/tenants/{}/users", hub.id))
            .json(&body)
            .send()
            .await;
        if !sent.is_ok_and(|r| r.status().is_success()) {
            problem(
                &mut found,
                format!("could not add {upn} to the hub's group"),
            );
            return found;
        }
    }
    let ran = http
        .post(format!("{base_url}/_sim/tenants/{}/sync/run", hub.id))
        .send()
        .await;
    found.jobs_run = match ran {
        Ok(r) => r
            .json::<Value>()
            .await
            .ok()
            .and_then(|v| v["jobsRun"].as_u64())
            .and_then(|n| usize::try_from(n).ok())
            .unwrap_or(0),
        Err(e) => {
            problem(
                &mut found,
                format!("the provisioning cycle did not run: {e}"),
            );
            return found;
        }
    };
    let hub_session = match crate::sync::session_for(fleet, &hub.id) {
        Ok(session) => session,
        Err(e) => {
            problem(&mut found, format!("no session for the hub: {e}"));
            return found;
        }
    };
    for (link, configuration, spoke) in links {
        match crate::sync::status::app_and_job(client, &hub_session, configuration, &NoObserver)
            .await
        {
            Ok(Some((_, Some(job)))) => {
                let status = &job["status"];
                let healthy = status["code"] == "Active"
                    && status["quarantine"].is_null()
                    && status["lastExecution"]["state"] == "Succeeded";
                if healthy {
                    found.jobs_healthy += 1;
                } else {
                    problem(
                        &mut found,
                        format!("{link}: the job is not healthy: {status}"),
                    );
                }
            }
            Ok(_) => problem(&mut found, format!("{link}: no configuration app or job")),
            Err(e) => problem(&mut found, format!("{link}: reading its job: {e}")),
        }
        let session = match crate::sync::session_for(fleet, spoke) {
            Ok(session) => session,
            Err(e) => {
                problem(&mut found, format!("{link}: no session for the spoke: {e}"));
                continue;
            }
        };
        let request = Request::get(
            "bench-links-users",
            ApiVersion::V1,
            "/users?$select=userPrincipalName,mail,userType,creationType",
            ThrottleClass::Identity,
        );
        let users = match client.send(&session, &request, &NoObserver).await {
            Ok(answer) => answer.body["value"].as_array().cloned().unwrap_or_default(),
            Err(e) => {
                problem(
                    &mut found,
                    format!("{link}: reading the spoke's users: {e}"),
                );
                continue;
            }
        };
        let everyone = upns.iter().all(|upn| {
            users.iter().any(|u| {
                u["creationType"] == "Invitation"
                    && u["userType"] == user_type
                    && u["mail"]
                        .as_str()
                        .is_some_and(|m| m.eq_ignore_ascii_case(upn))
            })
        });
        if everyone {
            found.spokes_with_everyone += 1;
        } else {
            problem(
                &mut found,
                format!("{link}: the spoke does not list all {people} people as B2B {user_type}s"),
            );
        }
    }
    found
}
