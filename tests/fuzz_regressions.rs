//! Regressions from fuzzing (`fuzz/`), run by plain `cargo test`.
//!
//! The fuzz targets' invariants, replayed here on the committed seed corpus and on inputs
//! worth pinning. A crash found by `cargo fuzz` becomes a test below, named after what it
//! proves, with the input inline.

use std::io::BufReader;
use std::path::Path;

use partner_ledger::event::{InputEvent, StoredEvent};
use partner_ledger::input::EventLines;
use partner_ledger::line::LineView;

/// The `parse_line` target's invariants on one fuzz input (first byte: reader buffer size).
fn check_parse_line_input(data: &[u8]) {
    let Some((&first, input)) = data.split_first() else {
        return;
    };
    let whole: Vec<_> = EventLines::new(input).map(|l| (l.line, l.parsed)).collect();
    let capacity = usize::from(first % 64) + 1;
    let chunked: Vec<_> = EventLines::new(BufReader::with_capacity(capacity, input))
        .map(|l| (l.line, l.parsed))
        .collect();
    assert_eq!(
        whole, chunked,
        "buffer size {capacity} changed what was read"
    );
    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    for line in std::iter::once(text).chain(text.split('\n')) {
        let _ = InputEvent::parse_line(line);
        if let Err(e) = partner_ledger::line::copy_form_holds(line) {
            panic!("{e}");
        }
        if let Ok(stored) = StoredEvent::from_line(line) {
            let written = stored.to_line();
            let back = StoredEvent::from_line(&written).expect("to_line output parses");
            assert_eq!(back, stored);
            assert_eq!(back.to_line(), written);
        }
    }
}

#[test]
fn parse_line_seed_corpus_keeps_the_fuzz_invariants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/parse_line");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("the committed seed corpus") {
        let path = entry.expect("a directory entry").path();
        check_parse_line_input(&std::fs::read(&path).expect("a seed file"));
        checked += 1;
    }
    assert!(checked > 0, "no seeds in {}", dir.display());
}

/// A stored line and its copy form (the line less its two hash members) in one input: the
/// copy reader reads the first as the stored reader does and the second only as a copy.
#[test]
fn the_copy_form_reader_agrees_with_the_stored_reader() {
    let stored = r#"{"account":"adventure-works-0000387","data":{"fee":{"amount":"515.00","currency":"USD"},"offer":"action_pack"},"date":"2023-01-01","hash":"914b100ab64c1e9e6f080d018aaf802b3302343a6df194bb3deb2c41c9eea268","id":"ec9d66f1-b035-4bfa-9f6e-431722829299","prev_hash":"9ca41076db0b0c667cda88c23cd68fddf03a223c0d4edc4db9203a433e7ba64f","recorded_at":"2023-01-01T08:00:01.000000Z","seq":2,"type":"membership_purchased","version":2}"#;
    let copy = r#"{"account":"adventure-works-0000387","data":{"fee":{"amount":"515.00","currency":"USD"},"offer":"action_pack"},"date":"2023-01-01","id":"ec9d66f1-b035-4bfa-9f6e-431722829299","recorded_at":"2023-01-01T08:00:01.000000Z","seq":2,"type":"membership_purchased","version":2}"#;
    let mut data = vec![7];
    data.extend_from_slice(format!("{stored}\n{copy}\n").as_bytes());
    check_parse_line_input(&data);
    let view = LineView::parse(stored.as_bytes()).expect("a stored line");
    assert_eq!(view.body_parts().concat(), copy.as_bytes());
    assert!(LineView::parse(copy.as_bytes()).is_none());
    assert!(LineView::parse_copy(copy.as_bytes()).is_some_and(|v| !v.is_sealed()));
}

#[test]
fn reader_gives_the_same_lines_whatever_its_buffer_size() {
    let input: &[u8] = b"{\"a\":1}\r\n\n{\"b\":2}\n\xff\xfe\n   \n\n";
    for capacity in 1..=16u8 {
        let mut data = vec![capacity - 1];
        data.extend_from_slice(input);
        check_parse_line_input(&data);
    }
}

#[test]
fn stored_line_round_trips_from_another_spelling_of_the_same_event() {
    // Upper-case id, an offset instant with a fraction, nulls and whitespace: from_line takes
    // them, to_line writes the canonical form, which reads back to the same event.
    let line = r#"{ "id": "7F3C2A9E-5B1D-4C6E-9A8F-0B1C2D3E4F50", "account": "contoso",
        "type": "membership_purchased", "date": "2024-02-29",
        "recorded_at": "2024-03-01T01:00:00.1234567+01:00", "seq": 1, "version": 1,
        "prev_hash": "0000000000000000000000000000000000000000000000000000000000000000",
        "hash": "00000000000000000000000000000000000000000000000000000000000000ff",
        "data": {"offer": "action_pack", "fee": null} }"#
        .replace('\n', " ");
    let mut data = vec![0u8];
    data.extend_from_slice(line.as_bytes());
    check_parse_line_input(&data);
    let stored = StoredEvent::from_line(&line).expect("a stored line");
    assert!(stored
        .to_line()
        .contains(r#""recorded_at":"2024-03-01T00:00:00.123456Z""#));
}

/// Found by `ledger_sequence`: tailspin was absorbed by fabrikam, fabrikam by contoso, which
/// then bought a package. A purchase on tailspin back-dated before its merge was validated only
/// up to fabrikam (the root search stopped at an account the append had not touched), so it
/// was accepted although it breaks contoso's purchase (R11 via the merged-in term), and the
/// `log` export was then refused on restore. It must be rejected, naming contoso's purchase.
#[test]
fn a_back_dated_event_on_a_twice_absorbed_account_is_validated_against_the_root() {
    use partner_ledger::domain::Catalog;
    use partner_ledger::ledger::{lines_from_text, Ledger};
    use partner_ledger::store::memory::MemoryStore;
    use partner_ledger::store::Store;

    let store = MemoryStore::new();
    let ledger = Ledger::new(&store, Catalog::default_catalog());
    let now = partner_ledger::event::parse_instant("2026-01-01T00:00:00Z").unwrap();
    let history = [
        r#"{"id":"00000000-0000-4000-8000-000000000002","account":"tailspin","type":"business_profile_verified","date":"2021-03-10","recorded_at":"2025-01-02T19:15:00Z","data":{}}"#,
        r#"{"id":"00000000-0000-4000-8000-000000000007","account":"fabrikam","type":"accounts_merged","date":"2021-03-30","recorded_at":"2025-01-07T05:43:00Z","data":{"absorbed":"tailspin"}}"#,
        r#"{"id":"00000000-0000-4000-8000-000000000009","account":"contoso","type":"accounts_merged","date":"2021-04-01","recorded_at":"2025-01-08T14:49:00Z","data":{"absorbed":"fabrikam"}}"#,
        r#"{"id":"00000000-0000-4000-8000-000000000019","account":"contoso","type":"membership_purchased","date":"2021-04-01","recorded_at":"2025-01-23T11:33:00Z","data":{"offer":"legacy_silver"}}"#,
    ];
    // One append per event, as the fuzzer did: each session touches only its own account.
    for line in history {
        let report = ledger
            .append(lines_from_text(line), now, &mut |_| {})
            .unwrap();
        assert!(report.is_ok(), "{line}: {report:?}");
    }
    let head = store.head().unwrap();
    let back_dated = r#"{"id":"00000000-0000-4000-8000-00000000001b","account":"tailspin","type":"membership_purchased","date":"2021-03-10","recorded_at":"2025-01-23T19:21:00Z","data":{"offer":"legacy_silver"}}"#;
    let errors = ledger
        .append(lines_from_text(back_dated), now, &mut |_| {})
        .unwrap()
        .expect_err("the back-dated purchase breaks contoso's purchase");
    assert_eq!(errors[0].rule, Some(29), "{errors:?}");
    assert!(
        errors[0]
            .message
            .contains("00000000-0000-4000-8000-000000000019"),
        "{errors:?}"
    );
    assert_eq!(store.head().unwrap(), head, "nothing written");
}
