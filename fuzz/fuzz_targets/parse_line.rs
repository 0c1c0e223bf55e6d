//! Arbitrary bytes through the input reader and the two parsers.
//!
//! Invariants: nothing panics; reading the bytes through a tiny buffer gives the same lines
//! and the same parse results as reading them in one piece (the reader's chunk-boundary logic);
//! a line that parses as a stored event writes back (`to_line`) to a line that parses to the
//! same event and writes back to the same text; the positional fast reader of stored lines and
//! the full parser agree on every line the fast one accepts; the stream copies' reader
//! (`LineView::parse_copy`) agrees with the stored reader and reads the copy form back.
#![no_main]

use std::io::BufReader;

use libfuzzer_sys::fuzz_target;
use partner_ledger::event::{InputEvent, StoredEvent};
use partner_ledger::input::EventLines;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the reader's buffer size (1..=64), the rest is the input.
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
    for w in whole.windows(2) {
        assert!(w[0].0 < w[1].0, "line numbers must increase: {whole:?}");
    }

    let Ok(text) = std::str::from_utf8(input) else {
        return;
    };
    for line in std::iter::once(text).chain(text.split('\n')) {
        let _ = InputEvent::parse_line(line);
        // The positional fast path never accepts what the full parser refuses, nor reads it
        // differently.
        if let Ok(fast) = StoredEvent::from_line(line) {
            match StoredEvent::from_line_by_full_parser(line) {
                Ok(full) => assert_eq!(fast, full, "the two readers disagree on {line:?}"),
                Err(e) => panic!("fast reader accepted {line:?}, the full parser says {e}"),
            }
        }
        if let Err(e) = partner_ledger::line::copy_form_holds(line) {
            panic!("{e}");
        }
        if let Ok(stored) = StoredEvent::from_line(line) {
            let written = stored.to_line();
            let back = StoredEvent::from_line(&written)
                .unwrap_or_else(|e| panic!("to_line wrote {written:?}, which does not parse: {e}"));
            assert_eq!(back, stored, "round trip through {written:?}");
            assert_eq!(back.to_line(), written, "to_line is not stable");
        }
    }
});
