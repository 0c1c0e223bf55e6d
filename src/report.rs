//! `report --as-of D`: one row per account (all accounts, sorted by name) with each line's
//! current offer, status and anniversary and counts of what the account holds.
//!
//! It streams: the log is read once in seq order, accounts' states are folded as their events
//! pass ([`for_each_state`], at most [`MAX_STATES_PER_PASS`] states at a time), and each row is
//! written as soon as it is known (CSV and JSON), so memory stays bounded whatever the ledger's
//! size. Counts are taken from the folded state directly, with the same
//! status rules as the projection (`domain::view`), without building the whole projection.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use std::collections::HashMap;

use crate::cli::{Exit, ReportFormat};
use crate::domain::state::{
    Context, Mode, ProductKey, State, StreamMap, Subscription, TermStatus, Token,
};
use crate::domain::view;
use crate::event::{format_date, Account, Body, Date, Line};
use crate::ledger::Ledger;

/// Most account states held at once; a ledger with more accounts is folded in several passes
/// over the log, each for one range of account names.
pub const MAX_STATES_PER_PASS: usize = 100_000;

/// Folds every account with events of its own (sorted by name) from the events dated on or
/// before `as_of`, and hands each state to `visit` in name order; `visit` returns false to stop.
///
/// Reading the log once in seq order is far cheaper than reading each account's events
/// (scattered over the log) one account at a time, so states are folded incrementally during
/// one scan. That gives the same state as the full fold of `Ledger::folded` exactly when the
/// account's events (dated on or before `as_of`) arrive in fold order (R2: date, then seq) and
/// nothing else reshapes its stream; accounts with a back-dated event, a void (R28) or a merge
/// (R26) are folded again in full after the scan.
pub fn for_each_state(
    ledger: &Ledger<'_>,
    as_of: Date,
    visit: &mut dyn FnMut(&State) -> bool,
) -> Result<(), Exit> {
    let accounts = ledger.store().accounts()?;
    for chunk in accounts.chunks(MAX_STATES_PER_PASS) {
        let mut states = fold_range(ledger, chunk, as_of)?;
        for account in chunk {
            let state = states
                .remove(account)
                .unwrap_or_else(|| State::new(account.clone()));
            if !visit(&state) {
                return Ok(());
            }
        }
    }
    Ok(())
}

/// An account's state while the log is scanned.
struct Slot {
    state: State,
    /// Date and seq of the last event applied (fold order).
    last: Option<(Date, u64)>,
    /// The incremental fold cannot be trusted: fold the account again in full.
    refold: bool,
}

impl Slot {
    fn new(account: &Account) -> Slot {
        Slot {
            state: State::new(account.clone()),
            last: None,
            refold: false,
        }
    }
}

/// The states on `as_of` of the accounts of `chunk` (sorted names), from one scan of the log.
fn fold_range(
    ledger: &Ledger<'_>,
    chunk: &[Account],
    as_of: Date,
) -> Result<HashMap<Account, State>, Exit> {
    let (Some(lo), Some(hi)) = (chunk.first(), chunk.last()) else {
        return Ok(HashMap::new());
    };
    let in_range = |a: &Account| lo <= a && a <= hi;
    let no_streams = StreamMap::new();
    let ctx = Context::new(&no_streams, ledger.catalog(), Mode::Project);
    let mut slots: HashMap<Account, Slot> = HashMap::with_capacity(chunk.len());
    let mark = |slots: &mut HashMap<Account, Slot>, a: &Account| {
        if in_range(a) {
            slots
                .entry(a.clone())
                .or_insert_with(|| Slot::new(a))
                .refold = true;
        }
    };
    ledger.store().scan(1, &mut |e| {
        let account = &e.event.account;
        match &e.event.body {
            Body::AccountsMerged(m) => {
                mark(&mut slots, account);
                mark(&mut slots, &m.absorbed);
            }
            Body::EventVoided(_) => mark(&mut slots, account),
            _ if in_range(account) && e.event.date <= as_of => {
                let slot = match slots.get_mut(account) {
                    Some(slot) => slot,
                    None => slots
                        .entry(account.clone())
                        .or_insert_with(|| Slot::new(account)),
                };
                let position = (e.event.date, e.seq);
                if slot.refold || slot.last.is_some_and(|last| position < last) {
                    slot.refold = true; // R2: a back-dated event changes what follows it
                } else if slot.state.apply_or_skip(&e, &ctx).is_err() {
                    slot.refold = true;
                } else {
                    slot.last = Some(position);
                }
            }
            _ => {}
        }
        true
    })?;
    let mut states = HashMap::with_capacity(slots.len());
    for (account, slot) in slots {
        let state = if slot.refold {
            ledger.folded(&account, Some(as_of), None)?
        } else {
            slot.state
        };
        states.insert(account, state);
    }
    Ok(states)
}

/// One row of the report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportRow {
    pub account: String,
    pub merged_into: Option<String>,
    pub package_offer: Option<String>,
    pub package_status: Option<String>,
    pub package_anniversary: Option<String>,
    pub action_pack_offer: Option<String>,
    pub action_pack_status: Option<String>,
    pub action_pack_anniversary: Option<String>,
    pub benefits_available: u64,
    pub benefits_redeemed: u64,
    pub tokens_activated: u64,
    pub keys_usable: u64,
    pub subscriptions_active: u64,
    pub obligations: u64,
}

/// Column names, in row order (the CSV header).
pub const COLUMNS: [&str; 14] = [
    "account",
    "merged_into",
    "package_offer",
    "package_status",
    "package_anniversary",
    "action_pack_offer",
    "action_pack_status",
    "action_pack_anniversary",
    "benefits_available",
    "benefits_redeemed",
    "tokens_activated",
    "keys_usable",
    "subscriptions_active",
    "obligations",
];

impl ReportRow {
    fn cells(&self) -> [String; 14] {
        let o = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.account.clone(),
            o(&self.merged_into),
            o(&self.package_offer),
            o(&self.package_status),
            o(&self.package_anniversary),
            o(&self.action_pack_offer),
            o(&self.action_pack_status),
            o(&self.action_pack_anniversary),
            self.benefits_available.to_string(),
            self.benefits_redeemed.to_string(),
            self.tokens_activated.to_string(),
            self.keys_usable.to_string(),
            self.subscriptions_active.to_string(),
            self.obligations.to_string(),
        ]
    }
}

/// The report row of a state folded from the events dated on or before `as_of`.
pub fn row(state: &State, as_of: Date) -> ReportRow {
    let line = |l: Line| {
        state
            .current_term(l)
            .filter(|t| t.start <= as_of && t.status_on(as_of) != TermStatus::Renewed)
            .map(|t| {
                (
                    t.offer.to_string(),
                    t.status_on(as_of).as_str().to_string(),
                    format_date(t.anniversary),
                )
            })
    };
    let (package_offer, package_status, package_anniversary) = split(line(Line::Package));
    let (action_pack_offer, action_pack_status, action_pack_anniversary) =
        split(line(Line::ActionPack));
    let (benefits_available, benefits_redeemed) = benefit_counts(state, as_of);
    ReportRow {
        account: state.account.to_string(),
        merged_into: state
            .merged_into
            .as_ref()
            .filter(|(_, m)| *m <= as_of)
            .map(|(a, _)| a.to_string()),
        package_offer,
        package_status,
        package_anniversary,
        action_pack_offer,
        action_pack_status,
        action_pack_anniversary,
        benefits_available,
        benefits_redeemed,
        tokens_activated: tokens_activated(state, as_of),
        keys_usable: keys_usable(state, as_of),
        subscriptions_active: subscriptions_active(state, as_of),
        obligations: obligations(state, as_of),
    }
}

type LineCells = (Option<String>, Option<String>, Option<String>);

fn split(v: Option<(String, String, String)>) -> LineCells {
    match v {
        Some((offer, status, anniversary)) => (Some(offer), Some(status), Some(anniversary)),
        None => (None, None, None),
    }
}

/// Counts by the projection's own status rules (`domain::view`), so the report and `state`
/// cannot disagree: available and redeemed benefits of the terms started by `as_of`.
fn benefit_counts(state: &State, as_of: Date) -> (u64, u64) {
    let (mut available, mut redeemed) = (0, 0);
    for (i, t) in state
        .terms
        .iter()
        .enumerate()
        .filter(|(_, t)| t.start <= as_of)
    {
        for (b, _) in t.benefits.iter() {
            match view::benefit_status(state, i, b, as_of) {
                "available" => available += 1,
                "redeemed" => redeemed += 1,
                _ => {}
            }
        }
    }
    (available, redeemed)
}

fn tokens_activated(state: &State, as_of: Date) -> u64 {
    let activated = |t: &&Token| view::token_status(state, t, as_of) == "activated";
    state.tokens.iter().filter(activated).count() as u64
}

fn keys_usable(state: &State, as_of: Date) -> u64 {
    let usable = |k: &&ProductKey| view::key_status(state, k, as_of) == "usable";
    state.keys.iter().filter(usable).count() as u64
}

fn subscriptions_active(state: &State, as_of: Date) -> u64 {
    let active = |s: &&Subscription| view::subscription_status(state, s, as_of) == "active";
    state.subscriptions.iter().filter(active).count() as u64
}

/// R24: open obligations, by the projection's own rule.
fn obligations(state: &State, as_of: Date) -> u64 {
    crate::domain::view::open_obligations(state, as_of).len() as u64
}

// ------------------------------------------------------------------------------------------------
// Output

/// `report --as-of D [--format table|csv|json]`.
pub fn report(ledger: &Ledger<'_>, as_of: Date, format: ReportFormat) -> Result<(), Exit> {
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = match format {
        ReportFormat::Csv => write_csv(ledger, as_of, &mut out),
        ReportFormat::Json => write_json(ledger, as_of, &mut out),
        ReportFormat::Table => write_table(ledger, as_of, &mut out),
    };
    let result = result.and_then(|()| out.flush().map_err(Exit::from_io));
    match result {
        Err(e) if e.code == BROKEN_PIPE => Ok(()),
        other => other,
    }
}

/// Marks a closed pipe (`report | head`), which ends the report normally.
const BROKEN_PIPE: i32 = -1;

trait FromIo {
    fn from_io(e: io::Error) -> Exit;
}

impl FromIo for Exit {
    fn from_io(e: io::Error) -> Exit {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return Exit {
                code: BROKEN_PIPE,
                message: None,
            };
        }
        Exit {
            code: crate::cli::EXIT_REJECTED,
            message: Some(format!("cannot write output: {e}")),
        }
    }
}

/// Streams rows to `write_row`, stopping at the first write error, which is returned.
fn each_row(
    ledger: &Ledger<'_>,
    as_of: Date,
    write_row: &mut dyn FnMut(&ReportRow) -> io::Result<()>,
) -> Result<(), Exit> {
    let mut failed: Option<io::Error> = None;
    for_each_state(
        ledger,
        as_of,
        &mut |state| match write_row(&row(state, as_of)) {
            Ok(()) => true,
            Err(e) => {
                failed = Some(e);
                false
            }
        },
    )?;
    failed.map_or(Ok(()), |e| Err(Exit::from_io(e)))
}

fn write_csv(ledger: &Ledger<'_>, as_of: Date, out: &mut dyn Write) -> Result<(), Exit> {
    writeln!(out, "{}", COLUMNS.join(",")).map_err(Exit::from_io)?;
    each_row(ledger, as_of, &mut |r| {
        let cells = r.cells();
        let line: Vec<String> = cells.iter().map(|c| csv_field(c)).collect();
        writeln!(out, "{}", line.join(","))
    })
}

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn write_json(ledger: &Ledger<'_>, as_of: Date, out: &mut dyn Write) -> Result<(), Exit> {
    out.write_all(b"[").map_err(Exit::from_io)?;
    let mut first = true;
    each_row(ledger, as_of, &mut |r| {
        out.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        serde_json::to_writer(&mut *out, r).map_err(io::Error::other)
    })?;
    out.write_all(b"\n]\n").map_err(Exit::from_io)
}

/// The table aligns columns, so it needs every row first: it is for people, at human scale.
fn write_table(ledger: &Ledger<'_>, as_of: Date, out: &mut dyn Write) -> Result<(), Exit> {
    let mut rows = Vec::new();
    for_each_state(ledger, as_of, &mut |state| {
        let r = row(state, as_of);
        let line = |offer: &Option<String>,
                    status: &Option<String>,
                    anniversary: &Option<String>| match offer {
            Some(o) => format!(
                "{o} {} (AD {})",
                status.as_deref().unwrap_or(""),
                anniversary.as_deref().unwrap_or("")
            ),
            None => "-".to_string(),
        };
        rows.push(vec![
            r.account.clone(),
            r.merged_into.clone().unwrap_or_else(|| "-".to_string()),
            line(&r.package_offer, &r.package_status, &r.package_anniversary),
            line(
                &r.action_pack_offer,
                &r.action_pack_status,
                &r.action_pack_anniversary,
            ),
            format!("{}/{}", r.benefits_available, r.benefits_redeemed),
            r.tokens_activated.to_string(),
            r.keys_usable.to_string(),
            r.subscriptions_active.to_string(),
            r.obligations.to_string(),
        ]);
        true
    })?;
    let header = [
        "account",
        "merged into",
        "package line",
        "action-pack line",
        "benefits avail/redeemed",
        "tokens",
        "keys",
        "VS active",
        "obligations",
    ];
    let text = format!(
        "Report as of {} ({} accounts)\n{}",
        format_date(as_of),
        rows.len(),
        crate::render::table(&header, &rows)
    );
    out.write_all(text.as_bytes()).map_err(Exit::from_io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("contoso"), "contoso");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
