//! `tenantform bench report` at a small size: what it prints (figures, targets, the commands to
//! reproduce them) and that what it measured is real: the kept project's journals read back
//! through `runs list` (hash chains verified), its drift results are `drift --format json`'s
//! format, and the site holds the overview and a page per tenant. Not timing: figures are
//! the benchmark's business, not a test's.

use crate::harness::tenantform;
use crate::report::chromium;

/// The value after `label` on its line of the text output.
fn line<'a>(stdout: &'a str, label: &str) -> &'a str {
    stdout
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(label))
        .map(str::trim)
        .unwrap_or_else(|| panic!("no {label:?} line in:\n{stdout}"))
}

#[test]
fn bench_report_prints_its_figures_and_keeps_the_site_it_measured() {
    let dir = tempfile::tempdir().expect("dir");
    let keep = dir.path().join("bench");
    let keep_text = keep.display().to_string();
    let out = tenantform()
        .args(&[
            "bench",
            "report",
            "--tenants",
            "50",
            "--runs",
            "12",
            "--navigations",
            "1",
            "--keep",
            &keep_text,
        ])
        .run()
        .success();
    let stdout = &out.stdout;
    assert!(
        stdout.starts_with("report benchmark: 50 tenants, 12 deploy runs of history\n"),
        "{stdout}"
    );
    // Setup is printed apart from the figures.
    let history = line(stdout, "history (setup)");
    assert!(history.contains("journal records"), "{history}");
    let wall = line(stdout, "report wall time");
    assert!(
        wall.contains(" s (CPU: ") && wall.ends_with(" s system)"),
        "{wall}"
    );
    let rss = line(stdout, "report peak RSS");
    let mib: f64 = rss
        .strip_suffix(" MiB")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("peak RSS is not a figure: {rss}"));
    assert!(mib > 1.0, "{rss}");
    // The report measured is the user's command over the generated history.
    let said = line(stdout, "report said");
    assert!(
        said.starts_with("report: 50 tenants (") && said.contains(", 12 runs; open "),
        "{said}"
    );
    assert!(
        stdout.contains(&format!(
            "tenantform report -p {keep_text}/project --from {keep_text}/drift.json --out {keep_text}/site"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("    [pass] overview index.html under 2.00 MB: "),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "    [pass] a page per tenant, a complete overview: 50 tenant pages for 50 tenants; index.html ends with </html>"
        ),
        "{stdout}"
    );
    match chromium() {
        Some(_) => {
            let render = line(stdout, "first render (cold)");
            assert!(
                render.starts_with("first contentful paint ") && !render.contains("n/a"),
                "{render}"
            );
            assert!(
                stdout.contains("    [pass] no console error while the overview loads: none"),
                "{stdout}"
            );
        }
        None => assert!(
            stdout.contains("SKIPPED, NOT MEASURED") && stdout.contains("NOT measured"),
            "{stdout}"
        ),
    }

    // The site it measured is there, whole.
    let site = keep.join("site");
    let index = std::fs::read_to_string(site.join("index.html")).expect("index.html");
    assert!(index.trim_end().ends_with("</html>"));
    assert_eq!(
        std::fs::read_dir(site.join("tenants"))
            .expect("tenant pages")
            .count(),
        50
    );
    assert_eq!(
        index.matches("<tr data-ring=").count(),
        100,
        "50 tenants and 50 matrix rows"
    );
    for ring in ["pilot", "early", "broad"] {
        assert!(
            index.contains(&format!("<option value=\"{ring}\">")),
            "ring {ring} in the filters"
        );
    }
    // Its journals are real journals: `runs list` reads and verifies every one.
    let project = keep.join("project");
    let runs = tenantform()
        .args(&["runs", "list", "-p", &project.display().to_string()])
        .run()
        .success();
    assert_eq!(runs.stdout.lines().count(), 12, "{}", runs.stdout);
    assert!(!runs.stdout.contains("UNREADABLE"), "{}", runs.stdout);
    // Its drift results are drift's own format.
    let drift: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(keep.join("drift.json")).expect("drift.json"),
    )
    .expect("JSON");
    assert_eq!(drift["format"], "tenantform.drift/v1");
    assert_eq!(drift["tenants"].as_array().map(Vec::len), Some(50));
}

#[test]
fn bench_report_without_chromium_says_so_and_still_measures_the_rest() {
    let out = tenantform()
        .args(&[
            "bench",
            "report",
            "--tenants",
            "3",
            "--runs",
            "2",
            "--chromium",
            "/nonexistent/chromium",
            "--json",
        ])
        .run()
        .success();
    let figures = out.json();
    assert_eq!(figures["tenants"], 3);
    assert_eq!(figures["history"]["runs"], 2);
    assert!(figures["browser"].is_null());
    assert_eq!(
        figures["browser_skipped"],
        "--chromium /nonexistent/chromium: no such file"
    );
    assert!(
        figures["report"]["peak_rss_mib"]
            .as_f64()
            .is_some_and(|m| m > 1.0)
    );
    assert_eq!(figures["report"]["exit_code"], 0);
    assert!(
        figures["site"]["overview_bytes"]
            .as_u64()
            .is_some_and(|b| b > 0)
    );
    let checks = figures["checks"].as_array().expect("checks");
    assert_eq!(checks.len(), 3, "no browser checks without a browser");
    assert!(checks.iter().all(|c| c["passed"] == true), "{checks:?}");
}

#[test]
fn bench_report_refuses_bad_sizes_and_a_used_keep_directory() {
    tenantform()
        .args(&["bench", "report", "--tenants", "0"])
        .run()
        .code(64)
        .stderr_has("--tenants must be between 1 and 100000");
    tenantform()
        .args(&["bench", "report", "--navigations", "0"])
        .run()
        .code(64)
        .stderr_has("--navigations must be between 1 and 100");
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("something"), "x").expect("write");
    tenantform()
        .args(&[
            "bench",
            "report",
            "--tenants",
            "1",
            "--runs",
            "1",
            "--keep",
            &dir.path().display().to_string(),
        ])
        .run()
        .code(1)
        .stderr_has("is not empty; give --keep a new or empty directory");
}
