//! Every rule of `rules.md` (R1–R30), both ways, at the library level: a `Ledger` over a
//! `MemoryStore` (no binary, no disk). Each test reads as *given these events, when this one,
//! then this state or this violation*: a rejection asserts the exact rule number and that the
//! store's head did not move; an acceptance asserts the resulting state (statuses, dates).
//! Date edges are spelled out: AD, AD+1, AD+30, AD+31, month ends and 29 February.
//! The last section covers the contract's append behaviours (whole-batch rejection with one
//! error per rejected event, idempotent re-append, `expected_version` conflicts).

use std::cell::Cell;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use partner_ledger::domain::catalog::DEFAULT_CATALOG;
use partner_ledger::domain::view::{
    BenefitView, KeyView, MembershipView, StateView, SubscriptionView, TokenView,
};
use partner_ledger::domain::Catalog;
use partner_ledger::event::{format_instant, parse_date, Account, Instant};
use partner_ledger::ledger::{lines_from_text, AppendReport, Ledger, LineError};
use partner_ledger::store::memory::MemoryStore;
use partner_ledger::store::{Head, Store};
use serde_json::{json, Value};
use uuid::Uuid;

// ================================================================================================
// Fixture

/// The account most tests are about, and the ones merges need.
const A: &str = "contoso";
const B: &str = "fabrikam";
const C: &str = "northwind";

const AP: &str = "action_pack";
const LAPS: &str = "learning_action_pack";
const SP: &str = "solutions_partner";
const GOLD: &str = "legacy_gold";
const SILVER: &str = "legacy_silver";

/// One event line to append: a fresh id, the account `contoso` unless `on` says otherwise, and
/// a `recorded_at` later than every event built before it (the fixture's clock).
#[derive(Debug, Clone)]
struct Ev {
    id: Uuid,
    account: String,
    kind: &'static str,
    date: String,
    recorded_at: Instant,
    data: Value,
    expected_version: Option<u64>,
}

impl Ev {
    fn on(mut self, account: &str) -> Ev {
        self.account = account.to_string();
        self
    }

    fn expecting_version(mut self, version: u64) -> Ev {
        self.expected_version = Some(version);
        self
    }

    fn line(&self) -> String {
        let mut line = json!({
            "id": self.id.to_string(),
            "account": self.account,
            "type": self.kind,
            "date": self.date,
            "recorded_at": format_instant(self.recorded_at),
            "data": self.data,
        });
        if let Some(v) = self.expected_version {
            line["expected_version"] = json!(v);
        }
        line.to_string()
    }
}

struct Fixture {
    store: MemoryStore,
    catalog: Catalog,
    /// Seconds after the clock's base of the next event's `recorded_at`.
    clock: Cell<i64>,
}

/// A fresh ledger on an empty memory store with the default catalog.
fn ledger() -> Fixture {
    ledger_with(Catalog::default_catalog())
}

fn ledger_with(catalog: Catalog) -> Fixture {
    Fixture {
        store: MemoryStore::new(),
        catalog,
        clock: Cell::new(0),
    }
}

fn d(s: &str) -> NaiveDate {
    parse_date(s).expect("test dates are valid")
}

fn clock_base() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2040-01-01T00:00:00Z")
        .expect("valid instant")
        .with_timezone(&Utc)
}

impl Fixture {
    fn ledger(&self) -> Ledger<'_> {
        Ledger::new(&self.store, self.catalog.clone())
    }

    fn head(&self) -> Head {
        self.store.head().expect("memory store head")
    }

    // -------------------------------------------------------------------------- event builder

    fn ev(&self, kind: &'static str, date: &str, data: Value) -> Ev {
        let tick = self.clock.get();
        self.clock.set(tick + 60);
        Ev {
            id: Uuid::new_v4(),
            account: A.to_string(),
            kind,
            date: date.to_string(),
            recorded_at: clock_base() + Duration::seconds(tick),
            data,
            expected_version: None,
        }
    }

    fn purchase(&self, date: &str, offer: &str) -> Ev {
        self.ev("membership_purchased", date, json!({ "offer": offer }))
    }
    fn renew(&self, date: &str, offer: &str) -> Ev {
        self.ev("membership_renewed", date, json!({ "offer": offer }))
    }
    fn profile(&self, date: &str) -> Ev {
        self.ev("business_profile_verified", date, json!({}))
    }
    fn qualify(&self, date: &str, area: &str, score: u64) -> Ev {
        self.ev(
            "designation_qualified",
            date,
            json!({ "solution_area": area, "score": score }),
        )
    }
    fn redeem(&self, date: &str, benefit: &str) -> Ev {
        self.ev("benefit_redeemed", date, json!({ "benefit": benefit }))
    }
    fn redeem_from(&self, date: &str, benefit: &str, offer: &str) -> Ev {
        self.ev(
            "benefit_redeemed",
            date,
            json!({ "benefit": benefit, "offer": offer }),
        )
    }
    fn token(&self, date: &str, token: &str, seats: u64) -> Ev {
        self.ev(
            "token_issued",
            date,
            json!({ "token": token, "product": "Microsoft 365 E3", "seats": seats }),
        )
    }
    fn activate_token(&self, date: &str, token: &str, seats: u64) -> Ev {
        self.ev(
            "token_activated",
            date,
            json!({ "token": token, "tenant": "contoso.onmicrosoft.com", "seats": seats }),
        )
    }
    fn replace(&self, date: &str, token: &str, replacement: &str, reason: &str) -> Ev {
        self.ev(
            "replacement_token_issued",
            date,
            json!({ "token": token, "replacement": replacement, "reason": reason }),
        )
    }
    fn key(&self, date: &str, key: &str, kind: &str, activations: u64) -> Ev {
        self.ev(
            "product_key_issued",
            date,
            json!({ "key": key, "product": "Windows Server 2022 Standard", "activations": activations, "kind": kind }),
        )
    }
    fn activate_key(&self, date: &str, key: &str, machine: &str) -> Ev {
        self.ev(
            "product_key_activated",
            date,
            json!({ "key": key, "machine": machine }),
        )
    }
    fn activate_key_hardware_changed(&self, date: &str, key: &str, machine: &str) -> Ev {
        self.ev(
            "product_key_activated",
            date,
            json!({ "key": key, "machine": machine, "hardware_changed": true }),
        )
    }
    fn assign(&self, date: &str, subscription: &str, level: &str, user: &str) -> Ev {
        self.ev(
            "vs_subscription_assigned",
            date,
            json!({ "subscription": subscription, "level": level, "user": user }),
        )
    }
    fn activate_vs(&self, date: &str, subscription: &str) -> Ev {
        self.ev(
            "vs_subscription_activated",
            date,
            json!({ "subscription": subscription }),
        )
    }
    fn unassign(&self, date: &str, subscription: &str) -> Ev {
        self.ev(
            "vs_subscription_unassigned",
            date,
            json!({ "subscription": subscription }),
        )
    }
    fn merge(&self, date: &str, absorbed: &str) -> Ev {
        self.ev("accounts_merged", date, json!({ "absorbed": absorbed }))
    }
    fn void(&self, date: &str, event: Uuid) -> Ev {
        self.ev(
            "event_voided",
            date,
            json!({ "event": event.to_string(), "reason": "entered by mistake" }),
        )
    }

    // ------------------------------------------------------------------------------- append

    fn append(&self, events: &[Ev]) -> Result<AppendReport, Vec<LineError>> {
        let text: String = events.iter().map(|e| e.line() + "\n").collect();
        self.append_text(&text)
    }

    fn append_text(&self, text: &str) -> Result<AppendReport, Vec<LineError>> {
        self.ledger()
            .append(lines_from_text(text), clock_base(), &mut |_| {})
            .expect("a memory store does not fail")
    }

    /// Given/when: the events are accepted, all of them.
    fn accept(&self, events: &[Ev]) -> AppendReport {
        match self.append(events) {
            Ok(report) => {
                assert_eq!(
                    report.appended,
                    events.len() as u64,
                    "every event is new: {report:?}"
                );
                report
            }
            Err(errors) => panic!("expected the events to be accepted, got {errors:#?}"),
        }
    }

    /// Then: `event` alone is rejected for breaking `rule`, and nothing was written.
    fn assert_rejected(&self, event: Ev, rule: u8) -> LineError {
        let errors = self.assert_batch_rejected(&[event], &[(1, Some(rule))]);
        errors.into_iter().next().expect("one error")
    }

    /// Then: the batch is rejected with exactly these (line, rule) errors, and nothing was written.
    fn assert_batch_rejected(
        &self,
        events: &[Ev],
        expected: &[(u64, Option<u8>)],
    ) -> Vec<LineError> {
        let before = self.head();
        let errors = match self.append(events) {
            Ok(report) => {
                panic!("expected a rejection {expected:?}, but the append was accepted: {report:?}")
            }
            Err(errors) => errors,
        };
        let got: Vec<(u64, Option<u8>)> = errors.iter().map(|e| (e.line, e.rule)).collect();
        assert_eq!(
            got, expected,
            "rejections (line, rule); errors: {errors:#?}"
        );
        assert_eq!(self.head(), before, "a rejected append writes nothing");
        errors
    }

    // -------------------------------------------------------------------------------- state

    fn state_on(&self, date: &str) -> StateView {
        self.state_of(A, date)
    }

    fn state_of(&self, account: &str, date: &str) -> StateView {
        let account = Account::parse(account).expect("valid account");
        self.ledger().state(&account, d(date), None).expect("state")
    }

    fn state_known_at(&self, date: &str, known_at: Instant) -> StateView {
        let account = Account::parse(A).expect("valid account");
        self.ledger()
            .state(
                &account,
                d(date),
                Some((known_at, format_instant(known_at))),
            )
            .expect("state")
    }

    // ------------------------------------------------------------------------ common givens

    /// Given: an Action Pack bought on `start`, the business profile verified the same day.
    fn given_action_pack(&self, start: &str) {
        self.accept(&[self.profile(start), self.purchase(start, AP)]);
    }

    /// Given: a Solutions Partner designation bought on `start`, qualified the same day.
    fn given_solutions_partner(&self, start: &str) {
        self.accept(&[
            self.qualify(start, "modern_work", 82),
            self.purchase(start, SP),
        ]);
    }
}

// ---------------------------------------------------------------------------- state lookups

/// The line's current own term (source contoso).
fn membership<'a>(state: &'a StateView, line: &str) -> &'a MembershipView {
    membership_from(state, line, &state.account)
}

fn membership_from<'a>(state: &'a StateView, line: &str, source: &str) -> &'a MembershipView {
    let found: Vec<&MembershipView> = state
        .memberships
        .iter()
        .filter(|m| m.line == line && m.source == source)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one {line} membership from {source} in {:#?}",
        state.memberships
    );
    found[0]
}

fn benefit<'a>(state: &'a StateView, term_start: &str, kind: &str) -> &'a BenefitView {
    state
        .benefits
        .iter()
        .find(|b| b.term_start == term_start && b.benefit_type == kind && b.source == state.account)
        .unwrap_or_else(|| {
            panic!(
                "benefit {kind} of the term started {term_start} in {:#?}",
                state.benefits
            )
        })
}

fn token<'a>(state: &'a StateView, id: &str) -> &'a TokenView {
    state
        .tokens
        .iter()
        .find(|t| t.token == id)
        .unwrap_or_else(|| panic!("token {id} in {:#?}", state.tokens))
}

fn key<'a>(state: &'a StateView, id: &str) -> &'a KeyView {
    state
        .product_keys
        .iter()
        .find(|k| k.key == id)
        .unwrap_or_else(|| panic!("key {id} in {:#?}", state.product_keys))
}

fn subscription<'a>(state: &'a StateView, id: &str) -> &'a SubscriptionView {
    state
        .vs_subscriptions
        .iter()
        .find(|s| s.subscription == id)
        .unwrap_or_else(|| panic!("subscription {id} in {:#?}", state.vs_subscriptions))
}

fn status_dates(m: &MembershipView) -> (&str, &str, &str, &str, &str, &str, &str) {
    (
        m.offer,
        m.status,
        m.start.as_str(),
        m.anniversary.as_str(),
        m.renewal_window.opens.as_str(),
        m.renewal_window.closes.as_str(),
        m.activate_by.as_str(),
    )
}

fn benefit_types(state: &StateView, term_start: &str) -> Vec<String> {
    let mut types: Vec<String> = state
        .benefits
        .iter()
        .filter(|b| b.term_start == term_start && b.source == state.account)
        .map(|b| b.benefit_type.to_string())
        .collect();
    types.sort();
    types
}

// ================================================================================================
// R1 Dates: calendar-month addition that clamps to the month's end; never 365 days.

#[test]
fn r01_leap_day_purchase_has_anniversary_on_28_february() {
    let l = ledger();
    l.given_action_pack("2024-02-29");
    let s = l.state_on("2024-02-29");
    // 2024-02-29 + 12 months = 2025-02-28; window AD+1 … AD+30; activate-by + 13 months.
    assert_eq!(
        status_dates(membership(&s, "action_pack")),
        (
            "action_pack",
            "active",
            "2024-02-29",
            "2025-02-28",
            "2025-03-01",
            "2025-03-30",
            "2025-03-29"
        )
    );
}

#[test]
fn r01_month_end_purchase_clamps_activate_by_to_28_february() {
    let l = ledger();
    l.given_action_pack("2024-01-31");
    let s = l.state_on("2024-01-31");
    // 2024-01-31 + 13 months = 2025-02-28 (2025 is no leap year); + 12 months = 2025-01-31.
    assert_eq!(
        status_dates(membership(&s, "action_pack")),
        (
            "action_pack",
            "active",
            "2024-01-31",
            "2025-01-31",
            "2025-02-01",
            "2025-03-02",
            "2025-02-28"
        )
    );
}

#[test]
fn r01_anniversary_is_12_calendar_months_not_365_days() {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    // 365 days after 2023-03-01 is 2024-02-29 (leap year); the anniversary is 2024-03-01.
    assert_eq!(l.state_on("2024-02-29").memberships[0].status, "active");
    assert_eq!(l.state_on("2024-03-01").memberships[0].status, "active");
    assert_eq!(
        l.state_on("2024-03-02").memberships[0].status,
        "in_renewal_window"
    );
    assert_eq!(
        membership(&l.state_on("2024-03-01"), "action_pack").anniversary,
        "2024-03-01"
    );
}

#[test]
fn r01_renewal_on_day_365_rejected_because_anniversary_is_by_months() {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    l.accept(&[l.profile("2024-02-01")]);
    // 2024-02-29 would be AD+1 under "365 days"; by months it is still before the anniversary.
    // No R1 violation exists on its own: the window rule (R8) cites it.
    l.assert_rejected(l.renew("2024-02-29", AP), 8);
    l.accept(&[l.renew("2024-03-02", AP)]);
}

#[test]
fn r01_date_that_is_not_a_calendar_day_rejected_as_malformed() {
    let l = ledger();
    // 2023 has no 29 February: a malformed line (no rule number), nothing written.
    let errors = l.assert_batch_rejected(&[l.profile("2023-02-29")], &[(1, None)]);
    assert!(
        errors[0].message.contains("2023-02-29"),
        "{}",
        errors[0].message
    );
    assert!(errors[0].event.is_none());
}

// ================================================================================================
// R2 Day-level order: business date, then recording order; back-dated events fold at their date.

#[test]
fn r02_back_dated_redemption_folds_in_at_its_business_date() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.profile("2022-09-05"), l.renew("2022-09-10", AP)]);
    // Recorded after the renewal, dated in the first term: it unlocks the first term's benefit.
    l.accept(&[l.redeem("2021-09-10", "azure_credits")]);
    let s = l.state_on("2022-09-10");
    let first = benefit(&s, "2021-09-01", "azure_credits");
    assert_eq!(
        (
            first.status,
            first.unlocked.as_deref(),
            first.expires.as_deref()
        ),
        ("redeemed", Some("2021-09-10"), Some("2022-09-10"))
    );
    assert_eq!(
        benefit(&s, "2022-09-10", "azure_credits").status,
        "available"
    );
}

#[test]
fn r02_same_date_events_apply_in_recorded_order() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    // Assigned and unassigned on 2021-09-10 (never activated, so unassigning is allowed).
    l.accept(&[
        l.assign("2021-09-10", "VS-1", "professional", "dev@contoso.com"),
        l.unassign("2021-09-10", "VS-1"),
    ]);
    // An activation of the same date recorded later applies after the unassignment.
    let e = l.assert_rejected(l.activate_vs("2021-09-10", "VS-1"), 22);
    assert!(e.message.contains("unassigned"), "{}", e.message);
}

#[test]
fn r02_same_date_event_recorded_later_is_accepted_after_earlier_ones() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.assign("2021-09-10", "VS-1", "professional", "dev@contoso.com")]);
    l.accept(&[l.activate_vs("2021-09-10", "VS-1")]);
    let s = l.state_on("2021-09-10");
    let v = subscription(&s, "VS-1");
    assert_eq!(
        (v.status, v.assigned.as_str(), v.activated.as_deref()),
        ("active", "2021-09-10", Some("2021-09-10"))
    );
}

// ================================================================================================
// R3 Offers: the five offers exist; anything else is not an offer.

#[test]
fn r03_each_of_the_five_offers_can_be_bought() {
    for (offer, line) in [
        (AP, "action_pack"),
        (LAPS, "action_pack"),
        (SP, "package"),
        (GOLD, "package"),
        (SILVER, "package"),
    ] {
        let l = ledger();
        l.accept(&[
            l.profile("2022-01-01"),
            l.qualify("2022-01-01", "security", 75),
            l.purchase("2022-01-10", offer),
        ]);
        let s = l.state_on("2022-01-10");
        let m = membership(&s, line);
        assert_eq!(
            (m.offer, m.status, m.start.as_str()),
            (offer, "active", "2022-01-10"),
            "{offer}"
        );
    }
}

#[test]
fn r03_unknown_offer_rejected_as_malformed() {
    let l = ledger();
    l.accept(&[l.profile("2022-01-01")]);
    // An offer outside R3 is not a valid event at all: malformed, no rule number.
    let errors = l.assert_batch_rejected(&[l.purchase("2022-01-10", "platinum")], &[(1, None)]);
    assert!(
        errors[0].message.contains("platinum"),
        "{}",
        errors[0].message
    );
}

// ================================================================================================
// R4 Lines: at most one current term per line; the two lines are independent.

#[test]
fn r04_action_pack_and_designation_are_held_side_by_side() {
    let l = ledger();
    l.given_solutions_partner("2022-01-10");
    l.given_action_pack("2022-03-01");
    let s = l.state_on("2022-03-01");
    assert_eq!(s.memberships.len(), 2);
    assert_eq!(
        (
            membership(&s, "package").offer,
            membership(&s, "package").status
        ),
        (SP, "active")
    );
    assert_eq!(
        (
            membership(&s, "action_pack").offer,
            membership(&s, "action_pack").status
        ),
        (AP, "active")
    );
}

#[test]
fn r04_second_offer_on_the_same_line_rejected_with_r11() {
    let l = ledger();
    l.given_action_pack("2022-03-01");
    // learning_action_pack is on the action-pack line too: one current term per line.
    l.assert_rejected(l.purchase("2022-05-01", LAPS), 11);
}

// ================================================================================================
// R5 Start: a purchase on S starts a term on S; its benefits are provided on S.

#[test]
fn r05_benefits_are_provided_and_redeemable_on_the_start_date() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.redeem("2021-09-01", "azure_credits")]);
    let s = l.state_on("2021-09-01");
    let b = benefit(&s, "2021-09-01", "azure_credits");
    assert_eq!(
        (
            b.provided.as_str(),
            b.status,
            b.unlocked.as_deref(),
            b.expires.as_deref()
        ),
        (
            "2021-09-01",
            "redeemed",
            Some("2021-09-01"),
            Some("2022-09-01")
        )
    );
    assert_eq!(membership(&s, "action_pack").start, "2021-09-01");
}

#[test]
fn r05_redemption_dated_before_the_start_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.redeem("2021-08-31", "azure_credits"), 5);
}

#[test]
fn r05_no_membership_before_the_first_purchase() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let s = l.state_on("2021-08-31");
    assert!(s.memberships.is_empty() && s.benefits.is_empty(), "{s:#?}");
}

// ================================================================================================
// R6 Anniversary: AD = S + 12 months; active from S through AD inclusive.

#[test]
fn r06_term_is_active_from_start_through_anniversary() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    for day in ["2020-09-01", "2021-03-15", "2021-09-01"] {
        let s = l.state_on(day);
        let m = membership(&s, "action_pack");
        assert_eq!(
            (m.status, m.anniversary.as_str()),
            ("active", "2021-09-01"),
            "{day}"
        );
    }
}

#[test]
fn r06_purchase_on_the_anniversary_rejected_with_r11_term_still_active() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    let e = l.assert_rejected(l.purchase("2021-09-01", AP), 11);
    assert!(e.message.contains("active"), "{}", e.message);
}

// ================================================================================================
// R7 Renewal window: AD+1 … AD+30 inclusive, `in_renewal_window`, all access kept.

#[test]
fn r07_window_is_anniversary_plus_1_through_plus_30() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    let status = |day: &str| membership(&l.state_on(day), "action_pack").status;
    assert_eq!(status("2021-09-01"), "active"); // AD
    assert_eq!(status("2021-09-02"), "in_renewal_window"); // AD+1 (FAQ example)
    assert_eq!(status("2021-10-01"), "in_renewal_window"); // AD+30
    assert_eq!(status("2021-10-02"), "expired"); // AD+31
    let s = l.state_on("2021-09-02");
    let w = &membership(&s, "action_pack").renewal_window;
    assert_eq!(
        (w.opens.as_str(), w.closes.as_str()),
        ("2021-09-02", "2021-10-01")
    );
}

#[test]
fn r07_renewal_accepted_on_window_first_day_anniversary_plus_1() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-08-01"), l.renew("2021-09-02", AP)]);
    let s = l.state_on("2021-09-02");
    assert_eq!(
        status_dates(membership(&s, "action_pack")),
        (
            "action_pack",
            "active",
            "2021-09-02",
            "2022-09-02",
            "2022-09-03",
            "2022-10-02",
            "2022-10-02"
        )
    );
}

#[test]
fn r07_renewal_accepted_on_window_last_day_anniversary_plus_30() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-08-01"), l.renew("2021-10-01", AP)]);
    let s = l.state_on("2021-10-01");
    let m = membership(&s, "action_pack");
    assert_eq!(
        (m.status, m.start.as_str(), m.anniversary.as_str()),
        ("active", "2021-10-01", "2022-10-01")
    );
}

#[test]
fn r07_renewal_on_the_anniversary_rejected_window_not_yet_open_r8() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-08-01")]);
    let e = l.assert_rejected(l.renew("2021-09-01", AP), 8);
    assert!(
        e.message.contains("2021-09-02"),
        "names the opening day: {}",
        e.message
    );
}

#[test]
fn r07_benefits_stay_redeemable_on_the_window_last_day() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.redeem("2021-10-01", "support_and_advisory")]);
    let s = l.state_on("2021-10-01");
    assert_eq!(membership(&s, "action_pack").status, "in_renewal_window");
    assert_eq!(
        benefit(&s, "2020-09-01", "support_and_advisory")
            .unlocked
            .as_deref(),
        Some("2021-10-01")
    );
}

// ================================================================================================
// R8 Renewal: only inside the window; new term from R, AD = R + 12 months; old term `renewed`.

#[test]
fn r08_renewal_moves_the_anniversary_to_the_payment_date() {
    // rules.md "Renewal drift": start 2023-05-10, renewed 2024-05-20 (day 10 of the window).
    let l = ledger();
    l.given_action_pack("2023-05-10");
    l.accept(&[l.profile("2024-05-15"), l.renew("2024-05-20", AP)]);
    let s = l.state_on("2024-05-20");
    assert_eq!(
        s.memberships.len(),
        1,
        "the renewed term is no longer current: {:#?}",
        s.memberships
    );
    assert_eq!(
        status_dates(membership(&s, "action_pack")),
        (
            "action_pack",
            "active",
            "2024-05-20",
            "2025-05-20",
            "2025-05-21",
            "2025-06-19",
            "2025-06-20"
        )
    );
    // The new term provides its benefits on R; the old term's stay listed with their own dates.
    assert_eq!(
        benefit(&s, "2024-05-20", "azure_credits").provided,
        "2024-05-20"
    );
    assert_eq!(
        benefit(&s, "2023-05-10", "azure_credits").activate_by,
        "2024-06-10"
    );
}

#[test]
fn r08_renewal_without_a_term_rejected() {
    let l = ledger();
    l.accept(&[l.profile("2021-08-01")]);
    l.assert_rejected(l.renew("2021-09-02", AP), 8);
}

#[test]
fn r08_renewal_before_the_window_rejected() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-06-01")]);
    l.assert_rejected(l.renew("2021-06-02", AP), 8);
}

#[test]
fn r08_renewal_after_the_window_rejected_as_lapsed_r9() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-08-01")]);
    let e = l.assert_rejected(l.renew("2021-10-02", AP), 9);
    assert!(
        e.message.contains("membership_purchased"),
        "says what to do instead: {}",
        e.message
    );
}

// ================================================================================================
// R9 Lapse: not renewed by AD+30 → `expired` from AD+31; a later purchase is a new purchase.

#[test]
fn r09_term_not_renewed_expires_on_anniversary_plus_31() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.redeem("2021-09-20", "azure_credits")]);
    let s = l.state_on("2021-10-02");
    assert_eq!(membership(&s, "action_pack").status, "expired");
    // Unredeemed benefits are forfeited with the access; the redeemed one runs on (R18).
    assert_eq!(
        benefit(&s, "2020-09-01", "support_and_advisory").status,
        "forfeited"
    );
    assert_eq!(
        benefit(&s, "2020-09-01", "azure_credits").status,
        "redeemed"
    );
}

#[test]
fn r09_purchase_on_anniversary_plus_31_starts_a_new_term() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    // No new profile check: only the first Action Pack purchase needs one (R10).
    l.accept(&[l.purchase("2021-10-02", AP)]);
    let s = l.state_on("2021-10-02");
    assert_eq!(
        status_dates(membership(&s, "action_pack")),
        (
            "action_pack",
            "active",
            "2021-10-02",
            "2022-10-02",
            "2022-10-03",
            "2022-11-01",
            "2022-11-02"
        )
    );
}

#[test]
fn r09_renewal_on_anniversary_plus_31_rejected() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-09-20")]);
    l.assert_rejected(l.renew("2021-10-02", AP), 9);
}

// ================================================================================================
// R10 Business profile: verified after the term's start and on or before a renewal; verified
// at least once before a first Action Pack purchase.

#[test]
fn r10_first_action_pack_purchase_accepted_with_profile_verified_the_same_day() {
    let l = ledger();
    l.accept(&[l.profile("2021-09-01"), l.purchase("2021-09-01", AP)]);
    let s = l.state_on("2021-09-01");
    assert_eq!(s.profile_verified.as_deref(), Some("2021-09-01"));
    assert_eq!(membership(&s, "action_pack").status, "active");
}

#[test]
fn r10_first_action_pack_purchase_rejected_without_verified_profile() {
    let l = ledger();
    l.assert_rejected(l.purchase("2021-09-01", AP), 10);
}

#[test]
fn r10_first_action_pack_purchase_rejected_when_profile_verified_only_later() {
    let l = ledger();
    l.accept(&[l.profile("2021-09-02")]);
    l.assert_rejected(l.purchase("2021-09-01", AP), 10);
}

#[test]
fn r10_package_purchase_needs_no_verified_profile() {
    let l = ledger();
    l.accept(&[l.purchase("2022-01-10", GOLD)]);
    assert_eq!(membership(&l.state_on("2022-01-10"), "package").offer, GOLD);
}

#[test]
fn r10_renewal_accepted_with_profile_verified_on_the_renewal_date() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-09-10"), l.renew("2021-09-10", AP)]);
    assert_eq!(
        membership(&l.state_on("2021-09-10"), "action_pack").start,
        "2021-09-10"
    );
}

#[test]
fn r10_renewal_rejected_when_profile_verified_only_on_the_term_start() {
    let l = ledger();
    // The profile verified on the start day (for the purchase) is not "after the start".
    l.given_action_pack("2020-09-01");
    l.assert_rejected(l.renew("2021-09-10", AP), 10);
}

#[test]
fn r10_renewal_rejected_when_profile_verified_after_the_renewal_date() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.accept(&[l.profile("2021-09-11")]);
    l.assert_rejected(l.renew("2021-09-10", AP), 10);
}

// ================================================================================================
// R11 One term per line: no purchase while the line's term is active or in its window.

#[test]
fn r11_purchase_rejected_while_term_active() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.purchase("2022-01-01", AP), 11);
}

#[test]
fn r11_purchase_rejected_in_renewal_window_anniversary_plus_30() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let e = l.assert_rejected(l.purchase("2022-10-01", AP), 11);
    assert!(
        e.message.contains("renew"),
        "says to renew instead: {}",
        e.message
    );
}

#[test]
fn r11_purchase_accepted_once_term_expired_anniversary_plus_31() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.purchase("2022-10-02", AP)]);
    let s = l.state_on("2022-10-02");
    let m = membership(&s, "action_pack");
    assert_eq!((m.status, m.start.as_str()), ("active", "2022-10-02"));
}

#[test]
fn r11_purchase_on_the_other_line_accepted_while_one_is_active() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.purchase("2022-01-01", SILVER)]);
    let s = l.state_on("2022-01-01");
    assert_eq!(membership(&s, "package").offer, SILVER);
    assert_eq!(membership(&s, "action_pack").offer, AP);
}

// ================================================================================================
// R12 Package fixed for the term: a different offer on the line only by renewal or after lapse.

#[test]
fn r12_designation_earned_mid_cycle_does_not_change_a_legacy_package() {
    let l = ledger();
    l.accept(&[
        l.purchase("2022-01-10", GOLD),
        l.qualify("2022-05-03", "data_and_ai", 85),
    ]);
    let s = l.state_on("2022-06-01");
    let m = membership(&s, "package");
    assert_eq!((m.offer, m.status), (GOLD, "active"));
    assert!(m.solution_areas.is_empty(), "{:?}", m.solution_areas);
    assert_eq!(s.designations.len(), 1);
}

#[test]
fn r12_mid_cycle_purchase_of_another_package_rejected_with_r11() {
    let l = ledger();
    l.accept(&[
        l.purchase("2022-01-10", GOLD),
        l.qualify("2022-05-03", "data_and_ai", 85),
    ]);
    // The fold cites R11 (a purchase on a running line) and names R12 in the message.
    let e = l.assert_rejected(l.purchase("2022-06-01", SP), 11);
    assert!(e.message.contains("R12"), "{}", e.message);
}

#[test]
fn r12_mid_cycle_change_by_renewal_rejected_with_r8() {
    let l = ledger();
    l.accept(&[
        l.purchase("2022-01-10", GOLD),
        l.qualify("2022-05-03", "data_and_ai", 85),
        l.profile("2022-05-04"),
    ]);
    l.assert_rejected(l.renew("2022-06-01", SP), 8);
}

#[test]
fn r12_offer_changes_at_renewal_inside_the_window() {
    let l = ledger();
    // Gold from 2022-01-10: AD 2023-01-10, window 2023-01-11 … 2023-02-09. The R13 renewal
    // qualification window starts 2022-08-01.
    l.accept(&[
        l.purchase("2022-01-10", GOLD),
        l.qualify("2022-09-01", "data_and_ai", 85),
        l.profile("2023-01-05"),
    ]);
    l.accept(&[l.renew("2023-01-20", SP)]);
    let s = l.state_on("2023-01-20");
    let m = membership(&s, "package");
    assert_eq!(
        (m.offer, m.status, m.start.as_str(), m.anniversary.as_str()),
        (SP, "active", "2023-01-20", "2024-01-20")
    );
    assert_eq!(m.solution_areas, vec!["data_and_ai".to_string()]);
}

#[test]
fn r12_action_pack_renewed_as_learning_action_pack() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.profile("2022-09-01"), l.renew("2022-09-15", LAPS)]);
    let s = l.state_on("2022-09-15");
    let m = membership(&s, "action_pack");
    assert_eq!(
        (m.offer, m.start.as_str(), m.status),
        (LAPS, "2022-09-15", "active")
    );
}

#[test]
fn r12_different_offer_bought_after_the_lapse() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.purchase("2022-10-01", LAPS), 11); // AD+30: still in the window
    l.accept(&[l.purchase("2022-10-02", LAPS)]); // AD+31: lapsed
    let s = l.state_on("2022-10-02");
    let m = membership(&s, "action_pack");
    assert_eq!((m.offer, m.start.as_str()), (LAPS, "2022-10-02"));
}

// ================================================================================================
// R13 Solutions Partner eligibility: a designation (score ≥ 70) in the qualification window.
// Purchase: same day five months earlier through the purchase date.
// Renewal: first day of the month five months before the AD month through the renewal date.

#[test]
fn r13_purchase_accepted_with_qualification_on_the_window_first_day() {
    let l = ledger();
    // 2024-07-31 − 5 months = 2024-02-29 (clamped, R1): the window's first day.
    l.accept(&[
        l.qualify("2024-02-29", "security", 70),
        l.purchase("2024-07-31", SP),
    ]);
    let s = l.state_on("2024-07-31");
    let m = membership(&s, "package");
    assert_eq!(
        (m.offer, m.status, m.anniversary.as_str()),
        (SP, "active", "2025-07-31")
    );
    assert_eq!(m.solution_areas, vec!["security".to_string()]);
}

#[test]
fn r13_purchase_rejected_with_qualification_the_day_before_the_window() {
    let l = ledger();
    l.accept(&[l.qualify("2024-02-28", "security", 90)]);
    let e = l.assert_rejected(l.purchase("2024-07-31", SP), 13);
    assert!(
        e.message.contains("2024-02-29"),
        "names the window: {}",
        e.message
    );
}

#[test]
fn r13_purchase_accepted_with_qualification_on_the_purchase_date() {
    let l = ledger();
    l.accept(&[
        l.qualify("2023-06-15", "modern_work", 80),
        l.purchase("2023-06-15", SP),
    ]);
    assert_eq!(
        membership(&l.state_on("2023-06-15"), "package").solution_areas,
        vec!["modern_work".to_string()]
    );
}

#[test]
fn r13_purchase_rejected_with_qualification_only_the_day_after() {
    let l = ledger();
    // Recorded first, but dated after the purchase: outside its window (folded by date, R2).
    l.accept(&[l.qualify("2023-06-16", "modern_work", 80)]);
    l.assert_rejected(l.purchase("2023-06-15", SP), 13);
}

#[test]
fn r13_score_below_70_rejected_and_70_accepted() {
    let l = ledger();
    l.assert_rejected(l.qualify("2023-06-01", "security", 69), 13);
    l.accept(&[l.qualify("2023-06-01", "security", 70)]);
    assert_eq!(l.state_on("2023-06-01").designations[0].score, 70);
}

#[test]
fn r13_all_areas_in_the_window_enrolled_and_later_areas_join_the_term() {
    let l = ledger();
    l.accept(&[
        l.qualify("2023-01-10", "security", 80),
        l.qualify("2023-03-01", "azure_infrastructure", 75),
        l.purchase("2023-06-01", SP),
    ]);
    // Qualified mid-term: added at once, sharing the term's anniversary.
    l.accept(&[l.qualify("2023-09-01", "data_and_ai", 88)]);
    let s = l.state_on("2023-09-01");
    let m = membership(&s, "package");
    assert_eq!(
        m.solution_areas,
        vec!["azure_infrastructure", "data_and_ai", "security"]
    );
    assert_eq!(
        (m.start.as_str(), m.anniversary.as_str()),
        ("2023-06-01", "2024-06-01")
    );
}

/// Given: solutions_partner from 2023-03-15 (AD 2024-03-15, window 2024-03-16 … 2024-04-14),
/// the profile verified for renewal. The renewal's qualification window starts 2023-10-01.
fn given_solutions_partner_to_renew() -> Fixture {
    let l = ledger();
    l.accept(&[
        l.qualify("2023-03-01", "modern_work", 80),
        l.purchase("2023-03-15", SP),
        l.profile("2024-03-10"),
    ]);
    l
}

#[test]
fn r13_renewal_accepted_with_qualification_on_first_day_of_month_five_months_before_ad() {
    let l = given_solutions_partner_to_renew();
    l.accept(&[
        l.qualify("2023-10-01", "security", 72),
        l.renew("2024-03-20", SP),
    ]);
    let s = l.state_on("2024-03-20");
    let m = membership(&s, "package");
    assert_eq!(
        (m.offer, m.start.as_str(), m.anniversary.as_str()),
        (SP, "2024-03-20", "2025-03-20")
    );
    // Only areas qualified in the renewal window are enrolled in the new term.
    assert_eq!(m.solution_areas, vec!["security".to_string()]);
}

#[test]
fn r13_renewal_rejected_with_qualification_the_day_before_the_window() {
    let l = given_solutions_partner_to_renew();
    l.accept(&[l.qualify("2023-09-30", "security", 72)]);
    let e = l.assert_rejected(l.renew("2024-03-20", SP), 13);
    assert!(
        e.message.contains("2023-10-01"),
        "names the window: {}",
        e.message
    );
}

#[test]
fn r13_renewal_accepted_with_qualification_on_the_renewal_date() {
    let l = given_solutions_partner_to_renew();
    l.accept(&[
        l.qualify("2024-04-14", "security", 72),
        l.renew("2024-04-14", SP),
    ]);
    assert_eq!(
        membership(&l.state_on("2024-04-14"), "package").start,
        "2024-04-14"
    );
}

#[test]
fn r13_renewal_rejected_with_qualification_only_after_the_renewal_date() {
    let l = given_solutions_partner_to_renew();
    l.accept(&[l.qualify("2024-03-21", "security", 72)]);
    l.assert_rejected(l.renew("2024-03-20", SP), 13);
}

// ================================================================================================
// R14 Legacy retirement 2022-09-30: no legacy purchase after it; renewal only of the level held
// on that day, and only without a designation in the R13 renewal window.

#[test]
fn r14_legacy_purchase_accepted_on_the_retirement_date() {
    let l = ledger();
    l.accept(&[l.purchase("2022-09-30", SILVER)]);
    let s = l.state_on("2022-09-30");
    let m = membership(&s, "package");
    assert_eq!(
        (m.offer, m.status, m.anniversary.as_str()),
        (SILVER, "active", "2023-09-30")
    );
}

#[test]
fn r14_legacy_purchase_rejected_the_day_after_retirement() {
    let l = ledger();
    l.assert_rejected(l.purchase("2022-10-01", GOLD), 14);
    l.assert_rejected(l.purchase("2022-10-01", SILVER), 14);
}

#[test]
fn r14_legacy_renewal_accepted_for_level_held_on_retirement_date() {
    let l = ledger();
    // Gold from 2021-10-15: active on 2022-09-30; window 2022-10-16 … 2022-11-14.
    l.accept(&[l.purchase("2021-10-15", GOLD), l.profile("2022-10-01")]);
    l.accept(&[l.renew("2022-10-20", GOLD)]);
    let s = l.state_on("2022-10-20");
    let m = membership(&s, "package");
    assert_eq!(
        (m.offer, m.start.as_str(), m.anniversary.as_str()),
        (GOLD, "2022-10-20", "2023-10-20")
    );
}

#[test]
fn r14_legacy_renewal_accepted_when_in_renewal_window_on_retirement_date() {
    let l = ledger();
    // Gold from 2021-09-15: AD 2022-09-15, in its window on 2022-09-30.
    l.accept(&[l.purchase("2021-09-15", GOLD), l.profile("2022-09-20")]);
    l.accept(&[l.renew("2022-10-01", GOLD)]);
    assert_eq!(
        membership(&l.state_on("2022-10-01"), "package").start,
        "2022-10-01"
    );
}

#[test]
fn r14_legacy_renewal_rejected_for_another_level_than_held() {
    let l = ledger();
    l.accept(&[l.purchase("2021-10-15", SILVER), l.profile("2022-10-01")]);
    let e = l.assert_rejected(l.renew("2022-10-20", GOLD), 14);
    assert!(e.message.contains("legacy_silver"), "{}", e.message);
}

#[test]
fn r14_legacy_renewal_rejected_with_designation_in_the_renewal_window() {
    let l = ledger();
    // AD 2022-10-15: the R13 renewal window starts 2022-05-01.
    l.accept(&[
        l.purchase("2021-10-15", GOLD),
        l.qualify("2022-05-01", "security", 80),
        l.profile("2022-10-01"),
    ]);
    l.assert_rejected(l.renew("2022-10-20", GOLD), 14);
}

#[test]
fn r14_legacy_renewal_accepted_with_designation_before_the_renewal_window() {
    let l = ledger();
    l.accept(&[
        l.purchase("2021-10-15", GOLD),
        l.qualify("2022-04-30", "security", 80),
        l.profile("2022-10-01"),
    ]);
    l.accept(&[l.renew("2022-10-20", GOLD)]);
    assert_eq!(membership(&l.state_on("2022-10-20"), "package").offer, GOLD);
}

#[test]
fn r14_legacy_term_renewed_again_in_later_years() {
    let l = ledger();
    // Bought on the retirement date itself: held (active) on 2022-09-30.
    l.accept(&[l.purchase("2022-09-30", SILVER), l.profile("2023-09-01")]);
    // AD 2023-09-30, window 2023-10-01 … 2023-10-30.
    l.accept(&[l.renew("2023-10-01", SILVER), l.profile("2024-09-01")]);
    // The condition is the level held on 2022-09-30, not the latest term's start.
    l.accept(&[l.renew("2024-10-02", SILVER)]);
    let s = l.state_on("2024-10-02");
    let m = membership(&s, "package");
    assert_eq!(
        (m.offer, m.start.as_str(), m.anniversary.as_str()),
        (SILVER, "2024-10-02", "2025-10-02")
    );
}

// ================================================================================================
// R15 Merged-away accounts cannot purchase or renew (from the merge date on, R26).

/// Given: contoso (Action Pack from 2021-09-01) absorbed fabrikam (Action Pack from
/// 2021-12-01) on 2022-05-01.
fn given_merged() -> Fixture {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-12-01").on(B),
        l.purchase("2021-12-01", AP).on(B),
    ]);
    l.accept(&[l.merge("2022-05-01", B)]);
    l
}

#[test]
fn r15_merged_away_account_purchase_on_merge_date_rejected() {
    let l = given_merged();
    l.assert_rejected(l.purchase("2022-05-01", GOLD).on(B), 15);
}

#[test]
fn r15_merged_away_account_renewal_rejected() {
    let l = given_merged();
    l.accept(&[l.profile("2022-11-01")]);
    l.assert_rejected(l.renew("2022-12-10", AP).on(B), 15);
}

#[test]
fn r15_purchase_dated_before_the_merge_accepted_even_if_recorded_after() {
    let l = given_merged();
    l.accept(&[l.purchase("2022-04-01", GOLD).on(B)]);
    let s = l.state_of(A, "2022-05-01");
    let m = membership_from(&s, "package", B);
    assert_eq!(
        (m.offer, m.status, m.start.as_str()),
        (GOLD, "active", "2022-04-01")
    );
}

// ================================================================================================
// R16 Benefit types: which types each offer provides is catalog data.

#[test]
fn r16_each_offer_provides_its_benefit_types() {
    let l = ledger();
    l.given_solutions_partner("2022-01-10");
    l.given_action_pack("2022-02-01");
    let s = l.state_on("2022-02-01");
    let all = [
        "azure_credits",
        "cloud_services",
        "developer_tools",
        "marketing",
        "on_premises_software",
        "support_and_advisory",
    ];
    assert_eq!(benefit_types(&s, "2022-01-10"), all);
    // No marketing on the action-pack line.
    assert_eq!(
        benefit_types(&s, "2022-02-01"),
        [
            "azure_credits",
            "cloud_services",
            "developer_tools",
            "on_premises_software",
            "support_and_advisory"
        ]
    );
    let l = ledger();
    l.accept(&[l.profile("2022-01-01"), l.purchase("2022-01-10", LAPS)]);
    // Learning Action Pack: no marketing, no on-premises software.
    assert_eq!(
        benefit_types(&l.state_on("2022-01-10"), "2022-01-10"),
        [
            "azure_credits",
            "cloud_services",
            "developer_tools",
            "support_and_advisory"
        ]
    );
}

#[test]
fn r16_marketing_redeemed_from_a_designation() {
    let l = ledger();
    l.given_solutions_partner("2022-01-10");
    l.accept(&[l.redeem("2022-01-20", "marketing")]);
    let s = l.state_on("2022-01-20");
    assert_eq!(benefit(&s, "2022-01-10", "marketing").status, "redeemed");
}

#[test]
fn r16_marketing_from_an_action_pack_rejected() {
    let l = ledger();
    l.given_action_pack("2022-01-10");
    l.assert_rejected(l.redeem("2022-01-20", "marketing"), 16);
}

// ================================================================================================
// R17 Activate-by: redeemable until S + 13 months, and only while the term has access.

#[test]
fn r17_redemption_accepted_on_the_activate_by_date() {
    let l = ledger();
    // 2020-09-01: activate-by 2021-10-01, which is also AD+30.
    l.given_action_pack("2020-09-01");
    l.accept(&[l.redeem("2021-10-01", "azure_credits")]);
    let b = benefit(&l.state_on("2021-10-01"), "2020-09-01", "azure_credits").clone();
    assert_eq!(
        (b.status, b.unlocked.as_deref(), b.activate_by.as_str()),
        ("redeemed", Some("2021-10-01"), "2021-10-01")
    );
}

#[test]
fn r17_redemption_rejected_the_day_after_activate_by() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    l.assert_rejected(l.redeem("2021-10-02", "azure_credits"), 17);
}

#[test]
fn r17_unredeemed_benefit_forfeited_after_activate_by() {
    let l = ledger();
    l.given_action_pack("2020-09-01");
    assert_eq!(
        benefit(&l.state_on("2021-10-01"), "2020-09-01", "azure_credits").status,
        "available"
    );
    assert_eq!(
        benefit(&l.state_on("2021-10-02"), "2020-09-01", "azure_credits").status,
        "forfeited"
    );
}

#[test]
fn r17_lapsed_term_rejects_redemption_before_its_activate_by() {
    let l = ledger();
    // 2023-03-01: window closes 2024-03-31, activate-by 2024-04-01; not renewed, access ends.
    l.given_action_pack("2023-03-01");
    l.assert_rejected(l.redeem("2024-04-01", "azure_credits"), 17);
}

#[test]
fn r17_renewed_term_benefits_redeemable_until_their_own_activate_by() {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    l.accept(&[l.profile("2024-03-05"), l.renew("2024-03-10", AP)]);
    // 2024-04-01 is the old term's activate-by; it goes first (R23).
    l.accept(&[l.redeem("2024-04-01", "azure_credits")]);
    let s = l.state_on("2024-04-01");
    assert_eq!(
        benefit(&s, "2023-03-01", "azure_credits")
            .unlocked
            .as_deref(),
        Some("2024-04-01")
    );
    assert_eq!(
        benefit(&s, "2024-03-10", "azure_credits").status,
        "available"
    );
    // The day after, the old term's unredeemed benefits are forfeited.
    assert_eq!(
        benefit(
            &l.state_on("2024-04-02"),
            "2023-03-01",
            "support_and_advisory"
        )
        .status,
        "forfeited"
    );
}

// ================================================================================================
// R18 Unlocked date and expiry: expiry = unlocked + 12 months; runs on after a lapse;
// on-premises software has no expiry of its own.

#[test]
fn r18_redeemed_benefit_expires_12_months_after_unlocking() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.redeem("2021-09-10", "azure_credits")]);
    let on_expiry = benefit(&l.state_on("2022-09-10"), "2021-09-01", "azure_credits").clone();
    assert_eq!(
        (
            on_expiry.status,
            on_expiry.unlocked.as_deref(),
            on_expiry.expires.as_deref()
        ),
        ("redeemed", Some("2021-09-10"), Some("2022-09-10"))
    );
    assert_eq!(
        benefit(&l.state_on("2022-09-11"), "2021-09-01", "azure_credits").status,
        "expired"
    );
}

#[test]
fn r18_redeemed_benefit_runs_to_its_expiry_after_the_membership_lapses() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.redeem("2022-09-20", "support_and_advisory")]);
    let s = l.state_on("2022-12-01");
    assert_eq!(membership(&s, "action_pack").status, "expired");
    let b = benefit(&s, "2021-09-01", "support_and_advisory");
    assert_eq!(
        (b.status, b.expires.as_deref()),
        ("redeemed", Some("2023-09-20"))
    );
}

#[test]
fn r18_month_end_unlock_expires_on_the_clamped_day() {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    l.accept(&[l.redeem("2024-02-29", "azure_credits")]);
    let b = benefit(&l.state_on("2024-02-29"), "2023-03-01", "azure_credits").clone();
    assert_eq!(b.expires.as_deref(), Some("2025-02-28"));
}

#[test]
fn r18_on_premises_software_redeemed_by_first_key_without_expiry_and_lost_after_lapse() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    assert_eq!(
        benefit(
            &l.state_on("2021-09-01"),
            "2021-09-01",
            "on_premises_software"
        )
        .status,
        "available"
    );
    l.accept(&[l.key("2021-09-05", "K-1", "mak", 5)]);
    let b = benefit(
        &l.state_on("2022-10-01"),
        "2021-09-01",
        "on_premises_software",
    )
    .clone();
    assert_eq!(
        (b.status, b.unlocked.as_deref(), b.expires.as_deref()),
        ("redeemed", Some("2021-09-05"), None)
    );
    assert_eq!(
        benefit(
            &l.state_on("2022-10-02"),
            "2021-09-01",
            "on_premises_software"
        )
        .status,
        "lost"
    );
}

#[test]
fn r18_subscription_activation_after_developer_tools_expiry_rejected_r22() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    // developer_tools unlocked 2021-09-02: it (and every subscription of the term) expires 2022-09-02.
    l.accept(&[
        l.redeem("2021-09-02", "developer_tools"),
        l.assign("2022-09-01", "VS-1", "professional", "dev@contoso.com"),
    ]);
    l.accept(&[l.activate_vs("2022-09-02", "VS-1")]);
    let l2 = ledger();
    l2.given_action_pack("2021-09-01");
    l2.accept(&[
        l2.redeem("2021-09-02", "developer_tools"),
        l2.assign("2022-09-01", "VS-1", "professional", "dev@contoso.com"),
    ]);
    let e = l2.assert_rejected(l2.activate_vs("2022-09-03", "VS-1"), 22);
    assert!(e.message.contains("R18"), "{}", e.message);
}

// ================================================================================================
// R19 Tokens: activated whole, once, on or before the term's activate-by while it has access.

#[test]
fn r19_token_activated_whole_unlocks_cloud_services() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.token("2021-09-10", "T-1", 25),
        l.activate_token("2021-09-15", "T-1", 25),
    ]);
    let s = l.state_on("2021-09-15");
    let t = token(&s, "T-1");
    assert_eq!(
        (
            t.status,
            t.seats,
            t.activated.as_deref(),
            t.expires.as_deref(),
            t.replacement_deadline.as_deref()
        ),
        (
            "activated",
            25,
            Some("2021-09-15"),
            Some("2022-09-15"),
            Some("2021-10-15")
        )
    );
    let b = benefit(&s, "2021-09-01", "cloud_services");
    assert_eq!(
        (b.status, b.unlocked.as_deref(), b.expires.as_deref()),
        ("redeemed", Some("2021-09-15"), Some("2022-09-15"))
    );
    assert_eq!(token(&l.state_on("2022-09-16"), "T-1").status, "expired");
}

#[test]
fn r19_token_activation_rejects_split_seats() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.token("2021-09-10", "T-1", 25)]);
    let e = l.assert_rejected(l.activate_token("2021-09-15", "T-1", 5), 19);
    assert!(e.message.contains("25"), "{}", e.message);
}

#[test]
fn r19_second_activation_of_a_token_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.token("2021-09-10", "T-1", 25),
        l.activate_token("2021-09-15", "T-1", 25),
    ]);
    l.assert_rejected(l.activate_token("2021-09-20", "T-1", 25), 19);
}

#[test]
fn r19_token_activation_accepted_on_activate_by_and_rejected_the_day_after() {
    let l = ledger();
    // 2020-09-01: activate-by 2021-10-01 (= AD+30).
    l.given_action_pack("2020-09-01");
    l.accept(&[
        l.token("2021-09-10", "T-1", 5),
        l.token("2021-09-10", "T-2", 5),
    ]);
    l.accept(&[l.activate_token("2021-10-01", "T-1", 5)]);
    l.assert_rejected(l.activate_token("2021-10-02", "T-2", 5), 19);
    assert_eq!(token(&l.state_on("2021-10-02"), "T-2").status, "forfeited");
}

#[test]
fn r19_token_without_a_cloud_services_term_rejected() {
    let l = ledger();
    l.accept(&[l.profile("2021-01-01")]);
    l.assert_rejected(l.token("2021-09-10", "T-1", 5), 19);
}

// ================================================================================================
// R20 Replacement token: wrong tenant or seats added, on or before activation + 30 days, once,
// never of a replacement.

/// Given: Action Pack from 2021-09-01, token T-1 (25 seats) activated 2021-09-15
/// (replacement deadline 2021-10-15).
fn given_activated_token() -> Fixture {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.token("2021-09-10", "T-1", 25),
        l.activate_token("2021-09-15", "T-1", 25),
    ]);
    l
}

#[test]
fn r20_replacement_accepted_on_activation_plus_30_days() {
    let l = given_activated_token();
    l.accept(&[l.replace("2021-10-15", "T-1", "T-1R", "wrong_tenant")]);
    let s = l.state_on("2021-10-15");
    let original = token(&s, "T-1");
    assert_eq!(
        (original.status, original.replaced_by.as_deref()),
        ("replaced", Some("T-1R"))
    );
    let r = token(&s, "T-1R");
    assert_eq!(
        (
            r.status,
            r.product.as_str(),
            r.seats,
            r.replaces.as_deref(),
            r.replacement_deadline.as_deref()
        ),
        ("issued", "Microsoft 365 E3", 25, Some("T-1"), None)
    );
}

#[test]
fn r20_replacement_rejected_after_30_days() {
    let l = given_activated_token();
    let e = l.assert_rejected(l.replace("2021-10-16", "T-1", "T-1R", "wrong_tenant"), 20);
    assert!(
        e.message.contains("2021-10-15"),
        "names the deadline: {}",
        e.message
    );
    assert_eq!(
        token(&l.state_on("2021-10-16"), "T-1").replacement_deadline,
        None
    );
}

#[test]
fn r20_replacement_for_seats_added_instead_of_extending_accepted() {
    let l = given_activated_token();
    l.accept(&[l.replace(
        "2021-09-16",
        "T-1",
        "T-1R",
        "seats_added_instead_of_extending",
    )]);
    assert_eq!(token(&l.state_on("2021-09-16"), "T-1").status, "replaced");
}

#[test]
fn r20_replacement_for_another_reason_rejected() {
    let l = given_activated_token();
    l.assert_rejected(
        l.replace("2021-09-20", "T-1", "T-1R", "changed_my_mind"),
        20,
    );
}

#[test]
fn r20_second_replacement_of_the_same_token_rejected() {
    let l = given_activated_token();
    l.accept(&[l.replace("2021-09-20", "T-1", "T-1R", "wrong_tenant")]);
    l.assert_rejected(l.replace("2021-09-21", "T-1", "T-1S", "wrong_tenant"), 20);
}

#[test]
fn r20_replacement_of_a_replacement_rejected() {
    let l = given_activated_token();
    l.accept(&[
        l.replace("2021-09-20", "T-1", "T-1R", "wrong_tenant"),
        l.activate_token("2021-09-21", "T-1R", 25),
    ]);
    l.assert_rejected(l.replace("2021-09-22", "T-1R", "T-1S", "wrong_tenant"), 20);
}

#[test]
fn r20_replaced_original_cannot_be_activated() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.token("2021-09-10", "T-1", 25),
        l.activate_token("2021-09-15", "T-1", 25),
    ]);
    l.accept(&[l.replace("2021-09-20", "T-1", "T-1R", "wrong_tenant")]);
    // Also a second activation (R19); the fold cites R20, which names the replacement.
    let e = l.assert_rejected(l.activate_token("2021-09-21", "T-1", 25), 20);
    assert!(e.message.contains("T-1R"), "{}", e.message);
}

#[test]
fn r20_replacement_activated_under_the_original_terms_activate_by() {
    let l = ledger();
    // 2020-09-01: activate-by 2021-10-01.
    l.given_action_pack("2020-09-01");
    l.accept(&[
        l.token("2021-09-01", "T-1", 10),
        l.activate_token("2021-09-05", "T-1", 10),
    ]);
    l.accept(&[l.replace("2021-09-25", "T-1", "T-1R", "wrong_tenant")]);
    l.assert_rejected(l.activate_token("2021-10-02", "T-1R", 10), 19);
    l.accept(&[l.activate_token("2021-10-01", "T-1R", 10)]);
    let s = l.state_on("2021-10-01");
    let r = token(&s, "T-1R");
    assert_eq!(
        (
            r.status,
            r.activated.as_deref(),
            r.replacement_deadline.as_deref()
        ),
        ("activated", Some("2021-10-01"), None)
    );
}

// ================================================================================================
// R21 Product keys: fixed activations; same machine uses none unless hardware changed; no extras.

#[test]
fn r21_mak_activations_count_new_machines_and_changed_hardware() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.key("2021-09-05", "K-1", "mak", 3),
        l.activate_key("2021-09-06", "K-1", "srv-1"),
        l.activate_key("2021-09-06", "K-1", "srv-2"),
        l.activate_key("2021-09-07", "K-1", "srv-1"), // same machine: uses none
    ]);
    let s = l.state_on("2021-09-07");
    let k = key(&s, "K-1");
    assert_eq!(
        (
            k.activations_total,
            k.activations_used,
            k.activations_remaining,
            k.status
        ),
        (3, 2, 1, "usable")
    );
    l.accept(&[l.activate_key_hardware_changed("2021-09-08", "K-1", "srv-2")]);
    let k = key(&l.state_on("2021-09-08"), "K-1").clone();
    assert_eq!(
        (k.activations_used, k.activations_remaining, k.status),
        (3, 0, "exhausted")
    );
    // The same machine again, unchanged, still needs none.
    l.accept(&[l.activate_key("2021-09-09", "K-1", "srv-1")]);
}

#[test]
fn r21_activation_beyond_the_keys_number_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.key("2021-09-05", "K-1", "mak", 2),
        l.activate_key("2021-09-06", "K-1", "srv-1"),
        l.activate_key("2021-09-06", "K-1", "srv-2"),
    ]);
    l.assert_rejected(l.activate_key("2021-09-07", "K-1", "srv-3"), 21);
    l.assert_rejected(
        l.activate_key_hardware_changed("2021-09-07", "K-1", "srv-1"),
        21,
    );
}

#[test]
fn r21_single_key_has_exactly_one_activation() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.key("2021-09-05", "K-2", "single", 2), 21);
    l.accept(&[
        l.key("2021-09-05", "K-2", "single", 1),
        l.activate_key("2021-09-06", "K-2", "pc-1"),
    ]);
    assert_eq!(key(&l.state_on("2021-09-06"), "K-2").status, "exhausted");
    l.assert_rejected(l.activate_key("2021-09-07", "K-2", "pc-2"), 21);
}

#[test]
fn r21_keys_issued_and_activated_only_while_the_term_has_access() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    // AD 2022-09-01, window closes 2022-10-01 (AD+30): last day of access.
    l.accept(&[
        l.key("2022-10-01", "K-1", "mak", 3),
        l.activate_key("2022-10-01", "K-1", "srv-1"),
    ]);
    l.assert_rejected(l.key("2022-10-02", "K-2", "mak", 3), 21);
    l.assert_rejected(l.activate_key("2022-10-02", "K-1", "srv-2"), 21);
}

#[test]
fn r21_no_keys_from_a_learning_action_pack() {
    let l = ledger();
    l.accept(&[l.profile("2021-09-01"), l.purchase("2021-09-01", LAPS)]);
    l.assert_rejected(l.key("2021-09-05", "K-1", "mak", 3), 21);
}

// ================================================================================================
// R22 Visual Studio subscriptions: one user each, valid once assigned and activated; reassign
// 90 days after activation (or any time if never activated); professional only from action packs.

#[test]
fn r22_first_assignment_redeems_developer_tools_and_subscription_runs_to_its_expiry() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.assign("2021-09-03", "VS-1", "professional", "dev@contoso.com")]);
    let s = l.state_on("2021-09-03");
    let v = subscription(&s, "VS-1");
    assert_eq!(
        (v.status, v.expires.as_deref()),
        ("assigned", Some("2022-09-03"))
    );
    let b = benefit(&s, "2021-09-01", "developer_tools");
    assert_eq!(
        (b.status, b.unlocked.as_deref()),
        ("redeemed", Some("2021-09-03"))
    );
    l.accept(&[l.activate_vs("2021-09-04", "VS-1")]);
    assert_eq!(
        subscription(&l.state_on("2022-09-03"), "VS-1").status,
        "active"
    );
    assert_eq!(
        subscription(&l.state_on("2022-09-04"), "VS-1").status,
        "expired"
    );
}

#[test]
fn r22_action_pack_provides_three_professional_subscriptions() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.assign("2021-09-03", "VS-1", "professional", "a@contoso.com"),
        l.assign("2021-09-03", "VS-2", "professional", "b@contoso.com"),
        l.assign("2021-09-03", "VS-3", "professional", "c@contoso.com"),
    ]);
    assert_eq!(l.state_on("2021-09-03").vs_subscriptions.len(), 3);
    l.assert_rejected(
        l.assign("2021-09-04", "VS-4", "professional", "d@contoso.com"),
        22,
    );
}

#[test]
fn r22_enterprise_rejected_from_an_action_pack() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let e = l.assert_rejected(
        l.assign("2021-09-03", "VS-1", "enterprise", "dev@contoso.com"),
        22,
    );
    assert!(e.message.contains("solutions_partner"), "{}", e.message);
}

#[test]
fn r22_enterprise_accepted_from_a_package_term() {
    let l = ledger();
    l.given_solutions_partner("2022-01-10");
    l.accept(&[
        l.assign("2022-01-12", "VS-E", "enterprise", "lead@contoso.com"),
        l.activate_vs("2022-01-13", "VS-E"),
    ]);
    let s = l.state_on("2022-01-13");
    let v = subscription(&s, "VS-E");
    assert_eq!((v.level, v.status, v.offer), ("enterprise", "active", SP));
}

#[test]
fn r22_assigned_subscription_cannot_be_assigned_to_a_second_user() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.assign("2021-09-03", "VS-1", "professional", "a@contoso.com")]);
    l.assert_rejected(
        l.assign("2021-09-04", "VS-1", "professional", "b@contoso.com"),
        22,
    );
}

/// Given: Action Pack from 2021-09-01; VS-1 assigned 2021-09-10, activated 2021-09-15
/// (unassignable from 2021-12-14, activation + 90 days).
fn given_activated_subscription() -> Fixture {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.assign("2021-09-10", "VS-1", "professional", "a@contoso.com"),
        l.activate_vs("2021-09-15", "VS-1"),
    ]);
    l
}

#[test]
fn r22_unassign_rejected_89_days_after_activation() {
    let l = given_activated_subscription();
    let e = l.assert_rejected(l.unassign("2021-12-13", "VS-1"), 22);
    assert!(
        e.message.contains("2021-12-14"),
        "names the earliest day: {}",
        e.message
    );
}

#[test]
fn r22_unassign_accepted_90_days_after_activation_then_reassigned() {
    let l = given_activated_subscription();
    l.accept(&[l.unassign("2021-12-14", "VS-1")]);
    let v = subscription(&l.state_on("2021-12-14"), "VS-1").clone();
    assert_eq!(
        (v.status, v.unassigned.as_deref()),
        ("unassigned", Some("2021-12-14"))
    );
    l.accept(&[l.assign("2021-12-20", "VS-1", "professional", "b@contoso.com")]);
    let s = l.state_on("2021-12-20");
    let v = subscription(&s, "VS-1");
    assert_eq!(
        (
            v.status,
            v.user.as_str(),
            v.assigned.as_str(),
            v.activated.as_deref()
        ),
        ("assigned", "b@contoso.com", "2021-12-20", None)
    );
}

#[test]
fn r22_never_activated_subscription_can_be_unassigned_any_time() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.assign("2021-09-10", "VS-1", "professional", "a@contoso.com"),
        l.unassign("2021-09-11", "VS-1"),
    ]);
    l.accept(&[l.assign("2021-09-11", "VS-1", "professional", "b@contoso.com")]);
    assert_eq!(
        subscription(&l.state_on("2021-09-11"), "VS-1").user,
        "b@contoso.com"
    );
}

#[test]
fn r22_assignment_needs_the_term_to_have_access() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    // AD+30 = 2022-10-01 still has access; AD+31 has none.
    l.accept(&[l.assign("2022-10-01", "VS-1", "professional", "a@contoso.com")]);
    l.assert_rejected(
        l.assign("2022-10-02", "VS-2", "professional", "b@contoso.com"),
        22,
    );
}

// ================================================================================================
// R23 Redemption order: the redeemable term whose activate-by comes first.

#[test]
fn r23_redemption_uses_the_term_with_the_earliest_activate_by() {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    l.accept(&[l.profile("2024-03-05"), l.renew("2024-03-10", AP)]);
    l.accept(&[l.redeem("2024-03-15", "azure_credits")]);
    let s = l.state_on("2024-03-15");
    assert_eq!(
        benefit(&s, "2023-03-01", "azure_credits")
            .unlocked
            .as_deref(),
        Some("2024-03-15")
    );
    // Not the renewed term's, whose activate-by (2025-04-10) comes later.
    assert_eq!(
        benefit(&s, "2024-03-10", "azure_credits").status,
        "available"
    );
    l.accept(&[l.redeem("2024-03-20", "azure_credits")]);
    assert_eq!(
        benefit(&l.state_on("2024-03-20"), "2024-03-10", "azure_credits")
            .unlocked
            .as_deref(),
        Some("2024-03-20")
    );
}

#[test]
fn r23_across_lines_earliest_activate_by_unless_the_event_names_an_offer() {
    let l = ledger();
    l.given_solutions_partner("2023-01-10"); // activate-by 2024-02-10
    l.given_action_pack("2023-06-01"); // activate-by 2024-07-01
    l.accept(&[l.redeem("2023-06-05", "azure_credits")]);
    let s = l.state_on("2023-06-05");
    assert_eq!(
        benefit(&s, "2023-01-10", "azure_credits").status,
        "redeemed"
    );
    assert_eq!(
        benefit(&s, "2023-06-01", "azure_credits").status,
        "available"
    );
    let l = ledger();
    l.given_solutions_partner("2023-01-10");
    l.given_action_pack("2023-06-01");
    l.accept(&[l.redeem_from("2023-06-05", "azure_credits", AP)]);
    let s = l.state_on("2023-06-05");
    assert_eq!(
        benefit(&s, "2023-01-10", "azure_credits").status,
        "available"
    );
    assert_eq!(
        benefit(&s, "2023-06-01", "azure_credits").status,
        "redeemed"
    );
}

#[test]
fn r23_redemption_rejected_r17_once_every_terms_benefit_is_used() {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    l.accept(&[l.profile("2024-03-05"), l.renew("2024-03-10", AP)]);
    l.accept(&[
        l.redeem("2024-03-15", "azure_credits"),
        l.redeem("2024-03-16", "azure_credits"),
    ]);
    let e = l.assert_rejected(l.redeem("2024-03-17", "azure_credits"), 17);
    assert!(e.message.contains("already redeemed"), "{}", e.message);
}

// ================================================================================================
// R24 Licences are not perpetual: an obligation from the first day without on-premises access.

#[test]
fn r24_lapse_without_renewal_raises_the_uninstall_obligation() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.key("2021-09-05", "K-1", "mak", 3)]);
    let on_ad_plus_30 = l.state_on("2022-10-01");
    assert!(
        on_ad_plus_30.obligations.is_empty(),
        "{:#?}",
        on_ad_plus_30.obligations
    );
    assert_eq!(key(&on_ad_plus_30, "K-1").status, "usable");
    let s = l.state_on("2022-10-02");
    assert_eq!(s.obligations.len(), 1, "{:#?}", s.obligations);
    let o = &s.obligations[0];
    assert_eq!(
        (o.kind, o.since.as_str(), o.offer),
        ("uninstall_on_premises_software", "2022-10-02", AP)
    );
    assert_eq!(key(&s, "K-1").status, "unlicensed");
}

#[test]
fn r24_renewal_into_learning_action_pack_raises_the_obligation_on_the_renewal_date() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.key("2021-09-05", "K-1", "mak", 3),
        l.profile("2022-09-05"),
        l.renew("2022-09-10", LAPS),
    ]);
    assert!(l.state_on("2022-09-09").obligations.is_empty());
    let s = l.state_on("2022-09-10");
    let o = &s.obligations[0];
    assert_eq!((o.since.as_str(), o.offer), ("2022-09-10", AP));
    assert_eq!(key(&s, "K-1").status, "unlicensed");
}

#[test]
fn r24_renewal_into_an_offer_with_on_premises_software_carries_the_right_on() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.key("2021-09-05", "K-1", "mak", 3),
        l.profile("2022-09-05"),
        l.renew("2022-09-10", AP),
    ]);
    let s = l.state_on("2022-10-02");
    assert!(s.obligations.is_empty(), "{:#?}", s.obligations);
    assert_eq!(key(&s, "K-1").status, "usable");
    l.accept(&[l.activate_key("2022-10-02", "K-1", "srv-1")]);
}

#[test]
fn r24_obligation_ends_when_the_line_provides_on_premises_software_again() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.purchase("2022-11-01", AP)]);
    assert_eq!(l.state_on("2022-10-31").obligations.len(), 1);
    assert!(l.state_on("2022-11-01").obligations.is_empty());
}

#[test]
fn r24_key_activation_rejected_r21_once_the_licence_ended() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.key("2021-09-05", "K-1", "mak", 3),
        l.profile("2022-09-05"),
        l.renew("2022-09-10", LAPS),
    ]);
    let e = l.assert_rejected(l.activate_key("2022-09-10", "K-1", "srv-1"), 21);
    assert!(e.message.contains("R24"), "{}", e.message);
}

#[test]
fn r24_merged_non_governing_term_raises_no_obligation() {
    let l = given_merged();
    // contoso's own term (AD 2022-09-01) is merged since 2022-05-01; its window closed 2022-10-01.
    assert!(l.state_of(A, "2022-10-02").obligations.is_empty());
    // The governing term (fabrikam's, AD 2022-12-01) lapses unrenewed: the obligation is its.
    let s = l.state_of(A, "2023-01-01");
    assert_eq!(s.obligations.len(), 1, "{:#?}", s.obligations);
    assert_eq!(
        (
            s.obligations[0].since.as_str(),
            s.obligations[0].source.as_str()
        ),
        ("2023-01-01", B)
    );
}

// ================================================================================================
// R25 Access during the window: everything the term grants through AD + 30.

/// Given: Action Pack from 2023-03-01: AD 2024-03-01, window closes 2024-03-31 (AD+30),
/// activate-by 2024-04-01 (after the access ends, so access decides).
fn given_action_pack_2023() -> Fixture {
    let l = ledger();
    l.given_action_pack("2023-03-01");
    l.accept(&[l.token("2023-03-05", "T-1", 5)]);
    l
}

#[test]
fn r25_everything_accessible_on_anniversary_plus_30() {
    let l = given_action_pack_2023();
    l.accept(&[
        l.redeem("2024-03-31", "support_and_advisory"),
        l.activate_token("2024-03-31", "T-1", 5),
        l.key("2024-03-31", "K-1", "mak", 2),
        l.activate_key("2024-03-31", "K-1", "srv-1"),
        l.assign("2024-03-31", "VS-1", "professional", "a@contoso.com"),
    ]);
    let s = l.state_on("2024-03-31");
    assert_eq!(membership(&s, "action_pack").status, "in_renewal_window");
    assert_eq!(
        benefit(&s, "2023-03-01", "support_and_advisory").status,
        "redeemed"
    );
    assert_eq!(token(&s, "T-1").status, "activated");
    assert_eq!(key(&s, "K-1").status, "usable");
    assert_eq!(subscription(&s, "VS-1").status, "assigned");
}

#[test]
fn r25_nothing_accessible_on_anniversary_plus_31() {
    let l = given_action_pack_2023();
    l.assert_rejected(l.redeem("2024-04-01", "support_and_advisory"), 17);
    l.assert_rejected(l.activate_token("2024-04-01", "T-1", 5), 19);
    l.assert_rejected(l.token("2024-04-01", "T-2", 5), 19);
    l.assert_rejected(l.key("2024-04-01", "K-1", "mak", 2), 21);
    l.assert_rejected(
        l.assign("2024-04-01", "VS-1", "professional", "a@contoso.com"),
        22,
    );
}

// ================================================================================================
// R26 Merge: irreversible; B keeps only voids and back-dated events; A shows B's state.

#[test]
fn r26_absorbing_account_shows_the_absorbed_state_with_its_source() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-12-01").on(B),
        l.purchase("2021-12-01", AP).on(B),
        l.token("2021-12-05", "T-B", 10).on(B),
        l.qualify("2022-01-15", "security", 90).on(B),
    ]);
    l.accept(&[l.merge("2022-05-01", B)]);
    let s = l.state_of(A, "2022-05-01");
    assert_eq!(
        (s.absorbed[0].account.as_str(), s.absorbed[0].date.as_str()),
        (B, "2022-05-01")
    );
    let theirs = membership_from(&s, "action_pack", B);
    // Each with its own dates unchanged.
    assert_eq!(
        (theirs.start.as_str(), theirs.anniversary.as_str()),
        ("2021-12-01", "2022-12-01")
    );
    assert_eq!(token(&s, "T-B").source, B);
    assert_eq!(
        (
            s.designations[0].solution_area,
            s.designations[0].source.as_str()
        ),
        ("security", B)
    );
    let b = l.state_of(B, "2022-05-01");
    assert_eq!(
        (b.merged_into.as_deref(), b.merged_on.as_deref()),
        (Some(A), Some("2022-05-01"))
    );
    // Before M nothing of it shows.
    assert!(l.state_of(B, "2022-04-30").merged_into.is_none());
}

/// A merge and what follows it in one append: the session reads the accounts' staged events
/// back from the batch (which indexes them), and must see the merge exactly once.
#[test]
fn r26_merge_staged_in_the_same_append_as_later_events_accepted_as_in_separate_appends() {
    let one = ledger();
    let apart = ledger();
    let events = |l: &Fixture| {
        vec![
            vec![l.profile("2021-09-01"), l.purchase("2021-09-01", AP)],
            vec![
                l.profile("2021-12-01").on(B),
                l.purchase("2021-12-01", AP).on(B),
                l.token("2021-12-05", "T-B", 10).on(B),
            ],
            vec![l.merge("2022-05-01", B)],
            vec![
                l.redeem("2022-06-01", "azure_credits"),
                l.token("2022-01-10", "T-B2", 5).on(B),
            ],
        ]
    };
    let batches = events(&one);
    one.accept(&batches.concat());
    for batch in events(&apart) {
        apart.accept(&batch);
    }
    for (account, date) in [(A, "2022-06-01"), (B, "2022-06-01"), (A, "2022-04-30")] {
        assert_eq!(one.state_of(account, date), apart.state_of(account, date));
    }
    assert_eq!(token(&one.state_of(A, "2022-06-01"), "T-B2").source, B);
}

#[test]
fn r26_absorbed_account_rejects_new_events_from_the_merge_date() {
    let l = given_merged();
    let e = l.assert_rejected(l.redeem("2022-05-01", "azure_credits").on(B), 26);
    assert!(e.message.contains(A), "{}", e.message);
}

#[test]
fn r26_absorbed_account_accepts_back_dated_events_and_voids() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-12-01").on(B),
        l.purchase("2021-12-01", AP).on(B),
    ]);
    let wrong = l.redeem("2022-01-10", "azure_credits").on(B);
    let wrong_id = wrong.id;
    l.accept(&[wrong]);
    l.accept(&[l.merge("2022-05-01", B)]);
    // Dated before M, recorded after it: accepted.
    l.accept(&[l.redeem("2022-04-30", "support_and_advisory").on(B)]);
    // A void on B after M: accepted.
    l.accept(&[l.void("2022-06-01", wrong_id).on(B)]);
    let s = l.state_of(A, "2022-06-01");
    let mine = |kind: &str| {
        s.benefits
            .iter()
            .find(|x| x.source == B && x.benefit_type == kind)
            .map(|x| x.status)
            .unwrap_or_default()
    };
    assert_eq!(mine("azure_credits"), "available");
    assert_eq!(mine("support_and_advisory"), "redeemed");
}

#[test]
fn r26_account_cannot_absorb_itself() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.merge("2022-05-01", A), 26);
}

#[test]
fn r26_account_cannot_be_absorbed_twice() {
    let l = given_merged();
    l.accept(&[l.profile("2021-01-01").on(C)]);
    l.assert_rejected(l.merge("2022-06-01", B).on(C), 26);
    l.assert_rejected(l.merge("2022-06-01", B), 26);
}

#[test]
fn r26_absorbed_account_cannot_absorb_back_or_absorb_others() {
    let l = given_merged();
    l.accept(&[l.profile("2021-01-01").on(C)]);
    l.assert_rejected(l.merge("2022-06-01", A).on(B), 26);
    l.assert_rejected(l.merge("2022-06-01", C).on(B), 26);
}

#[test]
fn r26_unknown_account_cannot_be_absorbed() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.merge("2022-05-01", "nobody"), 26);
}

#[test]
fn r26_merge_cannot_be_voided() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-12-01").on(B),
        l.purchase("2021-12-01", AP).on(B),
    ]);
    let merge = l.merge("2022-05-01", B);
    let merge_id = merge.id;
    l.accept(&[merge]);
    l.assert_rejected(l.void("2022-06-01", merge_id), 26);
}

#[test]
fn r26_merge_dated_on_an_absorbed_accounts_event_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-12-01").on(B),
        l.purchase("2021-12-01", AP).on(B),
        l.redeem("2022-05-01", "azure_credits").on(B),
    ]);
    // B has an event on M itself: from M on it accepts no new events.
    let e = l.assert_rejected(l.merge("2022-05-01", B), 26);
    assert!(e.message.contains("2022-05-01"), "{}", e.message);
    l.accept(&[l.merge("2022-05-02", B)]);
}

#[test]
fn r26_merge_dated_before_an_absorbed_accounts_later_event_rejected_r29() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-12-01").on(B),
        l.purchase("2021-12-01", AP).on(B),
    ]);
    let later = l.redeem("2022-06-01", "azure_credits").on(B);
    let later_id = later.id;
    l.accept(&[later]);
    // The merge is back-dated relative to B's recorded event, which it would put after M:
    // R29, naming that event and the R26 it would break.
    let e = l.assert_rejected(l.merge("2022-05-01", B), 29);
    assert!(
        e.message.contains(&later_id.to_string()) && e.message.contains("R26"),
        "{}",
        e.message
    );
}

// ================================================================================================
// R27 Merged anniversary: one governing term per line; the other shows `merged`.

#[test]
fn r27_action_pack_with_the_later_anniversary_governs() {
    let l = given_merged();
    let s = l.state_of(A, "2022-05-01");
    let own = membership_from(&s, "action_pack", A);
    let theirs = membership_from(&s, "action_pack", B);
    assert_eq!(
        (own.status, own.anniversary.as_str()),
        ("merged", "2022-09-01")
    );
    assert_eq!(
        (theirs.status, theirs.anniversary.as_str()),
        ("active", "2022-12-01")
    );
    // The governing term's window is A's: renewing then gives A one new term.
    l.accept(&[l.profile("2022-12-01"), l.renew("2022-12-10", AP)]);
    let s = l.state_of(A, "2022-12-10");
    // The merged term stays listed as `merged`; the renewed governing term is no longer current.
    assert!(
        s.memberships.iter().all(|m| m.source == A),
        "{:#?}",
        s.memberships
    );
    let new = s
        .memberships
        .iter()
        .find(|m| m.status != "merged")
        .expect("the new term");
    assert_eq!(
        (new.status, new.start.as_str(), new.anniversary.as_str()),
        ("active", "2022-12-10", "2023-12-10")
    );
}

#[test]
fn r27_non_governing_term_cannot_be_renewed_r8() {
    let l = given_merged();
    l.accept(&[l.profile("2022-08-01")]);
    // A's own window 2022-09-02 … 2022-10-01: its term is merged, the governing AD is 2022-12-01.
    l.assert_rejected(l.renew("2022-09-10", AP), 8);
    // The merged term keeps its own dates and benefits.
    let s = l.state_of(A, "2022-09-10");
    assert_eq!(membership_from(&s, "action_pack", A).status, "merged");
}

#[test]
fn r27_solutions_partner_governs_over_a_legacy_package() {
    let l = ledger();
    l.accept(&[l.purchase("2022-01-10", GOLD)]);
    l.accept(&[
        l.qualify("2021-12-01", "data_and_ai", 80).on(B),
        l.purchase("2021-12-15", SP).on(B),
    ]);
    l.accept(&[l.merge("2022-06-01", B)]);
    let s = l.state_of(A, "2022-06-01");
    // SP governs although its anniversary (2022-12-15) is earlier than gold's (2023-01-10).
    assert_eq!(membership_from(&s, "package", B).status, "active");
    assert_eq!(membership_from(&s, "package", A).status, "merged");
}

#[test]
fn r27_equal_anniversaries_own_term_governs() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2021-09-01").on(B),
        l.purchase("2021-09-01", AP).on(B),
    ]);
    l.accept(&[l.merge("2022-05-01", B)]);
    let s = l.state_of(A, "2022-05-01");
    assert_eq!(membership_from(&s, "action_pack", A).status, "active");
    assert_eq!(membership_from(&s, "action_pack", B).status, "merged");
}

#[test]
fn r27_expired_absorbed_term_does_not_compete_and_stays_expired() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.profile("2020-05-01").on(B),
        l.purchase("2020-06-01", AP).on(B),
    ]); // lapsed 2021-07-02
    l.accept(&[l.merge("2021-10-01", B)]);
    let s = l.state_of(A, "2021-10-01");
    assert_eq!(membership_from(&s, "action_pack", A).status, "active");
    assert_eq!(membership_from(&s, "action_pack", B).status, "expired");
}

#[test]
fn r27_expired_own_term_does_not_compete() {
    let l = ledger();
    l.given_action_pack("2020-06-01"); // lapsed 2021-07-02
    l.accept(&[
        l.profile("2021-09-01").on(B),
        l.purchase("2021-09-01", AP).on(B),
    ]);
    l.accept(&[l.merge("2021-10-01", B)]);
    let s = l.state_of(A, "2021-10-01");
    assert_eq!(membership_from(&s, "action_pack", B).status, "active");
    // Ambiguous whether A's lapsed term is still listed; if it is, it is expired, not merged.
    assert!(
        s.memberships
            .iter()
            .filter(|m| m.source == A)
            .all(|m| m.status == "expired"),
        "{:#?}",
        s.memberships
    );
}

#[test]
fn r27_solution_areas_are_combined_on_the_governing_term() {
    let l = ledger();
    l.accept(&[
        l.qualify("2022-01-01", "modern_work", 80),
        l.purchase("2022-01-10", SP),
    ]);
    l.accept(&[
        l.qualify("2022-02-01", "security", 90).on(B),
        l.purchase("2022-02-10", SP).on(B),
    ]);
    l.accept(&[l.merge("2022-06-01", B)]);
    let s = l.state_of(A, "2022-06-01");
    let governing = membership_from(&s, "package", B);
    assert_eq!(
        (governing.status, governing.anniversary.as_str()),
        ("active", "2023-02-10")
    );
    assert_eq!(governing.solution_areas, vec!["modern_work", "security"]);
    assert_eq!(membership_from(&s, "package", A).status, "merged");
}

// ================================================================================================
// R28 Void: projections ignore the voided event from the void's recording time on.

#[test]
fn r28_voided_event_ignored_from_the_voids_recording_time() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let wrong = l.redeem("2021-09-10", "azure_credits");
    let wrong_id = wrong.id;
    l.accept(&[wrong]);
    let void = l.void("2021-09-20", wrong_id);
    let void_at = void.recorded_at;
    l.accept(&[void]);
    assert_eq!(
        benefit(&l.state_on("2021-09-20"), "2021-09-01", "azure_credits").status,
        "available"
    );
    // Known just before the void was recorded: the redemption still counts.
    let before = l.state_known_at("2021-09-20", void_at - Duration::seconds(1));
    assert_eq!(
        benefit(&before, "2021-09-01", "azure_credits")
            .unlocked
            .as_deref(),
        Some("2021-09-10")
    );
    // The correction: the benefit can now be redeemed on its real date.
    l.accept(&[l.redeem("2021-09-12", "azure_credits")]);
    assert_eq!(
        benefit(&l.state_on("2021-09-20"), "2021-09-01", "azure_credits")
            .unlocked
            .as_deref(),
        Some("2021-09-12")
    );
}

/// Validation goes on from the void's refold: events after a void in the same append are
/// checked against the history without the voided event, both ways.
#[test]
fn r28_events_after_a_void_in_the_same_append_see_the_history_without_the_voided_event() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let wrong = l.redeem("2021-09-10", "azure_credits");
    let void = l.void("2021-09-20", wrong.id);
    l.accept(&[wrong, void, l.redeem("2021-09-25", "azure_credits")]);
    assert_eq!(
        benefit(&l.state_on("2021-09-30"), "2021-09-01", "azure_credits")
            .unlocked
            .as_deref(),
        Some("2021-09-25")
    );
    let again = ledger();
    again.given_action_pack("2021-09-01");
    let wrong = again.redeem("2021-09-10", "azure_credits");
    let void = again.void("2021-09-20", wrong.id);
    let e = again.assert_batch_rejected(
        &[
            wrong,
            void,
            again.redeem("2021-09-25", "azure_credits"),
            again.redeem("2021-09-26", "azure_credits"),
        ],
        &[(4, Some(17))],
    );
    assert!(
        e[0].message.contains("already redeemed"),
        "{}",
        e[0].message
    );
}

#[test]
fn r28_void_of_a_void_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let wrong = l.redeem("2021-09-10", "azure_credits");
    let void = l.void("2021-09-20", wrong.id);
    let void_id = void.id;
    l.accept(&[wrong, void]);
    l.assert_rejected(l.void("2021-09-21", void_id), 28);
}

#[test]
fn r28_void_of_an_unknown_event_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.assert_rejected(l.void("2021-09-21", Uuid::new_v4()), 28);
}

#[test]
fn r28_void_of_an_already_voided_event_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let wrong = l.redeem("2021-09-10", "azure_credits");
    let wrong_id = wrong.id;
    l.accept(&[wrong, l.void("2021-09-20", wrong_id)]);
    l.assert_rejected(l.void("2021-09-21", wrong_id), 28);
}

#[test]
fn r28_void_recorded_on_another_account_rejected() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    let wrong = l.redeem("2021-09-10", "azure_credits");
    let wrong_id = wrong.id;
    l.accept(&[wrong, l.profile("2021-01-01").on(B)]);
    l.assert_rejected(l.void("2021-09-21", wrong_id).on(B), 28);
}

#[test]
fn r28_void_that_breaks_the_remaining_history_rejected_naming_the_broken_event() {
    let l = ledger();
    let profile = l.profile("2021-09-01");
    let profile_id = profile.id;
    let purchase = l.purchase("2021-09-01", AP);
    let purchase_id = purchase.id;
    l.accept(&[profile, purchase]);
    // Without the profile the first Action Pack purchase breaks R10.
    let e = l.assert_rejected(l.void("2021-09-20", profile_id), 28);
    assert!(
        e.message.contains(&purchase_id.to_string()),
        "{}",
        e.message
    );
}

// ================================================================================================
// R29 Back-dated events: accepted only if the whole history still holds; the message names the
// later event that would break.

#[test]
fn r29_back_dated_purchase_rejected_when_it_breaks_a_later_purchase() {
    let l = ledger();
    l.accept(&[l.profile("2020-11-01")]);
    let later = l.purchase("2022-01-10", AP);
    let later_id = later.id;
    l.accept(&[later]);
    // Dated 2021-06-01, it would run to 2022-06-01 and make the 2022-01-10 purchase break R11.
    let e = l.assert_rejected(l.purchase("2021-06-01", AP), 29);
    assert!(
        e.message.contains(&later_id.to_string()),
        "names the later event: {}",
        e.message
    );
    assert!(e.message.contains("R11"), "{}", e.message);
}

#[test]
fn r29_back_dated_purchase_accepted_when_later_events_still_hold() {
    let l = ledger();
    l.accept(&[l.profile("2020-11-01"), l.purchase("2022-01-10", AP)]);
    // 2020-12-01: AD 2021-12-01, lapsed from 2022-01-01, before the later purchase.
    l.accept(&[l.purchase("2020-12-01", AP)]);
    let earlier = l.state_on("2021-06-01");
    assert_eq!(
        (
            membership(&earlier, "action_pack").start.as_str(),
            membership(&earlier, "action_pack").status
        ),
        ("2020-12-01", "active")
    );
    let later = l.state_on("2022-01-10");
    assert_eq!(membership(&later, "action_pack").start, "2022-01-10");
}

#[test]
fn r29_back_dated_activation_rejected_when_it_breaks_a_later_unassignment() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[l.assign("2021-09-10", "VS-1", "professional", "a@contoso.com")]);
    let unassign = l.unassign("2021-10-01", "VS-1");
    let unassign_id = unassign.id;
    l.accept(&[unassign]);
    // Activated 2021-09-15, the unassignment of 2021-10-01 would come before 2021-12-14 (R22).
    let e = l.assert_rejected(l.activate_vs("2021-09-15", "VS-1"), 29);
    assert!(
        e.message.contains(&unassign_id.to_string()),
        "names the later event: {}",
        e.message
    );
}

#[test]
fn r29_back_dated_activation_accepted_when_the_unassignment_is_90_days_later() {
    let l = ledger();
    l.given_action_pack("2021-09-01");
    l.accept(&[
        l.assign("2021-09-10", "VS-1", "professional", "a@contoso.com"),
        l.unassign("2021-12-14", "VS-1"),
    ]);
    l.accept(&[l.activate_vs("2021-09-15", "VS-1")]);
    let v = subscription(&l.state_on("2021-12-14"), "VS-1").clone();
    assert_eq!(
        (v.status, v.activated.as_deref(), v.unassigned.as_deref()),
        ("unassigned", Some("2021-09-15"), Some("2021-12-14"))
    );
}

#[test]
fn r29_back_dated_event_breaking_its_own_rule_cites_that_rule() {
    let l = ledger();
    l.accept(&[l.profile("2021-05-01"), l.purchase("2022-01-10", AP)]);
    // Dated before any verified profile, the back-dated purchase would be the first: R10 itself.
    l.assert_rejected(l.purchase("2020-12-01", AP), 10);
}

// ================================================================================================
// R30 Catalog: offers, quantities and constants are data with an effective date.

fn catalog_with_action_pack_sales_ending() -> Catalog {
    let mut catalog: Value =
        serde_json::from_str(DEFAULT_CATALOG).expect("default catalog is JSON");
    let mut later = catalog["versions"][0].clone();
    later["effective"] = json!("2025-01-22");
    later["offers"]["action_pack"]["sale_ends"] = json!("2025-01-21");
    catalog["versions"]
        .as_array_mut()
        .expect("versions")
        .push(later);
    Catalog::parse(&catalog.to_string()).expect("catalog parses")
}

#[test]
fn r30_default_catalog_keeps_selling_action_packs_after_2025_01_21() {
    let l = ledger();
    l.accept(&[l.profile("2025-02-01"), l.purchase("2025-02-01", AP)]);
    assert_eq!(
        membership(&l.state_on("2025-02-01"), "action_pack").status,
        "active"
    );
}

#[test]
fn r30_catalog_version_ending_action_pack_sales_accepts_the_last_day() {
    let l = ledger_with(catalog_with_action_pack_sales_ending());
    l.accept(&[l.profile("2025-01-21"), l.purchase("2025-01-21", AP)]);
    assert_eq!(
        membership(&l.state_on("2025-01-21"), "action_pack").start,
        "2025-01-21"
    );
}

#[test]
fn r30_catalog_version_ending_action_pack_sales_rejects_later_purchase_and_renewal() {
    let l = ledger_with(catalog_with_action_pack_sales_ending());
    l.accept(&[l.profile("2024-01-15")]);
    l.assert_rejected(l.purchase("2025-01-22", AP), 30);
    l.accept(&[l.purchase("2024-01-15", AP), l.profile("2025-01-20")]);
    // AD 2025-01-15, window 2025-01-16 … 2025-02-14: a renewal after the sale's end is rejected.
    l.assert_rejected(l.renew("2025-01-22", AP), 30);
    l.accept(&[l.renew("2025-01-21", AP)]);
}

#[test]
fn r30_program_constants_come_from_the_catalog() {
    let mut catalog: Value =
        serde_json::from_str(DEFAULT_CATALOG).expect("default catalog is JSON");
    catalog["versions"][0]["constants"]["window_days"] = json!(60);
    let l = ledger_with(Catalog::parse(&catalog.to_string()).expect("catalog parses"));
    l.given_action_pack("2020-09-01");
    let s = l.state_on("2021-10-15");
    let m = membership(&s, "action_pack");
    assert_eq!(
        (m.status, m.renewal_window.closes.as_str()),
        ("in_renewal_window", "2021-10-31")
    );
    l.accept(&[l.profile("2021-10-01"), l.renew("2021-10-15", AP)]);
    // With the default catalog the same renewal is past the window.
    let default = ledger();
    default.given_action_pack("2020-09-01");
    default.accept(&[default.profile("2021-10-01")]);
    default.assert_rejected(default.renew("2021-10-15", AP), 9);
}

// ================================================================================================
// Contract: append behaviours at the library level.

#[test]
fn contract_rejected_event_mid_batch_rejects_the_whole_batch_with_one_error_per_rejected_event() {
    let l = ledger();
    let before = l.head();
    let errors = l.assert_batch_rejected(
        &[
            l.profile("2021-08-01"),
            l.purchase("2021-09-01", AP),
            l.purchase("2021-09-05", AP), // R11: the line's term is active
            l.redeem("2021-09-10", "azure_credits"),
            l.renew("2021-09-20", AP), // R8: window not open
        ],
        &[(3, Some(11)), (5, Some(8))],
    );
    assert_eq!(l.head(), before);
    assert!(
        errors.iter().all(|e| e.event.is_some()),
        "each error names its event"
    );
    assert!(
        l.state_on("2021-09-10").memberships.is_empty(),
        "nothing of the batch was written"
    );
}

#[test]
fn contract_after_a_rejected_event_the_rest_is_checked_as_if_it_were_absent() {
    let l = ledger();
    // Without the rejected purchase (no profile, R10), the redemption has no term at all (R5).
    l.assert_batch_rejected(
        &[
            l.purchase("2021-09-01", AP),
            l.redeem("2021-09-10", "azure_credits"),
            l.profile("2021-09-11"),
        ],
        &[(1, Some(10)), (2, Some(5))],
    );
    assert_eq!(l.head().seq, 0);
}

#[test]
fn contract_idempotent_re_append_of_the_same_lines_is_a_no_op() {
    let l = ledger();
    let events = [l.profile("2021-08-01"), l.purchase("2021-09-01", AP)];
    let first = l.accept(&events);
    assert_eq!((first.first_seq, first.last_seq), (Some(1), Some(2)));
    let head = l.head();
    let again = l
        .append(&events)
        .expect("the same lines again are accepted");
    assert_eq!(again.appended, 0);
    assert_eq!(again.already_present, vec![(1, 1), (2, 2)]);
    assert_eq!(l.head(), head, "nothing new written");
}

/// Ids that share their last 8 bytes (the session's staged-id map keys on them) are still
/// told apart: both are appended, and a repeat of either in the same batch is found.
#[test]
fn contract_ids_sharing_their_last_8_bytes_are_told_apart_within_a_batch() {
    let l = ledger();
    let first = l.profile("2021-08-01");
    let mut second = l.purchase("2021-09-01", AP);
    let mut bytes = *second.id.as_bytes();
    bytes[8..].copy_from_slice(&first.id.as_bytes()[8..]);
    second.id = Uuid::from_bytes(bytes);
    assert_ne!(first.id, second.id);
    let report = l
        .append(&[first.clone(), second.clone(), second.clone(), first.clone()])
        .expect("accepted");
    assert_eq!(report.appended, 2);
    assert_eq!(report.already_present, vec![(3, 2), (4, 1)]);
}

#[test]
fn contract_same_id_with_different_content_rejected() {
    let l = ledger();
    l.accept(&[l.profile("2021-08-01")]);
    let purchase = l.purchase("2021-09-01", AP);
    l.accept(std::slice::from_ref(&purchase));
    let mut changed = purchase;
    changed.date = "2021-09-02".to_string();
    let errors = l.assert_batch_rejected(&[changed], &[(1, None)]);
    assert!(
        errors[0].message.contains("different content"),
        "{}",
        errors[0].message
    );
}

#[test]
fn contract_expected_version_must_match_the_accounts_version() {
    let l = ledger();
    l.accept(&[l.profile("2021-08-01").expecting_version(0)]);
    let errors = l.assert_batch_rejected(
        &[l.purchase("2021-09-01", AP).expecting_version(0)],
        &[(1, None)],
    );
    assert!(
        errors[0].message.contains("conflict"),
        "{}",
        errors[0].message
    );
    // In one batch each line sees the versions of the lines before it.
    l.accept(&[
        l.purchase("2021-09-01", AP).expecting_version(1),
        l.redeem("2021-09-02", "azure_credits").expecting_version(2),
    ]);
    // Another account's version is its own.
    l.accept(&[l.profile("2021-08-01").on(B).expecting_version(0)]);
    assert_eq!(l.head().seq, 4);
}

#[test]
fn contract_recorded_at_never_goes_backwards() {
    let l = ledger();
    let early = l.profile("2021-08-01");
    let late = l.profile("2021-08-02");
    l.accept(&[late]);
    let errors = l.assert_batch_rejected(&[early], &[(1, None)]);
    assert!(
        errors[0].message.contains("never goes backwards"),
        "{}",
        errors[0].message
    );
}
