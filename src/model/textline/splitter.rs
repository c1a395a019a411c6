//! Cutting a serial byte stream into bounded text lines.

/// Default longest line, in received bytes, before [`LineSplitter`] cuts it.
pub const DEFAULT_MAX_LINE_BYTES: usize = 4096;

/// One line cut from the byte stream by a [`LineSplitter`], without its line ending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedLine {
    /// The line's text; invalid UTF-8 is replaced by U+FFFD.
    pub text: String,
    /// The line was longer than the splitter's maximum: `text` is its beginning and the rest was discarded.
    pub truncated: bool,
}

/// Cuts arbitrary byte chunks into complete lines, with bounded memory.
///
/// A line ends at `\n`, `\r\n` or a lone `\r` (some boards end lines with `\r` only); a `\r\n` split between
/// two chunks still ends one line, not two. A line longer than `max_line_bytes` is delivered cut, flagged
/// [`ReceivedLine::truncated`], and the rest of it up to the next line end is discarded and counted.
#[derive(Debug, Clone)]
pub struct LineSplitter {
    line_bytes: Vec<u8>,
    max_line_bytes: usize,
    /// Inside an overlong line whose beginning was already delivered: drop bytes up to the next line end.
    skipping_overlong: bool,
    /// The previous byte was a `\r` that ended a line, so a `\n` right after it ends nothing.
    after_cr: bool,
    overlong_lines: u64,
    discarded_bytes: u64,
}

impl Default for LineSplitter {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_LINE_BYTES)
    }
}

impl LineSplitter {
    /// A splitter that cuts lines longer than `max_line_bytes` received bytes (at least 1).
    pub fn new(max_line_bytes: usize) -> Self {
        let max_line_bytes = max_line_bytes.max(1);
        Self {
            line_bytes: Vec::with_capacity(max_line_bytes.min(DEFAULT_MAX_LINE_BYTES)),
            max_line_bytes,
            skipping_overlong: false,
            after_cr: false,
            overlong_lines: 0,
            discarded_bytes: 0,
        }
    }

    /// The longest line kept whole, in received bytes.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// Feeds one chunk as read from the port; returns the lines it completes, in order.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<ReceivedLine> {
        let mut lines = Vec::new();
        for &byte in chunk {
            let after_cr = std::mem::replace(&mut self.after_cr, false);
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    self.after_cr = byte == b'\r';
                    if self.skipping_overlong {
                        self.skipping_overlong = false;
                    } else {
                        lines.push(self.take_line(false));
                    }
                }
                _ if self.skipping_overlong => self.discarded_bytes += 1,
                _ if self.line_bytes.len() >= self.max_line_bytes => {
                    lines.push(self.take_line(true));
                    self.overlong_lines += 1;
                    self.discarded_bytes += 1;
                    self.skipping_overlong = true;
                }
                _ => self.line_bytes.push(byte),
            }
        }
        lines
    }

    /// Ends the stream (the port closed): returns the unterminated last line, if there is one.
    pub fn flush(&mut self) -> Option<ReceivedLine> {
        let skipped = std::mem::replace(&mut self.skipping_overlong, false);
        self.after_cr = false;
        if skipped || self.line_bytes.is_empty() {
            self.line_bytes.clear();
            return None;
        }
        Some(self.take_line(false))
    }

    /// Lines cut because they were longer than the maximum, since the splitter was made.
    pub fn overlong_lines(&self) -> u64 {
        self.overlong_lines
    }

    /// Bytes thrown away from overlong lines, since the splitter was made.
    pub fn discarded_bytes(&self) -> u64 {
        self.discarded_bytes
    }

    fn take_line(&mut self, truncated: bool) -> ReceivedLine {
        let text = String::from_utf8_lossy(&self.line_bytes).into_owned();
        self.line_bytes.clear();
        ReceivedLine { text, truncated }
    }
}
