//! Arbitrary bytes decoded into a plausible history, appended batch by batch (mostly one event
//! per batch) to an in-memory ledger, then every query.
//!
//! The decoder keeps the event space small so that events collide meaningfully: three
//! accounts, dates in 2021–2026 (often anchored on an earlier event's date plus a rule's offset:
//! the renewal window, the activate-by, the qualification window), four tokens, three keys,
//! four subscriptions, voids of earlier ids, merges between the accounts, resent lines (the
//! idempotent path) and reused ids with other content.
//!
//! Invariants checked:
//! - nothing panics, and the ledger never returns a `LedgerError` on a memory store;
//! - a rejected append (or one that only found its lines already present) leaves the log and
//!   every account's state exactly as before; every rejected line gets an error naming it;
//! - the store verifies (hash chain and indexes) after every append;
//! - at the end: `state` known at the head's latest instant equals `state` without known-at;
//!   known before the first event it equals the state of an empty ledger; `replay` of nothing
//!   equals `state`; the `log` export appended into a fresh store is accepted whole, reproduces
//!   the log byte for byte and gives the same states; and `replay` of the export on an empty
//!   store gives the same states.
#![no_main]

use arbitrary::{Result, Unstructured};
use chrono::{Duration, Months, NaiveDate, TimeZone, Utc};
use libfuzzer_sys::fuzz_target;
use partner_ledger::domain::Catalog;
use partner_ledger::event::{format_instant, parse_date, Account, Date, Instant};
use partner_ledger::ledger::{lines_from_text, Ledger};
use partner_ledger::store::memory::MemoryStore;
use partner_ledger::store::Store;
use serde_json::{json, Value};

const ACCOUNTS: [&str; 3] = ["contoso", "fabrikam", "tailspin"];
const OFFERS: [&str; 5] = [
    "solutions_partner",
    "legacy_gold",
    "legacy_silver",
    "action_pack",
    "learning_action_pack",
];
const AREAS: [&str; 6] = [
    "azure_infrastructure",
    "data_and_ai",
    "digital_and_app_innovation",
    "business_applications",
    "modern_work",
    "security",
];
const BENEFITS: [&str; 4] = [
    "azure_credits",
    "developer_tools",
    "support_and_advisory",
    "marketing",
];
/// Dates at which every snapshot looks at every account.
const SNAPSHOT_DATES: [&str; 5] = [
    "2021-06-30",
    "2022-09-30",
    "2023-12-31",
    "2025-03-01",
    "2026-12-31",
];
const MAX_BATCHES: usize = 48;

/// An accepted event, for anchoring later dates, voids and resends.
struct Sent {
    id: String,
    account: usize,
    date: Date,
    line: String,
}

struct Decoder {
    accepted: Vec<Sent>,
    next_id: u64,
    /// Seconds after 2025-01-01T00:00:00Z of the last `recorded_at` given.
    clock: i64,
}

fn first_day() -> Date {
    NaiveDate::from_ymd_opt(2021, 1, 1).unwrap_or_default()
}

fn last_day() -> Date {
    NaiveDate::from_ymd_opt(2026, 12, 31).unwrap_or_default()
}

fn epoch() -> Instant {
    Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
}

impl Decoder {
    fn date(&self, u: &mut Unstructured<'_>) -> Result<Date> {
        let span = (last_day() - first_day()).num_days();
        let anchor = if self.accepted.is_empty() {
            None
        } else {
            Some(u.choose(&self.accepted)?.date)
        };
        let d = match (u.int_in_range(0..=3u8)?, anchor) {
            (_, None) | (0, _) => first_day() + Duration::days(u.int_in_range(0..=span)?),
            (1, Some(a)) => a + Duration::days(u.int_in_range(-5..=40)?),
            (2, Some(a)) => {
                let months = *u.choose(&[1u32, 4, 5, 12, 13, 24])?;
                a.checked_add_months(Months::new(months)).unwrap_or(a)
                    + Duration::days(u.int_in_range(-3..=32)?)
            }
            (_, Some(a)) => a + Duration::days(u.int_in_range(0..=3)?),
        };
        Ok(d.clamp(first_day(), last_day()))
    }

    fn recorded_at(&mut self, u: &mut Unstructured<'_>) -> Result<Option<String>> {
        let at = match u.int_in_range(0..=31u8)? {
            0 => return Ok(None),   // "now"
            1 => self.clock - 3600, // backwards: rejected
            2 => self.clock,        // the same instant again
            _ => {
                self.clock += i64::from(u.int_in_range(1..=2000u16)?) * 60;
                self.clock
            }
        };
        let t = epoch() + Duration::seconds(at);
        Ok(Some(if u.ratio(1, 8)? {
            // Another spelling of the same instant.
            (t + Duration::hours(2))
                .format("%Y-%m-%dT%H:%M:%S.000+02:00")
                .to_string()
        } else {
            t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
        }))
    }

    fn maybe_offer(u: &mut Unstructured<'_>, data: &mut Value) -> Result<()> {
        if u.ratio(1, 3)? {
            data["offer"] = json!(u.choose(&OFFERS)?);
        }
        Ok(())
    }

    /// The type and data of a new event, and the account it is recorded on.
    fn body(&self, u: &mut Unstructured<'_>, account: &mut usize) -> Result<(&'static str, Value)> {
        let token = |u: &mut Unstructured<'_>| -> Result<String> {
            Ok(format!("T-{}", u.int_in_range(0..=3u8)?))
        };
        let sub = |u: &mut Unstructured<'_>| -> Result<String> {
            Ok(format!("VS-{}", u.int_in_range(0..=3u8)?))
        };
        let key = |u: &mut Unstructured<'_>| -> Result<String> {
            Ok(format!("K-{}", u.int_in_range(0..=2u8)?))
        };
        let seats = |u: &mut Unstructured<'_>| -> Result<u64> { Ok(*u.choose(&[1u64, 5, 25])?) };
        Ok(match u.int_in_range(0..=14u8)? {
            0 | 1 => {
                let kind = if u.int_in_range(0..=1u8)? == 0 {
                    "membership_purchased"
                } else {
                    "membership_renewed"
                };
                let mut data = json!({"offer": u.choose(&OFFERS)?});
                if u.ratio(1, 4)? {
                    data["fee"] = json!({"amount": "4730.00", "currency": "USD"});
                }
                (kind, data)
            }
            2 => ("business_profile_verified", json!({})),
            3 => (
                "designation_qualified",
                json!({"solution_area": u.choose(&AREAS)?,
                       "score": u.choose(&[60u64, 69, 70, 85, 100])?}),
            ),
            4 => {
                let mut data = json!({"benefit": u.choose(&BENEFITS)?});
                Self::maybe_offer(u, &mut data)?;
                ("benefit_redeemed", data)
            }
            5 => {
                let mut data = json!({"token": token(u)?, "product": "Microsoft 365 E3",
                                      "seats": seats(u)?});
                Self::maybe_offer(u, &mut data)?;
                ("token_issued", data)
            }
            6 => (
                "token_activated",
                json!({"token": token(u)?,
                       "tenant": *u.choose(&["contoso.onmicrosoft.com", "other.onmicrosoft.com"])?,
                       "seats": seats(u)?}),
            ),
            7 => (
                "replacement_token_issued",
                json!({"token": token(u)?, "replacement": token(u)?,
                       "reason": *u.choose(&["wrong_tenant", "seats_added_instead_of_extending",
                                             "changed_mind"])?}),
            ),
            8 => {
                let single = u.ratio(1, 3)?;
                let activations = if single && u.ratio(7, 8)? {
                    1
                } else {
                    *u.choose(&[1u64, 2, 3])?
                };
                let mut data = json!({"key": key(u)?, "product": "Windows Server 2022 Standard",
                                      "activations": activations,
                                      "kind": if single { "single" } else { "mak" }});
                Self::maybe_offer(u, &mut data)?;
                ("product_key_issued", data)
            }
            9 => {
                let mut data = json!({"key": key(u)?,
                                      "machine": *u.choose(&["srv-1", "srv-2", "srv-3"])?});
                if u.ratio(1, 4)? {
                    data["hardware_changed"] = json!(u.arbitrary::<bool>()?);
                }
                ("product_key_activated", data)
            }
            10 => {
                let mut data = json!({"subscription": sub(u)?,
                                      "level": *u.choose(&["professional", "enterprise"])?,
                                      "user": *u.choose(&["dev@contoso.com", "ops@contoso.com"])?});
                Self::maybe_offer(u, &mut data)?;
                ("vs_subscription_assigned", data)
            }
            11 => (
                "vs_subscription_activated",
                json!({"subscription": sub(u)?}),
            ),
            12 => (
                "vs_subscription_unassigned",
                json!({"subscription": sub(u)?}),
            ),
            13 => (
                "accounts_merged",
                json!({"absorbed": *u.choose(&ACCOUNTS)?}),
            ),
            _ => {
                let target = if self.accepted.is_empty() || u.ratio(1, 16)? {
                    "00000000-0000-4000-8000-ffffffffffff".to_string()
                } else {
                    let t = u.choose(&self.accepted)?;
                    if u.ratio(7, 8)? {
                        *account = t.account; // a void is recorded on the voided event's account
                    }
                    t.id.clone()
                };
                (
                    "event_voided",
                    json!({"event": target, "reason": "entered in error"}),
                )
            }
        })
    }

    /// One input line: a new event, or now and then an earlier line resent (idempotent) or an
    /// earlier id reused with other content.
    fn line(&mut self, u: &mut Unstructured<'_>, store: &dyn Store) -> Result<(String, Sent)> {
        if !self.accepted.is_empty() && u.ratio(1, 24)? {
            let old = u.choose(&self.accepted)?;
            let sent = Sent {
                id: old.id.clone(),
                account: old.account,
                date: old.date,
                line: old.line.clone(),
            };
            return Ok((old.line.clone(), sent));
        }
        let mut account = u.choose_index(ACCOUNTS.len())?;
        let (kind, data) = self.body(u, &mut account)?;
        let date = self.date(u)?;
        let id = if !self.accepted.is_empty() && u.ratio(1, 32)? {
            u.choose(&self.accepted)?.id.clone()
        } else {
            self.next_id += 1;
            format!("00000000-0000-4000-8000-{:012x}", self.next_id)
        };
        let mut line = json!({"id": id, "account": ACCOUNTS[account], "type": kind,
                              "date": date.format("%Y-%m-%d").to_string(), "data": data});
        if let Some(at) = self.recorded_at(u)? {
            line["recorded_at"] = json!(at);
        }
        if u.ratio(1, 8)? {
            let version = store
                .account_version(&account_name(account))
                .unwrap_or_default();
            let offset = *u.choose(&[0i64, 0, 0, 1, -1])?;
            line["expected_version"] = json!((version as i64 + offset).max(0));
        }
        let text = line.to_string();
        let sent = Sent {
            id,
            account,
            date,
            line: text.clone(),
        };
        Ok((text, sent))
    }
}

fn account_name(i: usize) -> Account {
    Account::parse(ACCOUNTS[i]).unwrap_or_else(|e| panic!("{e}"))
}

fn date(s: &str) -> Date {
    parse_date(s).unwrap_or_else(|e| panic!("{e}"))
}

fn log_lines(store: &dyn Store) -> Vec<String> {
    let mut lines = Vec::new();
    store
        .scan(1, &mut |e| {
            lines.push(e.to_line());
            true
        })
        .unwrap_or_else(|e| panic!("scan: {e}"));
    lines
}

fn state_json(
    ledger: &Ledger<'_>,
    account: usize,
    as_of: Date,
    known_at: Option<Instant>,
) -> String {
    let known = known_at.map(|k| (k, format_instant(k)));
    let mut view = ledger
        .state(&account_name(account), as_of, known)
        .unwrap_or_else(|e| panic!("state: {e}"));
    view.known_at = None; // compared across known-at instants
    serde_json::to_string(&view).unwrap_or_else(|e| panic!("{e}"))
}

/// The log and every account's state on the snapshot dates.
fn snapshot(ledger: &Ledger<'_>, store: &dyn Store) -> (Vec<String>, Vec<String>) {
    let mut states = Vec::new();
    for a in 0..ACCOUNTS.len() {
        for d in SNAPSHOT_DATES {
            states.push(state_json(ledger, a, date(d), None));
        }
    }
    (log_lines(store), states)
}

fn check_verifies(store: &dyn Store) {
    let report = store
        .verify(&mut |_, _| {})
        .unwrap_or_else(|e| panic!("verify: {e}"));
    assert_eq!(report.first_bad, None, "the memory store does not verify");
}

fn run(u: &mut Unstructured<'_>) -> Result<()> {
    let store = MemoryStore::new();
    let ledger = Ledger::new(&store, Catalog::default_catalog());
    let now = Utc
        .with_ymd_and_hms(2026, 6, 1, 12, 0, 0)
        .single()
        .unwrap_or_default();
    let mut decoder = Decoder {
        accepted: Vec::new(),
        next_id: 0,
        clock: 0,
    };
    let mut before = snapshot(&ledger, &store);
    for _ in 0..MAX_BATCHES {
        if u.is_empty() {
            break;
        }
        let size = if u.ratio(1, 6)? {
            u.int_in_range(2..=3usize)?
        } else {
            1
        };
        let mut batch = Vec::new();
        for _ in 0..size {
            batch.push(decoder.line(u, &store)?);
        }
        let text = batch
            .iter()
            .map(|(l, _)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        let result = ledger
            .append(lines_from_text(&text), now, &mut |_| {})
            .unwrap_or_else(|e| panic!("ledger error on a memory store: {e}\ninput:\n{text}"));
        match result {
            Err(errors) => {
                assert!(!errors.is_empty(), "rejected without an error");
                for e in &errors {
                    assert!(
                        (1..=size as u64).contains(&e.line),
                        "error names line {}",
                        e.line
                    );
                }
                let after = snapshot(&ledger, &store);
                assert_eq!(
                    after, before,
                    "a rejected append changed the ledger:\n{text}"
                );
            }
            Ok(report) => {
                assert_eq!(
                    report.appended as usize + report.already_present.len(),
                    size,
                    "every line is appended or already present: {report:?}\n{text}"
                );
                let after = snapshot(&ledger, &store);
                if report.appended == 0 {
                    assert_eq!(after, before, "a no-op append changed the ledger:\n{text}");
                } else {
                    assert_eq!(
                        after.0.len(),
                        before.0.len() + report.appended as usize,
                        "log length after {report:?}"
                    );
                    assert_eq!(
                        after.0[..before.0.len()],
                        before.0[..],
                        "history was rewritten"
                    );
                }
                before = after;
                for (_, sent) in batch {
                    decoder.accepted.push(sent);
                }
            }
        }
        check_verifies(&store);
    }
    final_checks(&ledger, &store, now, &before.0);
    Ok(())
}

fn final_checks(ledger: &Ledger<'_>, store: &dyn Store, now: Instant, log: &[String]) {
    let head = store.head().unwrap_or_else(|e| panic!("{e}"));
    let empty_store = MemoryStore::new();
    let empty = Ledger::new(&empty_store, Catalog::default_catalog());
    let export = log.join("\n");
    let restored_store = MemoryStore::new();
    let restored = Ledger::new(&restored_store, Catalog::default_catalog());
    match restored.append(lines_from_text(&export), now, &mut |_| {}) {
        Ok(Ok(report)) => assert_eq!(report.appended as usize, log.len()),
        Ok(Err(errors)) => panic!("the log export is rejected: {errors:?}\n{export}"),
        Err(e) => panic!("ledger error restoring the export: {e}"),
    }
    assert_eq!(
        log_lines(&restored_store),
        log,
        "log | append does not reproduce the log"
    );

    let mut instants: Vec<Instant> = Vec::new();
    store
        .scan(1, &mut |e| {
            instants.push(e.event.recorded_at);
            true
        })
        .unwrap_or_else(|e| panic!("{e}"));
    let probes: Vec<Instant> = [
        instants.first().copied(),
        instants.get(instants.len() / 2).copied(),
        instants.last().copied(),
    ]
    .into_iter()
    .flatten()
    .collect();

    let mut dates: Vec<Date> = SNAPSHOT_DATES.iter().map(|d| date(d)).collect();
    dates.push(date("2020-12-31"));
    dates.push(date("2030-01-01"));
    for a in 0..ACCOUNTS.len() {
        for &d in &dates {
            let now_state = state_json(ledger, a, d, None);
            for &k in &probes {
                let _ = state_json(ledger, a, d, Some(k));
            }
            if let Some(latest) = head.recorded_at {
                assert_eq!(
                    state_json(ledger, a, d, Some(latest)),
                    now_state,
                    "known at the latest instant differs from the present state"
                );
                let before_all = latest - Duration::days(20 * 365);
                assert_eq!(
                    state_json(ledger, a, d, Some(before_all)),
                    state_json(&empty, a, d, None),
                    "known before any event, the state is not empty"
                );
            }
            assert_eq!(
                state_json(&restored, a, d, None),
                now_state,
                "restored state differs"
            );
            let replayed = ledger
                .replay(lines_from_text(""), now, &account_name(a), d)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("replay of nothing rejected: {e:?}"));
            let replayed_on_empty = empty
                .replay(lines_from_text(&export), now, &account_name(a), d)
                .unwrap_or_else(|e| panic!("{e}"))
                .unwrap_or_else(|e| panic!("replay of the export rejected: {e:?}"));
            for view in [replayed, replayed_on_empty] {
                let json = serde_json::to_string(&view).unwrap_or_else(|e| panic!("{e}"));
                assert_eq!(json, now_state, "replay differs from state");
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let _ = run(&mut Unstructured::new(data));
});
