//! `gen` through the binary: deterministic, and every event it writes is accepted by the rules.

use std::path::Path;

use assert_cmd::Command;

fn ledger(db: &Path) -> Command {
    let mut command = Command::cargo_bin("partner-ledger").expect("binary partner-ledger is built");
    command
        .env_remove("PARTNER_LEDGER_DB")
        .env("NO_COLOR", "1")
        .arg("--db")
        .arg(db);
    command
}

fn gen(db: &Path, args: &[&str]) -> Vec<u8> {
    let output = ledger(db).arg("gen").args(args).output().expect("gen runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[test]
fn gen_same_seed_same_output_different_seed_different_output() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let a = gen(&db, &["--accounts", "80", "--seed", "42"]);
    let b = gen(&db, &["--accounts", "80", "--seed", "42"]);
    let c = gen(&db, &["--accounts", "80", "--seed", "43"]);
    assert!(!a.is_empty());
    assert_eq!(a, b, "same seed, same bytes");
    assert_ne!(a, c, "another seed, another ledger");
}

#[test]
fn gen_200_accounts_is_accepted_in_full_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let out = gen(&db, &["--accounts", "200", "--seed", "7"]);
    let lines = out.split(|&b| b == b'\n').filter(|l| !l.is_empty()).count();
    let appended = ledger(&db)
        .args(["append", "-"])
        .write_stdin(out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&appended.stdout);
    assert!(
        appended.status.success(),
        "rejected: {}",
        String::from_utf8_lossy(&appended.stderr)
    );
    assert!(
        stdout.contains(&format!("appended {lines} events (seq 1..{lines})")),
        "{stdout}"
    );
    ledger(&db).arg("verify").assert().success();

    let per_account = lines as f64 / 200.0;
    assert!(
        (12.0..=30.0).contains(&per_account),
        "{per_account} events per account"
    );

    // Every account has events of its own: the report has a row for each.
    let csv = ledger(&db)
        .args(["report", "--as-of", "2025-12-31", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(csv.stdout).unwrap().lines().count(), 201);
}

#[test]
fn gen_covers_every_kind_of_history() {
    let dir = tempfile::tempdir().unwrap();
    let out = String::from_utf8(gen(
        &dir.path().join("store"),
        &["--accounts", "400", "--seed", "3"],
    ))
    .unwrap();
    for kind in [
        "business_profile_verified",
        "membership_purchased",
        "membership_renewed",
        "designation_qualified",
        "benefit_redeemed",
        "token_issued",
        "token_activated",
        "replacement_token_issued",
        "product_key_issued",
        "product_key_activated",
        "vs_subscription_assigned",
        "vs_subscription_activated",
        "vs_subscription_unassigned",
        "accounts_merged",
        "event_voided",
    ] {
        assert!(out.contains(&format!("\"type\":\"{kind}\"")), "no {kind}");
    }
    assert!(out.contains("learning_action_pack") && out.contains("solutions_partner"));
}

#[test]
fn gen_several_years_is_accepted_too() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let out = gen(&db, &["--accounts", "60", "--seed", "11", "--years", "7"]);
    ledger(&db)
        .args(["append", "-"])
        .write_stdin(out)
        .assert()
        .success();
}

#[test]
fn gen_rejects_too_many_accounts_and_bad_years() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store");
    let too_many = ledger(&db)
        .args(["gen", "--accounts", "10000001", "--seed", "1"])
        .output()
        .unwrap();
    assert_eq!(too_many.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&too_many.stderr).contains("10000000"));
    let no_years = ledger(&db)
        .args(["gen", "--accounts", "1", "--seed", "1", "--years", "0"])
        .output()
        .unwrap();
    assert_eq!(no_years.status.code(), Some(2));
}
