//! The contract through the binary: exit codes, error lines, idempotency across restarts,
//! expected_version, malformed input of every kind (nothing written, no panic), log/append
//! round trip, and the usage errors.

use std::path::{Path, PathBuf};

use assert_cmd::Command;

struct Fixture {
    _dir: tempfile::TempDir,
    db: PathBuf,
    work: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("store");
        let work = dir.path().to_path_buf();
        Fixture {
            _dir: dir,
            db,
            work,
        }
    }

    fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("partner-ledger").unwrap();
        c.arg("--db").arg(&self.db).env_remove("PARTNER_LEDGER_DB");
        c
    }

    fn file(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.work.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Runs `append FILE`; returns (exit code, stdout, stderr).
    fn append(&self, path: &Path) -> (i32, String, String) {
        let out = self.cmd().arg("append").arg(path).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Appends the ledger `gen --accounts ACCOUNTS --seed SEED` writes; returns what `append`
    /// printed.
    fn append_generated(&self, accounts: &str, seed: &str) -> String {
        let out = self
            .cmd()
            .args(["gen", "--accounts", accounts, "--seed", seed])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let ledger = self.file("gen.jsonl", &out.stdout);
        let (code, out, err) = self.append(&ledger);
        assert_eq!(code, 0, "{err}");
        out
    }

    fn log(&self) -> String {
        let out = self.cmd().arg("log").output().unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }
}

const PROFILE: &str = r#"{"id": "6d693e86-713c-4b85-ae54-08e201872037", "account": "cli-test", "type": "business_profile_verified", "date": "2024-03-04", "recorded_at": "2024-03-04T09:00:00Z", "data": {}}"#;
const PURCHASE: &str = r#"{"id": "da1cf840-69dc-458b-8578-dcdc882ec916", "account": "cli-test", "type": "membership_purchased", "date": "2024-03-11", "recorded_at": "2024-03-11T09:00:00Z", "data": {"offer": "action_pack"}}"#;

fn base(f: &Fixture) {
    let p = f.file("base.jsonl", format!("{PROFILE}\n{PURCHASE}\n").as_bytes());
    let (code, out, err) = f.append(&p);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("appended 2 events (seq 1..2)"), "{out}");
}

#[test]
fn idempotent_re_append_survives_close_and_reopen() {
    let f = Fixture::new();
    base(&f);
    let before = f.log();
    // Each command is its own process: the store is closed and reopened in between.
    let p = f.file("again.jsonl", format!("{PROFILE}\n{PURCHASE}\n").as_bytes());
    let (code, out, err) = f.append(&p);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 already in the ledger"), "{out}");
    assert_eq!(
        f.log(),
        before,
        "an idempotent re-append must not change the log"
    );
}

#[test]
fn same_id_with_different_content_is_rejected_and_nothing_written() {
    let f = Fixture::new();
    base(&f);
    let before = f.log();
    let changed = PURCHASE.replace("action_pack", "learning_action_pack");
    let p = f.file("changed.jsonl", format!("{changed}\n").as_bytes());
    let (code, _, err) = f.append(&p);
    assert_eq!(code, 1);
    assert!(
        err.contains("event 1 (membership_purchased, cli-test, 2024-03-11)"),
        "{err}"
    );
    assert!(err.contains("different content"), "{err}");
    assert_eq!(f.log(), before);
}

#[test]
fn expected_version_conflict_is_rejected_and_nothing_written() {
    let f = Fixture::new();
    base(&f);
    let before = f.log();
    let stale = r#"{"account": "cli-test", "type": "benefit_redeemed", "date": "2024-03-12", "expected_version": 1, "data": {"benefit": "azure_credits"}}"#;
    let p = f.file("stale.jsonl", format!("{stale}\n").as_bytes());
    let (code, _, err) = f.append(&p);
    assert_eq!(code, 1);
    assert!(
        err.contains("expected_version 1") && err.contains("version 2"),
        "{err}"
    );
    assert_eq!(f.log(), before);
    let fresh = stale.replace("\"expected_version\": 1", "\"expected_version\": 2");
    let p = f.file("fresh.jsonl", format!("{fresh}\n").as_bytes());
    let (code, _, err) = f.append(&p);
    assert_eq!(code, 0, "{err}");
}

/// Each malformed line is rejected naming its line, writes nothing and does not panic.
#[test]
fn malformed_lines_are_rejected_with_their_line_number() {
    let good = r#"{"account": "cli-test", "type": "business_profile_verified", "date": "2024-03-12", "data": {}}"#;
    let long = format!(
        r#"{{"account": "cli-test", "type": "business_profile_verified", "date": "2024-03-12", "data": {{}}, "x": "{}"}}"#,
        "a".repeat(10 * 1024 * 1024)
    );
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("bad JSON", br#"{"account": "cli-test", "type": "#.to_vec()),
        ("unknown type", br#"{"account": "cli-test", "type": "membership_cancelled", "date": "2024-03-12", "data": {}}"#.to_vec()),
        ("unknown field", br#"{"account": "cli-test", "type": "business_profile_verified", "date": "2024-03-12", "data": {}, "comment": 1}"#.to_vec()),
        ("bad date", br#"{"account": "cli-test", "type": "business_profile_verified", "date": "2023-02-30", "data": {}}"#.to_vec()),
        ("bad account", br#"{"account": "cli test!", "type": "business_profile_verified", "date": "2024-03-12", "data": {}}"#.to_vec()),
        ("invalid UTF-8", b"{\"account\": \"cli-\xff\xfe\", \"type\": \"business_profile_verified\", \"date\": \"2024-03-12\", \"data\": {}}".to_vec()),
        ("10 MB line", long.into_bytes()),
    ];
    let f = Fixture::new();
    base(&f);
    let before = f.log();
    for (what, bad) in cases {
        let mut bytes = format!("{good}\n{good}\n").into_bytes();
        bytes.extend_from_slice(&bad);
        bytes.extend_from_slice(format!("\n{good}\n").as_bytes());
        let p = f.file("bad.jsonl", &bytes);
        let (code, _, err) = f.append(&p);
        assert_eq!(code, 1, "{what}: {err}");
        assert!(
            err.contains("line 3:") || err.contains("event 3 "),
            "{what}: {err}"
        );
        assert!(!err.contains("panicked"), "{what}: {err}");
        assert_eq!(f.log(), before, "{what}: nothing may be written");
    }
    // An empty line in the middle is malformed too; a trailing newline is not.
    let p = f.file("blank.jsonl", format!("{good}\n\n{good}\n").as_bytes());
    let (code, _, err) = f.append(&p);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("line 2:") && err.contains("empty line"),
        "{err}"
    );
    assert_eq!(f.log(), before);
}

#[test]
fn a_rule_rejection_names_the_rule_and_every_rejected_event() {
    let f = Fixture::new();
    base(&f);
    let before = f.log();
    let lines = [
        r#"{"account": "cli-test", "type": "benefit_redeemed", "date": "2024-03-12", "data": {"benefit": "marketing"}}"#,
        r#"{"account": "cli-test", "type": "benefit_redeemed", "date": "2024-03-12", "data": {"benefit": "azure_credits"}}"#,
        r#"{"account": "cli-test", "type": "membership_purchased", "date": "2024-03-13", "data": {"offer": "action_pack"}}"#,
    ];
    let p = f.file("rules.jsonl", format!("{}\n", lines.join("\n")).as_bytes());
    let (code, _, err) = f.append(&p);
    assert_eq!(code, 1);
    assert!(
        err.contains("error: event 1 (benefit_redeemed, cli-test, 2024-03-12): R16"),
        "{err}"
    );
    assert!(
        err.contains("error: event 3 (membership_purchased, cli-test, 2024-03-13): R11"),
        "{err}"
    );
    assert!(!err.contains("event 2 "), "event 2 is valid: {err}");
    assert_eq!(f.log(), before);
}

#[test]
fn log_restores_into_an_empty_store_byte_for_byte() {
    let f = Fixture::new();
    base(&f);
    let exported = f.log();
    let copy = Fixture::new();
    let p = copy.file("export.jsonl", exported.as_bytes());
    let (code, _, err) = copy.append(&p);
    assert_eq!(code, 0, "{err}");
    assert_eq!(copy.log(), exported);
    let out = copy.cmd().arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let deep = copy.cmd().args(["verify", "--deep"]).output().unwrap();
    assert_eq!(deep.status.code(), Some(0));
    assert_eq!(
        deep.stdout, out.stdout,
        "both say the same of a sound ledger"
    );
}

#[test]
fn a_stored_form_line_with_a_wrong_hash_is_rejected() {
    let f = Fixture::new();
    base(&f);
    let exported = f.log();
    let copy = Fixture::new();
    let first = exported.lines().next().unwrap().to_string();
    let broken = first.replace("\"date\":\"2024-03-04\"", "\"date\":\"2024-03-05\"");
    let p = copy.file("export.jsonl", format!("{broken}\n").as_bytes());
    let (code, _, err) = copy.append(&p);
    assert_eq!(code, 1);
    assert!(err.contains("hash"), "{err}");
}

#[test]
fn usage_errors_exit_2_and_every_command_has_help() {
    let f = Fixture::new();
    let out = f
        .cmd()
        .args(["state", "cli-test", "--as-of", "2024-02-30"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = f.cmd().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    for command in [
        "append", "state", "history", "diff", "upcoming", "report", "replay", "log", "verify",
        "gen",
    ] {
        let out = f.cmd().args([command, "--help"]).output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{command} --help");
        assert!(!out.stdout.is_empty());
    }
}

#[test]
fn state_json_has_the_contract_shape_and_known_at_hides_later_events() {
    let f = Fixture::new();
    base(&f);
    let out = f
        .cmd()
        .args([
            "state",
            "cli-test",
            "--as-of",
            "2024-03-12",
            "--known-at",
            "2024-03-05T00:00:00Z",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for field in [
        "account",
        "as_of",
        "known_at",
        "merged_into",
        "absorbed",
        "profile_verified",
        "designations",
        "memberships",
        "benefits",
        "tokens",
        "product_keys",
        "vs_subscriptions",
        "obligations",
    ] {
        assert!(v.get(field).is_some(), "missing {field}");
    }
    // The purchase was recorded on 2024-03-11: on 2024-03-05 the ledger knew only the profile.
    assert_eq!(v["memberships"], serde_json::json!([]));
    assert_eq!(v["profile_verified"], "2024-03-04");
}

#[test]
fn replay_writes_nothing() {
    let f = Fixture::new();
    base(&f);
    let before = f.log();
    let what_if = r#"{"account": "cli-test", "type": "benefit_redeemed", "date": "2024-03-20", "data": {"benefit": "azure_credits"}}"#;
    let p = f.file("what-if.jsonl", format!("{what_if}\n").as_bytes());
    let out = f
        .cmd()
        .args([
            "replay",
            p.to_str().unwrap(),
            "--account",
            "cli-test",
            "--as-of",
            "2024-03-21",
            "--with-ledger",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let credits = v["benefits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["type"] == "azure_credits")
        .unwrap();
    assert_eq!(credits["status"], "redeemed");
    assert_eq!(f.log(), before);
}

#[test]
fn query_processes_end_without_a_flush_and_leave_the_store_whole() {
    // Query commands open the store for reading and exit without sled's shutdown flush; the
    // appends and checks between them must see an intact store every time.
    let f = Fixture::new();
    base(&f);
    for round in 0..3 {
        for args in [
            vec!["state", "cli-test", "--as-of", "2024-06-01"],
            vec!["history", "cli-test"],
            vec!["report", "--as-of", "2024-06-01"],
            vec!["verify"],
        ] {
            let out = f.cmd().args(&args).output().unwrap();
            assert_eq!(out.status.code(), Some(0), "{args:?} in round {round}");
        }
        let next = format!(
            r#"{{"account": "cli-test", "type": "business_profile_verified", "date": "2024-04-0{}", "recorded_at": "2024-04-0{}T09:00:00Z", "data": {{}}}}"#,
            round + 1,
            round + 1
        );
        let p = f.file("next.jsonl", format!("{next}\n").as_bytes());
        let (code, _, err) = f.append(&p);
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(f.log().lines().count(), 5);
    let out = f.cmd().arg("verify").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_query_that_derives_missing_copies_leaves_them_durable() {
    // A store from before the stream copies existed gets them derived by whichever process
    // opens it first; a query process ends without sled's shutdown flush, so recovery must
    // flush what it derived itself.
    let f = Fixture::new();
    f.append_generated("400", "7");
    let report = |f: &Fixture| {
        let out = f
            .cmd()
            .args(["report", "--as-of", "2025-06-30", "--format", "csv"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    };
    let before = report(&f);
    {
        let store = partner_ledger::store::sled_store::SledStore::open(&f.db).unwrap();
        let streams = store.raw_db().open_tree("streams").unwrap();
        streams.clear().unwrap();
        store.raw_db().flush().unwrap();
    }
    assert_eq!(report(&f), before, "the first query derives the copies");
    let out = f.cmd().arg("verify").output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(report(&f), before);
}

/// The data file's modification time and bytes.
fn data_file(db: &Path) -> (std::time::SystemTime, Vec<u8>) {
    let file = db.join("db");
    (
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        std::fs::read(&file).unwrap(),
    )
}

/// Query commands over a settled store leave its data file as they found it: sled's open no
/// longer zeroes free segments and the recovered tail for a process that only reads
/// (vendor/sled/PATCHES.md). An `append` afterwards still works and `verify` stays clean.
#[test]
fn query_commands_write_nothing_to_a_settled_store() {
    let f = Fixture::new();
    // The bundled events/, appended as the README does (`append events/*.jsonl`).
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("events");
    let mut events: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    events.sort();
    succeeds(f.cmd().arg("append").args(&events), "append events/*.jsonl");
    let before = data_file(&f.db);
    std::thread::sleep(std::time::Duration::from_millis(20));
    for args in [
        vec!["state", "contoso-ltd", "--as-of", "2024-06-30", "--json"],
        vec!["history", "contoso-ltd"],
        vec!["report", "--as-of", "2025-06-30"],
        vec!["upcoming", "--as-of", "2024-01-01"],
        vec!["verify"],
        vec!["log"],
    ] {
        succeeds(f.cmd().args(&args), &format!("{args:?}"));
    }
    let after = data_file(&f.db);
    assert!(
        after == before,
        "a query command wrote to the data file (mtime {:?} -> {:?})",
        before.0,
        after.0
    );
    let later = f.file(
        "later.jsonl",
        br#"{"id": "0b7c4f5e-3f42-4d0e-9a55-2f1d6c1f0a11", "account": "after-queries", "type": "business_profile_verified", "date": "2026-01-05", "data": {}}
"#,
    );
    let (code, out, err) = f.append(&later);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("appended 1 event"), "{out}");
    succeeds(f.cmd().arg("verify"), "verify");
}

/// Runs `cmd` and asserts it exits 0, showing its stderr otherwise.
fn succeeds(cmd: &mut Command, what: &str) {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The log position of sled's newest snapshot in the store (its file name's hex), if any.
fn newest_snapshot(db: &Path) -> Option<u64> {
    std::fs::read_dir(db)
        .unwrap()
        .filter_map(|e| {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            u64::from_str_radix(name.strip_prefix("snap.")?, 16).ok()
        })
        .max()
}

/// sled records where its pages are (a snapshot) only when it opens, replaying its log from
/// the last record. A large append has it recorded before it ends, so the next command does
/// not replay the append's megabytes: at most the little that readers write (sled splits an
/// oversized node when a read meets it).
#[test]
fn a_large_append_leaves_the_next_open_nothing_to_replay() {
    let f = Fixture::new();
    let out = f.append_generated("1200", "11");
    let appended: u64 = out
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(appended >= 20_000, "a large append: {out}");
    let recorded = newest_snapshot(&f.db).expect("the append recorded a snapshot");
    let written = std::fs::metadata(f.db.join("db")).unwrap().len();
    assert!(written > 4 << 20, "the append wrote {written} bytes");
    succeeds(f.cmd().args(["report", "--as-of", "2025-06-30"]), "report");
    succeeds(f.cmd().arg("verify"), "verify");
    let later = newest_snapshot(&f.db).unwrap_or(0);
    assert!(
        later - recorded < 1 << 20,
        "a reader replayed {} bytes of log",
        later - recorded
    );
}
