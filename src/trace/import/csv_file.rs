//! CSV import: a time column and a current column, or Benchtop's own long format (`time_s,channel,value,unit`).
//!
//! The header names the columns and their units (`time`, `time_s`, `Timestamp(ms)`, `current`, `current_a`,
//! `Current(uA)`, `I [mA]`…); without a header the first column is the time in seconds and the second the
//! current in amperes. The sample rate comes from the median time step of the first rows, refined to the mean
//! of their regular steps (so timestamps rounded to the millisecond still give the right rate) and snapped to
//! a whole number of hertz when within 100 ppm of one. After that every row is one sample: a step of 1.5
//! median steps or more is a stretch of missing rows and becomes a gap of `round(step / period) − 1` NaN
//! samples; shorter steps, however jittery, are the next sample. Time running backwards, or a cell that is
//! not a number, stops the import with the line number. An empty current cell is a missing sample.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::Path;

use super::{CurrentUnit, ImportError, ImportOptions, ImportedChannel, Output, TimeUnit};
use crate::trace::format::ChannelDef;

/// Rows whose steps set the sample rate.
const PREFIX_ROWS: usize = 10_000;
/// A step this many median steps long (or longer) is a stretch of missing rows.
const GAP_STEPS: f64 = 1.5;
/// A rate this close to a whole number of hertz (relative) is taken to be that number.
const SNAP_RELATIVE: f64 = 100e-6;
/// The longest gap an import writes (2³² samples is 16 GiB of NaN): longer means a wrong timestamp.
const MAX_GAP_SAMPLES: u64 = 1 << 32;

/// Which columns hold what.
#[derive(Debug, Clone)]
enum Layout {
    /// A time column and a current column.
    Columns { time: usize, current: usize, time_s_per_unit: f64, current_a_per_unit: f64, current_header: String },
    /// Benchtop's long format: rows of one channel are taken, the others skipped.
    Long { time_s_per_unit: f64, wanted: Option<String>, chosen: Option<(String, String)> },
}

/// One usable row.
#[derive(Debug, Clone, Copy)]
struct Row {
    line: u64,
    t_s: f64,
    value: f32,
}

/// Reads CSV rows and turns them into samples of one channel.
struct Rows<'a> {
    path: &'a Path,
    options: &'a ImportOptions,
    reader: ::csv::Reader<BufReader<File>>,
    record: ::csv::StringRecord,
    layout: Option<Layout>,
    decimal_comma: bool,
    last_t_s: Option<f64>,
}

impl Rows<'_> {
    fn line_error(&self, line: u64, problem: String) -> ImportError {
        ImportError::Line { path: self.path.to_path_buf(), line, problem }
    }

    /// The next row of the channel being imported, `None` at the end of the file.
    fn next(&mut self) -> Result<Option<Row>, ImportError> {
        loop {
            let more = self.reader.read_record(&mut self.record).map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                self.line_error(line, format!("{e}; save the file as plain comma-separated text"))
            })?;
            if !more {
                return Ok(None);
            }
            let line = self.record.position().map_or(0, |p| p.line());
            if self.record.iter().all(|f| f.is_empty()) {
                continue;
            }
            if self.layout.is_none() {
                let (layout, was_header) = self.layout_from(line)?;
                self.layout = Some(layout);
                if was_header {
                    continue;
                }
            }
            let row = match &self.layout {
                Some(layout) => self.row(line, layout)?,
                None => None,
            };
            let Some(row) = row else { continue };
            if let Some(last) = self.last_t_s
                && row.t_s < last
            {
                return Err(self.line_error(
                    line,
                    format!(
                        "the time goes backwards ({} s after {} s on the row before); sort the rows by time, or \
                         split the file where the recording restarted",
                        row.t_s, last
                    ),
                ));
            }
            self.last_t_s = Some(row.t_s);
            return Ok(Some(row));
        }
    }

    /// Decides the layout from the first non-empty record; true if that record is a header.
    fn layout_from(&self, line: u64) -> Result<(Layout, bool), ImportError> {
        let fields: Vec<String> = self.record.iter().map(str::to_string).collect();
        let header = fields.first().is_some_and(|f| self.number(f).is_none());
        let time_unit = |unit: Option<&str>, name: &str| -> Result<f64, ImportError> {
            if let Some(unit) = self.options.time_unit {
                return Ok(unit.seconds());
            }
            match unit {
                None => Ok(1.0),
                Some(symbol) => TimeUnit::from_symbol(symbol).map(TimeUnit::seconds).ok_or_else(|| {
                    self.line_error(
                        line,
                        format!("the time column `{name}` is in `{symbol}`, which is not s, ms, us or ns; give the unit with --time-unit"),
                    )
                }),
            }
        };
        if !header {
            if fields.len() < 2 {
                return Err(self.line_error(
                    line,
                    "there is only one column; a CSV needs a time column and a current column (for raw samples \
                     use --f32le --rate HZ)"
                        .into(),
                ));
            }
            let current = self.options.current_unit.unwrap_or(CurrentUnit::Amperes).amperes();
            let layout = Layout::Columns {
                time: 0,
                current: 1,
                time_s_per_unit: time_unit(None, "")?,
                current_a_per_unit: current,
                current_header: "column 2".into(),
            };
            return Ok((layout, false));
        }
        let names: Vec<(String, Option<String>)> = fields.iter().map(|f| split_name(f)).collect();
        let plain: Vec<String> = fields.iter().map(|f| f.trim().to_lowercase()).collect();
        if plain == ["time_s", "channel", "value", "unit"] {
            let layout = Layout::Long {
                time_s_per_unit: time_unit(Some("s"), "time_s")?,
                wanted: self.options.channel.clone(),
                chosen: None,
            };
            return Ok((layout, true));
        }
        let is_time = |base: &str| base.starts_with("time") || base == "t";
        let time = names.iter().position(|(base, _)| is_time(base)).ok_or_else(|| {
            self.line_error(
                line,
                format!("no time column among `{}`; name it `time` (with its unit, like `time_ms`)", fields.join(", ")),
            )
        })?;
        let is_current = |(base, unit): &(String, Option<String>)| {
            base.contains("current")
                || base == "i"
                || unit.as_deref().is_some_and(|u| CurrentUnit::from_symbol(u).is_some())
        };
        let current = names
            .iter()
            .enumerate()
            .position(|(i, name)| i != time && is_current(name))
            .or_else(|| (fields.len() == 2).then_some(1 - time))
            .ok_or_else(|| {
                self.line_error(
                    line,
                    format!(
                        "no current column among `{}`; name it `current` (with its unit, like `current_ua`)",
                        fields.join(", ")
                    ),
                )
            })?;
        let current_a_per_unit = match (self.options.current_unit, names[current].1.as_deref()) {
            (Some(unit), _) => unit.amperes(),
            (None, None) => 1.0,
            (None, Some(symbol)) => CurrentUnit::from_symbol(symbol).map(CurrentUnit::amperes).ok_or_else(|| {
                self.line_error(
                    line,
                    format!(
                        "the current column `{}` is in `{symbol}`, which is not A, mA, uA or nA; give the unit \
                         with --current-unit",
                        fields[current]
                    ),
                )
            })?,
        };
        let layout = Layout::Columns {
            time,
            current,
            time_s_per_unit: time_unit(names[time].1.as_deref(), &fields[time])?,
            current_a_per_unit,
            current_header: fields[current].clone(),
        };
        Ok((layout, true))
    }

    /// The row in `self.record`, or `None` if it belongs to a channel that is not imported.
    fn row(&self, line: u64, layout: &Layout) -> Result<Option<Row>, ImportError> {
        let cell = |index: usize, what: &str| {
            self.record.get(index).ok_or_else(|| {
                self.line_error(
                    line,
                    format!("the row has {} columns and no {what}; complete or delete the line", self.record.len()),
                )
            })
        };
        let number = |text: &str, what: &str| {
            self.number(text).ok_or_else(|| {
                self.line_error(
                    line,
                    format!("`{text}` in the {what} column is not a number; correct or delete the line"),
                )
            })
        };
        let time = |index: usize, what: &str, scale: f64| -> Result<f64, ImportError> {
            let text = cell(index, what)?;
            if text.is_empty() {
                return Err(self.line_error(line, "the time is empty; fill it in or delete the line".into()));
            }
            let t_s = number(text, what)? * scale;
            if !t_s.is_finite() {
                return Err(self.line_error(
                    line,
                    format!("the time `{text}` is not a finite number; correct or delete the line"),
                ));
            }
            Ok(t_s)
        };
        match layout {
            Layout::Columns { time: t, current, time_s_per_unit, current_a_per_unit, current_header } => {
                let t_s = time(*t, "time", *time_s_per_unit)?;
                let text = cell(*current, "current")?;
                let value = if text.is_empty() {
                    f32::NAN
                } else {
                    self.value(text, *current_a_per_unit).ok_or_else(|| {
                        self.line_error(
                            line,
                            format!(
                                "`{text}` in the {current_header} column is not a number; correct or delete the line"
                            ),
                        )
                    })?
                };
                Ok(Some(Row { line, t_s, value }))
            }
            Layout::Long { .. } => self.long_row(line, layout),
        }
    }

    fn long_row(&self, line: u64, layout: &Layout) -> Result<Option<Row>, ImportError> {
        let Layout::Long { time_s_per_unit, wanted, chosen } = layout else { return Ok(None) };
        let field = |i: usize| self.record.get(i).unwrap_or("");
        let (name, unit) = (field(1), field(3));
        let current_unit = self.options.current_unit.or_else(|| CurrentUnit::from_symbol(unit));
        let selected = match (chosen, wanted) {
            (Some((chosen, _)), _) => chosen == name,
            (None, Some(wanted)) => wanted == name,
            (None, None) => current_unit.is_some(),
        };
        if !selected {
            return Ok(None);
        }
        let text = field(2);
        let t_text = field(0);
        let t_s = self.number(t_text).ok_or_else(|| {
            self.line_error(
                line,
                format!("`{t_text}` in the time_s column is not a number; correct or delete the line"),
            )
        })? * time_s_per_unit;
        if !t_s.is_finite() {
            return Err(self
                .line_error(line, format!("the time `{t_text}` is not a finite number; correct or delete the line")));
        }
        let scale = current_unit.map_or(1.0, CurrentUnit::amperes);
        let value = if text.is_empty() {
            f32::NAN
        } else {
            self.value(text, scale).ok_or_else(|| {
                self.line_error(
                    line,
                    format!("`{text}` in the value column is not a number; correct or delete the line"),
                )
            })?
        };
        Ok(Some(Row { line, t_s, value }))
    }

    /// The channel a long-format import settled on (name, unit), fixed by its first row.
    fn long_channel(&mut self) -> Option<(String, String)> {
        let name = self.record.get(1).unwrap_or("").to_string();
        let unit = self.record.get(3).unwrap_or("").to_string();
        let Some(Layout::Long { chosen, .. }) = &mut self.layout else { return None };
        let current = self.options.current_unit.is_some() || CurrentUnit::from_symbol(&unit).is_some();
        Some(chosen.get_or_insert((name, if current { "A".into() } else { unit })).clone())
    }

    /// A sample value times `scale`; values already in base units are parsed straight to `f32`, so a
    /// trace exported to CSV imports back bit for bit.
    fn value(&self, text: &str, scale: f64) -> Option<f32> {
        if scale == 1.0 {
            let text = text.trim();
            return match text.parse::<f32>() {
                Ok(v) => Some(v),
                Err(_) if self.decimal_comma && text.contains(',') => text.replace(',', ".").parse().ok(),
                Err(_) => None,
            };
        }
        self.number(text).map(|v| (v * scale) as f32)
    }

    fn number(&self, text: &str) -> Option<f64> {
        let text = text.trim();
        match text.parse::<f64>() {
            Ok(v) => Some(v),
            Err(_) if self.decimal_comma && text.contains(',') => text.replace(',', ".").parse().ok(),
            Err(_) => None,
        }
    }
}

/// Splits a header name into its lower-case base and unit: `Current(uA)` → (`current`, `ua`), `time_ms` →
/// (`time`, `ms`), `I [mA]` → (`i`, `ma`), `voltage` → (`voltage`, none).
fn split_name(name: &str) -> (String, Option<String>) {
    let lower = name.trim().to_lowercase();
    for (open, close) in [('(', ')'), ('[', ']')] {
        if let Some(inner) = lower.strip_suffix(close)
            && let Some(at) = inner.rfind(open)
        {
            return (inner[..at].trim().to_string(), Some(inner[at + open.len_utf8()..].trim().to_string()));
        }
    }
    if let Some((base, unit)) = lower.rsplit_once('_')
        && (TimeUnit::from_symbol(unit).is_some() || CurrentUnit::from_symbol(unit).is_some())
    {
        return (base.to_string(), Some(unit.to_string()));
    }
    (lower, None)
}

/// The delimiter of the file: whichever of `,` `;` and tab its first line has most of (`,` on a tie).
fn sniff_delimiter(path: &Path) -> Result<u8, ImportError> {
    let file = File::open(path).map_err(|reason| ImportError::Read { path: path.to_path_buf(), reason })?;
    let mut first = String::new();
    let _ = BufReader::new(file).read_line(&mut first);
    let count = |c: char| first.matches(c).count();
    let delimiter = [(b',', count(',')), (b';', count(';')), (b'\t', count('\t'))]
        .into_iter()
        .fold((b',', 0), |best, (d, n)| if n > best.1 { (d, n) } else { best });
    Ok(delimiter.0)
}

/// Sample period and the step length beyond which rows are missing, from the prefix's steps.
struct Timing {
    gap_step_s: f64,
    period_s: f64,
    rate_hz: f64,
}

fn timing(rows: &[Row], path: &Path) -> Result<Timing, ImportError> {
    let content = |problem: String| ImportError::Content { path: path.to_path_buf(), problem };
    if rows.len() < 2 {
        return Err(content(format!(
            "there {} only {} row of samples, and it takes two to tell the sample rate; check that the file \
             holds the recording",
            if rows.len() == 1 { "is" } else { "are" },
            rows.len()
        )));
    }
    let mut steps: Vec<f64> = rows.windows(2).map(|w| w[1].t_s - w[0].t_s).collect();
    let middle = steps.len() / 2;
    let median_s = *steps.select_nth_unstable_by(middle, f64::total_cmp).1;
    if !(median_s > 0.0 && median_s.is_finite()) {
        return Err(content(
            "the time does not advance from row to row (most rows repeat the time before them); check that the \
             time column is the time, in a unit fine enough for the sample rate"
                .into(),
        ));
    }
    let gap_step_s = GAP_STEPS * median_s;
    let regular: Vec<f64> = steps.iter().copied().filter(|s| *s < gap_step_s).collect();
    let mean_s = regular.iter().sum::<f64>() / regular.len().max(1) as f64;
    let mut rate_hz = if mean_s > 0.0 { 1.0 / mean_s } else { 1.0 / median_s };
    let whole = rate_hz.round();
    if whole >= 1.0 && (rate_hz - whole).abs() <= SNAP_RELATIVE * rate_hz {
        rate_hz = whole;
    }
    Ok(Timing { gap_step_s, period_s: 1.0 / rate_hz, rate_hz })
}

/// Writes `row` after a row at `last_t_s`: a gap first if rows are missing between them.
fn emit(out: &mut Output, timing: &Timing, last_t_s: f64, row: Row, path: &Path) -> Result<(), ImportError> {
    let step_s = row.t_s - last_t_s;
    if step_s >= timing.gap_step_s {
        let missing = ((step_s / timing.period_s).round() as u64).saturating_sub(1);
        if missing > MAX_GAP_SAMPLES {
            return Err(ImportError::Line {
                path: path.to_path_buf(),
                line: row.line,
                problem: format!(
                    "the time jumps ahead by {step_s} s, a gap of {missing} samples; check the time on this line"
                ),
            });
        }
        out.gap(0, missing)?;
    }
    out.push(0, row.value)?;
    Ok(())
}

/// Imports a CSV file into the trace at `part`.
pub(super) fn import(
    path: &Path,
    part: &Path,
    options: &ImportOptions,
) -> Result<(&'static str, Vec<ImportedChannel>), ImportError> {
    let delimiter = sniff_delimiter(path)?;
    let file = File::open(path).map_err(|reason| ImportError::Read { path: path.to_path_buf(), reason })?;
    let reader = ::csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(::csv::Trim::All)
        .comment(Some(b'#'))
        .delimiter(delimiter)
        .from_reader(BufReader::with_capacity(1 << 16, file));
    let mut rows = Rows {
        path,
        options,
        reader,
        record: ::csv::StringRecord::new(),
        layout: None,
        decimal_comma: delimiter == b';',
        last_t_s: None,
    };
    let mut prefix = Vec::new();
    let mut channel = None;
    while prefix.len() < PREFIX_ROWS {
        let Some(row) = rows.next()? else { break };
        if channel.is_none() {
            channel = rows.long_channel();
        }
        prefix.push(row);
    }
    if prefix.is_empty()
        && let Some(Layout::Long { wanted: Some(name), .. }) = &rows.layout
    {
        return Err(ImportError::Content {
            path: path.to_path_buf(),
            problem: format!("no rows of channel `{name}`; check the channel name (it is the second column)"),
        });
    }
    let timing = timing(&prefix, path)?;
    let long = channel.is_some();
    let (name, unit) = channel.unwrap_or_else(|| ("current".into(), "A".into()));
    let mut out = Output::create(part, None)?;
    out.add_channel(ChannelDef { name, unit, sample_rate_hz: timing.rate_hz, start_s: prefix[0].t_s })?;
    let imported_from = if long { "benchtop-csv" } else { "csv" };
    out.source_meta(path, imported_from)?;
    out.push(0, prefix[0].value)?;
    let mut last_t_s = prefix[0].t_s;
    for row in prefix.drain(1..) {
        emit(&mut out, &timing, last_t_s, row, path)?;
        last_t_s = row.t_s;
    }
    while let Some(row) = rows.next()? {
        emit(&mut out, &timing, last_t_s, row, path)?;
        last_t_s = row.t_s;
    }
    Ok((imported_from, out.finish()?))
}
