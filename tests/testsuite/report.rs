//! `tenantform report`: the fleet dashboard over a simulated fleet (in-process simulator) with
//! one failed tenant, one with changes pending and one whose override skips a control; the site
//! is checked as written and as headless Chromium renders it (after its script ran).

use std::path::{Path, PathBuf};
use std::process::Command;

use tenantform::sim::{FLEET_SECRET_ENV, SimConfig};

use crate::harness::{Cmd, Project};
use crate::sim_support::Sim;

const SCALE: &str = "20";
const SKIP_REASON: &str = "Scanners send mail over SMTP AUTH until the March refresh (ticket 2211)";

struct Fleet {
    sim: Sim,
    project: Project,
    secret: String,
}

impl Fleet {
    /// Three simulated tenants (Contoso, Fabrikam, Northwind profiles); Fabrikam's app lacks
    /// the Conditional Access write permission, Northwind skips the legacy-auth block.
    fn new() -> Fleet {
        let config = SimConfig {
            tenants: 3,
            time_scale: SCALE.parse().expect("scale"),
            withdrawn: vec![(1, "Policy.ReadWrite.ConditionalAccess".into())],
            ..SimConfig::default()
        };
        let secret = config.client_secret.clone();
        let sim = Sim::with(config);
        let project = Project::init();
        for name in ["contoso", "fabrikam", "northwind"] {
            std::fs::remove_file(project.path().join(format!("tenants/{name}.toml")))
                .expect("remove example tenant");
        }
        // The last tenant of the file is Northwind: this override is its.
        let toml = format!(
            "{}\n[[tenant.overrides]]\nresource = \"ca-block-legacy-auth\"\nskip = true\nreason = \"{SKIP_REASON}\"\nexpires = \"2027-03-31\"\n",
            sim.handle.fleet_tenants_toml()
        );
        project.file("tenants/fleet.toml", toml);
        Fleet {
            sim,
            project,
            secret,
        }
    }

    fn cmd(&self, args: &[&str]) -> Cmd {
        let mut c = self.project.cmd(args);
        if matches!(args.first(), Some(&"plan" | &"deploy")) || args.contains(&"--from-live") {
            c.args(&["--time-scale", SCALE]);
        }
        c.env(FLEET_SECRET_ENV, &self.secret);
        c
    }

    fn id(&self, index: usize) -> String {
        self.sim.handle.tenants()[index].id.clone()
    }

    /// Deploy (Fabrikam fails), then widen Contoso's allowed countries and save a plan.
    fn deployed_then_changed(&self) -> PathBuf {
        self.cmd(&["deploy", "--yes"]).run().code(3);
        let path = self.project.path().join("tenants/fleet.toml");
        let text = std::fs::read_to_string(&path).expect("fleet");
        let changed = text.replacen(
            "allowed_countries = [\"US\", \"CA\"]",
            "allowed_countries = [\"US\", \"CA\", \"MX\"]",
            1,
        );
        assert_ne!(text, changed, "Contoso's countries are in the fleet file");
        std::fs::write(&path, changed).expect("write");
        let plan = self.project.path().join("plan.json");
        let out = self
            .cmd(&["plan", "--out", plan.to_str().expect("utf-8")])
            .run();
        assert!(matches!(out.code, 0 | 3), "plan: {out:?}");
        plan
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The row of the tenants table that names `name`.
fn row<'a>(html: &'a str, table: &str, name: &str) -> &'a str {
    let start = html
        .find(&format!(" id=\"{table}\""))
        .unwrap_or_else(|| panic!("no table {table}"));
    let end = start + html[start..].find("</table>").expect("table end");
    html[start..end]
        .split("<tr ")
        .find(|r| r.contains(name))
        .unwrap_or_else(|| panic!("no row for {name} in {table}"))
}

#[test]
fn the_dashboard_flags_the_failed_and_pending_tenants_shows_the_diff_and_the_skipped_control() {
    let fleet = Fleet::new();
    let plan = fleet.deployed_then_changed();
    let site = fleet.project.path().join("site");
    let site_arg = site.to_str().expect("utf-8");
    fleet
        .cmd(&[
            "report",
            "--from",
            plan.to_str().expect("utf-8"),
            "--out",
            site_arg,
        ])
        .run()
        .success()
        .stderr_has("report: 3 tenants (1 FAILED, 1 changes pending, 1 in sync), 1 runs");
    let index = read(&site.join("index.html"));

    let fabrikam = row(&index, "tenants", "Fabrikam");
    assert!(
        fabrikam.contains("data-state=\"failed\"") && fabrikam.contains(">FAILED<"),
        "{fabrikam}"
    );
    assert!(
        fabrikam.contains(" FAILED</td>"),
        "its last run failed: {fabrikam}"
    );
    let contoso = row(&index, "tenants", "Contoso");
    assert!(contoso.contains(">changes pending<"), "{contoso}");
    // Contoso's risk policies are skipped by its facts (no P2), not by overrides.
    assert!(contoso.contains("<td>0</td>"), "no overrides: {contoso}");
    let northwind = row(&index, "tenants", "Northwind");
    assert!(northwind.contains(">in sync<"), "{northwind}");
    assert!(
        northwind.contains("<td>2 (2027-03-31)</td>"),
        "overrides and nearest expiry: {northwind}"
    );

    // The matrix: Northwind's legacy-auth control skipped, with the override's reason.
    let cells = row(&index, "matrix", "Northwind");
    assert!(
        cells.contains("<td class=\"c-skipped\">skipped <a href=\"#reason-1\">[1]</a></td>"),
        "{cells}"
    );
    assert!(
        index.contains(&format!("<li id=\"reason-1\">{SKIP_REASON}</li>")),
        "reason listed"
    );
    assert!(index.contains("<th scope=\"col\">MS.AAD.1.1v1</th>"));
    let fab_cells = row(&index, "matrix", "Fabrikam");
    assert!(
        fab_cells.contains("<td class=\"c-failed\">FAILED</td>"),
        "{fab_cells}"
    );

    // Contoso's page: the named location's diff in the plan's notation.
    let contoso_page = read(&site.join(format!("tenants/{}.html", fleet.id(0))));
    assert!(
        contoso_page.contains("<pre class=\"diff\">~ "),
        "{contoso_page}"
    );
    assert!(
        contoso_page.contains("&quot;MX&quot;"),
        "the new country in the diff"
    );
    assert!(
        contoso_page.contains("needs Microsoft Entra ID P2 (AAD_PREMIUM_P2)"),
        "its skips' reasons (its facts lack P2)"
    );
    // Fabrikam's page: why it failed.
    let fabrikam_page = read(&site.join(format!("tenants/{}.html", fleet.id(1))));
    assert!(
        fabrikam_page.contains("Policy.ReadWrite.ConditionalAccess"),
        "{fabrikam_page}"
    );

    // Same inputs, same bytes.
    let again = fleet.project.path().join("again");
    fleet
        .cmd(&[
            "report",
            "--from",
            plan.to_str().expect("utf-8"),
            "--out",
            again.to_str().expect("utf-8"),
        ])
        .run()
        .success();
    assert_eq!(index, read(&again.join("index.html")));

    // Evidence from the same status: Northwind's skipped control with its reason, and a
    // control in force with the journal record that applied its resource.
    let out = fleet
        .cmd(&["evidence", "--from", plan.to_str().expect("utf-8")])
        .run()
        .success();
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("evidence JSON");
    assert_eq!(doc["format"], "tenantform.evidence/v1");
    let controls = doc["controls"].as_array().expect("controls");
    let of = |tenant: &str, control: &str| {
        controls
            .iter()
            .find(|c| c["tenant"] == tenant && c["control"] == control)
            .unwrap_or_else(|| panic!("no {control} for {tenant}"))
            .clone()
    };
    let skipped = of(&fleet.id(2), "MS.AAD.1.1v1");
    assert_eq!(skipped["state"], "skipped", "{skipped}");
    assert_eq!(skipped["reason"], SKIP_REASON);
    let enforced = of(&fleet.id(0), "MS.AAD.1.1v1");
    assert_eq!(enforced["state"], "enforced", "{enforced}");
    let resource = &enforced["resources"][0];
    assert_eq!(resource["key"], "ca-block-legacy-auth");
    assert!(
        resource["journal_hash"]
            .as_str()
            .is_some_and(|h| h.starts_with("sha256:")),
        "{resource}"
    );
    assert!(
        resource["object_id"].is_string() && resource["run_id"].is_string(),
        "{resource}"
    );
    let csv = fleet
        .cmd(&[
            "evidence",
            "--from",
            plan.to_str().expect("utf-8"),
            "--format",
            "csv",
        ])
        .run()
        .success()
        .stdout;
    assert!(
        csv.starts_with("control,tenant,tenant_name,state,reason,resource,"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "MS.AAD.1.1v1,{},Northwind Traders 00002,skipped,",
            fleet.id(2)
        )),
        "{csv}"
    );

    browser_checks(&site, &fleet.id(0));
}

/// Headless Chromium, or `None` with a loud message (a failure when CI requires it).
#[allow(clippy::print_stderr)] // says loudly that it skipped
pub(crate) fn chromium() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists());
    if found.is_none() {
        let message = "SKIPPED: the report's browser checks need headless Chromium (Debian package `chromium`: apt-get install -y chromium); none at /usr/bin/chromium";
        if std::env::var("TENANTFORM_REQUIRE_CHROMIUM").as_deref() == Ok("1") {
            panic!("{message}, and TENANTFORM_REQUIRE_CHROMIUM=1 requires it");
        }
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n{message}\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
    }
    found
}

/// Run Chromium headless on one page; returns (stdout, stderr).
pub(crate) fn headless(
    chromium: &Path,
    profile: &Path,
    args: &[&str],
    url: &str,
) -> (String, String) {
    let out = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("run chromium");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "chromium failed:\n{stderr}");
    (stdout, stderr)
}

/// Console errors Chromium logged for the page (script errors, failed loads).
pub(crate) fn console_errors(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains("CONSOLE") || l.contains("Uncaught") || l.contains("net::ERR_"))
        .collect()
}

fn browser_checks(site: &Path, contoso: &str) {
    let Some(chromium) = chromium() else { return };
    let profile = tempfile::tempdir().expect("profile");
    let index = format!("file://{}", site.join("index.html").display());

    // What a person sees once the page's script ran: the filters shown, every row shown.
    let (dom, stderr) = headless(&chromium, profile.path(), &["--dump-dom"], &index);
    assert!(
        console_errors(&stderr).is_empty(),
        "console errors: {:?}",
        console_errors(&stderr)
    );
    assert!(
        dom.contains("<form id=\"filters\" class=\"filters\" aria-label=\"Filter tenants\">"),
        "the script revealed the filters:\n{dom}"
    );
    assert!(dom.contains("3 of 3 tenants on this page shown"), "{dom}");
    assert!(dom.contains("skipped <a href=\"#reason-1\">[1]</a>"));
    assert!(dom.contains(SKIP_REASON));

    // A filtered view by its address: only the failed tenant stays.
    let (dom, _) = headless(
        &chromium,
        profile.path(),
        &["--dump-dom"],
        &format!("{index}?state=failed"),
    );
    assert!(dom.contains("1 of 3 tenants on this page shown"), "{dom}");
    let rows = &dom[dom.find("<table id=\"tenants\"").expect("table")..];
    let rows = &rows[..rows.find("</table>").expect("end")];
    let visible: Vec<&str> = rows
        .split("<tr ")
        .skip(1)
        .filter(|r| !r.contains(" hidden"))
        .collect();
    assert_eq!(visible.len(), 1, "{rows}");
    assert!(visible[0].contains("Fabrikam"), "{}", visible[0]);

    // The tenant page as rendered shows the diff.
    let page = format!(
        "file://{}",
        site.join(format!("tenants/{contoso}.html")).display()
    );
    let (dom, stderr) = headless(&chromium, profile.path(), &["--dump-dom"], &page);
    assert!(console_errors(&stderr).is_empty(), "{stderr}");
    assert!(
        dom.contains("&quot;MX&quot;") || dom.contains("\"MX\""),
        "{dom}"
    );

    // A screenshot on a laptop-sized and a phone-sized window.
    for (size, name) in [("1366,900", "laptop.png"), ("390,844", "phone.png")] {
        let shot = site.join(name);
        headless(
            &chromium,
            profile.path(),
            &[
                &format!("--screenshot={}", shot.display()),
                &format!("--window-size={size}"),
                "--hide-scrollbars",
            ],
            &index,
        );
        let bytes = std::fs::read(&shot).expect("screenshot written");
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{name}: {} bytes",
            bytes.len()
        );
        if let Ok(dir) = std::env::var("TENANTFORM_REPORT_SCREENSHOTS") {
            let _ = std::fs::copy(&shot, Path::new(&dir).join(name));
        }
    }
}
