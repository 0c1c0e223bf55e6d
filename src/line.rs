//! Reading a stored line's envelope without decoding its event.
//!
//! A stored line is canonical JSON with its members in a fixed order:
//!
//! ```text
//! {"account":"A","data":{…},"date":"D","hash":"H","id":"I","prev_hash":"P","recorded_at":"R","seq":S,"type":"T","version":V}
//! ```
//!
//! Everything after `data` has a fixed shape without escapes, so it is read backwards from the
//! end of the line, and the account (which needs no escaping) forwards from the start; `data`
//! is what lies between. [`LineView::body_hash`] hashes the exact stored bytes less the two
//! hash members — the body the chain covers — so a line whose recomputed hash matches its
//! stored hash is byte for byte the line that was sealed. This is what makes `verify` fast: it
//! checks the chain over the stored bytes instead of decoding and re-encoding every event
//! (`verify --deep` still does that too).
//!
//! A stream copy keeps each line in its *copy form*: the stored line less its two hash
//! members, i.e. exactly the body the chain covers (`{"account":…,"date":"D","id":"I",
//! "recorded_at":…}`). The hashes are the one part of a line that does not compress (half of
//! a packed copy); the chain lives in the log. A copy line hashed after the log's hash of the
//! line before gives the log's hash of its seq ([`LineView::body_hash_after`]); `verify`
//! compares a cheaper keyed fingerprint of the two bodies (`sled_store/fingerprint.rs`).

use std::ops::Range;

use sha2::{Digest, Sha256};

use crate::event::Hash;

/// The envelope of a stored line, borrowed from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineView<'a> {
    line: &'a [u8],
    pub account: &'a str,
    pub data: &'a [u8],
    pub date: &'a [u8],
    /// The stored hashes as they are written: 64 hex digits (compared as text, never parsed);
    /// empty in the copy form ([`LineView::parse_copy`]).
    pub hash_hex: &'a [u8],
    pub prev_hash_hex: &'a [u8],
    pub id: &'a [u8],
    pub recorded_at: &'a [u8],
    pub seq: u64,
    pub event_type: &'a [u8],
    pub version: u64,
    /// `,"hash":"…"` and `,"prev_hash":"…"` within the line (empty at its start in the copy
    /// form).
    hash_member: Range<usize>,
    prev_member: Range<usize>,
}

/// The members of a line between `data` and `recorded_at` (the hashes empty in the copy form).
#[derive(Default)]
struct Members<'a> {
    prev_hash: &'a [u8],
    prev_member: Range<usize>,
    id: &'a [u8],
    hash: &'a [u8],
    hash_member: Range<usize>,
    date: &'a [u8],
    data: &'a [u8],
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, as `event::format_instant` writes every recorded_at.
const STORED_INSTANT_WIDTH: usize = 27;

/// Reads backwards from `end`.
struct Back<'a> {
    line: &'a [u8],
    end: usize,
}

impl<'a> Back<'a> {
    fn expect(&mut self, literal: &[u8]) -> Option<()> {
        let start = self.end.checked_sub(literal.len())?;
        (self.line.get(start..self.end)? == literal).then(|| self.end = start)
    }

    /// The run of bytes satisfying `ok` that ends here (at least one).
    fn take_while(&mut self, ok: impl Fn(u8) -> bool) -> Option<&'a [u8]> {
        let before = self.line.get(..self.end)?;
        let n = before.iter().rev().take_while(|&&c| ok(c)).count();
        let start = self.end - n;
        (n > 0).then(|| {
            self.end = start;
            &before[start..]
        })
    }

    /// The run of bytes back to the previous `"` (at least one): `take_while(|c| c != b'"')`,
    /// trying first whether the run is `width` long (every stored instant is), which finds
    /// the quote without looking at each byte in turn.
    fn until_quote(&mut self, width: usize) -> Option<&'a [u8]> {
        let before = self.line.get(..self.end)?;
        match self.end.checked_sub(width + 1) {
            Some(q) if width > 0 && before[q] == b'"' && !before[q + 1..].contains(&b'"') => {
                self.end = q + 1;
                Some(&before[q + 1..])
            }
            _ => self.take_while(|c| c != b'"'),
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let start = self.end.checked_sub(n)?;
        let out = self.line.get(start..self.end)?;
        self.end = start;
        Some(out)
    }

    /// `,"key":"VALUE"` whose value is `n` bytes (no escapes), returning the value.
    fn string(&mut self, key: &[u8], n: usize) -> Option<&'a [u8]> {
        self.expect(b"\"")?;
        let value = self.take(n)?;
        self.expect(key)?;
        Some(value)
    }
}

/// The canonical decimal `digits` (no leading zero), within u64.
pub(crate) fn number(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || digits.len() > 1 && digits[0] == b'0' {
        return None; // not canonical
    }
    digits.iter().try_fold(0u64, |n, &c| {
        let digit = c.checked_sub(b'0').filter(|d| *d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// The version of a stored or copy-form line that is `account`'s own event, read from its
/// first member and its last alone; None for another account's line (or another shape). For a
/// line known to be the log's (`verify` matches a copy line to the log by its fingerprint
/// first), this is what reading its whole envelope gives.
pub(crate) fn own_version(line: &[u8], account: &[u8]) -> Option<u64> {
    let rest = line
        .strip_prefix(b"{\"account\":\"")?
        .strip_prefix(account)?;
    if rest.first() != Some(&b'"') {
        return None;
    }
    let members = line.strip_suffix(b"}")?;
    let digits = members.iter().rposition(|c| !c.is_ascii_digit())? + 1;
    members[..digits].strip_suffix(b",\"version\":")?;
    number(&members[digits..])
}

impl<'a> LineView<'a> {
    /// The envelope, or None when the line does not have the stored form.
    pub fn parse(line: &'a [u8]) -> Option<LineView<'a>> {
        LineView::parse_form(line, false)
    }

    /// The envelope of a stream copy's line: the stored form, or the copy form (without the
    /// two hash members, which [`LineView::is_sealed`] tells apart).
    pub fn parse_copy(line: &'a [u8]) -> Option<LineView<'a>> {
        LineView::parse_form(line, true)
    }

    /// Whether the line carries its hashes (the stored form, not the copy form).
    pub fn is_sealed(&self) -> bool {
        !self.hash_hex.is_empty()
    }

    fn parse_form(line: &'a [u8], copy_form: bool) -> Option<LineView<'a>> {
        let rest = line.strip_prefix(b"{\"account\":\"")?;
        let name_len = rest.iter().position(|&b| b == b'"')?;
        let account = std::str::from_utf8(&rest[..name_len]).ok()?;
        let data_start = 12 + name_len + b"\",\"data\":".len();
        if line.get(12 + name_len..data_start)? != b"\",\"data\":" {
            return None;
        }

        let mut b = Back {
            line,
            end: line.len(),
        };
        b.expect(b"}")?;
        let version = number(b.take_while(|c| c.is_ascii_digit())?)?;
        b.expect(b",\"version\":")?;
        b.expect(b"\"")?;
        let event_type = b.take_while(|c| c.is_ascii_lowercase() || c == b'_')?;
        b.expect(b",\"type\":\"")?;
        let seq = number(b.take_while(|c| c.is_ascii_digit())?)?;
        b.expect(b",\"seq\":")?;
        b.expect(b"\"")?;
        let recorded_at = b.until_quote(STORED_INSTANT_WIDTH)?;
        b.expect(b",\"recorded_at\":\"")?;
        let prev_end = b.end;
        // The members before recorded_at, with their hashes or (a copy) without; a copy line
        // that does not read with them is read again without.
        let members = |sealed: bool| {
            let mut b = Back {
                line,
                end: prev_end,
            };
            let mut m = Members::default();
            if sealed {
                m.prev_hash = b.string(b",\"prev_hash\":\"", 64)?;
                m.prev_member = b.end..prev_end;
            }
            m.id = b.string(b",\"id\":\"", 36)?;
            if sealed {
                let hash_end = b.end;
                m.hash = b.string(b",\"hash\":\"", 64)?;
                m.hash_member = b.end..hash_end;
            }
            m.date = b.string(b",\"date\":\"", 10)?;
            m.data = line.get(data_start..b.end)?;
            (m.data.first() == Some(&b'{') && m.data.last() == Some(&b'}')).then_some(m)
        };
        let Members {
            prev_hash,
            prev_member,
            id,
            hash,
            hash_member,
            date,
            data,
        } = members(true).or_else(|| members(false).filter(|_| copy_form))?;
        Some(LineView {
            line,
            account,
            data,
            date,
            hash_hex: hash,
            prev_hash_hex: prev_hash,
            id,
            recorded_at,
            seq,
            event_type,
            version,
            hash_member,
            prev_member,
        })
    }

    /// SHA-256(hex(prev_hash) ‖ the line without its two hash members): the hash the line
    /// must carry (`event::chain_hash` over the canonical body, computed on the stored bytes).
    pub fn body_hash(&self) -> Hash {
        self.body_hash_after(self.prev_hash_hex)
    }

    /// SHA-256(`prev_hex` ‖ the line without its hash members): the hash of a line in the
    /// copy form, given the hex of the hash of the line before it in the log.
    pub fn body_hash_after(&self, prev_hex: &[u8]) -> Hash {
        let mut h = Sha256::new();
        h.update(prev_hex);
        for part in self.body_parts() {
            h.update(part);
        }
        h.finalize().into()
    }

    /// The line without its two hash members, in three pieces: the copy form.
    pub fn body_parts(&self) -> [&'a [u8]; 3] {
        let line: &'a [u8] = self.line;
        [
            &line[..self.hash_member.start],
            &line[self.hash_member.end..self.prev_member.start],
            &line[self.prev_member.end..],
        ]
    }

    /// Whether the stored hash is the hash of the stored bytes (see [`LineView::body_hash`]).
    pub fn hash_holds(&self) -> bool {
        hex_equals(&self.body_hash(), self.hash_hex)
    }

    /// The account an `accounts_merged` line absorbed (its data is `{"absorbed":"NAME"}`).
    pub fn absorbed(&self) -> Option<&'a str> {
        if self.event_type != b"accounts_merged" {
            return None;
        }
        let name = self
            .data
            .strip_prefix(b"{\"absorbed\":\"")?
            .strip_suffix(b"\"}")?;
        std::str::from_utf8(name).ok()
    }
}

/// The copy form's invariants on one line, for the fuzzer and its replay by `cargo test`
/// (`tests/fuzz_regressions.rs`): the copies' reader ([`LineView::parse_copy`]) reads a stored
/// line as the stored reader does and a line without hash members only whole, and the copy
/// form of every valid stored line reads back with the same envelope and, through its only
/// decoder ([`StoredEvent::from_copy_line`](crate::event::StoredEvent::from_copy_line)), the
/// same event. Err names the first that fails.
#[doc(hidden)]
pub fn copy_form_holds(line: &str) -> Result<(), String> {
    use crate::event::StoredEvent;
    let fails = |what: &str| Err(format!("{what}: {line:?}"));
    let bytes = line.as_bytes();
    if let Some(view) = LineView::parse_copy(bytes) {
        let strict = LineView::parse(bytes);
        if view.is_sealed() && strict.as_ref() != Some(&view) {
            return fails("the copy reader reads a stored line otherwise");
        }
        if !view.is_sealed() && (strict.is_some() || view.body_parts().concat() != bytes) {
            return fails("a line without hashes is not read whole");
        }
    }
    // A stored line in the canonical shape, with data that is valid (a copy holds no other).
    let stored = StoredEvent::from_line(line).ok();
    if let (Some(view), Some(stored)) = (LineView::parse(bytes), stored) {
        let copy = view.body_parts().concat();
        let Some(back) = LineView::parse_copy(&copy).filter(|b| !b.is_sealed()) else {
            return fails("the copy form of a stored line does not read");
        };
        let same = (back.seq, back.version, back.account, back.id)
            == (view.seq, view.version, view.account, view.id)
            && (back.data, back.date) == (view.data, view.date);
        if !same {
            return fails("the copy form reads another envelope");
        }
        match StoredEvent::from_copy_line(&copy) {
            Some(read)
                if (read.seq, read.version, &read.event)
                    == (stored.seq, stored.version, &stored.event) => {}
            _ => return fails("the copy form does not decode to the stored event"),
        }
    }
    Ok(())
}

/// Whether `hex` is the lower-case hex form of `hash`: `hash` written out and compared, which
/// takes half the instructions of reading `hex` (twice per line in `verify`).
pub fn hex_equals(hash: &Hash, hex: &[u8]) -> bool {
    crate::event::hex_digits(hash).as_slice() == hex
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::domain::Catalog;
    use crate::event::{parse_hex, Event, InputEvent, StoredEvent, ZERO_HASH};

    #[test]
    fn hex_equals_agrees_with_reading_the_hex() {
        let mut next = crate::event::tests::xorshift(0x9E37_79B9_7F4A_7C15);
        for round in 0..200 {
            let mut hash = ZERO_HASH;
            hash.iter_mut().for_each(|b| *b = next() as u8);
            let hex = crate::event::hex_digits(&hash);
            assert!(hex_equals(&hash, &hex));
            // Any one digit changed (to another digit, upper case or a non-digit), a digit
            // short or one too many: unequal, exactly where reading it gives another hash.
            let at = round % 64;
            for c in [b'0', b'9', b'a', b'f', b'A', b'F', b'g', b' ', 0xff] {
                let mut changed = hex;
                changed[at] = c;
                let expected = parse_hex(&changed) == Some(hash);
                assert_eq!(hex_equals(&hash, &changed), expected, "{c} at {at}");
                assert_eq!(expected, c == hex[at]);
            }
            assert!(!hex_equals(&hash, &hex[..63]));
            assert!(!hex_equals(&hash, &[&hex[..], b"0"].concat()));
            assert!(!hex_equals(&hash, b""));
        }
    }

    fn event(line: &str) -> Event {
        let input = InputEvent::parse_line(line).unwrap();
        let (id, recorded_at) = (input.id.unwrap(), input.recorded_at.unwrap());
        input.into_event(id, recorded_at).event().clone()
    }

    #[test]
    fn every_generated_line_reads_back_and_hashes_like_the_chain() {
        let mut prev = ZERO_HASH;
        let mut versions = std::collections::HashMap::new();
        let mut types = std::collections::BTreeSet::new();
        let mut out = Vec::new();
        crate::gen::write_ledger(&mut out, 400, 3, 2, &Catalog::default_catalog()).unwrap();
        let text = String::from_utf8(out).unwrap();
        for (i, input) in text.lines().enumerate() {
            let event = event(input);
            let v = versions.entry(event.account.clone()).or_insert(0u64);
            *v += 1;
            let stored = StoredEvent::seal(i as u64 + 1, *v, event.clone(), prev);
            // Sealing with the line gives the same event and exactly its stored line.
            let sealed = StoredEvent::seal_line(i as u64 + 1, *v, event, prev);
            // So does sealing the parsed input, whose start the parsing wrote (what `append`
            // seals), and the copy form it brings is the line less its hashes.
            let parsed = InputEvent::parse_line(input).unwrap();
            let (id, at) = (parsed.id.unwrap(), parsed.recorded_at.unwrap());
            let (from_input, from_input_line, copy) = parsed
                .into_event(id, at)
                .seal(i as u64 + 1, *v, prev)
                .0
                .into_parts();
            prev = stored.hash;
            let line = stored.to_line();
            assert_eq!(sealed.event(), &stored);
            assert_eq!(sealed.line(), line);
            assert_eq!(from_input, stored);
            assert_eq!(from_input_line, line);
            let view = LineView::parse(line.as_bytes()).expect(&line);
            assert_eq!(copy.as_bytes(), view.body_parts().concat());
            assert_eq!(view.account, stored.event.account.as_str());
            assert_eq!(view.seq, stored.seq);
            assert_eq!(view.version, stored.version);
            assert!(hex_equals(&stored.hash, view.hash_hex));
            assert!(hex_equals(&stored.prev_hash, view.prev_hash_hex));
            assert_eq!(view.id, stored.event.id.to_string().as_bytes());
            assert_eq!(
                view.event_type,
                stored.event.event_type().as_str().as_bytes()
            );
            assert_eq!(view.body_hash(), stored.expected_hash());
            assert!(view.hash_holds());
            let absorbed = match &stored.event.body {
                crate::event::Body::AccountsMerged(m) => Some(m.absorbed.as_str()),
                _ => None,
            };
            assert_eq!(view.absorbed(), absorbed);
            types.insert(view.event_type.to_vec());

            // The copy form is the body the chain covers: the canonical line without hashes.
            let copy = view.body_parts().concat();
            let body =
                crate::event::canonical_json(stored.seq, stored.version, &stored.event, None);
            assert_eq!(copy, body.as_bytes());
            assert!(
                LineView::parse(&copy).is_none(),
                "the stored form needs its hashes"
            );
            let copy_view = LineView::parse_copy(&copy).expect(&body);
            assert!(!copy_view.is_sealed());
            assert!(LineView::parse_copy(line.as_bytes()).is_some_and(|v| v.is_sealed()));
            assert_eq!(copy_view.seq, view.seq);
            assert_eq!(copy_view.account, view.account);
            assert_eq!(copy_view.id, view.id);
            assert_eq!(copy_view.recorded_at, view.recorded_at);
            assert_eq!(copy_view.data, view.data);
            assert_eq!(copy_view.body_parts().concat(), copy);
            let prev_hex = crate::event::hex_digits(&stored.prev_hash);
            assert_eq!(copy_view.body_hash_after(&prev_hex), stored.hash);
            let read = StoredEvent::from_view(&copy_view, None).expect(&body);
            assert_eq!(read.event, stored.event);
            assert_eq!((read.seq, read.version), (stored.seq, stored.version));
            assert_eq!((read.prev_hash, read.hash), (ZERO_HASH, ZERO_HASH));

            // Its own account's version, from the first and last members alone.
            let name = view.account.as_bytes();
            for form in [line.as_bytes(), &copy[..]] {
                assert_eq!(own_version(form, name), Some(view.version));
                assert_eq!(own_version(form, &name[..name.len() - 1]), None);
                assert_eq!(own_version(form, &[name, b"0"].concat()), None);
                assert_eq!(own_version(form, b"other"), None);
                assert_eq!(own_version(&form[..form.len() - 1], name), None);
            }
        }
        assert_eq!(types.len(), 15, "every event type is covered: {types:?}");
    }

    #[test]
    fn own_version_reads_only_a_canonical_version_member() {
        let line = |end: &str| format!("{{\"account\":\"a\",\"data\":{{}},{end}");
        let cases = [
            ("\"type\":\"x\",\"version\":7}", Some(7)),
            ("\"version\":18446744073709551615}", Some(u64::MAX)),
            ("\"version\":18446744073709551616}", None),
            ("\"version\":07}", None),
            ("\"version\":}", None),
            ("\"version\":7", None),
            ("\"versions\":7}", None),
            ("\"version\":7 }", None),
            ("\"version\":-7}", None),
        ];
        for (end, expected) in cases {
            assert_eq!(own_version(line(end).as_bytes(), b"a"), expected, "{end}");
        }
        assert_eq!(own_version(b"", b"a"), None);
        assert_eq!(own_version(b"{\"account\":\"a\"", b"a"), None);
    }

    #[test]
    fn a_changed_byte_changes_the_body_hash_or_the_shape() {
        let stored = StoredEvent::seal(
            7,
            1,
            event(
                r#"{"id":"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f50","account":"contoso","type":"membership_purchased","date":"2021-09-01","recorded_at":"2021-09-01T10:00:00Z","data":{"offer":"action_pack","fee":{"amount":"515.00","currency":"USD"}}}"#,
            ),
            ZERO_HASH,
        );
        let line = stored.to_line().into_bytes();
        for at in 0..line.len() {
            let mut bad = line.clone();
            bad[at] ^= 0x01;
            if let Some(view) = LineView::parse(&bad) {
                assert!(
                    !view.hash_holds() || !hex_equals(&stored.hash, view.hash_hex),
                    "flipping byte {at} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn a_changed_byte_of_a_copy_form_line_changes_its_hash_or_its_shape() {
        let prev = [7u8; 32];
        let stored = StoredEvent::seal(
            8,
            2,
            event(
                r#"{"id":"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f51","account":"contoso","type":"membership_purchased","date":"2021-09-01","recorded_at":"2021-09-01T10:00:00Z","data":{"offer":"action_pack","fee":{"amount":"515.00","currency":"USD"}}}"#,
            ),
            prev,
        );
        let line = stored.to_line().into_bytes();
        let copy = LineView::parse(&line).unwrap().body_parts().concat();
        let prev_hex = crate::event::hex_digits(&prev);
        for at in 0..copy.len() {
            let mut bad = copy.clone();
            bad[at] ^= 0x01;
            if let Some(view) = LineView::parse_copy(&bad) {
                assert_ne!(
                    view.body_hash_after(&prev_hex),
                    stored.hash,
                    "flipping byte {at} went unnoticed"
                );
            }
        }
    }

    #[test]
    fn numbers_are_read_as_str_parse_reads_canonical_ones() {
        for n in [
            0,
            1,
            9,
            10,
            1_042_130,
            u64::from(u32::MAX) + 1,
            u64::MAX - 1,
            u64::MAX,
        ] {
            assert_eq!(number(n.to_string().as_bytes()), Some(n));
        }
        for bad in [
            "",
            "01",
            "00",
            "18446744073709551616",
            "99999999999999999999",
            "1a",
            "-1",
            "+1",
            " 1",
        ] {
            assert_eq!(number(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn recorded_at_of_any_width_reads_back_to_the_quote_before_it() {
        let stored = StoredEvent::seal(
            3,
            1,
            event(
                r#"{"id":"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f50","account":"contoso","type":"business_profile_verified","date":"2021-09-01","recorded_at":"2021-09-01T10:00:00Z","data":{}}"#,
            ),
            ZERO_HASH,
        );
        let line = stored.to_line();
        let value = "2021-09-01T10:00:00.000000Z";
        assert!(line.contains(value) && value.len() == STORED_INSTANT_WIDTH);
        let mut others = vec![
            String::new(),
            "x".to_string(),
            value[1..].to_string(),
            format!("{value}0"),
        ];
        // A quote at every place of a value of the stored width, and of one more.
        for at in 0..STORED_INSTANT_WIDTH {
            let mut v = value.to_string();
            v.replace_range(at..=at, "\"");
            others.push(v);
        }
        for at in 0..=STORED_INSTANT_WIDTH {
            let mut v = format!("0{value}");
            v.replace_range(at..=at, "\"");
            others.push(v);
        }
        for other in others {
            let changed = line.replace(value, &other);
            let expected = changed
                .rsplit_once("\",\"seq\":")
                .and_then(|(head, _)| head.rsplit_once('"'))
                .map(|(_, v)| v.as_bytes())
                .filter(|v| !v.is_empty());
            let read = LineView::parse(changed.as_bytes()).map(|v| v.recorded_at);
            match expected {
                // The value ends at the nearest quote; what is left must still have the form.
                Some(v) if !other.contains('"') => assert_eq!(read, Some(v), "{other:?}"),
                Some(v) => assert!(read.is_none_or(|r| r == v), "{other:?}"),
                None => assert_eq!(read, None, "{other:?}"),
            }
        }
        assert_eq!(
            LineView::parse(line.as_bytes()).map(|v| v.recorded_at),
            Some(value.as_bytes())
        );
    }

    #[test]
    fn malformed_lines_are_refused_not_panicked_on() {
        for bad in [
            &b""[..],
            b"{",
            b"{\"account\":\"",
            b"{\"account\":\"a\",\"data\":}",
            b"{\"account\":\"a\",\"data\":{},\"seq\":01,\"type\":\"x\",\"version\":1}",
            // The copy form with the id cut short, and with a prev_hash but no hash member.
            b"{\"account\":\"a\",\"data\":{},\"date\":\"2024-01-01\",\"id\":\"7f3c\",\"recorded_at\":\"2024-01-01T00:00:00.000000Z\",\"seq\":1,\"type\":\"x\",\"version\":1}",
            b"{\"account\":\"a\",\"data\":{},\"date\":\"2024-01-01\",\"id\":\"7f3c2a9e-5b1d-4c6e-9a8f-0b1c2d3e4f50\",\"prev_hash\":\"0000000000000000000000000000000000000000000000000000000000000000\",\"recorded_at\":\"2024-01-01T00:00:00.000000Z\",\"seq\":1,\"type\":\"x\",\"version\":1}",
        ] {
            assert!(LineView::parse(bad).is_none());
            assert!(LineView::parse_copy(bad).is_none());
        }
    }
}
