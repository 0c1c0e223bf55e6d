//! `verify` for the sled store, on two threads.
//!
//! 1. The log, in two halves by seq (one per thread): every line parses, carries its seq,
//!    hashes to its stored hash over its exact bytes, and links to the line before; the halves
//!    are joined where they meet. What later steps need is kept: half of each line's hash and
//!    a keyed fingerprint of its body (`fingerprint.rs`), its id entry, the seqs of merges, a
//!    sample of account names.
//! 2. The copies, in 16 ranges of account names, each merged in name order with the account
//!    index, and the id index: 17 tasks that the two threads take in turn. A copy line is the
//!    log's line when its body has the fingerprint the log's has at its seq (a format-2 line
//!    with its hashes: when it hashes to its own stored hash, whose half the log has); an
//!    account's copy holds its own lines with versions counting 1, 2, 3… and the merges that
//!    absorbed it, in seq order; together the copies hold every seq once as its account's line
//!    (a bitmap) and every merge once more (a list). The account index must equal the list
//!    each copy gives. A copy is first walked against its index list, line by line without
//!    reading envelopes (the fingerprint at the listed seq, then the account and version from
//!    the line's ends); from the first line that does not fit so, each line's envelope is read
//!    (`CopyRange::matched_lines`).
//!
//! So every line is read twice (log and copy), hashed with SHA-256 once and fingerprinted
//! twice, split evenly between the threads, and no per-account table is kept. The lowest bad
//! seq found wins; past a break in the chain nothing is checked.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;

use super::fingerprint::Fingerprint;
use super::*;
use crate::line::own_version;

/// Fewer events than this are checked on one thread.
const SPLIT_FROM: u64 = 4096;
/// The log is checked in this many runs of about even length, which the two threads take in
/// turn: with two fixed halves, one thread could wait 25-50 ms at the end for the other, and
/// with 16 runs up to one run's time (~40 ms at 1 M events).
const LOG_RUNS: usize = 64;
/// `Log::logged` finds a seq's run from a table of stretches of this many bits of seq.
const STRETCH_BITS: u32 = 12;
/// One line in this many lends its account name to the sample that splits the copies.
const SAMPLE_EVERY: u64 = 64;
/// The copies are checked in this many ranges of account names, about even in lines, which
/// the two threads take in turn: with two halves, one thread could end 5-10 % of the check
/// before the other (their accounts differ in cost, and a third task shared the cores).
const COPY_RANGES: usize = 16;
/// The id index is checked in this many groups of uuids by their first byte, tasks taken
/// after the copies' (they are shorter, and fill in at the end).
const ID_GROUPS: usize = 16;

pub(super) fn verify(
    store: &SledStore,
    deep: bool,
    progress: Progress<'_>,
) -> Result<VerifyReport, StoreError> {
    let mut problems = Problems::default();
    let head = store.disk_head().unwrap_or_else(|_| {
        problems.note(1, "head marker does not decode".into());
        Head::EMPTY
    });

    read_ahead(store);
    // 1. The log, in runs that the two threads take in turn, joined in seq order.
    let fingerprint = Fingerprint::random();
    let starts = run_starts(store, head.seq)?;
    let lines_done = AtomicU64::new(0);
    let scanned = on_two_threads(
        starts.len(),
        || Gathered::new(fingerprint.share()),
        |gathered, i, tick| {
            let start = starts[i];
            // The first run from the log's first block, whatever its key; the last to its end.
            let blocks = match (i, starts.get(i + 1)) {
                (0, Some(&end)) => store.events.range(..seq_key(end)),
                (0, None) => store.events.iter(),
                (_, Some(&end)) => store.events.range(seq_key(start)..seq_key(end)),
                (_, None) => store.events.range(seq_key(start)..),
            };
            let mut run = LogRun::new(start, (i == 0).then_some(ZERO_HASH));
            run.scan(store, deep, head.seq, blocks, gathered, &mut |n| {
                tick(lines_done.fetch_add(n, Ordering::Relaxed) + n)
            })
            .map(|()| run)
        },
        &mut |n| progress(n, head.seq),
    );
    let (gathered, runs) =
        scanned.ok_or_else(|| store.corrupt(1, "the check of the log failed"))?;
    // The first failure in seq order, as a scan on one thread would meet it.
    let runs = runs
        .into_iter()
        .collect::<Result<Vec<LogRun>, StoreError>>()?;
    let (log, limit) = Log::join(runs, gathered, &mut problems);
    if limit.is_none() {
        log.check_end(&head, &mut problems);
    }
    let checked = limit.map_or(log.last_seq(), |l| l - 1);
    progress(checked, head.seq);
    // Index entries and copy lines are compared up to the break in the chain; with none, all
    // of them (one beyond the head is damage too).
    let upto = if limit.is_some() { checked } else { u64::MAX };

    // 2. The copies with the account index, in ranges of account names, and the id index:
    //    tasks that two threads take in turn, so that neither waits long for the other.
    let bounds = log.split_names(COPY_RANGES);
    let ranges = name_ranges(&bounds);
    let log = &log;
    let checked_all = on_two_threads(
        ranges.len() + ID_GROUPS,
        || CopyRange::new(fingerprint.share(), checked),
        // The copies' ranges first, then the id groups (shorter: they fill in at the end).
        |copies, task, _| match task.checked_sub(ranges.len()) {
            None => {
                let (from, to) = ranges[task];
                copies.check(store, log, upto, from, to).map(|()| None)
            }
            Some(group) => check_ids(store, log, id_group(group), upto).map(Some),
        },
        &mut |_| {},
    );
    let ([mut copies, theirs], done) =
        checked_all.ok_or_else(|| store.corrupt(1, "the check of the indexes failed"))?;
    copies.absorb(theirs);
    // The first failure in task order, as a check on one thread would meet it.
    let mut id_problems = Problems::default();
    for result in done {
        if let Some(ids) = result? {
            id_problems.merge(ids.0);
        }
    }
    // Coverage first: at the same seq, a copy that lacks a line explains an index that
    // disagrees with it.
    copies.check_coverage(store, log, checked, &mut problems)?;
    problems.merge(copies.problems.take());
    problems.merge(id_problems.take());
    check_marker(store, head.seq, &mut problems);
    Ok(VerifyReport {
        events: checked,
        first_bad: problems.take(),
    })
}

/// Asks the kernel to read sled's data file into the page cache ahead of the scans, which read
/// nearly all of it: a store not read lately (this VM drops the page cache between commands)
/// is then read at the disk's sequential speed while the threads work, instead of a leaf at a
/// time as they reach it. Advice only: nothing waits for it, and a failure changes nothing.
fn read_ahead(store: &SledStore) {
    #[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
    if let Ok(file) = std::fs::File::open(store.dir.join("db")) {
        let _ = rustix::fs::fadvise(&file, 0, None, rustix::fs::Advice::WillNeed);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
    let _ = store;
}

/// Runs tasks `0..tasks` on this thread and one more, each thread taking the next task from a
/// shared counter when it is free, so that neither waits long for the other at the end:
/// `run(state, task, tick)`, with a state of each thread's own from `start`; `tick` is
/// `progress` on this thread and does nothing on the other. Gives both threads' states and the
/// results in task order, or None if the other thread panicked.
fn on_two_threads<S: Send, R: Send>(
    tasks: usize,
    start: impl Fn() -> S + Sync,
    run: impl Fn(&mut S, usize, &mut dyn FnMut(u64)) -> R + Sync,
    progress: &mut dyn FnMut(u64),
) -> Option<([S; 2], Vec<R>)> {
    let next = AtomicUsize::new(0);
    let work = |tick: &mut dyn FnMut(u64)| {
        let mut state = start();
        let mut done = Vec::new();
        loop {
            let task = next.fetch_add(1, Ordering::Relaxed);
            if task >= tasks {
                return (state, done);
            }
            done.push((task, run(&mut state, task, tick)));
        }
    };
    let ((mine, mut done), theirs) = std::thread::scope(|scope| {
        let other = scope.spawn(|| work(&mut |_| {}));
        (work(progress), other.join())
    });
    let (theirs, their_done) = theirs.ok()?;
    done.extend(their_done);
    done.sort_by_key(|(task, _)| *task);
    Some(([mine, theirs], done.into_iter().map(|(_, r)| r).collect()))
}

/// Where the runs of the log start: the first seq of the blocks holding events evenly spaced
/// by seq, `LOG_RUNS` of them (one run for a short log), ascending; the first is 1.
fn run_starts(store: &SledStore, head: u64) -> Result<Vec<u64>, StoreError> {
    let mut starts = vec![1];
    if head < SPLIT_FROM {
        return Ok(starts);
    }
    for i in 1..LOG_RUNS as u64 {
        let Some(kv) = store
            .events
            .range(..=seq_key(i * head / LOG_RUNS as u64))
            .next_back()
        else {
            continue;
        };
        let (key, _) = kv.map_err(|e| store.engine(e))?;
        if let Some(first) = read_u64(&key).filter(|&f| starts.last().is_some_and(|&l| f > l)) {
            starts.push(first);
        }
    }
    Ok(starts)
}

/// Lines that start at `first` where `expected` was due: the first seq affected, and what is
/// wrong there.
fn gap(expected: u64, first: u64) -> (u64, String) {
    let seq = expected.min(first);
    let what = if first > expected {
        "is missing"
    } else {
        "is stored twice"
    };
    (seq, format!("event {seq} {what}"))
}

/// The lowest bad seq seen, with what is wrong there (the first noted wins a tie).
#[derive(Default)]
struct Problems(Option<(u64, String)>);

impl Problems {
    fn note(&mut self, seq: u64, message: String) {
        if self.0.as_ref().is_none_or(|(s, _)| seq < *s) {
            self.0 = Some((seq.max(1), message));
        }
    }

    fn merge(&mut self, other: Option<(u64, String)>) {
        if let Some((seq, message)) = other {
            self.note(seq, message);
        }
    }

    fn take(&mut self) -> Option<(u64, String)> {
        self.0.take()
    }
}

/// What a scan of a run of the log found.
struct LogRun {
    start: u64,
    /// Next seq expected; the scan stops at the first break of the chain.
    next: u64,
    broken: bool,
    problems: Problems,
    /// The hash of the line before (None at the start of a run after the first, whose link
    /// the join checks with `first_prev`), and as hex: the text of that line's `hash`, which
    /// a line's `prev_hash` must equal.
    prev: Option<Hash>,
    prev_hex: Option<[u8; 64]>,
    first_prev: Option<[u8; 64]>,
    /// What a copy line is checked against, for every line checked from `start`.
    logged: Vec<Logged>,
}

/// What one thread's scans gathered, whichever runs it took: what later steps need that does
/// not depend on seq order.
struct Gathered {
    fingerprint: Fingerprint,
    /// Id entries of the lines checked, by the first byte of their uuid (in seq order of
    /// each run; sorted by the id check).
    ids: Vec<Vec<[u8; ID_ENTRY]>>,
    /// Seqs of merges that absorbed another account (their second copy).
    merges: Vec<u64>,
    names: Vec<Box<[u8]>>,
    /// Latest recorded_at seen, as stored (fixed-width RFC 3339: text order is time order).
    max_recorded_at: Vec<u8>,
}

impl Gathered {
    fn new(fingerprint: Fingerprint) -> Gathered {
        Gathered {
            fingerprint,
            ids: vec![Vec::new(); 256],
            merges: Vec::new(),
            names: Vec::new(),
            max_recorded_at: Vec::new(),
        }
    }
}

impl LogRun {
    fn new(start: u64, prev: Option<Hash>) -> LogRun {
        LogRun {
            start,
            next: start,
            broken: false,
            problems: Problems::default(),
            prev,
            prev_hex: prev.map(|h| crate::event::hex_digits(&h)),
            first_prev: None,
            logged: Vec::new(),
        }
    }

    /// A break in the chain: everything after it is unreliable, so stop there.
    fn break_at(&mut self, seq: u64, message: String) {
        self.problems.note(seq, message);
        self.broken = true;
    }

    /// Checks the run's blocks; `tick` hears how many lines each block added.
    fn scan(
        &mut self,
        store: &SledStore,
        deep: bool,
        head: u64,
        blocks: sled::Iter,
        gathered: &mut Gathered,
        tick: &mut dyn FnMut(u64),
    ) -> Result<(), StoreError> {
        for kv in blocks {
            let (key, value) = kv.map_err(|e| store.engine(e))?;
            let before = self.next;
            self.check_block(store, deep, head, &key, &value, gathered);
            if self.broken {
                break;
            }
            tick(self.next - before);
        }
        Ok(())
    }

    fn check_block(
        &mut self,
        store: &SledStore,
        deep: bool,
        head: u64,
        key: &[u8],
        value: &[u8],
        gathered: &mut Gathered,
    ) {
        let next = self.next;
        let Some(first) = read_u64(key) else {
            return self.break_at(next, "a block key is damaged".into());
        };
        if first != next {
            return self.gap(first);
        }
        let block = match Block::decode(value) {
            Ok(b) => b,
            Err(m) => return self.break_at(next, m),
        };
        for i in 0..block.len() {
            let seq = first + i as u64;
            match block.line(i) {
                Some(line) => self.check_line(store, deep, head, seq, line, gathered),
                None => self.break_at(seq, "line bounds are damaged".into()),
            }
            if self.broken {
                return;
            }
            self.next = seq + 1;
        }
    }

    /// The next block starts at `first` instead of the seq expected.
    fn gap(&mut self, first: u64) {
        let (seq, message) = gap(self.next, first);
        self.break_at(seq, message);
    }

    fn check_line(
        &mut self,
        store: &SledStore,
        deep: bool,
        head: u64,
        seq: u64,
        line: &[u8],
        gathered: &mut Gathered,
    ) {
        if seq > head {
            return self.break_at(seq, format!("stored beyond the committed head {head}"));
        }
        let (view, hash) = match sealed_line(seq, line, self.prev_hex.as_ref()) {
            Ok(checked) => checked,
            Err(message) => return self.break_at(seq, message),
        };
        if self.prev.is_none() {
            // The first line of a run after the first: `Log::join` checks its link.
            self.first_prev = view.prev_hash_hex.try_into().ok();
        }
        if deep {
            match store.decode_line(seq, line) {
                Ok(event) if event.to_line().as_bytes() == line => {}
                Ok(_) => return self.break_at(seq, "stored line is not in canonical form".into()),
                Err(StoreError::Corrupt { message, .. }) => return self.break_at(seq, message),
                Err(e) => return self.break_at(seq, e.to_string()),
            }
        }
        let Some(id) = Uuid::try_parse_ascii(view.id).ok() else {
            return self.break_at(seq, "id does not decode".into());
        };
        let Some(print) = gathered.fingerprint.of(&view.body_parts()) else {
            return self.break_at(seq, "line is longer than a block holds".into());
        };
        let entry = id_entry(&id, seq);
        gathered.ids[usize::from(entry[0])].push(entry);
        if view.absorbed().is_some_and(|a| a != view.account) {
            gathered.merges.push(seq);
        }
        if seq.is_multiple_of(SAMPLE_EVERY) {
            gathered.names.push(view.account.as_bytes().into());
        }
        if view.recorded_at > gathered.max_recorded_at.as_slice() {
            // In place: recorded_at rises on nearly every line.
            gathered.max_recorded_at.clear();
            gathered.max_recorded_at.extend_from_slice(view.recorded_at);
        }
        self.logged.push(Logged {
            half: half(&hash),
            print,
        });
        self.prev = Some(hash);
        self.prev_hex = view.hash_hex.try_into().ok();
    }
}

/// The log as checked: its runs joined in seq order up to the first break in the chain, and
/// what the two threads gathered.
struct Log {
    /// The runs checked, in seq order (each starts where the one before ended), and where
    /// each starts.
    runs: Vec<LogRun>,
    starts: Vec<u64>,
    /// For each stretch of `1 << STRETCH_BITS` seqs, the run holding its first seq: what the
    /// log has at a seq is found without a search (a search over the runs' starts, made for
    /// every copy line, cost ~3 % of `verify`).
    run_at: Vec<u32>,
    /// The first seq not checked.
    next: u64,
    /// The last line's hash.
    prev: Option<Hash>,
    /// The two threads' id entries by the first byte of their uuid; the id check takes them.
    ids: Vec<Mutex<[Vec<[u8; ID_ENTRY]>; 2]>>,
    /// Seqs of merges, ascending.
    merges: Vec<u64>,
    names: Vec<Box<[u8]>>,
    max_recorded_at: Vec<u8>,
}

impl Log {
    /// Joins the runs (in seq order) where each ends and the next starts, up to the first
    /// that breaks the chain or does not link; notes every run's problems (the lowest seq
    /// wins, so those past a break never show). Returns the log and the first seq not checked
    /// if the chain broke.
    fn join(
        runs: Vec<LogRun>,
        gathered: [Gathered; 2],
        problems: &mut Problems,
    ) -> (Log, Option<u64>) {
        let [mine, mut theirs] = gathered;
        let ids = mine
            .ids
            .into_iter()
            .zip(theirs.ids)
            .map(|(a, b)| Mutex::new([a, b]))
            .collect();
        let mut merges = mine.merges;
        merges.append(&mut theirs.merges);
        merges.sort_unstable();
        let mut names = mine.names;
        names.append(&mut theirs.names);
        let mut log = Log {
            runs: Vec::with_capacity(runs.len()),
            starts: Vec::with_capacity(runs.len()),
            run_at: Vec::new(),
            next: 1,
            prev: None,
            ids,
            merges,
            names,
            max_recorded_at: mine.max_recorded_at.max(theirs.max_recorded_at),
        };
        let mut limit = None;
        for mut run in runs {
            problems.merge(run.problems.take());
            if limit.is_some() {
                continue;
            }
            if log.next != run.start {
                let (first, message) = gap(log.next, run.start);
                problems.note(first, message);
                limit = Some(first);
                continue;
            }
            let linked = match (&log.prev, &run.first_prev) {
                (Some(prev), Some(hex)) => hex_equals(prev, hex),
                // The run holds nothing (its first line broke, or it is empty), or it is the
                // first, whose first line links to the zero hash itself.
                _ => true,
            };
            if !linked {
                let message = "prev_hash does not link to the previous event".to_string();
                problems.note(run.start, message);
                limit = Some(run.start);
                continue;
            }
            log.next = run.next;
            if run.prev.is_some() {
                log.prev = run.prev;
            }
            if run.broken {
                limit = Some(run.next);
            }
            log.starts.push(run.start);
            log.runs.push(run);
        }
        let stretches = (log.next >> STRETCH_BITS) + 1;
        log.run_at = (0..stretches)
            .map(|k| {
                let first = log
                    .starts
                    .partition_point(|&start| start <= k << STRETCH_BITS);
                u32::try_from(first.saturating_sub(1)).unwrap_or(u32::MAX)
            })
            .collect();
        (log, limit)
    }

    fn last_seq(&self) -> u64 {
        self.next - 1
    }

    /// The log ends where the head marker says, with its hash and latest recorded_at.
    fn check_end(&self, head: &Head, problems: &mut Problems) {
        let last = self.last_seq();
        if last != head.seq {
            return problems.note(
                self.next,
                format!("events end at {last}, the head says {}", head.seq),
            );
        }
        if self.prev.unwrap_or(ZERO_HASH) != head.hash {
            return problems.note(last, "head marker's hash is not the last event's".into());
        }
        let latest = std::str::from_utf8(&self.max_recorded_at)
            .ok()
            .filter(|t| !t.is_empty())
            .and_then(|t| crate::event::parse_instant(t).ok());
        if latest != head.recorded_at {
            problems.note(last, "head marker's recorded_at is not the latest".into());
        }
    }

    /// What the log has at `seq` (a checked seq).
    fn logged(&self, seq: u64) -> Option<&Logged> {
        let mut r = *self
            .run_at
            .get(usize::try_from(seq >> STRETCH_BITS).ok()?)? as usize;
        // A later run may start within the stretch.
        while self.starts.get(r + 1).is_some_and(|&start| start <= seq) {
            r += 1;
        }
        let run = self.runs.get(r).filter(|run| run.start <= seq)?;
        run.logged.get(usize::try_from(seq - run.start).ok()?)
    }

    /// Lines checked.
    fn checked_lines(&self) -> usize {
        self.runs.iter().map(|run| run.logged.len()).sum()
    }

    /// Account names that split the checked lines into about `parts` even ranges.
    fn split_names(&self, parts: usize) -> Vec<Vec<u8>> {
        split_names(&self.names, self.checked_lines(), parts)
    }
}

/// Names that split lines into about `parts` even ranges, from a sample of the lines' account
/// names (fewer, down to none, for few lines or names): quantiles of the sample, ascending and
/// distinct.
fn split_names(names: &[Box<[u8]>], lines: usize, parts: usize) -> Vec<Vec<u8>> {
    if lines < SPLIT_FROM as usize || names.len() < parts {
        return Vec::new();
    }
    let mut names: Vec<&[u8]> = names.iter().map(|n| &n[..]).collect();
    names.sort_unstable();
    let mut bounds: Vec<Vec<u8>> = Vec::with_capacity(parts);
    for i in 1..parts {
        let name = names[i * names.len() / parts];
        if bounds.last().is_none_or(|b| b.as_slice() < name) {
            bounds.push(name.to_vec());
        }
    }
    bounds
}

type HalfHash = [u8; 16];

/// What the log keeps of a checked line for the copy check.
#[derive(Clone, Copy)]
struct Logged {
    /// The first half of its hash: a copy line with its hashes, as format 2 kept them, must
    /// hash to its own stored hash in full and share this half (forging one takes a second
    /// preimage of 128 bits).
    half: HalfHash,
    /// The keyed fingerprint of its body: a copy line in the copy form (which is that body)
    /// must have the same.
    print: u128,
}

fn half(hash: &Hash) -> HalfHash {
    let mut h = [0; 16];
    h.copy_from_slice(&hash[..16]);
    h
}

/// An id entry (uuid, then seq, both big-endian) as integers that order as its bytes do.
fn entry_order(entry: &[u8; ID_ENTRY]) -> (u128, u64) {
    let (mut id, mut seq) = ([0; 16], [0; 8]);
    id.copy_from_slice(&entry[..16]);
    seq.copy_from_slice(&entry[16..]);
    (u128::from_be_bytes(id), u64::from_be_bytes(seq))
}

/// Two sorted lists read as one, in order (on a tie, `a`'s first).
struct MergeSorted<'a, T> {
    a: &'a [T],
    b: &'a [T],
}

impl<'a, T: Ord> Iterator for MergeSorted<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<&'a T> {
        let take_b = match (self.a.first(), self.b.first()) {
            (Some(a), Some(b)) => b < a,
            (None, Some(_)) => true,
            _ => false,
        };
        let side = if take_b { &mut self.b } else { &mut self.a };
        let (first, rest) = side.split_first()?;
        *side = rest;
        Some(first)
    }
}

/// Account names from the first (None: the lowest) up to, not including, the second (None:
/// no end).
type NameRange<'a> = (Option<&'a [u8]>, Option<&'a [u8]>);

/// The ranges of account names that `bounds` (ascending) cut: from the first name to the
/// first bound, between bounds, and from the last bound on.
fn name_ranges(bounds: &[Vec<u8>]) -> Vec<NameRange<'_>> {
    let mut ranges = Vec::with_capacity(bounds.len() + 1);
    let mut from = None;
    for bound in bounds {
        ranges.push((from, Some(bound.as_slice())));
        from = Some(bound.as_slice());
    }
    ranges.push((from, None));
    ranges
}

/// What the copies of some ranges of account names showed.
struct CopyRange {
    problems: Problems,
    /// One bit per checked seq: held by its account's copy.
    held: Vec<u64>,
    /// Seqs of merges held by the absorbed account's copy.
    absorbed: Vec<u64>,
    fingerprint: Fingerprint,
    /// What the log has at the seqs of the chunk being read.
    logged: Vec<Option<Logged>>,
    /// The buffer a chunk is unpacked into.
    spare: Vec<u8>,
}

/// One account's copy as it is read.
struct CopyRead {
    name: Vec<u8>,
    /// Its list in the account index, if it has one.
    stored: Option<sled::IVec>,
    /// While the copy's lines are the log's lines at the seqs its list names, in that order:
    /// the position in the list of the next line (`CopyRange::matched_lines`).
    matched: Option<usize>,
    /// Its entries as the account index must hold them (MERGE_FLAG on absorbed merges).
    entries: Vec<u64>,
    version: u64,
    /// What is wrong with the copy, if anything.
    wrong: Option<&'static str>,
}

impl CopyRead {
    /// Whether a line at `seq` comes after the lines read so far (a copy is in seq order).
    fn comes_after(&self, seq: u64) -> bool {
        self.entries.last().is_none_or(|&e| e & !MERGE_FLAG < seq)
    }
}

impl CopyRange {
    /// Nothing read yet, for lines up to `checked`.
    fn new(fingerprint: Fingerprint, checked: u64) -> CopyRange {
        let words = usize::try_from(checked / 64 + 1).unwrap_or(usize::MAX);
        CopyRange {
            problems: Problems::default(),
            held: vec![0; words],
            absorbed: Vec::new(),
            fingerprint,
            logged: Vec::new(),
            spare: Vec::new(),
        }
    }

    /// Reads the copies of the names in `[from, to)` with their account-index entries: lines
    /// and entries up to `upto` (the log is checked through `checked`, as `new` was told).
    fn check(
        &mut self,
        store: &SledStore,
        log: &Log,
        upto: u64,
        from: Option<&[u8]>,
        to: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let range = self;
        let index_key = |name: Option<&[u8]>, last: u8| match name {
            Some(n) => [&[ACCOUNT_PREFIX][..], n].concat(),
            None => vec![last],
        };
        let index_from = index_key(from, ACCOUNT_PREFIX);
        let index_to = index_key(to, ACCOUNT_PREFIX + 1);
        let mut index = store.index.range(index_from..index_to).peekable();
        let copies = match (from, to) {
            (Some(f), Some(t)) => store.streams.range(f..t),
            (Some(f), None) => store.streams.range(f..),
            (None, Some(t)) => store.streams.range(..t),
            (None, None) => store.streams.iter(),
        };
        let mut current: Option<CopyRead> = None;
        let mut damaged_keys = false;
        for kv in copies {
            let (key, value) = kv.map_err(|e| store.engine(e))?;
            let Some(split) = key.iter().position(|&b| b == 0) else {
                damaged_keys = true;
                continue;
            };
            let name = &key[..split];
            if current.as_ref().is_none_or(|c| c.name != name) {
                if let Some(done) = current.take() {
                    range.finish(done, upto);
                }
                let stored = range.index_list(store, name, &mut index, upto)?;
                // As many entries as the index lists, when the copy agrees with it.
                let listed = stored.as_ref().map_or(0, |s| s.len() / 8);
                current = Some(CopyRead {
                    name: name.to_vec(),
                    matched: stored.as_ref().map(|_| 0),
                    stored,
                    entries: Vec::with_capacity(listed),
                    version: 0,
                    wrong: None,
                });
            }
            if let Some(copy) = current.as_mut().filter(|c| c.wrong.is_none()) {
                range.read_chunk(copy, &value, log, upto);
            }
        }
        if let Some(done) = current.take() {
            range.finish(done, upto);
        }
        // Index entries of accounts without a copy.
        for kv in index {
            let (key, value) = kv.map_err(|e| store.engine(e))?;
            range.no_copy(&key[1..], &value, upto);
        }
        if damaged_keys {
            range.problems.note(1, "a stream key is damaged".into());
        }
        Ok(())
    }

    fn read_chunk(&mut self, copy: &mut CopyRead, value: &[u8], log: &Log, upto: u64) {
        // (The buffer it unpacks into is kept from chunk to chunk.)
        let mut spare = std::mem::take(&mut self.spare);
        let block = value
            .get(8..)
            .ok_or_else(String::new)
            .and_then(|v| Block::decode_reusing(v, &mut spare));
        match block {
            Ok(block) => self.read_lines(copy, &block, log, upto),
            Err(_) => copy.wrong = Some("does not decode"),
        }
        self.spare = spare;
    }

    fn read_lines(&mut self, copy: &mut CopyRead, block: &Block<'_>, log: &Log, upto: u64) {
        let start = self.matched_lines(copy, block, log, upto);
        // The envelopes first (up to the first that does not read), then what the log has at
        // each of their seqs: reads at random places of tables larger than the caches, made
        // together so that they overlap instead of each waiting after a line's hashing, which
        // was most of this function's time. Then each line in order.
        let mut views = Vec::with_capacity(block.len() - start);
        views.extend(
            (start..block.len()).map_while(|i| block.line(i).and_then(LineView::parse_copy)),
        );
        copy.entries.reserve(views.len());
        // (A buffer kept for its allocation; a chunk found wrong leaves it to the next.)
        let mut logged = std::mem::take(&mut self.logged);
        logged.clear();
        logged.extend(views.iter().map(|v| log.logged(v.seq).copied()));
        for (view, logged) in views.iter().zip(&logged) {
            let seq = view.seq;
            if seq > upto {
                continue;
            }
            let in_order = copy.comes_after(seq);
            // The log's line at this seq, byte for byte (and so its account and version): a
            // line in the copy form has the fingerprint of the log's body; one with its hashes
            // (format 2) hashes to its own stored hash, whose first half is the log's.
            let same = in_order
                && logged.is_some_and(|logged| {
                    if view.is_sealed() {
                        let hash = view.body_hash();
                        half(&hash) == logged.half && hex_equals(&hash, view.hash_hex)
                    } else {
                        self.fingerprint.of(&view.body_parts()) == Some(logged.print)
                    }
                });
            if !same {
                copy.wrong = Some("does not match the log");
                return;
            }
            if view.account.as_bytes() == copy.name.as_slice() {
                copy.version += 1;
                if view.version != copy.version {
                    let message = format!(
                        "version {} where {} was expected",
                        view.version, copy.version
                    );
                    self.problems.note(seq, message);
                }
                self.hold_own(copy, seq);
            } else if view.absorbed().map(str::as_bytes) == Some(copy.name.as_slice()) {
                copy.entries.push(seq | MERGE_FLAG);
                self.absorbed.push(seq);
            } else {
                copy.wrong = Some("does not match the log");
                return;
            }
        }
        if start + views.len() < block.len() {
            copy.wrong = Some("does not decode");
        }
        self.logged = logged;
    }

    /// How many lines from the start of `block` are, in order, the log's own lines of this
    /// account at the seqs its index list names next, found without reading their envelopes
    /// (~7 % of `verify`): a line with the fingerprint of the log's body at a seq is that body
    /// (seq, account, version and all), so its first member and its last tell the rest. At a
    /// line it cannot take so (a merge, a seq beyond `upto`, a line that differs, a list that
    /// ends) it stops for good, and the lines from there are read one by one as before: the
    /// entries, notes and problems are the same either way.
    fn matched_lines(
        &mut self,
        copy: &mut CopyRead,
        block: &Block<'_>,
        log: &Log,
        upto: u64,
    ) -> usize {
        // (A handle on the list: sled shares a value of this size rather than copying it.)
        let (Some(at), Some(stored)) = (copy.matched, copy.stored.clone()) else {
            return 0;
        };
        let listed = stored.get(at.saturating_mul(8)..).unwrap_or_default();
        let seqs = || decode_entries(listed).take(block.len());
        // What the log has at each seq, looked up together (as `read_chunk` does).
        let mut logged = std::mem::take(&mut self.logged);
        logged.clear();
        logged.extend(seqs().map(|seq| match seq {
            s if s & MERGE_FLAG != 0 || s > upto => None,
            s => log.logged(s).copied(),
        }));
        let mut matched = 0;
        for (i, (seq, logged)) in seqs().zip(&logged).enumerate() {
            let Some((logged, line)) = logged.as_ref().zip(block.line(i)) else {
                break;
            };
            let in_order = copy.comes_after(seq);
            let same = in_order
                && self.fingerprint.of(&[line]) == Some(logged.print)
                && own_version(line, &copy.name) == Some(copy.version + 1);
            if !same {
                break;
            }
            copy.version += 1;
            self.hold_own(copy, seq);
            matched += 1;
        }
        self.logged = logged;
        copy.matched = (matched == block.len()).then_some(at + matched);
        matched
    }

    /// `seq` is the next of the copy's own lines: an entry of its list, held by its copy.
    fn hold_own(&mut self, copy: &mut CopyRead, seq: u64) {
        copy.entries.push(seq);
        if let Some(word) = self.held.get_mut((seq / 64) as usize) {
            *word |= 1 << (seq % 64);
        }
    }

    /// Advances the account index to `name`: the lists of the names before it have no copy
    /// (noted); gives `name`'s list, if it has one.
    fn index_list(
        &mut self,
        store: &SledStore,
        name: &[u8],
        index: &mut std::iter::Peekable<sled::Iter>,
        upto: u64,
    ) -> Result<Option<sled::IVec>, StoreError> {
        let mut stored = None;
        while let Some(kv) = index.next_if(|kv| {
            kv.as_ref()
                .map_or(true, |(key, _)| key.get(1..) <= Some(name))
        }) {
            let (key, value) = kv.map_err(|e| store.engine(e))?;
            if key[1..] == *name {
                stored = Some(value);
            } else {
                self.no_copy(&key[1..], &value, upto);
            }
        }
        Ok(stored)
    }

    /// Compares a copy read whole with its list in the account index.
    fn finish(&mut self, copy: CopyRead, upto: u64) {
        let stored = copy.stored;
        let name = String::from_utf8_lossy(&copy.name);
        let first = stored
            .as_ref()
            .and_then(|v| below(v, upto).next())
            .or(copy.entries.first().copied())
            .map_or(1, |e| e & !MERGE_FLAG);
        if let Some(what) = copy.wrong {
            self.problems
                .note(first, format!("stream copy of {name} {what}"));
            return;
        }
        if std::str::from_utf8(&copy.name)
            .ok()
            .and_then(|n| Account::parse(n).ok())
            .is_none()
        {
            self.problems
                .note(first, format!("account name {name:?} does not decode"));
        }
        match stored {
            Some(value) if value.len() % 8 != 0 => {
                let message = format!("account index of {name} does not decode");
                self.problems.note(first, message);
            }
            Some(value) => {
                let copied = copy.entries.iter().copied();
                if let Some(at) = first_difference_iter(below(&value, upto), copied) {
                    let message = format!("account index of {name} is wrong at seq {at}");
                    self.problems.note(at, message);
                }
            }
            None => {
                if let Some(&at) = copy.entries.first() {
                    let message = format!("account index lacks {name}");
                    self.problems.note(at & !MERGE_FLAG, message);
                }
            }
        }
    }

    /// An account-index entry with no copy beside it.
    fn no_copy(&mut self, name: &[u8], value: &[u8], upto: u64) {
        if let Some(first) = below(value, upto).next() {
            let name = String::from_utf8_lossy(name);
            self.problems.note(
                first & !MERGE_FLAG,
                format!("stream copy of {name} is missing"),
            );
        }
    }

    fn absorb(&mut self, other: CopyRange) {
        self.problems.merge(other.problems.0);
        for (word, theirs) in self.held.iter_mut().zip(other.held) {
            *word |= theirs;
        }
        self.absorbed.extend(other.absorbed);
    }

    /// Every checked seq is held by its account's copy, and every merge also by the copy of
    /// the account it absorbed; what is not is named at its seq.
    fn check_coverage(
        &mut self,
        store: &SledStore,
        log: &Log,
        checked: u64,
        problems: &mut Problems,
    ) -> Result<(), StoreError> {
        let missing = (1..=checked).find(|&seq| {
            self.held
                .get((seq / 64) as usize)
                .is_none_or(|w| w & (1 << (seq % 64)) == 0)
        });
        if let Some(seq) = missing {
            let name = account_at(store, seq)?;
            problems.note(seq, format!("stream copy of {name} lacks event {seq}"));
        }
        self.absorbed.sort_unstable();
        let merges = log.merges.iter().take_while(|&&s| s <= checked);
        if let Some(seq) = first_difference_iter(merges.copied(), self.absorbed.iter().copied()) {
            let name = absorbed_at(store, seq)?;
            problems.note(seq, format!("stream copy of {name} lacks event {seq}"));
        }
        Ok(())
    }
}

/// The seq where two ascending lists of entries first differ (entries compare with their
/// `MERGE_FLAG`; the seq is the lower of the two there, without it).
fn first_difference_iter(
    a: impl Iterator<Item = u64>,
    b: impl Iterator<Item = u64>,
) -> Option<u64> {
    first_difference(a, b, |e| e & !MERGE_FLAG)
}

/// An account list's entries up to `upto` (a break in the chain leaves the rest unchecked).
fn below(list: &[u8], upto: u64) -> impl Iterator<Item = u64> + '_ {
    decode_entries(list).filter(move |e| e & !MERGE_FLAG <= upto)
}

/// The account of the log's line at `seq` (a checked seq), for naming a missing copy line.
fn account_at(store: &SledStore, seq: u64) -> Result<String, StoreError> {
    with_line(store, seq, |view| view.account.to_string())
}

/// The account a merge at `seq` absorbed.
fn absorbed_at(store: &SledStore, seq: u64) -> Result<String, StoreError> {
    with_line(store, seq, |view| {
        view.absorbed().unwrap_or("?").to_string()
    })
}

fn with_line(
    store: &SledStore,
    seq: u64,
    f: impl FnOnce(&LineView) -> String,
) -> Result<String, StoreError> {
    let Some(kv) = store.events.range(..=seq_key(seq)).next_back() else {
        return Ok("?".into());
    };
    let (key, value) = kv.map_err(|e| store.engine(e))?;
    let line = read_u64(&key)
        .zip(Block::decode(&value).ok())
        .and_then(|(first, block)| {
            let line = block.line(usize::try_from(seq.checked_sub(first)?).ok()?)?;
            LineView::parse(line).map(|view| f(&view))
        });
    Ok(line.unwrap_or_else(|| "?".into()))
}

/// The first bytes of the uuids in id group `group`, `ID_GROUPS` of them evenly.
fn id_group(group: usize) -> std::ops::Range<usize> {
    group * 256 / ID_GROUPS..(group + 1) * 256 / ID_GROUPS
}

/// The keys of the id buckets for uuids whose first byte is in `bytes`: from the bucket of the
/// first such uuid (for the first group: from the prefix alone) up to that of the next group's
/// first (for the last: every key with the prefix).
fn id_group_keys(bytes: std::ops::Range<usize>) -> std::ops::Range<Vec<u8>> {
    let key_at = |b: usize, or: &[u8]| match u8::try_from(b) {
        Ok(first) if b > 0 => bucket_key(&[first, 0]).to_vec(),
        _ => or.to_vec(),
    };
    key_at(bytes.start, &[BUCKET_PREFIX])..key_at(bytes.end, &[BUCKET_PREFIX + 1])
}

/// The id index holds exactly one entry per checked event, mapping its id to its seq; here,
/// for the uuids whose first byte is in `bytes`. The entries the events call for (each first
/// byte's two lists sorted, then merged as read) and the stored buckets of those uuids (in key
/// order, each sorted: together sorted by uuid) are merged in one pass; the first difference
/// is named at the lower seq involved. Every key with the buckets' prefix falls in one group's
/// key range.
fn check_ids(
    store: &SledStore,
    log: &Log,
    bytes: std::ops::Range<usize>,
    upto: u64,
) -> Result<Problems, StoreError> {
    let seq_of = |e: &[u8]| read_u64(&e[16..]).unwrap_or(1);
    let mut wanted: Vec<[Vec<[u8; ID_ENTRY]>; 2]> = Vec::with_capacity(bytes.len());
    for b in bytes.clone() {
        let Some(lists) = log.ids.get(b) else { break };
        let mut lists = std::mem::take(&mut *lists.lock().unwrap_or_else(|e| e.into_inner()));
        for list in &mut lists {
            list.sort_unstable_by_key(entry_order);
        }
        wanted.push(lists);
    }
    let mut want = wanted
        .iter()
        .flat_map(|[a, b]| MergeSorted { a, b })
        .filter(|e| seq_of(&e[..]) <= upto)
        .peekable();
    let mut problems = Problems::default();
    let missing = |w: &[u8; ID_ENTRY], problems: &mut Problems| {
        let id = Uuid::from_slice(&w[..16]).unwrap_or_default();
        let at = seq_of(&w[..]);
        problems.note(at, format!("id index does not map {id} to seq {at}"));
    };
    for kv in store.index.range(id_group_keys(bytes)) {
        let (_, value) = kv.map_err(|e| store.engine(e))?;
        if value.len() % ID_ENTRY != 0 {
            problems.note(1, "an id bucket does not decode".into());
            continue;
        }
        for stored in value.chunks_exact(ID_ENTRY) {
            let seq = seq_of(stored);
            if seq > upto {
                continue;
            }
            // Expected entries sorting before this stored one are missing from the index.
            while let Some(w) = want.next_if(|w| w[..] < *stored) {
                missing(w, &mut problems);
            }
            if want.next_if(|w| w[..] == *stored).is_none() {
                let message = "id index holds an entry that matches no event".to_string();
                problems.note(seq, message);
            }
        }
    }
    for w in want {
        missing(w, &mut problems);
    }
    Ok(problems)
}

/// The indexes are marked complete through the head.
fn check_marker(store: &SledStore, head: u64, problems: &mut Problems) {
    match store.indexed_through() {
        Ok(through) if through != head => problems.note(
            through.min(head) + 1,
            format!("indexes are marked complete through {through}, the head is {head}"),
        ),
        Ok(_) => {}
        Err(_) => problems.note(1, "index marker does not decode".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_sorted_lists_read_as_one_sorted_list() {
        let cases: [(&[u32], &[u32]); 5] = [
            (&[], &[]),
            (&[1, 4, 4, 9], &[]),
            (&[], &[2, 3]),
            (&[1, 3, 5, 7], &[2, 3, 6, 8, 10, 12]),
            (&[5, 6], &[1, 2, 5]),
        ];
        for (a, b) in cases {
            let merged: Vec<u32> = MergeSorted { a, b }.copied().collect();
            let mut expected = [a, b].concat();
            expected.sort_unstable();
            assert_eq!(merged, expected, "{a:?} + {b:?}");
        }
    }

    #[test]
    fn lists_of_entries_differ_first_at_the_lower_seq_whatever_their_flags() {
        let f = MERGE_FLAG;
        let cases: [(&[u64], &[u64], Option<u64>); 7] = [
            (&[], &[], None),
            (&[1, 2 | f, 3], &[1, 2 | f, 3], None),
            // A flagged entry is a different entry, named at its seq, not above every seq.
            (&[1, 5 | f], &[1, 7], Some(5)),
            (&[1, 7], &[1, 5 | f], Some(5)),
            (&[1, 5 | f], &[1, 5], Some(5)),
            (&[1, 2], &[1, 2, 9 | f], Some(9)),
            (&[4 | f], &[], Some(4)),
        ];
        for (a, b, expected) in cases {
            let found = first_difference_iter(a.iter().copied(), b.iter().copied());
            assert_eq!(found, expected, "{a:?} against {b:?}");
        }
    }

    #[test]
    fn every_id_bucket_key_falls_in_the_key_range_of_its_uuids_group_only() {
        let groups: Vec<_> = (0..ID_GROUPS).map(id_group).collect();
        assert_eq!(groups[0].start, 0);
        assert_eq!(groups[ID_GROUPS - 1].end, 256);
        assert!(groups.windows(2).all(|w| w[0].end == w[1].start));
        let ranges: Vec<_> = groups.iter().map(|g| id_group_keys(g.clone())).collect();
        let holding = |key: &[u8]| -> Vec<usize> {
            (0..ID_GROUPS)
                .filter(|&g| ranges[g].contains(&key.to_vec()))
                .collect()
        };
        for first in 0..=255u8 {
            for second in [0, 0x0f, 0x10, 0x7f, 0xf0, 0xff] {
                let key = bucket_key(&[first, second]);
                let group = groups.iter().position(|g| g.contains(&usize::from(first)));
                assert_eq!(
                    holding(&key),
                    Vec::from_iter(group),
                    "uuid {first:02x}{second:02x}"
                );
                // A damaged key longer than a bucket's is still checked, by one group.
                assert_eq!(holding(&[&key[..], b"x"].concat()).len(), 1);
            }
        }
        assert_eq!(holding(&[BUCKET_PREFIX]), vec![0]);
        assert!(holding(&[BUCKET_PREFIX - 1, 0xff]).is_empty());
        assert!(holding(&[BUCKET_PREFIX + 1]).is_empty());
    }

    #[test]
    fn id_entries_sort_by_integer_key_as_their_bytes_do() {
        // Entries that differ in every byte position, alone and together, incl. equal ids.
        let mut entries = Vec::new();
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..2000u64 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let mut e = [0u8; ID_ENTRY];
            e[..8].copy_from_slice(&x.to_le_bytes());
            e[8..16].copy_from_slice(&(x.rotate_left(17) & (i % 4)).to_be_bytes());
            e[16..].copy_from_slice(&(x % 7).to_be_bytes());
            let position = (i % ID_ENTRY as u64) as usize;
            e[position] = e[position].wrapping_add(0x80);
            if i % 5 == 0 {
                e[..16].fill(0xab);
            }
            entries.push(e);
        }
        let mut by_bytes = entries.clone();
        by_bytes.sort_unstable();
        entries.sort_unstable_by_key(entry_order);
        assert_eq!(entries, by_bytes);
    }

    #[test]
    fn name_ranges_hold_every_name_once_in_about_even_parts() {
        let mut next = crate::event::tests::xorshift(0x5DEE_CE66_D1CE_4E5B);
        // Many names, few names (repeated), and one name.
        for distinct in [5000, 7, 1] {
            let names: Vec<Box<[u8]>> = (0..2000)
                .map(|_| format!("acct-{:05}", next() % distinct).into_bytes().into())
                .collect();
            assert!(split_names(&names, SPLIT_FROM as usize - 1, COPY_RANGES).is_empty());
            let bounds = split_names(&names, SPLIT_FROM as usize, COPY_RANGES);
            assert!(
                bounds.windows(2).all(|w| w[0] < w[1]),
                "ascending, distinct"
            );
            assert!(bounds.len() < COPY_RANGES);
            let ranges = name_ranges(&bounds);
            assert_eq!(ranges.len(), bounds.len() + 1);
            let mut counts = vec![0usize; ranges.len()];
            for name in &names {
                let name = &name[..];
                let holding: Vec<usize> = (0..ranges.len())
                    .filter(|&r| {
                        let (from, to) = ranges[r];
                        from.is_none_or(|f| f <= name) && to.is_none_or(|t| name < t)
                    })
                    .collect();
                assert_eq!(holding.len(), 1, "{name:?} in ranges {holding:?}");
                counts[holding[0]] += 1;
            }
            if distinct == 5000 {
                assert_eq!(ranges.len(), COPY_RANGES);
                let even = names.len() / COPY_RANGES;
                assert!(
                    counts.iter().all(|&c| c > even / 2 && c < even * 2),
                    "{counts:?}"
                );
            }
        }
    }

    #[test]
    fn what_the_log_has_at_a_seq_is_found_in_the_run_holding_it() {
        // Runs shorter than a stretch, several in one, one ending and one starting on a
        // stretch's edge, and a long one.
        let lengths = [4095u64, 1, 3, 2, 9000, 4096, 1, 20000];
        let mut runs = Vec::new();
        let mut start = 1;
        for len in lengths {
            let mut run = LogRun::new(start, Some(ZERO_HASH));
            run.logged = (start..start + len)
                .map(|seq| Logged {
                    half: [0; 16],
                    print: u128::from(seq),
                })
                .collect();
            run.next = start + len;
            runs.push(run);
            start += len;
        }
        let gathered = [(); 2].map(|()| Gathered::new(Fingerprint::random()));
        let (log, limit) = Log::join(runs, gathered, &mut Problems::default());
        assert_eq!(limit, None);
        assert_eq!(log.next, start);
        assert!(log.logged(0).is_none());
        for seq in 1..start {
            assert_eq!(
                log.logged(seq).map(|l| l.print),
                Some(u128::from(seq)),
                "seq {seq}"
            );
        }
        assert!(log.logged(start).is_none());
        assert!(log.logged(u64::MAX).is_none());
    }
}
