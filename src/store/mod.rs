//! Where stored events live. The [`Store`] trait is the whole interface the rest of the program
//! uses; [`sled_store::SledStore`] (the default, on disk) and [`memory::MemoryStore`] (what-if
//! replays and tests) implement it. sled-specific code lives only in `sled_store.rs`.
//!
//! A store keeps *sealed* events ([`StoredEvent`]: seq, version and hash already assigned by the
//! ledger layer). It checks them on the way in (seq = head + 1, version = account's + 1,
//! prev_hash = head hash, hash recomputed) and never changes or deletes a committed event.
//!
//! **Architecture invariant:** no rule of rules.md is known here; the store knows order,
//! identity, durability and integrity, nothing about memberships.

pub mod memory;
pub mod sled_store;

use crate::event::{Account, Date, Hash, Instant, Sealed, StoredEvent, ZERO_HASH};
use uuid::Uuid;

/// The committed end of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// Last committed seq (0 when empty).
    pub seq: u64,
    /// Hash of the last committed event (64 zero bits when empty).
    pub hash: Hash,
    /// Latest `recorded_at` in the ledger (None when empty). Never goes backwards.
    pub recorded_at: Option<Instant>,
}

impl Head {
    pub const EMPTY: Head = Head {
        seq: 0,
        hash: ZERO_HASH,
        recorded_at: None,
    };
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another process holds the store (after the bounded wait).
    #[error("the store {path} is in use by another process (waited {waited_ms} ms); try again when it finishes")]
    Locked { path: String, waited_ms: u64 },
    /// The storage engine failed (I/O error, disk full, damaged files).
    #[error("the store {path} cannot be used: {message}")]
    Engine { path: String, message: String },
    /// What is stored does not decode or does not hold together.
    #[error("the store {path} is damaged at seq {seq}: {message}; run `partner-ledger verify`")]
    Corrupt {
        path: String,
        seq: u64,
        message: String,
    },
    /// A caller handed the store a batch that does not continue the log (a bug upstream).
    #[error("batch does not continue the log: {0}")]
    Sequence(String),
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Events checked.
    pub events: u64,
    /// The first problem, if any: the first bad seq and what is wrong there.
    pub first_bad: Option<(u64, String)>,
}

/// Handed each account and its events in turn; returns whether to go on.
pub type AccountVisitor<'a> =
    &'a mut dyn FnMut(&Account, Vec<StoredEvent>) -> Result<bool, StoreError>;

/// An [`AccountVisitor`] that may run on another thread.
pub type SendAccountVisitor<'a> =
    &'a mut (dyn FnMut(&Account, Vec<StoredEvent>) -> Result<bool, StoreError> + Send);

/// Called now and then with (done, total) during long work.
pub type Progress<'a> = &'a mut dyn FnMut(u64, u64);

/// The store interface. Every method takes `&self`; implementations serialise appends inside.
pub trait Store: Sync {
    /// The committed head.
    fn head(&self) -> Result<Head, StoreError>;

    /// Committed events with seq >= `from_seq`, in seq order, handed to `visit` one at a time
    /// (streaming: never the whole log in memory). `visit` returns false to stop early.
    fn scan(
        &self,
        from_seq: u64,
        visit: &mut dyn FnMut(StoredEvent) -> bool,
    ) -> Result<(), StoreError>;

    /// Every committed event that concerns `account`, in seq order: the account's own events
    /// and, in addition, every `accounts_merged` event (recorded on another account) that
    /// absorbed it, so that a fold of the returned events knows the account was merged away.
    /// Their `prev_hash` and `hash` are not part of the answer: a store may give them as zero
    /// (the sled store's copies leave the hashes to the log); `scan` and `get_by_id` read the
    /// chain.
    fn account_events(&self, account: &Account) -> Result<Vec<StoredEvent>, StoreError>;

    /// What a projection on `until`, counting events recorded at or before `known_at`, needs
    /// of [`Store::account_events`]: a store may leave out events dated after `until` or
    /// recorded after `known_at` — never a void or a merge, which decide what else counts and
    /// which accounts are folded — so that it need not decode them.
    fn account_events_for(
        &self,
        account: &Account,
        until: Option<Date>,
        known_at: Option<Instant>,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let _ = (until, known_at);
        self.account_events(account)
    }

    /// [`Store::account_events_for`] (`until`, no known-at) of each of `accounts` (sorted by
    /// name, as `accounts` gives them), in that order; `visit` returns false to stop.
    fn for_each_account_events(
        &self,
        accounts: &[Account],
        until: Option<Date>,
        visit: AccountVisitor<'_>,
    ) -> Result<(), StoreError> {
        for account in accounts {
            if !visit(account, self.account_events_for(account, until, None)?)? {
                break;
            }
        }
        Ok(())
    }

    /// [`Store::for_each_account_events`] over every account of [`Store::accounts`], in two
    /// halves that size themselves: `front` is handed accounts in name order on this thread
    /// and `back` in reverse name order on another, until the two meet. Every account goes to
    /// exactly one of them; either returning false stops both. The default hands every
    /// account to `front`.
    fn for_each_account_events_from_both_ends(
        &self,
        until: Option<Date>,
        front: AccountVisitor<'_>,
        back: SendAccountVisitor<'_>,
    ) -> Result<(), StoreError> {
        let _ = back;
        self.for_each_account_events(&self.accounts()?, until, front)
    }

    /// The account's own version (number of its own events; 0 when none).
    fn account_version(&self, account: &Account) -> Result<u64, StoreError>;

    /// Every account that has events of its own, sorted.
    fn accounts(&self) -> Result<Vec<Account>, StoreError>;

    /// The committed event with this id, if any.
    fn get_by_id(&self, id: &Uuid) -> Result<Option<StoredEvent>, StoreError>;

    /// Starts an all-or-nothing append. Pushed events are invisible to readers until `commit`
    /// returns Ok, and `commit` returns only once they are durable. Dropping the batch, or a
    /// crash at any point before commit returns, leaves the store as it was.
    fn begin(&self) -> Result<Box<dyn AppendBatch + '_>, StoreError>;

    /// Checks the hash chain and every index against the events; names the first bad seq.
    fn verify(&self, progress: Progress<'_>) -> Result<VerifyReport, StoreError>;

    /// [`Store::verify`], and also decodes every event and checks that its stored line is its
    /// canonical encoding (slower; a store that already checks that in `verify` keeps this).
    fn verify_deep(&self, progress: Progress<'_>) -> Result<VerifyReport, StoreError> {
        self.verify(progress)
    }
}

/// An append in progress. Events must continue the log: seq = previous + 1, version = the
/// account's previous + 1, prev_hash = previous hash.
pub trait AppendBatch {
    fn push(&mut self, event: StoredEvent) -> Result<(), StoreError>;
    /// [`AppendBatch::push`] of an event sealed with its stored line: its hash is known to be
    /// its line's, so a store that keeps lines takes the line as it is.
    fn push_sealed(&mut self, sealed: Sealed) -> Result<(), StoreError> {
        self.push(sealed.into_parts().0)
    }
    /// An event pushed to this batch and not yet committed, read back by its seq (None when
    /// the seq is not in this batch). Lets a large append keep no copy of what it staged.
    fn staged(&self, seq: u64) -> Result<Option<StoredEvent>, StoreError>;
    /// The seq of the event with this id pushed to this batch, if any.
    fn staged_id(&self, id: &Uuid) -> Option<u64>;
    /// The seqs pushed to this batch that concern `account`, in order: its own events and the
    /// merges absorbing it (as [`Store::account_events`] counts them).
    fn staged_for(&self, account: &Account) -> Vec<u64>;
    /// Makes everything pushed visible and durable, atomically. Returns the new head.
    fn commit(self: Box<Self>) -> Result<Head, StoreError>;
}
