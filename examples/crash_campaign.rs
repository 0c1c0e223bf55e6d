//! Crash campaign through the real binary: starts `partner-ledger --db D append FILE` on batches
//! of random sizes (1 to 50,000 events, some of them realistic `gen` histories), kills it with
//! SIGKILL at a random moment (before it writes, while it writes, around the commit, or just
//! after it printed "appended"), then reopens the store with the binary and checks:
//!
//! - `log` exits 0 and the history seen at the previous check is unchanged, byte for byte;
//! - `seq` has no gap, every `prev_hash` links to the previous `hash`, every `hash` is the
//!   SHA-256 of the previous hash and the canonical event (recomputed here, independently of the
//!   store), every account's `version` counts up by one;
//! - every batch whose `append` printed success is present in full; no batch is visible in part
//!   (all events of batch k are on accounts `c<k>-…` or `g<k>-…` and carry ids derived from k
//!   and their position, so a batch is recognised and counted event by event, in order);
//! - `verify` exits 0 (hash chain, id index and account lists consistent with the events);
//! - retrying the killed batch is a no-op ("already in the ledger", nothing appended) when it
//!   had committed, and appends it in full (the next seqs) when it had not; retrying an
//!   acknowledged batch is a no-op.
//!
//! Usage:
//!
//! ```text
//! cargo run --release --example crash_campaign -- --points 1000 [--seed S] [--dir D]
//!     [--bin PATH] [--max-batch N] [--rotate-at N] [--no-inspect] [--quiet]
//! ```
//!
//! `--dir`: where the stores live (default: a new directory under the temp dir, removed at the
//! end unless something failed). `--rotate-at`: once a store holds this many events the
//! campaign starts a new one (keeps `log`/`verify` per point cheap). `--no-inspect`: do not
//! read a copy of the killed store with sled to classify the kill (mid-write or not).
//! Exits 1 on any failure, 2 on a usage error.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

/// What the campaign does.
#[derive(Debug, Clone)]
pub struct Config {
    pub points: u64,
    pub seed: u64,
    pub dir: Option<PathBuf>,
    pub bin: PathBuf,
    pub max_batch: u64,
    pub rotate_at: u64,
    pub inspect: bool,
    pub quiet: bool,
}

/// What the campaign saw.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    pub points: u64,
    pub elapsed: Duration,
    pub events_appended: u64,
    pub largest_batch: u64,
    pub gen_batches: u64,
    /// The append had finished (printed "appended") before the kill: acknowledged.
    pub acked: u64,
    /// Killed without an acknowledgement, yet the batch had committed (kill after the commit
    /// point, before the output).
    pub committed_unacked: u64,
    /// Killed before the batch committed.
    pub killed_uncommitted: u64,
    /// Kills that left blocks of the uncommitted batch on disk (the kill landed mid-write).
    pub kills_mid_write: u64,
    /// Kills after the commit point but before the indexes were written.
    pub kills_before_index: u64,
    /// Retries of the killed batch that were no-ops / that appended the batch in full.
    pub retries_noop: u64,
    pub retries_full: u64,
    /// Re-appends of acknowledged batches (all must be no-ops).
    pub reappends_acked: u64,
    pub stores: u64,
    /// The learned duration model of an append (to place the kills).
    pub timing: String,
    pub failures: Vec<String>,
}

impl Summary {
    pub fn print(&self, seed: u64) {
        let commits = self.acked + self.committed_unacked + self.retries_full;
        println!("crash campaign: seed {seed}");
        println!("  points (SIGKILLs)                 {}", self.points);
        println!(
            "  time                              {:.1} s",
            self.elapsed.as_secs_f64()
        );
        println!(
            "  events appended                   {} (largest batch {}, {} gen batches, {} stores)",
            self.events_appended, self.largest_batch, self.gen_batches, self.stores
        );
        println!("  timing model                      {}", self.timing);
        println!(
            "  kills while append ran            {}",
            self.points - self.acked
        );
        println!("  kills after \"appended\" / exit     {}", self.acked);
        println!(
            "  kills after commit, before output {}",
            self.committed_unacked
        );
        println!(
            "  kills before commit               {}",
            self.killed_uncommitted
        );
        println!(
            "  kills mid-write (blocks on disk)  {}",
            self.kills_mid_write
        );
        println!(
            "  kills after commit, before index  {}",
            self.kills_before_index
        );
        println!("  commits observed                  {commits}");
        println!(
            "  retries: no-op {}, full append {}; acknowledged re-appends (no-op) {}",
            self.retries_noop, self.retries_full, self.reappends_acked
        );
        println!(
            "  failures                          {}",
            self.failures.len()
        );
        for f in &self.failures {
            println!("    {f}");
        }
    }
}

// ------------------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that nearby seeds give unrelated streams.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in lo..=hi.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// The id of event `i` of batch `k`: a v4-shaped UUID that encodes both.
fn event_id(seed: u64, k: u64, i: u64) -> String {
    let mut b = [0u8; 16];
    b[0..4].copy_from_slice(&(k as u32).to_be_bytes());
    b[4..6].copy_from_slice(&(seed as u16).to_be_bytes());
    b[10..14].copy_from_slice(&(i as u32).to_be_bytes());
    b[14..16].copy_from_slice(&((seed >> 16) as u16).to_be_bytes());
    uuid::Builder::from_random_bytes(b)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// `recorded_at` of batch k: strictly later than every earlier batch's.
fn recorded_at(k: u64) -> String {
    let t = 1_893_456_000 + k as i64 * 60; // 2030-01-01T00:00:00Z + k minutes
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Which batch an account belongs to: `c<k>-j` or `g<k>-name`.
fn batch_of(account: &str) -> Option<u64> {
    let rest = account
        .strip_prefix('c')
        .or_else(|| account.strip_prefix('g'))?;
    rest.split_once('-')?.0.parse().ok()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Profiles,
    Gen,
}

struct Batch {
    kind: Kind,
    size: u64,
    file: PathBuf,
    acked: bool,
}

/// Writes batch k's input file.
fn make_batch(cfg: &Config, rng: &mut Rng, k: u64, work: &Path) -> Result<Batch, String> {
    let roll = rng.range(0, 99);
    let size = match roll {
        0..=44 => rng.range(1, 100),
        45..=74 => rng.range(101, 2000),
        75..=93 => rng.range(2001, 10_000),
        _ => rng.range(10_001, cfg.max_batch.max(10_001)),
    }
    .min(cfg.max_batch);
    let file = work.join(format!("batch-{k}.jsonl"));
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).map_err(|e| e.to_string())?);
    let at = recorded_at(k);
    if size >= 200 && rng.chance(25) {
        // A realistic history from `gen`, renamed into this batch.
        let accounts = (size / 20).max(1);
        let output = run(
            &cfg.bin,
            &[
                "gen".into(),
                "--accounts".into(),
                accounts.to_string(),
                "--seed".into(),
                k.to_string(),
            ],
            None,
            Duration::from_secs(120),
        )?;
        if output.code != Some(0) {
            return Err(format!("gen failed: {}", output.stderr));
        }
        let mut ids: HashMap<String, String> = HashMap::new();
        let mut i = 0u64;
        for line in output.stdout.lines() {
            let mut v: serde_json::Value =
                serde_json::from_str(line).map_err(|e| format!("gen output: {e}"))?;
            let o = v.as_object_mut().ok_or("gen output: not an object")?;
            let new_id = event_id(cfg.seed, k, i);
            if let Some(old) = o.get("id").and_then(|x| x.as_str()) {
                ids.insert(old.to_string(), new_id.clone());
            }
            o.insert("id".into(), new_id.into());
            let account = o["account"].as_str().unwrap_or_default().to_string();
            o.insert("account".into(), format!("g{k}-{account}").into());
            o.insert("recorded_at".into(), at.clone().into());
            if let Some(data) = o.get_mut("data").and_then(|d| d.as_object_mut()) {
                if let Some(target) = data.get("event").and_then(|x| x.as_str()) {
                    let mapped = ids
                        .get(target)
                        .cloned()
                        .ok_or("gen output: a void before its target")?;
                    data.insert("event".into(), mapped.into());
                }
                if let Some(absorbed) = data.get("absorbed").and_then(|x| x.as_str()) {
                    let renamed = format!("g{k}-{absorbed}");
                    data.insert("absorbed".into(), renamed.into());
                }
            }
            writeln!(out, "{v}").map_err(|e| e.to_string())?;
            i += 1;
        }
        out.flush().map_err(|e| e.to_string())?;
        return Ok(Batch {
            kind: Kind::Gen,
            size: i,
            file,
            acked: false,
        });
    }
    // business_profile_verified events on 1..=size accounts of this batch.
    let accounts = match rng.range(0, 3) {
        0 => 1,
        1 => size.div_ceil(rng.range(1, 50)),
        _ => size.div_ceil(rng.range(50, 2000)),
    }
    .clamp(1, size);
    let with_expected = rng.chance(30);
    let with_recorded_at = !rng.chance(10);
    let date = format!(
        "20{:02}-{:02}-{:02}",
        rng.range(15, 30),
        rng.range(1, 12),
        rng.range(1, 28)
    );
    for i in 0..size {
        let j = i % accounts;
        let mut line = format!(
            r#"{{"id":"{}","account":"c{k}-{j}","type":"business_profile_verified","date":"{date}""#,
            event_id(cfg.seed, k, i)
        );
        if with_recorded_at {
            line.push_str(&format!(r#","recorded_at":"{at}""#));
        }
        if with_expected && i < accounts {
            line.push_str(r#","expected_version":0"#);
        }
        line.push_str(r#","data":{}}"#);
        writeln!(out, "{line}").map_err(|e| e.to_string())?;
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(Batch {
        kind: Kind::Profiles,
        size,
        file,
        acked: false,
    })
}

// ------------------------------------------------------------------------------------------------
// Processes

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

fn reader_thread<R: Read + Send + 'static>(mut r: R) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// Runs the binary to the end, with a time limit (a hang is a failure, not a stuck campaign).
fn run(bin: &Path, args: &[String], db: Option<&Path>, limit: Duration) -> Result<Output, String> {
    let started = Instant::now();
    let mut cmd = Command::new(bin);
    if let Some(db) = db {
        cmd.arg("--db").arg(db);
    }
    let mut child = cmd
        .args(args)
        .env_remove("PARTNER_LEDGER_DB")
        .env("PARTNER_LEDGER_LOCK_WAIT_MS", "10000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let out = reader_thread(child.stdout.take().unwrap());
    let err = reader_thread(child.stderr.take().unwrap());
    let status = wait_limited(&mut child, limit);
    let stdout = String::from_utf8_lossy(&out.join().unwrap_or_default()).into_owned();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    let Some(code) = status else {
        return Err(format!(
            "`partner-ledger {}` did not finish within {} s (killed)",
            args.join(" "),
            limit.as_secs()
        ));
    };
    Ok(Output {
        code,
        stdout,
        stderr,
        elapsed: started.elapsed(),
    })
}

/// Waits for the child; None (after killing it) when it outlives `limit`. Some(None): killed
/// by a signal.
fn wait_limited(child: &mut Child, limit: Duration) -> Option<Option<i32>> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status.code()),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(2)),
            Err(_) => return Some(None),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum KillAt {
    /// After this long from the start.
    After(Duration),
    /// As soon as "appended" is printed.
    OnAck,
}

struct KillResult {
    acked: bool,
    /// When "appended" was read, from the start.
    acked_after: Option<Duration>,
    /// The process ended by itself before the kill, with this exit code.
    exited: Option<i32>,
    stdout: String,
    stderr: String,
}

fn append_and_kill(bin: &Path, db: &Path, file: &Path, at: KillAt) -> Result<KillResult, String> {
    let mut child = Command::new(bin)
        .arg("--db")
        .arg(db)
        .arg("append")
        .arg(file)
        .env_remove("PARTNER_LEDGER_DB")
        .env("PARTNER_LEDGER_LOCK_WAIT_MS", "10000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
    let started = Instant::now();
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("appended") {
                let _ = tx.send(started.elapsed());
            }
            text.push_str(&line);
            text.push('\n');
        }
        text
    });
    let err = reader_thread(child.stderr.take().unwrap());
    let mut acked_after = None;
    match at {
        KillAt::After(d) => std::thread::sleep(d),
        KillAt::OnAck => acked_after = rx.recv_timeout(Duration::from_secs(300)).ok(),
    }
    let exited = match child.try_wait() {
        Ok(Some(status)) => Some(status.code().unwrap_or(-1)),
        _ => None,
    };
    let _ = child.kill(); // SIGKILL
    let _ = child.wait();
    let stdout = out.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&err.join().unwrap_or_default()).into_owned();
    Ok(KillResult {
        acked_after: acked_after.or_else(|| rx.try_recv().ok()),
        acked: stdout.contains("appended"),
        exited,
        stdout,
        stderr,
    })
}

// ------------------------------------------------------------------------------------------------
// The model of what the store must hold

#[derive(serde::Deserialize)]
struct LogLine {
    seq: u64,
    version: u64,
    id: String,
    account: String,
    prev_hash: String,
    hash: String,
}

const ZEROS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What the checker knows of one store.
struct Model {
    db: PathBuf,
    /// The whole `log` output at the last check: later outputs must start with it.
    prefix: Vec<u8>,
    last_seq: u64,
    last_hash: String,
    versions: HashMap<String, u64>,
    /// Batch k -> events of it seen so far in the log.
    seen: HashMap<u64, u64>,
    sizes: HashMap<u64, u64>,
    /// The batch the last logged event belongs to.
    open: Option<u64>,
}

impl Model {
    fn new(db: PathBuf) -> Model {
        Model {
            db,
            prefix: Vec::new(),
            last_seq: 0,
            last_hash: ZEROS.to_string(),
            versions: HashMap::new(),
            seen: HashMap::new(),
            sizes: HashMap::new(),
            open: None,
        }
    }

    fn present(&self, k: u64) -> bool {
        self.seen.get(&k).copied().unwrap_or(0) == self.sizes[&k]
    }

    /// Reads `log` and checks everything since the last check; Err names the first problem.
    fn check_log(&mut self, bin: &Path, seed: u64) -> Result<(), String> {
        let out = run(
            bin,
            &["log".into()],
            Some(&self.db),
            Duration::from_secs(120),
        )?;
        if out.code != Some(0) {
            return Err(format!(
                "log exited {:?} after the kill: {}{}",
                out.code,
                out.stderr.trim(),
                interrupted_snapshot(&self.db)
            ));
        }
        let text = out.stdout.into_bytes();
        if !text.starts_with(&self.prefix) {
            return Err("the history seen at the previous check changed".into());
        }
        let suffix = std::str::from_utf8(&text[self.prefix.len()..])
            .map_err(|_| "log is not UTF-8".to_string())?;
        for line in suffix.lines() {
            let e: LogLine =
                serde_json::from_str(line).map_err(|err| format!("log line {line}: {err}"))?;
            let seq = self.last_seq + 1;
            if e.seq != seq {
                return Err(format!("gap: seq {} where {seq} was due", e.seq));
            }
            if e.prev_hash != self.last_hash {
                return Err(format!("seq {seq}: prev_hash does not link"));
            }
            if recompute_hash(line)? != e.hash {
                return Err(format!("seq {seq}: hash is not the hash of its content"));
            }
            let version = self.versions.entry(e.account.clone()).or_insert(0);
            *version += 1;
            if e.version != *version {
                return Err(format!(
                    "seq {seq}: version {} of {} where {} was due",
                    e.version, e.account, *version
                ));
            }
            let k = batch_of(&e.account)
                .filter(|k| self.sizes.contains_key(k))
                .ok_or_else(|| format!("seq {seq}: account {} of no batch", e.account))?;
            if self.open != Some(k) {
                if let Some(open) = self.open {
                    if !self.present(open) {
                        return Err(format!(
                            "batch {open} is partial: {} of {} events, then batch {k} at seq {seq}",
                            self.seen[&open], self.sizes[&open]
                        ));
                    }
                }
                if self.seen.get(&k).copied().unwrap_or(0) != 0 {
                    return Err(format!("batch {k} appears twice (again at seq {seq})"));
                }
                self.open = Some(k);
            }
            let i = self.seen.entry(k).or_insert(0);
            if e.id != event_id(seed, k, *i) {
                return Err(format!(
                    "seq {seq}: id {} is not event {} of batch {k}",
                    e.id, *i
                ));
            }
            *i += 1;
            if *i > self.sizes[&k] {
                return Err(format!(
                    "batch {k} has more events than its {}",
                    self.sizes[&k]
                ));
            }
            self.last_seq = seq;
            self.last_hash = e.hash;
        }
        if let Some(open) = self.open {
            if !self.present(open) {
                return Err(format!(
                    "batch {open} is partial: {} of {} events visible at the end of the log",
                    self.seen[&open], self.sizes[&open]
                ));
            }
        }
        self.prefix = text;
        Ok(())
    }
}

/// A diagnosis for a store sled cannot open: an interrupted sled snapshot (an empty or partial
/// `snap.<lsn>.generating`, which sled 0.34 then reads as the latest snapshot).
fn interrupted_snapshot(db: &Path) -> String {
    let Ok(entries) = std::fs::read_dir(db) else {
        return String::new();
    };
    let names: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("snap.") && n.ends_with(".generating"))
        .collect();
    if names.is_empty() {
        String::new()
    } else {
        format!(
            " [the store holds an interrupted sled snapshot: {}; see sled issue #1527]",
            names.join(", ")
        )
    }
}

/// sha256(prev_hash hex ‖ canonical JSON of the line without prev_hash and hash), as the
/// contract defines it (serde_json's map is sorted, so `to_string` is canonical for these
/// events).
fn recompute_hash(line: &str) -> Result<String, String> {
    let mut v: serde_json::Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let o = v.as_object_mut().ok_or("not an object")?;
    let prev = o
        .remove("prev_hash")
        .and_then(|p| p.as_str().map(str::to_string))
        .ok_or("no prev_hash")?;
    o.remove("hash");
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(v.to_string().as_bytes());
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Reads a copy of the killed store with sled (the original is left to the binary) and says
/// whether the kill left blocks beyond the head (mid-write) and whether the indexes lag the head
/// (killed between the commit point and the index update).
fn inspect_copy(db: &Path, scratch: &Path) -> Result<(bool, bool), String> {
    let _ = std::fs::remove_dir_all(scratch);
    copy_dir(db, scratch).map_err(|e| format!("copying the store: {e}"))?;
    let result = (|| -> Result<(bool, bool), sled::Error> {
        let raw = sled::open(scratch)?;
        let head = raw
            .open_tree("meta")?
            .get("head")?
            .map_or(0, |v| u64::from_be_bytes(v[..8].try_into().unwrap()));
        let last = raw.open_tree("events")?.last()?;
        let beyond = last.is_some_and(|(k, _)| {
            u64::from_be_bytes(k.as_ref().try_into().unwrap_or([0; 8])) > head
        });
        let marker = raw
            .open_tree("index")?
            .get("m")?
            .map_or(0, |v| u64::from_be_bytes(v[..8].try_into().unwrap()));
        Ok((beyond, marker < head))
    })();
    let _ = std::fs::remove_dir_all(scratch);
    result.map_err(|e| format!("sled cannot read the copy: {e}"))
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------

/// How long an append of n events takes, learned from the runs that finished.
struct Timing {
    base_ms: f64,
    per_event_us: f64,
}

impl Timing {
    fn estimate(&self, n: u64) -> Duration {
        Duration::from_micros((self.base_ms * 1000.0 + self.per_event_us * n as f64) as u64)
    }
    fn learn(&mut self, n: u64, took: Duration) {
        let ms = took.as_secs_f64() * 1000.0;
        if n <= 50 {
            self.base_ms = 0.8 * self.base_ms + 0.2 * ms;
        } else if n >= 1000 {
            let per = ((ms - self.base_ms).max(0.0) * 1000.0) / n as f64;
            self.per_event_us = 0.7 * self.per_event_us + 0.3 * per;
        }
    }
}

pub fn run_campaign(cfg: &Config) -> Summary {
    let started = Instant::now();
    let mut s = Summary::default();
    let (root, temporary) = match &cfg.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("crash-campaign-{}", std::process::id())),
            true,
        ),
    };
    if let Err(e) = std::fs::create_dir_all(&root) {
        s.failures
            .push(format!("cannot create {}: {e}", root.display()));
        return s;
    }
    let work = root.join("inputs");
    let _ = std::fs::create_dir_all(&work);
    let scratch = root.join("inspect");
    let mut rng = Rng::new(cfg.seed);
    let mut timing = Timing {
        base_ms: 20.0,
        per_event_us: 15.0,
    };
    let mut store_no = 0;
    let new_store = |no: u64| {
        let db = root.join(format!("store-{no}"));
        let _ = std::fs::remove_dir_all(&db);
        Model::new(db)
    };
    let mut model = new_store(store_no);
    s.stores = 1;
    let mut acked: Vec<(u64, PathBuf, u64)> = Vec::new(); // (k, file, size) of this store
    let mut k = 0u64;
    let say = |msg: &str| {
        if !cfg.quiet {
            println!("{msg}");
        }
    };
    for point in 0..cfg.points {
        k += 1;
        let failures_before = s.failures.len() as u64;
        let mut batch = match make_batch(cfg, &mut rng, k, &work) {
            Ok(b) => b,
            Err(e) => {
                s.failures
                    .push(format!("point {point}: making batch {k}: {e}"));
                break;
            }
        };
        model.sizes.insert(k, batch.size);
        s.largest_batch = s.largest_batch.max(batch.size);
        s.gen_batches += u64::from(batch.kind == Kind::Gen);
        let estimate = timing.estimate(batch.size);
        let at = match rng.range(0, 99) {
            0..=14 => KillAt::After(Duration::from_micros(
                rng.range(0, (timing.base_ms * 700.0) as u64),
            )),
            15..=69 => KillAt::After(Duration::from_micros(rng.range(
                (timing.base_ms * 1000.0) as u64 * 8 / 10,
                (estimate.as_micros() as u64 * 11 / 10).max((timing.base_ms * 1000.0) as u64),
            ))),
            70..=84 => KillAt::After(Duration::from_micros(rng.range(
                estimate.as_micros() as u64 * 8 / 10,
                estimate.as_micros() as u64 * 13 / 10,
            ))),
            _ => KillAt::OnAck,
        };
        let outcome = (|| -> Result<String, String> {
            let kill = append_and_kill(&cfg.bin, &model.db, &batch.file, at)?;
            if let Some(code) = kill.exited {
                if code != 0 {
                    return Err(format!(
                        "append of batch {k} exited {code} by itself: {}",
                        kill.stderr.trim()
                    ));
                }
            }
            if let Some(took) = kill.acked_after {
                timing.learn(batch.size, took);
            }
            if kill.acked {
                let expected = format!("appended {} event", batch.size);
                if !kill.stdout.starts_with(&expected) {
                    return Err(format!(
                        "batch {k} of {}: append said {:?}",
                        batch.size,
                        kill.stdout.trim()
                    ));
                }
            }
            if cfg.inspect {
                // Classification only: if sled cannot read the copy, the binary's own reopen
                // below is what passes or fails the point.
                if let Ok((beyond, lagging)) = inspect_copy(&model.db, &scratch) {
                    s.kills_mid_write += u64::from(beyond);
                    s.kills_before_index += u64::from(lagging);
                }
            }
            model.check_log(&cfg.bin, cfg.seed)?;
            let present = model.present(k);
            if kill.acked && !present {
                return Err(format!(
                    "batch {k} was acknowledged but is not (fully) in the log"
                ));
            }
            let v = run(
                &cfg.bin,
                &["verify".into()],
                Some(&model.db),
                Duration::from_secs(120),
            )?;
            if v.code != Some(0) || !v.stdout.starts_with("ok:") {
                return Err(format!(
                    "verify exited {:?}: {}{}",
                    v.code,
                    v.stdout.trim(),
                    v.stderr.trim()
                ));
            }
            // Retry the batch.
            let head = model.last_seq;
            let retry = run(
                &cfg.bin,
                &["append".into(), batch.file.display().to_string()],
                Some(&model.db),
                Duration::from_secs(300),
            )?;
            if retry.code != Some(0) {
                return Err(format!(
                    "retry of batch {k} exited {:?}: {}",
                    retry.code,
                    retry.stderr.lines().take(3).collect::<Vec<_>>().join(" / ")
                ));
            }
            let noop = format!(
                "appended 0 events; {} already in the ledger with the same content",
                batch.size
            );
            let full = format!(
                "appended {} event{} (seq {}..{})",
                batch.size,
                if batch.size == 1 { "" } else { "s" },
                head + 1,
                head + batch.size
            );
            let what = if present {
                if !retry.stdout.starts_with(&noop) {
                    return Err(format!(
                        "batch {k} had committed, yet its retry said {:?}",
                        retry.stdout.trim()
                    ));
                }
                s.retries_noop += 1;
                if kill.acked {
                    s.acked += 1;
                    "acked"
                } else {
                    s.committed_unacked += 1;
                    "committed, unacked"
                }
            } else {
                if retry.stdout.trim() != full {
                    return Err(format!(
                        "batch {k} had not committed; its retry said {:?}, expected {full:?}",
                        retry.stdout.trim()
                    ));
                }
                timing.learn(batch.size, retry.elapsed);
                s.retries_full += 1;
                s.killed_uncommitted += 1;
                "not committed"
            };
            s.events_appended += batch.size;
            batch.acked = true;
            acked.push((k, batch.file.clone(), batch.size));
            // Now and then, an older acknowledged batch again: a no-op.
            if point % 7 == 3 && acked.len() > 1 {
                let (ok, file, size) = acked[rng.range(0, acked.len() as u64 - 2) as usize].clone();
                let again = run(
                    &cfg.bin,
                    &["append".into(), file.display().to_string()],
                    Some(&model.db),
                    Duration::from_secs(300),
                )?;
                let noop = format!(
                    "appended 0 events; {size} already in the ledger with the same content"
                );
                if again.code != Some(0) || !again.stdout.starts_with(&noop) {
                    return Err(format!(
                        "re-append of acknowledged batch {ok} said {:?} {:?}",
                        again.stdout.trim(),
                        again.stderr.trim()
                    ));
                }
                s.reappends_acked += 1;
            }
            Ok(format!(
                "point {point}: batch {k} ({:?}, {} events), kill {at:?}: {what}; head {}",
                batch.kind, batch.size, model.last_seq
            ))
        })();
        s.points += 1;
        match outcome {
            Ok(line) => say(&line),
            Err(e) => {
                let msg = format!("point {point} (batch {k}, {} events): {e}", batch.size);
                println!("FAILURE {msg}");
                s.failures.push(msg);
                // Keep the damaged store for inspection; go on with a new one.
                let keep = root.join(format!("failed-store-{store_no}"));
                let _ = std::fs::rename(&model.db, &keep);
                println!("  kept as {}", keep.display());
            }
        }
        if !batch.acked {
            let _ = std::fs::remove_file(&batch.file);
        }
        let failed = s.failures.len() as u64 > failures_before;
        if (failed || model.last_seq >= cfg.rotate_at) && point + 1 < cfg.points {
            // Clean end of this store: its whole log once more, then a new store.
            let _ = std::fs::remove_dir_all(&model.db);
            for (_, f, _) in acked.drain(..) {
                let _ = std::fs::remove_file(f);
            }
            store_no += 1;
            s.stores += 1;
            model = new_store(store_no);
        }
    }
    // The final state: verify once more.
    if model.db.exists() {
        match model.check_log(&cfg.bin, cfg.seed) {
            Ok(()) => {}
            Err(e) => s.failures.push(format!("final check: {e}")),
        }
    }
    s.elapsed = started.elapsed();
    s.timing = format!(
        "append ~ {:.0} ms + {:.1} us/event",
        timing.base_ms, timing.per_event_us
    );
    if temporary && s.failures.is_empty() {
        let _ = std::fs::remove_dir_all(&root);
    } else {
        let _ = std::fs::remove_dir_all(&work);
    }
    s
}

/// The binary next to this example (target/<profile>/examples/crash_campaign ->
/// target/<profile>/partner-ledger).
pub fn default_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let profile = exe.parent().and_then(Path::parent).expect("target dir");
    profile.join(format!("partner-ledger{}", std::env::consts::EXE_SUFFIX))
}

fn usage(message: &str) -> ! {
    eprintln!("error: {message}");
    eprintln!(
        "usage: crash_campaign --points N [--seed S] [--dir D] [--bin PATH] [--max-batch N] [--rotate-at N] [--no-inspect] [--quiet]"
    );
    std::process::exit(2)
}

fn main() {
    let mut cfg = Config {
        points: 1000,
        seed: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_secs()),
        dir: None,
        bin: default_binary(),
        max_batch: 50_000,
        rotate_at: 100_000,
        inspect: true,
        quiet: false,
    };
    let mut bin_given = false;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .unwrap_or_else(|| usage(&format!("{name} needs a value")))
        };
        let number = |name: &str, v: String| -> u64 {
            v.parse()
                .unwrap_or_else(|_| usage(&format!("{name}: not a number: {v}")))
        };
        match a.as_str() {
            "--points" => cfg.points = number("--points", value("--points")),
            "--seed" => cfg.seed = number("--seed", value("--seed")),
            "--max-batch" => cfg.max_batch = number("--max-batch", value("--max-batch")).max(1),
            "--rotate-at" => cfg.rotate_at = number("--rotate-at", value("--rotate-at")),
            "--dir" => cfg.dir = Some(PathBuf::from(value("--dir"))),
            "--bin" => {
                cfg.bin = PathBuf::from(value("--bin"));
                bin_given = true;
            }
            "--no-inspect" => cfg.inspect = false,
            "--quiet" => cfg.quiet = true,
            "-h" | "--help" => {
                let doc = include_str!("crash_campaign.rs");
                for line in doc.lines().take_while(|l| l.starts_with("//!")) {
                    println!("{}", line.trim_start_matches("//!").trim_start());
                }
                return;
            }
            other => usage(&format!("unknown argument {other}")),
        }
    }
    // Under `cargo run`, bring the binary up to date first (a no-op when it is).
    if !bin_given {
        if let Some(cargo) = std::env::var_os("CARGO") {
            let mut build = Command::new(cargo);
            build.args(["build", "--quiet", "--bin", "partner-ledger"]);
            if cfg
                .bin
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|p| p == "release")
            {
                build.arg("--release");
            }
            if let Some(dir) = option_env!("CARGO_MANIFEST_DIR") {
                build.current_dir(dir);
            }
            let _ = build.status();
        }
    }
    if !cfg.bin.exists() {
        usage(&format!(
            "{} not found; build it with `cargo build --release` or pass --bin",
            cfg.bin.display()
        ));
    }
    println!(
        "crash campaign: {} points, seed {}, binary {}",
        cfg.points,
        cfg.seed,
        cfg.bin.display()
    );
    let summary = run_campaign(&cfg);
    summary.print(cfg.seed);
    std::process::exit(i32::from(!summary.failures.is_empty()));
}
