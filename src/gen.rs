//! `gen`: a synthetic, valid ledger (the contract's JSON Lines input form) of realistic
//! partner histories, for benchmarks and load tests.
//!
//! Each account's history is *planned* from its own seeded random stream with the rules in mind
//! (profile before the first Action Pack, renewals inside the window with a fresh profile check,
//! designations inside the R13 windows, usage only while a term has access, …), so every event
//! is accepted when the output is appended. The plans of all accounts are then merged by
//! business date, as a real ledger receives them, with `recorded_at` rising through the file.
//!
//! Output is a pure function of (accounts, seed, years, catalog): no clock, no global state.
//! Memory is bounded: plans are compact (a couple of dozen bytes per event), and when the
//! ledger is large the period is cut into date windows, each planned again from the seeds and
//! written before the next one, so that never more than [`WINDOW_BUDGET_EVENTS`] planned events
//! are held at once.

use std::io::{self, BufWriter, Write};

use chrono::{Datelike, NaiveDate};

use crate::cli::Exit;
use crate::domain::calendar::{add_days, add_months, days_between};
use crate::domain::catalog::Constants;
use crate::domain::Catalog;
use crate::event::{BenefitType, Date, Offer, SolutionArea, VsLevel};

/// Most accounts one `gen` writes (about 200 million events).
pub const MAX_ACCOUNTS: u64 = 10_000_000;
/// Longest history, in years.
pub const MAX_YEARS: u32 = 30;
/// Most planned events held in memory at once; larger ledgers are written window by window.
pub const WINDOW_BUDGET_EVENTS: u64 = 2_000_000;
/// Rough planned events per account and year, to size the windows.
const EVENTS_PER_ACCOUNT_YEAR: u64 = 8;
/// The last business date of every generated ledger: histories end here, whatever the clock
/// says, so that the same seed always gives the same file.
const LAST_DAY: (i32, u32, u32) = (2025, 12, 31);

/// Writes the synthetic ledger to standard output; a closed pipe is a normal end.
pub fn run(accounts: u64, seed: u64, years: u32, catalog: &Catalog) -> Result<(), Exit> {
    if accounts > MAX_ACCOUNTS {
        return Err(usage(format!(
            "--accounts {accounts} is more than the limit of {MAX_ACCOUNTS}"
        )));
    }
    if years == 0 || years > MAX_YEARS {
        return Err(usage(format!(
            "--years must be between 1 and {MAX_YEARS}, not {years}"
        )));
    }
    let stdout = io::stdout();
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let result = write_ledger(&mut out, accounts, seed, years, catalog).and_then(|_| out.flush());
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Exit {
            code: crate::cli::EXIT_REJECTED,
            message: Some(format!("cannot write output: {e}")),
        }),
    }
}

fn usage(message: String) -> Exit {
    Exit {
        code: crate::cli::EXIT_USAGE,
        message: Some(message),
    }
}

/// Writes the whole ledger to `out`, window by window of business dates.
pub fn write_ledger(
    out: &mut dyn Write,
    accounts: u64,
    seed: u64,
    years: u32,
    catalog: &Catalog,
) -> io::Result<()> {
    write_windows(out, accounts, seed, years, catalog, WINDOW_BUDGET_EVENTS)
}

/// [`write_ledger`] with a given budget of planned events per window.
fn write_windows(
    out: &mut dyn Write,
    accounts: u64,
    seed: u64,
    years: u32,
    catalog: &Catalog,
    budget_events: u64,
) -> io::Result<()> {
    let period = Period::new(years);
    let estimate = accounts.saturating_mul(EVENTS_PER_ACCOUNT_YEAR * u64::from(years));
    let windows = estimate.div_ceil(budget_events.max(1)).max(1);
    let days = days_between(period.first, period.last) + 1;
    let mut plan = Vec::new();
    let mut entries: Vec<Entry> = Vec::new();
    for w in 0..windows as i64 {
        let from = add_days(period.first, days * w / windows as i64);
        let until = add_days(period.first, days * (w + 1) / windows as i64); // exclusive
        entries.clear();
        for account in 0..accounts {
            plan_account(&mut plan, account, accounts, seed, &period, catalog);
            entries.extend(
                plan.iter()
                    .enumerate()
                    .filter(|(_, p)| from <= p.date && p.date < until)
                    .map(|(position, p)| Entry {
                        account: account as u32,
                        position: position as u16,
                        planned: *p,
                    }),
            );
        }
        // A real ledger receives the accounts interleaved, day by day; within an account the
        // plan's order holds (it is already in fold order, R2).
        entries.sort_unstable_by_key(|e| (e.planned.date, e.account, e.position));
        write_entries(out, &entries, seed)?;
    }
    Ok(())
}

/// The business dates a ledger covers: `years` years ending on [`LAST_DAY`].
struct Period {
    first: Date,
    last: Date,
}

impl Period {
    fn new(years: u32) -> Period {
        let last = NaiveDate::from_ymd_opt(LAST_DAY.0, LAST_DAY.1, LAST_DAY.2).unwrap_or_default();
        let first = add_days(crate::domain::calendar::sub_months(last, 12 * years), 1);
        Period { first, last }
    }
}

// ------------------------------------------------------------------------------------------------
// Deterministic randomness

/// SplitMix64: tiny, fast, and good enough to make plans look random; seeded per account so
/// that an account's plan does not depend on the others (windows can plan it again).
struct SplitMix(u64);

impl SplitMix {
    fn new(seed: u64, stream: u64, salt: u64) -> SplitMix {
        let mut s = SplitMix(
            seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ salt.wrapping_mul(0xD1B5_4A32_D192_ED03),
        );
        s.next(); // decorrelate nearby seeds
        s
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    fn between(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        items
            .get((self.next() % items.len() as u64) as usize)
            .copied()
    }
}

const SALT_PLAN: u64 = 1;
const SALT_PAIR: u64 = 2;
const SALT_ID: u64 = 3;

/// The event's id: a UUID v4 made from the seed, the account and the event's ordinal in the
/// account's plan, so a void can name its target without a lookup.
fn event_id(seed: u64, account: u32, ordinal: u16) -> uuid::Uuid {
    let mut rng = SplitMix::new(seed, u64::from(account) << 16 | u64::from(ordinal), SALT_ID);
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

// ------------------------------------------------------------------------------------------------
// Plans

/// One planned event: compact, so that large ledgers fit their memory budget.
#[derive(Debug, Clone, Copy)]
struct Planned {
    date: Date,
    /// Order of creation in the account's plan; the id derives from it.
    ordinal: u16,
    action: Action,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    ProfileVerified,
    Qualified {
        area: SolutionArea,
        score: u8,
    },
    Purchased {
        offer: Offer,
    },
    Renewed {
        offer: Offer,
    },
    Redeemed {
        benefit: BenefitType,
        offer: Offer,
    },
    TokenIssued {
        token: u16,
        offer: Offer,
        seats: u16,
        product: u8,
    },
    TokenActivated {
        token: u16,
        seats: u16,
        wrong_tenant: bool,
    },
    TokenReplaced {
        token: u16,
        replacement: u16,
    },
    KeyIssued {
        key: u16,
        offer: Offer,
        activations: u8,
        product: u8,
    },
    KeyActivated {
        key: u16,
        machine: u8,
    },
    VsAssigned {
        subscription: u16,
        level: VsLevel,
        user: u16,
        offer: Offer,
    },
    VsActivated {
        subscription: u16,
    },
    VsUnassigned {
        subscription: u16,
    },
    Merged {
        absorbed: u32,
    },
    Voided {
        target: u16,
    },
}

struct Entry {
    account: u32,
    position: u16,
    planned: Planned,
}

/// A merge of account 2k+1 into account 2k: the absorbed account buys an Action Pack early,
/// lets it lapse, and is merged some months after its lapse. Its terms then have no access
/// left, so they neither govern nor serve the absorbing account's later events (R26, R27):
/// that keeps both plans independent and valid.
struct MergePlan {
    absorbed_purchase: Date,
    merge: Date,
}

/// Merges and corrections are rare in a real ledger.
const MERGE_PERCENT: u64 = 3;
const VOID_PERCENT: u64 = 3;

fn merge_plan(
    pair: u64,
    accounts: u64,
    seed: u64,
    period: &Period,
    c: &Constants,
) -> Option<MergePlan> {
    if 2 * pair + 1 >= accounts {
        return None;
    }
    let mut rng = SplitMix::new(seed, pair, SALT_PAIR);
    if !rng.chance(MERGE_PERCENT) {
        return None;
    }
    let absorbed_purchase = add_days(period.first, rng.between(0, 60));
    let dates = TermDates::new(absorbed_purchase, c);
    let merge = add_days(dates.window_closes, rng.between(10, 120));
    (merge <= period.last).then_some(MergePlan {
        absorbed_purchase,
        merge,
    })
}

/// The dates of a term started on `start` (R6, R7, R17), from the catalog's constants.
struct TermDates {
    anniversary: Date,
    window_closes: Date,
}

impl TermDates {
    fn new(start: Date, c: &Constants) -> TermDates {
        let anniversary = add_months(start, c.term_months);
        TermDates {
            anniversary,
            window_closes: add_days(anniversary, i64::from(c.window_days)),
        }
    }
}

/// Builds one account's plan, in fold order.
struct Planner<'a> {
    rng: SplitMix,
    events: &'a mut Vec<Planned>,
    last: Date,
    catalog: &'a Catalog,
    tokens: u16,
    keys: u16,
    subscriptions: u16,
    users: u16,
}

/// Plans account `account` into `plan` (cleared first), sorted by business date.
fn plan_account(
    plan: &mut Vec<Planned>,
    account: u64,
    accounts: u64,
    seed: u64,
    period: &Period,
    catalog: &Catalog,
) {
    plan.clear();
    let c = catalog.at(period.first).constants.clone();
    let mut p = Planner {
        rng: SplitMix::new(seed, account, SALT_PLAN),
        events: plan,
        last: period.last,
        catalog,
        tokens: 0,
        keys: 0,
        subscriptions: 0,
        users: 0,
    };
    let pair = merge_plan(account / 2, accounts, seed, period, &c);
    match (&pair, account % 2) {
        (Some(m), 1) => p.absorbed_history(m),
        (Some(m), _) => {
            p.history(period);
            p.push(
                m.merge,
                Action::Merged {
                    absorbed: account as u32 + 1,
                },
            );
        }
        (None, _) => {
            p.history(period);
            if p.rng.chance(VOID_PERCENT) {
                p.void_a_redemption();
            }
        }
    }
    // Stable: events of one day keep the order they were planned in (issue before activation).
    plan.sort_by_key(|e| e.date);
}

impl Planner<'_> {
    fn push(&mut self, date: Date, action: Action) {
        // Histories stop at the period's end; later steps depend only on earlier ones, so a
        // cut plan is still valid.
        if date <= self.last {
            let ordinal = self.events.len() as u16;
            self.events.push(Planned {
                date,
                ordinal,
                action,
            });
        }
    }

    fn constants(&self, d: Date) -> Constants {
        Constants::clone(&self.catalog.at(d).constants)
    }

    /// A partner joining in the first year: profile check, then an Action Pack (most), a
    /// Solutions Partner designation (some), or both.
    fn history(&mut self, period: &Period) {
        let join = add_days(period.first, self.rng.between(0, 300));
        self.push(join, Action::ProfileVerified);
        let action_pack = self.rng.chance(85);
        let package = !action_pack || self.rng.chance(25);
        if action_pack {
            let offer = if self.rng.chance(80) {
                Offer::ActionPack
            } else {
                Offer::LearningActionPack
            };
            let first = add_days(join, self.rng.between(0, 10));
            self.line(first, offer);
        }
        if package {
            let first = add_days(join, self.rng.between(0, 200));
            self.line(first, Offer::SolutionsPartner);
        }
    }

    /// The absorbed side of a merge: one Action Pack term that lapses before the merge.
    fn absorbed_history(&mut self, m: &MergePlan) {
        self.push(m.absorbed_purchase, Action::ProfileVerified);
        self.push(
            m.absorbed_purchase,
            Action::Purchased {
                offer: Offer::ActionPack,
            },
        );
        let dates = TermDates::new(m.absorbed_purchase, &self.constants(m.absorbed_purchase));
        self.usage(m.absorbed_purchase, Offer::ActionPack);
        debug_assert!(dates.window_closes < m.merge);
    }

    /// R13: a designation with a passing score.
    fn qualify(&mut self, d: Date) {
        let area = self
            .rng
            .pick(SolutionArea::ALL)
            .unwrap_or(SolutionArea::ModernWork);
        let minimum = self.constants(d).minimum_score.min(100) as i64;
        let score = self.rng.between(minimum, 100) as u8;
        self.push(d, Action::Qualified { area, score });
    }

    /// One line's terms: purchase, usage, then renewal in the window (R7, R8, R10), a lapse
    /// (R9) and perhaps a new purchase, until the period ends.
    fn line(&mut self, first: Date, offer: Offer) {
        let mut offer = offer;
        let mut start = first;
        if offer == Offer::SolutionsPartner {
            // R13: qualified from five months before the purchase through its date.
            self.qualify(start);
            start = add_days(start, self.rng.between(0, 30));
        }
        self.push(start, Action::Purchased { offer });
        while start <= self.last {
            let c = self.constants(start);
            let dates = TermDates::new(start, &c);
            self.usage(start, offer);
            if self.rng.chance(80) {
                // R10: profile checked after the term's start, on or before the renewal.
                let checked = add_days(dates.anniversary, -self.rng.between(0, 30));
                self.push(checked, Action::ProfileVerified);
                if offer == Offer::SolutionsPartner {
                    // R13: the renewal window starts on the first of the month five months
                    // before the anniversary's month; 90 days before AD is well inside it.
                    let qualified = add_days(dates.anniversary, -self.rng.between(0, 90));
                    self.qualify(qualified);
                }
                let late = i64::from(c.window_days.max(1)) - 1;
                let day = if self.rng.chance(85) {
                    self.rng.between(0, 14.min(late))
                } else {
                    self.rng.between(15.min(late), late)
                };
                let renewal = add_days(dates.anniversary, 1 + day);
                offer = self.next_offer(offer);
                self.push(renewal, Action::Renewed { offer });
                start = renewal;
            } else if self.rng.chance(50) {
                // R9, R11: lapsed; a later purchase is a new purchase, not a renewal.
                let purchase = add_days(dates.window_closes, self.rng.between(1, 150));
                if offer == Offer::SolutionsPartner {
                    self.qualify(purchase);
                }
                self.push(purchase, Action::Purchased { offer });
                start = purchase;
            } else {
                break;
            }
        }
    }

    /// R12: an Action Pack partner sometimes moves to the Learning Action Pack (or back) at
    /// renewal; a Solutions Partner stays one.
    fn next_offer(&mut self, offer: Offer) -> Offer {
        match offer {
            Offer::ActionPack if self.rng.chance(10) => Offer::LearningActionPack,
            Offer::LearningActionPack if self.rng.chance(30) => Offer::ActionPack,
            other => other,
        }
    }

    /// What a partner does with a term started on `start`. Every date is at most ~270 days
    /// after the start, inside the term's access (R17, R19, R21, R22); the token, key and
    /// Visual Studio steps start 40 days in, after any previous term's activate-by (at most
    /// a month after this start), so R23 picks this term for them.
    fn usage(&mut self, start: Date, offer: Offer) {
        let Some(spec) = self.catalog.at(start).offer(offer).cloned() else {
            return;
        };
        let day = |n: i64| add_days(start, n);
        // The offer is named on every use, so that it picks this line's term (contract).
        if spec.provides(BenefitType::AzureCredits) && self.rng.chance(70) {
            let d = day(self.rng.between(1, 60));
            self.push(
                d,
                Action::Redeemed {
                    benefit: BenefitType::AzureCredits,
                    offer,
                },
            );
        }
        if spec.provides(BenefitType::SupportAndAdvisory) && self.rng.chance(25) {
            let d = day(self.rng.between(30, 200));
            self.push(
                d,
                Action::Redeemed {
                    benefit: BenefitType::SupportAndAdvisory,
                    offer,
                },
            );
        }
        if spec.provides(BenefitType::Marketing) && self.rng.chance(40) {
            let d = day(self.rng.between(20, 200));
            self.push(
                d,
                Action::Redeemed {
                    benefit: BenefitType::Marketing,
                    offer,
                },
            );
        }
        if spec.provides(BenefitType::CloudServices) && self.rng.chance(40) {
            let issued = day(self.rng.between(40, 150));
            self.token(issued, offer);
        }
        if spec.provides(BenefitType::OnPremisesSoftware) && self.rng.chance(30) {
            let issued = day(self.rng.between(40, 200));
            self.product_key(issued, offer);
        }
        let level = if spec.vs_levels.contains(&VsLevel::Enterprise) {
            VsLevel::Enterprise
        } else {
            VsLevel::Professional
        };
        if spec.provides(BenefitType::DeveloperTools)
            && spec.vs_levels.contains(&level)
            && self.rng.chance(45)
        {
            let most = i64::from(spec.vs_count.unwrap_or(3).min(3));
            for _ in 0..self.rng.between(1, most) {
                let assigned = day(self.rng.between(40, 120));
                self.subscription(assigned, level, offer);
            }
        }
    }

    /// R19, R20: a token activated whole; sometimes onto the wrong tenant, then replaced within
    /// 30 days and the replacement activated.
    fn token(&mut self, issued: Date, offer: Offer) {
        let token = self.next_token();
        let seats = self.rng.pick(&[5u16, 10, 25, 50]).unwrap_or(5);
        let product = self.rng.between(0, PRODUCTS.len() as i64 - 1) as u8;
        self.push(
            issued,
            Action::TokenIssued {
                token,
                offer,
                seats,
                product,
            },
        );
        let activated = add_days(issued, self.rng.between(0, 20));
        let wrong_tenant = self.rng.chance(12);
        self.push(
            activated,
            Action::TokenActivated {
                token,
                seats,
                wrong_tenant,
            },
        );
        if wrong_tenant {
            let replaced = add_days(activated, self.rng.between(1, 30));
            let replacement = self.next_token();
            self.push(replaced, Action::TokenReplaced { token, replacement });
            let d = add_days(replaced, self.rng.between(0, 10));
            self.push(
                d,
                Action::TokenActivated {
                    token: replacement,
                    seats,
                    wrong_tenant: false,
                },
            );
        }
    }

    /// R21: a MAK with several activations on different machines, or a single key.
    fn product_key(&mut self, issued: Date, offer: Offer) {
        self.keys = self.keys.wrapping_add(1);
        let key = self.keys;
        let single = self.rng.chance(25);
        let activations = if single {
            1
        } else {
            self.rng.between(5, 10) as u8
        };
        let product = self.rng.between(0, KEY_PRODUCTS.len() as i64 - 1) as u8;
        self.push(
            issued,
            Action::KeyIssued {
                key,
                offer,
                activations,
                product,
            },
        );
        let used = if single { 1 } else { self.rng.between(1, 4) };
        let mut dates: Vec<Date> = (0..used)
            .map(|_| add_days(issued, self.rng.between(0, 60)))
            .collect();
        dates.sort();
        for (machine, d) in dates.into_iter().enumerate() {
            self.push(
                d,
                Action::KeyActivated {
                    key,
                    machine: machine as u8,
                },
            );
        }
    }

    /// R22: assigned to one user, activated; sometimes reassigned 90+ days after activation.
    fn subscription(&mut self, assigned: Date, level: VsLevel, offer: Offer) {
        self.subscriptions = self.subscriptions.wrapping_add(1);
        let subscription = self.subscriptions;
        let user = self.next_user();
        self.push(
            assigned,
            Action::VsAssigned {
                subscription,
                level,
                user,
                offer,
            },
        );
        let activated = add_days(assigned, self.rng.between(0, 14));
        self.push(activated, Action::VsActivated { subscription });
        if self.rng.chance(10) {
            let unassigned = add_days(activated, self.rng.between(90, 120));
            self.push(unassigned, Action::VsUnassigned { subscription });
            let reassigned = add_days(unassigned, self.rng.between(0, 10));
            let user = self.next_user();
            self.push(
                reassigned,
                Action::VsAssigned {
                    subscription,
                    level,
                    user,
                    offer,
                },
            );
            let activated = add_days(reassigned, self.rng.between(0, 7));
            self.push(activated, Action::VsActivated { subscription });
        }
    }

    fn next_token(&mut self) -> u16 {
        self.tokens = self.tokens.wrapping_add(1);
        self.tokens
    }

    fn next_user(&mut self) -> u16 {
        self.users = self.users.wrapping_add(1);
        self.users
    }

    /// R28: an Azure credits redemption entered by mistake, voided some days later on the
    /// same account. Other events never depend on it: each term redeems a type at most once,
    /// so a freed benefit only leaves more room.
    fn void_a_redemption(&mut self) {
        let candidates: Vec<(u16, Date)> = self
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.action,
                    Action::Redeemed {
                        benefit: BenefitType::AzureCredits,
                        ..
                    }
                )
            })
            .map(|e| (e.ordinal, e.date))
            .collect();
        if let Some((target, date)) = self.rng.pick(&candidates) {
            let d = add_days(date, self.rng.between(1, 20));
            self.push(d, Action::Voided { target });
        }
    }
}

// ------------------------------------------------------------------------------------------------
// Output

const ACCOUNT_WORDS: &[&str] = &[
    "contoso",
    "fabrikam",
    "northwind",
    "adventure-works",
    "tailspin",
    "wingtip",
    "litware",
    "proseware",
    "fourth-coffee",
    "woodgrove",
    "alpine-ski",
    "coho-winery",
    "lucerne",
    "margies-travel",
    "trey-research",
    "wide-world",
];
const PRODUCTS: &[&str] = &[
    "Microsoft 365 E3",
    "Microsoft 365 Business Premium",
    "Dynamics 365 Sales",
    "Office 365 E1",
];
const KEY_PRODUCTS: &[&str] = &[
    "Windows Server 2022 Standard",
    "Windows 11 Pro",
    "Office LTSC Professional Plus 2021",
    "SQL Server 2022 Standard",
];
const SOLUTION_FEES: [(Offer, &str); 5] = [
    (Offer::ActionPack, "515.00"),
    (Offer::LearningActionPack, "395.00"),
    (Offer::SolutionsPartner, "1030.00"),
    (Offer::LegacyGold, "2980.00"),
    (Offer::LegacySilver, "1670.00"),
];

/// The account's name: a company word and its number, unique and sortable.
pub fn account_name(account: u64) -> String {
    let word = ACCOUNT_WORDS[(account % ACCOUNT_WORDS.len() as u64) as usize];
    format!("{word}-{account:07}")
}

fn fee(offer: Offer) -> &'static str {
    SOLUTION_FEES
        .iter()
        .find(|(o, _)| *o == offer)
        .map_or("0.00", |(_, f)| f)
}

/// Writes the sorted entries; `recorded_at` is the business date at a time of day that rises
/// with the event's place in the day (08:00 onwards), so it never goes backwards in the file.
fn write_entries(out: &mut dyn Write, entries: &[Entry], seed: u64) -> io::Result<()> {
    let mut i = 0;
    let mut names = NameCache::default();
    while i < entries.len() {
        let date = entries[i].planned.date;
        let day_len = entries[i..]
            .iter()
            .take_while(|e| e.planned.date == date)
            .count();
        // 14 hours of the day, shared out; at least a microsecond apart.
        let step_micros = (14 * 3_600_000_000u64 / day_len as u64).clamp(1, 1_000_000);
        for (n, e) in entries[i..i + day_len].iter().enumerate() {
            let micros = 8 * 3_600_000_000u64 + n as u64 * step_micros;
            write_event(out, e, seed, date, micros, &mut names)?;
        }
        i += day_len;
    }
    Ok(())
}

/// The last account name formatted, reused while an account's events follow each other.
#[derive(Default)]
struct NameCache {
    account: Option<u64>,
    name: String,
}

impl NameCache {
    fn get(&mut self, account: u64) -> &str {
        if self.account != Some(account) {
            self.account = Some(account);
            self.name = account_name(account);
        }
        &self.name
    }
}

fn write_event(
    out: &mut dyn Write,
    e: &Entry,
    seed: u64,
    date: Date,
    micros: u64,
    names: &mut NameCache,
) -> io::Result<()> {
    let account = u64::from(e.account);
    let id = event_id(seed, e.account, e.planned.ordinal);
    let (kind, data) = describe(&e.planned.action, account, seed);
    let secs = micros / 1_000_000;
    writeln!(
        out,
        "{{\"id\":\"{id}\",\"account\":\"{}\",\"type\":\"{kind}\",\"date\":\"{:04}-{:02}-{:02}\",\"recorded_at\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z\",\"data\":{data}}}",
        names.get(account),
        date.year(),
        date.month(),
        date.day(),
        date.year(),
        date.month(),
        date.day(),
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        micros % 1_000_000
    )
}

/// The event's type and its `data` as JSON text (every value is plain ASCII without quotes,
/// so no escaping is needed).
fn describe(action: &Action, account: u64, seed: u64) -> (&'static str, String) {
    let token = |n: u16| format!("T-{account}-{n}");
    let key = |n: u16| format!("K-{account}-{n}");
    let subscription = |n: u16| format!("VS-{account}-{n}");
    match *action {
        Action::ProfileVerified => ("business_profile_verified", "{}".to_string()),
        Action::Qualified { area, score } => {
            ("designation_qualified", format!("{{\"solution_area\":\"{area}\",\"score\":{score}}}"))
        }
        Action::Purchased { offer } => ("membership_purchased", membership(offer)),
        Action::Renewed { offer } => ("membership_renewed", membership(offer)),
        Action::Redeemed { benefit, offer } => {
            ("benefit_redeemed", format!("{{\"benefit\":\"{benefit}\",\"offer\":\"{offer}\"}}"))
        }
        Action::TokenIssued { token: t, offer, seats, product } => (
            "token_issued",
            format!(
                "{{\"token\":\"{}\",\"product\":\"{}\",\"seats\":{seats},\"offer\":\"{offer}\"}}",
                token(t),
                PRODUCTS.get(usize::from(product)).unwrap_or(&"Microsoft 365 E3")
            ),
        ),
        Action::TokenActivated { token: t, seats, wrong_tenant } => {
            let tenant = if wrong_tenant { "test" } else { "prod" };
            (
                "token_activated",
                format!("{{\"token\":\"{}\",\"tenant\":\"{}-{tenant}.onmicrosoft.com\",\"seats\":{seats}}}", token(t), account_name(account)),
            )
        }
        Action::TokenReplaced { token: t, replacement } => (
            "replacement_token_issued",
            format!("{{\"token\":\"{}\",\"replacement\":\"{}\",\"reason\":\"wrong_tenant\"}}", token(t), token(replacement)),
        ),
        Action::KeyIssued { key: k, offer, activations, product } => {
            let kind = if activations == 1 { "single" } else { "mak" };
            (
                "product_key_issued",
                format!(
                    "{{\"key\":\"{}\",\"product\":\"{}\",\"activations\":{activations},\"kind\":\"{kind}\",\"offer\":\"{offer}\"}}",
                    key(k),
                    KEY_PRODUCTS.get(usize::from(product)).unwrap_or(&"Windows 11 Pro")
                ),
            )
        }
        Action::KeyActivated { key: k, machine } => {
            ("product_key_activated", format!("{{\"key\":\"{}\",\"machine\":\"host-{:02}\"}}", key(k), machine + 1))
        }
        Action::VsAssigned { subscription: s, level, user, offer } => (
            "vs_subscription_assigned",
            format!(
                "{{\"subscription\":\"{}\",\"level\":\"{level}\",\"user\":\"dev{user}@{}.example\",\"offer\":\"{offer}\"}}",
                subscription(s),
                account_name(account)
            ),
        ),
        Action::VsActivated { subscription: s } => ("vs_subscription_activated", format!("{{\"subscription\":\"{}\"}}", subscription(s))),
        Action::VsUnassigned { subscription: s } => {
            ("vs_subscription_unassigned", format!("{{\"subscription\":\"{}\"}}", subscription(s)))
        }
        Action::Merged { absorbed } => {
            ("accounts_merged", format!("{{\"absorbed\":\"{}\"}}", account_name(u64::from(absorbed))))
        }
        Action::Voided { target } => (
            "event_voided",
            format!(
                "{{\"event\":\"{}\",\"reason\":\"redemption entered twice by the partner desk\"}}",
                event_id(seed, account as u32, target)
            ),
        ),
    }
}

fn membership(offer: Offer) -> String {
    format!(
        "{{\"offer\":\"{offer}\",\"fee\":{{\"amount\":\"{}\",\"currency\":\"USD\"}}}}",
        fee(offer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(accounts: u64, seed: u64) -> String {
        let mut out = Vec::new();
        write_ledger(&mut out, accounts, seed, 3, &Catalog::default_catalog()).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn same_seed_same_output_and_every_line_parses() {
        let a = text(50, 3);
        assert_eq!(a, text(50, 3));
        assert_ne!(a, text(50, 4));
        for line in a.lines() {
            crate::event::InputEvent::parse_line(line).unwrap();
        }
    }

    #[test]
    fn windows_give_the_same_ledger_as_one_pass() {
        let catalog = Catalog::default_catalog();
        let mut one = Vec::new();
        write_windows(&mut one, 40, 9, 3, &catalog, u64::MAX).unwrap();
        let mut seven = Vec::new();
        write_windows(&mut seven, 40, 9, 3, &catalog, 40 * 8 * 3 / 7).unwrap();
        assert_eq!(
            String::from_utf8(one).unwrap(),
            String::from_utf8(seven).unwrap()
        );
    }

    #[test]
    fn recorded_at_never_goes_backwards() {
        let all = text(300, 11);
        let mut last = String::new();
        for line in all.lines() {
            let at = crate::event::InputEvent::parse_line(line)
                .unwrap()
                .recorded_at
                .unwrap();
            let at = crate::event::format_instant(at);
            assert!(at >= last, "{at} < {last}");
            last = at;
        }
    }
}
