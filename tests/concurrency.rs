//! Concurrent appenders (issue 5, item 5): threads sharing one `SledStore` through the library,
//! and processes running the binary on the same `--db` (the store waits up to
//! `PARTNER_LEDGER_LOCK_WAIT_MS` for another process's lock). With and without
//! `expected_version`: no event lost or duplicated, exactly one winner per version, the losers
//! told "conflict: expected_version" (exit 1), and `verify` clean at the end.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Barrier;
use std::time::Duration;

use partner_ledger::domain::Catalog;
use partner_ledger::event::Instant;
use partner_ledger::ledger::{lines_from_text, AppendReport, Ledger, LineError};
use partner_ledger::store::sled_store::SledStore;
use partner_ledger::store::Store;

const BIN: &str = env!("CARGO_BIN_EXE_partner-ledger");

fn id(tag: u32, a: u32, b: u32) -> String {
    uuid::Uuid::from_u128(
        0x0000_0000_0000_4000_8000_0000_0000_0000
            | (u128::from(tag) << 96)
            | (u128::from(a) << 32)
            | u128::from(b),
    )
    .to_string()
}

/// One business_profile_verified line; `expected` adds expected_version.
fn line(id: &str, account: &str, expected: Option<u64>) -> String {
    let ev = expected.map_or(String::new(), |v| format!(r#","expected_version":{v}"#));
    format!(
        r#"{{"id":"{id}","account":"{account}","type":"business_profile_verified","date":"2024-06-01","recorded_at":"2024-06-01T09:00:00Z"{ev},"data":{{}}}}"#
    )
}

fn now() -> Instant {
    partner_ledger::event::parse_instant("2024-06-02T00:00:00Z").unwrap()
}

type Appended = Result<AppendReport, Vec<LineError>>;

fn append(store: &SledStore, text: &str) -> Appended {
    let ledger = Ledger::new(store, Catalog::default_catalog());
    ledger
        .append(lines_from_text(text), now(), &mut |_| {})
        .expect("the store failed")
}

/// Every stored event: (seq, id, account, version), in seq order, gapless.
fn all_events(store: &SledStore) -> Vec<(u64, String, String, u64)> {
    let mut out = Vec::new();
    store
        .scan(1, &mut |e| {
            out.push((
                e.seq,
                e.event.id.to_string(),
                e.event.account.as_str().to_string(),
                e.version,
            ));
            true
        })
        .unwrap();
    for (i, (seq, ..)) in out.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "gap in seq");
    }
    out
}

/// No id twice; every account's versions run 1, 2, 3, …
fn assert_consistent(events: &[(u64, String, String, u64)]) {
    let mut ids = HashSet::new();
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for (seq, id, account, version) in events {
        assert!(ids.insert(id.clone()), "id {id} stored twice (seq {seq})");
        let v = versions.entry(account).or_insert(0);
        *v += 1;
        assert_eq!(*version, *v, "seq {seq}: {account} version {version}");
    }
}

fn assert_verify_clean(store: &SledStore) {
    let report = store.verify(&mut |_, _| {}).unwrap();
    assert_eq!(report.first_bad, None);
}

// ------------------------------------------------------------------------------------------------
// Threads, one store

#[test]
fn threads_appending_without_expected_version_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let threads = 8u32;
    let batches = 40u32;
    let barrier = Barrier::new(threads as usize);
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = &store;
            let barrier = &barrier;
            s.spawn(move || {
                barrier.wait();
                for b in 0..batches {
                    // Batches of 1..=25 events: on the thread's own account and on one shared
                    // by all threads.
                    let n = 1 + (t * 7 + b * 3) % 25;
                    let text: String = (0..n)
                        .map(|i| {
                            let account = if i % 2 == 0 {
                                format!("own-{t}")
                            } else {
                                "shared".to_string()
                            };
                            line(&id(1, t, b * 100 + i), &account, None) + "\n"
                        })
                        .collect();
                    let report = append(store, &text).expect("rejected");
                    assert_eq!(report.appended, u64::from(n));
                    let (first, last) = (report.first_seq.unwrap(), report.last_seq.unwrap());
                    assert_eq!(last - first + 1, u64::from(n), "a batch was interleaved");
                }
            });
        }
    });
    let events = all_events(&store);
    let expected: u32 = (0..threads)
        .flat_map(|t| (0..batches).map(move |b| 1 + (t * 7 + b * 3) % 25))
        .sum();
    assert_eq!(events.len() as u32, expected, "events lost or added");
    assert_consistent(&events);
    for t in 0..threads {
        for b in 0..batches {
            let n = 1 + (t * 7 + b * 3) % 25;
            // Each batch is contiguous, in input order.
            let first = events
                .iter()
                .position(|e| e.1 == id(1, t, b * 100))
                .unwrap();
            for i in 0..n as usize {
                assert_eq!(events[first + i].1, id(1, t, b * 100 + i as u32));
            }
        }
    }
    assert_verify_clean(&store);
}

#[test]
fn threads_racing_on_expected_version_have_exactly_one_winner_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let threads = 8u32;
    let rounds = 30u64;
    let barrier = Barrier::new(threads as usize);
    let results: Vec<Vec<(u64, bool)>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let store = &store;
                let barrier = &barrier;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for r in 0..rounds {
                        barrier.wait();
                        let text = line(&id(2, t, r as u32), "race", Some(r)) + "\n";
                        match append(store, &text) {
                            Ok(report) => {
                                assert_eq!(report.appended, 1);
                                mine.push((r, true));
                            }
                            Err(errors) => {
                                assert_eq!(errors.len(), 1);
                                let msg = errors[0].to_string();
                                assert!(
                                    msg.contains("conflict: expected_version"),
                                    "a loser must be told of the conflict: {msg}"
                                );
                                mine.push((r, false));
                            }
                        }
                        barrier.wait(); // the round is over for everyone
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in 0..rounds {
        let winners = results
            .iter()
            .filter(|mine| mine.iter().any(|&(round, won)| round == r && won))
            .count();
        assert_eq!(winners, 1, "round {r}: {winners} winners");
    }
    let events = all_events(&store);
    assert_eq!(events.len() as u64, rounds);
    assert_consistent(&events);
    assert_eq!(
        store
            .account_version(&partner_ledger::event::Account::parse("race").unwrap())
            .unwrap(),
        rounds
    );
    assert_verify_clean(&store);
}

#[test]
fn threads_appending_the_same_ids_store_them_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(&dir.path().join("db")).unwrap();
    let threads = 8;
    let barrier = Barrier::new(threads);
    for round in 0..10u32 {
        let text: String = (0..20)
            .map(|i| line(&id(3, round, i), &format!("same-{}", i % 3), None) + "\n")
            .collect();
        let appended: Vec<u64> = std::thread::scope(|s| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    let (store, barrier, text) = (&store, &barrier, &text);
                    s.spawn(move || {
                        barrier.wait();
                        let report = append(store, text).expect("rejected");
                        assert_eq!(report.appended + report.already_present.len() as u64, 20);
                        report.appended
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(
            appended.iter().filter(|&&n| n == 20).count(),
            1,
            "round {round}: {appended:?}"
        );
        assert_eq!(appended.iter().sum::<u64>(), 20, "round {round}");
    }
    let events = all_events(&store);
    assert_eq!(events.len(), 200);
    assert_consistent(&events);
    assert_verify_clean(&store);
}

// ------------------------------------------------------------------------------------------------
// Processes, one --db

fn spawn_append(db: &Path, file: &Path) -> std::process::Child {
    Command::new(BIN)
        .arg("--db")
        .arg(db)
        .arg("append")
        .arg(file)
        .env_remove("PARTNER_LEDGER_DB")
        .env("PARTNER_LEDGER_LOCK_WAIT_MS", "60000")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn finish(child: std::process::Child) -> Output {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked") && out.status.code() != Some(101),
        "panic: {stderr}"
    );
    out
}

fn bin(db: &Path, args: &[&str]) -> Output {
    let out = Command::new(BIN)
        .arg("--db")
        .arg(db)
        .args(args)
        .env_remove("PARTNER_LEDGER_DB")
        .env("PARTNER_LEDGER_LOCK_WAIT_MS", "60000")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(101));
    out
}

/// The store through the binary: every event, checked gapless and consistent; verify clean.
fn log_and_verify(db: &Path) -> Vec<(u64, String, String, u64)> {
    let out = bin(db, &["verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "verify: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin(db, &["log"]);
    assert_eq!(out.status.code(), Some(0));
    let mut events = Vec::new();
    for l in String::from_utf8(out.stdout).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        events.push((
            v["seq"].as_u64().unwrap(),
            v["id"].as_str().unwrap().to_string(),
            v["account"].as_str().unwrap().to_string(),
            v["version"].as_u64().unwrap(),
        ));
    }
    for (i, (seq, ..)) in events.iter().enumerate() {
        assert_eq!(*seq, i as u64 + 1, "gap in seq");
    }
    assert_consistent(&events);
    events
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn processes_appending_without_expected_version_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let procs = 6u32;
    let rounds = 4u32;
    let mut total = 0u64;
    for r in 0..rounds {
        let children: Vec<_> = (0..procs)
            .map(|p| {
                // Sizes from 1 to a few thousand, so that appends overlap with opens.
                let n = [1, 50, 500, 3000, 7, 1200][p as usize % 6];
                total += n as u64;
                let text: String = (0..n)
                    .map(|i| {
                        let account = match i % 3 {
                            0 => format!("proc-{p}"),
                            1 => "shared".to_string(),
                            _ => format!("spread-{}", i % 97),
                        };
                        line(&id(4, r * 100 + p, i), &account, None) + "\n"
                    })
                    .collect();
                let file = write(dir.path(), &format!("p{r}-{p}.jsonl"), &text);
                (n, spawn_append(&db, &file))
            })
            .collect();
        for (n, child) in children {
            let out = finish(child);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                stdout.starts_with(&format!("appended {n} event")),
                "{stdout}"
            );
        }
    }
    let events = log_and_verify(&db);
    assert_eq!(events.len() as u64, total, "events lost or duplicated");
}

#[test]
fn processes_racing_on_expected_version_have_exactly_one_winner_per_version() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let procs = 5u32;
    let rounds = 8u64;
    for r in 0..rounds {
        let children: Vec<_> = (0..procs)
            .map(|p| {
                let file = write(
                    dir.path(),
                    &format!("race-{r}-{p}.jsonl"),
                    &(line(&id(5, p, r as u32), "race", Some(r)) + "\n"),
                );
                spawn_append(&db, &file)
            })
            .collect();
        let mut winners = 0;
        for child in children {
            let out = finish(child);
            let stderr = String::from_utf8_lossy(&out.stderr);
            match out.status.code() {
                Some(0) => winners += 1,
                Some(1) => assert!(
                    stderr.contains("conflict: expected_version"),
                    "a loser must be told of the conflict: {stderr}"
                ),
                other => panic!("exit {other:?}: {stderr}"),
            }
        }
        assert_eq!(winners, 1, "round {r}: {winners} winners");
    }
    let events = log_and_verify(&db);
    assert_eq!(events.len() as u64, rounds);
    // And mixed: processes with and without expected_version on the same account.
    let children: Vec<_> = (0..procs)
        .map(|p| {
            let expected = (p % 2 == 0).then_some(rounds);
            let file = write(
                dir.path(),
                &format!("mixed-{p}.jsonl"),
                &(line(&id(6, p, 0), "race", expected) + "\n"),
            );
            (expected, spawn_append(&db, &file))
        })
        .collect();
    let mut appended = 0;
    let mut expected_winners = 0;
    for (expected, child) in children {
        let out = finish(child);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match out.status.code() {
            Some(0) => {
                appended += 1;
                expected_winners += u32::from(expected.is_some());
            }
            Some(1) => {
                assert!(
                    expected.is_some(),
                    "an append without expected_version failed: {stderr}"
                );
                assert!(
                    stderr.contains("conflict: expected_version"),
                    "a loser must be told of the conflict: {stderr}"
                );
            }
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    assert!(expected_winners <= 1, "two appends won version {rounds}");
    let events = log_and_verify(&db);
    assert_eq!(events.len() as u64, rounds + appended);
}

#[test]
fn processes_appending_the_same_file_store_it_once() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let text: String = (0..400)
        .map(|i| line(&id(7, 0, i), &format!("dup-{}", i % 9), None) + "\n")
        .collect();
    let file = write(dir.path(), "same.jsonl", &text);
    let children: Vec<_> = (0..6).map(|_| spawn_append(&db, &file)).collect();
    let mut full = 0;
    for child in children {
        let out = finish(child);
        assert_eq!(out.status.code(), Some(0));
        let stdout = String::from_utf8_lossy(&out.stdout);
        if stdout.starts_with("appended 400 events") {
            full += 1;
        } else {
            assert!(
                stdout.starts_with("appended 0 events; 400 already in the ledger"),
                "{stdout}"
            );
        }
    }
    assert_eq!(full, 1);
    assert_eq!(log_and_verify(&db).len(), 400);
}

/// Threads and processes at once: a process appends while threads of another process (this
/// test) hold the store open between their appends. The store is per process: the test opens
/// it for each of its batches, so that the binary gets its turn.
#[test]
fn a_process_waits_for_another_and_both_land() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let text: String = (0..2000)
        .map(|i| line(&id(8, 0, i), "waiter", None) + "\n")
        .collect();
    let file = write(dir.path(), "waiter.jsonl", &text);
    let child;
    {
        // This process holds the store while the binary starts: it must wait, not fail.
        let store = SledStore::open(&db).unwrap();
        let mine: String = (0..10)
            .map(|i| line(&id(8, 1, i), "holder", None) + "\n")
            .collect();
        child = spawn_append(&db, &file);
        std::thread::sleep(Duration::from_millis(300));
        append(&store, &mine).expect("rejected");
    }
    let out = finish(child);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = log_and_verify(&db);
    assert_eq!(events.len(), 2010);
    assert_eq!(events[0].2, "holder", "the holder appended first");
    // With a short wait, the second process is told the store is busy (exit 1), clearly.
    let store = SledStore::open(&db).unwrap();
    let out = Command::new(BIN)
        .arg("--db")
        .arg(&db)
        .arg("log")
        .env_remove("PARTNER_LEDGER_DB")
        .env("PARTNER_LEDGER_LOCK_WAIT_MS", "200")
        .output()
        .unwrap();
    drop(store);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("in use by another process"), "{stderr}");
}
