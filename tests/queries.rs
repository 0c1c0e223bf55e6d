//! `history`, `diff`, `upcoming` and `report` through the binary, on a small hand-made ledger
//! (dates worked out from rules.md) and on a generated one (report against `state`).

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn ledger(db: &Path) -> Command {
    let mut command = Command::cargo_bin("partner-ledger").expect("binary partner-ledger is built");
    command
        .env_remove("PARTNER_LEDGER_DB")
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(db);
    command
}

const VOIDED: &str = "00000000-0000-4000-8000-000000000003";
const VOID: &str = "00000000-0000-4000-8000-000000000004";

/// contoso buys an Action Pack on 2024-01-05 (AD 2025-01-05, window 2025-01-06 .. 2025-02-04),
/// redeems Azure credits on 2024-02-01 by mistake (voided), again on 2024-02-15, and a token
/// issued on 2024-01-20 is recorded last (back-dated). fabrikam buys on 2024-03-10 (window
/// opens 2025-03-11).
fn events() -> String {
    let line = |n: u32, account: &str, kind: &str, date: &str, recorded: &str, data: &str| {
        format!(
            r#"{{"id":"00000000-0000-4000-8000-{n:012}","account":"{account}","type":"{kind}","date":"{date}","recorded_at":"{recorded}T09:00:00Z","data":{data}}}"#
        )
    };
    [
        line(
            1,
            "contoso",
            "business_profile_verified",
            "2024-01-02",
            "2024-01-02",
            "{}",
        ),
        line(
            2,
            "contoso",
            "membership_purchased",
            "2024-01-05",
            "2024-01-05",
            r#"{"offer":"action_pack"}"#,
        ),
        line(
            3,
            "contoso",
            "benefit_redeemed",
            "2024-02-01",
            "2024-02-01",
            r#"{"benefit":"azure_credits"}"#,
        ),
        line(
            4,
            "contoso",
            "event_voided",
            "2024-02-10",
            "2024-02-10",
            &format!(r#"{{"event":"{VOIDED}","reason":"redeemed by mistake"}}"#),
        ),
        line(
            5,
            "contoso",
            "benefit_redeemed",
            "2024-02-15",
            "2024-02-15",
            r#"{"benefit":"azure_credits"}"#,
        ),
        line(
            6,
            "fabrikam",
            "business_profile_verified",
            "2024-03-01",
            "2024-03-01",
            "{}",
        ),
        line(
            7,
            "fabrikam",
            "membership_purchased",
            "2024-03-10",
            "2024-03-10",
            r#"{"offer":"action_pack"}"#,
        ),
        line(
            8,
            "contoso",
            "token_issued",
            "2024-01-20",
            "2024-03-20",
            r#"{"token":"T-1","product":"Microsoft 365 E3","seats":5}"#,
        ),
    ]
    .join("\n")
        + "\n"
}

fn store_with_events() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("store");
    ledger(&db)
        .args(["append", "-"])
        .write_stdin(events())
        .assert()
        .success();
    (dir, db)
}

fn json_of(command: &mut Command) -> Value {
    let output = command.output().expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("valid JSON")
}

#[test]
fn history_lists_events_in_business_date_order_and_marks_the_voided_one() {
    let (_dir, db) = store_with_events();
    let entries = json_of(ledger(&db).args(["history", "contoso", "--json"]));
    let entries = entries.as_array().expect("an array");
    assert_eq!(entries.len(), 6, "contoso's six events");
    let dates: Vec<&str> = entries
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "R2: business-date order");
    // The back-dated token (seq 8) comes before the redemption of 2024-02-01 (seq 3).
    let position = |id: &str| entries.iter().position(|e| e["id"] == id).unwrap();
    assert!(position("00000000-0000-4000-8000-000000000008") < position(VOIDED));

    let voided = &entries[position(VOIDED)];
    assert_eq!(voided["voided"]["by"], VOID);
    assert_eq!(voided["voided"]["reason"], "redeemed by mistake");
    assert_eq!(
        voided["changes"].as_array().unwrap().len(),
        0,
        "a voided event changes nothing"
    );
    let void = &entries[position(VOID)];
    assert_eq!(void["type"], "event_voided");
    assert!(void["voided"].is_null());

    // The purchase started a term; the second redemption redeemed the credits.
    let purchase = &entries[position("00000000-0000-4000-8000-000000000002")];
    assert!(purchase["changed"]
        .as_str()
        .unwrap()
        .contains("started action_pack term 2024-01-05 .. 2025-01-05"));
    let redemption = &entries[position("00000000-0000-4000-8000-000000000005")];
    let redeemed = redemption["changes"].as_array().unwrap().iter().any(|c| {
        c["section"] == "benefits"
            && c["key"] == "azure_credits (action_pack 2024-01-05)"
            && c["field"] == "status"
            && c["from"] == "available"
            && c["to"] == "redeemed"
    });
    assert!(redeemed, "{redemption}");

    let text = ledger(&db).args(["history", "contoso"]).output().unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("VOIDED by 00000000 (redeemed by mistake)"),
        "{text}"
    );
}

#[test]
fn history_range_keeps_only_events_between_the_dates() {
    let (_dir, db) = store_with_events();
    let entries = json_of(ledger(&db).args([
        "history",
        "contoso",
        "--from",
        "2024-02-01",
        "--to",
        "2024-02-12",
        "--json",
    ]));
    let dates: Vec<&str> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2024-02-01", "2024-02-10"]);
}

#[test]
fn diff_reports_a_benefit_status_change_between_two_dates() {
    let (_dir, db) = store_with_events();
    let diff = json_of(ledger(&db).args([
        "diff",
        "contoso",
        "--from",
        "2024-01-10",
        "--to",
        "2024-03-01",
        "--json",
    ]));
    assert_eq!(diff["account"], "contoso");
    assert_eq!(diff["from"], "2024-01-10");
    assert_eq!(diff["to"], "2024-03-01");
    let changes = diff["changes"].as_array().unwrap();
    let status = changes
        .iter()
        .find(|c| c["key"] == "azure_credits (action_pack 2024-01-05)" && c["field"] == "status");
    let status = status.expect("azure credits status changed");
    assert_eq!(
        (status["from"].as_str(), status["to"].as_str()),
        (Some("available"), Some("redeemed"))
    );
    assert_eq!(status["section"], "benefits");
    // The token was issued in between (back-dated, but dated 2024-01-20).
    assert!(changes
        .iter()
        .any(|c| c["section"] == "tokens" && c["key"] == "T-1" && c["change"] == "added"));

    let text = ledger(&db)
        .args([
            "diff",
            "contoso",
            "--from",
            "2024-01-10",
            "--to",
            "2024-03-01",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains("azure_credits (action_pack 2024-01-05)") && text.contains("available"),
        "{text}"
    );
}

#[test]
fn diff_of_a_date_with_itself_is_empty() {
    let (_dir, db) = store_with_events();
    let diff = json_of(ledger(&db).args([
        "diff",
        "contoso",
        "--from",
        "2024-06-01",
        "--to",
        "2024-06-01",
        "--json",
    ]));
    assert_eq!(diff["changes"].as_array().unwrap().len(), 0);
}

#[test]
fn upcoming_lists_a_renewal_window_opening_in_range_and_not_one_outside() {
    let (_dir, db) = store_with_events();
    let deadlines = json_of(ledger(&db).args([
        "upcoming",
        "--as-of",
        "2024-12-20",
        "--within",
        "30",
        "--json",
    ]));
    let deadlines = deadlines.as_array().unwrap();
    let opens = |account: &str| {
        deadlines
            .iter()
            .any(|d| d["account"] == account && d["kind"] == "renewal_window_opens")
    };
    assert!(
        opens("contoso"),
        "R7: contoso's window opens 2025-01-06: {deadlines:?}"
    );
    assert!(
        !opens("fabrikam"),
        "fabrikam's window opens 2025-03-11, outside the range"
    );
    let contoso = deadlines
        .iter()
        .find(|d| d["account"] == "contoso" && d["kind"] == "renewal_window_opens")
        .unwrap();
    assert_eq!(contoso["date"], "2025-01-06");
    let dates: Vec<&str> = deadlines
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    let mut sorted = dates.clone();
    sorted.sort();
    assert_eq!(dates, sorted, "soonest first");
    // Outside the range entirely: nothing.
    let none = json_of(ledger(&db).args(["upcoming", "--as-of", "2030-01-01", "--json"]));
    assert_eq!(none.as_array().unwrap().len(), 0);
}

#[test]
fn report_csv_has_a_header_and_one_row_per_account_and_json_parses() {
    let (_dir, db) = store_with_events();
    let csv = ledger(&db)
        .args(["report", "--as-of", "2024-06-01", "--format", "csv"])
        .output()
        .unwrap();
    assert!(csv.status.success());
    let csv = String::from_utf8(csv.stdout).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("account,merged_into,package_offer"));
    assert!(
        lines[1].starts_with("contoso,,,,,action_pack,active,2025-01-05,"),
        "{}",
        lines[1]
    );
    assert!(lines[2].starts_with("fabrikam,"));

    let rows = json_of(ledger(&db).args(["report", "--as-of", "2024-06-01", "--json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["account"], "contoso");
    assert_eq!(rows[0]["action_pack_status"], "active");
    assert_eq!(
        rows[0]["benefits_redeemed"], 1,
        "the voided redemption does not count"
    );
    assert_eq!(rows[0]["package_offer"], Value::Null);
    let same = json_of(ledger(&db).args(["report", "--as-of", "2024-06-01", "--format", "json"]));
    assert_eq!(same.as_array().unwrap().len(), 2);
}

/// The report folds the log in one scan; its counts must equal what `state` projects for the
/// same account and date, also for merged, voided and back-dated histories.
#[test]
fn report_agrees_with_state_on_a_generated_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    // Seed 4 gives merges and a void among 60 accounts.
    let generated = ledger(&db)
        .args(["gen", "--accounts", "60", "--seed", "4"])
        .output()
        .unwrap();
    assert!(generated.status.success());
    let text = String::from_utf8_lossy(&generated.stdout);
    assert!(text.contains("accounts_merged") && text.contains("event_voided"));
    ledger(&db)
        .args(["append", "-"])
        .write_stdin(generated.stdout)
        .assert()
        .success();
    let as_of = "2025-03-01";
    let rows = json_of(ledger(&db).args(["report", "--as-of", as_of, "--json"]));
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 60);
    // Folded on two threads (two halves of the accounts), written in name order.
    let names: Vec<&str> = rows
        .iter()
        .map(|r| r["account"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]), "{names:?}");
    for row in rows {
        let account = row["account"].as_str().unwrap();
        let state = json_of(ledger(&db).args(["state", account, "--as-of", as_of, "--json"]));
        let count = |section: &str, statuses: &[&str]| {
            state[section]
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| statuses.iter().any(|s| x["status"] == *s))
                .count()
        };
        assert_eq!(
            row["benefits_available"],
            count("benefits", &["available"]),
            "{account}"
        );
        assert_eq!(
            row["benefits_redeemed"],
            count("benefits", &["redeemed"]),
            "{account}"
        );
        assert_eq!(
            row["tokens_activated"],
            count("tokens", &["activated"]),
            "{account}"
        );
        assert_eq!(
            row["keys_usable"],
            count("product_keys", &["usable"]),
            "{account}"
        );
        assert_eq!(
            row["subscriptions_active"],
            count("vs_subscriptions", &["active"]),
            "{account}"
        );
        assert_eq!(
            row["obligations"],
            state["obligations"].as_array().unwrap().len(),
            "{account}"
        );
        assert_eq!(row["merged_into"], state["merged_into"], "{account}");
    }
}

#[test]
fn report_and_upcoming_on_an_empty_store() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let csv = ledger(&db)
        .args(["report", "--as-of", "2024-06-01", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(csv.stdout).unwrap().lines().count(),
        1,
        "header only"
    );
    let rows = json_of(ledger(&db).args(["report", "--as-of", "2024-06-01", "--json"]));
    assert_eq!(rows, Value::Array(vec![]));
    let deadlines = json_of(ledger(&db).args(["upcoming", "--as-of", "2024-06-01", "--json"]));
    assert_eq!(deadlines, Value::Array(vec![]));
}

/// A sled store (in a temporary directory) and a ledger generated by `gen` with `accounts`,
/// `seed` and `years`, not yet appended.
fn sled_store_and_generated_ledger(
    accounts: u64,
    seed: u64,
    years: u32,
) -> (
    tempfile::TempDir,
    partner_ledger::store::sled_store::SledStore,
    partner_ledger::domain::Catalog,
    String,
) {
    let dir = tempfile::tempdir().unwrap();
    let store =
        partner_ledger::store::sled_store::SledStore::open(&dir.path().join("store")).unwrap();
    let catalog = partner_ledger::domain::Catalog::default_catalog();
    let mut text = Vec::new();
    partner_ledger::gen::write_ledger(&mut text, accounts, seed, years, &catalog).unwrap();
    (dir, store, catalog, String::from_utf8(text).unwrap())
}

/// `state` lets the store leave out, undecoded, the events its projection rules out (dated
/// after `--as-of`, recorded after `--known-at`; never voids or merges): on a generated ledger
/// with merges and voids, in the sled store, it equals the projection of the full streams for
/// every account at dates and instants across the history, including exact recorded instants.
#[test]
fn state_reads_only_what_it_needs_and_equals_the_full_projection() {
    use partner_ledger::event::{format_instant, parse_date, parse_instant, Body};
    use partner_ledger::ledger::{lines_from_text, Ledger};
    use partner_ledger::store::Store;

    let (_dir, store, catalog, text) = sled_store_and_generated_ledger(60, 4, 3);
    let ledger = Ledger::new(&store, catalog);
    let now = parse_instant("2030-01-01T00:00:00Z").unwrap();
    let report = ledger
        .append(lines_from_text(&text), now, &mut |_| {})
        .unwrap()
        .unwrap();
    assert!(report.appended > 1000);

    let accounts = store.accounts().unwrap();
    let mut instants = Vec::new();
    let mut kinds = std::collections::HashSet::new();
    let mut dated = std::collections::HashMap::new();
    // (account, a date, an instant) where leaving out the wrong event would show: between a
    // voided event and its void, just before a merge, at the instants of both.
    let mut edges = Vec::new();
    store
        .scan(1, &mut |e| {
            if e.seq % 97 == 0 {
                instants.push(e.event.recorded_at);
            }
            kinds.insert(std::mem::discriminant(&e.event.body));
            dated.insert(e.event.id, (e.event.date, e.event.recorded_at));
            match &e.event.body {
                Body::EventVoided(v) => {
                    if let Some(&(date, recorded)) = dated.get(&v.event) {
                        for k in [None, Some(recorded), Some(e.event.recorded_at)] {
                            edges.push((e.event.account.clone(), date, k));
                        }
                    }
                }
                Body::AccountsMerged(m) => {
                    let before = e.event.date.pred_opt().unwrap();
                    for a in [&e.event.account, &m.absorbed] {
                        edges.push((a.clone(), before, None));
                        edges.push((a.clone(), e.event.date, Some(e.event.recorded_at)));
                    }
                }
                _ => {}
            }
            true
        })
        .unwrap();
    assert!(edges.len() >= 6, "voids and merges to probe");
    for (account, as_of, k) in &edges {
        let k = k.map(|i| (i, format_instant(i)));
        let fast = ledger.state(account, *as_of, k.clone()).unwrap();
        let full = ledger.state_from_full_streams(account, *as_of, k).unwrap();
        assert_eq!(fast, full, "{account} on {as_of}");
    }
    assert!(kinds.len() >= 14, "the history covers the event types");
    let merge = Body::AccountsMerged(partner_ledger::event::MergeData {
        absorbed: accounts[0].clone(),
    });
    assert!(
        kinds.contains(&std::mem::discriminant(&merge)),
        "merges are there"
    );
    let dates = [
        "2021-06-30",
        "2023-01-01",
        "2023-07-15",
        "2024-02-29",
        "2025-06-30",
        "2027-01-01",
    ];
    let mut compared = 0;
    for (n, account) in accounts.iter().enumerate() {
        for date in dates {
            let as_of = parse_date(date).unwrap();
            let known = [
                None,
                Some(instants[n % instants.len()]),
                Some(instants[(n * 7 + 3) % instants.len()]),
            ];
            for k in known {
                let k = k.map(|i| (i, format_instant(i)));
                let fast = ledger.state(account, as_of, k.clone()).unwrap();
                let full = ledger.state_from_full_streams(account, as_of, k).unwrap();
                assert_eq!(fast, full, "{account} on {date}");
                compared += 1;
            }
        }
    }
    assert!(compared >= 60 * 6 * 3);
}

/// The stream copies are a cache: a query answered from them (one value per account, lines
/// skipped undecoded) must equal a full replay of the log. The replay here is a `MemoryStore`
/// filled from the sled store's log and nothing else; both are asked the same random
/// (account, as-of, known-at) questions, after one append and again after a second append
/// that updated the copies in place.
#[test]
fn state_from_the_stream_copies_equals_a_full_replay_of_the_log_for_random_questions() {
    use partner_ledger::event::{format_instant, parse_instant, Date, Instant};
    use partner_ledger::ledger::{lines_from_text, Ledger};
    use partner_ledger::store::memory::MemoryStore;
    use partner_ledger::store::Store;

    let (_dir, store, catalog, text) = sled_store_and_generated_ledger(150, 11, 4);
    let lines: Vec<&str> = text.lines().collect();
    // Two appends: the second extends copies the first wrote.
    let (first, second) = lines.split_at(lines.len() * 3 / 5);
    let ledger = Ledger::new(&store, catalog.clone());
    let now = parse_instant("2030-01-01T00:00:00Z").unwrap();

    let mut rng: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for part in [first, second] {
        let report = ledger
            .append(lines_from_text(&part.join("\n")), now, &mut |_| {})
            .unwrap()
            .unwrap();
        assert!(report.appended > 500, "{} appended", report.appended);

        // The replay: every logged event, in seq order, into a fresh in-memory store.
        let replay = MemoryStore::new();
        let mut batch = replay.begin().unwrap();
        let (mut first_day, mut last_day) = (Date::MAX, Date::MIN);
        let mut instants: Vec<Instant> = Vec::new();
        store
            .scan(1, &mut |e| {
                first_day = first_day.min(e.event.date);
                last_day = last_day.max(e.event.date);
                instants.push(e.event.recorded_at);
                batch.push(e).unwrap();
                true
            })
            .unwrap();
        batch.commit().unwrap();
        let full = Ledger::new(&replay, catalog.clone());

        let accounts = store.accounts().unwrap();
        assert_eq!(accounts, replay.accounts().unwrap());
        let span = (last_day - first_day).num_days() as u64 + 60;
        let mut merged = 0;
        for _ in 0..1500 {
            let account = &accounts[(next() % accounts.len() as u64) as usize];
            let as_of = first_day - chrono::Duration::days(30)
                + chrono::Duration::days((next() % span) as i64);
            // Half the questions as of an instant the ledger passed through.
            let known_at = (next() % 2 == 0).then(|| {
                let at = instants[(next() % instants.len() as u64) as usize];
                (at, format_instant(at))
            });
            let cached = ledger.state(account, as_of, known_at.clone()).unwrap();
            let replayed = full.state(account, as_of, known_at.clone()).unwrap();
            merged += usize::from(replayed.merged_into.is_some() || !replayed.absorbed.is_empty());
            assert_eq!(
                cached, replayed,
                "{account} as of {as_of}, known at {known_at:?}"
            );
        }
        assert!(merged > 0, "the questions reach merged accounts");
    }
}
