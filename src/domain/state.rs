//! The fold: one account's events, in business-date order (R2), applied to its state, each
//! checked against the rules first. Every rule is enforced here, in exactly one handler, and
//! every handler checks everything before it changes anything, so a rejected event leaves the
//! state as it was (that is what lets append validation fold incrementally).

use std::collections::BTreeSet;

use foldhash::HashMap;
use std::fmt;

use uuid::Uuid;

use super::calendar::{add_days, add_months, first_of_month, sub_months};
use super::catalog::{Catalog, Constants};
use crate::event::{
    format_date, Account, BenefitType, Body, Date, EventType, Instant, KeyKind, Line, NameEnum,
    Offer, SolutionArea, StoredEvent, VsLevel,
};

/// Deepest chain of merges (A absorbed B, which had absorbed C, …) a fold follows.
pub const MAX_MERGE_DEPTH: usize = 32;

/// A broken rule: its number in rules.md and what would be accepted instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: u8,
    pub message: String,
}

impl Violation {
    pub fn new(rule: u8, message: impl Into<String>) -> Violation {
        Violation {
            rule,
            message: message.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "R{}: {}", self.rule, self.message)
    }
}

/// A violation located at the event that broke it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub seq: u64,
    pub id: Uuid,
    pub account: Account,
    pub event_type: EventType,
    pub date: Date,
    pub violation: Violation,
}

impl Rejection {
    fn at(e: &StoredEvent, violation: Violation) -> Rejection {
        Rejection {
            seq: e.seq,
            id: e.event.id,
            account: e.event.account.clone(),
            event_type: e.event.event_type(),
            date: e.event.date,
            violation,
        }
    }
}

/// Each account's effective events, in fold order (business date, then seq).
pub type StreamMap = HashMap<Account, Vec<StoredEvent>>;

/// What a fold does with an event that breaks a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Stop at the first violation (append validation).
    Validate,
    /// Skip the event and note it (queries: stored history under another catalog).
    Project,
}

/// From raw streams (every event concerning each account, in seq order) to effective streams:
/// only events recorded at or before `known_at`; voided events and the voids themselves
/// removed where the void was recorded at or before `known_at` (R28); only business dates up
/// to `until`; ordered by business date, then seq (R2).
pub fn prepare_streams(
    raw: &StreamMap,
    known_at: Option<Instant>,
    until: Option<Date>,
) -> StreamMap {
    raw.iter()
        .map(|(account, events)| (account.clone(), prepare_stream(events, known_at, until)))
        .collect()
}

/// One stream of [`prepare_streams`].
pub fn prepare_stream(
    events: &[StoredEvent],
    known_at: Option<Instant>,
    until: Option<Date>,
) -> Vec<StoredEvent> {
    let keep = effective_filter(events, known_at, until);
    let mut out: Vec<StoredEvent> = events.iter().filter(|e| keep(e)).cloned().collect();
    out.sort_by_key(|e| (e.event.date, e.seq));
    out
}

/// [`prepare_stream`] on a stream the caller gives up: no event is copied (queries).
pub fn prepare_stream_owned(
    mut events: Vec<StoredEvent>,
    known_at: Option<Instant>,
    until: Option<Date>,
) -> Vec<StoredEvent> {
    let keep = effective_filter(&events, known_at, until);
    let kept: Vec<bool> = events.iter().map(&keep).collect();
    let mut flags = kept.into_iter();
    events.retain(|_| flags.next().unwrap_or(false));
    events.sort_by_key(|e| (e.event.date, e.seq));
    events
}

/// Which events of a raw stream count: recorded at or before `known_at`, not a void, not
/// voided by a void recorded at or before `known_at` (R28), dated on or before `until`.
fn effective_filter(
    events: &[StoredEvent],
    known_at: Option<Instant>,
    until: Option<Date>,
) -> impl Fn(&StoredEvent) -> bool {
    let known = move |e: &StoredEvent| known_at.is_none_or(|k| e.event.recorded_at <= k);
    let voided: BTreeSet<Uuid> = events
        .iter()
        .filter(|e| known(e))
        .filter_map(|e| match &e.event.body {
            Body::EventVoided(v) => Some(v.event),
            _ => None,
        })
        .collect();
    move |e: &StoredEvent| {
        known(e)
            && !matches!(e.event.body, Body::EventVoided(_))
            && !voided.contains(&e.event.id)
            && until.is_none_or(|u| e.event.date <= u)
    }
}

// ------------------------------------------------------------------------------------------------
// The state

/// A term's status on a date (contract `memberships[].status`, plus `renewed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TermStatus {
    Active,
    InRenewalWindow,
    Expired,
    Merged,
    Renewed,
}

impl TermStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TermStatus::Active => "active",
            TermStatus::InRenewalWindow => "in_renewal_window",
            TermStatus::Expired => "expired",
            TermStatus::Merged => "merged",
            TermStatus::Renewed => "renewed",
        }
    }
}

/// One term of a line: from a purchase or a renewal (R5–R9).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub line: Line,
    pub offer: Offer,
    pub start: Date,
    pub anniversary: Date,
    pub window_opens: Date,
    pub window_closes: Date,
    pub activate_by: Date,
    /// R8: the day the next term of the line started by renewal.
    pub renewed_on: Option<Date>,
    pub renewed_into: Option<usize>,
    /// R27: from this day the term is a non-governing merged term.
    pub merged_since: Option<Date>,
    pub source: Account,
    /// Benefit types the offer provides, each with the day it was unlocked (R18).
    pub benefits: BenefitSlots,
    /// R13: solution areas enrolled (solutions_partner terms).
    pub solution_areas: AreaSet,
    pub vs_levels: VsLevels,
    pub vs_count: Option<u32>,
    /// The catalog constants in force at the term's start (shared, not copied per term).
    pub constants: std::sync::Arc<Constants>,
}

impl Term {
    fn new(offer: Offer, start: Date, source: &Account, catalog: &Catalog) -> Term {
        let version = catalog.at(start);
        let c = std::sync::Arc::clone(&version.constants);
        let anniversary = add_months(start, c.term_months); // R6
        let spec = version.offer(offer);
        Term {
            line: offer.line(),
            offer,
            start,
            anniversary,
            window_opens: add_days(anniversary, 1), // R7
            window_closes: add_days(anniversary, i64::from(c.window_days)), // R7
            activate_by: add_months(start, c.activate_by_months), // R17
            renewed_on: None,
            renewed_into: None,
            merged_since: None,
            source: source.clone(),
            benefits: spec
                .map(|s| BenefitSlots::providing(s.benefits.keys().copied()))
                .unwrap_or_default(),
            solution_areas: AreaSet::default(),
            vs_levels: spec
                .map(|s| s.vs_levels.iter().copied().collect())
                .unwrap_or_default(),
            vs_count: spec.and_then(|s| s.vs_count),
            constants: c,
        }
    }

    pub fn status_on(&self, d: Date) -> TermStatus {
        if self.renewed_on.is_some_and(|r| r <= d) {
            TermStatus::Renewed
        } else if self.merged_since.is_some_and(|m| m <= d) {
            TermStatus::Merged
        } else if d <= self.anniversary {
            TermStatus::Active
        } else if d <= self.window_closes {
            TermStatus::InRenewalWindow
        } else {
            TermStatus::Expired
        }
    }

    /// R6, R7, R11: the term is running on `d` (active or in its renewal window) and is the
    /// line's term, not replaced by a renewal.
    pub fn is_running_on(&self, d: Date) -> bool {
        matches!(
            self.status_on(d),
            TermStatus::Active | TermStatus::InRenewalWindow
        )
    }

    /// R25: everything the term grants stays accessible from its start through AD + 30.
    pub fn has_access_on(&self, d: Date) -> bool {
        self.start <= d && d <= self.window_closes
    }

    /// R9: the first day without access when the term is not renewed.
    pub fn lapse_day(&self) -> Date {
        add_days(self.window_closes, 1)
    }

    /// R17: the last day the term's unredeemed benefits can be redeemed: its activate-by, and
    /// not after its lapse (R9) unless it was renewed (then its own activate-by holds).
    pub fn redeem_deadline(&self) -> Date {
        if self.renewed_on.is_some() {
            self.activate_by
        } else {
            self.activate_by.min(self.window_closes)
        }
    }

    pub fn provides(&self, b: BenefitType) -> bool {
        self.benefits.provides(b)
    }

    pub fn unlocked(&self, b: BenefitType) -> Option<Date> {
        self.benefits.unlocked(b)
    }

    fn unlock(&mut self, b: BenefitType, d: Date) {
        self.benefits.unlock(b, d);
    }

    /// R18: expiry of a redeemed benefit, inclusive: unlocked + 12 months (cloud services:
    /// first token activation + 12 months). On-premises software has none.
    pub fn benefit_expires(&self, b: BenefitType) -> Option<Date> {
        let unlocked = self.unlocked(b)?;
        match b {
            BenefitType::OnPremisesSoftware => None,
            BenefitType::CloudServices => {
                Some(add_months(unlocked, self.constants.token_expiry_months))
            }
            _ => Some(add_months(unlocked, self.constants.benefit_expiry_months)),
        }
    }
}

/// The benefit types a term provides, each with the day it was unlocked (R16, R18). Fixed
/// size, no allocation: a large import keeps one folded state per account.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BenefitSlots {
    provided: EnumSet<BenefitType>,
    unlocked: [Option<Date>; 6],
}

impl BenefitSlots {
    fn providing(types: impl Iterator<Item = BenefitType>) -> BenefitSlots {
        BenefitSlots {
            provided: types.collect(),
            unlocked: [None; 6],
        }
    }

    pub fn provides(&self, b: BenefitType) -> bool {
        self.provided.contains(b)
    }

    pub fn unlocked(&self, b: BenefitType) -> Option<Date> {
        self.unlocked
            .get(b as usize)
            .copied()
            .flatten()
            .filter(|_| self.provides(b))
    }

    fn unlock(&mut self, b: BenefitType, d: Date) {
        if self.provides(b) {
            if let Some(slot) = self.unlocked.get_mut(b as usize) {
                slot.get_or_insert(d);
            }
        }
    }

    /// The provided types in the order of R16, each with its unlock day.
    pub fn iter(&self) -> impl Iterator<Item = (BenefitType, Option<Date>)> + '_ {
        self.provided.iter().map(|b| (b, self.unlocked(b)))
    }
}

/// The Visual Studio levels a term provides (R22).
pub type VsLevels = EnumSet<VsLevel>;

/// R13: the solution areas of a term.
pub type AreaSet = EnumSet<SolutionArea>;

/// A set of a name enum's values, one bit each, listed in their order (the order a
/// `BTreeSet` gives). Fixed size, no allocation: an import holds every account's terms at
/// once, and a B-tree per term took 24 bytes in the term and a node beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumSet<E>(u8, std::marker::PhantomData<E>);

impl<E: NameEnum> Default for EnumSet<E> {
    fn default() -> EnumSet<E> {
        const { assert!(E::VALUES.len() <= 8, "an EnumSet holds at most 8 values") };
        EnumSet(0, std::marker::PhantomData)
    }
}

impl<E: NameEnum> EnumSet<E> {
    pub fn insert(&mut self, value: E) {
        self.0 |= 1 << value.index();
    }

    pub fn contains(self, value: E) -> bool {
        self.0 & (1 << value.index()) != 0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = E> {
        E::VALUES.iter().copied().filter(move |&v| self.contains(v))
    }
}

impl<E: NameEnum> FromIterator<E> for EnumSet<E> {
    fn from_iter<I: IntoIterator<Item = E>>(values: I) -> EnumSet<E> {
        let mut set = EnumSet::default();
        set.extend(values);
        set
    }
}

impl<E: NameEnum> Extend<E> for EnumSet<E> {
    fn extend<I: IntoIterator<Item = E>>(&mut self, values: I) {
        for v in values {
            self.insert(v);
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Designation {
    pub solution_area: SolutionArea,
    pub qualified: Date,
    pub score: u64,
    pub source: Account,
}

/// R21: the machines a product key was activated on. Most keys see a few: up to
/// `FEW_MACHINES` are listed (a B-tree node takes ~280 bytes even for one name, a tenth of a
/// 1 M-event import's folded states), more go to a B-tree, so that a key activated on a
/// million machines still costs O(log n) an activation.
#[derive(Debug, Clone, Default)]
pub struct Machines(MachineSet);

#[derive(Debug, Clone)]
enum MachineSet {
    Few(Vec<Box<str>>),
    Many(BTreeSet<Box<str>>),
}

impl Default for MachineSet {
    fn default() -> MachineSet {
        MachineSet::Few(Vec::new())
    }
}

const FEW_MACHINES: usize = 8;

impl Machines {
    pub fn contains(&self, machine: &str) -> bool {
        match &self.0 {
            MachineSet::Few(list) => list.iter().any(|m| **m == *machine),
            MachineSet::Many(set) => set.contains(machine),
        }
    }

    pub fn insert(&mut self, machine: &str) {
        if self.contains(machine) {
            return;
        }
        match &mut self.0 {
            MachineSet::Few(list) if list.len() < FEW_MACHINES => push_lean(list, machine.into()),
            MachineSet::Few(list) => {
                let mut set: BTreeSet<Box<str>> = std::mem::take(list).into_iter().collect();
                set.insert(machine.into());
                self.0 = MachineSet::Many(set);
            }
            MachineSet::Many(set) => {
                set.insert(machine.into());
            }
        }
    }

    fn len(&self) -> usize {
        match &self.0 {
            MachineSet::Few(list) => list.len(),
            MachineSet::Many(set) => set.len(),
        }
    }
}

/// Equal as sets: the same machines, listed or not, in any order.
impl PartialEq for Machines {
    fn eq(&self, other: &Machines) -> bool {
        self.len() == other.len()
            && match &self.0 {
                MachineSet::Few(list) => list.iter().all(|m| other.contains(m)),
                MachineSet::Many(set) => set.iter().all(|m| other.contains(m)),
            }
    }
}

impl Eq for Machines {}

/// Pushes with capacity growing 1, 2, 4, … instead of starting at 4: an import holds the
/// folded state of every account at once, and most accounts have one or two terms, tokens
/// and keys (the default first allocation of 4 was a fifth of a 1 M-event import's memory).
fn push_lean<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() {
        v.reserve_exact(v.len().max(1));
    }
    v.push(item);
}

/// Texts are boxed (`Box<str>`, 16 bytes, not a `String`'s 24): an import holds every
/// account's tokens, keys and subscriptions at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub token: Box<str>,
    pub product: Box<str>,
    pub seats: u64,
    pub term: usize,
    pub issued: Date,
    pub tenant: Option<Box<str>>,
    pub activated: Option<Date>,
    pub replaced_by: Option<Box<str>>,
    pub replaced_on: Option<Date>,
    pub replaces: Option<Box<str>>,
    pub source: Account,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductKey {
    pub key: Box<str>,
    pub product: Box<str>,
    pub kind: KeyKind,
    pub activations_total: u64,
    pub activations_used: u64,
    pub machines: Machines,
    pub term: usize,
    pub issued: Date,
    pub source: Account,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub subscription: Box<str>,
    pub level: VsLevel,
    pub user: Box<str>,
    pub term: usize,
    pub assigned: Date,
    pub activated: Option<Date>,
    pub unassigned: Option<Date>,
    pub source: Account,
}

/// Everything an account had, built by the fold. Dates of status changes are kept, statuses
/// themselves are derived on a date by [`super::view`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub account: Account,
    pub merged_into: Option<(Account, Date)>,
    pub absorbed: Vec<(Account, Date)>,
    pub profile_verified: Vec<Date>,
    pub designations: Vec<Designation>,
    pub terms: Vec<Term>,
    /// The line's current (governing) term: index 0 package, 1 action-pack.
    pub current: [Option<usize>; 2],
    /// R26: terms brought in by merges, listed in `memberships` beside the current ones.
    pub merged_in: Vec<usize>,
    pub tokens: Vec<Token>,
    pub keys: Vec<ProductKey>,
    pub subscriptions: Vec<Subscription>,
    /// Business date and seq of the last own event applied (fold order).
    pub last_applied: Option<(Date, u64)>,
    /// Last business date of an own event (R26: an absorbed account's events end before M).
    pub last_own_event: Option<(Date, Uuid, EventType)>,
    /// Project mode: events skipped because they break a rule under this catalog.
    pub skipped: Vec<Rejection>,
}

pub fn line_index(line: Line) -> usize {
    match line {
        Line::Package => 0,
        Line::ActionPack => 1,
    }
}

/// What a fold needs besides the state: the streams of other accounts (for merges), the
/// catalog and the mode.
pub struct Context<'a> {
    pub streams: &'a StreamMap,
    pub catalog: &'a Catalog,
    pub mode: Mode,
    depth: usize,
}

impl<'a> Context<'a> {
    pub fn new(streams: &'a StreamMap, catalog: &'a Catalog, mode: Mode) -> Context<'a> {
        Context {
            streams,
            catalog,
            mode,
            depth: 0,
        }
    }
}

/// Folds `account`'s effective stream into its state.
pub fn fold(account: &Account, ctx: &Context<'_>) -> Result<State, Rejection> {
    let mut state = State::new(account.clone());
    let events = ctx.streams.get(account).map(Vec::as_slice).unwrap_or(&[]);
    for e in events {
        state.apply_or_skip(e, ctx)?;
    }
    Ok(state)
}

impl State {
    pub fn new(account: Account) -> State {
        State {
            account,
            merged_into: None,
            absorbed: Vec::new(),
            profile_verified: Vec::new(),
            designations: Vec::new(),
            terms: Vec::new(),
            current: [None, None],
            merged_in: Vec::new(),
            tokens: Vec::new(),
            keys: Vec::new(),
            subscriptions: Vec::new(),
            last_applied: None,
            last_own_event: None,
            skipped: Vec::new(),
        }
    }

    /// Applies one event in Validate mode, or skips it (noting why) in Project mode.
    pub fn apply_or_skip(&mut self, e: &StoredEvent, ctx: &Context<'_>) -> Result<(), Rejection> {
        match self.apply(e, ctx) {
            Ok(()) => Ok(()),
            Err(rejection) if ctx.mode == Mode::Project => {
                self.skipped.push(rejection);
                Ok(())
            }
            Err(rejection) => Err(rejection),
        }
    }

    /// Checks `e` against every rule on this state and, only if all hold, applies it.
    pub fn apply(&mut self, e: &StoredEvent, ctx: &Context<'_>) -> Result<(), Rejection> {
        let ev = &e.event;
        let own = ev.account == self.account;
        if let Body::AccountsMerged(m) = &ev.body {
            if own {
                self.check_not_merged_away(e)
                    .map_err(|v| Rejection::at(e, v))?;
                self.absorb(e, &m.absorbed, ctx)?;
            } else if m.absorbed == self.account {
                self.be_absorbed(e).map_err(|v| Rejection::at(e, v))?;
            }
            self.note_applied(e, own);
            return Ok(());
        }
        if !own {
            return Ok(()); // another account's event in this stream: nothing of ours
        }
        self.check_not_merged_away(e)
            .map_err(|v| Rejection::at(e, v))?;
        let d = ev.date;
        let result = match &ev.body {
            Body::MembershipPurchased(m) => self.purchase(d, m.offer, ctx.catalog),
            Body::MembershipRenewed(m) => self.renew(d, m.offer, ctx.catalog),
            Body::BusinessProfileVerified => {
                self.profile_verified.push(d);
                Ok(())
            }
            Body::DesignationQualified(q) => self.qualify(d, q.solution_area, q.score, ctx.catalog),
            Body::BenefitRedeemed(r) => self.redeem(d, r.benefit, r.offer),
            Body::TokenIssued(t) => self.issue_token(d, t),
            Body::TokenActivated(t) => self.activate_token(d, t),
            Body::ReplacementTokenIssued(r) => self.replace_token(d, r),
            Body::ProductKeyIssued(k) => self.issue_key(d, k),
            Body::ProductKeyActivated(k) => self.activate_key(d, k),
            Body::VsSubscriptionAssigned(v) => self.assign_subscription(d, v),
            Body::VsSubscriptionActivated(v) => self.activate_subscription(d, &v.subscription),
            Body::VsSubscriptionUnassigned(v) => self.unassign_subscription(d, &v.subscription),
            // Voids never reach a fold: prepare_streams applies them (R28).
            Body::AccountsMerged(_) | Body::EventVoided(_) => Ok(()),
        };
        result.map_err(|v| Rejection::at(e, v))?;
        self.note_applied(e, own);
        Ok(())
    }

    fn note_applied(&mut self, e: &StoredEvent, own: bool) {
        self.last_applied = Some((e.event.date, e.seq));
        if own && !matches!(e.event.body, Body::AccountsMerged(_)) {
            self.last_own_event = Some((e.event.date, e.event.id, e.event.event_type()));
        }
    }

    /// R26 (and R15 for purchases and renewals): from the merge date on, an absorbed account
    /// accepts no new events but voids.
    fn check_not_merged_away(&self, e: &StoredEvent) -> Result<(), Violation> {
        let Some((into, m)) = &self.merged_into else {
            return Ok(());
        };
        if e.event.date < *m {
            return Ok(());
        }
        let what = format!(
            "{} was merged into {} on {}; from that date it accepts no new events but voids (R26)",
            self.account,
            into,
            format_date(*m)
        );
        match e.event.body {
            Body::MembershipPurchased(_) | Body::MembershipRenewed(_) => Err(Violation::new(
                15,
                format!("{what}, and it cannot purchase or renew; record the membership on {into}"),
            )),
            _ => Err(Violation::new(
                26,
                format!(
                    "{what}; record it on {into} or date it before {}",
                    format_date(*m)
                ),
            )),
        }
    }

    pub fn current_term(&self, line: Line) -> Option<&Term> {
        self.current[line_index(line)].and_then(|i| self.terms.get(i))
    }

    // --------------------------------------------------------------------------------------------
    // Memberships

    /// R5, R10, R11, R12, R13, R14, R30: a purchase starts a new term on its line.
    fn purchase(&mut self, d: Date, offer: Offer, catalog: &Catalog) -> Result<(), Violation> {
        self.check_offer_on_sale(d, offer, catalog, "purchase")?;
        let c = &catalog.at(d).constants;
        if offer.is_legacy() && d > c.legacy_retirement {
            return Err(Violation::new(
                14,
                format!(
                    "{offer} is retired as of {}: it cannot be purchased on {}; a partner that held it on {} can renew it in its renewal window, others buy solutions_partner",
                    format_date(c.legacy_retirement),
                    format_date(d),
                    format_date(c.legacy_retirement)
                ),
            ));
        }
        if let Some(cur) = self.current_term(offer.line()) {
            if cur.is_running_on(d) {
                let r12 = if cur.offer != offer {
                    format!(
                        "; the package is fixed for the term (R12): {offer} can replace {} only by a renewal between {} and {}",
                        cur.offer,
                        format_date(cur.window_opens),
                        format_date(cur.window_closes)
                    )
                } else {
                    format!(
                        "; renew it between {} and {} instead",
                        format_date(cur.window_opens),
                        format_date(cur.window_closes)
                    )
                };
                return Err(Violation::new(
                    11,
                    format!(
                        "the {} line already has a {} term ({}, started {}, anniversary {}){r12}",
                        offer.line(),
                        cur.offer,
                        cur.status_on(d).as_str(),
                        format_date(cur.start),
                        format_date(cur.anniversary)
                    ),
                ));
            }
        }
        if offer.line() == Line::ActionPack
            && !self.terms.iter().any(|t| t.line == Line::ActionPack)
            && !self.profile_verified.iter().any(|&v| v <= d)
        {
            return Err(Violation::new(
                10,
                format!(
                    "a first {offer} purchase needs the business profile verified before; record business_profile_verified on or before {}",
                    format_date(d)
                ),
            ));
        }
        let areas = if offer == Offer::SolutionsPartner {
            let from = sub_months(d, c.qualification_months);
            self.qualified_areas(from, d, c.minimum_score).ok_or_else(|| {
                Violation::new(
                    13,
                    format!(
                        "solutions_partner needs a designation_qualified (score >= {}) between {} and {}",
                        c.minimum_score,
                        format_date(from),
                        format_date(d)
                    ),
                )
            })?
        } else {
            AreaSet::default()
        };
        let mut term = Term::new(offer, d, &self.account, catalog);
        term.solution_areas = areas;
        push_lean(&mut self.terms, term);
        self.current[line_index(offer.line())] = Some(self.terms.len() - 1);
        Ok(())
    }

    /// R30: a catalog version may end an offer's sale and renewal.
    fn check_offer_on_sale(
        &self,
        d: Date,
        offer: Offer,
        catalog: &Catalog,
        what: &str,
    ) -> Result<(), Violation> {
        match catalog.at(d).offer(offer) {
            None => Err(Violation::new(30, format!("the catalog in force on {} has no offer {offer}", format_date(d)))),
            Some(spec) => match spec.sale_ends {
                Some(end) if d > end => Err(Violation::new(
                    30,
                    format!("the catalog ends the sale and renewal of {offer} after {}; this {what} is dated {}", format_date(end), format_date(d)),
                )),
                _ => Ok(()),
            },
        }
    }

    /// R13: the solution areas qualified (score ≥ minimum) between `from` and `to`, inclusive;
    /// None when there is none.
    fn qualified_areas(&self, from: Date, to: Date, minimum: u64) -> Option<AreaSet> {
        let areas: AreaSet = self
            .designations
            .iter()
            .filter(|q| q.score >= minimum && from <= q.qualified && q.qualified <= to)
            .map(|q| q.solution_area)
            .collect();
        (!areas.is_empty()).then_some(areas)
    }

    /// R8, R9, R10, R12, R13, R14: a renewal inside the window starts a new term on its date.
    fn renew(&mut self, d: Date, offer: Offer, catalog: &Catalog) -> Result<(), Violation> {
        let line = offer.line();
        let Some(index) = self.current[line_index(line)] else {
            return Err(Violation::new(
                8,
                format!("there is no {line} term to renew; buy one with membership_purchased (a renewal needs a term in its renewal window, R9)"),
            ));
        };
        let cur = self
            .terms
            .get(index)
            .cloned()
            .ok_or_else(|| Violation::new(8, "no term to renew"))?;
        if d <= cur.anniversary {
            return Err(Violation::new(
                8,
                format!(
                    "the renewal window of the {} term opens on {} (anniversary {}); renew between {} and {}",
                    cur.offer,
                    format_date(cur.window_opens),
                    format_date(cur.anniversary),
                    format_date(cur.window_opens),
                    format_date(cur.window_closes)
                ),
            ));
        }
        if d > cur.window_closes {
            return Err(Violation::new(
                9,
                format!(
                    "the {} term lapsed on {} (its renewal window closed {}); a renewal is no longer possible (R8), buy a new membership with membership_purchased",
                    cur.offer,
                    format_date(cur.lapse_day()),
                    format_date(cur.window_closes)
                ),
            ));
        }
        self.check_offer_on_sale(d, offer, catalog, "renewal")?;
        if !self
            .profile_verified
            .iter()
            .any(|&v| cur.start < v && v <= d)
        {
            return Err(Violation::new(
                10,
                format!(
                    "a renewal needs the business profile verified after the term's start ({}) and on or before the renewal ({}); record business_profile_verified first",
                    format_date(cur.start),
                    format_date(d)
                ),
            ));
        }
        let c = &catalog.at(d).constants;
        // R13: for a renewal the window starts on the first day of the month five months
        // before the anniversary's month.
        let window_from = first_of_month(sub_months(cur.anniversary, c.qualification_months));
        let areas = self.qualified_areas(window_from, d, c.minimum_score);
        if offer == Offer::SolutionsPartner && areas.is_none() {
            return Err(Violation::new(
                13,
                format!(
                    "renewing solutions_partner needs a designation_qualified (score >= {}) between {} and {}",
                    c.minimum_score,
                    format_date(window_from),
                    format_date(d)
                ),
            ));
        }
        if offer.is_legacy() && d > c.legacy_retirement {
            self.check_legacy_renewal(offer, d, window_from, areas.is_some(), c)?;
        }
        let mut term = Term::new(offer, d, &self.account, catalog);
        if offer == Offer::SolutionsPartner {
            term.solution_areas = areas.unwrap_or_default();
        }
        push_lean(&mut self.terms, term);
        let new_index = self.terms.len() - 1;
        if let Some(old) = self.terms.get_mut(index) {
            old.renewed_on = Some(d);
            old.renewed_into = Some(new_index);
        }
        self.current[line_index(line)] = Some(new_index);
        Ok(())
    }

    /// R14: after the retirement date a legacy level can only be renewed by an account whose
    /// package term on that date was the same level, and that qualified for no designation in
    /// the R13 renewal window.
    fn check_legacy_renewal(
        &self,
        offer: Offer,
        d: Date,
        window_from: Date,
        qualified: bool,
        c: &Constants,
    ) -> Result<(), Violation> {
        let retirement = c.legacy_retirement;
        let held = self
            .terms
            .iter()
            .find(|t| {
                t.line == Line::Package && t.start <= retirement && t.is_running_on(retirement)
            })
            .map(|t| t.offer);
        if held != Some(offer) {
            let had = held.map_or("no package term".to_string(), |o| format!("{o}"));
            return Err(Violation::new(
                14,
                format!(
                    "{offer} is retired as of {}; only a partner that held {offer} on that date can renew it, and this account had {had}; choose solutions_partner",
                    format_date(retirement)
                ),
            ));
        }
        if qualified {
            return Err(Violation::new(
                14,
                format!(
                    "a designation was qualified between {} and {}: a qualified partner renews as solutions_partner, not {offer}",
                    format_date(window_from),
                    format_date(d)
                ),
            ));
        }
        Ok(())
    }

    /// R13: a designation needs a score of at least the minimum; an area qualified during a
    /// running solutions_partner term joins it at once and shares its anniversary.
    fn qualify(
        &mut self,
        d: Date,
        area: SolutionArea,
        score: u64,
        catalog: &Catalog,
    ) -> Result<(), Violation> {
        let minimum = catalog.at(d).constants.minimum_score;
        if score < minimum {
            return Err(Violation::new(
                13,
                format!("a designation needs a score of at least {minimum} of 100; {area} scored {score}"),
            ));
        }
        push_lean(
            &mut self.designations,
            Designation {
                solution_area: area,
                qualified: d,
                score,
                source: self.account.clone(),
            },
        );
        if let Some(i) = self.current[line_index(Line::Package)] {
            if let Some(t) = self.terms.get_mut(i) {
                if t.offer == Offer::SolutionsPartner && t.is_running_on(d) {
                    t.solution_areas.insert(area);
                }
            }
        }
        Ok(())
    }

    // --------------------------------------------------------------------------------------------
    // Benefits

    /// R23: among the terms that `eligible` admits (and, when the event names an offer, on
    /// that offer's line, that offer's own terms first), the one whose activate-by comes first.
    fn pick_term(
        &self,
        offer: Option<Offer>,
        eligible: impl Fn(usize, &Term) -> bool,
    ) -> Option<usize> {
        let on_line = |t: &Term| offer.is_none_or(|o| t.line == o.line());
        let best = |exact: bool| {
            self.terms
                .iter()
                .enumerate()
                .filter(|(i, t)| on_line(t) && eligible(*i, t))
                .filter(|(_, t)| !exact || offer.is_none_or(|o| t.offer == o))
                .min_by_key(|(i, t)| (t.activate_by, t.start, *i))
                .map(|(i, _)| i)
        };
        best(true).or_else(|| best(false))
    }

    /// Why no term could take a benefit of type `b` on `d`: the message for the rejection.
    fn no_term_for(&self, d: Date, b: BenefitType, offer: Option<Offer>) -> String {
        let line_note = offer
            .map(|o| format!(" on the {} line", o.line()))
            .unwrap_or_default();
        let latest = self
            .terms
            .iter()
            .filter(|t| t.provides(b) && t.start <= d && offer.is_none_or(|o| t.line == o.line()))
            .max_by_key(|t| t.start);
        match latest {
            None => format!(
                "no membership started on or before {}{line_note} provides {b} (benefits are provided from a term's start, R5); buy an offer that does",
                format_date(d)
            ),
            Some(t) if t.unlocked(b).is_some() && d <= t.redeem_deadline() => format!(
                "the {b} benefit of the {} term started {} was already redeemed on {}",
                t.offer,
                format_date(t.start),
                t.unlocked(b).map(format_date).unwrap_or_default()
            ),
            Some(t) if d > t.window_closes && t.renewed_on.is_none() => format!(
                "the {} term started {} lapsed on {} (R9): access to its benefits ended; renew in the window or buy a new membership",
                t.offer,
                format_date(t.start),
                format_date(t.lapse_day())
            ),
            Some(t) => format!(
                "benefits of the {} term started {} had to be redeemed by {} (activate-by {})",
                t.offer,
                format_date(t.start),
                format_date(t.redeem_deadline()),
                format_date(t.activate_by)
            ),
        }
    }

    /// The rule a redemption of `b` on `d` broke when no term could take it: R16 when no
    /// term provides the type, R5 when the providing terms start later, else R17.
    fn no_redeemable_term(&self, d: Date, b: BenefitType, offer: Option<Offer>) -> Violation {
        // The fold runs in date order: a term that starts later does not exist yet here.
        if self.terms.is_empty() {
            return Violation::new(
                5,
                format!(
                    "no membership has started on or before {}: benefits are provided from a term's start (R16, R17); date the redemption on or after the purchase",
                    format_date(d)
                ),
            );
        }
        if !self.terms.iter().any(|t| t.provides(b)) {
            return Violation::new(16, self.no_term_for(d, b, offer));
        }
        Violation::new(17, self.no_term_for(d, b, offer))
    }

    /// R17, R18, R23: a redemption unlocks a provided, unredeemed benefit on or before the
    /// term's activate-by while the term has access.
    fn redeem(&mut self, d: Date, b: BenefitType, offer: Option<Offer>) -> Result<(), Violation> {
        let pick = self.pick_term(offer, |_, t| {
            t.provides(b) && t.unlocked(b).is_none() && t.start <= d && d <= t.redeem_deadline()
        });
        let Some(i) = pick else {
            return Err(self.no_redeemable_term(d, b, offer));
        };
        if let Some(t) = self.terms.get_mut(i) {
            t.unlock(b, d);
        }
        Ok(())
    }

    fn token_index(&self, id: &str) -> Option<usize> {
        self.tokens.iter().position(|t| *t.token == *id)
    }

    /// R19: a token is issued under a term that provides cloud services, while it has access
    /// and on or before its activate-by.
    fn issue_token(&mut self, d: Date, t: &crate::event::TokenIssuedData) -> Result<(), Violation> {
        if self.token_index(&t.token).is_some() {
            return Err(Violation::new(
                19,
                format!(
                    "token {} already exists; give the new token its own id",
                    t.token
                ),
            ));
        }
        let b = BenefitType::CloudServices;
        let Some(term) = self.pick_term(t.offer, |_, x| {
            x.provides(b) && x.start <= d && d <= x.redeem_deadline()
        }) else {
            return Err(Violation::new(
                19,
                format!(
                    "a token needs a term that provides cloud_services: {}",
                    self.no_term_for(d, b, t.offer)
                ),
            ));
        };
        push_lean(
            &mut self.tokens,
            Token {
                token: t.token.as_str().into(),
                product: t.product.as_str().into(),
                seats: t.seats,
                term,
                issued: d,
                tenant: None,
                activated: None,
                replaced_by: None,
                replaced_on: None,
                replaces: None,
                source: self.account.clone(),
            },
        );
        Ok(())
    }

    /// R19: a token is activated whole, once, onto one tenant, on or before its term's
    /// activate-by while the term has access; the first activation unlocks cloud services.
    fn activate_token(
        &mut self,
        d: Date,
        a: &crate::event::TokenActivatedData,
    ) -> Result<(), Violation> {
        let Some(i) = self.token_index(&a.token) else {
            return Err(Violation::new(
                19,
                format!(
                    "token {} was never issued to this account; issue it first",
                    a.token
                ),
            ));
        };
        let token = &self.tokens[i];
        if let Some(by) = &token.replaced_by {
            return Err(Violation::new(
                20,
                format!(
                    "token {} was replaced by {by}; activate the replacement",
                    a.token
                ),
            ));
        }
        if let Some(on) = token.activated {
            return Err(Violation::new(
                19,
                format!(
                    "token {} was already activated on {} onto {}; a token is activated once",
                    a.token,
                    format_date(on),
                    token.tenant.as_deref().unwrap_or("?")
                ),
            ));
        }
        if a.seats != token.seats {
            return Err(Violation::new(
                19,
                format!(
                    "token {} has {} seats; it is activated whole, not with {}",
                    a.token, token.seats, a.seats
                ),
            ));
        }
        if d < token.issued {
            return Err(Violation::new(
                19,
                format!(
                    "token {} is issued on {}; it cannot be activated before",
                    a.token,
                    format_date(token.issued)
                ),
            ));
        }
        let term = self
            .terms
            .get(token.term)
            .ok_or_else(|| Violation::new(19, "token without term"))?;
        if d > term.redeem_deadline() {
            return Err(Violation::new(
                19,
                format!(
                    "token {} had to be activated by {} (its {} term's activate-by {}, while the term has access)",
                    a.token,
                    format_date(term.redeem_deadline()),
                    term.offer,
                    format_date(term.activate_by)
                ),
            ));
        }
        let term_index = token.term;
        let token = &mut self.tokens[i];
        token.activated = Some(d);
        token.tenant = Some(a.tenant.as_str().into());
        if let Some(t) = self.terms.get_mut(term_index) {
            t.unlock(BenefitType::CloudServices, d);
        }
        Ok(())
    }

    /// R20: one replacement per original token, for a wrong tenant or seats added instead of
    /// extending, dated on or before activation + 30 days; a replacement is never replaceable.
    fn replace_token(
        &mut self,
        d: Date,
        r: &crate::event::ReplacementData,
    ) -> Result<(), Violation> {
        if r.reason != "wrong_tenant" && r.reason != "seats_added_instead_of_extending" {
            return Err(Violation::new(
                20,
                format!("a replacement is issued only for reason wrong_tenant or seats_added_instead_of_extending, not {:?}", r.reason),
            ));
        }
        let Some(i) = self.token_index(&r.token) else {
            return Err(Violation::new(
                20,
                format!("token {} was never issued to this account", r.token),
            ));
        };
        let original = &self.tokens[i];
        if let Some(of) = &original.replaces {
            return Err(Violation::new(20, format!("token {} is itself the replacement of {of}; a replacement is never replaceable", r.token)));
        }
        if let Some(by) = &original.replaced_by {
            return Err(Violation::new(
                20,
                format!("token {} was already replaced by {by} on {}; at most one replacement per token", r.token, original.replaced_on.map(format_date).unwrap_or_default()),
            ));
        }
        let Some(activated) = original.activated.filter(|&a| a <= d) else {
            return Err(Violation::new(
                20,
                format!(
                    "token {} is not activated; only an activated token can be replaced",
                    r.token
                ),
            ));
        };
        let term = self
            .terms
            .get(original.term)
            .ok_or_else(|| Violation::new(20, "token without term"))?;
        let deadline = add_days(activated, i64::from(term.constants.replacement_days));
        if d > deadline {
            return Err(Violation::new(
                20,
                format!(
                    "token {} was activated on {}; a replacement had to be issued by {}",
                    r.token,
                    format_date(activated),
                    format_date(deadline)
                ),
            ));
        }
        if self.token_index(&r.replacement).is_some() {
            return Err(Violation::new(
                19,
                format!(
                    "token {} already exists; give the replacement its own id",
                    r.replacement
                ),
            ));
        }
        let replacement = Token {
            token: r.replacement.as_str().into(),
            product: original.product.clone(),
            seats: original.seats,
            term: original.term,
            issued: d,
            tenant: None,
            activated: None,
            replaced_by: None,
            replaced_on: None,
            replaces: Some(r.token.as_str().into()),
            source: self.account.clone(),
        };
        let original = &mut self.tokens[i];
        original.replaced_by = Some(r.replacement.as_str().into());
        original.replaced_on = Some(d);
        push_lean(&mut self.tokens, replacement);
        Ok(())
    }

    /// R18, R24: whether term `i`'s on-premises right of use holds on `d`: through AD + 30,
    /// or until the next term starts, carried on by a renewal into an offer that provides
    /// on-premises software too.
    pub fn on_premises_right(&self, i: usize, d: Date) -> bool {
        self.on_premises_end(i).is_none_or(|end| d < end)
            && self.terms.get(i).is_some_and(|t| t.start <= d)
    }

    /// R18, R21: whether term `i` itself can issue product keys on `d`: from its start
    /// through AD + 30, or until the next term starts. A renewal carries the right of use of
    /// issued keys on, but new keys come from the new term.
    pub fn on_premises_own_right(&self, i: usize, d: Date) -> bool {
        self.terms
            .get(i)
            .is_some_and(|t| t.start <= d && d < t.renewed_on.unwrap_or_else(|| t.lapse_day()))
    }

    /// R24: the first day term `i` no longer gives on-premises right of use (following the
    /// renewals that carry it on). None: the term does not provide it.
    pub fn on_premises_end(&self, i: usize) -> Option<Date> {
        let mut index = i;
        for _ in 0..=self.terms.len() {
            let t = self.terms.get(index)?;
            match (t.renewed_on, t.renewed_into) {
                (Some(r), Some(next)) => {
                    let carries = self
                        .terms
                        .get(next)
                        .is_some_and(|n| n.provides(BenefitType::OnPremisesSoftware));
                    if !carries {
                        return Some(r);
                    }
                    index = next;
                }
                _ => return Some(t.lapse_day()),
            }
        }
        None
    }

    fn key_index(&self, id: &str) -> Option<usize> {
        self.keys.iter().position(|k| *k.key == *id)
    }

    /// R21: keys are issued only while the term has on-premises access; a single key has one
    /// activation. The first key unlocks the term's on-premises benefit (R18).
    fn issue_key(&mut self, d: Date, k: &crate::event::KeyIssuedData) -> Result<(), Violation> {
        if k.kind == KeyKind::Single && k.activations != 1 {
            return Err(Violation::new(
                21,
                format!(
                    "a single key has exactly one activation, not {}; use kind mak for several",
                    k.activations
                ),
            ));
        }
        if self.key_index(&k.key).is_some() {
            return Err(Violation::new(
                21,
                format!(
                    "product key {} already exists; give the new key its own id",
                    k.key
                ),
            ));
        }
        let b = BenefitType::OnPremisesSoftware;
        let Some(term) = self.pick_term(k.offer, |i, t| {
            t.provides(b) && self.on_premises_own_right(i, d)
        }) else {
            return Err(Violation::new(21, format!("product keys are issued only while a term with on-premises software has access (R24): {}", self.no_on_premises(d, k.offer))));
        };
        push_lean(
            &mut self.keys,
            ProductKey {
                key: k.key.as_str().into(),
                product: k.product.as_str().into(),
                kind: k.kind,
                activations_total: k.activations,
                activations_used: 0,
                machines: Machines::default(),
                term,
                issued: d,
                source: self.account.clone(),
            },
        );
        if let Some(t) = self.terms.get_mut(term) {
            t.unlock(b, d);
        }
        Ok(())
    }

    fn no_on_premises(&self, d: Date, offer: Option<Offer>) -> String {
        let b = BenefitType::OnPremisesSoftware;
        let latest = self
            .terms
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.provides(b) && t.start <= d && offer.is_none_or(|o| t.line == o.line())
            })
            .max_by_key(|(_, t)| t.start);
        match latest {
            None => format!(
                "no term started on or before {} provides on_premises_software",
                format_date(d)
            ),
            Some((i, t)) => format!(
                "the {} term started {} gave on-premises right of use until {}",
                t.offer,
                format_date(t.start),
                self.on_premises_end(i)
                    .map(|e| format_date(add_days(e, -1)))
                    .unwrap_or_default()
            ),
        }
    }

    /// R21: a new machine uses one activation, the same machine none unless its hardware
    /// changed; no activation beyond the key's number; only while the term has access.
    fn activate_key(
        &mut self,
        d: Date,
        a: &crate::event::KeyActivatedData,
    ) -> Result<(), Violation> {
        let Some(i) = self.key_index(&a.key) else {
            return Err(Violation::new(
                21,
                format!(
                    "product key {} was never issued to this account; issue it first",
                    a.key
                ),
            ));
        };
        let key = &self.keys[i];
        if d < key.issued {
            return Err(Violation::new(
                21,
                format!(
                    "product key {} is issued on {}; it cannot be activated before",
                    a.key,
                    format_date(key.issued)
                ),
            ));
        }
        if !self.on_premises_right(key.term, d) {
            let end = self
                .on_premises_end(key.term)
                .map(format_date)
                .unwrap_or_default();
            return Err(Violation::new(
                21,
                format!("product key {} is unlicensed from {end}: its term no longer gives on-premises right of use (R24)", a.key),
            ));
        }
        let uses =
            u64::from(!key.machines.contains(&a.machine) || a.hardware_changed == Some(true));
        if key.activations_used + uses > key.activations_total {
            return Err(Violation::new(
                21,
                format!(
                    "product key {} has used all {} activations; no extra activations are granted (the same machine again needs none unless its hardware changed)",
                    a.key, key.activations_total
                ),
            ));
        }
        let key = &mut self.keys[i];
        key.activations_used += uses;
        key.machines.insert(&a.machine);
        Ok(())
    }

    fn subscription_index(&self, id: &str) -> Option<usize> {
        self.subscriptions
            .iter()
            .position(|s| *s.subscription == *id)
    }

    /// R22: the day a subscription of term `i` stops being valid: its developer_tools
    /// benefit's expiry (None while unredeemed).
    fn subscription_expiry(&self, i: usize) -> Option<Date> {
        self.terms
            .get(i)
            .and_then(|t| t.benefit_expires(BenefitType::DeveloperTools))
    }

    /// R22: a subscription is assigned to one user, from a term that has access and provides
    /// its level, within the term's count; reassigning needs an unassignment first.
    fn assign_subscription(
        &mut self,
        d: Date,
        v: &crate::event::VsAssignedData,
    ) -> Result<(), Violation> {
        if let Some(i) = self.subscription_index(&v.subscription) {
            return self.reassign_subscription(d, i, v);
        }
        let b = BenefitType::DeveloperTools;
        let eligible = |i: usize, t: &Term| {
            let open = match t.unlocked(b) {
                None => d <= t.redeem_deadline(),
                Some(_) => self.subscription_expiry(i).is_some_and(|e| d <= e),
            };
            t.provides(b)
                && t.vs_levels.contains(v.level)
                && t.has_access_on(d)
                && open
                && t.vs_count.is_none_or(|n| {
                    self.subscriptions.iter().filter(|s| s.term == i).count() < n as usize
                })
        };
        let Some(term) = self.pick_term(v.offer, eligible) else {
            return Err(Violation::new(22, self.no_subscription_term(d, v)));
        };
        push_lean(
            &mut self.subscriptions,
            Subscription {
                subscription: v.subscription.as_str().into(),
                level: v.level,
                user: v.user.as_str().into(),
                term,
                assigned: d,
                activated: None,
                unassigned: None,
                source: self.account.clone(),
            },
        );
        if let Some(t) = self.terms.get_mut(term) {
            t.unlock(b, d);
        }
        Ok(())
    }

    fn no_subscription_term(&self, d: Date, v: &crate::event::VsAssignedData) -> String {
        let b = BenefitType::DeveloperTools;
        let with_access: Vec<(usize, &Term)> = self
            .terms
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                t.provides(b) && t.has_access_on(d) && v.offer.is_none_or(|o| t.line == o.line())
            })
            .collect();
        if with_access.is_empty() {
            return format!(
                "no term with Visual Studio subscriptions has access on {}; assignments need a running term",
                format_date(d)
            );
        }
        if !with_access
            .iter()
            .any(|(_, t)| t.vs_levels.contains(v.level))
        {
            return format!(
                "{} subscriptions need a solutions_partner, legacy_gold or legacy_silver term; action packs provide professional only",
                v.level
            );
        }
        if let Some((i, t)) = with_access.iter().find(|(_, t)| t.vs_count.is_some()) {
            let used = self.subscriptions.iter().filter(|s| s.term == *i).count();
            if t.vs_count.is_some_and(|n| used >= n as usize) {
                return format!(
                    "the {} term started {} provides {} Visual Studio subscriptions and all are assigned; unassign one (90 days after its activation) and reassign it",
                    t.offer,
                    format_date(t.start),
                    used
                );
            }
        }
        format!(
            "the developer_tools benefit of the terms with access on {} can no longer be redeemed or has expired",
            format_date(d)
        )
    }

    fn reassign_subscription(
        &mut self,
        d: Date,
        i: usize,
        v: &crate::event::VsAssignedData,
    ) -> Result<(), Violation> {
        let s = &self.subscriptions[i];
        if s.unassigned.is_none() {
            return Err(Violation::new(
                22,
                format!(
                    "subscription {} is assigned to {}; one subscription, one user: unassign it first (90 days or more after its activation)",
                    v.subscription, s.user
                ),
            ));
        }
        if s.level != v.level {
            return Err(Violation::new(
                22,
                format!(
                    "subscription {} is {}, not {}",
                    v.subscription, s.level, v.level
                ),
            ));
        }
        let term = self
            .terms
            .get(s.term)
            .ok_or_else(|| Violation::new(22, "subscription without term"))?;
        let expiry = self.subscription_expiry(s.term);
        if !term.has_access_on(d) || expiry.is_some_and(|e| d > e) {
            return Err(Violation::new(
                22,
                format!("subscription {}'s {} term has no access on {} or its developer_tools benefit expired", v.subscription, term.offer, format_date(d)),
            ));
        }
        let s = &mut self.subscriptions[i];
        s.user = v.user.as_str().into();
        s.assigned = d;
        s.activated = None;
        s.unassigned = None;
        Ok(())
    }

    /// R22: a subscription is valid once assigned and activated, until its benefit's expiry.
    fn activate_subscription(&mut self, d: Date, id: &str) -> Result<(), Violation> {
        let Some(i) = self.subscription_index(id) else {
            return Err(Violation::new(
                22,
                format!("subscription {id} is not assigned; assign it to a user first"),
            ));
        };
        let s = &self.subscriptions[i];
        if s.unassigned.is_some() {
            return Err(Violation::new(
                22,
                format!("subscription {id} is unassigned; assign it to a user first"),
            ));
        }
        if let Some(a) = s.activated {
            return Err(Violation::new(
                22,
                format!(
                    "subscription {id} was already activated on {} by {}",
                    format_date(a),
                    s.user
                ),
            ));
        }
        if d < s.assigned {
            return Err(Violation::new(
                22,
                format!(
                    "subscription {id} is assigned on {}; it cannot be activated before",
                    format_date(s.assigned)
                ),
            ));
        }
        if let Some(e) = self.subscription_expiry(s.term).filter(|&e| d > e) {
            return Err(Violation::new(
                22,
                format!(
                    "subscription {id} expired on {} with its developer_tools benefit (R18)",
                    format_date(e)
                ),
            ));
        }
        self.subscriptions[i].activated = Some(d);
        Ok(())
    }

    /// R22: reassignment (unassign, then assign) only 90 days or more after the current
    /// user's activation, or at any time if never activated.
    fn unassign_subscription(&mut self, d: Date, id: &str) -> Result<(), Violation> {
        let Some(i) = self.subscription_index(id) else {
            return Err(Violation::new(
                22,
                format!("subscription {id} was never assigned"),
            ));
        };
        let s = &self.subscriptions[i];
        if s.unassigned.is_some() {
            return Err(Violation::new(
                22,
                format!("subscription {id} is already unassigned"),
            ));
        }
        if d < s.assigned {
            return Err(Violation::new(
                22,
                format!(
                    "subscription {id} is assigned on {}; it cannot be unassigned before",
                    format_date(s.assigned)
                ),
            ));
        }
        if let Some(a) = s.activated {
            let days = self
                .terms
                .get(s.term)
                .map_or(90, |t| t.constants.reassignment_days);
            let earliest = add_days(a, i64::from(days));
            if d < earliest {
                return Err(Violation::new(
                    22,
                    format!("subscription {id} was activated by {} on {}; it can be unassigned from {} ({days} days after activation)", s.user, format_date(a), format_date(earliest)),
                ));
            }
        }
        self.subscriptions[i].unassigned = Some(d);
        Ok(())
    }

    // --------------------------------------------------------------------------------------------
    // Merges

    /// R26 on the absorbed side: an account is absorbed once, and its own events end before M.
    fn be_absorbed(&mut self, e: &StoredEvent) -> Result<(), Violation> {
        let m = e.event.date;
        let by = &e.event.account;
        if let Some((into, on)) = &self.merged_into {
            return Err(Violation::new(
                26,
                format!(
                    "{} was already absorbed by {into} on {}; an account is absorbed once",
                    self.account,
                    format_date(*on)
                ),
            ));
        }
        if let Some((last, id, kind)) = &self.last_own_event {
            if *last >= m {
                return Err(Violation::new(
                    26,
                    format!(
                        "{} has event {id} ({kind}, {}) on or after the merge date {}; from M on it accepts no new events: date the merge after {}",
                        self.account,
                        format_date(*last),
                        format_date(m),
                        format_date(*last)
                    ),
                ));
            }
        }
        self.merged_into = Some((by.clone(), m));
        Ok(())
    }

    /// R26, R27: absorbing B on M: B's whole state joins this one with its own dates and
    /// source; on each line the governing term is chosen and the other shows `merged`.
    fn absorb(&mut self, e: &StoredEvent, b: &Account, ctx: &Context<'_>) -> Result<(), Rejection> {
        let m = e.event.date;
        let fail = |message: String| Rejection::at(e, Violation::new(26, message));
        if *b == self.account {
            return Err(fail(format!("{} cannot absorb itself", self.account)));
        }
        if self.absorbed.iter().any(|(a, _)| a == b) {
            return Err(fail(format!(
                "{b} was already absorbed by {}; an account is absorbed once",
                self.account
            )));
        }
        if ctx.depth >= MAX_MERGE_DEPTH {
            return Err(fail(format!(
                "merges nest deeper than {MAX_MERGE_DEPTH} accounts"
            )));
        }
        let has_own = ctx
            .streams
            .get(b)
            .is_some_and(|s| s.iter().any(|x| x.event.account == *b));
        if !has_own {
            return Err(fail(format!(
                "{b} has no events in the ledger; only a known account can be absorbed"
            )));
        }
        let sub = Context {
            streams: ctx.streams,
            catalog: ctx.catalog,
            mode: ctx.mode,
            depth: ctx.depth + 1,
        };
        let other = fold(b, &sub)?;
        if other.absorbed.iter().any(|(a, _)| *a == self.account) {
            return Err(fail(format!(
                "{b} absorbed {}; a merge is irreversible",
                self.account
            )));
        }
        if other
            .merged_into
            .as_ref()
            .is_some_and(|(into, _)| *into != self.account)
        {
            return Err(fail(format!("{b} is merged into another account")));
        }
        self.take_over(other, b, m, ctx.mode);
        Ok(())
    }

    fn take_over(&mut self, other: State, b: &Account, m: Date, mode: Mode) {
        let offset = self.terms.len();
        let b_current = other.current.map(|c| c.map(|i| i + offset));
        for mut t in other.terms {
            t.renewed_into = t.renewed_into.map(|i| i + offset);
            push_lean(&mut self.terms, t);
        }
        self.tokens.extend(other.tokens.into_iter().map(|mut t| {
            t.term += offset;
            t
        }));
        self.keys.extend(other.keys.into_iter().map(|mut k| {
            k.term += offset;
            k
        }));
        self.subscriptions
            .extend(other.subscriptions.into_iter().map(|mut s| {
                s.term += offset;
                s
            }));
        self.designations.extend(other.designations);
        self.merged_in
            .extend(other.merged_in.into_iter().map(|i| i + offset));
        if mode == Mode::Project {
            self.skipped.extend(other.skipped);
        }
        // R13, R27: solution areas of both running solutions_partner terms are combined onto
        // the governing one (collected before the other is marked merged).
        let areas = self.designations_running_areas(m);
        for line in [Line::Package, Line::ActionPack] {
            let li = line_index(line);
            if let Some(bi) = b_current[li] {
                self.merged_in.push(bi);
            }
            self.choose_governing(line, b_current[li], m);
        }
        if let Some(i) = self.current[0] {
            if let Some(t) = self.terms.get_mut(i) {
                if t.offer == Offer::SolutionsPartner && t.is_running_on(m) {
                    t.solution_areas.extend(areas.iter());
                }
            }
        }
        self.absorbed.push((b.clone(), m));
    }

    fn designations_running_areas(&self, m: Date) -> AreaSet {
        self.terms
            .iter()
            .filter(|t| t.offer == Offer::SolutionsPartner && t.is_running_on(m))
            .flat_map(|t| t.solution_areas.iter())
            .collect()
    }

    /// R27: the governing term of a line after a merge on M. Only terms with access on M
    /// compete; package line: the solutions_partner term with the later AD, else a
    /// solutions_partner term over a legacy one, else A's own; action-pack line: the later
    /// AD. Equal anniversaries: A's own term governs.
    fn choose_governing(&mut self, line: Line, b_term: Option<usize>, m: Date) {
        let li = line_index(line);
        let running = |i: &usize| self.terms.get(*i).is_some_and(|t| t.is_running_on(m));
        let a = self.current[li].filter(running);
        let b = b_term.filter(running);
        let governing = match (a, b) {
            (Some(a), Some(b)) => {
                let (ta, tb) = (&self.terms[a], &self.terms[b]);
                let b_wins = match line {
                    Line::Package => match (
                        ta.offer == Offer::SolutionsPartner,
                        tb.offer == Offer::SolutionsPartner,
                    ) {
                        (true, true) => tb.anniversary > ta.anniversary,
                        (false, true) => true,
                        _ => false,
                    },
                    Line::ActionPack => tb.anniversary > ta.anniversary,
                };
                let (gov, other) = if b_wins { (b, a) } else { (a, b) };
                if let Some(t) = self.terms.get_mut(other) {
                    t.merged_since = Some(m);
                }
                if !self.merged_in.contains(&other) {
                    self.merged_in.push(other);
                }
                gov
            }
            (None, Some(b)) => b,
            _ => return,
        };
        self.current[li] = Some(governing);
    }
}

#[cfg(test)]
mod tests {
    use super::{push_lean, AreaSet, MachineSet, Machines, SolutionArea, FEW_MACHINES};

    #[test]
    fn lean_push_grows_from_one_and_keeps_doubling() {
        let mut v: Vec<[u8; 200]> = Vec::new();
        let mut capacities = Vec::new();
        for _ in 0..9 {
            push_lean(&mut v, [0; 200]);
            capacities.push(v.capacity());
        }
        assert_eq!(capacities, [1, 2, 4, 4, 8, 8, 8, 8, 16]);
    }

    #[test]
    fn area_set_lists_its_areas_once_in_the_order_of_all() {
        let mut set = AreaSet::default();
        assert!(set.is_empty());
        for &a in SolutionArea::ALL.iter().rev() {
            set.insert(a);
            set.insert(a);
        }
        assert_eq!(set.iter().collect::<Vec<_>>(), SolutionArea::ALL);
        let two: AreaSet = [SolutionArea::Security, SolutionArea::DataAndAi]
            .into_iter()
            .collect();
        assert_eq!(
            two.iter().collect::<Vec<_>>(),
            [SolutionArea::DataAndAi, SolutionArea::Security]
        );
        assert!(!two.contains(SolutionArea::ModernWork));
    }

    #[test]
    fn machines_are_a_set_listed_or_in_a_tree() {
        let mut few = Machines::default();
        let mut many = Machines::default();
        assert!(few.len() == 0 && !few.contains("m0"));
        for i in 0..100 {
            many.insert(&format!("m{i}"));
            many.insert(&format!("m{i}"));
        }
        assert_eq!(many.len(), 100);
        assert!(matches!(many.0, MachineSet::Many(_)));
        assert!((0..100).all(|i| many.contains(&format!("m{i}"))));
        assert!(!many.contains("m100"));
        for i in (0..FEW_MACHINES).rev() {
            few.insert(&format!("m{i}"));
        }
        assert!(matches!(few.0, MachineSet::Few(_)));
        assert_eq!(few.len(), FEW_MACHINES);
        // Equal as sets, whatever the order or the form.
        let mut listed = Machines::default();
        let mut tree = Machines::default();
        for i in 0..FEW_MACHINES {
            listed.insert(&format!("m{i}"));
        }
        assert_eq!(few, listed);
        for i in 0..=FEW_MACHINES {
            tree.insert(&format!("m{i}"));
        }
        assert!(matches!(tree.0, MachineSet::Many(_)));
        assert_ne!(tree, listed);
        listed.insert(&format!("m{FEW_MACHINES}"));
        assert_eq!(tree, listed);
    }
}
