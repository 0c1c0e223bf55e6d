//! `report --as-of D`: one row per account (all accounts, sorted by name) with each line's
//! current offer, status and anniversary and counts of what the account holds.
//!
//! It streams: accounts are read in name order from their per-account copies, each folded
//! exactly as `state` folds it ([`for_each_state`], on two threads reading from both ends, one
//! state per thread at a time), and each row is written as soon as it is known (CSV and JSON), so memory stays
//! bounded whatever the ledger's size. Counts are taken from the folded state directly, with the same
//! status rules as the projection (`domain::view`), without building the whole projection.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

use crate::cli::{Exit, ReportFormat};
use crate::domain::state::{ProductKey, State, Subscription, TermStatus, Token};
use crate::domain::view;
use crate::event::{format_date, Date, Line};
use crate::ledger::{Ledger, LedgerError};
use crate::render::TableCell;

/// Folds every account with events of its own (sorted by name) from the events dated on or
/// before `as_of`, maps each state with `map`, and hands the results to `visit` in name order;
/// `visit` returns false to stop.
///
/// The copies are read from both ends at once ([`crate::store::Store::for_each_account_events_from_both_ends`]):
/// this thread folds accounts in name order and visits each at once; a second thread folds
/// them in reverse name order, keeping the mapped results, until the two meet, so each thread
/// does about half the work however it is spread, with no list of accounts read first. Each
/// account is folded exactly as [`Ledger::folded`] folds it; one state per thread is held at a
/// time, plus the second thread's mapped results until the first is done.
pub fn for_each_state<T: Send>(
    ledger: &Ledger<'_>,
    as_of: Date,
    map: &(dyn Fn(&State) -> T + Sync),
    visit: &mut dyn FnMut(T) -> bool,
) -> Result<(), Exit> {
    let mut failed: Option<LedgerError> = None;
    let mut failed_late: Option<LedgerError> = None;
    let mut later: Vec<T> = Vec::new();
    let mut stopped = false;
    ledger.store().for_each_account_events_from_both_ends(
        Some(as_of),
        &mut |account, events| match ledger.folded_from(account, events, as_of) {
            Ok(state) => {
                stopped = !visit(map(&state));
                Ok(!stopped)
            }
            Err(e) => {
                failed = Some(e);
                Ok(false)
            }
        },
        &mut |account, events| match ledger.folded_from(account, events, as_of) {
            Ok(state) => {
                later.push(map(&state));
                Ok(true)
            }
            Err(e) => {
                failed_late = Some(e);
                Ok(false)
            }
        },
    )?;
    if let Some(e) = failed.or(failed_late) {
        return Err(e.into());
    }
    if stopped {
        return Ok(());
    }
    for t in later.into_iter().rev() {
        if !visit(t) {
            break;
        }
    }
    Ok(())
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
    /// The row as one CSV line, in `COLUMNS` order, written field by field into `out` (a
    /// report writes one per account: no string is built for a cell or the line).
    fn write_csv(&self, out: &mut dyn Write) -> io::Result<()> {
        let text = [
            Some(&self.account),
            self.merged_into.as_ref(),
            self.package_offer.as_ref(),
            self.package_status.as_ref(),
            self.package_anniversary.as_ref(),
            self.action_pack_offer.as_ref(),
            self.action_pack_status.as_ref(),
            self.action_pack_anniversary.as_ref(),
        ];
        for (i, cell) in text.into_iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            write_csv_field(out, cell.map_or("", String::as_str))?;
        }
        let counts = [
            self.benefits_available,
            self.benefits_redeemed,
            self.tokens_activated,
            self.keys_usable,
            self.subscriptions_active,
            self.obligations,
        ];
        for n in counts {
            write!(out, ",{n}")?;
        }
        out.write_all(b"\n")
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
        &|state| row(state, as_of),
        &mut |r| match write_row(&r) {
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
    each_row(ledger, as_of, &mut |r| r.write_csv(out))
}

/// RFC 4180: a field with a comma, a quote or a line break is quoted, quotes doubled.
fn write_csv_field(out: &mut dyn Write, s: &str) -> io::Result<()> {
    if !s.contains([',', '"', '\n', '\r']) {
        return out.write_all(s.as_bytes());
    }
    out.write_all(b"\"")?;
    for (i, part) in s.split('"').enumerate() {
        if i > 0 {
            out.write_all(b"\"\"")?;
        }
        out.write_all(part.as_bytes())?;
    }
    out.write_all(b"\"")
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

/// The table's column names.
const TABLE_HEADER: [&str; 9] = [
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

/// The table aligns columns, so it needs every row first (as rows, not as text: each row's
/// cells are measured and written in pieces by [`crate::render::write_table_with`], with no
/// string built for a cell).
fn write_table(ledger: &Ledger<'_>, as_of: Date, out: &mut dyn Write) -> Result<(), Exit> {
    let mut rows = Vec::new();
    for_each_state(ledger, as_of, &|state| row(state, as_of), &mut |r| {
        rows.push(r);
        true
    })?;
    let result = writeln!(
        out,
        "Report as of {} ({} accounts)",
        format_date(as_of),
        rows.len()
    )
    .and_then(|()| crate::render::write_table_with(&TABLE_HEADER, &rows, table_cells, out));
    result.map_err(Exit::from_io)
}

/// One cell of the table, kept as the pieces it is written from.
enum Cell<'a> {
    Text(&'a str),
    /// A line's offer, status and anniversary: `offer status (AD anniversary)`.
    Line(&'a str, &'a str, &'a str),
    /// `a/b`.
    Pair(u64, u64),
    Count(u64),
}

impl TableCell for Cell<'_> {
    fn width(&self) -> usize {
        match self {
            Cell::Text(t) => t.chars().count(),
            Cell::Line(o, s, a) => o.chars().count() + s.chars().count() + a.chars().count() + 7,
            Cell::Pair(a, b) => digits(*a) + 1 + digits(*b),
            Cell::Count(n) => digits(*n),
        }
    }

    fn write_to(&self, line: &mut String) {
        use std::fmt::Write as _;
        // Writing into a String does not fail.
        let _ = match self {
            Cell::Text(t) => line.write_str(t),
            Cell::Line(o, s, a) => write!(line, "{o} {s} (AD {a})"),
            Cell::Pair(a, b) => write!(line, "{a}/{b}"),
            Cell::Count(n) => write!(line, "{n}"),
        };
    }
}

/// The decimal digits of `n`.
fn digits(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

fn table_cells(r: &ReportRow) -> [Cell<'_>; 9] {
    [
        Cell::Text(&r.account),
        Cell::Text(r.merged_into.as_deref().unwrap_or("-")),
        line_cell(&r.package_offer, &r.package_status, &r.package_anniversary),
        line_cell(
            &r.action_pack_offer,
            &r.action_pack_status,
            &r.action_pack_anniversary,
        ),
        Cell::Pair(r.benefits_available, r.benefits_redeemed),
        Cell::Count(r.tokens_activated),
        Cell::Count(r.keys_usable),
        Cell::Count(r.subscriptions_active),
        Cell::Count(r.obligations),
    ]
}

fn line_cell<'a>(
    offer: &'a Option<String>,
    status: &'a Option<String>,
    anniversary: &'a Option<String>,
) -> Cell<'a> {
    match offer {
        Some(o) => Cell::Line(
            o,
            status.as_deref().unwrap_or(""),
            anniversary.as_deref().unwrap_or(""),
        ),
        None => Cell::Text("-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv_field(s: &str) -> String {
        let mut out = Vec::new();
        write_csv_field(&mut out, s).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_field("contoso"), "contoso");
        assert_eq!(csv_field(""), "");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("\""), "\"\"\"\"");
        assert_eq!(csv_field("line\nbreak"), "\"line\nbreak\"");
    }

    #[test]
    fn a_csv_row_has_every_column_in_order() {
        let row = ReportRow {
            account: "contoso".into(),
            merged_into: None,
            package_offer: Some("a,b".into()),
            package_status: Some("active".into()),
            package_anniversary: Some("2024-09-01".into()),
            action_pack_offer: None,
            action_pack_status: None,
            action_pack_anniversary: None,
            benefits_available: 1,
            benefits_redeemed: 2,
            tokens_activated: 3,
            keys_usable: 4,
            subscriptions_active: 5,
            obligations: 6,
        };
        let mut out = Vec::new();
        row.write_csv(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "contoso,,\"a,b\",active,2024-09-01,,,,1,2,3,4,5,6\n"
        );
        assert_eq!(COLUMNS.len(), 14);
    }

    fn sample_row(account: &str, merged: Option<&str>, line: Option<(&str, &str)>) -> ReportRow {
        let some = |x: &str| Some(x.to_string());
        ReportRow {
            account: account.into(),
            merged_into: merged.map(str::to_string),
            package_offer: line.and_then(|(o, _)| some(o)),
            package_status: line.and_then(|(_, s)| some(s)),
            package_anniversary: line.and_then(|_| some("2024-09-01")),
            action_pack_offer: some("action_pack"),
            action_pack_status: some("active"),
            action_pack_anniversary: some("2025-02-28"),
            benefits_available: account.len() as u64 * 7,
            benefits_redeemed: 0,
            tokens_activated: 10,
            keys_usable: 99,
            subscriptions_active: 100,
            obligations: u64::MAX,
        }
    }

    /// The table as the generic renderer lays it out, from each cell's text.
    fn rendered(rows: &[ReportRow]) -> String {
        let line = |o: &Option<String>, s: &Option<String>, a: &Option<String>| match o {
            Some(o) => format!(
                "{o} {} (AD {})",
                s.as_deref().unwrap_or(""),
                a.as_deref().unwrap_or("")
            ),
            None => "-".to_string(),
        };
        let cells: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.account.clone(),
                    r.merged_into.clone().unwrap_or_else(|| "-".into()),
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
                ]
            })
            .collect();
        crate::render::table(&TABLE_HEADER, &cells)
    }

    #[test]
    fn the_table_is_laid_out_as_the_generic_renderer_lays_it_out() {
        let mut rows = [
            sample_row("contoso", None, None),
            sample_row(
                "fabrikam-äöå-ltd",
                Some("contoso"),
                Some(("solutions_partner", "in_grace")),
            ),
            sample_row("a", None, Some(("x", ""))),
        ];
        rows[2].obligations = 0;
        rows[2].benefits_redeemed = 1_000_000;
        for n in 0..=rows.len() {
            let mut out = Vec::new();
            crate::render::write_table_with(&TABLE_HEADER, &rows[..n], table_cells, &mut out)
                .unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                rendered(&rows[..n]),
                "{n} rows"
            );
        }
        for n in [0, 1, 9, 10, 99, 100, u64::MAX] {
            assert_eq!(digits(n), n.to_string().len());
        }
    }
}
