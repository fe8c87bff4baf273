//! The dashboard's pages: what they show, escaping, determinism and size at 5,000 tenants.

use std::collections::BTreeMap;

use super::*;
use crate::live::names::ObjectNames;
use crate::live::normalize::Change;
use crate::report::fleet::{
    AppliedEvidence, ControlStatus, OverrideStatus, PlannedChange, ResourceStatus, RunStatus,
    TenantRun, TenantStatus,
};

const CONTROLS: [&str; 17] = [
    "MS.AAD.1.1v1",
    "MS.AAD.2.1v1",
    "MS.AAD.2.3v1",
    "MS.AAD.3.1v1",
    "MS.AAD.3.2v2",
    "MS.AAD.3.3v2",
    "MS.AAD.3.4v1",
    "MS.AAD.3.5v2",
    "MS.AAD.3.6v1",
    "MS.AAD.3.7v1",
    "MS.AAD.3.8v1",
    "MS.AAD.3.9v1",
    "MS.AAD.5.1v1",
    "MS.AAD.5.2v1",
    "MS.AAD.8.1v1",
    "MS.AAD.8.2v1",
    "CIS 5.2.2.1",
];

const REASON: &str = "Tenant has Entra ID P1 only; risk-based policies need P2 (ticket 1042)";

/// A fleet of `n` tenants that looks like a real one: every fifth tenant failed, every third
/// pending, the rest in sync; every tenant with two overrides (one skip), 17 controls, 25
/// resources, 20 runs.
fn fleet(n: usize, runs: usize) -> FleetStatus {
    let tenants = (0..n)
        .map(|i| {
            let state = match i % 15 {
                0 | 5 | 10 => TenantState::Failed,
                3 | 6 | 9 | 12 => TenantState::Pending,
                1 => TenantState::NeverDeployed,
                _ => TenantState::InSync,
            };
            let controls: BTreeMap<String, ControlStatus> = CONTROLS
                .iter()
                .enumerate()
                .map(|(c, id)| {
                    let state = match (c, state) {
                        (1, _) => ControlState::Skipped,
                        (2, TenantState::Failed) => ControlState::Failed,
                        (3, TenantState::Pending) => ControlState::Pending,
                        (4, _) => ControlState::ReportOnly,
                        _ => ControlState::Enforced,
                    };
                    (
                        id.to_string(),
                        ControlStatus {
                            state,
                            reason: (state == ControlState::Skipped).then(|| REASON.to_string()),
                            resources: vec![format!("ca-resource-{c}")],
                        },
                    )
                })
                .collect();
            let resources = (0..25)
                .map(|r| ResourceStatus {
                    key: format!("ca-resource-{r}"),
                    kind: "conditionalAccessPolicy".into(),
                    baseline: "cisa-scuba-entra".into(),
                    controls: vec![],
                    state: if r == 3 && state == TenantState::Pending {
                        ControlState::Pending
                    } else {
                        ControlState::Enforced
                    },
                    reason: None,
                    object_id: Some(format!("00000000-0000-4000-8000-{r:012}")),
                    planned: (r == 3 && state == TenantState::Pending).then(|| PlannedChange {
                        sign: "~",
                        verb: "update",
                        changes: vec![Change {
                            pointer: "/state".into(),
                            desired: Some(serde_json::json!("enabled")),
                            live: Some(serde_json::json!("disabled")),
                        }],
                        object_ids: vec![],
                    }),
                    applied: Some(AppliedEvidence {
                        run_id: "20261126T100000Z-abcd".into(),
                        at: "2026-11-26T10:00:03Z".into(),
                        action: "created".into(),
                        object_id: None,
                        record_hash: "sha256:00".into(),
                    }),
                })
                .collect();
            TenantStatus {
                id: format!("{i:08x}-0000-4000-8000-000000000000"),
                name: format!("Client <{i:05}> & Co"),
                ring: ["pilot", "broad", "late"][i % 3].into(),
                tags: vec!["smb".into(), ["us", "eu"][i % 2].into()],
                baselines: vec!["cisa-scuba-entra".into(), "intune-compliance".into()],
                state,
                detail: "run 20261126T100000Z-abcd failed: missing permission".into(),
                since: Some("2026-11-26T10:00:03Z".into()),
                runs: vec![TenantRun {
                    run_id: "20261126T100000Z-abcd".into(),
                    at: Some("2026-11-26T10:00:03Z".into()),
                    ok: Some(state != TenantState::Failed),
                    reason: None,
                    applied: 25,
                    requests: 40,
                }],
                overrides: vec![
                    OverrideStatus {
                        resource: "ca-user-risk".into(),
                        skip: true,
                        reason: REASON.into(),
                        expires: Some("2027-03-31".into()),
                        expired: false,
                    },
                    OverrideStatus {
                        resource: "ca-block-outside-allowed-countries".into(),
                        skip: false,
                        reason: "Staff travel to Canada".into(),
                        expires: Some("2026-10-01".into()),
                        expired: true,
                    },
                ],
                resources,
                orphans: vec![],
                controls,
                names: ObjectNames::new(),
                drift: None,
            }
        })
        .collect();
    FleetStatus {
        project: "example-msp".into(),
        generated_at: Some("2026-11-26T10:00:03Z".into()),
        sources: vec!["plan plan.json (5000 tenants), made 2026-11-26T10:00:03Z".into()],
        tenants,
        controls: CONTROLS.iter().map(|c| c.to_string()).collect(),
        runs: (0..runs)
            .map(|r| RunStatus {
                run_id: format!("20261126T{r:06}Z-abcd"),
                started: Some("2026-11-26T10:00:00Z".into()),
                ended: Some("2026-11-26T10:00:03Z".into()),
                seconds: Some(3.0),
                tenants: n,
                succeeded: n - n / 5,
                failed: n / 5,
                requests: n * 40,
                finished: true,
                error: None,
            })
            .collect(),
    }
}

fn page<'a>(pages: &'a [Page], path: &str) -> &'a str {
    &pages
        .iter()
        .find(|p| p.path == path)
        .unwrap_or_else(|| panic!("no page {path}"))
        .html
}

#[test]
fn the_overview_of_5000_tenants_with_100_runs_stays_under_2_mb_per_page() {
    let status = fleet(5000, 100);
    let pages = site(&status);
    let overview: Vec<&Page> = pages
        .iter()
        .filter(|p| !p.path.starts_with("tenants/"))
        .collect();
    assert_eq!(
        overview.len(),
        5000usize.div_ceil(PAGE_SIZE),
        "one listing page per {PAGE_SIZE} tenants"
    );
    let index = page(&pages, "index.html");
    assert!(
        index.len() < 2_000_000,
        "index.html is {} bytes",
        index.len()
    );
    for p in &overview {
        assert!(
            p.html.len() < 2_000_000,
            "{} is {} bytes",
            p.path,
            p.html.len()
        );
    }
    // The summaries count the whole fleet, not the page.
    assert!(index.contains("<li><b>5000</b>tenants</li>"), "fleet count");
    assert!(
        index.contains("tenants-20.html"),
        "the pager reaches the last page"
    );
    assert_eq!(pages.len(), overview.len() + 5000, "a page per tenant");
    let tenant = page(&pages, &tenant_path(&status.tenants[0].id));
    assert!(
        tenant.len() < 200_000,
        "a tenant page is {} bytes",
        tenant.len()
    );
}

#[test]
fn pages_are_deterministic_and_escape_what_they_show() {
    let status = fleet(30, 3);
    let a = site(&status);
    let b = site(&status);
    assert_eq!(a, b);
    let index = page(&a, "index.html");
    assert!(
        index.contains("Client &lt;00000&gt; &amp; Co"),
        "names are escaped"
    );
    assert!(!index.contains("Client <0"), "no raw name");
    assert!(
        !index.contains("http://") && !index.contains("https://"),
        "nothing is fetched"
    );
}

#[test]
fn the_matrix_shows_skipped_controls_with_the_overrides_reason_and_states_as_text() {
    let status = fleet(15, 1);
    let pages = site(&status);
    let index = page(&pages, "index.html");
    assert!(
        index.contains("<td class=\"c-skipped\">skipped <a href=\"#reason-1\">[1]</a></td>"),
        "skipped cell"
    );
    assert!(
        index.contains(&format!("<li id=\"reason-1\">{}</li>", esc(REASON))),
        "the reason, once"
    );
    assert_eq!(index.matches("id=\"reason-").count(), 1);
    assert!(index.contains("<td class=\"c-failed\">FAILED</td>"));
    assert!(index.contains("<td class=\"c-report-only\">report-only</td>"));
    assert!(index.contains("<th scope=\"col\">MS.AAD.2.1v1</th>"));
    // Worst first: the first tenant row is a failed one.
    let first_row = index.split("<tbody>").nth(2).expect("tenant rows");
    let first_row = first_row.lines().nth(1).expect("first row");
    assert!(first_row.contains("data-state=\"failed\""), "{first_row}");
}

#[test]
fn a_tenant_page_shows_its_diff_in_the_plans_notation_and_its_overrides() {
    let status = fleet(15, 1);
    let pending = status
        .tenants
        .iter()
        .find(|t| t.state == TenantState::Pending)
        .expect("a pending tenant");
    let pages = site(&status);
    let html = page(&pages, &tenant_path(&pending.id));
    assert!(html.contains("~ ca-resource-3"), "{html}");
    assert!(
        html.contains("/state: &quot;disabled&quot; -&gt; &quot;enabled&quot;"),
        "{html}"
    );
    assert!(html.contains("2026-10-01 (EXPIRED)"));
    assert!(html.contains(&esc(REASON)));
    assert!(html.contains("<a href=\"../index.html\">"));
}
