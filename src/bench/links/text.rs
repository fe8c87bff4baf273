//! The links benchmark's figures as text (the CLI prints it; `--json` prints the struct).

use super::{LinkBench, TenantFigures};

fn mib(value: Option<f64>) -> String {
    value.map_or_else(|| "n/a".to_string(), |m| format!("{m:.1} MiB"))
}

fn classes(figures: &TenantFigures) -> String {
    let list = |counts: &std::collections::BTreeMap<String, usize>| {
        counts
            .iter()
            .map(|(class, n)| format!("{class} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "reads: {}; writes: {}",
        list(&figures.reads),
        list(&figures.writes)
    )
}

fn tenant_line(figures: &TenantFigures) -> String {
    let j = &figures.journaled;
    format!(
        "{} ({}): {} requests ({} for its own baseline, {} link-step reads, {} link-step writes) and {} retries; paced {}; minimum {:.2} s",
        figures.name,
        figures.id,
        j.requests(),
        j.baseline,
        j.link_reads,
        j.link_writes,
        j.retries,
        classes(figures),
        figures.minimum_seconds
    )
}

/// The report a person reads.
pub fn text(r: &LinkBench) -> String {
    let mut text = format!(
        "links benchmark: a hub and {} spokes, one cross-tenant synchronization link each, against `tenantform sim` in a child process (throttling on, time scale {}, latency {} ms)\n  machine: {} cores shared by client and simulator{}\n",
        r.spokes,
        r.time_scale,
        r.latency_ms,
        r.cores,
        r.load_average
            .map(|l| format!(", load average {l:.2} at the start"))
            .unwrap_or_default()
    );
    let p = &r.phases;
    let mut rows: Vec<(&str, String)> = vec![
        (
            "deploy command",
            r.commands.get(1).cloned().unwrap_or_default(),
        ),
        (
            "wall time",
            format!("{:.2} s (every tenant, then every link)", r.deploy_seconds),
        ),
        ("hub", tenant_line(&r.hub)),
    ];
    if let Some(spoke) = &r.slowest_spoke {
        rows.push(("slowest spoke", tenant_line(spoke)));
    }
    rows.extend([
        (
            "spoke link requests",
            format!(
                "{} to {} per spoke (first attempts)",
                r.spoke_link_requests.0, r.spoke_link_requests.1
            ),
        ),
        (
            "minimum",
            format!(
                "{:.2} s: the hub's paced requests at Graph's published limits, reads included, without headroom (slowest spoke {:.2} s, app-wide limit {:.2} s)",
                r.minimum_seconds,
                r.slowest_spoke.as_ref().map_or(0.0, |s| s.minimum_seconds),
                r.app_limit_minimum_seconds
            ),
        ),
        ("wall / minimum", format!("{:.3}", r.ratio)),
        (
            "where the time went",
            format!(
                "hub's own baseline done at {:.2} s, every tenant at {:.2} s; links from {:.2} s to {:.2} s; replication waits per link {:.2} s mean, {:.2} s longest",
                p.hub_finished,
                p.tenants_finished,
                p.links_started,
                p.links_finished,
                p.replication_wait_mean,
                p.replication_wait_max
            ),
        ),
        (
            "requests",
            format!(
                "{} sent, {} retries, {} tokens",
                r.requests, r.retries, r.tokens
            ),
        ),
        ("429s (throttled)", r.throttled.to_string()),
        ("peak RSS (client)", mib(r.deploy_peak_rss_mib)),
        ("peak RSS (simulator)", mib(r.simulator_peak_rss_mib)),
        (
            "re-plan",
            format!(
                "{:.2} s; {} tenants or links with changes left",
                r.replan_seconds, r.replan_with_changes
            ),
        ),
        (
            "provisioning",
            format!(
                "{} people joined the hub's group; a cycle ran {} jobs; {} jobs healthy; {} spokes list everyone",
                r.convergence.people,
                r.convergence.jobs_run,
                r.convergence.jobs_healthy,
                r.convergence.spokes_with_everyone
            ),
        ),
    ]);
    for (label, value) in rows {
        text.push_str(&format!("  {label:<22} {value}\n"));
    }
    text.push_str("  the same figures by hand (the project is removed unless --keep; the benchmark adds the hub's baseline and links/ to it after the first command):\n");
    for command in &r.commands {
        text.push_str(&format!("    {command}\n"));
    }
    for sample in r.failure_samples.iter().chain(&r.convergence.problems) {
        text.push_str(&format!("  problem: {sample}\n"));
    }
    text.push_str("  targets:\n");
    for check in &r.checks {
        text.push_str(&format!(
            "    [{}] {}: {}\n",
            if check.passed { "pass" } else { "FAIL" },
            check.name,
            check.measured
        ));
    }
    text
}
