//! The projection of a folded [`State`] on a date: the contract's `state --json` shape, with
//! every status derived from dates (R6–R9, R17–R24, R27). Arrays are sorted (by date, then id)
//! so that output is stable.

use serde::Serialize;

use super::calendar::{add_days, add_months};
use super::state::{ProductKey, State, Subscription, Term, TermStatus, Token};
use crate::event::{date_digits, format_date, BenefitType, Date};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateView {
    pub account: String,
    pub as_of: DateText,
    pub known_at: Option<String>,
    pub merged_into: Option<String>,
    pub merged_on: Option<DateText>,
    pub absorbed: Vec<AbsorbedView>,
    pub profile_verified: Option<DateText>,
    pub designations: Vec<DesignationView>,
    pub memberships: Vec<MembershipView>,
    pub benefits: Vec<BenefitView>,
    pub tokens: Vec<TokenView>,
    pub product_keys: Vec<KeyView>,
    pub vs_subscriptions: Vec<SubscriptionView>,
    pub obligations: Vec<ObligationView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AbsorbedView {
    pub account: String,
    pub date: DateText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesignationView {
    pub solution_area: &'static str,
    pub qualified: DateText,
    pub score: u64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowView {
    pub opens: DateText,
    pub closes: DateText,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipView {
    pub line: &'static str,
    pub offer: &'static str,
    pub status: &'static str,
    pub start: DateText,
    pub anniversary: DateText,
    pub renewal_window: WindowView,
    pub activate_by: DateText,
    pub solution_areas: Vec<&'static str>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BenefitView {
    pub offer: &'static str,
    pub term_start: DateText,
    #[serde(rename = "type")]
    pub benefit_type: &'static str,
    pub status: &'static str,
    pub provided: DateText,
    pub activate_by: DateText,
    pub unlocked: Option<DateText>,
    pub expires: Option<DateText>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub token: String,
    pub product: String,
    pub seats: u64,
    pub status: &'static str,
    pub tenant: Option<String>,
    pub issued: DateText,
    pub activated: Option<DateText>,
    pub expires: Option<DateText>,
    pub replacement_deadline: Option<DateText>,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub offer: &'static str,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    pub key: String,
    pub product: String,
    pub kind: &'static str,
    pub activations_total: u64,
    pub activations_used: u64,
    pub activations_remaining: u64,
    pub status: &'static str,
    pub issued: DateText,
    pub offer: &'static str,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    pub subscription: String,
    pub level: &'static str,
    pub user: String,
    pub status: &'static str,
    pub assigned: DateText,
    pub activated: Option<DateText>,
    pub unassigned: Option<DateText>,
    pub expires: Option<DateText>,
    pub offer: &'static str,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObligationView {
    pub kind: &'static str,
    pub since: DateText,
    pub offer: &'static str,
    pub line: &'static str,
    pub source: String,
}

fn s(d: Date) -> DateText {
    DateText::new(d)
}

/// A date as the contract writes it (`YYYY-MM-DD`), held inline. A view holds dozens of dates
/// and every query or report row builds one: a `String` each was most of a projection's
/// allocations. Derefs to `str`, serialises as a string, orders as its text.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateText {
    bytes: [u8; 15],
    len: u8,
}

impl DateText {
    pub fn new(d: Date) -> DateText {
        let mut t = DateText {
            bytes: [0; 15],
            len: 0,
        };
        // Beyond the years the ledger accepts or derives, kept readable all the same.
        let digits = date_digits(d);
        let far;
        let text: &[u8] = match &digits {
            Some(digits) => digits,
            None => {
                far = format_date(d);
                far.as_bytes()
            }
        };
        let n = text.len().min(t.bytes.len());
        t.bytes[..n].copy_from_slice(&text[..n]);
        t.len = n as u8;
        t
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::ops::Deref for DateText {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Display for DateText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Debug for DateText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for DateText {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl PartialEq<str> for DateText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for DateText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The state on `as_of` of a state folded from the events dated on or before `as_of`.
pub fn project(state: &State, as_of: Date, known_at: Option<String>) -> StateView {
    StateView {
        account: state.account.to_string(),
        as_of: s(as_of),
        known_at,
        merged_into: state
            .merged_into
            .as_ref()
            .filter(|(_, m)| *m <= as_of)
            .map(|(a, _)| a.to_string()),
        merged_on: state
            .merged_into
            .as_ref()
            .filter(|(_, m)| *m <= as_of)
            .map(|(_, m)| s(*m)),
        absorbed: state
            .absorbed
            .iter()
            .map(|(a, d)| AbsorbedView {
                account: a.to_string(),
                date: s(*d),
            })
            .collect(),
        profile_verified: state
            .profile_verified
            .iter()
            .filter(|&&d| d <= as_of)
            .max()
            .map(|d| s(*d)),
        designations: designations(state),
        memberships: memberships(state, as_of),
        benefits: benefits(state, as_of),
        tokens: tokens(state, as_of),
        product_keys: keys(state, as_of),
        vs_subscriptions: subscriptions(state, as_of),
        obligations: obligations(state, as_of),
    }
}

fn designations(state: &State) -> Vec<DesignationView> {
    let mut v: Vec<_> = state
        .designations
        .iter()
        .map(|q| DesignationView {
            solution_area: q.solution_area.as_str(),
            qualified: s(q.qualified),
            score: q.score,
            source: q.source.to_string(),
        })
        .collect();
    v.sort_by(|a, b| {
        (&a.qualified, &a.solution_area, &a.source).cmp(&(
            &b.qualified,
            &b.solution_area,
            &b.source,
        ))
    });
    v
}

/// Contract: the current term of each line on `as_of`, plus the merged-in terms (R26, R27).
/// A term replaced by a renewal is not current.
fn memberships(state: &State, as_of: Date) -> Vec<MembershipView> {
    let mut indexes: Vec<usize> = state.current.iter().flatten().copied().collect();
    for &i in &state.merged_in {
        if !indexes.contains(&i) {
            indexes.push(i);
        }
    }
    let mut v: Vec<(Date, usize, MembershipView)> = indexes
        .into_iter()
        .filter_map(|i| state.terms.get(i).map(|t| (i, t)))
        .filter(|(_, t)| t.start <= as_of && t.status_on(as_of) != TermStatus::Renewed)
        .map(|(i, t)| (t.start, i, membership(t, as_of)))
        .collect();
    v.sort_by(|a, b| (a.0, &a.2.line, &a.2.source, a.1).cmp(&(b.0, &b.2.line, &b.2.source, b.1)));
    v.into_iter().map(|(_, _, m)| m).collect()
}

fn membership(t: &Term, as_of: Date) -> MembershipView {
    MembershipView {
        line: t.line.as_str(),
        offer: t.offer.as_str(),
        status: t.status_on(as_of).as_str(),
        start: s(t.start),
        anniversary: s(t.anniversary),
        renewal_window: WindowView {
            opens: s(t.window_opens),
            closes: s(t.window_closes),
        },
        activate_by: s(t.activate_by),
        solution_areas: t.solution_areas.iter().map(|a| a.as_str()).collect(),
        source: t.source.to_string(),
    }
}

/// R17, R18: the status on `as_of` of benefit `b` of term `i`: `redeemed` from its unlock
/// until its expiry, then `expired`; unredeemed, `available` until the term's redemption
/// deadline (activate-by, and not after a lapse), then `forfeited`. On-premises software
/// (R18 decision, R24): `redeemed` while an issued key's right of use holds (a renewal into an
/// offer with on-premises software carries it on), `available` while the term itself has
/// access and no key was issued, else `lost`.
pub fn benefit_status(state: &State, i: usize, b: BenefitType, as_of: Date) -> &'static str {
    let Some(t) = state.terms.get(i) else {
        return "lost";
    };
    let unlocked = t.unlocked(b).filter(|&u| u <= as_of);
    if b == BenefitType::OnPremisesSoftware {
        return if unlocked.is_some() && state.on_premises_right(i, as_of) {
            "redeemed"
        } else if unlocked.is_none() && state.on_premises_own_right(i, as_of) {
            "available"
        } else {
            "lost"
        };
    }
    match (unlocked, t.benefit_expires(b)) {
        (Some(_), Some(e)) if as_of > e => "expired",
        (Some(_), _) => "redeemed",
        (None, _) if as_of > t.redeem_deadline() => "forfeited",
        (None, _) => "available",
    }
}

/// R19, R20: `replaced` once a replacement is issued; activated tokens run 12 months from
/// activation, then `expired`; unactivated ones are `issued` until their term's deadline, then
/// `forfeited`.
pub fn token_status(state: &State, tok: &Token, as_of: Date) -> &'static str {
    let term = state.terms.get(tok.term);
    let expiry_months = term.map_or(12, |t| t.constants.token_expiry_months);
    if tok.replaced_by.is_some() {
        "replaced"
    } else if let Some(a) = tok.activated {
        if as_of > add_months(a, expiry_months) {
            "expired"
        } else {
            "activated"
        }
    } else if term.is_some_and(|t| as_of > t.redeem_deadline()) {
        "forfeited"
    } else {
        "issued"
    }
}

/// R21, R24: `unlicensed` once the term's right of use ends, `exhausted` with no activation
/// left, else `usable`.
pub fn key_status(state: &State, k: &ProductKey, as_of: Date) -> &'static str {
    if !state.on_premises_right(k.term, as_of) {
        "unlicensed"
    } else if k.activations_used >= k.activations_total {
        "exhausted"
    } else {
        "usable"
    }
}

/// R22: `unassigned`; `expired` after the term's developer_tools benefit; `active` once
/// activated; else `assigned`.
pub fn subscription_status(state: &State, sub: &Subscription, as_of: Date) -> &'static str {
    let expires = state
        .terms
        .get(sub.term)
        .and_then(|t| t.benefit_expires(BenefitType::DeveloperTools));
    if sub.unassigned.is_some() {
        "unassigned"
    } else if expires.is_some_and(|e| as_of > e) {
        "expired"
    } else if sub.activated.is_some() {
        "active"
    } else {
        "assigned"
    }
}

/// R17, R18: one entry per benefit type of every term started on or before `as_of`.
fn benefits(state: &State, as_of: Date) -> Vec<BenefitView> {
    let mut v = Vec::new();
    for (i, t) in state
        .terms
        .iter()
        .enumerate()
        .filter(|(_, t)| t.start <= as_of)
    {
        for (b, unlocked) in t.benefits.iter() {
            let unlocked = unlocked.filter(|&u| u <= as_of);
            let expires = unlocked.and_then(|_| t.benefit_expires(b));
            let status = benefit_status(state, i, b, as_of);
            v.push(BenefitView {
                offer: t.offer.as_str(),
                term_start: s(t.start),
                benefit_type: b.as_str(),
                status,
                provided: s(t.start),
                activate_by: s(t.activate_by),
                unlocked: unlocked.map(s),
                expires: expires.map(s),
                source: t.source.to_string(),
            });
        }
    }
    v.sort_by(|a, b| {
        (&a.term_start, &a.source, &a.offer, &a.benefit_type).cmp(&(
            &b.term_start,
            &b.source,
            &b.offer,
            &b.benefit_type,
        ))
    });
    v
}

/// R19, R20: token statuses and the replacement deadline.
fn tokens(state: &State, as_of: Date) -> Vec<TokenView> {
    let mut v: Vec<TokenView> = state
        .tokens
        .iter()
        .map(|tok| {
            let term = state.terms.get(tok.term);
            let expiry_months = term.map_or(12, |t| t.constants.token_expiry_months);
            let replacement_days = term.map_or(30, |t| t.constants.replacement_days);
            let expires = tok.activated.map(|a| add_months(a, expiry_months));
            let status = token_status(state, tok, as_of);
            let replacement_deadline = tok
                .activated
                .map(|a| add_days(a, i64::from(replacement_days)))
                .filter(|&dl| tok.replaced_by.is_none() && tok.replaces.is_none() && as_of <= dl);
            TokenView {
                token: tok.token.to_string(),
                product: tok.product.to_string(),
                seats: tok.seats,
                status,
                tenant: tok.tenant.as_deref().map(str::to_string),
                issued: s(tok.issued),
                activated: tok.activated.map(s),
                expires: expires.map(s),
                replacement_deadline: replacement_deadline.map(s),
                replaces: tok.replaces.as_deref().map(str::to_string),
                replaced_by: tok.replaced_by.as_deref().map(str::to_string),
                offer: term.map(|t| t.offer.as_str()).unwrap_or_default(),
                source: tok.source.to_string(),
            }
        })
        .collect();
    v.sort_by(|a, b| (&a.issued, &a.token).cmp(&(&b.issued, &b.token)));
    v
}

/// R21, R24: keys are usable, exhausted, or unlicensed once the term's right of use ends.
fn keys(state: &State, as_of: Date) -> Vec<KeyView> {
    let mut v: Vec<KeyView> = state
        .keys
        .iter()
        .map(|k| {
            let status = key_status(state, k, as_of);
            KeyView {
                key: k.key.to_string(),
                product: k.product.to_string(),
                kind: k.kind.as_str(),
                activations_total: k.activations_total,
                activations_used: k.activations_used,
                activations_remaining: k.activations_total.saturating_sub(k.activations_used),
                status,
                issued: s(k.issued),
                offer: state
                    .terms
                    .get(k.term)
                    .map(|t| t.offer.as_str())
                    .unwrap_or_default(),
                source: k.source.to_string(),
            }
        })
        .collect();
    v.sort_by(|a, b| (&a.issued, &a.key).cmp(&(&b.issued, &b.key)));
    v
}

/// R22: subscriptions are valid once assigned and activated, until the developer_tools
/// benefit of their term expires.
fn subscriptions(state: &State, as_of: Date) -> Vec<SubscriptionView> {
    let mut v: Vec<SubscriptionView> = state
        .subscriptions
        .iter()
        .map(|sub| {
            let term = state.terms.get(sub.term);
            let expires = term.and_then(|t| t.benefit_expires(BenefitType::DeveloperTools));
            let status = subscription_status(state, sub, as_of);
            SubscriptionView {
                subscription: sub.subscription.to_string(),
                level: sub.level.as_str(),
                user: sub.user.to_string(),
                status,
                assigned: s(sub.assigned),
                activated: sub.activated.map(s),
                unassigned: sub.unassigned.map(s),
                expires: expires.map(s),
                offer: term.map(|t| t.offer.as_str()).unwrap_or_default(),
                source: sub.source.to_string(),
            }
        })
        .collect();
    v.sort_by(|a, b| (&a.assigned, &a.subscription).cmp(&(&b.assigned, &b.subscription)));
    v
}

/// The `obligations` section alone, for callers (the report) that need it without the cost
/// of the whole projection.
pub fn open_obligations(state: &State, as_of: Date) -> Vec<ObligationView> {
    obligations(state, as_of)
}

/// R24: a line that lapses without renewal, or renews into an offer without on-premises
/// software, owes `uninstall_on_premises_software` from its first day without access, until a
/// later term on the same line provides on-premises software again. Merged (non-governing)
/// terms raise none.
fn obligations(state: &State, as_of: Date) -> Vec<ObligationView> {
    let mut v = Vec::new();
    for (i, t) in state.terms.iter().enumerate() {
        if !t.provides(BenefitType::OnPremisesSoftware) || t.merged_since.is_some() {
            continue;
        }
        let carried = t
            .renewed_into
            .and_then(|n| state.terms.get(n))
            .is_some_and(|n| n.provides(BenefitType::OnPremisesSoftware));
        if carried {
            continue;
        }
        let Some(since) = state.on_premises_end(i) else {
            continue;
        };
        if since > as_of {
            continue;
        }
        let ended = state.terms.iter().any(|later| {
            later.line == t.line
                && later.start >= since
                && later.start <= as_of
                && later.provides(BenefitType::OnPremisesSoftware)
        });
        if ended {
            continue;
        }
        v.push(ObligationView {
            kind: "uninstall_on_premises_software",
            since: s(since),
            offer: t.offer.as_str(),
            line: t.line.as_str(),
            source: t.source.to_string(),
        });
    }
    v.sort_by(|a, b| (&a.since, &a.offer).cmp(&(&b.since, &b.offer)));
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::parse_date;

    #[test]
    fn date_text_reads_serialises_and_orders_as_the_contracts_date_string() {
        let mut day = parse_date("1900-01-01").unwrap();
        let last = parse_date("9000-12-31").unwrap();
        let mut previous: Option<DateText> = None;
        while day <= last {
            let text = DateText::new(day);
            let expected = format_date(day);
            assert_eq!(text.as_str(), expected);
            assert_eq!(text, expected.as_str());
            assert_eq!(
                serde_json::to_string(&text).unwrap(),
                format!("\"{expected}\"")
            );
            if let Some(p) = previous {
                assert!(p < text && p.as_str() < text.as_str(), "{p} !< {text}");
            }
            previous = Some(text);
            day = add_days(day, 997);
        }
        // Beyond the years the ledger accepts, the text is still chrono's.
        let far = add_days(last, 400_000);
        assert_eq!(DateText::new(far).as_str(), format_date(far));
    }
}
