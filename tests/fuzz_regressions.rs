//! Regressions from fuzzing (`fuzz/`), run by plain `cargo test`.
//!
//! The fuzz targets' invariants, replayed here on the committed seed corpus and on inputs
//! worth pinning. A crash found by `cargo fuzz` becomes a test below, named after what it
//! proves, with the input inline.

use std::io::BufReader;
use std::path::Path;

use partner_ledger::event::{InputEvent, StoredEvent};
use partner_ledger::input::EventLines;

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
