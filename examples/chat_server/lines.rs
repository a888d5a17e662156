//! A line reader with a hard bound on line length.
//!
//! `BufRead::read_line` grows its buffer until it sees a newline, so one client sending 1 GiB
//! without a newline costs 1 GiB. This reader keeps at most `max` bytes of a line; past that it
//! reports [`Line::TooLong`] once and then discards input up to the next newline.
//!
//! A read timeout on the socket surfaces as an `Err` of kind `WouldBlock`/`TimedOut`; the
//! partial line is kept, so the caller may simply call again.

use std::io::{self, BufRead, BufReader, Read};

pub enum Line<'a> {
    /// The bytes before `\n` (a `\r` before it is the caller's to strip).
    Complete(&'a [u8]),
    /// The line passed `max` bytes; its remainder will be skipped.
    TooLong,
}

// ANCHOR: reader
pub struct LineReader<R> {
    inner: BufReader<R>,
    line: Vec<u8>,
    max: usize,
    /// Skipping the tail of an oversized line.
    discarding: bool,
    /// `line` holds a line already returned: clear it before reading on.
    returned: bool,
}

impl<R: Read> LineReader<R> {
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner: BufReader::with_capacity(8 * 1024, inner),
            line: Vec::new(),
            max,
            discarding: false,
            returned: false,
        }
    }

    /// The next line; `Ok(None)` at end of stream (a partial last line is dropped: the client
    /// vanished mid-line and half a message is not a message).
    pub fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        if std::mem::take(&mut self.returned) {
            self.line.clear();
        }
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok(None);
            }
            let newline = buf.iter().position(|&b| b == b'\n');
            let (chunk, used) = match newline {
                Some(i) => (&buf[..i], i + 1),
                None => (buf, buf.len()),
            };
            if self.discarding {
                self.discarding = newline.is_none();
                self.inner.consume(used);
                continue;
            }
            if self.line.len() + chunk.len() > self.max {
                self.line.clear();
                self.discarding = newline.is_none();
                self.inner.consume(used);
                return Ok(Some(Line::TooLong));
            }
            self.line.extend_from_slice(chunk);
            self.inner.consume(used);
            if newline.is_some() {
                self.returned = true;
                return Ok(Some(Line::Complete(&self.line)));
            }
        }
    }
}
// ANCHOR_END: reader
