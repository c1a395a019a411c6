//! Text lines from boards that do not speak Benchtop's binary protocol: a [`LineSplitter`] cuts the bytes read
//! from a serial port into bounded lines, and a [`TextDecoder`] turns each line into named channel values. It
//! reads the Arduino serial-plotter format (`temp:22.5,hum:40 bat:3.7`), CSV with a header line, or raw
//! console text, either detecting which by itself ([`TextFormat::Auto`]) or as the user says.
//!
//! It is not a serial reader, a trace store or a CSV library: no I/O, no clock, no egui; it never writes CSV and,
//! reading one line at a time, never sees a newline inside a quoted cell.
//!
//! Invariants: memory is bounded (a line holds at most the splitter's `max_line_bytes` received bytes, longer
//! lines are cut, flagged and counted; a decoder knows at most [`MAX_CHANNELS`] channel names). Every value is
//! finite (`nan`, `inf` and Arduino's `ovf` are not values). Auto-detection decides line by line and never holds
//! a line's values back: the only line whose meaning is settled late is a candidate CSV header, and a header
//! carries no values in any format, so no value is lost while the format is being detected.

use std::collections::HashSet;
use std::fmt;
use std::str::FromStr;

use thiserror::Error;

mod splitter;

pub use splitter::{DEFAULT_MAX_LINE_BYTES, LineSplitter, ReceivedLine};

/// Most channel names one [`TextDecoder`] learns; values of further new names are dropped with a warning, so a
/// noisy line cannot grow the channel list without end.
pub const MAX_CHANNELS: usize = 256;

/// Non-empty lines without a value after which auto-detection reports [`DetectedFormat::Raw`].
pub const AUTO_RAW_AFTER_LINES: usize = 5;

/// The delimiters a CSV header may use, in the order that breaks a tie in their counts.
const CSV_DELIMITERS: [char; 3] = [',', ';', '\t'];

/// How lines are read: the user's choice, as written in a source string (`…&format=plotter`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TextFormat {
    /// Detect the format from the first lines.
    #[default]
    Auto,
    /// Arduino serial-plotter lines: `label:value` pairs and bare numbers.
    Plotter,
    /// CSV: a header line of column names, then lines of numbers.
    Csv,
    /// Console text only; no values.
    Raw,
}

impl TextFormat {
    /// Every format, in the order a menu lists them.
    pub const ALL: [TextFormat; 4] = [TextFormat::Auto, TextFormat::Plotter, TextFormat::Csv, TextFormat::Raw];

    /// The name used in source strings: `auto`, `plotter`, `csv` or `raw`.
    pub fn as_str(self) -> &'static str {
        match self {
            TextFormat::Auto => "auto",
            TextFormat::Plotter => "plotter",
            TextFormat::Csv => "csv",
            TextFormat::Raw => "raw",
        }
    }
}

impl fmt::Display for TextFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A text format name that is not one of `auto`, `plotter`, `csv`, `raw`.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("`{0}` is not a text format; use auto, plotter, csv or raw")]
pub struct TextFormatError(pub String);

impl FromStr for TextFormat {
    type Err = TextFormatError;

    /// Reads `auto`, `plotter`, `csv` or `raw`, ignoring case and surrounding spaces.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let name = text.trim();
        TextFormat::ALL
            .into_iter()
            .find(|format| format.as_str().eq_ignore_ascii_case(name))
            .ok_or_else(|| TextFormatError(name.to_string()))
    }
}

/// The format a [`TextDecoder`] is reading lines in now, for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DetectedFormat {
    /// Auto-detection has not seen enough lines yet.
    Detecting,
    /// Arduino serial-plotter lines.
    Plotter,
    /// CSV with a header.
    Csv,
    /// Console text without values (under auto-detection, a later value-bearing line can still change this).
    Raw,
}

impl fmt::Display for DetectedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DetectedFormat::Detecting => "detecting",
            DetectedFormat::Plotter => "plotter",
            DetectedFormat::Csv => "CSV",
            DetectedFormat::Raw => "raw text",
        })
    }
}

/// What a decoded line was taken to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    /// Blank; ignored by detection.
    Empty,
    /// Console text: raw format, or a line seen while auto-detection is still undecided (such a line has no
    /// values in any format, else detection would have decided on it).
    Text,
    /// A CSV header: it named the columns.
    Header,
    /// A line of the plotter or CSV format (it may still have no values; see [`ParsedLine::ignored`]).
    Data,
}

/// Something odd about one line that did not stop it from being read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineWarning {
    /// A CSV line had a different number of cells than the header; the cells it has were read.
    CellCount {
        /// Columns in the header.
        expected: usize,
        /// Cells in the line.
        found: usize,
    },
    /// CSV was chosen but the line that should have been the header held numbers; its columns are named
    /// `1`, `2`, … by position and its values were kept.
    NoHeader {
        /// Columns named by position.
        columns: usize,
    },
    /// The decoder already knows [`MAX_CHANNELS`] names, so values of new names were dropped.
    TooManyChannels {
        /// Values dropped from this line.
        dropped: usize,
    },
}

impl fmt::Display for LineWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineWarning::CellCount { expected, found } => {
                write!(f, "line has {found} cells but the header has {expected}")
            }
            LineWarning::NoHeader { columns } => {
                write!(f, "expected a CSV header but got numbers; {columns} columns named by position")
            }
            LineWarning::TooManyChannels { dropped } => {
                write!(f, "{dropped} values dropped: more than {MAX_CHANNELS} channel names")
            }
        }
    }
}

/// One line, decoded.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// What the line was taken to be.
    pub kind: LineKind,
    /// `(channel name, value)` in the order they appear on the line; every value is finite.
    pub values: Vec<(String, f64)>,
    /// Tokens (plotter) or cells (CSV) that were neither a value nor a separator.
    pub ignored: Vec<String>,
    /// Oddities that did not stop the line from being read.
    pub warnings: Vec<LineWarning>,
}

impl ParsedLine {
    fn new(kind: LineKind) -> Self {
        Self { kind, values: Vec::new(), ignored: Vec::new(), warnings: Vec::new() }
    }
}

/// CSV column names and the delimiter the header line used.
#[derive(Debug, Clone, PartialEq, Eq)]
struct CsvHeader {
    delimiter: char,
    columns: Vec<String>,
    /// The columns are numbered because data came before any header; a header line may still name them.
    positional: bool,
}

impl CsvHeader {
    fn from_cells(delimiter: char, cells: Vec<String>) -> Self {
        let columns = cells
            .into_iter()
            .enumerate()
            .map(|(i, name)| if name.is_empty() { (i + 1).to_string() } else { name })
            .collect();
        Self { delimiter, columns, positional: false }
    }

    /// A line that looks like a header: no values, at least two non-empty cells, none of them a number.
    fn candidate(line: &str) -> Option<Self> {
        let delimiter = choose_delimiter(line)?;
        let cells = split_cells(line, delimiter);
        let named = cells.iter().filter(|cell| !cell.is_empty()).count();
        let any_number = cells.iter().any(|cell| parse_cell(cell, delimiter).is_some());
        (named >= 2 && !any_number).then(|| Self::from_cells(delimiter, cells))
    }
}

#[derive(Debug, Clone)]
enum State {
    /// Auto-detection; past [`AUTO_RAW_AFTER_LINES`] value-less lines this reports raw but keeps looking.
    Detecting {
        candidate: Option<CsvHeader>,
        valueless_lines: usize,
    },
    Plotter,
    /// CSV; `None` until the header line arrives.
    Csv {
        header: Option<CsvHeader>,
    },
    Raw,
}

impl State {
    fn for_format(format: TextFormat) -> Self {
        match format {
            TextFormat::Auto => State::Detecting { candidate: None, valueless_lines: 0 },
            TextFormat::Plotter => State::Plotter,
            TextFormat::Csv => State::Csv { header: None },
            TextFormat::Raw => State::Raw,
        }
    }

    /// Decodes one non-blank line.
    fn decode(&mut self, line: &str) -> ParsedLine {
        match self {
            State::Plotter => parse_plotter(line),
            State::Raw => ParsedLine::new(LineKind::Text),
            State::Csv { header } => decode_csv(header, line),
            State::Detecting { candidate, valueless_lines } => {
                if let Some(header) = candidate.take() {
                    let cells = split_cells(line, header.delimiter);
                    if cells.len() == header.columns.len() && mostly_numbers(&cells, header.delimiter) {
                        let parsed = parse_csv_cells(&header, &cells);
                        *self = State::Csv { header: Some(header) };
                        return parsed;
                    }
                }
                let parsed = parse_plotter(line);
                if !parsed.values.is_empty() {
                    *self = State::Plotter;
                    return parsed;
                }
                *valueless_lines = valueless_lines.saturating_add(1);
                *candidate = CsvHeader::candidate(line);
                ParsedLine::new(LineKind::Text)
            }
        }
    }
}

/// Turns text lines into named channel values; see the module documentation for the formats.
///
/// Detection under [`TextFormat::Auto`], line by line (blank lines are skipped and do not count):
/// 1. if the previous non-blank line was a candidate header (no values; at least two non-empty cells, none a
///    number, split by whichever of `,` `;` tab appears most) and this line has as many cells, most of the
///    non-empty ones numbers, the format is CSV with that header;
/// 2. else if this line has at least one plotter value, the format is plotter;
/// 3. else the line is text, and may be the candidate header for the next one. After
///    [`AUTO_RAW_AFTER_LINES`] such lines the format shows as raw, but detection goes on, so a board that
///    prints a long banner before its data is still picked up.
///
/// Plotter and CSV, once detected, stay until [`TextDecoder::set_format`] or [`TextDecoder::reset`]. A header
/// whose names contain separate numbers (`Sensor 1,Sensor 2`) reads as plotter values; choose CSV for it.
#[derive(Debug, Clone)]
pub struct TextDecoder {
    format: TextFormat,
    state: State,
    channels: Vec<String>,
    known_channels: HashSet<String>,
}

impl Default for TextDecoder {
    fn default() -> Self {
        Self::new(TextFormat::Auto)
    }
}

impl TextDecoder {
    /// A decoder reading lines in `format`.
    pub fn new(format: TextFormat) -> Self {
        Self { format, state: State::for_format(format), channels: Vec::new(), known_channels: HashSet::new() }
    }

    /// The format chosen (which may be [`TextFormat::Auto`]).
    pub fn format(&self) -> TextFormat {
        self.format
    }

    /// Chooses the format from the next line on: `Auto` restarts detection, `Csv` takes the next non-blank line
    /// as the header. Channel names already seen are kept.
    pub fn set_format(&mut self, format: TextFormat) {
        self.format = format;
        self.state = State::for_format(format);
    }

    /// Chooses CSV with the given header line (e.g. `time_ms,temp,hum`); its most frequent delimiter among
    /// `,` `;` tab (`,` if none) splits the lines that follow. A blank header waits for one from the board.
    pub fn set_csv_header(&mut self, header_line: &str) {
        self.format = TextFormat::Csv;
        self.state =
            State::Csv { header: Some(header_line).filter(|line| !line.trim().is_empty()).map(header_from_line) };
    }

    /// The format lines are being read in now.
    pub fn detected(&self) -> DetectedFormat {
        match &self.state {
            State::Detecting { valueless_lines, .. } if *valueless_lines >= AUTO_RAW_AFTER_LINES => DetectedFormat::Raw,
            State::Detecting { .. } => DetectedFormat::Detecting,
            State::Plotter => DetectedFormat::Plotter,
            State::Csv { .. } => DetectedFormat::Csv,
            State::Raw => DetectedFormat::Raw,
        }
    }

    /// The CSV column names, once a header is known.
    pub fn csv_columns(&self) -> Option<&[String]> {
        match &self.state {
            State::Csv { header: Some(header) } => Some(&header.columns),
            _ => None,
        }
    }

    /// Every channel name that has had a value, in first-seen order (at most [`MAX_CHANNELS`]).
    pub fn channels(&self) -> &[String] {
        &self.channels
    }

    /// Forgets the detected format, the CSV header and the channel names; keeps the chosen format.
    pub fn reset(&mut self) {
        self.state = State::for_format(self.format);
        self.channels.clear();
        self.known_channels.clear();
    }

    /// Decodes one complete line, given without its line ending (a trailing `\r` is removed here).
    pub fn decode(&mut self, line: &str) -> ParsedLine {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            return ParsedLine::new(LineKind::Empty);
        }
        let mut parsed = self.state.decode(line);
        self.admit_channels(&mut parsed);
        parsed
    }

    fn admit_channels(&mut self, parsed: &mut ParsedLine) {
        let (known, channels) = (&mut self.known_channels, &mut self.channels);
        let mut dropped = 0;
        parsed.values.retain(|(name, _)| {
            if known.contains(name) {
                return true;
            }
            if channels.len() >= MAX_CHANNELS {
                dropped += 1;
                return false;
            }
            known.insert(name.clone());
            channels.push(name.clone());
            true
        });
        if dropped > 0 {
            parsed.warnings.push(LineWarning::TooManyChannels { dropped });
        }
    }
}

/// A number as the plotter accepts it: integer, decimal or exponent, optionally signed, and finite.
fn parse_number(token: &str) -> Option<f64> {
    token.parse::<f64>().ok().filter(|value| value.is_finite())
}

/// A CSV cell's number; with a delimiter other than `,`, a decimal comma (`22,5`) is read too, since that is
/// why European spreadsheets write `;`.
fn parse_cell(cell: &str, delimiter: char) -> Option<f64> {
    parse_number(cell).or_else(|| {
        let decimal_comma = delimiter != ',' && cell.matches(',').count() == 1 && !cell.contains('.');
        decimal_comma.then(|| parse_number(&cell.replacen(',', ".", 1))).flatten()
    })
}

/// Noise never belongs to a label or a number: control characters and replaced invalid bytes (boot garbage at
/// the wrong baud rate) separate tokens like spaces do.
fn is_noise(c: char) -> bool {
    c.is_whitespace() || c.is_control() || c == char::REPLACEMENT_CHARACTER
}

fn parse_plotter(line: &str) -> ParsedLine {
    let mut parsed = ParsedLine::new(LineKind::Data);
    let mut bare_numbers = 0usize;
    let mut tokens = line.split(|c| c == ',' || is_noise(c)).filter(|token| !token.is_empty()).peekable();
    while let Some(token) = tokens.next() {
        if let Some(value) = parse_number(token) {
            bare_numbers += 1;
            parsed.values.push((bare_numbers.to_string(), value));
            continue;
        }
        // The last ':' splits, since a value never contains one.
        let value = match token.rsplit_once(':') {
            Some((label, "")) if !label.is_empty() => {
                // `Serial.print("temp: ")` leaves a space between label and value: take the next token. The
                // Arduino IDE would not, but the meaning is plain.
                tokens.next_if(|next| parse_number(next).is_some()).and_then(parse_number).map(|value| (label, value))
            }
            Some((label, value)) if !label.is_empty() => parse_number(value).map(|value| (label, value)),
            _ => None,
        };
        match value {
            Some((label, value)) => parsed.values.push((label.to_string(), value)),
            None => parsed.ignored.push(token.to_string()),
        }
    }
    parsed
}

/// The most frequent of `,` `;` tab outside double quotes (ties go to the earlier), or `None` if none appears.
fn choose_delimiter(line: &str) -> Option<char> {
    let mut counts = [0usize; CSV_DELIMITERS.len()];
    let mut quoted = false;
    for c in line.chars() {
        if c == '"' {
            quoted = !quoted;
        } else if let Some(i) = CSV_DELIMITERS.iter().position(|&d| d == c && !quoted) {
            counts[i] += 1;
        }
    }
    // `max_by_key` keeps the last of equal maxima, so scanning backwards lets the earlier delimiter win a tie.
    let (i, &count) = counts.iter().enumerate().rev().max_by_key(|&(_, count)| *count)?;
    (count > 0).then_some(CSV_DELIMITERS[i])
}

/// Splits on `delimiter` outside double quotes; each cell is trimmed and unquoted (`""` inside is one `"`).
fn split_cells(line: &str, delimiter: char) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    for c in line.chars() {
        if c == delimiter && !quoted {
            cells.push(clean_cell(&std::mem::take(&mut cell)));
        } else {
            quoted ^= c == '"';
            cell.push(c);
        }
    }
    cells.push(clean_cell(&cell));
    cells
}

fn clean_cell(cell: &str) -> String {
    let cell = cell.trim_matches(is_noise);
    match cell.strip_prefix('"').and_then(|inner| inner.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => cell.to_string(),
    }
}

fn header_from_line(line: &str) -> CsvHeader {
    let delimiter = choose_delimiter(line).unwrap_or(',');
    CsvHeader::from_cells(delimiter, split_cells(line, delimiter))
}

/// At least one number, and more numbers than non-empty cells that are not numbers.
fn mostly_numbers(cells: &[String], delimiter: char) -> bool {
    let numbers = cells.iter().filter(|cell| parse_cell(cell, delimiter).is_some()).count();
    let words = cells.iter().filter(|cell| !cell.is_empty()).count() - numbers;
    numbers >= 1 && numbers > words
}

fn decode_csv(header: &mut Option<CsvHeader>, line: &str) -> ParsedLine {
    let Some(current) = header else {
        let delimiter = choose_delimiter(line).unwrap_or(',');
        let cells = split_cells(line, delimiter);
        let all_numbers = cells.iter().all(|cell| cell.is_empty() || parse_cell(cell, delimiter).is_some());
        if !all_numbers {
            *header = Some(CsvHeader::from_cells(delimiter, cells));
            return ParsedLine::new(LineKind::Header);
        }
        // A line of numbers cannot be a header (CSV was chosen mid-stream): keep its values under
        // positional names rather than lose them.
        let positional =
            CsvHeader { delimiter, columns: (1..=cells.len()).map(|i| i.to_string()).collect(), positional: true };
        let mut parsed = parse_csv_cells(&positional, &cells);
        parsed.warnings.push(LineWarning::NoHeader { columns: cells.len() });
        *header = Some(positional);
        return parsed;
    };
    let cells = split_cells(line, current.delimiter);
    // A board that restarts prints its header again. Only an identical line counts: a text line that happens
    // to contain the delimiter must not rename the columns.
    if cells == current.columns {
        return ParsedLine::new(LineKind::Header);
    }
    // Opened mid-stream, the columns were numbered; the first header line (a board reset, or a sketch that
    // reprints it) names them from then on.
    if current.positional
        && let Some(named) = CsvHeader::candidate(line)
        && named.columns.len() == current.columns.len()
    {
        *current = named;
        return ParsedLine::new(LineKind::Header);
    }
    parse_csv_cells(current, &cells)
}

/// Reads data cells by header position; empty cells are missing values, not zero.
fn parse_csv_cells(header: &CsvHeader, cells: &[String]) -> ParsedLine {
    let mut parsed = ParsedLine::new(LineKind::Data);
    if cells.len() != header.columns.len() {
        parsed.warnings.push(LineWarning::CellCount { expected: header.columns.len(), found: cells.len() });
    }
    for (i, cell) in cells.iter().enumerate() {
        if cell.is_empty() {
            continue;
        }
        match (header.columns.get(i), parse_cell(cell, header.delimiter)) {
            (Some(name), Some(value)) => parsed.values.push((name.clone(), value)),
            _ => parsed.ignored.push(cell.clone()),
        }
    }
    parsed
}

#[cfg(test)]
mod tests;
