//! `tenantform bench report`: the fleet dashboard at scale (issue 12). Writes a project of N
//! tenants with R deploy runs of history and a drift result ([`history`]), runs
//! `tenantform report -p PROJECT --from drift.json --out SITE` as a user does (a child process,
//! default flags) and measures its wall time and peak RSS (`wait4`'s `ru_maxrss`), the
//! overview's size (target: under 2 MB), the whole site, and the overview's time to first render
//! in headless Chromium ([`browser`]).
//!
//! Input: [`ReportBenchOptions`]. Output: a [`ReportBench`] (the CLI prints it). Owns the scratch
//! directory's layout (`project/`, `drift.json`, `site/`) and the report child process.

pub mod browser;
pub mod history;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Serialize;

use crate::bench::BenchError;
use crate::bench::deploy::Check;
use browser::BrowserFigures;
use history::{History, HistoryOptions};

/// The overview's size target (issue 12: "the overview under 2 MB").
pub const OVERVIEW_LIMIT_BYTES: u64 = 2_000_000;

/// "Good" first contentful paint, per web.dev's Core Web Vitals thresholds (1.8 s).
pub const FIRST_CONTENTFUL_PAINT_GOOD_MS: f64 = 1800.0;

/// "Good" largest contentful paint, per web.dev's Core Web Vitals thresholds (2.5 s).
pub const LARGEST_CONTENTFUL_PAINT_GOOD_MS: f64 = 2500.0;

/// What to run.
#[derive(Debug, Clone)]
pub struct ReportBenchOptions {
    /// Tenants in the generated fleet.
    pub tenants: usize,
    /// Deploy runs of history.
    pub runs: usize,
    /// The executable whose `report` subcommand is measured (the CLI passes its own).
    pub executable: PathBuf,
    /// Where the project, the drift results and the site go.
    pub work_dir: PathBuf,
    /// Chromium, when given (else looked for as the browser test does).
    pub chromium: Option<PathBuf>,
    /// Navigations of the overview in the browser (the first is cold).
    pub navigations: usize,
}

/// The report child's run.
#[derive(Debug, Clone, Serialize)]
pub struct ChildRun {
    /// Wall time from spawn to exit, seconds.
    pub seconds: f64,
    /// Peak resident set size of the child (`ru_maxrss`), MiB.
    pub peak_rss_mib: Option<f64>,
    /// CPU time of the child in user mode (`ru_utime`), seconds: on a shared machine the
    /// wall time includes waiting for a core, this does not.
    pub user_seconds: f64,
    /// CPU time of the child in the kernel (`ru_stime`), seconds.
    pub system_seconds: f64,
    /// Exit code (none: killed by a signal).
    pub exit_code: Option<i32>,
    /// What it wrote on stderr (its one-line summary, or its error).
    pub stderr: String,
}

/// What the site holds.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SiteFigures {
    /// `index.html`, bytes.
    pub overview_bytes: u64,
    /// Overview pages (`index.html`, `tenants-N.html`).
    pub overview_pages: usize,
    /// The largest overview page, bytes.
    pub largest_overview_page_bytes: u64,
    /// Tenant pages (`tenants/<id>.html`).
    pub tenant_pages: usize,
    /// Every file, bytes.
    pub site_bytes: u64,
    /// Every file.
    pub site_files: usize,
    /// `index.html` is whole: it ends with `</html>`.
    pub overview_has_closing_tag: bool,
}

/// The figures of one run.
#[derive(Debug, Clone, Serialize)]
pub struct ReportBench {
    /// Tenants.
    pub tenants: usize,
    /// Runs of history.
    pub runs: usize,
    /// The generated history (setup).
    pub history: History,
    /// The report command, as run.
    pub command: String,
    /// The report child's figures.
    pub report: ChildRun,
    /// The site's.
    pub site: SiteFigures,
    /// Headless Chromium's, when it ran.
    pub browser: Option<BrowserFigures>,
    /// Why the browser figure is missing.
    pub browser_skipped: Option<String>,
    /// Cores of this machine.
    pub cores: usize,
    /// Load average (1 min) when the report was started.
    pub load_average: Option<f64>,
    /// Commands that reach the same figures by hand.
    pub commands: Vec<String>,
    /// Targets.
    pub checks: Vec<Check>,
}

/// Run `command` to its end and measure it: wall time and its own peak RSS from `wait4`.
pub fn run_child(command: &mut Command, stderr_file: &Path) -> Result<ChildRun, BenchError> {
    let stderr = std::fs::File::create(stderr_file).map_err(crate::bench::io(stderr_file))?;
    let started = Instant::now();
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .map_err(|e| BenchError::Report(format!("cannot start {command:?}: {e}")))?;
    let pid = libc::pid_t::try_from(child.id())
        .map_err(|_| BenchError::Report(format!("process id {} out of range", child.id())))?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data that wait4 fills; `pid` is this process's own child,
    // which std has not waited for (the `Child` is only dropped, never waited on, after this).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: valid pointers to the two out-parameters above, for the call's duration.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            break;
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(BenchError::Report(format!(
                "waiting for the report: {error}"
            )));
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    drop(child);
    let exit_code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // Linux reports ru_maxrss in KiB.
    let peak_rss_mib = (usage.ru_maxrss > 0).then(|| usage.ru_maxrss as f64 / 1024.0);
    let cpu = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let stderr = std::fs::read_to_string(stderr_file).unwrap_or_default();
    Ok(ChildRun {
        seconds,
        peak_rss_mib,
        user_seconds: cpu(usage.ru_utime),
        system_seconds: cpu(usage.ru_stime),
        exit_code,
        stderr,
    })
}

/// Sizes and counts of a written site.
pub fn site_figures(site: &Path) -> SiteFigures {
    let mut figures = SiteFigures::default();
    for entry in walkdir::WalkDir::new(site)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
    {
        let len = entry.metadata().map_or(0, |m| m.len());
        figures.site_files += 1;
        figures.site_bytes += len;
        let rel = entry.path().strip_prefix(site).unwrap_or(entry.path());
        let name = entry.file_name().to_string_lossy();
        if rel.parent().is_some_and(|p| p == Path::new("tenants")) && name.ends_with(".html") {
            figures.tenant_pages += 1;
        } else if rel.parent() == Some(Path::new(""))
            && (name == "index.html" || (name.starts_with("tenants-") && name.ends_with(".html")))
        {
            figures.overview_pages += 1;
            figures.largest_overview_page_bytes = figures.largest_overview_page_bytes.max(len);
            if name == "index.html" {
                figures.overview_bytes = len;
            }
        }
    }
    figures.overview_has_closing_tag = std::fs::read_to_string(site.join("index.html"))
        .is_ok_and(|text| text.trim_end().ends_with("</html>"));
    figures
}

fn load_average() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

fn check(name: String, measured: String, passed: bool) -> Check {
    Check {
        name,
        measured,
        passed,
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.2} MB", bytes as f64 / 1_000_000.0)
}

/// Generate the history, run the report, measure the site and its first render.
pub fn run(
    options: &ReportBenchOptions,
    progress: &dyn Fn(&str),
) -> Result<ReportBench, BenchError> {
    let work = &options.work_dir;
    std::fs::create_dir_all(work).map_err(crate::bench::io(work))?;
    progress(&format!(
        "writing a project of {} tenants and {} deploy runs of history in {}",
        options.tenants,
        options.runs,
        work.display()
    ));
    let history = history::write(
        work,
        &HistoryOptions {
            tenants: options.tenants,
            runs: options.runs,
        },
    )?;
    progress(&format!(
        "history written in {:.1} s: {} journal records, {:.1} MB",
        history.seconds,
        history.records,
        history.journal_bytes as f64 / 1e6
    ));
    let site = work.join("site");
    let _ = std::fs::remove_dir_all(&site);
    let args: Vec<String> = vec![
        "report".into(),
        "-p".into(),
        history.project_dir.display().to_string(),
        "--from".into(),
        history.drift_file.display().to_string(),
        "--out".into(),
        site.display().to_string(),
    ];
    let shown = format!("tenantform {}", args.join(" "));
    progress(&format!("running {shown}"));
    let load_average = load_average();
    let report = run_child(
        Command::new(&options.executable).args(&args),
        &work.join("report.stderr"),
    )?;
    if report.exit_code != Some(0) {
        return Err(BenchError::Report(format!(
            "{shown} exited {:?}: {}",
            report.exit_code,
            report.stderr.trim()
        )));
    }
    let site_figures = site_figures(&site);
    let index = site.join("index.html");
    let (browser, browser_skipped) = match browser::find_chromium(options.chromium.as_deref()) {
        Some(chromium) => {
            progress(&format!(
                "rendering {} in headless {}",
                index.display(),
                chromium.display()
            ));
            (
                Some(browser::measure(
                    &chromium,
                    &index,
                    options.navigations,
                    work,
                )?),
                None,
            )
        }
        None => (
            None,
            Some(match &options.chromium {
                Some(given) => format!("--chromium {}: no such file", given.display()),
                None => "no Chromium found (chromium, chromium-browser or google-chrome in /usr/bin or on PATH; Debian: apt-get install chromium)".to_string(),
            }),
        ),
    };

    let mut checks = vec![
        check(
            format!("overview index.html under {}", mb(OVERVIEW_LIMIT_BYTES)),
            mb(site_figures.overview_bytes),
            site_figures.overview_bytes > 0 && site_figures.overview_bytes < OVERVIEW_LIMIT_BYTES,
        ),
        check(
            format!("every overview page under {}", mb(OVERVIEW_LIMIT_BYTES)),
            format!(
                "largest {} of {} pages",
                mb(site_figures.largest_overview_page_bytes),
                site_figures.overview_pages
            ),
            site_figures.largest_overview_page_bytes < OVERVIEW_LIMIT_BYTES,
        ),
        check(
            "a page per tenant, a complete overview".into(),
            format!(
                "{} tenant pages for {} tenants; index.html {}",
                site_figures.tenant_pages,
                options.tenants,
                if site_figures.overview_has_closing_tag {
                    "ends with </html>"
                } else {
                    "is cut short"
                }
            ),
            site_figures.tenant_pages == options.tenants && site_figures.overview_has_closing_tag,
        ),
    ];
    if let Some(b) = &browser {
        let fcp: Vec<f64> = b
            .navigations
            .iter()
            .filter_map(|n| n.first_contentful_paint_ms)
            .collect();
        let lcp: Vec<f64> = b
            .navigations
            .iter()
            .filter_map(|n| n.largest_contentful_paint_ms)
            .collect();
        let worst = |v: &[f64]| v.iter().copied().fold(f64::NAN, f64::max);
        checks.push(check(
            format!(
                "first contentful paint of the overview at most {FIRST_CONTENTFUL_PAINT_GOOD_MS:.0} ms (web.dev \"good\")"
            ),
            if fcp.is_empty() {
                "not reported by the browser".into()
            } else {
                format!("worst of {} navigations {:.0} ms", fcp.len(), worst(&fcp))
            },
            !fcp.is_empty() && worst(&fcp) <= FIRST_CONTENTFUL_PAINT_GOOD_MS,
        ));
        checks.push(check(
            format!(
                "largest contentful paint of the overview at most {LARGEST_CONTENTFUL_PAINT_GOOD_MS:.0} ms (web.dev \"good\")"
            ),
            if lcp.is_empty() {
                "not reported by the browser".into()
            } else {
                format!("worst of {} navigations {:.0} ms", lcp.len(), worst(&lcp))
            },
            !lcp.is_empty() && worst(&lcp) <= LARGEST_CONTENTFUL_PAINT_GOOD_MS,
        ));
        checks.push(check(
            "no console error while the overview loads".into(),
            if b.console_errors.is_empty() {
                "none".into()
            } else {
                b.console_errors.join("; ")
            },
            b.console_errors.is_empty(),
        ));
    }
    let project = history.project_dir.display().to_string();
    let commands = vec![
        format!(
            "tenantform bench report --tenants {} --runs {} --keep {}   (keeps the project, drift.json and site)",
            options.tenants,
            options.runs,
            work.display()
        ),
        format!(
            "/usr/bin/time -v tenantform report -p {project} --from {} --out {}   (wall clock; \"Maximum resident set size\")",
            history.drift_file.display(),
            site.display()
        ),
        format!("ls -l {}; du -sb {}", index.display(), site.display()),
        format!(
            "chromium --headless --no-sandbox --disable-gpu --enable-logging=stderr --v=0 --dump-dom file://{} > /dev/null   (console errors on stderr; first paint: DevTools' Performance panel)",
            index.display()
        ),
    ];
    Ok(ReportBench {
        tenants: options.tenants,
        runs: options.runs,
        history,
        command: shown,
        report,
        site: site_figures,
        browser,
        browser_skipped,
        cores: std::thread::available_parallelism().map_or(1, std::num::NonZero::get),
        load_average,
        commands,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_child_is_measured_with_its_exit_code_stderr_and_peak_memory() {
        let dir = tempfile::tempdir().expect("dir");
        let run = run_child(
            Command::new("sh").args(["-c", "echo cannot read the project >&2; exit 3"]),
            &dir.path().join("stderr"),
        )
        .expect("ran");
        assert_eq!(run.exit_code, Some(3));
        assert_eq!(run.stderr, "cannot read the project\n");
        assert!(run.peak_rss_mib.is_some_and(|m| m > 0.0), "{run:?}");
        assert!(run.seconds > 0.0);
    }

    #[test]
    fn a_child_that_cannot_start_is_an_error_naming_it() {
        let dir = tempfile::tempdir().expect("dir");
        let e = run_child(
            &mut Command::new("/nonexistent/tenantform"),
            &dir.path().join("stderr"),
        )
        .expect_err("no such program")
        .to_string();
        assert!(
            e.contains("cannot start") && e.contains("/nonexistent/tenantform"),
            "{e}"
        );
    }

    #[test]
    fn site_figures_count_overview_pages_apart_from_tenant_pages() {
        let dir = tempfile::tempdir().expect("dir");
        let site = dir.path();
        std::fs::create_dir_all(site.join("tenants")).expect("dir");
        std::fs::write(site.join("index.html"), "<html>12345</html>\n").expect("write");
        std::fs::write(site.join("tenants-2.html"), "<html>123456789</html>").expect("write");
        std::fs::write(site.join("tenants/a.html"), "a").expect("write");
        std::fs::write(site.join("tenants/b.html"), "b").expect("write");
        let f = site_figures(site);
        assert_eq!(f.overview_pages, 2);
        assert_eq!(f.overview_bytes, 19);
        assert_eq!(f.largest_overview_page_bytes, 22);
        assert_eq!(f.tenant_pages, 2);
        assert_eq!((f.site_files, f.site_bytes), (4, 43));
        assert!(f.overview_has_closing_tag);
        std::fs::write(site.join("index.html"), "<html><body>cut sh").expect("write");
        assert!(!site_figures(site).overview_has_closing_tag);
    }

    #[test]
    fn a_chromium_given_that_is_not_there_is_not_found() {
        assert_eq!(
            browser::find_chromium(Some(Path::new("/nonexistent/chromium"))),
            None
        );
    }
}
