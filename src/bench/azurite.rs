//! Azurite (Microsoft's Azure Storage emulator, npm package `azurite`) as a child process, for
//! `bench state` and the state backend tests: found at an explicit path, on `PATH` as
//! `azurite-blob`, or in a `node_modules/.bin` of the working directory or its parents; started on
//! a free loopback port with its data in a folder of the caller's; killed when dropped (or with
//! [`AzuriteChild::stop`], which keeps the data for [`AzuriteChild::resume`]).
//!
//! Input: the program, a data folder. Output: a running Azurite, its blob endpoint, and one
//! container created with a request signed by hand (Shared Key with Azurite's published
//! development key): tenantform's state backend never creates containers.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;

use super::BenchError;

/// Azurite's development account (published in Microsoft's documentation).
pub const ACCOUNT: &str = "devstoreaccount1";
/// Azurite's development account key (published in Microsoft's documentation; no secret).
pub const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// A running Azurite (blob service only).
#[derive(Debug)]
pub struct AzuriteChild {
    program: PathBuf,
    child: Option<Child>,
    port: u16,
    data: PathBuf,
    in_memory: bool,
}

/// Where Azurite is: `explicit`, else `azurite-blob` on `PATH`, else in a `node_modules/.bin`
/// of `dir` or a parent.
pub fn find(explicit: Option<&Path>, dir: &Path) -> Option<PathBuf> {
    if let Some(path) = explicit {
        return Some(path.to_path_buf());
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("azurite-blob"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| {
        dir.ancestors()
            .map(|d| d.join("node_modules/.bin/azurite-blob"))
            .find(|p| p.is_file())
    })
}

fn free_port() -> Result<u16, BenchError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| BenchError::Deploy(format!("no free loopback port: {e}")))
}

impl AzuriteChild {
    /// Start `program` with its data in `data`, and create `container`.
    pub fn start(program: &Path, data: &Path, container: &str) -> Result<AzuriteChild, BenchError> {
        AzuriteChild::start_with(program, data, container, false)
    }

    /// Start `program` keeping its blobs in memory (`--inMemoryPersistence`, as a CI job's
    /// throwaway emulator runs; `data` is left empty), and create `container`. Its data is gone once it stops: [`AzuriteChild::resume`] starts it empty.
    pub fn start_in_memory(
        program: &Path,
        data: &Path,
        container: &str,
    ) -> Result<AzuriteChild, BenchError> {
        AzuriteChild::start_with(program, data, container, true)
    }

    fn start_with(
        program: &Path,
        data: &Path,
        container: &str,
        in_memory: bool,
    ) -> Result<AzuriteChild, BenchError> {
        std::fs::create_dir_all(data).map_err(super::io(data))?;
        let mut azurite = AzuriteChild {
            program: program.to_path_buf(),
            child: None,
            port: free_port()?,
            data: data.to_path_buf(),
            in_memory,
        };
        azurite.resume()?;
        azurite.create_container(container)?;
        Ok(azurite)
    }

    /// Start it (again, after [`AzuriteChild::stop`]) on the same port with the same data, and
    /// wait until it listens.
    pub fn resume(&mut self) -> Result<(), BenchError> {
        let mut command = Command::new(&self.program);
        command
            .args(["--blobHost", "127.0.0.1", "--blobPort"])
            .arg(self.port.to_string());
        if self.in_memory {
            // Azurite refuses `--location` beside it; it writes nothing to disk then.
            command.arg("--inMemoryPersistence");
        } else {
            command.arg("--location").arg(&self.data);
        }
        let child = command
            .args([
                "--silent",
                "--skipApiVersionCheck",
                "--disableTelemetry",
                "--loose",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                BenchError::Deploy(format!("cannot start {}: {e}", self.program.display()))
            })?;
        self.child = Some(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if started.elapsed() > Duration::from_secs(60) {
                self.stop();
                return Err(BenchError::Deploy(format!(
                    "{} did not listen on 127.0.0.1:{} within 60 s",
                    self.program.display(),
                    self.port
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// Stop it (storage down); the data stays. Azurite is asked to stop first (SIGTERM), which
    /// saves its blob metadata to `--location`: killed at once, a container created moments
    /// before (its metadata saved every few seconds) was gone when it started again. Killed if
    /// it has not stopped within 5 s.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            if let Ok(pid) = libc::pid_t::try_from(child.id()) {
                // SAFETY: `kill` with a pid of our own child and a valid signal number.
                unsafe {
                    libc::kill(pid, libc::SIGTERM);
                }
                let deadline = std::time::Instant::now() + Duration::from_secs(5);
                while std::time::Instant::now() < deadline {
                    if matches!(child.try_wait(), Ok(Some(_))) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The blob endpoint (`[state] endpoint`): `http://127.0.0.1:PORT/devstoreaccount1`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{ACCOUNT}", self.port)
    }

    /// Create a container (an existing one is fine).
    pub fn create_container(&self, name: &str) -> Result<(), BenchError> {
        let date = jiff::Timestamp::now()
            .strftime("%a, %d %b %Y %H:%M:%S GMT")
            .to_string();
        let version = "2021-08-06";
        let to_sign = format!(
            "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{ACCOUNT}/{ACCOUNT}/{name}\nrestype:container"
        );
        let key = base64::engine::general_purpose::STANDARD
            .decode(KEY)
            .map_err(|e| BenchError::Deploy(format!("azurite key: {e}")))?;
        let signature =
            base64::engine::general_purpose::STANDARD.encode(hmac_sha256(&key, to_sign.as_bytes()));
        let request = format!(
            "PUT /{ACCOUNT}/{name}?restype=container HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nx-ms-date: {date}\r\nx-ms-version: {version}\r\nAuthorization: SharedKey {ACCOUNT}:{signature}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        );
        let answer = exchange(self.port, request.as_bytes())
            .map_err(|e| BenchError::Deploy(format!("create container {name}: {e}")))?;
        let status = answer
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .unwrap_or(0);
        if (200..300).contains(&status) || status == 409 {
            Ok(())
        } else {
            Err(BenchError::Deploy(format!(
                "create container {name}: {}",
                answer.lines().next().unwrap_or("no answer")
            )))
        }
    }
}

impl Drop for AzuriteChild {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Send one request on a fresh loopback connection and read the answer to its end.
fn exchange(port: u16, request: &[u8]) -> std::io::Result<String> {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.write_all(request)?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

/// HMAC-SHA256 (RFC 2104) over `sha2`.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    const BLOCK: usize = 64;
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.map(|b| b ^ byte);
    let inner = sha2::Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message)
        .finalize();
    sha2::Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize()
        .into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231_test_case_2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
