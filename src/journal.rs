//! The run journal: an append-only JSON Lines file per deploy run
//! (`DIR/.tenantform/runs/<run-id>/journal.jsonl`) that is the audit trail and the basis of
//! resume. Every record carries the hash of the one before it, so an edited, reordered or
//! removed record is detected. Records hold what was asked and what happened (tenant, key,
//! method, path, status, request-id, attempt, duration, body hash), never a body, a header, a
//! secret or a token.
//!
//! Input: [`Entry`] values to append. Output: the file, and on reading, verified [`Record`]s
//! (a last line cut short by a crash is tolerated and reported).

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::canonical;

/// Hash that precedes the first record.
pub const GENESIS: &str = "sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// What a record says happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "event")]
pub enum Entry {
    /// A run started.
    RunStarted {
        /// Tenants in the run.
        tenants: Vec<String>,
        /// The tool version.
        version: String,
    },
    /// The run applies a saved plan file (`deploy --plan`): its hash, and what approved it.
    PlanApplied {
        /// `sha256:` of the plan file's bytes.
        plan_hash: String,
        /// `--approved-hash`, `.tenantform/approved-plans line N`, or `not required`.
        approval: String,
    },
    /// A run was resumed (`deploy --resume`): these tenants were still to finish.
    RunResumed {
        /// Tenants still to finish.
        tenants: Vec<String>,
        /// The tool version.
        version: String,
    },
    /// A request is about to be sent.
    Intent {
        /// Tenant id.
        tenant: String,
        /// Resource key.
        key: String,
        /// HTTP method.
        method: String,
        /// Path (no host).
        path: String,
        /// `sha256:` of the canonical body sent (none for GET).
        body_hash: Option<String>,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// A request finished (or failed without a response).
    Outcome {
        /// Tenant id.
        tenant: String,
        /// Resource key.
        key: String,
        /// HTTP status; `None` when the connection failed.
        status: Option<u16>,
        /// Graph's `request-id`.
        request_id: Option<String>,
        /// Attempt number, from 1.
        attempt: u32,
        /// Milliseconds from send to response.
        duration_ms: u64,
        /// The object id the operation created or found.
        object_id: Option<String>,
    },
    /// A resource of a tenant is done: it matches the bundle.
    Applied {
        /// Tenant id.
        tenant: String,
        /// Resource key.
        key: String,
        /// What was done: created, updated, unchanged, adopted, deleted; a rollback's
        /// reverted, recreated, removed.
        action: String,
        /// The object id.
        object_id: Option<String>,
        /// The resource's kind (what a rollback needs to delete a created object); absent in
        /// journals written before it was recorded.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        kind: Option<String>,
    },
    /// A resource the tenant does not get, and why (an override's reason, what the tenant's
    /// facts lack, or the skipped resource it depends on): recorded before the tenant's first
    /// write, so the journal says why it was never sent.
    Skipped {
        /// Tenant id.
        tenant: String,
        /// Resource key.
        key: String,
        /// Kind name.
        kind: String,
        /// Why.
        reason: String,
    },
    /// This run rolls back another run (`tenantform rollback`).
    RollbackOf {
        /// The run rolled back.
        run: String,
    },
    /// A tenant finished.
    TenantFinished {
        /// Tenant id.
        tenant: String,
        /// False when it failed.
        ok: bool,
        /// Why it failed, in words a person can act on.
        reason: Option<String>,
    },
    /// The run finished.
    RunFinished {
        /// Tenants that succeeded.
        succeeded: usize,
        /// Tenants that failed.
        failed: usize,
    },
}

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    /// Position in the journal, from 0.
    pub seq: u64,
    /// When, as RFC 3339 (from the injected clock of the run).
    pub at: String,
    /// What happened.
    #[serde(flatten)]
    pub entry: Entry,
    /// Hash of the previous record (or [`GENESIS`]).
    pub prev: String,
    /// Hash of this record without this field.
    pub hash: String,
}

/// Problems reading or writing a journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// I/O.
    #[error("journal {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A line that is not a record (not the last one).
    #[error("journal {}: line {line} is not a journal record: {message}", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// Parser message.
        message: String,
    },
    /// The hash chain is broken: the journal was edited, reordered or cut in the middle.
    #[error("journal {}: the hash chain breaks at line {line} (record {seq}); the journal was changed after it was written", path.display())]
    Tampered {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// The record's sequence number.
        seq: u64,
    },
}

fn record_hash(seq: u64, at: &str, entry: &Entry, prev: &str) -> String {
    let mut value = serde_json::to_value(entry).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut value {
        map.insert("seq".into(), seq.into());
        map.insert("at".into(), at.into());
        map.insert("prev".into(), prev.into());
    }
    canonical::hash(&value)
}

/// Appends records, flushing each one to the file as it is written.
#[derive(Debug)]
pub struct JournalWriter {
    path: PathBuf,
    file: File,
    seq: u64,
    last: String,
}

impl JournalWriter {
    /// Open a journal for appending: a new one, or an existing one (resume), whose chain is
    /// verified and continued. A last line cut short by a crash is removed first.
    pub fn open(path: &Path) -> Result<JournalWriter, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let (seq, last) = if path.exists() {
            let read = read(path)?;
            if read.truncated_tail {
                // Drop the partial line so the next record starts on its own line.
                let text = std::fs::read_to_string(path).map_err(io)?;
                let keep = text.rfind('\n').map_or(0, |i| i + 1);
                std::fs::write(path, &text[..keep]).map_err(io)?;
            }
            match read.records.last() {
                Some(r) => (r.seq + 1, r.hash.clone()),
                None => (0, GENESIS.to_string()),
            }
        } else {
            (0, GENESIS.to_string())
        };
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(JournalWriter {
            path: path.to_path_buf(),
            file,
            seq,
            last,
        })
    }

    /// Append one record at time `at` (RFC 3339) and flush it; returns the record written.
    pub fn append(&mut self, at: &str, entry: Entry) -> Result<Record, JournalError> {
        let hash = record_hash(self.seq, at, &entry, &self.last);
        let record = Record {
            seq: self.seq,
            at: at.to_string(),
            entry,
            prev: self.last.clone(),
            hash,
        };
        let mut line = serde_json::to_string(&record).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        line.push('\n');
        self.file
            .write_all(line.as_bytes())
            .and_then(|()| self.file.flush())
            .map_err(|source| JournalError::Io {
                path: self.path.clone(),
                source,
            })?;
        self.seq += 1;
        self.last = record.hash.clone();
        Ok(record)
    }
}

/// A journal read back.
#[derive(Debug, Clone, Default)]
pub struct ReadJournal {
    /// Records, in order, chain verified.
    pub records: Vec<Record>,
    /// The last line was cut short (a crash while writing it); it was ignored.
    pub truncated_tail: bool,
}

impl ReadJournal {
    /// `(tenant, key)` of every resource recorded as applied: what a resumed run skips.
    pub fn applied(&self) -> std::collections::BTreeSet<(String, String)> {
        self.records
            .iter()
            .filter_map(|r| match &r.entry {
                Entry::Applied { tenant, key, .. } => Some((tenant.clone(), key.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Read and verify a journal.
pub fn read(path: &Path) -> Result<ReadJournal, JournalError> {
    let mut records = Vec::new();
    let truncated_tail = read_each(path, |record| records.push(record))?;
    Ok(ReadJournal {
        records,
        truncated_tail,
    })
}

/// Read and verify a journal record by record, handing each verified record to `each` without
/// keeping it: a reader that folds a long history (the fleet report over a run of thousands of
/// tenants) stays within the memory of one record. Returns true when the last line was cut short
/// by a crash (it is ignored). On an error, `each` has already seen the records before the bad
/// line: a caller that must not use part of a broken journal keeps what it folds aside until
/// this returns `Ok`.
pub fn read_each(path: &Path, mut each: impl FnMut(Record)) -> Result<bool, JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = BufReader::new(File::open(path).map_err(io)?);
    let mut prev = GENESIS.to_string();
    let mut line = String::new();
    let mut number = 0;
    let mut count: u64 = 0;
    loop {
        line.clear();
        if reader.read_line(&mut line).map_err(io)? == 0 {
            break;
        }
        number += 1;
        if !line.ends_with('\n') {
            // Only the last line can lack its line ending: a crash while it was written.
            return Ok(true);
        }
        let text = line.trim_end();
        let text = if number == 1 {
            crate::text::without_bom(text)
        } else {
            text
        };
        let record: Record = serde_json::from_str(text).map_err(|e| JournalError::Malformed {
            path: path.to_path_buf(),
            line: number,
            message: e.to_string(),
        })?;
        let expected = record_hash(record.seq, &record.at, &record.entry, &record.prev);
        if record.prev != prev || record.hash != expected || record.seq != count {
            return Err(JournalError::Tampered {
                path: path.to_path_buf(),
                line: number,
                seq: record.seq,
            });
        }
        prev.clone_from(&record.hash);
        count += 1;
        each(record);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(key: &str) -> Entry {
        Entry::Applied {
            tenant: "t1".into(),
            key: key.into(),
            action: "created".into(),
            object_id: Some("00000000-0000-0000-0000-000000000001".into()),
            kind: None,
        }
    }

    #[test]
    fn records_chain_and_read_back() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("runs/r1/journal.jsonl");
        let mut w = JournalWriter::open(&path).expect("open");
        w.append("2026-11-26T00:00:00Z", applied("a"))
            .expect("append");
        w.append("2026-11-26T00:00:01Z", applied("b"))
            .expect("append");
        let read = read(&path).expect("read");
        assert_eq!(read.records.len(), 2);
        assert_eq!(read.records[0].prev, GENESIS);
        assert_eq!(read.records[1].prev, read.records[0].hash);
        assert!(!read.truncated_tail);
        assert_eq!(read.applied().len(), 2);
    }

    #[test]
    fn an_edited_record_breaks_the_chain() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::open(&path).expect("open");
        w.append("2026-11-26T00:00:00Z", applied("a"))
            .expect("append");
        w.append("2026-11-26T00:00:01Z", applied("b"))
            .expect("append");
        let text = std::fs::read_to_string(&path).expect("read");
        std::fs::write(&path, text.replacen("\"a\"", "\"z\"", 1)).expect("write");
        assert!(matches!(
            read(&path),
            Err(JournalError::Tampered { line: 1, .. })
        ));
        // Removing the first record breaks it too.
        let second = text.lines().nth(1).expect("line").to_string() + "\n";
        std::fs::write(&path, second).expect("write");
        assert!(matches!(
            read(&path),
            Err(JournalError::Tampered { line: 1, .. })
        ));
    }

    #[test]
    fn a_line_cut_short_by_a_crash_is_dropped_and_the_chain_continues() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::open(&path).expect("open");
        w.append("2026-11-26T00:00:00Z", applied("a"))
            .expect("append");
        drop(w);
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"seq\":1,\"at\":\"2026-").expect("write");
        drop(f);
        let read1 = read(&path).expect("read");
        assert!(read1.truncated_tail);
        assert_eq!(read1.records.len(), 1);
        let mut w = JournalWriter::open(&path).expect("reopen");
        w.append("2026-11-26T00:00:02Z", applied("b"))
            .expect("append");
        let read2 = read(&path).expect("read");
        assert!(!read2.truncated_tail);
        assert_eq!(read2.records.len(), 2);
        assert_eq!(read2.records[1].seq, 1);
    }

    #[test]
    fn read_each_hands_over_records_one_by_one_and_says_when_the_tail_was_cut() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("j.jsonl");
        let mut w = JournalWriter::open(&path).expect("open");
        for (n, key) in ["a", "b", "c"].iter().enumerate() {
            w.append(&format!("2026-11-26T00:00:0{n}Z"), applied(key))
                .expect("append");
        }
        drop(w);
        let mut seen = Vec::new();
        let cut = read_each(&path, |r| seen.push(r.seq)).expect("read");
        assert_eq!((seen, cut), (vec![0, 1, 2], false));
        let mut f = OpenOptions::new().append(true).open(&path).expect("open");
        f.write_all(b"{\"seq\":3,").expect("write");
        drop(f);
        let mut count = 0;
        assert!(read_each(&path, |_| count += 1).expect("read"));
        assert_eq!(count, 3);
        // A missing journal is an error naming it.
        let e = read_each(&dir.path().join("none.jsonl"), |_| {})
            .expect_err("no file")
            .to_string();
        assert!(e.contains("none.jsonl"), "{e}");
    }

    #[test]
    fn records_never_hold_bodies_or_headers() {
        let e = Entry::Intent {
            tenant: "t".into(),
            key: "k".into(),
            method: "POST".into(),
            path: "/groups".into(),
            body_hash: Some("sha256:ab".into()),
            attempt: 1,
        };
        let text = serde_json::to_string(&e).expect("json");
        assert!(!text.contains("body\"") && !text.contains("authorization"));
    }
}
