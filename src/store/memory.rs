//! In-memory store: what-if replays and tests. Same checks on the way in as the sled store, so
//! that a bug upstream fails the same way whichever store is used.
//!
//! Also home of the small pieces both stores share: the continuity check of a pushed event and
//! the "which account does a merge absorb" helper.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard, RwLock};

use uuid::Uuid;

use super::{AppendBatch, Head, Progress, Store, StoreError, VerifyReport};
use crate::event::{hex, Account, Body, Hash, Instant, StoredEvent};

/// Largest seq a store accepts. The sled account index uses the top bit of a seq as a flag, and
/// nothing real comes near this.
pub(super) const MAX_SEQ: u64 = (1 << 62) - 1;

/// The checks every store applies to a pushed event: it must continue the log at `prev_seq`
/// and `prev_hash`, be its account's next version, and carry the hash its content gives.
pub(super) fn check_continues(
    event: &StoredEvent,
    prev_seq: u64,
    prev_hash: &Hash,
    account_version: u64,
    line: Option<&str>,
) -> Result<(), StoreError> {
    check_links(event, prev_seq, prev_hash, account_version)?;
    if !hash_matches(event, line) {
        return Err(StoreError::Sequence(format!(
            "seq {}: hash {} is not the hash of the event",
            event.seq,
            hex(&event.hash)
        )));
    }
    Ok(())
}

/// [`check_continues`] less the hash check, for an event whose hash is known to be its
/// content's ([`crate::event::Sealed`]).
pub(super) fn check_links(
    event: &StoredEvent,
    prev_seq: u64,
    prev_hash: &Hash,
    account_version: u64,
) -> Result<(), StoreError> {
    let seq_err = |what: String| Err(StoreError::Sequence(format!("seq {}: {what}", event.seq)));
    if event.seq != prev_seq.saturating_add(1) || event.seq > MAX_SEQ {
        return seq_err(format!("expected seq {}", prev_seq.saturating_add(1)));
    }
    if event.version != account_version.saturating_add(1) {
        return seq_err(format!(
            "account {} is at version {account_version}, the event says version {}",
            event.event.account, event.version
        ));
    }
    if &event.prev_hash != prev_hash {
        return seq_err(format!(
            "prev_hash {} does not link to the previous hash {}",
            hex(&event.prev_hash),
            hex(prev_hash)
        ));
    }
    Ok(())
}

/// Whether `event.hash` is the hash of its content. Given the event's stored line (which the
/// caller has, or made anyway), the canonical body is that line less its two hash members:
/// hashing it saves serialising the event a second time. If the shortcut does not confirm the
/// hash, the full recomputation decides, so the answer is always exact.
pub(super) fn hash_matches(event: &StoredEvent, line: Option<&str>) -> bool {
    // The line's own members must be the event's, and the line must hash to its hash.
    let fast = line.and_then(|l| crate::line::LineView::parse(l.as_bytes()));
    if fast.is_some_and(|view| {
        crate::line::hex_equals(&event.hash, view.hash_hex)
            && crate::line::hex_equals(&event.prev_hash, view.prev_hash_hex)
            && view.hash_holds()
    }) {
        return true;
    }
    event.hash == event.expected_hash()
}

/// The account an `accounts_merged` event absorbed, when it is not the event's own account
/// (that event is already in its own account's list).
pub(super) fn absorbed_other(event: &StoredEvent) -> Option<&Account> {
    match &event.event.body {
        Body::AccountsMerged(m) if m.absorbed != event.event.account => Some(&m.absorbed),
        _ => None,
    }
}

/// What a batch held in memory knows of its staged events: seqs by id, and per account the
/// seqs that concern it (its own events and merges absorbing it).
#[derive(Default)]
pub(crate) struct StagedIndex {
    ids: HashMap<Uuid, u64>,
    accounts: HashMap<Account, Vec<u64>>,
}

impl StagedIndex {
    pub(crate) fn add(&mut self, event: &StoredEvent) {
        self.ids.insert(event.event.id, event.seq);
        let own = std::iter::once(&event.event.account);
        for account in own.chain(absorbed_other(event)) {
            self.accounts
                .entry(account.clone())
                .or_default()
                .push(event.seq);
        }
    }

    pub(crate) fn id(&self, id: &Uuid) -> Option<u64> {
        self.ids.get(id).copied()
    }

    pub(crate) fn concerning(&self, account: &Account) -> Vec<u64> {
        self.accounts.get(account).cloned().unwrap_or_default()
    }
}

#[derive(Default)]
struct Log {
    events: Vec<StoredEvent>,
    by_id: HashMap<Uuid, u64>,
    /// Seqs of every event that concerns the account (own events and merges absorbing it).
    by_account: BTreeMap<Account, Vec<u64>>,
    /// Own events per account.
    versions: HashMap<Account, u64>,
    max_recorded_at: Option<Instant>,
}

impl Log {
    fn head(&self) -> Head {
        match self.events.last() {
            None => Head::EMPTY,
            Some(last) => Head {
                seq: last.seq,
                hash: last.hash,
                recorded_at: self.max_recorded_at,
            },
        }
    }

    fn at(&self, seq: u64) -> Option<&StoredEvent> {
        let idx = usize::try_from(seq.checked_sub(1)?).ok()?;
        self.events.get(idx)
    }

    fn add(&mut self, event: StoredEvent) {
        let e = &event.event;
        self.max_recorded_at = self.max_recorded_at.max(Some(e.recorded_at));
        self.by_id.insert(e.id, event.seq);
        self.by_account
            .entry(e.account.clone())
            .or_default()
            .push(event.seq);
        *self.versions.entry(e.account.clone()).or_default() += 1;
        if let Some(absorbed) = absorbed_other(&event) {
            self.by_account
                .entry(absorbed.clone())
                .or_default()
                .push(event.seq);
        }
        self.events.push(event);
    }
}

/// A Vec-based store behind a lock. Head `recorded_at` is kept as the max over the log.
#[derive(Default)]
pub struct MemoryStore {
    log: RwLock<Log>,
    writer: Mutex<()>,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Log> {
        // A panic in another thread cannot leave the log half-updated (`add` only pushes), so
        // a poisoned lock is still safe to read.
        self.log.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Log> {
        self.log.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn head(&self) -> Result<Head, StoreError> {
        Ok(self.read().head())
    }

    fn scan(
        &self,
        from_seq: u64,
        visit: &mut dyn FnMut(StoredEvent) -> bool,
    ) -> Result<(), StoreError> {
        // Clone one event at a time so that `visit` may call back into the store.
        let mut seq = from_seq.max(1);
        loop {
            let Some(event) = self.read().at(seq).cloned() else {
                return Ok(());
            };
            if !visit(event) {
                return Ok(());
            }
            seq += 1;
        }
    }

    fn account_events(&self, account: &Account) -> Result<Vec<StoredEvent>, StoreError> {
        let log = self.read();
        let seqs = log
            .by_account
            .get(account)
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        Ok(seqs.iter().filter_map(|&s| log.at(s).cloned()).collect())
    }

    fn account_version(&self, account: &Account) -> Result<u64, StoreError> {
        Ok(self.read().versions.get(account).copied().unwrap_or(0))
    }

    fn accounts(&self) -> Result<Vec<Account>, StoreError> {
        let log = self.read();
        Ok(log
            .by_account
            .keys()
            .filter(|a| log.versions.contains_key(*a))
            .cloned()
            .collect())
    }

    fn get_by_id(&self, id: &Uuid) -> Result<Option<StoredEvent>, StoreError> {
        let log = self.read();
        Ok(log.by_id.get(id).and_then(|&s| log.at(s)).cloned())
    }

    fn begin(&self) -> Result<Box<dyn AppendBatch + '_>, StoreError> {
        let guard = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let head = self.read().head();
        Ok(Box::new(MemoryBatch {
            store: self,
            _guard: guard,
            last_seq: head.seq,
            last_hash: head.hash,
            pending: Vec::new(),
            staged: StagedIndex::default(),
            versions: HashMap::new(),
        }))
    }

    fn verify(&self, progress: Progress<'_>) -> Result<VerifyReport, StoreError> {
        let log = self.read();
        let total = log.events.len() as u64;
        let mut checker = ChainChecker::default();
        let mut expected = Log::default();
        for (i, e) in log.events.iter().enumerate() {
            let position = i as u64 + 1;
            if let Err(msg) = checker.check(position, e) {
                return Ok(VerifyReport {
                    events: position,
                    first_bad: Some((position, msg)),
                });
            }
            expected.add(e.clone());
            if position.is_multiple_of(10_000) {
                progress(position, total);
            }
        }
        progress(total, total);
        let first_bad = compare_indexes(&log, &expected);
        Ok(VerifyReport {
            events: total,
            first_bad,
        })
    }
}

/// Walks a log in order and checks position, linkage, hash and per-account versions.
#[derive(Default)]
struct ChainChecker {
    prev_hash: Hash,
    versions: HashMap<Account, u64>,
}

impl ChainChecker {
    fn check(&mut self, position: u64, e: &StoredEvent) -> Result<(), String> {
        if e.seq != position {
            return Err(format!("expected seq {position}, found seq {}", e.seq));
        }
        if e.prev_hash != self.prev_hash {
            return Err("prev_hash does not link to the previous event".into());
        }
        if e.hash != e.expected_hash() {
            return Err("hash does not match the event's content".into());
        }
        let v = self.versions.entry(e.event.account.clone()).or_default();
        *v += 1;
        if e.version != *v {
            return Err(format!("version {} where {} was expected", e.version, v));
        }
        self.prev_hash = e.hash;
        Ok(())
    }
}

/// The lowest seq at which the stored indexes differ from the ones rebuilt from the events.
fn compare_indexes(stored: &Log, expected: &Log) -> Option<(u64, String)> {
    let mut bad: Option<(u64, String)> = None;
    let mut note = |seq: u64, msg: String| {
        if bad.as_ref().is_none_or(|(s, _)| seq < *s) {
            bad = Some((seq, msg));
        }
    };
    for (id, &seq) in &stored.by_id {
        if expected.by_id.get(id) != Some(&seq) {
            note(
                seq,
                format!("id index maps {id} to seq {seq}, which is not that event"),
            );
        }
    }
    for (id, &seq) in &expected.by_id {
        if stored.by_id.get(id) != Some(&seq) {
            note(seq, format!("id index does not map {id} to seq {seq}"));
        }
    }
    let empty = Vec::new();
    let accounts = stored.by_account.keys().chain(expected.by_account.keys());
    for account in accounts {
        let s = stored.by_account.get(account).unwrap_or(&empty);
        let x = expected.by_account.get(account).unwrap_or(&empty);
        if let Some(seq) = first_difference(s.iter().copied(), x.iter().copied(), |e| e) {
            note(
                seq,
                format!("account index of {account} is wrong at seq {seq}"),
            );
        }
    }
    bad
}

/// Where two ascending lists of entries first differ: the lower of the two entries there, or
/// the one left over, as the seq `seq_of` reads from it (entries compare whole: a store's
/// entries may carry flags beside their seq).
pub(super) fn first_difference(
    a: impl IntoIterator<Item = u64>,
    b: impl IntoIterator<Item = u64>,
    seq_of: impl Fn(u64) -> u64,
) -> Option<u64> {
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        match (a.peek(), b.peek()) {
            (Some(x), Some(y)) if x == y => {
                a.next();
                b.next();
            }
            (Some(&x), Some(&y)) => return Some(seq_of(x).min(seq_of(y))),
            (Some(&x), None) => return Some(seq_of(x)),
            (None, Some(&y)) => return Some(seq_of(y)),
            (None, None) => return None,
        }
    }
}

struct MemoryBatch<'a> {
    store: &'a MemoryStore,
    _guard: MutexGuard<'a, ()>,
    last_seq: u64,
    last_hash: Hash,
    pending: Vec<StoredEvent>,
    staged: StagedIndex,
    /// Versions of the accounts touched by this batch.
    versions: HashMap<Account, u64>,
}

impl AppendBatch for MemoryBatch<'_> {
    fn push(&mut self, event: StoredEvent) -> Result<(), StoreError> {
        let account = &event.event.account;
        let current = match self.versions.get(account) {
            Some(&v) => v,
            None => self.store.account_version(account)?,
        };
        check_continues(&event, self.last_seq, &self.last_hash, current, None)?;
        let id = event.event.id;
        let stored = self.store.read().by_id.contains_key(&id);
        if stored || self.staged.id(&id).is_some() {
            return Err(StoreError::Sequence(format!(
                "seq {}: id {id} is already stored",
                event.seq
            )));
        }
        self.versions.insert(account.clone(), current + 1);
        self.staged.add(&event);
        self.last_seq = event.seq;
        self.last_hash = event.hash;
        self.pending.push(event);
        Ok(())
    }

    fn staged(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError> {
        let first = self.pending.first().map_or(u64::MAX, |e| e.seq);
        Ok(seq
            .checked_sub(first)
            .and_then(|i| self.pending.get(i as usize))
            .cloned())
    }

    fn staged_id(&self, id: &Uuid) -> Option<u64> {
        self.staged.id(id)
    }

    fn staged_for(&self, account: &Account) -> Vec<u64> {
        self.staged.concerning(account)
    }

    fn commit(self: Box<Self>) -> Result<Head, StoreError> {
        let this = *self;
        let mut log = this.store.write();
        for e in this.pending {
            log.add(e);
        }
        Ok(log.head())
    }
}
