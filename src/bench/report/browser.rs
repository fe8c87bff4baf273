//! Time to first render of a page in headless Chromium, measured by the browser itself: Chromium
//! is started with `--remote-debugging-pipe` (the DevTools protocol as NUL-separated JSON on its
//! file descriptors 3 and 4, no port, no WebSocket), a tab is opened, the page is navigated to,
//! and once its `load` event fired the page's own Paint Timing entries are read
//! (`first-contentful-paint`, `largest-contentful-paint`, from navigation start), with the
//! navigation's `domContentLoaded` and `load` ends. Console errors, uncaught exceptions and
//! error log entries of the page are collected.
//!
//! Input: the browser's path, a page. Output: a [`RenderTiming`] per navigation.

use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::bench::BenchError;

/// How long one protocol answer or event may take before the measurement gives up.
const PATIENCE: Duration = Duration::from_secs(120);

/// One navigation's figures, milliseconds from navigation start (the browser's clock).
#[derive(Debug, Clone, Serialize)]
pub struct RenderTiming {
    /// First contentful paint: the first text or image on screen.
    pub first_contentful_paint_ms: Option<f64>,
    /// Largest contentful paint, as reported by the time `load` fired.
    pub largest_contentful_paint_ms: Option<f64>,
    /// The `DOMContentLoaded` handlers finished (the page's script has run).
    pub dom_content_loaded_ms: Option<f64>,
    /// The `load` event finished.
    pub load_ms: Option<f64>,
    /// Wall time from sending the navigation to the `load` event, as this process saw it.
    pub wall_to_load_ms: f64,
    /// Table rows in the rendered document (what was drawn, as a sanity check).
    pub rows: u64,
}

/// Every navigation of a page, and what the page logged.
#[derive(Debug, Clone, Serialize)]
pub struct BrowserFigures {
    /// The browser and its version.
    pub browser: String,
    /// One per navigation; the first is the cold one.
    pub navigations: Vec<RenderTiming>,
    /// Console errors, uncaught exceptions and error log entries (empty is the target).
    pub console_errors: Vec<String>,
}

/// Where Chromium is: the path given, or `chromium`, `chromium-browser`, `google-chrome` in
/// `/usr/bin` or on `PATH` (the browser test looks the same way).
pub fn find_chromium(given: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = given {
        return path.is_file().then(|| path.to_path_buf());
    }
    let names = ["chromium", "chromium-browser", "google-chrome"];
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    dirs.iter()
        .flat_map(|d| names.iter().map(move |n| d.join(n)))
        .find(|p| p.is_file())
}

fn fail(what: impl std::fmt::Display) -> BenchError {
    BenchError::Report(format!("headless Chromium: {what}"))
}

/// A Chromium child driven over its DevTools pipe; killed and reaped when dropped.
struct Browser {
    child: Child,
    to_browser: std::io::PipeWriter,
    messages: mpsc::Receiver<Value>,
    next_id: u64,
    session: Option<String>,
    console_errors: Vec<String>,
    load_fired: bool,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Browser {
    fn start(chromium: &Path, profile: &Path, log: &Path) -> Result<Browser, BenchError> {
        let (browser_reads, to_browser) = std::io::pipe().map_err(fail)?;
        let (from_browser, browser_writes) = std::io::pipe().map_err(fail)?;
        let (read_fd, write_fd) = (browser_reads.as_raw_fd(), browser_writes.as_raw_fd());
        let stderr = std::fs::File::create(log).map_err(fail)?;
        let mut command = Command::new(chromium);
        command
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-pipe",
                "--window-size=1366,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        // SAFETY: between fork and exec only async-signal-safe calls (fcntl, dup2) on
        // descriptors this process owns: the pipe ends are copied above 10 first (F_DUPFD
        // leaves close-on-exec off), then onto 3 and 4, where `--remote-debugging-pipe` looks.
        unsafe {
            command.pre_exec(move || {
                let read = libc::fcntl(read_fd, libc::F_DUPFD, 10);
                let write = libc::fcntl(write_fd, libc::F_DUPFD, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command
            .spawn()
            .map_err(|e| fail(format!("cannot start {}: {e}", chromium.display())))?;
        // The browser's ends belong to the browser now.
        drop(browser_reads);
        drop(browser_writes);
        let (sender, messages) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(from_browser);
            let mut buffer = Vec::new();
            while let Ok(n) = reader.read_until(0, &mut buffer) {
                if n == 0 {
                    break;
                }
                if buffer.last() == Some(&0) {
                    buffer.pop();
                }
                if let Ok(value) = serde_json::from_slice::<Value>(&buffer)
                    && sender.send(value).is_err()
                {
                    break;
                }
                buffer.clear();
            }
        });
        Ok(Browser {
            child,
            to_browser,
            messages,
            next_id: 0,
            session: None,
            console_errors: Vec::new(),
            load_fired: false,
        })
    }

    /// Note what an event says (console errors, the load event).
    fn event(&mut self, message: &Value) {
        let method = message["method"].as_str().unwrap_or_default();
        let params = &message["params"];
        match method {
            "Page.loadEventFired" => self.load_fired = true,
            "Runtime.exceptionThrown" => self.console_errors.push(format!(
                "uncaught: {}",
                params["exceptionDetails"]["exception"]["description"]
                    .as_str()
                    .or(params["exceptionDetails"]["text"].as_str())
                    .unwrap_or("exception")
            )),
            "Runtime.consoleAPICalled"
                if matches!(params["type"].as_str(), Some("error" | "assert")) =>
            {
                let text: Vec<String> = params["args"]
                    .as_array()
                    .map(|args| {
                        args.iter()
                            .map(|a| {
                                a["value"]
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| a["description"].to_string())
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                self.console_errors
                    .push(format!("console.error: {}", text.join(" ")));
            }
            "Log.entryAdded" if params["entry"]["level"].as_str() == Some("error") => {
                self.console_errors.push(format!(
                    "log: {} {}",
                    params["entry"]["text"].as_str().unwrap_or_default(),
                    params["entry"]["url"].as_str().unwrap_or_default()
                ));
            }
            _ => {}
        }
    }

    fn receive(&mut self, deadline: Instant) -> Result<Value, BenchError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.messages.recv_timeout(left) {
            Ok(message) => Ok(message),
            Err(mpsc::RecvTimeoutError::Timeout) => {
                Err(fail(format!("no answer within {} s", PATIENCE.as_secs())))
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                Err(fail("the browser closed its DevTools pipe"))
            }
        }
    }

    /// Send a command (to the page's session once attached) and wait for its answer.
    fn call(&mut self, method: &str, params: Value) -> Result<Value, BenchError> {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = &self.session {
            message["sessionId"] = Value::String(session.clone());
        }
        let mut bytes = serde_json::to_vec(&message).map_err(fail)?;
        bytes.push(0);
        self.to_browser.write_all(&bytes).map_err(fail)?;
        let deadline = Instant::now() + PATIENCE;
        loop {
            let message = self.receive(deadline)?;
            if message["id"].as_u64() == Some(id) {
                if let Some(error) = message.get("error") {
                    return Err(fail(format!("{method}: {error}")));
                }
                return Ok(message["result"].clone());
            }
            self.event(&message);
        }
    }

    fn wait_for_load(&mut self) -> Result<(), BenchError> {
        let deadline = Instant::now() + PATIENCE;
        while !self.load_fired {
            let message = self.receive(deadline)?;
            self.event(&message);
        }
        Ok(())
    }
}

/// What the page reports about its own rendering, read after `load` (a moment is left for the
/// largest-contentful-paint observer to report).
const TIMING_SCRIPT: &str = r#"new Promise(function (resolve) {
  var lcp = null;
  try {
    new PerformanceObserver(function (list) {
      var entries = list.getEntries();
      lcp = entries[entries.length - 1].startTime;
    }).observe({type: 'largest-contentful-paint', buffered: true});
  } catch (e) {}
  setTimeout(function () {
    var paint = {};
    performance.getEntriesByType('paint').forEach(function (e) { paint[e.name] = e.startTime; });
    var nav = performance.getEntriesByType('navigation')[0];
    resolve(JSON.stringify({
      fcp: paint['first-contentful-paint'] === undefined ? null : paint['first-contentful-paint'],
      lcp: lcp,
      dcl: nav ? nav.domContentLoadedEventEnd : null,
      load: nav ? nav.loadEventEnd : null,
      rows: document.querySelectorAll('tr').length
    }));
  }, 300);
})"#;

/// Open `page` in a new headless Chromium `navigations` times and read its render timing.
pub fn measure(
    chromium: &Path,
    page: &Path,
    navigations: usize,
    scratch: &Path,
) -> Result<BrowserFigures, BenchError> {
    let version = Command::new(chromium)
        .arg("--version")
        .stderr(Stdio::null())
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| chromium.display().to_string());
    let page = std::fs::canonicalize(page).map_err(fail)?;
    let url = format!("file://{}", page.display());
    let profile = scratch.join("chromium-profile");
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).map_err(fail)?;
    let mut browser = Browser::start(chromium, &profile, &scratch.join("chromium.log"))?;
    let target = browser.call("Target.createTarget", json!({"url": "about:blank"}))?;
    let target_id = target["targetId"]
        .as_str()
        .ok_or_else(|| fail("Target.createTarget gave no targetId"))?
        .to_string();
    let attached = browser.call(
        "Target.attachToTarget",
        json!({"targetId": target_id, "flatten": true}),
    )?;
    browser.session = attached["sessionId"].as_str().map(str::to_string);
    if browser.session.is_none() {
        return Err(fail("Target.attachToTarget gave no sessionId"));
    }
    for method in ["Page.enable", "Runtime.enable", "Log.enable"] {
        browser.call(method, json!({}))?;
    }
    let mut timings = Vec::with_capacity(navigations);
    for _ in 0..navigations.max(1) {
        browser.load_fired = false;
        let sent = Instant::now();
        let navigated = browser.call("Page.navigate", json!({"url": url}))?;
        if let Some(error) = navigated["errorText"].as_str() {
            return Err(fail(format!("{url}: {error}")));
        }
        browser.wait_for_load()?;
        let wall_to_load_ms = sent.elapsed().as_secs_f64() * 1000.0;
        let evaluated = browser.call(
            "Runtime.evaluate",
            json!({"expression": TIMING_SCRIPT, "awaitPromise": true, "returnByValue": true}),
        )?;
        let text = evaluated["result"]["value"].as_str().unwrap_or("{}");
        let figures: Value = serde_json::from_str(text).map_err(fail)?;
        timings.push(RenderTiming {
            first_contentful_paint_ms: figures["fcp"].as_f64(),
            largest_contentful_paint_ms: figures["lcp"].as_f64(),
            dom_content_loaded_ms: figures["dcl"].as_f64(),
            load_ms: figures["load"].as_f64(),
            wall_to_load_ms,
            rows: figures["rows"].as_u64().unwrap_or(0),
        });
    }
    // Dropping the browser kills and reaps it (a close command's answer may never come).
    Ok(BrowserFigures {
        browser: version,
        navigations: timings,
        console_errors: std::mem::take(&mut browser.console_errors),
    })
}
