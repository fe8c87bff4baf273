//! `tenantform bench deploy` end to end on a small fleet at a shortened time scale: the fleet
//! deploys, the re-plan finds nothing left to change and drift none, and each run's CPU time
//! is measured for the client and the simulator child and spread over the cores as the least
//! wall time the run needs. Not timing: the figures are the benchmark's business.

use crate::harness::tenantform;

#[test]
fn bench_deploy_converges_a_small_fleet_and_reports_each_runs_cpu() {
    let work = tempfile::tempdir().expect("dir");
    let report = tenantform()
        .current_dir(work.path())
        .args(&[
            "bench",
            "deploy",
            "--tenants",
            "3",
            "--time-scale",
            "20",
            "--latency-ms",
            "0",
            "--json",
        ])
        .run()
        .success()
        .json();
    assert_eq!(report["tenants"], 3, "{report}");
    assert_eq!(report["tenants_failed"], 0, "{report}");
    assert_eq!(report["tenants_not_started"], 0, "{report}");
    assert_eq!(report["tenants_with_changes"], 0, "{report}");
    assert_eq!(report["tenants_drifted"], 0, "{report}");
    if !cfg!(target_os = "linux") {
        // CPU time is read from /proc: elsewhere the figures are absent, not made up.
        assert!(report["replan_cpu"].is_null(), "{report}");
        return;
    }
    let cores = report["cores"].as_f64().expect("cores");
    for run in ["deploy_cpu", "replan_cpu", "drift_cpu"] {
        let cpu = &report[run];
        let client = cpu["client_seconds"].as_f64().expect("client CPU");
        let simulator = cpu["simulator_seconds"].as_f64().expect("simulator CPU");
        let bound = cpu["cpu_bound_seconds"].as_f64().expect("CPU bound");
        // The client loads, validates and parses in every run: its figure is never zero. The
        // simulator's is present in every run, but its share of re-planning three tenants
        // (tokens signed ahead, a few reads) can be under the 10 ms `/proc` counts in.
        assert!(client > 0.0 && simulator >= 0.0, "{run}: {cpu}");
        if run == "deploy_cpu" {
            assert!(simulator > 0.0, "the simulator wrote every bundle: {cpu}");
        }
        assert!(
            (bound - (client + simulator) / cores).abs() < 1e-9,
            "{run}: {cpu}"
        );
    }
    // The deploy writes every bundle; the re-plan only reads: it cannot need more of the
    // simulator's CPU than the deploy did.
    assert!(
        report["replan_cpu"]["simulator_seconds"].as_f64()
            <= report["deploy_cpu"]["simulator_seconds"].as_f64(),
        "{report}"
    );
}
