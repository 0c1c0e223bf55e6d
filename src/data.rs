//! Reading a stored line's `data` by position, without serde.
//!
//! A store writes `data` canonically (`Body::data_json`): the payload's fields in their
//! declared (alphabetical) order, absent optional fields left out, no whitespace, integers
//! without sign or leading zeros, and strings with escapes only where JSON requires them.
//! [`read_body`] reads exactly that shape and nothing else: anything it does not expect (an
//! escape, a `null`, whitespace, another order, a float) gives `None`, and the caller reads the
//! line with serde instead, which also explains what is wrong. So where this reader answers, it
//! gives what serde gives (the fuzz target `parse_line` and `tests` below hold the two equal);
//! it only answers faster. Every query, `report` and `upcoming` decodes the `data` of each line
//! it folds, and serde's generic field matching was most of that.
//!
//! The values' own checks (`Body::check_values`: text, counts, the fee, the e-mail, the score,
//! the benefit) are the caller's, as after serde.

use uuid::Uuid;

use crate::event::{
    Account, BenefitType, Body, DesignationData, EventType, Fee, KeyActivatedData, KeyIssuedData,
    KeyKind, MembershipData, MergeData, Offer, RedemptionData, ReplacementData, SolutionArea,
    TokenActivatedData, TokenIssuedData, VoidData, VsAssignedData, VsLevel, VsSubscriptionData,
};

/// The payload of a `kind` event from its canonical `data`; None for anything else.
pub fn read_body(kind: EventType, data: &[u8]) -> Option<Body> {
    let mut r = Reader { rest: data };
    let body = match kind {
        EventType::MembershipPurchased => Body::MembershipPurchased(membership(&mut r)?),
        EventType::MembershipRenewed => Body::MembershipRenewed(membership(&mut r)?),
        EventType::BusinessProfileVerified => {
            r.literal(b"{")?;
            Body::BusinessProfileVerified
        }
        EventType::DesignationQualified => {
            let mut o = r.object()?;
            Body::DesignationQualified(DesignationData {
                score: o.field("score")?.number()?,
                solution_area: o.field("solution_area")?.name(SolutionArea::parse)?,
            })
        }
        EventType::BenefitRedeemed => {
            let mut o = r.object()?;
            Body::BenefitRedeemed(RedemptionData {
                benefit: o.field("benefit")?.name(BenefitType::parse)?,
                offer: o.optional_name("offer", Offer::parse)?,
            })
        }
        EventType::TokenIssued => {
            let mut o = r.object()?;
            Body::TokenIssued(TokenIssuedData {
                offer: o.optional_name("offer", Offer::parse)?,
                product: o.field("product")?.string()?,
                seats: o.field("seats")?.number()?,
                token: o.field("token")?.string()?,
            })
        }
        EventType::TokenActivated => {
            let mut o = r.object()?;
            Body::TokenActivated(TokenActivatedData {
                seats: o.field("seats")?.number()?,
                tenant: o.field("tenant")?.string()?,
                token: o.field("token")?.string()?,
            })
        }
        EventType::ReplacementTokenIssued => {
            let mut o = r.object()?;
            Body::ReplacementTokenIssued(ReplacementData {
                reason: o.field("reason")?.string()?,
                replacement: o.field("replacement")?.string()?,
                token: o.field("token")?.string()?,
            })
        }
        EventType::ProductKeyIssued => {
            let mut o = r.object()?;
            Body::ProductKeyIssued(KeyIssuedData {
                activations: o.field("activations")?.number()?,
                key: o.field("key")?.string()?,
                kind: o.field("kind")?.name(KeyKind::parse)?,
                offer: o.optional_name("offer", Offer::parse)?,
                product: o.field("product")?.string()?,
            })
        }
        EventType::ProductKeyActivated => {
            let mut o = r.object()?;
            let hardware_changed = match o.optional("hardware_changed") {
                Some(value) => Some(value.boolean()?),
                None => None,
            };
            Body::ProductKeyActivated(KeyActivatedData {
                hardware_changed,
                key: o.field("key")?.string()?,
                machine: o.field("machine")?.string()?,
            })
        }
        EventType::VsSubscriptionAssigned => {
            let mut o = r.object()?;
            Body::VsSubscriptionAssigned(VsAssignedData {
                level: o.field("level")?.name(VsLevel::parse)?,
                offer: o.optional_name("offer", Offer::parse)?,
                subscription: o.field("subscription")?.string()?,
                user: o.field("user")?.string()?,
            })
        }
        EventType::VsSubscriptionActivated => Body::VsSubscriptionActivated(subscription(&mut r)?),
        EventType::VsSubscriptionUnassigned => {
            Body::VsSubscriptionUnassigned(subscription(&mut r)?)
        }
        EventType::AccountsMerged => {
            let mut o = r.object()?;
            let absorbed = Account::parse(o.field("absorbed")?.text()?).ok()?;
            Body::AccountsMerged(MergeData { absorbed })
        }
        EventType::EventVoided => {
            let mut o = r.object()?;
            Body::EventVoided(VoidData {
                event: Uuid::try_parse_ascii(o.field("event")?.text()?.as_bytes()).ok()?,
                reason: o.field("reason")?.string()?,
            })
        }
    };
    r.literal(b"}")?;
    r.rest.is_empty().then_some(body)
}

fn membership(r: &mut Reader<'_>) -> Option<MembershipData> {
    let mut o = r.object()?;
    let fee = match o.optional("fee") {
        Some(value) => {
            let mut f = value.object()?;
            let fee = Fee {
                amount: f.field("amount")?.string()?,
                currency: f.field("currency")?.string()?,
            };
            value.literal(b"}")?;
            Some(fee)
        }
        None => None,
    };
    Some(MembershipData {
        fee,
        offer: o.field("offer")?.name(Offer::parse)?,
    })
}

fn subscription(r: &mut Reader<'_>) -> Option<VsSubscriptionData> {
    let mut o = r.object()?;
    Some(VsSubscriptionData {
        subscription: o.field("subscription")?.string()?,
    })
}

/// What is left of the text to read.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn literal(&mut self, literal: &[u8]) -> Option<()> {
        self.rest = self.rest.strip_prefix(literal)?;
        Some(())
    }

    /// The opening brace of an object, whose members are then read in order.
    fn object(&mut self) -> Option<Members<'_, 'a>> {
        self.literal(b"{")?;
        Some(Members {
            reader: self,
            first: true,
        })
    }

    /// A string, borrowed, when it has no backslash (an escape, valid or not, is left to
    /// serde) and no byte below 0x20 (JSON does not allow one unescaped).
    fn text(&mut self) -> Option<&'a str> {
        let rest = self.rest.strip_prefix(b"\"")?;
        let end = rest.iter().position(|&c| c == b'"')?;
        let (inside, after) = rest.split_at(end);
        if inside.iter().any(|&c| c == b'\\' || c < 0x20) {
            return None;
        }
        let text = std::str::from_utf8(inside).ok()?;
        self.rest = &after[1..];
        Some(text)
    }

    fn string(&mut self) -> Option<String> {
        self.text().map(str::to_owned)
    }

    /// One of an enumeration's names.
    fn name<T>(&mut self, parse: fn(&str) -> Option<T>) -> Option<T> {
        parse(self.text()?)
    }

    /// An integer as JSON writes it without sign, fraction or exponent, within `u64` (the
    /// canonical digits a stored line's seq and version use too).
    fn number(&mut self) -> Option<u64> {
        let digits = self.rest.iter().take_while(|c| c.is_ascii_digit()).count();
        let (text, after) = self.rest.split_at(digits);
        if matches!(after.first(), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        let n = crate::line::number(text)?;
        self.rest = after;
        Some(n)
    }

    fn boolean(&mut self) -> Option<bool> {
        if self.literal(b"true").is_some() {
            Some(true)
        } else {
            self.literal(b"false").map(|()| false)
        }
    }
}

/// The members of an object, read in the order the payload declares them.
struct Members<'r, 'a> {
    reader: &'r mut Reader<'a>,
    first: bool,
}

impl<'a> Members<'_, 'a> {
    /// `"name":` (after a comma unless it is the first member): the reader at its value.
    /// A required member reads as an optional one that must be there; a member that is there
    /// but misspelt or out of order is not, and then the next member or the closing brace
    /// fails to match.
    fn field(&mut self, name: &str) -> Option<&mut Reader<'a>> {
        self.optional(name)
    }

    /// The member `name` if it comes next (the reader at its value), else None and nothing
    /// read.
    fn optional(&mut self, name: &str) -> Option<&mut Reader<'a>> {
        let rest = self.reader.rest;
        let rest = if self.first {
            rest
        } else {
            rest.strip_prefix(b",")?
        };
        let rest = rest.strip_prefix(b"\"")?.strip_prefix(name.as_bytes())?;
        self.reader.rest = rest.strip_prefix(b"\":")?;
        self.first = false;
        Some(self.reader)
    }

    /// An optional member holding one of an enumeration's names: `Some(None)` when absent,
    /// None when present but not a name.
    fn optional_name<T>(&mut self, name: &str, parse: fn(&str) -> Option<T>) -> Option<Option<T>> {
        match self.optional(name) {
            Some(value) => value.name(parse).map(Some),
            None => Some(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serde_reads(kind: EventType, data: &str) -> Option<Body> {
        Body::parse(kind, data).ok()
    }

    /// Whatever the positional reader accepts, serde reads the same: the same body, or the
    /// same refusal by the values' own checks, which both leave to the caller.
    fn agree(kind: EventType, data: &str) {
        if let Some(fast) = read_body(kind, data.as_bytes()) {
            match Body::parse(kind, data) {
                Ok(slow) => assert_eq!(fast, slow, "{kind} {data}"),
                Err(e) => assert_eq!(
                    fast.check_values(),
                    Err(e),
                    "read {data:?} as {kind}; serde refused it"
                ),
            }
        }
    }

    #[test]
    fn every_canonical_payload_reads_as_serde_reads_it() {
        let cases: &[(EventType, &str)] = &[
            (
                EventType::MembershipPurchased,
                r#"{"fee":{"amount":"515.00","currency":"USD"},"offer":"action_pack"}"#,
            ),
            (
                EventType::MembershipRenewed,
                r#"{"offer":"solutions_partner"}"#,
            ),
            (EventType::BusinessProfileVerified, "{}"),
            (
                EventType::DesignationQualified,
                r#"{"score":88,"solution_area":"modern_work"}"#,
            ),
            (
                EventType::DesignationQualified,
                r#"{"score":0,"solution_area":"security"}"#,
            ),
            (
                EventType::BenefitRedeemed,
                r#"{"benefit":"azure_credits","offer":"action_pack"}"#,
            ),
            (EventType::BenefitRedeemed, r#"{"benefit":"marketing"}"#),
            (
                EventType::TokenIssued,
                r#"{"offer":"solutions_partner","product":"Microsoft 365 Business Premium","seats":50,"token":"T-44895-1"}"#,
            ),
            (
                EventType::TokenIssued,
                r#"{"product":"Ö365 — ünïcode","seats":1,"token":"T-1"}"#,
            ),
            (
                EventType::TokenActivated,
                r#"{"seats":50,"tenant":"fabrikam.onmicrosoft.com","token":"T-45521-1"}"#,
            ),
            (
                EventType::ReplacementTokenIssued,
                r#"{"reason":"wrong_tenant","replacement":"T-2840-2","token":"T-2840-1"}"#,
            ),
            (
                EventType::ProductKeyIssued,
                r#"{"activations":6,"key":"K-45020-2","kind":"mak","offer":"solutions_partner","product":"Windows 11 Pro"}"#,
            ),
            (
                EventType::ProductKeyIssued,
                r#"{"activations":1,"key":"K-1","kind":"single","product":"Windows"}"#,
            ),
            (
                EventType::ProductKeyActivated,
                r#"{"key":"K-45464-1","machine":"host-02"}"#,
            ),
            (
                EventType::ProductKeyActivated,
                r#"{"hardware_changed":true,"key":"K-1","machine":"host-02"}"#,
            ),
            (
                EventType::ProductKeyActivated,
                r#"{"hardware_changed":false,"key":"K-1","machine":"host-02"}"#,
            ),
            (
                EventType::VsSubscriptionAssigned,
                r#"{"level":"professional","offer":"action_pack","subscription":"VS-45274-2","user":"dev2@alpine.example"}"#,
            ),
            (
                EventType::VsSubscriptionAssigned,
                r#"{"level":"enterprise","subscription":"VS-1","user":"a@b.example"}"#,
            ),
            (
                EventType::VsSubscriptionActivated,
                r#"{"subscription":"VS-44674-1"}"#,
            ),
            (
                EventType::VsSubscriptionUnassigned,
                r#"{"subscription":"VS-2519-3"}"#,
            ),
            (EventType::AccountsMerged, r#"{"absorbed":"contoso-eu"}"#),
            (
                EventType::EventVoided,
                r#"{"event":"e9a55311-e77f-422e-92d5-b948cf966817","reason":"entered twice"}"#,
            ),
        ];
        for &(kind, data) in cases {
            let fast = read_body(kind, data.as_bytes())
                .unwrap_or_else(|| panic!("the positional reader refused {kind} {data}"));
            assert_eq!(Some(fast.clone()), serde_reads(kind, data), "{kind} {data}");
            // And it is the form a store writes for that payload.
            assert_eq!(fast.data_json(), data, "{kind}");
        }
        for kind in EventType::ALL {
            assert!(cases.iter().any(|&(k, _)| k == *kind), "no case for {kind}");
        }
    }

    #[test]
    fn what_is_not_the_canonical_shape_is_left_to_serde() {
        let left: &[(EventType, &str)] = &[
            // Escapes, even where serde would read the same value.
            (
                EventType::MembershipRenewed,
                r#"{"offer":"action\u005fpack"}"#,
            ),
            (
                EventType::TokenActivated,
                r#"{"seats":1,"tenant":"a\"b","token":"T"}"#,
            ),
            (
                EventType::VsSubscriptionActivated,
                r#"{"subscription":"VS\u00411"}"#,
            ),
            (
                EventType::VsSubscriptionActivated,
                r#"{"subscription":"VS\/1"}"#,
            ),
            // Whitespace, another order, null, trailing text.
            (EventType::MembershipRenewed, r#"{ "offer":"action_pack"}"#),
            (EventType::MembershipRenewed, r#"{"offer":"action_pack"} "#),
            (
                EventType::TokenActivated,
                r#"{"tenant":"t","seats":1,"token":"T"}"#,
            ),
            (
                EventType::BenefitRedeemed,
                r#"{"benefit":"marketing","offer":null}"#,
            ),
            (EventType::MembershipRenewed, r#"{"offer":"action_pack"}x"#),
            // Numbers JSON writes otherwise, or that do not fit.
            (
                EventType::DesignationQualified,
                r#"{"score":088,"solution_area":"security"}"#,
            ),
            (
                EventType::DesignationQualified,
                r#"{"score":8.0,"solution_area":"security"}"#,
            ),
            (
                EventType::DesignationQualified,
                r#"{"score":8e1,"solution_area":"security"}"#,
            ),
            (
                EventType::DesignationQualified,
                r#"{"score":-0,"solution_area":"security"}"#,
            ),
            (
                EventType::TokenActivated,
                r#"{"seats":18446744073709551616,"tenant":"t","token":"T"}"#,
            ),
            // Unknown members, names and a missing member.
            (EventType::BusinessProfileVerified, r#"{"x":1}"#),
            (EventType::MembershipRenewed, r#"{"offer":"gold"}"#),
            (EventType::TokenActivated, r#"{"seats":1,"token":"T"}"#),
            (EventType::AccountsMerged, r#"{"absorbed":"no spaces"}"#),
            (
                EventType::EventVoided,
                r#"{"event":"not-a-uuid","reason":"r"}"#,
            ),
            // A control character inside a string (JSON requires it escaped).
            (
                EventType::VsSubscriptionActivated,
                "{\"subscription\":\"VS\t1\"}",
            ),
        ];
        for &(kind, data) in left {
            assert_eq!(read_body(kind, data.as_bytes()), None, "{kind} {data}");
            agree(kind, data);
        }
        // Bytes that are not UTF-8 inside a string.
        let mut bad = br#"{"subscription":"VS-"#.to_vec();
        bad.extend_from_slice(&[0xff, b'"', b'}']);
        assert_eq!(read_body(EventType::VsSubscriptionActivated, &bad), None);
    }

    #[test]
    fn the_two_readers_agree_on_damaged_payloads() {
        // Every payload above with each byte removed, doubled, or replaced by one of JSON's
        // significant characters: the positional reader either refuses or reads what serde
        // reads.
        let payloads = [
            (
                EventType::MembershipPurchased,
                r#"{"fee":{"amount":"515.00","currency":"USD"},"offer":"action_pack"}"#,
            ),
            (
                EventType::ProductKeyIssued,
                r#"{"activations":16,"key":"K-45020-2","kind":"mak","offer":"solutions_partner","product":"Windows 11 Pro"}"#,
            ),
            (
                EventType::ProductKeyActivated,
                r#"{"hardware_changed":true,"key":"K-1","machine":"host-02"}"#,
            ),
            (
                EventType::EventVoided,
                r#"{"event":"e9a55311-e77f-422e-92d5-b948cf966817","reason":"entered twice"}"#,
            ),
            (EventType::BusinessProfileVerified, "{}"),
        ];
        let replacements = b"{}[]\":,\\ 0129.e-tfnulx\x00\x7f";
        let mut read = 0;
        for (kind, data) in payloads {
            let bytes = data.as_bytes();
            for i in 0..=bytes.len() {
                let mut variants = Vec::new();
                if i < bytes.len() {
                    variants.push([&bytes[..i], &bytes[i + 1..]].concat());
                    variants.push([&bytes[..=i], &bytes[i..]].concat());
                    for &c in replacements {
                        variants.push([&bytes[..i], &[c], &bytes[i + 1..]].concat());
                    }
                }
                for &c in replacements {
                    variants.push([&bytes[..i], &[c], &bytes[i..]].concat());
                }
                for v in variants {
                    let Ok(text) = std::str::from_utf8(&v) else {
                        continue;
                    };
                    if read_body(kind, &v).is_some() {
                        read += 1;
                    }
                    agree(kind, text);
                }
            }
        }
        // Some damage leaves a canonical payload (a digit for a digit, a letter in a string),
        // so both readers were exercised.
        assert!(read > 100, "only {read} variants were read");
    }
}
