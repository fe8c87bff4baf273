//! Unit tests of the deploy benchmark's figures: CPU floors, checks, minimums, the commands it
//! prints.

use super::*;

fn approx(d: Duration, seconds: f64) -> bool {
    (d.as_secs_f64() - seconds).abs() < 1e-6
}

#[test]
fn a_run_needs_its_cpu_time_spread_over_every_core_at_least() {
    let cpu = CpuUse::between((Some(10.0), Some(4.0)), (Some(13.0), Some(5.5)), 2);
    assert_eq!(
        cpu,
        Some(CpuUse {
            client_seconds: 3.0,
            simulator_seconds: 1.5,
            cpu_bound_seconds: 2.25,
        })
    );
    // Either side unreadable (not Linux, or the child gone): no figure, not a wrong one.
    assert_eq!(
        CpuUse::between((Some(1.0), None), (Some(2.0), Some(1.0)), 2),
        None
    );
    assert_eq!(
        CpuUse::between((Some(1.0), Some(1.0)), (None, Some(2.0)), 2),
        None
    );
}

#[test]
fn a_tenant_takes_as_long_as_its_slowest_class_reads_included() {
    let floor = Limits::default().without_headroom();
    let mut minimums = Minimums::new(floor);
    let writes: ClassCounts = [
        (ThrottleClass::ConditionalAccess, 21),
        (ThrottleClass::Identity, 12),
        (ThrottleClass::Intune, 8),
    ]
    .into();
    let reads: ClassCounts = [
        (ThrottleClass::ConditionalAccess, 2),
        (ThrottleClass::Identity, 5),
        (ThrottleClass::Intune, 10),
    ]
    .into();
    let writes_only = TenantRequests {
        reads: ClassCounts::new(),
        writes: writes.clone(),
    };
    // Conditional Access: 1 per second, no burst: 21 writes need 20 s.
    assert!(approx(minimums.tenant(&writes_only), 20.0));
    // With its two reads on the same limit: 23 requests, 22 s.
    let requests = TenantRequests {
        reads: reads.clone(),
        writes: writes.clone(),
    };
    assert!(approx(minimums.tenant(&requests), 22.0));
    let mut scaled = Minimums::new(Limits::default().time_scaled(20.0).without_headroom());
    assert!(approx(scaled.tenant(&requests), 1.1));
    // The client's own pacing spaces one-per-second sends 30 ms apart.
    let mut client = Minimums::new(Limits::default());
    assert!(approx(client.tenant(&requests), 22.0 * 1.03));
    assert_eq!(
        Minimums::new(floor).tenant(&TenantRequests::default()),
        Duration::ZERO
    );
    // Reads alone (a re-plan): the two Conditional Access lists, 1 s apart.
    let replan = TenantRequests {
        reads,
        writes: ClassCounts::new(),
    };
    assert!(approx(minimums.tenant(&replan), 1.0));
}

#[test]
fn the_app_wide_limit_binds_only_past_its_burst() {
    let limits = Limits::default();
    assert_eq!(app_limit_minimum(&limits, 40_000), Duration::ZERO);
    // 160,000 identity writes: 125,000 past the full bucket of 35,000 at 35,000 per 300 s.
    assert!(approx(
        deploy_app_limit_minimum(&limits, 40_000, 160_000),
        125_000.0 * 300.0 / 35_000.0
    ));
    assert_eq!(
        deploy_app_limit_minimum(&limits, 40_000, 16_000),
        Duration::ZERO
    );
    // 130,000 at once, then 13,000 per second.
    assert!(approx(app_limit_minimum(&limits, 156_000), 2.0));
    assert!(approx(
        app_limit_minimum(&limits.time_scaled(20.0), 156_000),
        0.1
    ));
}

#[test]
fn targets_follow_issue_9() {
    let at_1000 = targets(1000);
    assert_eq!(at_1000.ratio, Some(1.10));
    assert_eq!(at_1000.plan_ratio, Some(1.25));
    assert_eq!(at_1000.rss_mb, Some(100.0));
    assert!(at_1000.no_throttling);
    assert_eq!(targets(10_000).rss_mb, Some(300.0));
    assert_eq!(targets(10_000).ratio, None);
    assert_eq!(targets(50).rss_mb, None);
    let measured = Measured {
        ratio: 1.12,
        plan_ratio: 1.2,
        drift_ratio: 1.3,
        plan_cpu_ratio: Some(1.1),
        drift_cpu_ratio: None,
        drift_peak_mib: Some(150.0),
        tenants_drifted: 0,
        peak_mib: Some(90.0),
        throttled: 0,
        with_changes: 0,
    };
    // deploy ratio, plan ratio, drift ratio, drift RSS, client RSS, 429s, re-plan, drift.
    assert_eq!(
        checks(1000, measured)
            .iter()
            .map(|c| c.passed)
            .collect::<Vec<_>>(),
        [false, true, false, true, true, true, true, true]
    );
    // 100 MB is 95.4 MiB: 96 MiB does not pass; a 429 does not either; 200 MB is 190.7 MiB.
    let c = checks(
        1000,
        Measured {
            ratio: 1.0,
            peak_mib: Some(96.0),
            drift_peak_mib: Some(191.0),
            throttled: 1,
            ..measured
        },
    );
    assert!(!c[3].passed && !c[4].passed && !c[5].passed, "{c:?}");
    // A ratio to the read-bound minimum says what the run's CPU alone came to, when known.
    assert_eq!(
        c[1].measured,
        "1.200 (the run's CPU alone, on every core: 1.100)"
    );
    assert_eq!(c[2].measured, "1.300");
    assert!(
        !checks(
            10,
            Measured {
                with_changes: 2,
                ..measured
            }
        )[0]
        .passed
    );
}

#[test]
fn the_user_commands_name_the_project_and_only_the_flags_given() {
    let options = DeployBenchOptions {
        tenants: 1000,
        ..DeployBenchOptions::default()
    };
    let commands = user_commands(&options, Path::new("/tmp/bench/project"));
    assert_eq!(
        commands[0],
        "tenantform sim --tenants 1000 --time-scale 1 --latency-ms 20 --fleet-out /tmp/bench/project/tenants/fleet.toml"
    );
    assert_eq!(
        commands[1],
        format!(
            "{FLEET_SECRET_ENV}={DEFAULT_CLIENT_SECRET} tenantform deploy -p /tmp/bench/project --all --yes"
        )
    );
    let options = DeployBenchOptions {
        concurrency: Some(1000),
        time_scale: 20.0,
        ..options
    };
    let commands = user_commands(&options, Path::new("/tmp/a b"));
    assert!(
        commands[2].ends_with("plan -p '/tmp/a b' --all --concurrency 1000 --time-scale 20"),
        "{}",
        commands[2]
    );
}

#[cfg(unix)]
#[test]
fn a_simulator_that_cannot_start_or_exits_early_is_an_error() {
    let dir = tempfile::tempdir().expect("dir");
    let options = |simulator: &str| DeployBenchOptions {
        tenants: 2,
        simulator: PathBuf::from(simulator),
        work_dir: dir.path().to_path_buf(),
        ..DeployBenchOptions::default()
    };
    let e = run(&options("/nonexistent/tenantform"), &|_| {}).expect_err("no executable");
    assert!(e.to_string().contains("cannot start"), "{e}");
    if Path::new("/bin/false").exists() {
        let e = run(&options("/bin/false"), &|_| {}).expect_err("exits at once");
        assert!(
            e.to_string().contains("before it was ready")
                || e.to_string().contains("closed its stdout"),
            "{e}"
        );
    }
}

#[test]
fn the_listening_line_names_the_base_url() {
    assert_eq!(
        listening_url("listening on http://127.0.0.1:4321\n"),
        Some("http://127.0.0.1:4321")
    );
    assert_eq!(listening_url("3 tenants (seed 0)"), None);
}
