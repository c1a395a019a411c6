//! Reading a `.btr` recording: instant open through the index, recovery of a file cut off mid-write, exact
//! statistics of any range in O(log n), and one summary per plot column over any range.
//!
//! Nothing is loaded up front: samples and summaries are read from the file when asked for, so memory does
//! not grow with the recording. A finished file is opened through its trailer and index (a few reads whatever
//! its size). A file without them (still being written, or cut off by a crash) is scanned chunk by chunk,
//! checking every checksum, up to the last complete chunk; summary blocks that did not reach the disk are
//! rebuilt from the level below and kept in memory. [`Trace::refresh`] continues the scan, so a view can
//! follow a recording in progress.

use std::fs::File;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::format::{
    CHUNK_HEADER_LEN, ChannelDef, ChunkHeader, ChunkKind, ChunkRef, FILE_HEADER_LEN, FileHeader, HeaderProblem,
    LEVEL_FACTOR, LEVELS, MAX_PAYLOAD_LEN, TRAILER_LEN, block_len, decode_file_header, decode_index, decode_trailer,
    le_u64,
};
use super::summary::{Accumulator, Stats, Summary};

/// Why a recording could not be opened or read.
#[derive(Debug, Error)]
pub enum TraceError {
    /// The file could not be opened or read.
    #[error("could not read the trace ({error}): {path}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        error: std::io::Error,
    },
    /// The file is not a recording.
    #[error("{path} is not a Benchtop trace (.btr): {reason}")]
    NotATrace {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A newer Benchtop wrote it.
    #[error("{path} was written by a newer Benchtop (format {version}); update Benchtop to open it")]
    TooNew {
        /// The file.
        path: PathBuf,
        /// The format version in the file.
        version: u16,
    },
    /// No channel of that name.
    #[error("{path} has no channel `{name}`; it has: {known}")]
    NoChannel {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The channels there are.
        known: String,
    },
}

/// One level's summary blocks: runs on disk, then blocks rebuilt in memory.
#[derive(Debug, Clone, Default)]
struct LevelData {
    disk: Vec<ChunkRef>,
    disk_blocks: u64,
    /// Blocks `disk_blocks..disk_blocks + memory.len()`.
    memory: Vec<Summary>,
}

impl LevelData {
    fn blocks(&self) -> u64 {
        self.disk_blocks + self.memory.len() as u64
    }
}

/// One channel of an open recording.
#[derive(Debug, Clone)]
struct ChannelData {
    def: ChannelDef,
    samples: Vec<ChunkRef>,
    sample_count: u64,
    levels: Vec<LevelData>,
}

/// How an open went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenReport {
    /// The file had its index (it was finished properly).
    pub finished: bool,
    /// Bytes after the last complete chunk that could not be read (a recording cut off mid-write).
    pub unreadable_tail_bytes: u64,
    /// Summary blocks rebuilt because they had not reached the disk.
    pub rebuilt_blocks: u64,
}

/// Per-column summaries over a range of sample indices.
#[derive(Debug, Clone, PartialEq)]
pub struct Columns {
    /// Sample index where column 0 starts.
    pub start: f64,
    /// Samples per column.
    pub width: f64,
    /// One summary per column (empty where there is no data).
    pub summaries: Vec<Summary>,
}

/// An open recording.
#[derive(Debug)]
pub struct Trace {
    path: PathBuf,
    file: File,
    header: FileHeader,
    channels: Vec<ChannelData>,
    meta: serde_json::Map<String, serde_json::Value>,
    scanned_to: u64,
    report: OpenReport,
    /// Raw samples of the last plot columns, kept so the next frame reuses the memory.
    scratch: std::sync::Mutex<Vec<f32>>,
}

impl Trace {
    /// Opens a recording, finished or not.
    pub fn open(path: &Path) -> Result<Self, TraceError> {
        let io = |error| TraceError::Io { path: path.to_path_buf(), error };
        let file = File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let mut header_bytes = [0u8; FILE_HEADER_LEN];
        if len < FILE_HEADER_LEN as u64 {
            return Err(TraceError::NotATrace { path: path.to_path_buf(), reason: "the file is too short".into() });
        }
        read_at(&file, &mut header_bytes, 0).map_err(io)?;
        let header = decode_file_header(&header_bytes).map_err(|problem| {
            let reason = match problem {
                HeaderProblem::NotARecording => "it does not start with the .btr signature",
                HeaderProblem::Corrupt => "its header is damaged",
                HeaderProblem::Layout => "its summary layout is not one this Benchtop reads",
                HeaderProblem::TooNew(version) => {
                    return TraceError::TooNew { path: path.to_path_buf(), version };
                }
            };
            TraceError::NotATrace { path: path.to_path_buf(), reason: reason.into() }
        })?;
        let mut trace = Self {
            path: path.to_path_buf(),
            file,
            header,
            channels: Vec::new(),
            meta: serde_json::Map::new(),
            scanned_to: FILE_HEADER_LEN as u64,
            report: OpenReport::default(),
            scratch: std::sync::Mutex::new(Vec::new()),
        };
        if !trace.open_indexed(len)? {
            trace.scan(len)?;
            trace.report.unreadable_tail_bytes = len - trace.scanned_to;
        }
        trace.rebuild_tails()?;
        Ok(trace)
    }

    /// Reads chunks written since the last look (a recording in progress); true if anything was added.
    pub fn refresh(&mut self) -> Result<bool, TraceError> {
        if self.report.finished {
            return Ok(false);
        }
        let len = self.file.metadata().map_err(|source| self.io(source))?.len();
        let before: Vec<u64> = self.channels.iter().map(|c| c.sample_count).collect();
        let channels_before = self.channels.len();
        self.scan(len)?;
        self.report.unreadable_tail_bytes = len - self.scanned_to;
        self.rebuild_tails()?;
        Ok(self.channels.len() != channels_before
            || self.channels.iter().zip(before).any(|(c, before)| c.sample_count != before))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How the open went (finished, recovered, rebuilt).
    pub fn report(&self) -> OpenReport {
        self.report
    }

    /// When the recording started, ms since the Unix epoch.
    pub fn created_unix_ms(&self) -> u64 {
        self.header.created_unix_ms
    }

    /// Recording metadata.
    pub fn meta(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.meta
    }

    /// Channel definitions in order.
    pub fn channels(&self) -> impl Iterator<Item = &ChannelDef> {
        self.channels.iter().map(|c| &c.def)
    }

    /// Number of channels.
    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    /// The definition of channel `channel`.
    pub fn channel(&self, channel: usize) -> Option<&ChannelDef> {
        self.channels.get(channel).map(|c| &c.def)
    }

    /// The channel named `name`.
    pub fn find_channel(&self, name: &str) -> Result<usize, TraceError> {
        self.channels.iter().position(|c| c.def.name == name).ok_or_else(|| TraceError::NoChannel {
            path: self.path.clone(),
            name: name.into(),
            known: self.channels.iter().map(|c| c.def.name.as_str()).collect::<Vec<_>>().join(", "),
        })
    }

    /// Samples in channel `channel` (gaps included).
    pub fn sample_count(&self, channel: usize) -> u64 {
        self.channels.get(channel).map_or(0, |c| c.sample_count)
    }

    /// Time of sample `index` of `channel`, s since the recording started.
    pub fn time_of(&self, channel: usize, index: f64) -> f64 {
        self.channels.get(channel).map_or(0.0, |c| c.def.start_s + index / c.def.sample_rate_hz)
    }

    /// Sample index of time `t_s` in `channel` (fractional, unclamped).
    pub fn index_at(&self, channel: usize, t_s: f64) -> f64 {
        self.channels.get(channel).map_or(0.0, |c| (t_s - c.def.start_s) * c.def.sample_rate_hz)
    }

    /// Samples `start..end` of `channel` (clamped to what exists); NaN where the recording has a gap.
    pub fn read_samples(&self, channel: usize, start: u64, end: u64) -> Result<Vec<f32>, TraceError> {
        let mut out = Vec::new();
        self.read_samples_into(channel, start, end, &mut out)?;
        Ok(out)
    }

    /// [`Trace::read_samples`] into a buffer the caller keeps: a fresh multi-megabyte buffer costs a page fault
    /// per 4 KiB, which is more than the reading.
    pub fn read_samples_into(
        &self,
        channel: usize,
        start: u64,
        end: u64,
        out: &mut Vec<f32>,
    ) -> Result<(), TraceError> {
        out.clear();
        let Some(data) = self.channels.get(channel) else { return Ok(()) };
        let end = end.min(data.sample_count);
        out.resize(end.saturating_sub(start) as usize, 0.0);
        let first_run = data.samples.partition_point(|r| r.end() <= start);
        for run in &data.samples[first_run..] {
            if run.first >= end {
                break;
            }
            let from = start.max(run.first);
            let to = end.min(run.end());
            let target = &mut out[(from - start) as usize..(to - start) as usize];
            read_at(&self.file, bytemuck::cast_slice_mut(target), run.data_offset + (from - run.first) * 4)
                .map_err(|e| self.io(e))?;
        }
        if cfg!(target_endian = "big") {
            out.iter_mut().for_each(|v| *v = f32::from_bits(v.to_bits().swap_bytes()));
        }
        Ok(())
    }

    /// Summary blocks `start..end` of `level` (clamped to the complete blocks).
    fn read_blocks(&self, channel: usize, level: usize, start: u64, end: u64) -> Result<Vec<Summary>, TraceError> {
        let Some(data) = self.channels.get(channel).and_then(|c| c.levels.get(level)) else { return Ok(Vec::new()) };
        let end = end.min(data.blocks());
        let disk_end = end.min(data.disk_blocks);
        let mut out = vec![Summary::EMPTY; disk_end.saturating_sub(start) as usize];
        let first_run = data.disk.partition_point(|r| r.end() <= start);
        for run in &data.disk[first_run..] {
            if run.first >= disk_end {
                break;
            }
            let from = start.max(run.first);
            let to = disk_end.min(run.end());
            let target = &mut out[(from - start) as usize..(to - start) as usize];
            read_at(
                &self.file,
                bytemuck::cast_slice_mut(target),
                run.data_offset + (from - run.first) * Summary::ENCODED_LEN as u64,
            )
            .map_err(|e| self.io(e))?;
        }
        if cfg!(target_endian = "big") {
            out.iter_mut().for_each(Summary::swap_bytes);
        }
        if end > data.disk_blocks {
            let from = (start.max(data.disk_blocks) - data.disk_blocks) as usize;
            let to = (end - data.disk_blocks) as usize;
            out.extend_from_slice(&data.memory[from..to]);
        }
        Ok(out)
    }

    /// Exact summary of samples `start..end` of `channel`: raw samples at the ragged ends, whole blocks of the
    /// coarsest fitting level in between, so the cost is O(log n) reads whatever the range.
    pub fn summary(&self, channel: usize, start: u64, end: u64) -> Result<Summary, TraceError> {
        let mut acc = Accumulator::default();
        let end = end.min(self.sample_count(channel));
        if start >= end {
            return Ok(acc.summary());
        }
        let (mut lo, mut hi) = (start, end);
        let first_block_end = lo.next_multiple_of(block_len(0)).min(hi);
        acc.add(&Summary::of(&self.read_samples(channel, lo, first_block_end)?));
        lo = first_block_end;
        if lo < hi {
            let last_block_start = (hi - hi % block_len(0)).max(lo);
            acc.add(&Summary::of(&self.read_samples(channel, last_block_start, hi)?));
            hi = last_block_start;
        }
        let mut level = 0;
        while lo < hi {
            let size = block_len(level);
            if level + 1 == LEVELS {
                self.add_blocks(&mut acc, channel, level, lo / size, hi / size)?;
                break;
            }
            let parent = size * LEVEL_FACTOR;
            let left_end = lo.next_multiple_of(parent).min(hi);
            self.add_blocks(&mut acc, channel, level, lo / size, left_end / size)?;
            lo = left_end;
            if lo < hi {
                let right_start = (hi - hi % parent).max(lo);
                self.add_blocks(&mut acc, channel, level, right_start / size, hi / size)?;
                hi = right_start;
            }
            level += 1;
        }
        Ok(acc.summary())
    }

    fn add_blocks(
        &self,
        acc: &mut Accumulator,
        channel: usize,
        level: usize,
        from: u64,
        to: u64,
    ) -> Result<(), TraceError> {
        if from < to {
            for block in self.read_blocks(channel, level, from, to)? {
                acc.add(&block);
            }
        }
        Ok(())
    }

    /// Exact statistics of samples `start..end` of `channel`.
    pub fn stats(&self, channel: usize, start: u64, end: u64) -> Result<Stats, TraceError> {
        let end = end.min(self.sample_count(channel));
        let start = start.min(end);
        let rate = self.channel(channel).map_or(1.0, |c| c.sample_rate_hz);
        Ok(Stats::from_summary(&self.summary(channel, start, end)?, (end - start) as f64 / rate, 1.0 / rate))
    }

    /// One summary per column for `columns` equal columns over samples `start..end` of `channel`.
    ///
    /// Columns narrower than a level-0 block are exact (raw samples); wider ones are built from the coarsest
    /// level whose blocks fit in a column, each block going to the column holding its middle, so a column's
    /// edges are exact to within half a block of that level.
    pub fn columns(&self, channel: usize, start: f64, end: f64, columns: usize) -> Result<Columns, TraceError> {
        let count = self.sample_count(channel);
        let columns = columns.max(1);
        let width = ((end - start) / columns as f64).max(f64::MIN_POSITIVE);
        let mut summaries = vec![Summary::EMPTY; columns];
        let edge = |c: usize| (start + c as f64 * width).clamp(0.0, count as f64) as u64;
        let first = edge(0);
        let last = edge(columns);
        if first >= last {
            return Ok(Columns { start, width, summaries });
        }
        if width < block_len(0) as f64 {
            let mut scratch =
                self.scratch.lock().map_err(|_| self.io(std::io::Error::other("a reader thread failed")))?;
            let samples = &mut *scratch;
            self.read_samples_into(channel, first, last, samples)?;
            for (c, summary) in summaries.iter_mut().enumerate() {
                let a = (edge(c) - first) as usize;
                let b = ((edge(c + 1) - first) as usize).min(samples.len());
                if a < b {
                    *summary = Summary::of(&samples[a..b]);
                }
            }
            return Ok(Columns { start, width, summaries });
        }
        let level = (0..LEVELS).rev().find(|&l| block_len(l) as f64 <= width).unwrap_or(0);
        let size = block_len(level);
        let complete = self.channels[channel].levels[level].blocks();
        let from_block = first / size;
        let to_block = last.div_ceil(size).min(complete);
        let blocks = self.read_blocks(channel, level, from_block, to_block)?;
        for (i, block) in blocks.iter().enumerate() {
            let middle = ((from_block + i as u64) * size) as f64 + size as f64 / 2.0;
            let c = ((middle - start) / width).floor().clamp(0.0, (columns - 1) as f64) as usize;
            summaries[c].merge(block);
        }
        let tail_start = (complete * size).max(first);
        if tail_start < last {
            for (c, summary) in summaries.iter_mut().enumerate() {
                let (a, b) = (edge(c).max(tail_start), edge(c + 1));
                if a < b {
                    summary.merge(&self.summary(channel, a, b)?);
                }
            }
        }
        Ok(Columns { start, width, summaries })
    }

    fn io(&self, error: std::io::Error) -> TraceError {
        TraceError::Io { path: self.path.clone(), error }
    }

    /// Opens through the trailer and index; false if the file has none (it was not finished).
    fn open_indexed(&mut self, len: u64) -> Result<bool, TraceError> {
        if len < (FILE_HEADER_LEN + TRAILER_LEN) as u64 {
            return Ok(false);
        }
        let mut trailer = [0u8; TRAILER_LEN];
        read_at(&self.file, &mut trailer, len - TRAILER_LEN as u64).map_err(|e| self.io(e))?;
        let Some((offset, index_len)) = decode_trailer(&trailer) else { return Ok(false) };
        if offset.checked_add(index_len).and_then(|end| end.checked_add(TRAILER_LEN as u64)) != Some(len)
            || index_len < CHUNK_HEADER_LEN as u64
            || index_len > u64::from(MAX_PAYLOAD_LEN)
        {
            return Ok(false);
        }
        let mut bytes = vec![0u8; index_len as usize];
        read_at(&self.file, &mut bytes, offset).map_err(|e| self.io(e))?;
        let (header_bytes, payload) = bytes.split_at(CHUNK_HEADER_LEN);
        let Ok(header_bytes) = <[u8; CHUNK_HEADER_LEN]>::try_from(header_bytes) else { return Ok(false) };
        let Some(header) = ChunkHeader::decode(&header_bytes) else { return Ok(false) };
        if header.kind != ChunkKind::Index as u8 || !header.matches(&header_bytes, payload) {
            return Ok(false);
        }
        let Some((head, index)) = decode_index(payload) else { return Ok(false) };
        self.meta = head.meta;
        self.channels = head
            .channels
            .into_iter()
            .zip(index)
            .map(|(def, index)| {
                let mut levels: Vec<LevelData> = index
                    .levels
                    .into_iter()
                    .map(|disk| LevelData {
                        disk_blocks: disk.last().map_or(0, ChunkRef::end),
                        disk,
                        memory: Vec::new(),
                    })
                    .collect();
                levels.resize_with(LEVELS, LevelData::default);
                ChannelData {
                    def,
                    sample_count: index.samples.last().map_or(0, ChunkRef::end),
                    samples: index.samples,
                    levels,
                }
            })
            .collect();
        self.scanned_to = len;
        self.report.finished = true;
        Ok(true)
    }

    /// Reads chunks from `scanned_to` up to `len`, stopping at the first incomplete or damaged one.
    fn scan(&mut self, len: u64) -> Result<(), TraceError> {
        let mut pos = self.scanned_to;
        let mut header_bytes = [0u8; CHUNK_HEADER_LEN];
        let mut payload = Vec::new();
        while pos + CHUNK_HEADER_LEN as u64 <= len {
            read_at(&self.file, &mut header_bytes, pos).map_err(|e| self.io(e))?;
            let Some(header) = ChunkHeader::decode(&header_bytes) else { break };
            let end = pos + CHUNK_HEADER_LEN as u64 + u64::from(header.payload_len);
            if header.payload_len > MAX_PAYLOAD_LEN || end > len {
                break;
            }
            payload.resize(header.payload_len as usize, 0);
            read_at(&self.file, &mut payload, pos + CHUNK_HEADER_LEN as u64).map_err(|e| self.io(e))?;
            if !header.matches(&header_bytes, &payload) || !self.take_chunk(&header, &payload, pos) {
                break;
            }
            pos = end;
        }
        self.scanned_to = pos;
        Ok(())
    }

    /// Adds one checked chunk; false if it contradicts what came before (the file is damaged from here).
    fn take_chunk(&mut self, header: &ChunkHeader, payload: &[u8], pos: u64) -> bool {
        let data_offset = pos + CHUNK_HEADER_LEN as u64 + 8;
        let channel = usize::from(header.channel);
        match ChunkKind::from_code(header.kind) {
            Some(ChunkKind::Channel) => {
                let Ok(def) = serde_json::from_slice::<ChannelDef>(payload) else { return false };
                if channel != self.channels.len() {
                    return false;
                }
                self.channels.push(ChannelData {
                    def,
                    samples: Vec::new(),
                    sample_count: 0,
                    levels: vec![LevelData::default(); LEVELS],
                });
            }
            Some(ChunkKind::Meta) => {
                let Ok(map) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(payload) else {
                    return false;
                };
                self.meta.extend(map);
            }
            Some(ChunkKind::Samples) => {
                let Some(data) = self.channels.get_mut(channel) else { return false };
                let first = le_u64(payload);
                if payload.len() < 8 || first != data.sample_count || !(payload.len() - 8).is_multiple_of(4) {
                    return false;
                }
                let count = (payload.len() as u64 - 8) / 4;
                data.samples.push(ChunkRef { first, count, data_offset });
                data.sample_count += count;
            }
            Some(ChunkKind::Summaries) => {
                let Some(level) =
                    self.channels.get_mut(channel).and_then(|c| c.levels.get_mut(usize::from(header.level)))
                else {
                    return false;
                };
                let first = le_u64(payload);
                if payload.len() < 8
                    || first != level.disk_blocks
                    || !(payload.len() - 8).is_multiple_of(Summary::ENCODED_LEN)
                {
                    return false;
                }
                let count = (payload.len() - 8) / Summary::ENCODED_LEN;
                level.disk.push(ChunkRef { first, count: count as u64, data_offset });
                level.disk_blocks += count as u64;
                level.memory.drain(..count.min(level.memory.len()));
            }
            Some(ChunkKind::Index) | None => {}
        }
        true
    }

    /// Builds in memory the complete blocks that are not on disk, level by level from the one below.
    fn rebuild_tails(&mut self) -> Result<(), TraceError> {
        const PIECE_BLOCKS: u64 = 2048;
        for channel in 0..self.channels.len() {
            for level in 0..LEVELS {
                let full = self.channels[channel].sample_count / block_len(level);
                let mut have = self.channels[channel].levels[level].blocks();
                while have < full {
                    let upto = full.min(have + PIECE_BLOCKS);
                    let built: Vec<Summary> = if level == 0 {
                        let samples = self.read_samples(channel, have * block_len(0), upto * block_len(0))?;
                        samples.chunks(block_len(0) as usize).map(Summary::of).collect()
                    } else {
                        let children =
                            self.read_blocks(channel, level - 1, have * LEVEL_FACTOR, upto * LEVEL_FACTOR)?;
                        children
                            .chunks(LEVEL_FACTOR as usize)
                            .map(|group| {
                                let mut s = Summary::EMPTY;
                                group.iter().for_each(|b| s.merge(b));
                                s
                            })
                            .collect()
                    };
                    self.report.rebuilt_blocks += built.len() as u64;
                    self.channels[channel].levels[level].memory.extend(built);
                    have = upto;
                }
            }
        }
        Ok(())
    }
}

#[cfg(unix)]
fn read_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    use std::os::unix::fs::FileExt as _;
    file.read_exact_at(buf, offset)
}

#[cfg(windows)]
fn read_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> std::io::Result<()> {
    use std::os::windows::fs::FileExt as _;
    while !buf.is_empty() {
        match file.seek_read(buf, offset)? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
        }
    }
    Ok(())
}
