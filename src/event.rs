//! The event model of the contract: input lines, the typed event, its stored form.
//!
//! Parsing is strict (unknown fields and types rejected, dates `YYYY-MM-DD` only, account names
//! and ids checked) and never panics: every problem is a [`ParseError`] that names what is wrong.
//! The stored form is exact (canonical JSON, RFC 8785 for our value space) so that anyone can
//! re-check the hash chain of a `log` export.

use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, SecondsFormat, Timelike, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// A business date (R1): a calendar date, in UTC.
pub type Date = NaiveDate;
/// A recording instant, kept to the microsecond.
pub type Instant = DateTime<Utc>;

/// Oldest and newest business date the ledger accepts. The bounds keep "+13 months" and every
/// derived deadline printable as `YYYY-MM-DD`.
pub const MIN_DATE: (i32, u32, u32) = (1900, 1, 1);
pub const MAX_DATE: (i32, u32, u32) = (9000, 12, 31);
/// Longest free-text value (product, tenant, machine, user, reason, token/key/subscription id).
pub const MAX_TEXT_LEN: usize = 256;
/// Largest seat or activation count accepted on a token or key.
pub const MAX_COUNT: u64 = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    pub message: String,
}

impl ParseError {
    pub fn new(message: impl Into<String>) -> Self {
        ParseError {
            message: message.into(),
        }
    }
}

fn err<T>(message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError::new(message))
}

// ------------------------------------------------------------------------------------------------
// Small validated values

/// A partner account name: 1–64 characters of `A-Z a-z 0-9 . _ -`. Shared (`Arc<str>`): a
/// folded state names its account in every term, token and key it holds, and a clone must
/// cost a reference count, not an allocation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Account(std::sync::Arc<str>);

/// Maps keyed by account can be searched with a `&str` (hashes and orders as the name does).
impl std::borrow::Borrow<str> for Account {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl Serialize for Account {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl Account {
    pub fn parse(s: &str) -> Result<Account, ParseError> {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-';
        if s.is_empty() || s.len() > 64 || !s.chars().all(ok_char) {
            return err(format!(
                "account {:?} is not a valid name: use 1-64 characters of A-Z a-z 0-9 . _ -",
                truncate(s, 80)
            ));
        }
        Ok(Account(std::sync::Arc::from(s)))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(n).collect();
        t.push('…');
        t
    }
}

/// Parses a business date: exactly `YYYY-MM-DD`, a real calendar day, within the ledger's range.
pub fn parse_date(s: &str) -> Result<Date, ParseError> {
    match parse_stored_date(s.as_bytes()) {
        Some(date) => Ok(date),
        None => err(date_problem(s)),
    }
}

/// What is wrong with a date [`parse_stored_date`] refused.
fn date_problem(s: &str) -> String {
    let b = s.as_bytes();
    if b.len() != 10 || date_numbers(b).is_none() {
        format!("date {:?} is not YYYY-MM-DD", truncate(s, 40))
    } else if date_at(b).is_none() {
        format!("date {s} does not exist in the calendar")
    } else {
        format!(
            "date {s} is outside the supported range {} … {}",
            format_date(min_date()),
            format_date(max_date())
        )
    }
}

pub fn min_date() -> Date {
    NaiveDate::from_ymd_opt(MIN_DATE.0, MIN_DATE.1, MIN_DATE.2).unwrap_or_default()
}

pub fn max_date() -> Date {
    NaiveDate::from_ymd_opt(MAX_DATE.0, MAX_DATE.1, MAX_DATE.2).unwrap_or_default()
}

/// `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    let mut out = String::with_capacity(10);
    push_date(&mut out, d);
    out
}

/// Appends `n` as exactly `width` decimal digits (the caller keeps `n` below 10^width).
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

/// `YYYY-MM-DD`, digit by digit, for years 0–9999 (every date the ledger accepts or derives):
/// every stored line and state view writes dates, and `format!` took ~130 ns each.
pub fn date_digits(d: Date) -> Option<[u8; 10]> {
    let y = u32::try_from(d.year()).ok().filter(|&y| y <= 9999)?;
    let mut out = *b"0000-00-00";
    for (at, n, width) in [(0, y, 4), (5, d.month(), 2), (8, d.day(), 2)] {
        for place in 0..width {
            out[at + place] = b'0' + (n / 10u32.pow((width - 1 - place) as u32) % 10) as u8;
        }
    }
    Some(out)
}

/// Appends `YYYY-MM-DD` ([`date_digits`]). Years outside 0–9999 are written as `format!`
/// writes them.
pub fn push_date(out: &mut String, d: Date) {
    match date_digits(d) {
        Some(digits) => out.extend(digits.iter().map(|&b| char::from(b))),
        None => {
            use std::fmt::Write as _;
            let _ = write!(out, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
        }
    }
}

/// Parses an RFC 3339 instant and keeps it to the microsecond (the stored precision).
pub fn parse_instant(s: &str) -> Result<Instant, ParseError> {
    let Ok(t) = DateTime::parse_from_rfc3339(s) else {
        return err(format!(
            "instant {:?} is not RFC 3339 (for example 2024-03-10T12:00:00Z)",
            truncate(s, 60)
        ));
    };
    let t = t.with_timezone(&Utc);
    if t.year() < MIN_DATE.0 || t.year() > 9999 || t.nanosecond() >= 1_000_000_000 {
        return err(format!("instant {s} is outside the supported range"));
    }
    Ok(truncate_to_micros(t))
}

pub fn truncate_to_micros(t: Instant) -> Instant {
    let micros = t.nanosecond() / 1_000 * 1_000;
    t.with_nanosecond(micros).unwrap_or(t)
}

/// The decimal number `digits` spell (no sign, at most 9 digits); None for anything else.
fn small_number(digits: &[u8]) -> Option<u32> {
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    digits.iter().try_fold(0u32, |n, &c| {
        c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
    })
}

/// Year, month and day of `YYYY-MM-DD…` read by position (digits, dashes at 4 and 7; what
/// follows is the caller's), before any calendar check.
fn date_numbers(b: &[u8]) -> Option<(i32, u32, u32)> {
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| b.get(r).and_then(small_number);
    Some((num(0..4)? as i32, num(5..7)?, num(8..10)?))
}

/// The calendar day of `YYYY-MM-DD…` ([`date_numbers`]).
fn date_at(b: &[u8]) -> Option<Date> {
    let (y, m, d) = date_numbers(b)?;
    NaiveDate::from_ymd_opt(y, m, d)
}

/// A date as stored (`YYYY-MM-DD`), read by position: what [`parse_date`] accepts, without
/// its messages (a test holds the two equal). Stored lines are read on every query.
pub fn parse_stored_date(b: &[u8]) -> Option<Date> {
    let date = date_at(b).filter(|_| b.len() == 10)?;
    (MIN_DATE.0..=MAX_DATE.0)
        .contains(&date.year())
        .then_some(date)
}

/// An instant in the exact shape `format_instant` writes (`YYYY-MM-DDTHH:MM:SS.ffffffZ`), read
/// by position; None for any other shape (callers then use [`parse_instant`]).
fn parse_stored_instant(b: &[u8]) -> Option<Instant> {
    let b: &[u8; 27] = b.try_into().ok()?;
    let shape = [(10, b'T'), (13, b':'), (16, b':'), (19, b'.'), (26, b'Z')];
    if shape.iter().any(|&(i, c)| b[i] != c) {
        return None;
    }
    let num = |from: usize, to: usize| small_number(&b[from..to]);
    let date = date_at(b)?;
    let time = chrono::NaiveTime::from_hms_micro_opt(
        num(11, 13)?,
        num(14, 16)?,
        num(17, 19)?,
        num(20, 26)?,
    )?;
    (date.year() >= MIN_DATE.0).then(|| date.and_time(time).and_utc())
}

/// The stored form of an instant: UTC, always six fraction digits.
pub fn format_instant(t: Instant) -> String {
    let mut out = String::with_capacity(27);
    push_instant(&mut out, t);
    out
}

/// Appends [`format_instant`]'s form, digit by digit (chrono's writer took ~80 ns and an
/// allocation); a leap second or a year outside 0–9999 goes through chrono.
pub fn push_instant(out: &mut String, t: Instant) {
    let nanos = t.timestamp_subsec_nanos();
    if nanos >= 1_000_000_000 || !(0..=9999).contains(&t.year()) {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true));
        return;
    }
    push_date(out, t.date_naive());
    out.push('T');
    push_digits(out, t.hour(), 2);
    out.push(':');
    push_digits(out, t.minute(), 2);
    out.push(':');
    push_digits(out, t.second(), 2);
    out.push('.');
    push_digits(out, nanos / 1000, 6);
    out.push('Z');
}

fn parse_uuid(s: &str) -> Result<Uuid, ParseError> {
    // Only the hyphenated 8-4-4-4-12 form, in either case; stored in lower case.
    let hyphens_ok = s.len() == 36 && [8, 13, 18, 23].iter().all(|&i| s.as_bytes()[i] == b'-');
    match Uuid::parse_str(s) {
        Ok(u) if hyphens_ok => Ok(u),
        _ => err(format!(
            "id {:?} is not a UUID (8-4-4-4-12 hex digits)",
            truncate(s, 60)
        )),
    }
}

fn check_text(field: &str, s: &str) -> Result<(), ParseError> {
    // Printable ASCII, nearly every text, is judged in one pass over its bytes: a character
    // each, no control character, and only the space is blank. Every decoded event is checked
    // again on the way out, so this runs for each line a query or report folds.
    let (blank, chars, control) = if s.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        (s.bytes().all(|b| b == b' '), s.len(), false)
    } else {
        (
            s.trim().is_empty(),
            s.chars().count(),
            s.chars().any(char::is_control),
        )
    };
    if blank {
        return err(format!("{field} must not be empty"));
    }
    if chars > MAX_TEXT_LEN {
        return err(format!("{field} is longer than {MAX_TEXT_LEN} characters"));
    }
    if control {
        return err(format!("{field} must not contain control characters"));
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------
// Enumerations of the domain

/// What sets of a name enum's values (`domain::state::EnumSet`) need of it.
pub trait NameEnum: Copy + 'static {
    /// Every value, in declaration order (which is also their order as values).
    const VALUES: &'static [Self];
    /// The value's place in `VALUES`.
    fn index(self) -> usize;
}

macro_rules! name_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $text)] $variant),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
            pub fn parse(s: &str) -> Option<$name> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
        impl NameEnum for $name {
            const VALUES: &'static [$name] = $name::ALL;
            fn index(self) -> usize { self as usize }
        }
    };
}

name_enum!(
    /// R3: the offers.
    Offer {
        SolutionsPartner = "solutions_partner",
        LegacyGold = "legacy_gold",
        LegacySilver = "legacy_silver",
        ActionPack = "action_pack",
        LearningActionPack = "learning_action_pack",
    }
);

name_enum!(
    /// R4: the two independent lines.
    Line { Package = "package", ActionPack = "action_pack" }
);

impl Offer {
    /// R4: which line an offer belongs to.
    pub fn line(self) -> Line {
        match self {
            Offer::SolutionsPartner | Offer::LegacyGold | Offer::LegacySilver => Line::Package,
            Offer::ActionPack | Offer::LearningActionPack => Line::ActionPack,
        }
    }
    pub fn is_legacy(self) -> bool {
        matches!(self, Offer::LegacyGold | Offer::LegacySilver)
    }
}

name_enum!(
    /// R13: solution areas of the Solutions Partner designations.
    SolutionArea {
        AzureInfrastructure = "azure_infrastructure",
        DataAndAi = "data_and_ai",
        DigitalAndAppInnovation = "digital_and_app_innovation",
        BusinessApplications = "business_applications",
        ModernWork = "modern_work",
        Security = "security",
    }
);

name_enum!(
    /// R16: benefit types.
    BenefitType {
        AzureCredits = "azure_credits",
        CloudServices = "cloud_services",
        DeveloperTools = "developer_tools",
        SupportAndAdvisory = "support_and_advisory",
        Marketing = "marketing",
        OnPremisesSoftware = "on_premises_software",
    }
);

impl BenefitType {
    /// The types a `benefit_redeemed` event may name; the others are redeemed by token
    /// activation (cloud services) or key issue (on-premises software).
    pub fn is_directly_redeemable(self) -> bool {
        matches!(
            self,
            BenefitType::AzureCredits
                | BenefitType::DeveloperTools
                | BenefitType::SupportAndAdvisory
                | BenefitType::Marketing
        )
    }
}

name_enum!(
    /// R22: Visual Studio subscription levels.
    VsLevel { Professional = "professional", Enterprise = "enterprise" }
);

name_enum!(
    /// R21: product key kinds.
    KeyKind { Mak = "mak", Single = "single" }
);

name_enum!(
    /// The contract's 15 event types.
    EventType {
        MembershipPurchased = "membership_purchased",
        MembershipRenewed = "membership_renewed",
        BusinessProfileVerified = "business_profile_verified",
        DesignationQualified = "designation_qualified",
        BenefitRedeemed = "benefit_redeemed",
        TokenIssued = "token_issued",
        TokenActivated = "token_activated",
        ReplacementTokenIssued = "replacement_token_issued",
        ProductKeyIssued = "product_key_issued",
        ProductKeyActivated = "product_key_activated",
        VsSubscriptionAssigned = "vs_subscription_assigned",
        VsSubscriptionActivated = "vs_subscription_activated",
        VsSubscriptionUnassigned = "vs_subscription_unassigned",
        AccountsMerged = "accounts_merged",
        EventVoided = "event_voided",
    }
);

// ------------------------------------------------------------------------------------------------
// Payloads (`data`), strict: unknown fields are rejected by serde.
//
// Fields are declared in alphabetical order: serde serialises them in declaration order, so
// `serde_json::to_string` of a payload is already its canonical (RFC 8785) form, and the hash
// chain is computed without building a map (a unit test holds this against a sorted map).

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fee {
    pub amount: String,
    pub currency: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MembershipData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<Fee>,
    pub offer: Offer,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmptyData {}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignationData {
    pub score: u64,
    pub solution_area: SolutionArea,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedemptionData {
    pub benefit: BenefitType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenIssuedData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
    pub product: String,
    pub seats: u64,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenActivatedData {
    pub seats: u64,
    pub tenant: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplacementData {
    /// Kept as text: a reason other than the two of R20 is a rule rejection (R20), not a
    /// malformed line.
    pub reason: String,
    pub replacement: String,
    pub token: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyIssuedData {
    pub activations: u64,
    pub key: String,
    pub kind: KeyKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
    pub product: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyActivatedData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_changed: Option<bool>,
    pub key: String,
    pub machine: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VsAssignedData {
    pub level: VsLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer: Option<Offer>,
    pub subscription: String,
    pub user: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VsSubscriptionData {
    pub subscription: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MergeData {
    pub absorbed: Account,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VoidData {
    pub event: Uuid,
    pub reason: String,
}

impl<'de> Deserialize<'de> for Account {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Account::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The typed payload of an event: its `type` and `data` together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    MembershipPurchased(MembershipData),
    MembershipRenewed(MembershipData),
    BusinessProfileVerified,
    DesignationQualified(DesignationData),
    BenefitRedeemed(RedemptionData),
    TokenIssued(TokenIssuedData),
    TokenActivated(TokenActivatedData),
    ReplacementTokenIssued(ReplacementData),
    ProductKeyIssued(KeyIssuedData),
    ProductKeyActivated(KeyActivatedData),
    VsSubscriptionAssigned(VsAssignedData),
    VsSubscriptionActivated(VsSubscriptionData),
    VsSubscriptionUnassigned(VsSubscriptionData),
    AccountsMerged(MergeData),
    EventVoided(VoidData),
}

impl Body {
    pub fn event_type(&self) -> EventType {
        match self {
            Body::MembershipPurchased(_) => EventType::MembershipPurchased,
            Body::MembershipRenewed(_) => EventType::MembershipRenewed,
            Body::BusinessProfileVerified => EventType::BusinessProfileVerified,
            Body::DesignationQualified(_) => EventType::DesignationQualified,
            Body::BenefitRedeemed(_) => EventType::BenefitRedeemed,
            Body::TokenIssued(_) => EventType::TokenIssued,
            Body::TokenActivated(_) => EventType::TokenActivated,
            Body::ReplacementTokenIssued(_) => EventType::ReplacementTokenIssued,
            Body::ProductKeyIssued(_) => EventType::ProductKeyIssued,
            Body::ProductKeyActivated(_) => EventType::ProductKeyActivated,
            Body::VsSubscriptionAssigned(_) => EventType::VsSubscriptionAssigned,
            Body::VsSubscriptionActivated(_) => EventType::VsSubscriptionActivated,
            Body::VsSubscriptionUnassigned(_) => EventType::VsSubscriptionUnassigned,
            Body::AccountsMerged(_) => EventType::AccountsMerged,
            Body::EventVoided(_) => EventType::EventVoided,
        }
    }

    /// Parses `data` (its JSON text) for a given type. An optional field given as null reads
    /// as absent; unknown fields are rejected. (An input line without `data` is read as `{}`
    /// by its caller.)
    pub fn parse(kind: EventType, data: &str) -> Result<Body, ParseError> {
        fn typed<T: serde::de::DeserializeOwned>(data: &str) -> Result<T, ParseError> {
            if !data.trim_start().starts_with('{') {
                let kind = serde_json::from_str::<Value>(data)
                    .map(|v| json_kind(&v))
                    .unwrap_or("not an object");
                return err(format!("data must be a JSON object, not {kind}"));
            }
            serde_json::from_str(data).map_err(|e| ParseError::new(format!("data: {e}")))
        }
        let body = match kind {
            EventType::MembershipPurchased => Body::MembershipPurchased(typed(data)?),
            EventType::MembershipRenewed => Body::MembershipRenewed(typed(data)?),
            EventType::BusinessProfileVerified => {
                let _: EmptyData = typed(data)?;
                Body::BusinessProfileVerified
            }
            EventType::DesignationQualified => Body::DesignationQualified(typed(data)?),
            EventType::BenefitRedeemed => Body::BenefitRedeemed(typed(data)?),
            EventType::TokenIssued => Body::TokenIssued(typed(data)?),
            EventType::TokenActivated => Body::TokenActivated(typed(data)?),
            EventType::ReplacementTokenIssued => Body::ReplacementTokenIssued(typed(data)?),
            EventType::ProductKeyIssued => Body::ProductKeyIssued(typed(data)?),
            EventType::ProductKeyActivated => Body::ProductKeyActivated(typed(data)?),
            EventType::VsSubscriptionAssigned => Body::VsSubscriptionAssigned(typed(data)?),
            EventType::VsSubscriptionActivated => Body::VsSubscriptionActivated(typed(data)?),
            EventType::VsSubscriptionUnassigned => Body::VsSubscriptionUnassigned(typed(data)?),
            EventType::AccountsMerged => Body::AccountsMerged(typed(data)?),
            EventType::EventVoided => Body::EventVoided(typed(data)?),
        };
        body.check_values()?;
        Ok(body)
    }

    /// Checks on values that the type system does not carry: text (blank, length, control
    /// characters), counts, the fee, the e-mail (R22), the score (R13), the benefit (R16).
    pub(crate) fn check_values(&self) -> Result<(), ParseError> {
        let count = |field: &str, n: u64, rule: &str| -> Result<(), ParseError> {
            if n == 0 || n > MAX_COUNT {
                return err(format!(
                    "{rule}: data.{field} must be between 1 and {MAX_COUNT}, not {n}"
                ));
            }
            Ok(())
        };
        match self {
            Body::MembershipPurchased(m) | Body::MembershipRenewed(m) => {
                if let Some(fee) = &m.fee {
                    check_fee(fee)?;
                }
            }
            Body::BusinessProfileVerified | Body::AccountsMerged(_) => {}
            Body::DesignationQualified(d) => {
                if d.score > 100 {
                    return err(format!("R13: data.score is out of 0-100: {}", d.score));
                }
            }
            Body::BenefitRedeemed(r) => {
                if !r.benefit.is_directly_redeemable() {
                    return err(format!(
                        "R16: {} is not redeemed with benefit_redeemed (cloud_services: token_activated; on_premises_software: product_key_issued); use azure_credits, developer_tools, support_and_advisory or marketing",
                        r.benefit
                    ));
                }
            }
            Body::TokenIssued(t) => {
                check_text("data.token", &t.token)?;
                check_text("data.product", &t.product)?;
                count("seats", t.seats, "R19")?;
            }
            Body::TokenActivated(t) => {
                check_text("data.token", &t.token)?;
                check_text("data.tenant", &t.tenant)?;
                count("seats", t.seats, "R19")?;
            }
            Body::ReplacementTokenIssued(r) => {
                check_text("data.token", &r.token)?;
                check_text("data.replacement", &r.replacement)?;
                check_text("data.reason", &r.reason)?;
            }
            Body::ProductKeyIssued(k) => {
                check_text("data.key", &k.key)?;
                check_text("data.product", &k.product)?;
                count("activations", k.activations, "R21")?;
            }
            Body::ProductKeyActivated(k) => {
                check_text("data.key", &k.key)?;
                check_text("data.machine", &k.machine)?;
            }
            Body::VsSubscriptionAssigned(v) => {
                check_text("data.subscription", &v.subscription)?;
                check_text("data.user", &v.user)?;
                check_email(&v.user)?;
            }
            Body::VsSubscriptionActivated(v) | Body::VsSubscriptionUnassigned(v) => {
                check_text("data.subscription", &v.subscription)?;
            }
            Body::EventVoided(v) => check_text("data.reason", &v.reason)?,
        }
        Ok(())
    }

    /// `data` in its stored, canonical form: fields in their declared (sorted) order, optional
    /// fields that were absent or null left out.
    pub fn data_json(&self) -> String {
        let s = match self {
            Body::MembershipPurchased(m) | Body::MembershipRenewed(m) => serde_json::to_string(m),
            Body::BusinessProfileVerified => Ok("{}".to_string()),
            Body::DesignationQualified(d) => serde_json::to_string(d),
            Body::BenefitRedeemed(r) => serde_json::to_string(r),
            Body::TokenIssued(t) => serde_json::to_string(t),
            Body::TokenActivated(t) => serde_json::to_string(t),
            Body::ReplacementTokenIssued(r) => serde_json::to_string(r),
            Body::ProductKeyIssued(k) => serde_json::to_string(k),
            Body::ProductKeyActivated(k) => serde_json::to_string(k),
            Body::VsSubscriptionAssigned(v) => serde_json::to_string(v),
            Body::VsSubscriptionActivated(v) | Body::VsSubscriptionUnassigned(v) => {
                serde_json::to_string(v)
            }
            Body::AccountsMerged(m) => serde_json::to_string(m),
            Body::EventVoided(v) => serde_json::to_string(v),
        };
        // Serialising these plain structs cannot fail; an empty object is the safe fallback.
        s.unwrap_or_else(|_| "{}".to_string())
    }

    pub fn data_value(&self) -> Value {
        let v = match self {
            Body::MembershipPurchased(m) | Body::MembershipRenewed(m) => serde_json::to_value(m),
            Body::BusinessProfileVerified => Ok(Value::Object(Map::new())),
            Body::DesignationQualified(d) => serde_json::to_value(d),
            Body::BenefitRedeemed(r) => serde_json::to_value(r),
            Body::TokenIssued(t) => serde_json::to_value(t),
            Body::TokenActivated(t) => serde_json::to_value(t),
            Body::ReplacementTokenIssued(r) => serde_json::to_value(r),
            Body::ProductKeyIssued(k) => serde_json::to_value(k),
            Body::ProductKeyActivated(k) => serde_json::to_value(k),
            Body::VsSubscriptionAssigned(v) => serde_json::to_value(v),
            Body::VsSubscriptionActivated(v) | Body::VsSubscriptionUnassigned(v) => {
                serde_json::to_value(v)
            }
            Body::AccountsMerged(m) => serde_json::to_value(m),
            Body::EventVoided(v) => serde_json::to_value(v),
        };
        // Serialising these plain structs cannot fail; an empty object is the safe fallback.
        v.unwrap_or_else(|_| Value::Object(Map::new()))
    }
}

fn check_fee(fee: &Fee) -> Result<(), ParseError> {
    let (int, frac) = fee.amount.split_once('.').unwrap_or((&fee.amount, ""));
    let amount_ok = !int.is_empty()
        && int.len() <= 15
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.len() <= 6
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (frac.is_empty() != fee.amount.contains('.'));
    if !amount_ok {
        return err(format!(
            "data.fee.amount {:?} is not a decimal amount such as \"4730.00\"",
            truncate(&fee.amount, 40)
        ));
    }
    if fee.currency.len() != 3 || !fee.currency.bytes().all(|b| b.is_ascii_uppercase()) {
        return err(format!(
            "data.fee.currency {:?} is not an ISO 4217 code such as \"USD\"",
            truncate(&fee.currency, 40)
        ));
    }
    Ok(())
}

fn check_email(user: &str) -> Result<(), ParseError> {
    let ok = match user.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !user.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if !ok {
        return err(format!(
            "R22: data.user {:?} is not an e-mail address; a subscription is assigned to one named user",
            truncate(user, 60)
        ));
    }
    Ok(())
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

// ------------------------------------------------------------------------------------------------
// The event

/// One event as the ledger knows it: identity, stream, business date, recording instant, body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub id: Uuid,
    pub account: Account,
    pub date: Date,
    pub recorded_at: Instant,
    pub body: Body,
}

impl Event {
    pub fn event_type(&self) -> EventType {
        self.body.event_type()
    }

    /// Idempotency (contract): the same account, type, date and data, and the same recording
    /// instant where the new line gives one.
    pub fn same_content(&self, other: &Event, other_gave_recorded_at: bool) -> bool {
        self.account == other.account
            && self.date == other.date
            && self.body == other.body
            && (!other_gave_recorded_at || self.recorded_at == other.recorded_at)
    }
}

/// A parsed input line, before the ledger assigns what is missing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputEvent {
    pub id: Option<Uuid>,
    account: Account,
    date: Date,
    pub recorded_at: Option<Instant>,
    pub expected_version: Option<u64>,
    body: Body,
    /// Present when the line is in the stored form (a `log` export being restored).
    pub stored: Option<StoredCheck>,
    /// The start of the canonical stored form, `{"account":…,"data":…,"date":"…`, which
    /// depends on these three fields only. Written by the thread that parses lines, so that
    /// sealing, on the thread that appends, need not; the fields it is written from are
    /// private so that it cannot go stale.
    head: String,
}

/// An input's event with the ledger's id and recording time, ready to seal
/// ([`InputEvent::into_event`]).
#[derive(Debug, Clone)]
pub struct Prepared {
    event: Event,
    head: String,
}

impl Prepared {
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// [`StoredEvent::seal_line`], with the body's start written already; hands back the
    /// buffer that held that start, for the caller to free where it chooses (it was allocated
    /// by the thread that parsed the line).
    pub fn seal(self, seq: u64, version: u64, prev_hash: Hash) -> (Sealed, String) {
        let sealed = StoredEvent::seal_with(seq, version, self.event, prev_hash, Some(&self.head));
        (sealed, self.head)
    }
}

/// The stored-form fields of an input line; each must equal what the ledger assigns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoredCheck {
    pub seq: Option<u64>,
    pub version: Option<u64>,
    pub prev_hash: Option<String>,
    pub hash: Option<String>,
}

/// One line as JSON: strings borrowed where they need no unescaping, `data` kept as text
/// and parsed by its type's struct (no intermediate map).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLine<'a> {
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    account: std::borrow::Cow<'a, str>,
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    date: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    recorded_at: Option<std::borrow::Cow<'a, str>>,
    expected_version: Option<u64>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
    seq: Option<u64>,
    version: Option<u64>,
    prev_hash: Option<String>,
    hash: Option<String>,
}

impl InputEvent {
    /// Parses one input line (JSON object) strictly.
    pub fn parse_line(line: &str) -> Result<InputEvent, ParseError> {
        let raw: RawLine = match serde_json::from_str(line) {
            Ok(raw) => raw,
            Err(e) => return err(describe_json_error(line, &e)),
        };
        let kind = EventType::parse(&raw.kind).ok_or_else(|| {
            ParseError::new(format!(
                "unknown type {:?}; the types are {}",
                truncate(&raw.kind, 60),
                EventType::ALL
                    .iter()
                    .map(|t| t.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        let account = Account::parse(&raw.account)?;
        let date = parse_date(&raw.date)?;
        let id = raw.id.as_deref().map(parse_uuid).transpose()?;
        let recorded_at = raw.recorded_at.as_deref().map(parse_instant).transpose()?;
        let body = Body::parse(kind, raw.data.map_or("{}", |d| d.get()))?;
        let stored = if raw.seq.is_some()
            || raw.version.is_some()
            || raw.prev_hash.is_some()
            || raw.hash.is_some()
        {
            Some(StoredCheck {
                seq: raw.seq,
                version: raw.version,
                prev_hash: raw.prev_hash,
                hash: raw.hash,
            })
        } else {
            None
        };
        let mut head = String::with_capacity(256);
        write_head(&mut head, &account, date, &body);
        Ok(InputEvent {
            id,
            account,
            date,
            recorded_at,
            expected_version: raw.expected_version,
            body,
            stored,
            head,
        })
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn date(&self) -> Date {
        self.date
    }

    pub fn body(&self) -> &Body {
        &self.body
    }

    /// The event this line records, given the id and recording time the ledger settled on.
    pub fn into_event(self, id: Uuid, recorded_at: Instant) -> Prepared {
        Prepared {
            event: Event {
                id,
                account: self.account,
                date: self.date,
                recorded_at,
                body: self.body,
            },
            head: self.head,
        }
    }
}

fn describe_json_error(line: &str, e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof => format!("not valid JSON: {e}"),
        Category::Data => {
            if line.trim_start().starts_with('{') {
                format!("not a valid event: {e}")
            } else {
                "not a JSON object: each line must be one event object".to_string()
            }
        }
        Category::Io => format!("could not read: {e}"),
    }
}

// ------------------------------------------------------------------------------------------------
// The stored form and the hash chain

/// A SHA-256 digest.
pub type Hash = [u8; 32];
pub const ZERO_HASH: Hash = [0u8; 32];

pub fn hex(h: &Hash) -> String {
    let mut s = String::with_capacity(64);
    push_hex(&mut s, h);
    s
}

pub fn push_hex(out: &mut String, h: &Hash) {
    push_hex_digits(out, &hex_digits(h));
}

/// Appends hex digits made by [`hex_digits`] in one copy (a `char` at a time was a fifth of
/// sealing an event).
fn push_hex_digits(out: &mut String, digits: &[u8; 64]) {
    // Always ASCII; the empty fallback is never taken.
    out.push_str(std::str::from_utf8(digits).unwrap_or_default());
}

/// The lower-case hex digits of `h`, without allocating. Written for every stored event
/// (twice) and compared for every line `verify` reads (twice), so eight digits are made at a
/// time (`hex_lanes`): a digit at a time took as many instructions as reading them back.
pub fn hex_digits(h: &Hash) -> [u8; 64] {
    let mut out = [0; 64];
    for (eight, four) in out.chunks_exact_mut(8).zip(h.chunks_exact(4)) {
        let x = u32::from_le_bytes([four[0], four[1], four[2], four[3]]);
        eight.copy_from_slice(&hex_lanes(x).to_le_bytes());
    }
    out
}

/// Four bytes (the first in the lowest byte of `x`) as eight lower-case hex digits (the first
/// in the lowest byte), one per byte lane: no step carries into the next lane.
fn hex_lanes(x: u32) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW: u64 = 0x000F_000F_000F_000F;
    // Byte i of `x` to byte 2i.
    let x = u64::from(x);
    let x = (x | x << 16) & 0x0000_FFFF_0000_FFFF;
    let x = (x | x << 8) & 0x00FF_00FF_00FF_00FF;
    // Each byte's high nibble, then its low nibble.
    let nibbles = (x >> 4 & LOW) | (x & LOW) << 8;
    // '0' + n, and 'a' - '0' - 10 = 39 more where n >= 10 (n + 6 reaches bit 4).
    let letters = ((nibbles + 6 * ONES) >> 4) & ONES;
    nibbles + u64::from(b'0') * ONES + letters * 39
}

/// The hash written as 64 lower-case hex digits; None for anything else. Two are read per
/// stored event on every query, so eight digits are read at a time (`hex8`).
pub fn parse_hex(s: &[u8]) -> Option<Hash> {
    let digits: &[u8; 64] = s.try_into().ok()?;
    let mut h = [0u8; 32];
    for (out, eight) in h.chunks_exact_mut(4).zip(digits.chunks_exact(8)) {
        let lanes = u64::from_le_bytes(eight.try_into().ok()?);
        out.copy_from_slice(&hex8(lanes)?.to_le_bytes());
    }
    Some(h)
}

/// Eight lower-case hex digits, one per byte of `x` (the first in the lowest byte), as four
/// bytes (the first in the lowest byte); None if any byte is not such a digit. Each byte is a
/// lane of its own: no step carries or borrows into the next lane.
fn hex8(x: u64) -> Option<u32> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of a lane set where the byte (its low seven bits) is at least `c` (c <= 0x80).
    let seven = x & !HIGH;
    let at_least = |c: u8| ((seven | HIGH) - ONES * u64::from(c)) & HIGH;
    let digit = at_least(b'0') & !at_least(b'9' + 1);
    let letter = at_least(b'a') & !at_least(b'f' + 1);
    if (digit | letter) & !(x & HIGH) != HIGH {
        return None;
    }
    // '0'..='9' is 0x30..=0x39 and 'a'..='f' is 0x61..=0x66: the low nibble, plus 9 where
    // bit 6 (letters) is set.
    let nibbles = (x & (ONES * 0x0F)) + ((x >> 6) & ONES) * 9;
    // Pairs of lanes into bytes (high nibble first), then the bytes side by side.
    const PAIRS: u64 = 0x00FF_00FF_00FF_00FF;
    let bytes = ((nibbles & PAIRS) << 4) | ((nibbles >> 8) & PAIRS);
    let bytes = (bytes | (bytes >> 8)) & 0x0000_FFFF_0000_FFFF;
    Some(((bytes | (bytes >> 16)) & 0xFFFF_FFFF) as u32)
}

/// An event as stored: its global position, its position in the account, and its chain link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: u64,
    pub version: u64,
    pub event: Event,
    pub prev_hash: Hash,
    pub hash: Hash,
}

/// A sealed event together with its stored line, made only by [`StoredEvent::seal_line`]:
/// the line is the event's canonical stored form, and the hash it carries was computed over
/// that same text less its two hash members (what `verify` recomputes). Whoever holds one
/// needs neither to serialise the event again nor to re-check its hash. That hashed text is
/// kept too: it is the line's copy form (`line.rs`), what a stream copy stores.
#[derive(Debug, Clone)]
pub struct Sealed {
    event: StoredEvent,
    line: String,
    copy: String,
}

impl Sealed {
    pub fn event(&self) -> &StoredEvent {
        &self.event
    }

    pub fn line(&self) -> &str {
        &self.line
    }

    /// The event, its stored line, and that line in the copy form.
    pub fn into_parts(self) -> (StoredEvent, String, String) {
        (self.event, self.line, self.copy)
    }
}

impl StoredEvent {
    /// Seals an event at a position: computes its hash from the previous one.
    pub fn seal(seq: u64, version: u64, event: Event, prev_hash: Hash) -> StoredEvent {
        let hash = chain_hash(&prev_hash, &canonical_body(seq, version, &event));
        StoredEvent {
            seq,
            version,
            event,
            prev_hash,
            hash,
        }
    }

    /// [`StoredEvent::seal`], also giving the stored line: the body is serialised and hashed
    /// once, and the line is that body with the two hash members put in place (an import
    /// otherwise serialised each event twice and hashed it twice).
    pub fn seal_line(seq: u64, version: u64, event: Event, prev_hash: Hash) -> Sealed {
        StoredEvent::seal_with(seq, version, event, prev_hash, None)
    }

    /// [`StoredEvent::seal_line`], given the body's start (`write_head`) when it is written.
    fn seal_with(
        seq: u64,
        version: u64,
        event: Event,
        prev_hash: Hash,
        head: Option<&str>,
    ) -> Sealed {
        let mut body = String::with_capacity(512);
        if let Some(head) = head {
            body.push_str(head);
        } else {
            write_head(&mut body, &event.account, event.date, &event.body);
        }
        let [after_date, after_id] = write_canonical_tail(&mut body, seq, version, &event, None);
        let prev_hex = hex_digits(&prev_hash);
        let hash = chain_hash_of_digits(&prev_hex, &body);
        let mut line = String::with_capacity(body.len() + 2 * (64 + 14));
        line.push_str(&body[..after_date]);
        line.push_str(",\"hash\":\"");
        push_hex(&mut line, &hash);
        line.push('"');
        line.push_str(&body[after_date..after_id]);
        line.push_str(",\"prev_hash\":\"");
        push_hex_digits(&mut line, &prev_hex);
        line.push('"');
        line.push_str(&body[after_id..]);
        Sealed {
            event: StoredEvent {
                seq,
                version,
                event,
                prev_hash,
                hash,
            },
            line,
            copy: body,
        }
    }

    /// The hash this event should have, recomputed from its content and `prev_hash`.
    pub fn expected_hash(&self) -> Hash {
        chain_hash(
            &self.prev_hash,
            &canonical_body(self.seq, self.version, &self.event),
        )
    }

    /// The exact stored line (canonical JSON, no trailing newline).
    pub fn to_line(&self) -> String {
        canonical_json(
            self.seq,
            self.version,
            &self.event,
            Some((&self.prev_hash, &self.hash)),
        )
    }

    /// Reads a stored line back. Exact: the line must be the canonical form of what it holds.
    pub fn from_line(line: &str) -> Result<StoredEvent, ParseError> {
        StoredEvent::from_line_of(line, None)
    }

    /// [`StoredEvent::from_line`] for a line expected to belong to `account` (a stream copy's
    /// lines mostly do): its name is shared instead of parsed and allocated again.
    pub fn from_line_of(line: &str, account: Option<&Account>) -> Result<StoredEvent, ParseError> {
        StoredEvent::from_bytes_of(line.as_bytes(), account)
    }

    /// [`StoredEvent::from_line_of`] for stored bytes not yet known to be UTF-8: a line in the
    /// canonical shape has only its parts checked (its envelope is ASCII by shape; `data` is
    /// the only free text), anything else is checked whole and read by the full parser.
    pub fn from_bytes_of(
        line: &[u8],
        account: Option<&Account>,
    ) -> Result<StoredEvent, ParseError> {
        if let Some(event) = StoredEvent::from_canonical_line(line, account) {
            return Ok(event);
        }
        match std::str::from_utf8(line) {
            Ok(text) => StoredEvent::from_any_line(text),
            Err(_) => err("stored line is not UTF-8"),
        }
    }

    /// The event of a stream copy's line, read by position (in the copy form it has no other
    /// reader), without hashes: for the fuzzer, which holds it equal to the stored line's
    /// event.
    #[doc(hidden)]
    pub fn from_copy_line(line: &[u8]) -> Option<StoredEvent> {
        StoredEvent::from_view(&crate::line::LineView::parse_copy(line)?, None)
    }

    /// [`StoredEvent::from_line`] through the full parser only, never the positional fast
    /// path: for the fuzzer, which holds the two equal.
    #[doc(hidden)]
    pub fn from_line_by_full_parser(line: &str) -> Result<StoredEvent, ParseError> {
        StoredEvent::from_any_line(line)
    }

    /// [`StoredEvent::from_line`] through the full parser (any member order, explained errors).
    fn from_any_line(line: &str) -> Result<StoredEvent, ParseError> {
        let input = InputEvent::parse_line(line)?;
        let stored = input.stored.clone().unwrap_or_default();
        let (Some(seq), Some(version), Some(prev), Some(hash), Some(id), Some(recorded_at)) = (
            stored.seq,
            stored.version,
            stored
                .prev_hash
                .as_deref()
                .map(str::as_bytes)
                .and_then(parse_hex),
            stored
                .hash
                .as_deref()
                .map(str::as_bytes)
                .and_then(parse_hex),
            input.id,
            input.recorded_at,
        ) else {
            return err("stored event lacks seq, version, id, recorded_at or its hashes");
        };
        let event = Event {
            id,
            account: input.account,
            date: input.date,
            recorded_at,
            body: input.body,
        };
        Ok(StoredEvent {
            seq,
            version,
            event,
            prev_hash: prev,
            hash,
        })
    }

    /// The fast path of [`StoredEvent::from_line`] for a line in the canonical stored shape
    /// (every line a store writes): the envelope is read by position (`line::LineView`) and
    /// only `data` goes through serde. None for anything else, which the full parser then
    /// reads (and explains, if it is wrong); both give the same event for a canonical line.
    fn from_canonical_line(line: &[u8], known: Option<&Account>) -> Option<StoredEvent> {
        StoredEvent::from_view(&crate::line::LineView::parse(line)?, known)
    }

    /// The event of a stored line whose envelope is already read (the fast path of
    /// [`StoredEvent::from_line_of`]); None where a part does not decode.
    pub(crate) fn from_view(
        view: &crate::line::LineView<'_>,
        known: Option<&Account>,
    ) -> Option<StoredEvent> {
        fn text(part: &[u8]) -> Option<&str> {
            std::str::from_utf8(part).ok()
        }
        let kind = EventType::parse(text(view.event_type)?)?;
        let account = match known {
            Some(a) if a.as_str() == view.account => a.clone(),
            _ => Account::parse(view.account).ok()?,
        };
        let event = Event {
            id: Uuid::try_parse_ascii(view.id).ok()?,
            account,
            date: parse_stored_date(view.date)?,
            recorded_at: parse_stored_instant(view.recorded_at)?,
            body: match crate::data::read_body(kind, view.data) {
                Some(body) => body.check_values().ok().map(|()| body)?,
                None => Body::parse(kind, text(view.data)?).ok()?,
            },
        };
        // A stream copy's line in the copy form carries no hashes (see Store::account_events).
        let (prev_hash, hash) = if view.is_sealed() {
            (parse_hex(view.prev_hash_hex)?, parse_hex(view.hash_hex)?)
        } else {
            (ZERO_HASH, ZERO_HASH)
        };
        Some(StoredEvent {
            seq: view.seq,
            version: view.version,
            event,
            prev_hash,
            hash,
        })
    }
}

/// The sorted-key map of a stored event without its hashes: the reference form that
/// [`canonical_json`] writes directly (tests hold the two equal).
#[cfg(test)]
fn body_map(seq: u64, version: u64, e: &Event) -> Map<String, Value> {
    let mut map = Map::new();
    map.insert(
        "account".into(),
        Value::String(e.account.as_str().to_string()),
    );
    map.insert("data".into(), e.body.data_value());
    map.insert("date".into(), Value::String(format_date(e.date)));
    map.insert("id".into(), Value::String(e.id.to_string()));
    map.insert(
        "recorded_at".into(),
        Value::String(format_instant(e.recorded_at)),
    );
    map.insert("seq".into(), Value::from(seq));
    map.insert(
        "type".into(),
        Value::String(e.event_type().as_str().to_string()),
    );
    map.insert("version".into(), Value::from(version));
    map
}

/// Canonical JSON (RFC 8785: keys sorted, no whitespace) of a stored event, with its hashes
/// when given. Written directly, keys in sorted order: account, data, date, [hash], id,
/// [prev_hash], recorded_at, seq, type, version. `data` is its payload struct, whose fields are
/// declared in sorted order; every number is an integer; the account, id, date, instant and
/// type are ASCII without characters that JSON escapes.
pub fn canonical_json(seq: u64, version: u64, e: &Event, hashes: Option<(&Hash, &Hash)>) -> String {
    let mut out = String::with_capacity(512);
    write_head(&mut out, &e.account, e.date, &e.body);
    write_canonical_tail(&mut out, seq, version, e, hashes);
    out
}

/// The canonical stored form up to the date's last digit: `{"account":…,"data":…,"date":"…`.
fn write_head(out: &mut String, account: &Account, date: Date, body: &Body) {
    out.push_str("{\"account\":\"");
    out.push_str(account.as_str());
    out.push_str("\",\"data\":");
    out.push_str(&body.data_json());
    out.push_str(",\"date\":\"");
    push_date(out, date);
}

/// The rest of [`canonical_json`] after `write_head` wrote `e`'s head into `out`, giving where
/// the `date` member and the `id` member end (after their closing quotes): where the `hash`
/// and `prev_hash` members go.
fn write_canonical_tail(
    out: &mut String,
    seq: u64,
    version: u64,
    e: &Event,
    hashes: Option<(&Hash, &Hash)>,
) -> [usize; 2] {
    use std::fmt::Write as _;
    // Written piece by piece into one buffer: the temporaries of `write!` were most of it.
    let after_date = out.len() + 1;
    if let Some((_, hash)) = hashes {
        out.push_str("\",\"hash\":\"");
        push_hex(out, hash);
    }
    out.push_str("\",\"id\":\"");
    out.push_str(e.id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
    let after_id = out.len() + 1;
    if let Some((prev, _)) = hashes {
        out.push_str("\",\"prev_hash\":\"");
        push_hex(out, prev);
    }
    out.push_str("\",\"recorded_at\":\"");
    push_instant(out, e.recorded_at);
    let _ = write!(
        out,
        "\",\"seq\":{seq},\"type\":\"{}\",\"version\":{version}}}",
        e.event_type().as_str()
    );
    [after_date, after_id]
}

/// The stored event without `prev_hash` and `hash`, as canonical JSON: what the chain hashes.
pub fn canonical_body(seq: u64, version: u64, e: &Event) -> String {
    canonical_json(seq, version, e, None)
}

/// hash = SHA-256(hex(prev_hash) ‖ canonical stored event without the hashes).
pub fn chain_hash(prev: &Hash, canonical: &str) -> Hash {
    chain_hash_of_digits(&hex_digits(prev), canonical)
}

/// [`chain_hash`] given the hex digits of `prev_hash`, which sealing writes into the line too.
fn chain_hash_of_digits(prev_hex: &[u8; 64], canonical: &str) -> Hash {
    let mut h = Sha256::new();
    h.update(prev_hex);
    h.update(canonical.as_bytes());
    h.finalize().into()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn dates_and_instants_are_written_as_chrono_writes_them() {
        let slow_date = |d: Date| format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day());
        let slow_instant = |t: Instant| t.to_rfc3339_opts(SecondsFormat::Micros, true);
        let mut d = NaiveDate::from_ymd_opt(-3, 1, 1).unwrap_or_default();
        let end = NaiveDate::from_ymd_opt(10_002, 12, 31).unwrap_or_default();
        let mut checked = 0;
        while d <= end {
            assert_eq!(format_date(d), slow_date(d));
            // A time of day and a fraction that change with the date.
            let n = checked as u32;
            let t = d
                .and_hms_micro_opt(n % 24, n * 7 % 60, n * 13 % 60, n * 7919 % 1_000_000)
                .map(|t| t.and_utc());
            if let Some(t) = t {
                assert_eq!(format_instant(t), slow_instant(t));
            }
            let step = if (1999..=2031).contains(&d.year()) {
                1
            } else {
                97
            };
            d += chrono::Duration::days(step);
            checked += 1;
        }
        assert!(checked > 20_000, "{checked}");
        let leap = NaiveDate::from_ymd_opt(2016, 12, 31)
            .and_then(|d| d.and_hms_micro_opt(23, 59, 59, 1_500_000))
            .map(|t| t.and_utc());
        assert!(leap.is_some());
        if let Some(t) = leap {
            assert_eq!(format_instant(t), slow_instant(t));
            assert_eq!(format_instant(t), "2016-12-31T23:59:60.500000Z");
        }
        for t in [
            "0000-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999Z",
            "2024-02-29T12:00:00.000001Z",
        ] {
            let t = DateTime::parse_from_rfc3339(t).map(|t| t.with_timezone(&Utc));
            assert!(t.is_ok());
            if let Ok(t) = t {
                assert_eq!(format_instant(t), slow_instant(t));
            }
        }
    }

    #[test]
    fn text_is_judged_from_its_bytes_as_from_its_characters() {
        // The reading before the printable-ASCII pass: what check_text must still decide.
        fn by_characters(s: &str) -> Result<(), ParseError> {
            if s.trim().is_empty() {
                return err("empty");
            }
            if s.chars().count() > MAX_TEXT_LEN {
                return err("long");
            }
            if s.chars().any(|c| c.is_control()) {
                return err("control");
            }
            Ok(())
        }
        let long_ascii = "x".repeat(MAX_TEXT_LEN);
        let long_wide = "é".repeat(MAX_TEXT_LEN);
        let mut texts: Vec<String> = [
            "",
            " ",
            "   ",
            "a",
            " a ",
            "~",
            "\u{7f}",
            "a\u{7f}",
            "\t",
            "a\nb",
            "\u{a0}",
            "\u{a0}\u{3000}",
            "é",
            "\u{85}",
            "\u{2028}",
            "ok text \u{1F600}",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        texts.extend([
            long_ascii.clone(),
            format!("{long_ascii}x"),
            format!("{long_ascii} "),
            long_wide.clone(),
            format!("{long_wide}é"),
        ]);
        for b in 0..=0x7f_u8 {
            texts.push(format!("ab{}c", b as char));
            texts.push((b as char).to_string());
        }
        for t in &texts {
            let kind = |r: Result<(), ParseError>| {
                r.err().map(|e| {
                    let m = e.to_string();
                    ["empty", "long", "control"]
                        .into_iter()
                        .find(|k| m.contains(k))
                        .unwrap_or("other")
                        .to_string()
                })
            };
            assert_eq!(kind(check_text("t", t)), kind(by_characters(t)), "{t:?}");
        }
    }

    #[test]
    fn the_fast_stored_line_reader_agrees_with_the_full_parser() {
        let mut out = Vec::new();
        let catalog = crate::domain::Catalog::default_catalog();
        crate::gen::write_ledger(&mut out, 300, 5, 2, &catalog).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut prev = ZERO_HASH;
        for (i, input) in text.lines().enumerate() {
            let p = InputEvent::parse_line(input).unwrap();
            let event = Event {
                id: p.id.unwrap(),
                account: p.account,
                date: p.date,
                recorded_at: p.recorded_at.unwrap(),
                body: p.body,
            };
            let stored = StoredEvent::seal(i as u64 + 1, 1, event, prev);
            prev = stored.hash;
            let line = stored.to_line();
            let fast = StoredEvent::from_canonical_line(line.as_bytes(), None)
                .expect("canonical lines take the fast path");
            assert_eq!(fast, StoredEvent::from_any_line(&line).unwrap());
            assert_eq!(fast, stored);
            // Its `data` too is read by position, not left to serde.
            let data = stored.event.body.data_json();
            assert_eq!(
                crate::data::read_body(stored.event.event_type(), data.as_bytes()).as_ref(),
                Some(&stored.event.body),
                "{data}"
            );
            let shared = StoredEvent::from_line_of(&line, Some(&stored.event.account)).unwrap();
            assert_eq!(shared, stored);
            let other = Account::parse("someone-else").unwrap();
            assert_eq!(
                StoredEvent::from_line_of(&line, Some(&other)).unwrap(),
                stored
            );
        }
    }

    /// A xorshift generator: the same numbers for the same (non-zero) seed.
    pub(crate) fn xorshift(mut state: u64) -> impl FnMut() -> u64 {
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// The plain reading of a hex hash, digit by digit: what `parse_hex` must agree with.
    fn hex_digit_by_digit(s: &[u8]) -> Option<Hash> {
        if s.len() != 64 {
            return None;
        }
        let value = |c: u8| match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        };
        let mut h = [0u8; 32];
        for (out, pair) in h.iter_mut().zip(s.chunks_exact(2)) {
            *out = value(pair[0])? << 4 | value(pair[1])?;
        }
        Some(h)
    }

    #[test]
    fn hex_read_eight_digits_at_a_time_agrees_with_digit_by_digit_for_every_byte_anywhere() {
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        for _ in 0..200 {
            let h: Hash = std::array::from_fn(|_| next() as u8);
            let good = hex(&h).into_bytes();
            assert_eq!(parse_hex(&good), Some(h));
            // Every byte value at a random position (and at each end).
            for at in [0, 63, (next() % 64) as usize] {
                for b in 0..=255u8 {
                    let mut s = good.clone();
                    s[at] = b;
                    assert_eq!(
                        parse_hex(&s),
                        hex_digit_by_digit(&s),
                        "byte {b:#04x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn hex_written_eight_digits_at_a_time_agrees_with_format() {
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let mut cases: Vec<Hash> = (0..=255u8).map(|b| [b; 32]).collect();
        cases.extend((0..500).map(|_| std::array::from_fn(|_| next() as u8)));
        for h in cases {
            let plain: String = h.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(hex_digits(&h).as_slice(), plain.as_bytes());
        }
    }

    #[test]
    fn hex_round_trips_and_anything_else_is_refused() {
        let h: Hash = std::array::from_fn(|i| (i * 37 + 5) as u8);
        assert_eq!(parse_hex(hex(&h).as_bytes()), Some(h));
        assert_eq!(parse_hex(hex(&ZERO_HASH).as_bytes()), Some(ZERO_HASH));
        let good = hex(&h);
        for bad in [
            good.to_uppercase(),
            good[..63].to_string(),
            format!("{good}0"),
            good.replacen(&good[..1], "g", 1),
            good.replacen(&good[..1], " ", 1),
        ] {
            assert_eq!(parse_hex(bad.as_bytes()), None, "{bad}");
        }
    }

    #[test]
    fn stored_instants_read_by_position_agree_with_rfc3339() {
        for s in [
            "2024-02-29T12:00:00.000001Z",
            "1900-01-01T00:00:00.000000Z",
            "9999-12-31T23:59:59.999999Z",
            "1899-12-31T23:59:59.999999Z",
            "2023-02-29T12:00:00.000000Z",
            "2016-12-31T23:59:60.000000Z",
            "2024-13-01T00:00:00.000000Z",
            "2024-01-01T24:00:00.000000Z",
            "2024-01-01T00:00:00.00000aZ",
        ] {
            assert_eq!(
                parse_stored_instant(s.as_bytes()),
                parse_instant(s).ok(),
                "{s}"
            );
        }
    }

    fn line(body: &str) -> String {
        format!(
            r#"{{"id":"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f50","account":"contoso","type":"membership_purchased","date":"2021-09-01","recorded_at":"2021-09-01T10:00:00Z",{body}}}"#
        )
    }

    #[test]
    fn parses_the_contract_example() {
        let e = InputEvent::parse_line(&line(
            r#""expected_version":0,"data":{"offer":"action_pack"}"#,
        ))
        .expect("valid");
        assert_eq!(e.expected_version, Some(0));
        assert_eq!(
            e.body,
            Body::MembershipPurchased(MembershipData {
                offer: Offer::ActionPack,
                fee: None
            })
        );
    }

    #[test]
    fn rejects_unknown_data_field_and_bad_dates() {
        assert!(InputEvent::parse_line(&line(r#""data":{"offer":"action_pack","x":1}"#)).is_err());
        for bad in [
            "2023-02-30",
            "2023-2-03",
            "20230203",
            "0000-01-01",
            "2023-02-03T00:00:00Z",
        ] {
            assert!(parse_date(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2024-02-29").is_ok());
    }

    #[test]
    fn dates_read_by_position_agree_with_chrono_and_explain_each_refusal() {
        // Every (year, month, day) in a grid around the edges, against chrono's own parser
        // and the supported range: read the same, refused the same.
        for y in [
            0, 1899, 1900, 1901, 2023, 2024, 2100, 8999, 9000, 9001, 9999,
        ] {
            for m in 0..=13 {
                for d in 0..=32 {
                    let s = format!("{y:04}-{m:02}-{d:02}");
                    let chrono = NaiveDate::parse_from_str(&s, "%Y-%m-%d")
                        .ok()
                        .filter(|d| (1900..=9000).contains(&d.year()));
                    assert_eq!(parse_stored_date(s.as_bytes()), chrono, "{s}");
                    assert_eq!(parse_date(&s).ok(), chrono, "{s}");
                }
            }
        }
        let problem = |s: &str| {
            parse_date(s)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        for (s, says) in [
            ("2023-2-03", "is not YYYY-MM-DD"),
            ("2023-02-3x", "is not YYYY-MM-DD"),
            ("2023/02/03", "is not YYYY-MM-DD"),
            ("+023-02-03", "is not YYYY-MM-DD"),
            ("2023-02-30", "does not exist in the calendar"),
            ("2023-00-10", "does not exist in the calendar"),
            ("1899-12-31", "outside the supported range"),
            ("9001-01-01", "outside the supported range"),
        ] {
            assert_eq!(parse_stored_date(s.as_bytes()), None, "{s}");
            assert!(problem(s).contains(says), "{s}: {}", problem(s));
        }
    }

    #[test]
    fn account_names_are_checked() {
        assert!(Account::parse("graphic-shape.studio").is_ok());
        for bad in ["", "has space", "å", &"a".repeat(65)] {
            assert!(Account::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn canonical_json_equals_the_sorted_map_for_every_type() {
        let lines = [
            r#"{"account":"a","type":"membership_purchased","date":"2024-01-01","data":{"offer":"action_pack","fee":{"currency":"USD","amount":"1.00"}}}"#,
            r#"{"account":"a","type":"membership_renewed","date":"2024-01-01","data":{"offer":"legacy_gold"}}"#,
            r#"{"account":"a","type":"business_profile_verified","date":"2024-01-01","data":{}}"#,
            r#"{"account":"a","type":"designation_qualified","date":"2024-01-01","data":{"solution_area":"security","score":80}}"#,
            r#"{"account":"a","type":"benefit_redeemed","date":"2024-01-01","data":{"offer":"action_pack","benefit":"marketing"}}"#,
            r#"{"account":"a","type":"token_issued","date":"2024-01-01","data":{"token":"T\"1\u0001é","product":"M365 ✓","seats":5,"offer":"action_pack"}}"#,
            r#"{"account":"a","type":"token_activated","date":"2024-01-01","data":{"token":"T","tenant":"t","seats":5}}"#,
            r#"{"account":"a","type":"replacement_token_issued","date":"2024-01-01","data":{"token":"T","replacement":"R","reason":"wrong_tenant"}}"#,
            r#"{"account":"a","type":"product_key_issued","date":"2024-01-01","data":{"key":"K","product":"P","activations":3,"kind":"mak","offer":"action_pack"}}"#,
            r#"{"account":"a","type":"product_key_activated","date":"2024-01-01","data":{"key":"K","machine":"m","hardware_changed":false}}"#,
            r#"{"account":"a","type":"vs_subscription_assigned","date":"2024-01-01","data":{"subscription":"S","level":"professional","user":"u@x","offer":"action_pack"}}"#,
            r#"{"account":"a","type":"vs_subscription_activated","date":"2024-01-01","data":{"subscription":"S"}}"#,
            r#"{"account":"a","type":"vs_subscription_unassigned","date":"2024-01-01","data":{"subscription":"S"}}"#,
            r#"{"account":"a","type":"accounts_merged","date":"2024-01-01","data":{"absorbed":"b"}}"#,
            r#"{"account":"a","type":"event_voided","date":"2024-01-01","data":{"event":"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f50","reason":"x"}}"#,
        ];
        for line in lines {
            let input = match InputEvent::parse_line(line) {
                Ok(i) => i,
                // Control characters are refused in text fields; the escaping is still checked
                // through the data of the other lines.
                Err(_) => InputEvent::parse_line(&line.replace("\\u0001", "")).unwrap(),
            };
            let event = Event {
                id: Uuid::nil(),
                account: input.account,
                date: input.date,
                recorded_at: parse_instant("2024-01-01T00:00:00Z").unwrap(),
                body: input.body,
            };
            let reference = Value::Object(body_map(7, 3, &event)).to_string();
            assert_eq!(canonical_body(7, 3, &event), reference, "{line}");
            let sealed = StoredEvent::seal(7, 3, event.clone(), ZERO_HASH);
            let mut map = body_map(7, 3, &event);
            map.insert("prev_hash".into(), Value::String(hex(&sealed.prev_hash)));
            map.insert("hash".into(), Value::String(hex(&sealed.hash)));
            assert_eq!(sealed.to_line(), Value::Object(map).to_string(), "{line}");
            // The line a seal gives is the line the event stores, with the same hash.
            for prev in [ZERO_HASH, [0xa7; 32]] {
                let with_line = StoredEvent::seal_line(7, 3, event.clone(), prev);
                let plain = StoredEvent::seal(7, 3, event.clone(), prev);
                assert_eq!(with_line.event(), &plain, "{line}");
                assert_eq!(with_line.line(), plain.to_line(), "{line}");
            }
        }
    }

    #[test]
    fn stored_line_round_trips_and_is_canonical() {
        let input = InputEvent::parse_line(&line(r#""data":{"offer":"action_pack","fee":null}"#))
            .expect("ok");
        let event = Event {
            id: input.id.expect("id"),
            account: input.account,
            date: input.date,
            recorded_at: input.recorded_at.expect("at"),
            body: input.body,
        };
        let s = StoredEvent::seal(1, 1, event, ZERO_HASH);
        let text = s.to_line();
        assert!(text.starts_with(
            r#"{"account":"contoso","data":{"offer":"action_pack"},"date":"2021-09-01","hash":""#
        ));
        assert!(text.contains(r#""recorded_at":"2021-09-01T10:00:00.000000Z""#));
        let back = StoredEvent::from_line(&text).expect("round trip");
        assert_eq!(back, s);
        assert_eq!(back.expected_hash(), s.hash);
    }
}
