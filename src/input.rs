//! Reading JSON Lines input with limits: each line is bounded in length, must be UTF-8, and a
//! blank line before the end is an error. Overlong lines are skipped without being held in
//! memory, so a 100 MB line costs no more than a short one.

use std::io::BufRead;

use crate::event::{InputEvent, ParseError};

/// Longest accepted input line, in bytes.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// One input line: its number (from 1) and the event or why it is not one.
#[derive(Debug)]
pub struct InputLine {
    pub line: u64,
    pub parsed: Result<InputEvent, ParseError>,
}

/// Iterates over the events of a JSON Lines source. I/O errors end the iteration with an
/// `Err` item naming the line.
pub struct EventLines<R> {
    reader: R,
    line: u64,
    buffer: Vec<u8>,
    /// A blank line seen and not yet known to be trailing.
    pending_blank: Option<u64>,
    /// The line after a reported blank line, handed out next.
    queued: Option<InputLine>,
    done: bool,
}

impl<R: BufRead> EventLines<R> {
    pub fn new(reader: R) -> Self {
        EventLines {
            reader,
            line: 0,
            buffer: Vec::new(),
            pending_blank: None,
            queued: None,
            done: false,
        }
    }

    /// Reads the next raw line into `buffer`, at most MAX_LINE_BYTES of it; returns
    /// Ok(None) at the end, Ok(Some(true)) if the line was too long (its rest was skipped).
    fn read_raw(&mut self) -> std::io::Result<Option<bool>> {
        self.buffer.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let available = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok(if any { Some(too_long) } else { None });
            }
            any = true;
            let (chunk, found_end) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], Some(i + 1)),
                None => (available, None),
            };
            if !too_long {
                if self.buffer.len() + chunk.len() > MAX_LINE_BYTES {
                    too_long = true;
                    self.buffer.clear();
                } else {
                    self.buffer.extend_from_slice(chunk);
                }
            }
            let consumed = found_end.unwrap_or(available.len());
            self.reader.consume(consumed);
            if found_end.is_some() {
                return Ok(Some(too_long));
            }
        }
    }
}

impl<R: BufRead> Iterator for EventLines<R> {
    type Item = InputLine;

    fn next(&mut self) -> Option<InputLine> {
        if let Some(item) = self.queued.take() {
            return Some(item);
        }
        loop {
            if self.done {
                return None;
            }
            let raw = match self.read_raw() {
                Ok(r) => r,
                Err(e) => {
                    self.done = true;
                    self.line += 1;
                    return Some(InputLine {
                        line: self.line,
                        parsed: Err(ParseError::new(format!("cannot read input: {e}"))),
                    });
                }
            };
            let Some(too_long) = raw else {
                self.done = true;
                return None; // trailing blank lines are fine
            };
            self.line += 1;
            if too_long {
                return Some(InputLine {
                    line: self.line,
                    parsed: Err(ParseError::new(format!(
                        "line is longer than {MAX_LINE_BYTES} bytes; an event is a few hundred"
                    ))),
                });
            }
            let mut bytes: &[u8] = &self.buffer;
            if bytes.last() == Some(&b'\r') {
                bytes = &bytes[..bytes.len() - 1];
            }
            if bytes.iter().all(u8::is_ascii_whitespace) {
                self.pending_blank.get_or_insert(self.line);
                continue;
            }
            let item = parse_bytes(self.line, bytes);
            if let Some(blank) = self.pending_blank.take() {
                self.queued = Some(item);
                return Some(InputLine {
                    line: blank,
                    parsed: Err(ParseError::new(
                        "empty line in the middle of the input; remove it",
                    )),
                });
            }
            return Some(item);
        }
    }
}

fn parse_bytes(line: u64, bytes: &[u8]) -> InputLine {
    let parsed = match std::str::from_utf8(bytes) {
        Ok(text) => InputEvent::parse_line(text),
        Err(e) => Err(ParseError::new(format!(
            "not valid UTF-8 (byte {})",
            e.valid_up_to() + 1
        ))),
    };
    InputLine { line, parsed }
}
