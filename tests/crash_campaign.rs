//! The crash campaign (examples/crash_campaign.rs) in CI: `CRASH_POINTS` SIGKILLs (default 100)
//! of the real binary during appends of random batches, with batches and stores kept smaller
//! than the full campaign's so that it stays near a minute in release. The full campaign:
//! `cargo run --release --example crash_campaign -- --points 1000`.

#[path = "../examples/crash_campaign.rs"]
#[allow(dead_code)]
mod campaign;

use std::path::PathBuf;

#[test]
fn crash_campaign_through_the_binary_loses_nothing_acknowledged_and_shows_no_partial_batch() {
    if cfg!(debug_assertions) {
        eprintln!("note: the crash campaign runs in release builds only (cargo test --release)");
        return;
    }
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_partner-ledger"));
    if !bin.exists() {
        eprintln!("note: {} is absent; crash campaign skipped", bin.display());
        return;
    }
    let points: u64 = std::env::var("CRASH_POINTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let seed: u64 = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_0001);
    let dir = tempfile::tempdir().unwrap();
    let cfg = campaign::Config {
        points,
        seed,
        dir: Some(dir.path().to_path_buf()),
        bin,
        max_batch: 20_000,
        rotate_at: 40_000,
        inspect: true,
        quiet: true,
    };
    let summary = campaign::run_campaign(&cfg);
    summary.print(seed);
    assert!(
        summary.failures.is_empty(),
        "{} failure(s); first: {}",
        summary.failures.len(),
        summary.failures[0]
    );
    assert_eq!(summary.points, points);
    if points >= 50 {
        let committed_while_killed = summary.committed_unacked + summary.kills_before_index;
        assert!(
            summary.retries_full > points / 10 && summary.acked > points / 10,
            "kills landed too rarely on both sides of the commit: {summary:?}"
        );
        assert!(
            summary.kills_mid_write + committed_while_killed > 0,
            "no kill landed inside a write or between commit and output: {summary:?}"
        );
    }
}
