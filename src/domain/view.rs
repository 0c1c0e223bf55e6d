//! The projection of a folded [`State`] on a date: the contract's `state --json` shape, with
//! every status derived from dates (R6–R9, R17–R24, R27). Arrays are sorted (by date, then id)
//! so that output is stable.

use serde::Serialize;

use super::calendar::{add_days, add_months};
use super::state::{ProductKey, State, Subscription, Term, TermStatus, Token};
use crate::event::{format_date, BenefitType, Date, Line};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StateView {
    pub account: String,
    pub as_of: String,
    pub known_at: Option<String>,
    pub merged_into: Option<String>,
    pub merged_on: Option<String>,
    pub absorbed: Vec<AbsorbedView>,
    pub profile_verified: Option<String>,
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
    pub date: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DesignationView {
    pub solution_area: String,
    pub qualified: String,
    pub score: u64,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowView {
    pub opens: String,
    pub closes: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MembershipView {
    pub line: String,
    pub offer: String,
    pub status: String,
    pub start: String,
    pub anniversary: String,
    pub renewal_window: WindowView,
    pub activate_by: String,
    pub solution_areas: Vec<String>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BenefitView {
    pub offer: String,
    pub term_start: String,
    #[serde(rename = "type")]
    pub benefit_type: String,
    pub status: String,
    pub provided: String,
    pub activate_by: String,
    pub unlocked: Option<String>,
    pub expires: Option<String>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TokenView {
    pub token: String,
    pub product: String,
    pub seats: u64,
    pub status: String,
    pub tenant: Option<String>,
    pub issued: String,
    pub activated: Option<String>,
    pub expires: Option<String>,
    pub replacement_deadline: Option<String>,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub offer: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyView {
    pub key: String,
    pub product: String,
    pub kind: String,
    pub activations_total: u64,
    pub activations_used: u64,
    pub activations_remaining: u64,
    pub status: String,
    pub issued: String,
    pub offer: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionView {
    pub subscription: String,
    pub level: String,
    pub user: String,
    pub status: String,
    pub assigned: String,
    pub activated: Option<String>,
    pub unassigned: Option<String>,
    pub expires: Option<String>,
    pub offer: String,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObligationView {
    pub kind: String,
    pub since: String,
    pub offer: String,
    pub line: String,
    pub source: String,
}

fn s(d: Date) -> String {
    format_date(d)
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
            solution_area: q.solution_area.to_string(),
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
        line: t.line.to_string(),
        offer: t.offer.to_string(),
        status: t.status_on(as_of).as_str().to_string(),
        start: s(t.start),
        anniversary: s(t.anniversary),
        renewal_window: WindowView {
            opens: s(t.window_opens),
            closes: s(t.window_closes),
        },
        activate_by: s(t.activate_by),
        solution_areas: t.solution_areas.iter().map(|a| a.to_string()).collect(),
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
                offer: t.offer.to_string(),
                term_start: s(t.start),
                benefit_type: b.to_string(),
                status: status.to_string(),
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
                token: tok.token.clone(),
                product: tok.product.clone(),
                seats: tok.seats,
                status: status.to_string(),
                tenant: tok.tenant.clone(),
                issued: s(tok.issued),
                activated: tok.activated.map(s),
                expires: expires.map(s),
                replacement_deadline: replacement_deadline.map(s),
                replaces: tok.replaces.clone(),
                replaced_by: tok.replaced_by.clone(),
                offer: term.map(|t| t.offer.to_string()).unwrap_or_default(),
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
                key: k.key.clone(),
                product: k.product.clone(),
                kind: k.kind.to_string(),
                activations_total: k.activations_total,
                activations_used: k.activations_used,
                activations_remaining: k.activations_total.saturating_sub(k.activations_used),
                status: status.to_string(),
                issued: s(k.issued),
                offer: state
                    .terms
                    .get(k.term)
                    .map(|t| t.offer.to_string())
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
                subscription: sub.subscription.clone(),
                level: sub.level.to_string(),
                user: sub.user.clone(),
                status: status.to_string(),
                assigned: s(sub.assigned),
                activated: sub.activated.map(s),
                unassigned: sub.unassigned.map(s),
                expires: expires.map(s),
                offer: term.map(|t| t.offer.to_string()).unwrap_or_default(),
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
            kind: "uninstall_on_premises_software".to_string(),
            since: s(since),
            offer: t.offer.to_string(),
            line: line_name(t.line),
            source: t.source.to_string(),
        });
    }
    v.sort_by(|a, b| (&a.since, &a.offer).cmp(&(&b.since, &b.offer)));
    v
}

fn line_name(line: Line) -> String {
    line.to_string()
}
