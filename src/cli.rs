//! The command line: arguments (clap), the store and the clock at the edge, human and JSON
//! output, and exit codes (0 success, 1 rejected input or failed check, 2 usage error).

use std::fs::File;
use std::io::{self, BufRead, BufReader, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand, ValueEnum};

use crate::domain::view::StateView;
use crate::domain::Catalog;
use crate::event::{parse_date, parse_instant, Account, Date};
use crate::input::EventLines;
use crate::ledger::{Ledger, LedgerError, SourcedLine};
use crate::store::memory::MemoryStore;
use crate::store::sled_store::SledStore;
use crate::store::{Store, StoreError};
use crate::{queries, report};

/// Exit code for rejected input, a failed check or an unusable store.
pub const EXIT_REJECTED: i32 = 1;
/// Exit code for a usage error.
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "partner-ledger",
    version,
    about = "An event-sourced, bitemporal ledger of partner-program memberships and their benefits",
    long_about = "An event-sourced, bitemporal ledger of partner-program memberships and their benefits.\n\nEvery purchase, renewal, profile check, designation, redemption, token, key, Visual Studio assignment and merge is appended as an immutable, hash-chained event; queries replay the events to say what an account had on any date, and what the ledger believed on any earlier instant (--known-at).",
    after_help = "Exit codes: 0 success, 1 rejected input or failed check, 2 usage error.\nRules are cited by their number in rules.md (R1-R30)."
)]
pub struct Cli {
    /// The store (a directory, created on first use)
    #[arg(
        long,
        global = true,
        env = "PARTNER_LEDGER_DB",
        default_value = "./partner-ledger.db"
    )]
    pub db: PathBuf,

    /// A catalog file replacing the embedded one (R30)
    #[arg(long, global = true, value_name = "FILE")]
    pub catalog: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Append events (JSON Lines) from files or standard input ('-'); all or nothing
    Append {
        /// Files of events, or '-' for standard input
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// An account's state on a date, optionally as the ledger knew it at an instant
    State {
        /// The account's name, as in its events
        account: String,
        /// Business date, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// Only events recorded at or before this RFC 3339 instant count (voids included)
        #[arg(long, value_name = "INSTANT")]
        known_at: Option<String>,
        /// Machine output (the contract's state shape)
        #[arg(long)]
        json: bool,
    },
    /// An account's events in business-date order, with what each changed
    History {
        /// The account's name, as in its events
        account: String,
        /// Only events dated on or after this business date, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        from: Option<String>,
        /// Only events dated on or before this business date, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        to: Option<String>,
        /// Machine output (JSON) instead of the table for people
        #[arg(long)]
        json: bool,
    },
    /// What changed in an account's state between two dates
    Diff {
        /// The account's name, as in its events
        account: String,
        /// The business date to compare from, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        from: String,
        /// The business date to compare to, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        to: String,
        /// Machine output (JSON) instead of the table for people
        #[arg(long)]
        json: bool,
    },
    /// Deadlines across all accounts, soonest first
    Upcoming {
        /// Business date to look from (default: today, UTC)
        #[arg(long, value_name = "DATE")]
        as_of: Option<String>,
        /// How many days ahead
        #[arg(long, value_name = "DAYS", default_value_t = 30)]
        within: u32,
        /// Machine output (JSON) instead of the table for people
        #[arg(long)]
        json: bool,
    },
    /// One row per account with its lines' status and counts
    Report {
        /// Business date, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// Output: an aligned table for people, CSV, or JSON
        #[arg(long, value_enum, default_value_t = ReportFormat::Table)]
        format: ReportFormat,
        /// Same as --format json
        #[arg(long)]
        json: bool,
    },
    /// What-if: fold the files' events in memory (on top of the stored ledger with
    /// --with-ledger) and print the account's state; writes nothing
    Replay {
        /// Files of events to fold (JSON Lines), or '-' for standard input
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The account whose state to print
        #[arg(long)]
        account: String,
        /// Business date, YYYY-MM-DD
        #[arg(long, value_name = "DATE")]
        as_of: String,
        /// Start from the stored ledger instead of an empty one
        #[arg(long)]
        with_ledger: bool,
        /// Machine output (JSON) instead of the table for people
        #[arg(long)]
        json: bool,
    },
    /// Stored events in seq order as JSON Lines (an export that `append` restores)
    Log {
        /// First seq to print
        #[arg(long, value_name = "N", default_value_t = 1)]
        from_seq: u64,
    },
    /// Check the hash chain and every index; name the first bad seq
    Verify {
        /// Machine output (JSON: events, ok, first_bad_seq, problem, head_hash)
        #[arg(long)]
        json: bool,
        /// Also decode every event and check that it is stored in canonical form (slower;
        /// the default check already proves each stored line is the one that was sealed)
        #[arg(long)]
        deep: bool,
    },
    /// Write a synthetic, valid ledger (JSON Lines) for benchmarks
    Gen {
        /// How many accounts (about 20 events each at the default 3 years; at most 10,000,000)
        #[arg(long, value_name = "N")]
        accounts: u64,
        /// Random seed: the same seed, accounts, years and catalog write the same file, byte for
        /// byte
        #[arg(long, value_name = "S", default_value_t = 1)]
        seed: u64,
        /// Years of history, ending 2025-12-31 (1 to 30)
        #[arg(long, default_value_t = 3)]
        years: u32,
    },
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Csv,
    Json,
}

/// A failure that ends the command: its exit code and the lines already printed or to print.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: Option<String>,
}

impl Exit {
    fn usage(message: impl Into<String>) -> Exit {
        Exit {
            code: EXIT_USAGE,
            message: Some(message.into()),
        }
    }
    fn rejected(message: impl Into<String>) -> Exit {
        Exit {
            code: EXIT_REJECTED,
            message: Some(message.into()),
        }
    }
    fn silent(code: i32) -> Exit {
        Exit {
            code,
            message: None,
        }
    }
}

impl From<anyhow::Error> for Exit {
    fn from(e: anyhow::Error) -> Exit {
        Exit::rejected(format!("{e:#}"))
    }
}

impl From<StoreError> for Exit {
    fn from(e: StoreError) -> Exit {
        Exit::rejected(e.to_string())
    }
}

impl From<LedgerError> for Exit {
    fn from(e: LedgerError) -> Exit {
        Exit::rejected(e.to_string())
    }
}

/// Runs one command line; the caller prints `Exit::message` as `error: …` and exits.
pub fn run(cli: Cli) -> Result<(), Exit> {
    let catalog = load_catalog(cli.catalog.as_deref())?;
    match cli.command {
        Command::Append { files } => {
            let store = SledStore::open_for_appending(&cli.db).map_err(Exit::from)?;
            let appended = append(&store, catalog, &files)?;
            store.close_appended(appended);
            Ok(())
        }
        Command::State {
            account,
            as_of,
            known_at,
            json,
        } => {
            let account = parse_account(&account)?;
            let as_of = parse_date_arg("--as-of", &as_of)?;
            let known_at = known_at
                .map(|k| {
                    parse_instant(&k)
                        .map(|i| (i, k.clone()))
                        .map_err(|e| Exit::usage(format!("--known-at: {e}")))
                })
                .transpose()?;
            reading(&cli.db, |store| {
                let view = Ledger::new(store, catalog).state(&account, as_of, known_at)?;
                print_state(&view, json)
            })
        }
        Command::Replay {
            files,
            account,
            as_of,
            with_ledger,
            json,
        } => {
            let account = parse_account(&account)?;
            let as_of = parse_date_arg("--as-of", &as_of)?;
            let lines = input_lines(&files)?;
            let replay = |store: &dyn Store| match Ledger::new(store, catalog).replay(
                lines,
                now(),
                &account,
                as_of,
            )? {
                Ok(view) => print_state(&view, json),
                Err(errors) => Err(print_rejections(&errors, "replayed")),
            };
            if with_ledger {
                reading(&cli.db, |store| replay(store))
            } else {
                replay(&MemoryStore::new())
            }
        }
        Command::Log { from_seq } => reading(&cli.db, |store| log(store, from_seq)),
        Command::Verify { json, deep } => reading(&cli.db, |store| verify(store, json, deep)),
        Command::History {
            account,
            from,
            to,
            json,
        } => {
            let account = parse_account(&account)?;
            let from = from.map(|d| parse_date_arg("--from", &d)).transpose()?;
            let to = to.map(|d| parse_date_arg("--to", &d)).transpose()?;
            reading(&cli.db, |store| {
                queries::history(&Ledger::new(store, catalog), &account, from, to, json)
            })
        }
        Command::Diff {
            account,
            from,
            to,
            json,
        } => {
            let account = parse_account(&account)?;
            let from = parse_date_arg("--from", &from)?;
            let to = parse_date_arg("--to", &to)?;
            reading(&cli.db, |store| {
                queries::diff(&Ledger::new(store, catalog), &account, from, to, json)
            })
        }
        Command::Upcoming {
            as_of,
            within,
            json,
        } => {
            let as_of = match as_of {
                Some(d) => parse_date_arg("--as-of", &d)?,
                None => now().date_naive(),
            };
            reading(&cli.db, |store| {
                queries::upcoming(&Ledger::new(store, catalog), as_of, within, json)
            })
        }
        Command::Report {
            as_of,
            format,
            json,
        } => {
            let as_of = parse_date_arg("--as-of", &as_of)?;
            let format = if json { ReportFormat::Json } else { format };
            reading(&cli.db, |store| {
                report::report(&Ledger::new(store, catalog), as_of, format)
            })
        }
        Command::Gen {
            accounts,
            seed,
            years,
        } => crate::gen::run(accounts, seed, years, &catalog),
    }
}

fn now() -> crate::event::Instant {
    crate::event::truncate_to_micros(chrono::Utc::now())
}

fn load_catalog(path: Option<&Path>) -> Result<Catalog, Exit> {
    let Some(path) = path else {
        return Ok(Catalog::default_catalog());
    };
    let mut text = String::new();
    File::open(path)
        .and_then(|f| {
            f.take(crate::domain::catalog::MAX_CATALOG_BYTES as u64 + 1)
                .read_to_string(&mut text)
        })
        .map_err(|e| Exit::usage(format!("--catalog {}: {e}", path.display())))?;
    Catalog::parse(&text).map_err(|e| Exit::usage(format!("--catalog {}: {e}", path.display())))
}

/// Runs a query command on the store opened for reading, then ends the handle without sled's
/// shutdown flush: the process exits next and wrote nothing (see `SledStore::close_reading`).
fn reading<T>(path: &Path, query: impl FnOnce(&SledStore) -> Result<T, Exit>) -> Result<T, Exit> {
    let store = SledStore::open_for_reading(path).map_err(Exit::from)?;
    let result = query(&store);
    store.close_reading();
    result
}

fn parse_account(s: &str) -> Result<Account, Exit> {
    Account::parse(s).map_err(|e| Exit::usage(e.to_string()))
}

pub fn parse_date_arg(flag: &str, s: &str) -> Result<Date, Exit> {
    parse_date(s).map_err(|e| Exit::usage(format!("{flag}: {e}")))
}

/// Hands `consume` the lines of `source`, read and parsed on a second thread, in runs of
/// `READ_AHEAD_LINES`: reading and parsing JSON is a twentieth of an import, done while the
/// ledger validates what came before. Ends the reader once `consume` returns.
fn read_ahead<T>(
    source: impl Iterator<Item = SourcedLine> + Send,
    consume: impl FnOnce(&mut dyn Iterator<Item = SourcedLine>) -> T,
) -> T {
    const READ_AHEAD_LINES: usize = 1024;
    std::thread::scope(|scope| {
        let (send, receive) = std::sync::mpsc::sync_channel::<Vec<SourcedLine>>(4);
        scope.spawn(move || {
            let mut run = Vec::with_capacity(READ_AHEAD_LINES);
            for line in source {
                run.push(line);
                if run.len() == READ_AHEAD_LINES {
                    let full = std::mem::replace(&mut run, Vec::with_capacity(READ_AHEAD_LINES));
                    if send.send(full).is_err() {
                        return; // the consumer has finished
                    }
                }
            }
            let _ = send.send(run);
        });
        // `lines` (the receiving end) is dropped when this closure returns, before the scope
        // waits for the reader: a reader blocked on a full channel then sees the end.
        let mut lines = receive.into_iter().flatten();
        consume(&mut lines)
    })
}

/// The numbered, parsed lines of every input ('-' is standard input), read lazily: a large
/// import never sits whole in memory as text. Opening fails before anything is read.
fn input_lines(files: &[PathBuf]) -> Result<impl Iterator<Item = SourcedLine> + Send, Exit> {
    let several = files.len() > 1;
    let mut readers = Vec::new();
    for path in files {
        let label = several.then(|| path.display().to_string());
        let reader: Box<dyn BufRead + Send> = if path.as_os_str() == "-" {
            Box::new(BufReader::with_capacity(1 << 16, io::stdin()))
        } else {
            let file = File::open(path)
                .map_err(|e| Exit::usage(format!("cannot open {}: {e}", path.display())))?;
            Box::new(BufReader::with_capacity(1 << 16, file))
        };
        readers.push((label, reader));
    }
    Ok(readers.into_iter().flat_map(|(label, reader)| {
        EventLines::new(reader).map(move |line| SourcedLine {
            source: label.clone(),
            line,
        })
    }))
}

/// Appends the files' events; returns how many were appended.
fn append(store: &SledStore, catalog: Catalog, files: &[PathBuf]) -> Result<u64, Exit> {
    let ledger = Ledger::new(store, catalog);
    let total_bytes: u64 = files
        .iter()
        .filter(|p| p.as_os_str() != "-")
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    let bar = progress_bar(total_bytes);
    let lines = input_lines(files)?;
    let mut on_progress = |n: u64| {
        if let Some(bar) = &bar {
            bar.set_message(format!("{n} events checked"));
            bar.set_position(n);
        }
    };
    let result = read_ahead(lines, |lines| ledger.append(lines, now(), &mut on_progress))?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    match result {
        Ok(report) => {
            let mut out = io::stdout().lock();
            let present = report.already_present.len();
            let line = match (report.first_seq, report.last_seq) {
                (Some(a), Some(b)) => format!(
                    "appended {} event{} (seq {a}..{b})",
                    report.appended,
                    plural(report.appended)
                ),
                _ => "appended 0 events".to_string(),
            };
            let present_note = if present > 0 {
                let seqs: Vec<u64> = report.already_present.iter().map(|(_, s)| *s).collect();
                let (lo, hi) = (
                    seqs.iter().min().copied().unwrap_or(0),
                    seqs.iter().max().copied().unwrap_or(0),
                );
                format!("; {present} already in the ledger with the same content (seq {lo}..{hi}), left unchanged")
            } else {
                String::new()
            };
            let _ = writeln!(out, "{line}{present_note}");
            Ok(report.appended)
        }
        Err(errors) => Err(print_rejections(&errors, "appended")),
    }
}

fn progress_bar(total_bytes: u64) -> Option<indicatif::ProgressBar> {
    // Progress only on a terminal, and only for inputs large enough to wait for.
    if !io::stderr().is_terminal() || total_bytes < 8 * 1024 * 1024 {
        return None;
    }
    let events_estimate = total_bytes / 250;
    let bar = indicatif::ProgressBar::new(events_estimate);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/~{len} events {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(bar)
}

fn plural(n: u64) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn print_rejections(errors: &[crate::ledger::LineError], verb: &str) -> Exit {
    let mut err = io::stderr().lock();
    for e in errors {
        let _ = writeln!(err, "error: {e}");
    }
    let _ = writeln!(
        err,
        "error: {} event{} rejected; nothing was {verb}",
        errors.len(),
        plural(errors.len() as u64)
    );
    Exit::silent(EXIT_REJECTED)
}

fn print_state(view: &StateView, json: bool) -> Result<(), Exit> {
    let text = if json {
        serde_json::to_string_pretty(view).map_err(|e| Exit::rejected(e.to_string()))? + "\n"
    } else {
        crate::render::state(view)
    };
    write_stdout(&text)
}

/// Writes to stdout; a closed pipe (`| head`) is a normal end.
pub fn write_stdout(text: &str) -> Result<(), Exit> {
    write_stdout_with(|out| out.write_all(text.as_bytes()))
}

/// Runs `write` on buffered standard output and flushes it; a closed pipe (`| head`) ends the
/// output normally, any other failure is a clear error.
pub fn write_stdout_with(write: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<(), Exit> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::with_capacity(1 << 16, stdout.lock());
    match write(&mut out).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Exit::rejected(format!("cannot write output: {e}"))),
    }
}

fn log(store: &SledStore, from_seq: u64) -> Result<(), Exit> {
    let mut scanned = Ok(());
    write_stdout_with(|out| {
        let mut write_error = None;
        scanned = store.scan_sealed_lines(from_seq, &mut |line| {
            let written = out.write_all(line).and_then(|()| out.write_all(b"\n"));
            write_error = written.err();
            write_error.is_none()
        });
        write_error.map_or(Ok(()), Err)
    })?;
    Ok(scanned?)
}

fn verify(store: &SledStore, json: bool, deep: bool) -> Result<(), Exit> {
    let head = store.head()?;
    let bar = progress_bar(head.seq.saturating_mul(250));
    let mut progress = |done, _total| {
        if let Some(bar) = &bar {
            bar.set_position(done);
        }
    };
    let report = if deep {
        store.verify_deep(&mut progress)?
    } else {
        store.verify(&mut progress)?
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if json {
        let value = serde_json::json!({
            "events": report.events,
            "ok": report.first_bad.is_none(),
            "first_bad_seq": report.first_bad.as_ref().map(|(s, _)| *s),
            "problem": report.first_bad.as_ref().map(|(_, m)| m.clone()),
            "head_hash": crate::event::hex(&head.hash),
        });
        write_stdout(&format!("{value}\n"))?;
    }
    match report.first_bad {
        None => {
            if !json {
                write_stdout(&format!(
                    "ok: {} event{} verified; hash chain and indexes intact (head seq {}, hash {})\n",
                    report.events,
                    plural(report.events),
                    head.seq,
                    crate::event::hex(&head.hash)
                ))?;
            }
            Ok(())
        }
        Some((seq, message)) => Err(Exit::rejected(format!(
            "verify: first bad seq {seq}: {message}"
        ))),
    }
}

/// Peak resident memory of this process (Linux `VmHWM`), in KiB.
pub fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::ParseError;
    use crate::input::InputLine;

    fn numbered(n: u64) -> impl Iterator<Item = SourcedLine> + Send {
        (1..=n).map(|line| SourcedLine {
            source: None,
            line: InputLine {
                line,
                parsed: Err(ParseError {
                    message: format!("line {line}"),
                }),
            },
        })
    }

    #[test]
    fn read_ahead_hands_over_every_line_in_order() {
        let seen: Vec<u64> =
            read_ahead(numbered(5000), |lines| lines.map(|l| l.line.line).collect());
        assert_eq!(seen, (1..=5000).collect::<Vec<_>>());
        let none: Vec<u64> = read_ahead(numbered(0), |lines| lines.map(|l| l.line.line).collect());
        assert!(none.is_empty());
    }

    #[test]
    fn read_ahead_stops_its_reader_when_the_consumer_stops_early() {
        // A reader blocked on a full channel must see the end: otherwise this never returns.
        let (done, finished) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let first: Vec<u64> = read_ahead(numbered(1_000_000), |lines| {
                lines.take(3).map(|l| l.line.line).collect()
            });
            let _ = done.send(first);
        });
        let first = finished
            .recv_timeout(std::time::Duration::from_secs(60))
            .expect("read_ahead returned");
        assert_eq!(first, vec![1, 2, 3]);
    }

    #[test]
    fn every_command_and_argument_says_what_it_is_for() {
        use clap::CommandFactory;
        let mut cli = Cli::command();
        cli.build();
        let mut silent = Vec::new();
        for arg in cli.get_arguments() {
            if arg.get_help().is_none() {
                silent.push(arg.get_id().to_string());
            }
        }
        for command in cli.get_subcommands() {
            if command.get_about().is_none() {
                silent.push(command.get_name().to_string());
            }
            for arg in command.get_arguments() {
                if arg.get_help().is_none() && arg.get_id() != "help" {
                    silent.push(format!("{} {}", command.get_name(), arg.get_id()));
                }
            }
        }
        assert!(silent.is_empty(), "without help text: {silent:?}");
    }
}
