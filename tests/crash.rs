//! Kills a writer (examples/crash_writer.rs) with SIGKILL at random moments and checks after each
//! kill that the store kept every acknowledged batch, shows no partial batch, holds together, and
//! takes new appends. `CRASH_POINTS` sets the number of kills (default 60).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use partner_ledger::event::{parse_date, parse_instant, Account, Body, Event, StoredEvent};
use partner_ledger::store::sled_store::{raw, SledStore};
use partner_ledger::store::{Head, Store};

fn writer_binary() -> PathBuf {
    // target/<profile>/deps/crash-… -> target/<profile>/examples/crash_writer
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let name = format!("crash_writer{}", std::env::consts::EXE_SUFFIX);
    let bin = profile_dir.join("examples").join(name);
    // `cargo test` builds examples, `cargo test --test crash` does not (and would leave a stale
    // one): build it here, a no-op when it is up to date.
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "--example", "crash_writer"]);
    if profile_dir.file_name().is_some_and(|p| p == "release") {
        build.arg("--release");
    }
    let status = build
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(status.success(), "building examples/crash_writer failed");
    assert!(bin.exists(), "{} is missing", bin.display());
    bin
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Runs the writer until a random moment, kills it, and returns the last acknowledged seq.
fn run_and_kill(bin: &Path, db: &Path, seed: u64, after: Duration) -> u64 {
    let mut child = Command::new(bin)
        .arg(db)
        .arg(seed.to_string())
        .env("PARTNER_LEDGER_LOCK_WAIT_MS", "10000")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let acked = Arc::new(AtomicU64::new(0));
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let reader = {
        let acked = Arc::clone(&acked);
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line.starts_with("READY") {
                    let _ = ready_tx.send(());
                }
                if let Some(seq) = line.strip_prefix("ACK ") {
                    acked.store(seq.trim().parse().unwrap(), Ordering::SeqCst);
                }
            }
        })
    };
    // The clock starts once the writer has opened the store, so that kills land among appends.
    let ready = ready_rx.recv_timeout(Duration::from_secs(30));
    if ready.is_err() {
        let _ = child.kill();
        panic!("the writer did not open the store within 30 s");
    }
    std::thread::sleep(after);
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    reader.join().unwrap();
    acked.load(Ordering::SeqCst)
}

/// Checks events `from..=head` (the part written since the last check, plus the batch that was
/// last then): gapless, chained, and made of complete batches only.
fn check_tail(store: &SledStore, from: u64, prev: &Head) -> Head {
    let head = store.head().unwrap();
    let mut expected_seq = from;
    let mut prev_hash = prev.hash;
    let mut batch: Option<(String, u64, u64)> = None; // (account, first, size)
    store
        .scan(from, &mut |e| {
            assert_eq!(e.seq, expected_seq, "gap or swap at {expected_seq}");
            assert_eq!(e.prev_hash, prev_hash, "chain broken at {}", e.seq);
            assert_eq!(e.hash, e.expected_hash(), "hash wrong at {}", e.seq);
            let name = e.event.account.as_str().to_string();
            if batch.as_ref().is_none_or(|(a, _, _)| *a != name) {
                if let Some((a, first, size)) = &batch {
                    assert_eq!(e.seq, first + size, "batch {a} is incomplete");
                }
                let (first, size) = parse_batch(&name);
                assert_eq!(first, e.seq, "batch {name} does not start at its first seq");
                batch = Some((name, first, size));
            }
            let (_, first, _) = batch.as_ref().unwrap();
            assert_eq!(e.version, e.seq - first + 1);
            expected_seq += 1;
            prev_hash = e.hash;
            true
        })
        .unwrap();
    assert_eq!(expected_seq, head.seq + 1, "scan ended before the head");
    if let Some((a, first, size)) = batch {
        assert_eq!(
            head.seq,
            first + size - 1,
            "last batch {a} is partial: head {}",
            head.seq
        );
    }
    head
}

/// `b<first>n<size>` -> (first, size); the checker's own appends use other names.
fn parse_batch(name: &str) -> (u64, u64) {
    if let Some(rest) = name.strip_prefix('b') {
        if let Some((first, size)) = rest.split_once('n') {
            return (first.parse().unwrap(), size.parse().unwrap());
        }
    }
    panic!("unexpected account {name}")
}

/// One append by the checker after recovery, as its own one-event batch.
fn append_one(store: &SledStore) {
    let head = store.head().unwrap();
    let account = Account::parse(&format!("b{}n1", head.seq + 1)).unwrap();
    let event = Event {
        id: uuid::Uuid::new_v4(),
        account,
        date: parse_date("2024-01-01").unwrap(),
        recorded_at: parse_instant("2024-01-01T00:00:00Z").unwrap(),
        body: Body::BusinessProfileVerified,
    };
    let mut batch = store.begin().unwrap();
    batch
        .push(StoredEvent::seal(head.seq + 1, 1, event, head.hash))
        .unwrap();
    assert_eq!(batch.commit().unwrap().seq, head.seq + 1);
}

#[test]
fn acknowledged_batches_survive_sigkill_and_no_partial_batch_is_visible() {
    let points: u64 = std::env::var("CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(60);
    let bin = writer_binary();
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let mut rng = Rng(0x00c0_ffee_1234_5678);
    let mut checked = Head::EMPTY;
    let mut acks_seen = 0;
    let mut leftovers_seen = 0;
    // Where kills land is down to timing: past `points`, go on (up to four times as many)
    // until one has landed inside a batch, so that a slow or fast machine still proves it.
    let mut point = 0;
    while point < points || (points >= 20 && leftovers_seen == 0 && point < points * 4) {
        // Mostly short runs (kills land in the opening, the first batches, mid-batch), some long.
        let after = Duration::from_millis(rng.below(if point % 5 == 0 { 1000 } else { 400 }));
        let acked = run_and_kill(&bin, &db, 1 + rng.below(u64::MAX / 2), after);
        leftovers_seen += u64::from(uncommitted_blocks_on_disk(&db));
        let store = SledStore::open_with_lock_wait(&db, Duration::from_secs(10)).unwrap();
        let head = store.head().unwrap();
        assert!(
            head.seq >= acked,
            "kill {point}: acknowledged seq {acked}, head only {}",
            head.seq
        );
        acks_seen += u64::from(acked > checked.seq);
        // Re-check the last batch of the previous round as well, from its first event.
        let from = store
            .account_events(&last_account(&store, checked.seq))
            .unwrap()
            .first()
            .map_or(1, |e| e.seq);
        let before = if from <= 1 {
            Head::EMPTY
        } else {
            head_at(&store, from - 1)
        };
        check_tail(&store, from, &before);
        append_one(&store);
        checked = store.head().unwrap();
        if point % 20 == 19 || point + 1 == points {
            let report = store.verify(&mut |_, _| {}).unwrap();
            assert_eq!(report.first_bad, None, "kill {point}");
        }
        point += 1;
    }
    let report = SledStore::open_with_lock_wait(&db, Duration::from_secs(10))
        .unwrap()
        .verify(&mut |_, _| {})
        .unwrap();
    assert_eq!(report.first_bad, None, "after kill {point}");
    eprintln!("{point} kills: {acks_seen} with new ACKs, {leftovers_seen} mid-batch");
    if points >= 20 {
        assert!(
            leftovers_seen > 0,
            "no kill landed inside a batch: the test proves little"
        );
    }
    assert!(
        acks_seen > points / 4,
        "the writer rarely got to commit ({acks_seen} of {points})"
    );
}

fn last_account(store: &SledStore, seq: u64) -> Account {
    if seq == 0 {
        return Account::parse("none").unwrap();
    }
    let mut account = None;
    store
        .scan(seq, &mut |e| {
            account = Some(e.event.account);
            false
        })
        .unwrap();
    account.unwrap()
}

fn head_at(store: &SledStore, seq: u64) -> Head {
    let mut head = Head::EMPTY;
    store
        .scan(seq, &mut |e| {
            head = Head {
                seq: e.seq,
                hash: e.hash,
                recorded_at: Some(e.event.recorded_at),
            };
            false
        })
        .unwrap();
    head
}

/// Whether the killed writer left blocks of an uncommitted batch (read with sled directly,
/// before the store's recovery removes them): the kill landed mid-batch.
fn uncommitted_blocks_on_disk(db: &Path) -> bool {
    let Ok(raw) = sled::open(db) else {
        return false;
    };
    let head = raw
        .open_tree("meta")
        .unwrap()
        .get("head")
        .unwrap()
        .map_or(0, |v| u64::from_be_bytes(v[..8].try_into().unwrap()));
    let events = raw.open_tree(raw::EVENTS_TREE).unwrap();
    let last = events.last().unwrap();
    last.is_some_and(|(k, _)| u64::from_be_bytes(k.as_ref().try_into().unwrap()) > head)
}
