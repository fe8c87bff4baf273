//! The simulator the deploy benchmark runs against: `tenantform sim` in a child process, so
//! client and simulator are measured apart (each its own peak memory).

use super::*;

/// Parse the base URL out of the simulator's first stdout line (`listening on http://ADDR`).
pub(crate) fn listening_url(line: &str) -> Option<&str> {
    line.strip_prefix("listening on ").map(str::trim)
}

/// The simulator child process; killed (and reaped) when dropped, whatever happened.
#[derive(Debug)]
pub(crate) struct SimChild {
    pub(crate) child: Child,
    pub(crate) base_url: String,
    pub(crate) log: PathBuf,
}

impl SimChild {
    pub(crate) fn start(
        options: &DeployBenchOptions,
        fleet_out: &Path,
        log: &Path,
    ) -> Result<SimChild, BenchError> {
        let stderr = std::fs::File::create(log).map_err(crate::bench::io(log))?;
        let mut child = Command::new(&options.simulator)
            .arg("sim")
            .args(["--listen", "127.0.0.1:0"])
            .args(["--tenants", &options.tenants.to_string()])
            .args(["--time-scale", &options.time_scale.to_string()])
            .args(["--latency-ms", &options.latency_ms.to_string()])
            .arg("--fleet-out")
            .arg(fleet_out)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| {
                BenchError::Deploy(format!(
                    "cannot start {} sim: {e}",
                    options.simulator.display()
                ))
            })?;
        let stdout = child.stdout.take();
        let mut sim = SimChild {
            child,
            base_url: String::new(),
            log: log.to_path_buf(),
        };
        let Some(stdout) = stdout else {
            return Err(BenchError::Deploy(
                "the simulator's stdout is not piped".into(),
            ));
        };
        // Lines go through a channel so the wait can time out; the thread drains stdout until
        // the child ends.
        let (lines, received) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = lines.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(600);
        loop {
            match received.recv_timeout(Duration::from_millis(200)) {
                Ok(line) => {
                    if let Some(url) = listening_url(&line) {
                        sim.base_url = url.to_string();
                    }
                    if line.starts_with("tenants file written to ") {
                        break;
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Ok(Some(status)) = sim.child.try_wait() {
                        return Err(sim.failed(&format!("exited ({status}) before it was ready")));
                    }
                    if Instant::now() > deadline {
                        return Err(sim.failed("not ready after 600 s"));
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(sim.failed("closed its stdout before it was ready"));
                }
            }
        }
        if sim.base_url.is_empty() {
            return Err(sim.failed("wrote its tenants file without a `listening on` line"));
        }
        Ok(sim)
    }

    pub(crate) fn failed(&self, what: &str) -> BenchError {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let tail: String = log
            .chars()
            .rev()
            .take(2000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        BenchError::Deploy(format!("the simulator child {what}; its stderr: {tail}"))
    }

    pub(crate) fn peak_rss_mib(&self) -> Option<f64> {
        crate::bench::status_mib(&self.child.id().to_string(), "VmHWM:")
    }

    /// CPU time the child has used so far, seconds (Linux; `None` elsewhere).
    pub(crate) fn cpu_seconds(&self) -> Option<f64> {
        crate::bench::cpu_seconds(&self.child.id().to_string())
    }
}

impl Drop for SimChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
