//! `history`, `diff` and `upcoming`: read-only queries over the stored ledger, built from the
//! same fold and projection as `state` (so they can never disagree with it).
//!
//! - `history` folds the account's events one at a time and diffs the projection just before
//!   and just after each one, on its business date: what *that event* changed, not what time
//!   did meanwhile.
//! - `diff` compares two projections ([`diff_views`]) section by section, by a stable key per
//!   item (a benefit is its type, offer, term start and source), field by field.
//! - `upcoming` folds every account in turn (one state in memory at a time) and lists the
//!   deadlines that fall in a range of days.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::cli::{write_stdout, Exit};
use crate::domain::calendar::{add_days, add_months};
use crate::domain::state::{prepare_stream, Context, Mode, State, StreamMap};
use crate::domain::view::{project, DateText, StateView};
use crate::event::{format_date, format_instant, Account, BenefitType, Body, Date, StoredEvent};
use crate::ledger::Ledger;
use crate::render::table;

/// Longest `--within` accepted, in days (a century): deadlines are dates, not a stream.
pub const MAX_WITHIN_DAYS: u32 = 36_525;

// ------------------------------------------------------------------------------------------------
// Changes between two projections

/// One difference between two projections of an account.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    /// The `state --json` section (`memberships`, `benefits`, …, or `account`).
    pub section: &'static str,
    /// Which item of the section, e.g. `azure_credits (action_pack 2024-01-05)`.
    pub key: String,
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    /// The field that changed (null for an added or removed item).
    pub field: Option<String>,
    /// Old value (the whole item when removed, null when added).
    pub from: Value,
    /// New value (the whole item when added, null when removed).
    pub to: Value,
}

/// What changed from `before` to `after`, section by section in the contract's order; within
/// an item, its status first.
pub fn diff_views(before: &StateView, after: &StateView) -> Vec<Change> {
    let account = &after.account;
    let mut changes = Vec::new();
    let text = |d: &Option<DateText>| d.map(|d| d.to_string());
    for (field, old, new) in [
        (
            "merged_into",
            before.merged_into.clone(),
            after.merged_into.clone(),
        ),
        ("merged_on", text(&before.merged_on), text(&after.merged_on)),
        (
            "profile_verified",
            text(&before.profile_verified),
            text(&after.profile_verified),
        ),
    ] {
        if old != new {
            changes.push(Change {
                section: "account",
                key: account.clone(),
                change: "changed",
                field: Some(field.to_string()),
                from: opt(&old),
                to: opt(&new),
            });
        }
    }
    let sections: [(&'static str, Keyed, Keyed); 8] = [
        (
            "absorbed",
            keyed(&before.absorbed, account),
            keyed(&after.absorbed, account),
        ),
        (
            "designations",
            keyed(&before.designations, account),
            keyed(&after.designations, account),
        ),
        (
            "memberships",
            keyed(&before.memberships, account),
            keyed(&after.memberships, account),
        ),
        (
            "benefits",
            keyed(&before.benefits, account),
            keyed(&after.benefits, account),
        ),
        (
            "tokens",
            keyed(&before.tokens, account),
            keyed(&after.tokens, account),
        ),
        (
            "product_keys",
            keyed(&before.product_keys, account),
            keyed(&after.product_keys, account),
        ),
        (
            "vs_subscriptions",
            keyed(&before.vs_subscriptions, account),
            keyed(&after.vs_subscriptions, account),
        ),
        (
            "obligations",
            keyed(&before.obligations, account),
            keyed(&after.obligations, account),
        ),
    ];
    for (section, old, new) in sections {
        diff_section(section, &old, &new, &mut changes);
    }
    changes
}

/// A section's items with their keys, in the view's order.
type Keyed = Vec<(String, Value)>;

fn opt(v: &Option<String>) -> Value {
    v.as_ref().map_or(Value::Null, |s| Value::String(s.clone()))
}

/// Items of a section as JSON objects with their keys. A key repeated within one view (it
/// should not be) gets a `#n` suffix so nothing is silently merged.
fn keyed<T: Serialize>(items: &[T], account: &str) -> Keyed {
    let mut seen: HashMap<String, usize> = HashMap::new();
    items
        .iter()
        .filter_map(|item| serde_json::to_value(item).ok())
        .map(|value| {
            let base = item_key(&value, account);
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            let key = if *n > 1 { format!("{base} #{n}") } else { base };
            (key, value)
        })
        .collect()
}

fn field<'v>(v: &'v Value, name: &str) -> &'v str {
    v.get(name).and_then(Value::as_str).unwrap_or("")
}

/// The stable identity of an item across dates: what a person would call it.
fn item_key(v: &Value, account: &str) -> String {
    let source = field(v, "source");
    let from = if source.is_empty() || source == account {
        String::new()
    } else {
        format!(" from {source}")
    };
    let base = if v.get("benefits").is_some() || v.get("renewal_window").is_some() {
        format!("{} {}", field(v, "offer"), field(v, "start"))
    } else if v.get("term_start").is_some() {
        format!(
            "{} ({} {})",
            field(v, "type"),
            field(v, "offer"),
            field(v, "term_start")
        )
    } else if v.get("token").is_some() {
        field(v, "token").to_string()
    } else if v.get("key").is_some() {
        field(v, "key").to_string()
    } else if v.get("subscription").is_some() {
        field(v, "subscription").to_string()
    } else if v.get("solution_area").is_some() {
        format!("{} {}", field(v, "solution_area"), field(v, "qualified"))
    } else if v.get("kind").is_some() {
        format!(
            "{} ({} {})",
            field(v, "kind"),
            field(v, "offer"),
            field(v, "line")
        )
    } else {
        field(v, "account").to_string()
    };
    format!("{base}{from}")
}

fn diff_section(
    section: &'static str,
    old: &[(String, Value)],
    new: &[(String, Value)],
    out: &mut Vec<Change>,
) {
    let old_by_key: HashMap<&str, &Value> = old.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let new_by_key: HashMap<&str, &Value> = new.iter().map(|(k, v)| (k.as_str(), v)).collect();
    for (key, value) in new {
        match old_by_key.get(key.as_str()) {
            None => out.push(Change {
                section,
                key: key.clone(),
                change: "added",
                field: None,
                from: Value::Null,
                to: value.clone(),
            }),
            Some(before) => diff_fields(section, key, before, value, out),
        }
    }
    for (key, value) in old {
        if !new_by_key.contains_key(key.as_str()) {
            out.push(Change {
                section,
                key: key.clone(),
                change: "removed",
                field: None,
                from: value.clone(),
                to: Value::Null,
            });
        }
    }
}

fn diff_fields(
    section: &'static str,
    key: &str,
    before: &Value,
    after: &Value,
    out: &mut Vec<Change>,
) {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return;
    };
    let mut names: Vec<&String> = a
        .keys()
        .chain(b.keys().filter(|k| !a.contains_key(*k)))
        .collect();
    // Status changes are what people look for first.
    names.sort_by_key(|n| (n.as_str() != "status", n.as_str()));
    names.dedup();
    for name in names {
        let (from, to) = (
            b.get(name).unwrap_or(&Value::Null),
            a.get(name).unwrap_or(&Value::Null),
        );
        if from != to {
            out.push(Change {
                section,
                key: key.to_string(),
                change: "changed",
                field: Some(name.clone()),
                from: from.clone(),
                to: to.clone(),
            });
        }
    }
}

/// A JSON value as a person reads it: strings bare, null as `-`.
fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The changes of one event in a few words ("started action_pack term 2024-01-05 ..
/// 2025-01-05; provided azure_credits, …; redeemed azure_credits (…) (expires …)").
pub fn describe_changes(changes: &[Change]) -> String {
    let mut phrases: Vec<String> = Vec::new();
    let mut provided: Vec<(String, Vec<String>)> = Vec::new();
    let mut i = 0;
    while i < changes.len() {
        let c = &changes[i];
        let same_item = changes[i..]
            .iter()
            .take_while(|x| x.section == c.section && x.key == c.key)
            .count();
        let item = &changes[i..i + same_item];
        i += same_item;
        if c.section == "benefits" && c.change == "added" {
            let term = format!("{} {}", field(&c.to, "offer"), field(&c.to, "term_start"));
            let kind = field(&c.to, "type").to_string();
            match provided.iter_mut().find(|(t, _)| *t == term) {
                Some((_, kinds)) => kinds.push(kind),
                None => provided.push((term, vec![kind])),
            }
            continue;
        }
        phrases.push(describe_item(item));
    }
    for (term, kinds) in provided {
        phrases.push(format!("provided {} ({term})", kinds.join(", ")));
    }
    phrases.join("; ")
}

/// One item's changes (all of the same section and key) in words.
fn describe_item(item: &[Change]) -> String {
    let Some(c) = item.first() else {
        return String::new();
    };
    let v = &c.to;
    match (c.section, c.change) {
        ("memberships", "added") => format!(
            "started {} term {} .. {}",
            field(v, "offer"),
            field(v, "start"),
            field(v, "anniversary")
        ),
        ("memberships", "removed") => format!("{} term no longer current", c.key),
        ("designations", "added") => format!(
            "qualified {} (score {})",
            field(v, "solution_area"),
            v.get("score").map(text).unwrap_or_default()
        ),
        ("tokens", "added") => format!(
            "issued token {} ({} seats of {})",
            c.key,
            v.get("seats").map(text).unwrap_or_default(),
            field(v, "product")
        ),
        ("product_keys", "added") => format!(
            "issued {} key {} ({} activations)",
            field(v, "kind"),
            c.key,
            v.get("activations_total").map(text).unwrap_or_default()
        ),
        ("vs_subscriptions", "added") => {
            format!(
                "assigned {} {} to {}",
                field(v, "level"),
                c.key,
                field(v, "user")
            )
        }
        ("obligations", "added") => {
            format!("owes {} since {}", field(v, "kind"), field(v, "since"))
        }
        ("absorbed", "added") => {
            format!("absorbed {} on {}", field(v, "account"), field(v, "date"))
        }
        ("account", _) => item
            .iter()
            .map(|c| {
                format!(
                    "{} {} -> {}",
                    c.field.as_deref().unwrap_or(""),
                    text(&c.from),
                    text(&c.to)
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
        (_, "added") => format!("added {} {}", c.section, c.key),
        (_, "removed") => format!("removed {} {}", c.section, c.key),
        _ => describe_field_changes(item),
    }
}

/// `key: status a -> b (expires …)`, or `key: field a -> b, …` when the status holds.
fn describe_field_changes(item: &[Change]) -> String {
    let Some(c) = item.first() else {
        return String::new();
    };
    let status = item.iter().find(|x| x.field.as_deref() == Some("status"));
    match status {
        Some(s) => {
            let expires = item
                .iter()
                .find(|x| x.field.as_deref() == Some("expires") && !x.to.is_null())
                .map(|x| format!(" (expires {})", text(&x.to)))
                .unwrap_or_default();
            format!("{}: {} -> {}{expires}", c.key, text(&s.from), text(&s.to))
        }
        None => {
            let fields: Vec<String> = item
                .iter()
                .map(|x| {
                    format!(
                        "{} {} -> {}",
                        x.field.as_deref().unwrap_or(""),
                        text(&x.from),
                        text(&x.to)
                    )
                })
                .collect();
            format!("{}: {}", c.key, fields.join(", "))
        }
    }
}

// ------------------------------------------------------------------------------------------------
// history

/// One event of an account's history, with what it changed.
#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub seq: u64,
    pub id: String,
    pub account: String,
    pub date: String,
    pub recorded_at: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: Value,
    /// The data in a few words.
    pub description: String,
    /// What the event changed in the state on its date (empty for voided events and voids).
    pub changes: Vec<Change>,
    /// `changes` in a few words.
    pub changed: String,
    /// Set when a later void removed this event (R28).
    pub voided: Option<VoidNote>,
    /// Set when the event breaks a rule under the catalog in use and the fold skipped it.
    pub skipped: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VoidNote {
    pub by: String,
    pub reason: String,
    pub recorded_at: String,
}

/// `history ACCOUNT [--from] [--to]`: the account's events (its own, and merges that absorbed
/// it) in business-date order (R2: date, then seq), each with what it changed.
pub fn history(
    ledger: &Ledger<'_>,
    account: &Account,
    from: Option<Date>,
    to: Option<Date>,
    json: bool,
) -> Result<(), Exit> {
    let entries = history_entries(ledger, account, from, to)?;
    if json {
        let text = serde_json::to_string_pretty(&entries).map_err(|e| Exit {
            code: 1,
            message: Some(e.to_string()),
        })?;
        return write_stdout(&(text + "\n"));
    }
    if entries.is_empty() {
        return write_stdout(&format!("{account}: no events in the range\n"));
    }
    let rows: Vec<Vec<String>> = entries.iter().map(history_row).collect();
    let header = [
        "seq",
        "date",
        "recorded at",
        "id",
        "type",
        "event",
        "what it changed",
    ];
    write_stdout(&format!("History of {account}\n{}", table(&header, &rows)))
}

fn history_row(e: &HistoryEntry) -> Vec<String> {
    let changed = match (&e.voided, &e.skipped) {
        (Some(v), _) => format!(
            "VOIDED by {} ({}): changes nothing",
            short_id(&v.by),
            v.reason
        ),
        (None, Some(why)) => format!("skipped: {why}"),
        (None, None) if e.changed.is_empty() => "-".to_string(),
        (None, None) => e.changed.clone(),
    };
    vec![
        e.seq.to_string(),
        e.date.clone(),
        e.recorded_at
            .get(..16)
            .unwrap_or(&e.recorded_at)
            .replace('T', " "),
        short_id(&e.id),
        e.event_type.clone(),
        e.description.clone(),
        changed,
    ]
}

fn short_id(id: &str) -> String {
    id.get(..8).unwrap_or(id).to_string()
}

/// The entries of `history`, oldest business date first.
pub fn history_entries(
    ledger: &Ledger<'_>,
    account: &Account,
    from: Option<Date>,
    to: Option<Date>,
) -> Result<Vec<HistoryEntry>, Exit> {
    let raw = ledger.raw_closure(account)?;
    let mut events: Vec<&StoredEvent> = raw
        .get(account)
        .map(|s| s.iter().collect())
        .unwrap_or_default();
    events.sort_by_key(|e| (e.event.date, e.seq));
    let voids = voids_of(&events, account);
    let effects = effects(ledger, &raw, account, from, to);
    let in_range = |d: Date| from.is_none_or(|f| f <= d) && to.is_none_or(|t| d <= t);
    Ok(events
        .into_iter()
        .filter(|e| in_range(e.event.date))
        .map(|e| {
            let (changes, skipped) = effects.get(&e.seq).cloned().unwrap_or_default();
            HistoryEntry {
                seq: e.seq,
                id: e.event.id.to_string(),
                account: e.event.account.to_string(),
                date: format_date(e.event.date),
                recorded_at: format_instant(e.event.recorded_at),
                event_type: e.event.event_type().to_string(),
                data: e.event.body.data_value(),
                description: describe_event(e, account),
                changed: describe_changes(&changes),
                changes,
                voided: voids.get(&e.event.id).cloned(),
                skipped,
            }
        })
        .collect())
}

/// R28: the voids recorded on the account, by the id of the event each one voids.
fn voids_of(events: &[&StoredEvent], account: &Account) -> HashMap<Uuid, VoidNote> {
    events
        .iter()
        .filter(|e| e.event.account == *account)
        .filter_map(|e| match &e.event.body {
            Body::EventVoided(v) => Some((
                v.event,
                VoidNote {
                    by: e.event.id.to_string(),
                    reason: v.reason.clone(),
                    recorded_at: format_instant(e.event.recorded_at),
                },
            )),
            _ => None,
        })
        .collect()
}

type Effect = (Vec<Change>, Option<String>);

/// Folds the account's effective events one at a time (R2, voids applied, R28) and diffs the
/// projection on each event's date just before and just after it. Only events in the range
/// are diffed; the fold itself starts at the beginning, since state depends on all of it.
fn effects(
    ledger: &Ledger<'_>,
    raw: &StreamMap,
    account: &Account,
    from: Option<Date>,
    to: Option<Date>,
) -> HashMap<u64, Effect> {
    let streams: StreamMap = raw
        .iter()
        .map(|(a, s)| (a.clone(), prepare_stream(s, None, to)))
        .collect();
    let ctx = Context::new(&streams, ledger.catalog(), Mode::Project);
    let mut state = State::new(account.clone());
    let mut out = HashMap::new();
    for e in streams.get(account).map(Vec::as_slice).unwrap_or(&[]) {
        let d = e.event.date;
        let wanted = from.is_none_or(|f| f <= d);
        let before = wanted.then(|| project(&state, d, None));
        let skipped_before = state.skipped.len();
        // Project mode never fails: a rule broken under this catalog is noted in `skipped`.
        if state.apply_or_skip(e, &ctx).is_err() {
            continue;
        }
        let Some(before) = before else { continue };
        let skipped = state
            .skipped
            .get(skipped_before)
            .map(|r| r.violation.to_string());
        let after = project(&state, d, None);
        out.insert(e.seq, (diff_views(&before, &after), skipped));
    }
    out
}

/// The event's data in a few words.
fn describe_event(e: &StoredEvent, account: &Account) -> String {
    let offer = |o: &Option<crate::event::Offer>| o.map(|o| format!(" ({o})")).unwrap_or_default();
    match &e.event.body {
        Body::MembershipPurchased(m) | Body::MembershipRenewed(m) => {
            let fee = m
                .fee
                .as_ref()
                .map(|f| format!(", fee {} {}", f.amount, f.currency))
                .unwrap_or_default();
            format!("{}{fee}", m.offer)
        }
        Body::BusinessProfileVerified => "business profile verified".to_string(),
        Body::DesignationQualified(q) => format!("{}, score {}", q.solution_area, q.score),
        Body::BenefitRedeemed(r) => format!("{}{}", r.benefit, offer(&r.offer)),
        Body::TokenIssued(t) => format!(
            "{}: {} seats of {}{}",
            t.token,
            t.seats,
            t.product,
            offer(&t.offer)
        ),
        Body::TokenActivated(t) => format!("{} onto {} ({} seats)", t.token, t.tenant, t.seats),
        Body::ReplacementTokenIssued(r) => {
            format!("{} replaced by {} ({})", r.token, r.replacement, r.reason)
        }
        Body::ProductKeyIssued(k) => {
            format!(
                "{}: {} ({}, {} activations){}",
                k.key,
                k.product,
                k.kind,
                k.activations,
                offer(&k.offer)
            )
        }
        Body::ProductKeyActivated(k) => {
            let changed = if k.hardware_changed == Some(true) {
                ", hardware changed"
            } else {
                ""
            };
            format!("{} on {}{changed}", k.key, k.machine)
        }
        Body::VsSubscriptionAssigned(v) => format!(
            "{} ({}) to {}{}",
            v.subscription,
            v.level,
            v.user,
            offer(&v.offer)
        ),
        Body::VsSubscriptionActivated(v) | Body::VsSubscriptionUnassigned(v) => {
            v.subscription.clone()
        }
        Body::AccountsMerged(m) if e.event.account == *account => {
            format!("absorbed {}", m.absorbed)
        }
        Body::AccountsMerged(_) => format!("absorbed by {}", e.event.account),
        Body::EventVoided(v) => format!("voids {}: {}", v.event, v.reason),
    }
}

// ------------------------------------------------------------------------------------------------
// diff

#[derive(Serialize)]
struct DiffOutput<'a> {
    account: &'a str,
    from: String,
    to: String,
    changes: &'a [Change],
}

/// `diff ACCOUNT --from D1 --to D2`: what changed in the state between two dates.
pub fn diff(
    ledger: &Ledger<'_>,
    account: &Account,
    from: Date,
    to: Date,
    json: bool,
) -> Result<(), Exit> {
    let before = ledger.state(account, from, None)?;
    let after = ledger.state(account, to, None)?;
    let changes = diff_views(&before, &after);
    if json {
        let output = DiffOutput {
            account: account.as_str(),
            from: format_date(from),
            to: format_date(to),
            changes: &changes,
        };
        let text = serde_json::to_string_pretty(&output).map_err(|e| Exit {
            code: 1,
            message: Some(e.to_string()),
        })?;
        return write_stdout(&(text + "\n"));
    }
    let title = format!(
        "{account}: changes from {} to {}\n",
        format_date(from),
        format_date(to)
    );
    if changes.is_empty() {
        return write_stdout(&format!("{title}  no changes\n"));
    }
    let rows: Vec<Vec<String>> = changes.iter().map(diff_row).collect();
    write_stdout(&format!(
        "{title}{}",
        table(&["section", "item", "change", "from", "to"], &rows)
    ))
}

fn diff_row(c: &Change) -> Vec<String> {
    let (what, from, to) = match c.change {
        "added" => ("added".to_string(), "-".to_string(), summary(&c.to)),
        "removed" => ("removed".to_string(), summary(&c.from), "-".to_string()),
        _ => (
            c.field.clone().unwrap_or_default(),
            text(&c.from),
            text(&c.to),
        ),
    };
    vec![c.section.to_string(), c.key.clone(), what, from, to]
}

/// An added or removed item in one cell: its status and main dates.
fn summary(v: &Value) -> String {
    let Some(map) = v.as_object() else {
        return text(v);
    };
    let pick = |names: &[&str]| -> Vec<String> {
        names
            .iter()
            .filter_map(|n| {
                map.get(*n)
                    .filter(|x| !x.is_null())
                    .map(|x| format!("{n} {}", text(x)))
            })
            .collect()
    };
    let parts = pick(&[
        "status",
        "anniversary",
        "activate_by",
        "expires",
        "since",
        "qualified",
        "date",
    ]);
    if parts.is_empty() {
        compact(map)
    } else {
        parts.join(", ")
    }
}

fn compact(map: &Map<String, Value>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {}", text(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

// ------------------------------------------------------------------------------------------------
// upcoming

/// One deadline of one account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Deadline {
    pub date: String,
    pub account: String,
    pub kind: &'static str,
    pub what: String,
    pub source: String,
}

/// `upcoming [--as-of D] [--within DAYS]`: the deadlines of every account between D and
/// D + DAYS inclusive, soonest first (then account, then kind).
pub fn upcoming(ledger: &Ledger<'_>, as_of: Date, within: u32, json: bool) -> Result<(), Exit> {
    if within > MAX_WITHIN_DAYS {
        return Err(Exit {
            code: crate::cli::EXIT_USAGE,
            message: Some(format!(
                "--within {within} is more than {MAX_WITHIN_DAYS} days"
            )),
        });
    }
    let until = add_days(as_of, i64::from(within));
    let mut all = Vec::new();
    crate::report::for_each_state(
        ledger,
        as_of,
        &|state| deadlines(state, as_of, until),
        &mut |found| {
            all.extend(found);
            true
        },
    )?;
    all.sort();
    // Written as they are made: no text of the whole answer is built first.
    crate::cli::write_stdout_with(|out| {
        if json {
            serde_json::to_writer_pretty(&mut *out, &all)?;
            return out.write_all(b"\n");
        }
        writeln!(
            out,
            "Deadlines from {} to {}",
            format_date(as_of),
            format_date(until)
        )?;
        if all.is_empty() {
            return out.write_all(b"  none\n");
        }
        let rows: Vec<[&str; 5]> = all
            .iter()
            .map(|d| [d.date.as_str(), &d.account, d.kind, &d.what, &d.source])
            .collect();
        let header = ["date", "account", "deadline", "what", "source"];
        crate::render::write_table(&header, &rows, out)
    })
}

/// The deadlines in `[as_of, until]` of a state folded from the events dated on or before
/// `as_of`. An account merged away has none of its own: its absorber lists them (R26).
pub fn deadlines(state: &State, as_of: Date, until: Date) -> Vec<Deadline> {
    if state.merged_into.as_ref().is_some_and(|(_, m)| *m <= as_of) {
        return Vec::new();
    }
    let mut out = Vec::new();
    // `what` is written only for the deadlines in the window: most candidates fall outside it.
    let mut add = |date: Date, kind: &'static str, what: &dyn Fn() -> String, source: &Account| {
        if as_of <= date && date <= until {
            out.push(Deadline {
                date: format_date(date),
                account: state.account.to_string(),
                kind,
                what: what(),
                source: source.to_string(),
            });
        }
    };
    term_deadlines(state, as_of, &mut add);
    token_deadlines(state, &mut add);
    subscription_deadlines(state, as_of, &mut add);
    out
}

type Add<'a> = dyn FnMut(Date, &'static str, &dyn Fn() -> String, &Account) + 'a;

/// R7, R17, R18: renewal windows of the running terms, activate-by of unredeemed benefits
/// (the redemption deadline: not after a lapse), expiry of redeemed ones.
fn term_deadlines(state: &State, as_of: Date, add: &mut Add<'_>) {
    let current: Vec<usize> = state.current.iter().flatten().copied().collect();
    for (i, t) in state
        .terms
        .iter()
        .enumerate()
        .filter(|(_, t)| t.start <= as_of)
    {
        let term = || format!("{} term {}", t.offer, format_date(t.start));
        if current.contains(&i) && t.is_running_on(as_of) {
            add(t.window_opens, "renewal_window_opens", &term, &t.source);
            add(t.window_closes, "renewal_window_closes", &term, &t.source);
        }
        for (b, unlocked) in t.benefits.iter() {
            match unlocked.filter(|&u| u <= as_of) {
                // R18 decision: on-premises software is never forfeited; it has no activate-by.
                None if b != BenefitType::OnPremisesSoftware && as_of <= t.redeem_deadline() => {
                    add(
                        t.redeem_deadline(),
                        "activate_by",
                        &|| format!("{b} of the {}, unredeemed", term()),
                        &t.source,
                    );
                }
                Some(_) => {
                    if let Some(expires) = t.benefit_expires(b) {
                        add(
                            expires,
                            "benefit_expires",
                            &|| format!("{b} of the {}", term()),
                            &t.source,
                        );
                    }
                }
                None => {}
            }
        }
    }
}

/// R19, R20: activation deadline of issued tokens, expiry and replacement deadline of
/// activated ones.
fn token_deadlines(state: &State, add: &mut Add<'_>) {
    for token in state.tokens.iter().filter(|t| t.replaced_by.is_none()) {
        let Some(term) = state.terms.get(token.term) else {
            continue;
        };
        match token.activated {
            None => add(
                term.redeem_deadline(),
                "token_activate_by",
                &|| format!("token {} ({} seats)", token.token, token.seats),
                &token.source,
            ),
            Some(activated) => {
                let expires = add_months(activated, term.constants.token_expiry_months);
                add(
                    expires,
                    "token_expires",
                    &|| {
                        let tenant = token.tenant.as_deref().unwrap_or("?");
                        format!("token {} on {tenant}", token.token)
                    },
                    &token.source,
                );
                if token.replaces.is_none() {
                    let deadline = add_days(activated, i64::from(term.constants.replacement_days));
                    add(
                        deadline,
                        "token_replacement_deadline",
                        &|| format!("token {}", token.token),
                        &token.source,
                    );
                }
            }
        }
    }
}

/// R22: subscriptions end with their term's developer_tools benefit.
fn subscription_deadlines(state: &State, as_of: Date, add: &mut Add<'_>) {
    for s in state
        .subscriptions
        .iter()
        .filter(|s| s.unassigned.is_none_or(|u| u > as_of))
    {
        let Some(expires) = state
            .terms
            .get(s.term)
            .and_then(|t| t.benefit_expires(BenefitType::DeveloperTools))
        else {
            continue;
        };
        add(
            expires,
            "subscription_expires",
            &|| format!("{} ({}, {})", s.subscription, s.level, s.user),
            &s.source,
        );
    }
}
