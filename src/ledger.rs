//! The ledger: the append pipeline and the queries, on top of a [`Store`] and the pure domain.
//!
//! Append, per input line: parse (strict) → identity (id given or made) → idempotency by id →
//! `recorded_at` never backwards → `expected_version` → stored-form fields must match →
//! rules (the domain fold, R1–R30, with back-dated events re-validating the whole history,
//! R29) → seal (seq, version, hash chain) → stage in the store's batch. One call commits all
//! or nothing; after a rejected event the rest is checked as if it were absent.

use std::collections::{BTreeSet, VecDeque};

use foldhash::{HashMap, HashMapExt};

use uuid::Uuid;

use crate::domain::state::{
    fold, prepare_stream, prepare_stream_owned, prepare_streams, Context, Mode, Rejection, State,
    StreamMap, Violation,
};
use crate::domain::view::{project, StateView};
use crate::domain::Catalog;
use crate::event::{
    format_date, format_instant, hex, Account, Body, Date, Event, EventType, InputEvent, Instant,
    Sealed, StoredCheck, StoredEvent,
};
use crate::input::InputLine;
use crate::store::memory::StagedIndex;
use crate::store::{AppendBatch, Head, Store, StoreError};

/// Most events one account may hold; beyond it an append is rejected with a clear error.
pub const MAX_EVENTS_PER_ACCOUNT: usize = 2_000_000;

/// Why one input line was not appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// Which input (file name) when there are several.
    pub source: Option<String>,
    /// Line number within that input, from 1.
    pub line: u64,
    /// Type, account and date, when the line parsed.
    pub event: Option<(EventType, Account, Date)>,
    /// The rule broken, when one applies.
    pub rule: Option<u8>,
    pub message: String,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(source) = &self.source {
            write!(f, "{source}: ")?;
        }
        match &self.event {
            Some((t, a, d)) => write!(
                f,
                "event {} ({t}, {a}, {}): {}",
                self.line,
                format_date(*d),
                self.message
            ),
            None => write!(f, "line {}: {}", self.line, self.message),
        }
    }
}

/// What a successful append did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppendReport {
    /// Events newly stored.
    pub appended: u64,
    /// seq range of the new events.
    pub first_seq: Option<u64>,
    pub last_seq: Option<u64>,
    /// Lines that were already in the ledger (same id, same content): (line, existing seq).
    pub already_present: Vec<(u64, u64)>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// An input line with the name of the input it came from.
pub struct SourcedLine {
    pub source: Option<String>,
    pub line: InputLine,
}

/// The ledger over one store and one catalog.
pub struct Ledger<'s> {
    store: &'s dyn Store,
    catalog: Catalog,
}

impl<'s> Ledger<'s> {
    pub fn new(store: &'s dyn Store, catalog: Catalog) -> Ledger<'s> {
        Ledger { store, catalog }
    }

    pub fn store(&self) -> &'s dyn Store {
        self.store
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Appends all lines or none. `now` is the clock reading used for lines without
    /// `recorded_at`. Returns the per-line errors when anything is rejected.
    pub fn append(
        &self,
        lines: impl Iterator<Item = SourcedLine>,
        now: Instant,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Result<AppendReport, Vec<LineError>>, LedgerError> {
        let batch = self.store.begin()?;
        std::thread::scope(|scope| {
            // A thread that frees what `Discard` hands it; without one, all is freed here.
            let (send, receive) = std::sync::mpsc::sync_channel::<Garbage>(DISCARD_BATCHES);
            let freeing = std::thread::Builder::new()
                .name("partner-ledger-free".into())
                .spawn_scoped(scope, move || receive.into_iter().for_each(drop));
            let mut session = Session::new(self.store, &self.catalog, Some(batch))?;
            session.discard = freeing.ok().map(|_| Discard::new(send));
            let errors = session.ingest(lines, now, progress)?;
            if !errors.is_empty() {
                return Ok(Err(errors)); // the batch is dropped: nothing written
            }
            let report = session.report.clone();
            let (batch, tables, discard) = session.into_parts();
            if report.appended > 0 {
                // The session's tables (folded states: ~150 bytes per event) are freed on the
                // other thread while the store starts its commit (sorting index entries), and
                // are gone before its peak, the stream copies. Freeing them first took ~0.23 s
                // of a 1 M import, alone on one core.
                match discard {
                    Some(discard) => discard.finish(Box::new(tables)),
                    None => drop(tables),
                }
                batch.commit()?;
            }
            Ok(Ok(report))
        })
    }

    /// What-if: validates `lines` on top of the stored ledger (or an empty one, when the store
    /// is a fresh memory store) and returns the state of `account` on `as_of`. Writes nothing.
    pub fn replay(
        &self,
        lines: impl Iterator<Item = SourcedLine>,
        now: Instant,
        account: &Account,
        as_of: Date,
    ) -> Result<Result<StateView, Vec<LineError>>, LedgerError> {
        let mut session = Session::new(self.store, &self.catalog, None)?;
        let errors = session.ingest(lines, now, &mut |_| {})?;
        if !errors.is_empty() {
            return Ok(Err(errors));
        }
        let raw = session.closure_of(std::slice::from_ref(account), StreamMap::new())?;
        Ok(Ok(view_from_raw(
            raw,
            account,
            &self.catalog,
            as_of,
            None,
            None,
        )))
    }

    /// The account's state on `as_of`, counting only events recorded at or before `known_at`.
    pub fn state(
        &self,
        account: &Account,
        as_of: Date,
        known_at: Option<(Instant, String)>,
    ) -> Result<StateView, LedgerError> {
        self.state_reading(account, as_of, known_at, true)
    }

    /// The folded state (not projected) on `as_of`, for callers that derive more from it.
    pub fn folded(
        &self,
        account: &Account,
        as_of: Option<Date>,
        known_at: Option<Instant>,
    ) -> Result<State, LedgerError> {
        let raw = self.closure_for(account, as_of, known_at)?;
        Ok(fold_owned(raw, account, &self.catalog, as_of, known_at))
    }

    /// [`Ledger::state`] from the full raw streams, without letting the store leave out what
    /// the projection does not need (tests hold the two equal).
    #[doc(hidden)]
    pub fn state_from_full_streams(
        &self,
        account: &Account,
        as_of: Date,
        known_at: Option<(Instant, String)>,
    ) -> Result<StateView, LedgerError> {
        self.state_reading(account, as_of, known_at, false)
    }

    /// The state on `as_of`; `skip`: let the store leave out what the projection rules out.
    fn state_reading(
        &self,
        account: &Account,
        as_of: Date,
        known_at: Option<(Instant, String)>,
        skip: bool,
    ) -> Result<StateView, LedgerError> {
        let (instant, text) = known_at.map_or((None, None), |(i, t)| (Some(i), Some(t)));
        let raw = if skip {
            self.closure_for(account, Some(as_of), instant)?
        } else {
            self.raw_closure(account)?
        };
        Ok(view_from_raw(
            raw,
            account,
            &self.catalog,
            as_of,
            instant,
            text,
        ))
    }

    /// Raw streams of `account` and, recursively, of the accounts it absorbed.
    pub fn raw_closure(&self, account: &Account) -> Result<StreamMap, LedgerError> {
        self.closure_for(account, None, None)
    }

    /// [`Ledger::raw_closure`] for a projection on `until` known at `known_at`: the store may
    /// leave out (undecoded) events those rule out (`Store::account_events_for`).
    fn closure_for(
        &self,
        account: &Account,
        until: Option<Date>,
        known_at: Option<Instant>,
    ) -> Result<StreamMap, LedgerError> {
        let events = self.store.account_events_for(account, until, known_at)?;
        self.closure_from(account, events, until, known_at)
    }

    /// The merge closure of `account` whose own events (`account_events_for` with the same
    /// `until` and `known_at`) the caller has read: the accounts it absorbed are read too.
    fn closure_from(
        &self,
        account: &Account,
        events: Vec<StoredEvent>,
        until: Option<Date>,
        known_at: Option<Instant>,
    ) -> Result<StreamMap, LedgerError> {
        let mut raw = StreamMap::new();
        let mut queue = VecDeque::new();
        let mut next = Some((account.clone(), events));
        loop {
            let (a, events) = match next.take() {
                Some(first) => first,
                None => match queue.pop_front() {
                    Some(a) => {
                        if raw.contains_key(&a)
                            || raw.len() > crate::domain::state::MAX_MERGE_DEPTH * 8
                        {
                            continue;
                        }
                        let events = self.store.account_events_for(&a, until, known_at)?;
                        (a, events)
                    }
                    None => break,
                },
            };
            for e in &events {
                if let Body::AccountsMerged(m) = &e.event.body {
                    if e.event.account == a {
                        queue.push_back(m.absorbed.clone());
                    }
                }
            }
            raw.insert(a, events);
        }
        Ok(raw)
    }

    /// [`Ledger::folded`] on `as_of` of an account whose own events the caller has read
    /// (`Store::account_events_for(account, Some(as_of), None)`, as the report walk gives
    /// them): only the accounts it absorbed are read.
    pub fn folded_from(
        &self,
        account: &Account,
        events: Vec<StoredEvent>,
        as_of: Date,
    ) -> Result<State, LedgerError> {
        let raw = self.closure_from(account, events, Some(as_of), None)?;
        Ok(fold_owned(raw, account, &self.catalog, Some(as_of), None))
    }
}

/// Folds `account` from raw streams, in Project mode (queries never fail on stored events).
pub fn fold_from_raw(
    raw: &StreamMap,
    account: &Account,
    catalog: &Catalog,
    as_of: Option<Date>,
    known_at: Option<Instant>,
) -> State {
    let streams = prepare_streams(raw, known_at, as_of);
    let ctx = Context::new(&streams, catalog, Mode::Project);
    fold(account, &ctx).unwrap_or_else(|_| State::new(account.clone()))
}

fn view_from_raw(
    raw: StreamMap,
    account: &Account,
    catalog: &Catalog,
    as_of: Date,
    known_at: Option<Instant>,
    known_at_text: Option<String>,
) -> StateView {
    let state = fold_owned(raw, account, catalog, Some(as_of), known_at);
    project(&state, as_of, known_at_text)
}

/// [`fold_from_raw`] on streams the caller gives up: they are filtered in place, no event is
/// copied (every query and the report fold this way).
fn fold_owned(
    raw: StreamMap,
    account: &Account,
    catalog: &Catalog,
    as_of: Option<Date>,
    known_at: Option<Instant>,
) -> State {
    let streams: StreamMap = raw
        .into_iter()
        .map(|(a, events)| (a, prepare_stream_owned(events, known_at, as_of)))
        .collect();
    let ctx = Context::new(&streams, catalog, Mode::Project);
    fold(account, &ctx).unwrap_or_else(|_| State::new(account.clone()))
}

// ------------------------------------------------------------------------------------------------
// The append session

enum Outcome {
    Appended,
    /// Already in the ledger with the same content, at this seq.
    Present(u64),
    Rejected(Option<u8>, String),
}

struct Session<'a> {
    store: &'a dyn Store,
    catalog: &'a Catalog,
    /// Where accepted events are staged: the store's batch, or a scratch batch for replays.
    batch: Box<dyn AppendBatch + 'a>,
    head: Head,
    /// Accounts touched so far: one table (version and folded state), so that an event looks
    /// its account up in one table, three times, instead of seven times in two.
    touched: HashMap<Account, Touched>,
    /// Full raw streams of accounts linked by merges (few), kept for their frequent refolds.
    linked_streams: StreamMap,
    /// The streams of a merge's two accounts as its validation read them, before the merge,
    /// for `commit_to_session` to link: reading them back from the batch is ~20 unpacked
    /// blocks an account (its events are spread over the log). Emptied by every validation.
    merge_read: StreamMap,
    report: AppendReport,
    /// Where the buffers the parsing thread allocated go to be freed (`append` only).
    discard: Option<Discard>,
}

/// What `Discard` hands to the thread that frees it.
type Garbage = Box<dyn Send>;

/// Hands what the appending thread would otherwise free to a thread that frees it. The buffers
/// the parsing thread allocated go a batch at a time: freed here, each took that thread's malloc
/// arena lock while it was allocating from it (in a 1 M import this thread slept on that lock
/// ~20,000 times, by `sched_switch` traces), and freeing them elsewhere made the import ~7 %
/// faster. The session's tables go last.
struct Discard {
    batch: Vec<String>,
    to: std::sync::mpsc::SyncSender<Garbage>,
}

/// Buffers a `Discard` batch holds, and batches in flight to the freeing thread.
const DISCARD_BATCH: usize = 1024;
const DISCARD_BATCHES: usize = 4;

impl Discard {
    fn new(to: std::sync::mpsc::SyncSender<Garbage>) -> Discard {
        Discard {
            batch: Vec::with_capacity(DISCARD_BATCH),
            to,
        }
    }

    fn push(&mut self, buffer: String) {
        self.batch.push(buffer);
        if self.batch.len() == DISCARD_BATCH {
            let full = std::mem::replace(&mut self.batch, Vec::with_capacity(DISCARD_BATCH));
            // A freeing thread that has ended hands the batch back: freed here.
            let _ = self.to.send(Box::new(full));
        }
    }

    /// Hands over the buffers not yet sent, and `last`.
    fn finish(self, last: Garbage) {
        let _ = self.to.send(Box::new(self.batch));
        let _ = self.to.send(last);
    }
}

/// A session's tables, held only to be freed.
struct SessionTables {
    _touched: HashMap<Account, Touched>,
    _linked_streams: StreamMap,
    _merge_read: StreamMap,
}

/// What the session knows of an account it touched.
#[derive(Default)]
struct Touched {
    /// Own events (stored and staged).
    version: u64,
    /// The fold of the account's whole history so far, for an account without merges
    /// (incremental validation): kept after an event in business-date order, and after the
    /// refold of a back-dated event or a void; cleared by a merge or a rejected fold. Boxed,
    /// so that the table's entries are 32 bytes: with the ~330-byte state inline, 50,000
    /// accounts took a 25 MB table (65,536 slots), and its last growth held two at once.
    folded: Option<Box<State>>,
}

/// A batch that is never committed: replays stage here, in memory.
#[derive(Default)]
struct ScratchBatch {
    events: Vec<StoredEvent>,
    index: StagedIndex,
}

impl AppendBatch for ScratchBatch {
    fn push(&mut self, event: StoredEvent) -> Result<(), StoreError> {
        self.index.add(&event);
        self.events.push(event);
        Ok(())
    }

    fn staged_id(&self, id: &Uuid) -> Option<u64> {
        self.index.id(id)
    }

    fn staged_for(&self, account: &Account) -> Vec<u64> {
        self.index.concerning(account)
    }

    fn staged(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let first = self.events.first().map_or(u64::MAX, |e| e.seq);
        Ok(seq
            .checked_sub(first)
            .and_then(|i| self.events.get(i as usize))
            .cloned())
    }

    fn commit(self: Box<Self>) -> Result<Head, StoreError> {
        Err(StoreError::Sequence(
            "a replay is never committed".to_string(),
        ))
    }
}

impl<'a> Session<'a> {
    /// The batch, the tables the session built, and its `Discard`.
    fn into_parts(self) -> (Box<dyn AppendBatch + 'a>, SessionTables, Option<Discard>) {
        let tables = SessionTables {
            _touched: self.touched,
            _linked_streams: self.linked_streams,
            _merge_read: self.merge_read,
        };
        (self.batch, tables, self.discard)
    }

    fn new(
        store: &'a dyn Store,
        catalog: &'a Catalog,
        batch: Option<Box<dyn AppendBatch + 'a>>,
    ) -> Result<Self, LedgerError> {
        // The head is read after `begin`, under the store's writer lock.
        let head = store.head()?;
        Ok(Session {
            store,
            catalog,
            batch: batch.unwrap_or_else(|| Box::<ScratchBatch>::default()),
            head,
            touched: HashMap::new(),
            linked_streams: StreamMap::new(),
            merge_read: StreamMap::new(),
            report: AppendReport::default(),
            discard: None,
        })
    }

    fn ingest(
        &mut self,
        lines: impl Iterator<Item = SourcedLine>,
        now: Instant,
        progress: &mut dyn FnMut(u64),
    ) -> Result<Vec<LineError>, LedgerError> {
        let mut errors = Vec::new();
        for (n, SourcedLine { source, line }) in lines.enumerate() {
            if n % 4096 == 0 {
                progress(n as u64);
            }
            let fail = |event: Option<(EventType, Account, Date)>,
                        rule: Option<u8>,
                        message: String| LineError {
                source: source.clone(),
                line: line.line,
                event,
                rule,
                message,
            };
            let input = match line.parsed {
                Ok(input) => input,
                Err(e) => {
                    errors.push(fail(None, None, e.message));
                    continue;
                }
            };
            let what = Some((
                input.body().event_type(),
                input.account().clone(),
                input.date(),
            ));
            match self.accept(input, now)? {
                Outcome::Appended => {}
                Outcome::Present(seq) => self.report.already_present.push((line.line, seq)),
                Outcome::Rejected(rule, message) => errors.push(fail(what, rule, message)),
            }
        }
        Ok(errors)
    }

    /// One line, checked and, if it passes, staged.
    fn accept(&mut self, mut input: InputEvent, now: Instant) -> Result<Outcome, LedgerError> {
        let id = input.id.unwrap_or_else(Uuid::new_v4);
        // Idempotency by id: the same content is a no-op reporting the existing seq.
        if let Some(existing) = self.lookup(&id)? {
            let candidate = Event {
                id,
                account: input.account().clone(),
                date: input.date(),
                recorded_at: input.recorded_at.unwrap_or(existing.event.recorded_at),
                body: input.body().clone(),
            };
            if existing
                .event
                .same_content(&candidate, input.recorded_at.is_some())
            {
                return Ok(Outcome::Present(existing.seq));
            }
            return Ok(Outcome::Rejected(
                None,
                format!(
                    "id {id} is already in the ledger (seq {}, {} on {}, {}) with different content; give a new event a new id",
                    existing.seq,
                    existing.event.event_type(),
                    existing.event.account,
                    format_date(existing.event.date)
                ),
            ));
        }
        let latest = self.head.recorded_at;
        let recorded_at = match input.recorded_at {
            Some(t) => {
                if let Some(l) = latest.filter(|&l| t < l) {
                    return Ok(Outcome::Rejected(
                        None,
                        format!(
                            "recorded_at {} is earlier than {} already recorded; the ledger's recording time never goes backwards (omit recorded_at to use now)",
                            format_instant(t),
                            format_instant(l)
                        ),
                    ));
                }
                t
            }
            None => latest.map_or(now, |l| l.max(now)),
        };
        let version = self.touch(input.account())?.version;
        if let Some(expected) = input.expected_version {
            if expected != version {
                return Ok(Outcome::Rejected(
                    None,
                    format!(
                        "conflict: expected_version {expected}, but {} is at version {version}; read its history and retry",
                        input.account()
                    ),
                ));
            }
        }
        if version as usize >= MAX_EVENTS_PER_ACCOUNT {
            return Ok(Outcome::Rejected(
                None,
                format!(
                    "{} holds {MAX_EVENTS_PER_ACCOUNT} events, the most one account may hold",
                    input.account()
                ),
            ));
        }
        let recorded_at_given = input.recorded_at.is_some();
        let stored = input.stored.take();
        let (sealed, start) =
            input
                .into_event(id, recorded_at)
                .seal(self.head.seq + 1, version + 1, self.head.hash);
        match &mut self.discard {
            Some(discard) => discard.push(start),
            None => drop(start),
        }
        if let Some(problem) =
            stored.and_then(|check| stored_form_mismatch(&check, recorded_at_given, sealed.event()))
        {
            return Ok(Outcome::Rejected(None, problem));
        }
        if let Err(v) = self.validate(sealed.event())? {
            return Ok(Outcome::Rejected(Some(v.rule), v.to_string()));
        }
        self.commit_to_session(sealed)?;
        Ok(Outcome::Appended)
    }

    fn lookup(&self, id: &Uuid) -> Result<Option<StoredEvent>, LedgerError> {
        // Staged events are read back from the batch, which indexes them: a large import
        // keeps no second copy of what it staged.
        if let Some(seq) = self.batch.staged_id(id) {
            return Ok(self.batch.staged(seq)?);
        }
        Ok(self.store.get_by_id(id)?)
    }

    /// The account's version, reading its stored events once when first touched.
    fn touch(&mut self, account: &Account) -> Result<&mut Touched, LedgerError> {
        use std::collections::hash_map::Entry;
        match self.touched.entry(account.clone()) {
            Entry::Occupied(known) => Ok(known.into_mut()),
            Entry::Vacant(new) => {
                let stored = self.store.account_events(account)?;
                let version = stored
                    .iter()
                    .filter(|e| e.event.account == *account)
                    .count() as u64;
                if stored
                    .iter()
                    .any(|e| matches!(e.event.body, Body::AccountsMerged(_)))
                {
                    self.linked_streams.insert(account.clone(), stored);
                }
                Ok(new.insert(Touched {
                    version,
                    folded: None,
                }))
            }
        }
    }

    /// Every event concerning `account`, in seq order: stored, then staged in this session.
    fn stream(&self, account: &Account) -> Result<Vec<StoredEvent>, LedgerError> {
        if let Some(s) = self.linked_streams.get(account) {
            return Ok(s.clone());
        }
        let mut events = self.store.account_events(account)?;
        for seq in self.batch.staged_for(account) {
            if let Some(e) = self.batch.staged(seq)? {
                events.push(e);
            }
        }
        Ok(events)
    }

    /// The stream of `account` (as [`Session::stream`]), read once into `read`, which holds
    /// the streams one validation has read so far.
    fn stream_in<'m>(
        &self,
        account: &Account,
        read: &'m mut StreamMap,
    ) -> Result<&'m [StoredEvent], LedgerError> {
        use std::collections::hash_map::Entry;
        Ok(match read.entry(account.clone()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => new.insert(self.stream(account)?),
        })
    }

    /// Raw streams of `accounts` and, recursively, of the accounts merged with them; streams
    /// already in `read` are taken from there.
    fn closure_of(
        &self,
        accounts: &[Account],
        mut read: StreamMap,
    ) -> Result<StreamMap, LedgerError> {
        let mut out = StreamMap::new();
        let mut queue: VecDeque<Account> = accounts.iter().cloned().collect();
        while let Some(a) = queue.pop_front() {
            if out.contains_key(&a) || out.len() > crate::domain::state::MAX_MERGE_DEPTH * 64 {
                continue;
            }
            let events = match read.remove(&a) {
                Some(events) => events,
                None => self.stream(&a)?,
            };
            for e in &events {
                if let Body::AccountsMerged(m) = &e.event.body {
                    queue.push_back(e.event.account.clone());
                    queue.push_back(m.absorbed.clone());
                }
            }
            out.insert(a, events);
        }
        Ok(out)
    }

    /// Whether the account is linked to others by merges (its validation folds them too).
    fn is_linked(&self, account: &Account) -> bool {
        self.linked_streams.contains_key(account)
    }

    /// R29: the event is accepted only if the whole history of its account (and of the
    /// accounts merged with it) still satisfies every rule with the event folded in at its
    /// business date.
    fn validate(&mut self, candidate: &StoredEvent) -> Result<Result<(), Violation>, LedgerError> {
        self.merge_read.clear();
        let account = candidate.event.account.clone();
        let simple = !self.is_linked(&account)
            && !matches!(
                candidate.event.body,
                Body::AccountsMerged(_) | Body::EventVoided(_)
            );
        if simple {
            // In business-date order on an account without merges, the cached fold plus this
            // event is the whole history's fold: check it alone (apply changes nothing on a
            // violation).
            let folded = self
                .touched
                .get_mut(&account)
                .and_then(|t| t.folded.as_mut());
            if let Some(state) = folded {
                if state
                    .last_applied
                    .is_none_or(|(d, _)| d <= candidate.event.date)
                {
                    let empty = StreamMap::new();
                    let ctx = Context::new(&empty, self.catalog, Mode::Validate);
                    return Ok(state.apply(candidate, &ctx).map_err(|r| r.violation));
                }
            }
        }
        let mut joined = vec![account.clone()];
        if let Body::AccountsMerged(m) = &candidate.event.body {
            self.touch(&m.absorbed)?;
            joined.push(m.absorbed.clone());
        }
        // The streams read below, each once (a void's account was read three times).
        let mut read = StreamMap::new();
        if let Body::EventVoided(v) = &candidate.event.body {
            if let Err(violation) = self.check_void_target(candidate, v.event, &mut read)? {
                return Ok(Err(violation));
            }
        }
        // Candidate raw streams: the event joins its account's stream (and, for a merge,
        // the absorbed account's), and the root of the merged component is folded.
        let root = self.root_of(&account, &mut read)?;
        let mut roots = vec![root.clone()];
        roots.extend(joined.iter().cloned());
        let mut raw = self.closure_of(&roots, read)?;
        if matches!(candidate.event.body, Body::AccountsMerged(_)) {
            for a in &joined {
                if let (false, Some(stream)) = (self.is_linked(a), raw.get(a)) {
                    self.merge_read.insert(a.clone(), stream.clone());
                }
            }
        }
        for a in &joined {
            raw.entry(a.clone()).or_default().push(candidate.clone());
        }
        let streams: StreamMap = raw
            .iter()
            .map(|(a, s)| (a.clone(), prepare_stream(s, None, None)))
            .collect();
        let ctx = Context::new(&streams, self.catalog, Mode::Validate);
        let folded = fold(&root, &ctx);
        // A void's refold is the whole history's fold too (voids and what they void take no
        // part in it): later in-order events go on from it.
        let cacheable = !self.is_linked(&account)
            && !matches!(candidate.event.body, Body::AccountsMerged(_))
            && root == account;
        let touched = self.touch(&account)?;
        match folded {
            Ok(state) => {
                touched.folded = cacheable.then(|| Box::new(state));
                Ok(Ok(()))
            }
            Err(rejection) => {
                touched.folded = None;
                Ok(Err(blame(candidate, rejection)))
            }
        }
    }

    /// R28: a void targets an earlier event of its own account that is not a void, not
    /// already voided, and not a merge (R26: irreversible).
    fn check_void_target(
        &mut self,
        void: &StoredEvent,
        target: Uuid,
        read: &mut StreamMap,
    ) -> Result<Result<(), Violation>, LedgerError> {
        let account = &void.event.account;
        let stream = self.stream_in(account, read)?;
        let Some(found) = stream
            .iter()
            .find(|e| e.event.id == target && e.event.account == *account)
        else {
            if let Some(elsewhere) = self.lookup(&target)? {
                return Ok(Err(Violation::new(
                    28,
                    format!(
                        "event {target} belongs to {}; a void is recorded on the voided event's account",
                        elsewhere.event.account
                    ),
                )));
            }
            return Ok(Err(Violation::new(28, format!("event {target} is not in the ledger (before this void); only a recorded event can be voided"))));
        };
        match &found.event.body {
            Body::EventVoided(_) => {
                return Ok(Err(Violation::new(
                    28,
                    format!("event {target} is itself a void; a void cannot be voided"),
                )));
            }
            Body::AccountsMerged(_) => {
                return Ok(Err(Violation::new(26, format!("event {target} is a merge; a merge is irreversible and cannot be voided (R28)"))));
            }
            _ => {}
        }
        let already = stream
            .iter()
            .any(|e| matches!(&e.event.body, Body::EventVoided(v) if v.event == target));
        if already {
            return Ok(Err(Violation::new(
                28,
                format!("event {target} is already voided"),
            )));
        }
        Ok(Ok(()))
    }

    /// The account at the top of `account`'s merge chain (who absorbed it, and so on).
    fn root_of(&self, account: &Account, read: &mut StreamMap) -> Result<Account, LedgerError> {
        let mut current = account.clone();
        let mut seen = BTreeSet::new();
        while seen.insert(current.clone()) {
            // Every step reads the account's stream (the store's, for an account this session
            // has not touched): an absorber this append never touched can itself have been
            // absorbed, and its root must be folded too (found by fuzzing).
            let absorber =
                self.stream_in(&current, read)?
                    .iter()
                    .find_map(|e| match &e.event.body {
                        Body::AccountsMerged(m)
                            if m.absorbed == current && e.event.account != current =>
                        {
                            Some(e.event.account.clone())
                        }
                        _ => None,
                    });
            match absorber {
                Some(a) => current = a,
                None => break,
            }
        }
        Ok(current)
    }

    fn commit_to_session(&mut self, sealed: Sealed) -> Result<(), LedgerError> {
        let stored = sealed.event();
        let account = stored.event.account.clone();
        let mut concerned = vec![account.clone()];
        if let Body::AccountsMerged(m) = &stored.event.body {
            // Indexed under the absorbed account too (see Store::account_events); both
            // accounts are linked from now on. Their streams are read before the merge is
            // staged, and it joins them below.
            concerned.push(m.absorbed.clone());
            for a in &concerned {
                if !self.linked_streams.contains_key(a) {
                    let stream = match self.merge_read.remove(a) {
                        Some(read) => read,
                        None => self.stream(a)?,
                    };
                    self.linked_streams.insert(a.clone(), stream);
                }
            }
        }
        let (seq, hash, recorded_at) = (stored.seq, stored.hash, stored.event.recorded_at);
        // A copy for the linked streams (merges only), as the batch takes the event.
        let linked = concerned
            .iter()
            .any(|a| self.linked_streams.contains_key(a))
            .then(|| stored.clone());
        // Staged first: the session counts the event only once the batch holds it.
        self.batch.push_sealed(sealed)?;
        for (n, a) in concerned.iter().enumerate() {
            let touched = self.touch(a)?;
            if n == 0 {
                touched.version += 1;
            }
            if let (Some(stream), Some(event)) = (self.linked_streams.get_mut(a), &linked) {
                stream.push(event.clone());
            }
        }
        self.head = Head {
            seq,
            hash,
            recorded_at: Some(
                self.head
                    .recorded_at
                    .map_or(recorded_at, |r| r.max(recorded_at)),
            ),
        };
        self.report.appended += 1;
        self.report.first_seq.get_or_insert(seq);
        self.report.last_seq = Some(seq);
        Ok(())
    }
}

/// R29 (R28 for voids): a fold failed at `rejection`; say whether the candidate itself broke
/// a rule or made an already-recorded event invalid, naming that event.
fn blame(candidate: &StoredEvent, rejection: Rejection) -> Violation {
    if rejection.seq == candidate.seq {
        return rejection.violation;
    }
    let broken = format!(
        "event {} ({}, {}, {})",
        rejection.id,
        rejection.event_type,
        rejection.account,
        format_date(rejection.date)
    );
    match &candidate.event.body {
        Body::EventVoided(v) => Violation::new(
            28,
            format!(
                "voiding {} would leave {broken} breaking {}",
                v.event, rejection.violation
            ),
        ),
        _ => Violation::new(
            29,
            format!(
                "folded in at {}, this event would make the already-recorded {broken} invalid: {}",
                format_date(candidate.event.date),
                rejection.violation
            ),
        ),
    }
}

/// A line in the stored form must carry exactly what the ledger assigns.
fn stored_form_mismatch(
    check: &StoredCheck,
    recorded_at_given: bool,
    sealed: &StoredEvent,
) -> Option<String> {
    let mismatch = |field: &str, given: String, assigned: String| {
        Some(format!("{field} is {given} but the ledger assigns {assigned}; a stored-form line restores only into the position it was exported from"))
    };
    if let Some(seq) = check.seq.filter(|&s| s != sealed.seq) {
        return mismatch("seq", seq.to_string(), sealed.seq.to_string());
    }
    if let Some(v) = check.version.filter(|&v| v != sealed.version) {
        return mismatch("version", v.to_string(), sealed.version.to_string());
    }
    if let Some(p) = check
        .prev_hash
        .as_ref()
        .filter(|p| **p != hex(&sealed.prev_hash))
    {
        return mismatch("prev_hash", p.clone(), hex(&sealed.prev_hash));
    }
    if let Some(h) = check.hash.as_ref().filter(|h| **h != hex(&sealed.hash)) {
        return mismatch("hash", h.clone(), hex(&sealed.hash));
    }
    if !recorded_at_given && check.hash.is_some() {
        return Some("a stored-form line must carry its recorded_at".to_string());
    }
    None
}

/// The numbered lines of a JSON Lines text (for tests, replays and embedding).
pub fn lines_from_text(text: &str) -> impl Iterator<Item = SourcedLine> + '_ {
    crate::input::EventLines::new(text.as_bytes()).map(|line| SourcedLine { source: None, line })
}
