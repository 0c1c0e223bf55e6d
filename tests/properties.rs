//! Property tests on random valid histories.
//!
//! A history is grown from random *candidate* events: each is appended on its own to an
//! in-memory ledger and kept only if the ledger accepts it, so every history is valid by
//! construction (10–60 events over 2–4 accounts, with back-dated entries, merges and voids).
//! Candidates date themselves from earlier accepted events plus a rule's offset (a month, the
//! five-month qualification window, the anniversary, the activate-by), so renewals, windows and
//! deadlines are hit often, not by luck.
//!
//! The invariants, one line each:
//! - `recording_order_does_not_change_state`: the same events recorded in another order (same
//!   business dates, same-day order kept) give the same state.
//! - `known_at_answers_never_change`: what the ledger believed at K does not change when events
//!   recorded after K are appended.
//! - `voiding_equals_never_having_recorded`: history + void(e) has the state of history − e.
//! - `incremental_validation_equals_full_replay`: `Ledger::state` equals a fresh fold of the
//!   store's events; the stored history passes a full fold in Validate mode at every (as-of,
//!   known-at); and the whole history appended again in one batch into a fresh ledger is
//!   accepted and reproduces the log byte for byte.
//!
//! Failures are reproducible: proptest writes the failing seed to
//! `tests/properties.proptest-regressions`, which is committed.

use chrono::{Duration, Months, NaiveDate, TimeZone, Utc};
use partner_ledger::domain::state::{fold, prepare_streams, Context, Mode, StreamMap};
use partner_ledger::domain::view::project;
use partner_ledger::domain::Catalog;
use partner_ledger::event::{format_instant, Account, Body, Date, Instant};
use partner_ledger::ledger::{fold_from_raw, lines_from_text, Ledger};
use partner_ledger::store::memory::MemoryStore;
use partner_ledger::store::Store;
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{json, Value};

const ACCOUNTS: [&str; 4] = ["contoso", "fabrikam", "northwind", "tailspin"];
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
/// Offsets from an anchor event: same month, next month, the qualification window, the
/// anniversary (renewal window), the activate-by.
const MONTHS: [u32; 6] = [0, 0, 1, 5, 12, 13];
const MAX_EVENTS: usize = 60;
const MIN_EVENTS: usize = 10;

// ------------------------------------------------------------------------------------------------
// Candidates and histories

/// A candidate event as plain numbers; resolved against the history accepted so far.
#[derive(Debug, Clone)]
struct Candidate {
    account: u8,
    kind: u8,
    params: [u8; 4],
    /// Which accepted event of the account to date from; `None`: a uniform date.
    anchor: Option<Index>,
    months: u8,
    days: i8,
    day: u16,
    step_minutes: u16,
}

fn candidate() -> impl Strategy<Value = Candidate> {
    (
        any::<u8>(),
        0u8..100,
        any::<[u8; 4]>(),
        prop::option::weighted(0.85, any::<Index>()),
        any::<u8>(),
        -5i8..=40,
        0u16..2190,
        1u16..600,
    )
        .prop_map(
            |(account, kind, params, anchor, months, days, day, step_minutes)| Candidate {
                account,
                kind,
                params,
                anchor,
                months,
                days,
                day,
                step_minutes,
            },
        )
}

/// The number of accounts and the candidates.
fn candidates() -> impl Strategy<Value = (usize, Vec<Candidate>)> {
    (2usize..=4, prop::collection::vec(candidate(), 80..220))
}

/// One accepted event: its input line (with id and recorded_at) and what later candidates
/// and the properties need to know about it.
#[derive(Debug, Clone)]
struct Accepted {
    id: String,
    account: usize,
    date: Date,
    line: Value,
    void_of: Option<String>,
    is_merge: bool,
}

impl Accepted {
    fn text(&self) -> String {
        self.line.to_string()
    }
}

fn first_day() -> Date {
    NaiveDate::from_ymd_opt(2021, 1, 1).expect("a date")
}

fn last_day() -> Date {
    NaiveDate::from_ymd_opt(2026, 12, 31).expect("a date")
}

fn clock_start() -> Instant {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("an instant")
}

fn now() -> Instant {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("an instant")
}

fn instant_text(t: Instant) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn account(i: usize) -> Account {
    Account::parse(ACCOUNTS[i]).expect("a valid name")
}

fn pick<T: Copy>(items: &[T], byte: u8) -> T {
    items[usize::from(byte) % items.len()]
}

/// The type, data and account of a candidate (a void moves to its target's account).
fn body(c: &Candidate, accepted: &[Accepted], account: &mut usize) -> (&'static str, Value) {
    let [a, b, d, e] = c.params;
    let token = |x: u8| format!("T-{}", x % 4);
    let seats = |x: u8| pick(&[1u64, 5, 25], x);
    let offer = |data: &mut Value, x: u8| {
        if x.is_multiple_of(3) {
            data["offer"] = json!(pick(&OFFERS, x / 3));
        }
    };
    match c.kind {
        0..=9 => ("business_profile_verified", json!({})),
        10..=21 => (
            "membership_purchased",
            json!({"offer": pick(&OFFERS, a), "fee": {"amount": "4730.00", "currency": "USD"}}),
        ),
        22..=29 => ("membership_renewed", json!({"offer": pick(&OFFERS, a)})),
        30..=37 => (
            "designation_qualified",
            json!({"solution_area": pick(&AREAS, a), "score": pick(&[70u64, 82, 100, 60], b)}),
        ),
        38..=45 => {
            let mut data = json!({"benefit": pick(&BENEFITS, a)});
            offer(&mut data, b);
            ("benefit_redeemed", data)
        }
        46..=52 => {
            let mut data =
                json!({"token": token(a), "product": "Microsoft 365 E3", "seats": seats(b)});
            offer(&mut data, d);
            ("token_issued", data)
        }
        53..=58 => (
            "token_activated",
            json!({"token": token(a), "seats": seats(b),
                   "tenant": pick(&["contoso.onmicrosoft.com", "other.onmicrosoft.com"], d)}),
        ),
        59..=62 => (
            "replacement_token_issued",
            json!({"token": token(a), "replacement": token(b),
                   "reason": pick(&["wrong_tenant", "seats_added_instead_of_extending"], d)}),
        ),
        63..=68 => {
            let single = b % 3 == 0;
            let mut data = json!({"key": format!("K-{}", a % 3), "product": "Windows Server 2022",
                                  "kind": if single { "single" } else { "mak" },
                                  "activations": if single { 1 } else { 1 + u64::from(d % 3) }});
            offer(&mut data, e);
            ("product_key_issued", data)
        }
        69..=73 => {
            let mut data = json!({"key": format!("K-{}", a % 3),
                                  "machine": pick(&["srv-1", "srv-2", "srv-3"], b)});
            if d % 4 == 0 {
                data["hardware_changed"] = json!(e % 2 == 0);
            }
            ("product_key_activated", data)
        }
        74..=79 => {
            let mut data = json!({"subscription": format!("VS-{}", a % 4),
                                  "level": pick(&["professional", "professional", "enterprise"], b),
                                  "user": pick(&["dev@contoso.com", "ops@contoso.com"], d)});
            offer(&mut data, e);
            ("vs_subscription_assigned", data)
        }
        80..=84 => (
            "vs_subscription_activated",
            json!({"subscription": format!("VS-{}", a % 4)}),
        ),
        85..=87 => (
            "vs_subscription_unassigned",
            json!({"subscription": format!("VS-{}", a % 4)}),
        ),
        88..=90 => (
            "accounts_merged",
            json!({"absorbed": ACCOUNTS[usize::from(a) % ACCOUNTS.len()]}),
        ),
        _ => {
            let target = if accepted.is_empty() {
                "00000000-0000-4000-8000-ffffffffffff".to_string()
            } else {
                let t = &accepted[usize::from(a) % accepted.len()];
                *account = t.account;
                t.id.clone()
            };
            (
                "event_voided",
                json!({"event": target, "reason": "entered in error"}),
            )
        }
    }
}

fn candidate_date(c: &Candidate, accepted: &[Accepted], account: usize, kind: &str) -> Date {
    let own: Vec<&Accepted> = accepted.iter().filter(|e| e.account == account).collect();
    // Renewals (and half of the profile checks they need, R10) aim at the renewal window of
    // the account's latest term: random dates would almost never hit it.
    let last_term = own.iter().rev().find(|e| {
        e.line["type"] == "membership_purchased" || e.line["type"] == "membership_renewed"
    });
    if let Some(term) = last_term {
        let anniversary = term
            .date
            .checked_add_months(Months::new(12))
            .unwrap_or(term.date);
        let in_window = i64::from(c.days).rem_euclid(30);
        if kind == "membership_renewed" {
            return (anniversary + Duration::days(1 + in_window)).clamp(first_day(), last_day());
        }
        if kind == "business_profile_verified" && c.months.is_multiple_of(2) {
            return (anniversary - Duration::days(in_window)).clamp(first_day(), last_day());
        }
    }
    let pool: Vec<&Accepted> = if own.is_empty() {
        accepted.iter().collect()
    } else {
        own
    };
    let date = match (&c.anchor, pool.is_empty()) {
        (Some(i), false) => {
            let anchor = pool[i.index(pool.len())].date;
            let months = Months::new(MONTHS[usize::from(c.months) % MONTHS.len()]);
            anchor.checked_add_months(months).unwrap_or(anchor) + Duration::days(c.days.into())
        }
        _ => first_day() + Duration::days(c.day.into()),
    };
    date.clamp(first_day(), last_day())
}

/// Appends one input line; whether the ledger took it as a new event.
fn append_one(ledger: &Ledger<'_>, line: &str) -> bool {
    match ledger
        .append(lines_from_text(line), now(), &mut |_| {})
        .expect("a memory store does not fail")
    {
        Ok(report) => report.appended == 1,
        Err(_) => false,
    }
}

/// Grows a valid history from the candidates (each kept only if the ledger accepts it).
fn grow(accounts: usize, candidates: &[Candidate]) -> Vec<Accepted> {
    let store = MemoryStore::new();
    let ledger = Ledger::new(&store, Catalog::default_catalog());
    let mut accepted: Vec<Accepted> = Vec::new();
    let mut clock = clock_start();
    for (n, c) in candidates.iter().enumerate() {
        if accepted.len() >= MAX_EVENTS {
            break;
        }
        let mut acct = usize::from(c.account) % accounts;
        let (kind, data) = body(c, &accepted, &mut acct);
        // A merge absorbs one of the history's accounts, not a fifth one.
        let data = if kind == "accounts_merged" {
            json!({"absorbed": ACCOUNTS[usize::from(c.params[0]) % accounts]})
        } else {
            data
        };
        let date = candidate_date(c, &accepted, acct, kind);
        clock += Duration::minutes(c.step_minutes.into());
        let id = format!("00000000-0000-4000-8000-{:012x}", n + 1);
        let line = json!({"id": id, "account": ACCOUNTS[acct], "type": kind,
                          "date": date.format("%Y-%m-%d").to_string(),
                          "recorded_at": instant_text(clock), "data": data});
        if append_one(&ledger, &line.to_string()) {
            accepted.push(Accepted {
                id,
                account: acct,
                date,
                void_of: (kind == "event_voided")
                    .then(|| data["event"].as_str().unwrap_or_default().to_string()),
                is_merge: kind == "accounts_merged",
                line,
            });
        }
    }
    accepted
}

/// Appends the events one by one, recorded at increasing instants in the given order; whether
/// every one was accepted.
fn record_in_order(ledger: &Ledger<'_>, events: &[Accepted]) -> bool {
    let mut clock = clock_start();
    events.iter().all(|e| {
        clock += Duration::minutes(7);
        let mut line = e.line.clone();
        line["recorded_at"] = json!(instant_text(clock));
        append_one(ledger, &line.to_string())
    })
}

fn append_all(ledger: &Ledger<'_>, events: &[Accepted]) -> bool {
    events.iter().all(|e| append_one(ledger, &e.text()))
}

fn state_json(
    ledger: &Ledger<'_>,
    account: usize,
    as_of: Date,
    known_at: Option<Instant>,
) -> String {
    let known = known_at.map(|k| (k, format_instant(k)));
    let view = ledger
        .state(&self::account(account), as_of, known)
        .expect("a memory store does not fail");
    serde_json::to_string(&view).expect("a view serialises")
}

fn query_dates() -> impl Strategy<Value = Vec<Date>> {
    prop::collection::vec(0i64..2500, 4..8).prop_map(|days| {
        days.into_iter()
            .map(|d| first_day() - Duration::days(60) + Duration::days(d))
            .collect()
    })
}

/// Every account's state on every date, known now.
fn all_states(ledger: &Ledger<'_>, accounts: usize, dates: &[Date]) -> Vec<String> {
    (0..accounts)
        .flat_map(|a| dates.iter().map(move |&d| (a, d)))
        .map(|(a, d)| state_json(ledger, a, d, None))
        .collect()
}

fn recorded_instants(store: &dyn Store) -> Vec<Instant> {
    let mut out = Vec::new();
    store
        .scan(1, &mut |e| {
            out.push(e.event.recorded_at);
            true
        })
        .expect("a memory store does not fail");
    out
}

fn log_lines(store: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    store
        .scan(1, &mut |e| {
            out.push(e.to_line());
            true
        })
        .expect("a memory store does not fail");
    out
}

/// Raw streams straight from the log, not from the store's account index: each account's own
/// events and the merges that absorbed it, in seq order.
fn raw_from_log(store: &dyn Store) -> StreamMap {
    let mut raw = StreamMap::default();
    store
        .scan(1, &mut |e| {
            if let Body::AccountsMerged(m) = &e.event.body {
                if m.absorbed != e.event.account {
                    raw.entry(m.absorbed.clone()).or_default().push(e.clone());
                }
            }
            raw.entry(e.event.account.clone()).or_default().push(e);
            true
        })
        .expect("a memory store does not fail");
    raw
}

/// A new recording order: `moves` take an event to another position (a later recording of an
/// earlier business date: back-dating); then events of the same business date are put back in
/// their original relative order (R2 orders same-day events by recording), and each void goes
/// after its target (R28).
fn reorder(events: &[Accepted], moves: &[(Index, Index)]) -> Vec<Accepted> {
    let mut order: Vec<usize> = (0..events.len()).collect();
    for (from, to) in moves {
        let item = order.remove(from.index(order.len()));
        let at = to.index(order.len() + 1);
        order.insert(at, item);
    }
    // Same-day order: the positions each date's events occupy get them in original order.
    let mut dates: Vec<Date> = events.iter().map(|e| e.date).collect();
    dates.sort();
    dates.dedup();
    for date in dates {
        let positions: Vec<usize> = (0..order.len())
            .filter(|&p| events[order[p]].date == date)
            .collect();
        let mut members: Vec<usize> = positions.iter().map(|&p| order[p]).collect();
        members.sort();
        for (p, m) in positions.into_iter().zip(members) {
            order[p] = m;
        }
    }
    // Voids after their targets.
    for v in 0..events.len() {
        let Some(target) = &events[v].void_of else {
            continue;
        };
        let Some(t) = events.iter().position(|e| &e.id == target) else {
            continue;
        };
        let pv = order.iter().position(|&i| i == v).expect("in the order");
        let pt = order.iter().position(|&i| i == t).expect("in the order");
        if pv < pt {
            order.remove(pv);
            order.insert(pt, v); // pt shifted down by one: this is right after the target
        }
    }
    order.into_iter().map(|i| events[i].clone()).collect()
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        max_global_rejects: cases * 20,
        ..ProptestConfig::default()
    }
}

// ------------------------------------------------------------------------------------------------
// The properties

proptest! {
    #![proptest_config(config(128))]

    /// Same events, another recording order (all accepted in both): same state on every date.
    #[test]
    fn recording_order_does_not_change_state(
        (accounts, candidates) in candidates(),
        moves in prop::collection::vec((any::<Index>(), any::<Index>()), 1..6),
        dates in query_dates(),
    ) {
        let history = grow(accounts, &candidates);
        prop_assume!(history.len() >= MIN_EVENTS);
        let reordered = reorder(&history, &moves);
        let store_a = MemoryStore::new();
        let a = Ledger::new(&store_a, Catalog::default_catalog());
        prop_assert!(record_in_order(&a, &history), "the grown history is valid");
        let store_b = MemoryStore::new();
        let b = Ledger::new(&store_b, Catalog::default_catalog());
        prop_assume!(record_in_order(&b, &reordered));
        prop_assert_eq!(all_states(&a, accounts, &dates), all_states(&b, accounts, &dates));
    }

    /// state(as_of, known_at = K) is the same before and after appending events recorded after K.
    #[test]
    fn known_at_answers_never_change(
        (accounts, candidates) in candidates(),
        split in any::<Index>(),
        probes in prop::collection::vec(any::<Index>(), 1..4),
        dates in query_dates(),
    ) {
        let history = grow(accounts, &candidates);
        prop_assume!(history.len() >= MIN_EVENTS);
        let split = 1 + split.index(history.len() - 1);
        let store = MemoryStore::new();
        let ledger = Ledger::new(&store, Catalog::default_catalog());
        prop_assert!(append_all(&ledger, &history[..split]));
        let instants = recorded_instants(&store);
        let known: Vec<Instant> = probes.iter().map(|p| instants[p.index(instants.len())]).collect();
        let ask = |ledger: &Ledger<'_>| -> Vec<String> {
            let mut out = Vec::new();
            for a in 0..accounts {
                for &d in &dates {
                    for &k in &known {
                        out.push(state_json(ledger, a, d, Some(k)));
                    }
                }
            }
            out
        };
        let before = ask(&ledger);
        prop_assert!(append_all(&ledger, &history[split..]));
        prop_assert_eq!(before, ask(&ledger));
    }

    /// Ledger A = history + void(e), ledger B = history without e: the same state (known now).
    #[test]
    fn voiding_equals_never_having_recorded(
        (accounts, candidates) in candidates(),
        which in any::<Index>(),
        dates in query_dates(),
    ) {
        let history = grow(accounts, &candidates);
        prop_assume!(history.len() >= MIN_EVENTS);
        let voided: Vec<&String> = history.iter().filter_map(|e| e.void_of.as_ref()).collect();
        let choices: Vec<&Accepted> = history
            .iter()
            .filter(|e| e.void_of.is_none() && !e.is_merge && !voided.contains(&&e.id))
            .collect();
        prop_assume!(!choices.is_empty());
        let target = choices[which.index(choices.len())];

        let store_a = MemoryStore::new();
        let a = Ledger::new(&store_a, Catalog::default_catalog());
        prop_assert!(append_all(&a, &history));
        let void = json!({"id": "00000000-0000-4000-9000-000000000001",
                          "account": ACCOUNTS[target.account], "type": "event_voided",
                          "date": target.date.format("%Y-%m-%d").to_string(),
                          "recorded_at": "2029-01-01T00:00:00Z",
                          "data": {"event": target.id, "reason": "property test"}});
        prop_assume!(append_one(&a, &void.to_string()));

        let without: Vec<Accepted> = history.iter().filter(|e| e.id != target.id).cloned().collect();
        let store_b = MemoryStore::new();
        let b = Ledger::new(&store_b, Catalog::default_catalog());
        prop_assume!(append_all(&b, &without));
        prop_assert_eq!(all_states(&a, accounts, &dates), all_states(&b, accounts, &dates));
    }

    /// `Ledger::state` equals a fresh fold of the log; the stored history passes a full
    /// Validate-mode fold at every (as-of, known-at); the history appended again in one batch
    /// into a fresh ledger is accepted and reproduces the log.
    #[test]
    fn incremental_validation_equals_full_replay(
        (accounts, candidates) in candidates(),
        probes in prop::collection::vec(prop::option::of(any::<Index>()), 1..4),
        dates in query_dates(),
    ) {
        let history = grow(accounts, &candidates);
        prop_assume!(history.len() >= MIN_EVENTS);
        let store = MemoryStore::new();
        let ledger = Ledger::new(&store, Catalog::default_catalog());
        prop_assert!(append_all(&ledger, &history));
        let catalog = Catalog::default_catalog();
        let raw = raw_from_log(&store);
        let instants = recorded_instants(&store);
        let known: Vec<Option<Instant>> = probes
            .iter()
            .map(|p| p.as_ref().map(|i| instants[i.index(instants.len())]))
            .collect();
        for a in 0..accounts {
            for &d in &dates {
                for &k in &known {
                    let state = fold_from_raw(&raw, &account(a), &catalog, Some(d), k);
                    prop_assert!(state.skipped.is_empty(), "a stored event breaks a rule: {:?}", state.skipped);
                    let fresh = project(&state, d, k.map(format_instant));
                    let fresh = serde_json::to_string(&fresh).expect("serialises");
                    prop_assert_eq!(state_json(&ledger, a, d, k), fresh);

                    let streams = prepare_streams(&raw, k, Some(d));
                    let ctx = Context::new(&streams, &catalog, Mode::Validate);
                    let full = fold(&account(a), &ctx);
                    prop_assert!(full.is_ok(), "full replay rejects: {:?}", full.err());
                }
            }
        }

        let batch: String = history.iter().map(|e| e.text() + "\n").collect();
        let fresh_store = MemoryStore::new();
        let fresh = Ledger::new(&fresh_store, Catalog::default_catalog());
        let result = fresh
            .append(lines_from_text(&batch), now(), &mut |_| {})
            .expect("a memory store does not fail");
        prop_assert!(result.is_ok(), "one batch rejected: {:?}", result.err());
        prop_assert_eq!(log_lines(&fresh_store), log_lines(&store));
    }
}

/// Guards the properties against vacuity: the grown histories are long and hold back-dated
/// events, renewals, merges and voids.
#[test]
fn grown_histories_are_rich() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    let (mut total, mut back_dated, mut renewals, mut merges, mut voids) = (0, 0, 0, 0, 0);
    let runs = 24;
    for _ in 0..runs {
        let (accounts, cands) = candidates()
            .new_tree(&mut runner)
            .expect("a value")
            .current();
        let history = grow(accounts, &cands);
        total += history.len();
        for (i, e) in history.iter().enumerate() {
            let later_before = history[..i]
                .iter()
                .any(|p| p.account == e.account && p.date > e.date);
            back_dated += usize::from(later_before);
            renewals += usize::from(e.line["type"] == "membership_renewed");
            merges += usize::from(e.is_merge);
            voids += usize::from(e.void_of.is_some());
        }
    }
    eprintln!(
        "{runs} histories: {total} events, {back_dated} back-dated, {renewals} renewals, {merges} merges, {voids} voids"
    );
    assert!(
        total >= runs * 20,
        "histories too short: {total} events in {runs}"
    );
    assert!(back_dated > 0 && renewals > 0 && merges > 0 && voids > 0);
}
