//! Writing a `.btr` recording: samples in, checksummed chunks and the summary pyramid out, on a disk thread.
//!
//! The caller's thread copies samples into the chunk under construction and folds them into the pyramid
//! (one summary per 512 samples, then every 16 blocks of a level make one of the next); full chunks go over a
//! bounded channel to a named writer thread that checksums and writes them, so the caller never waits on the
//! disk unless the disk falls behind by more than the channel holds. [`TraceWriter::flush`] writes what has
//! arrived so far (a crash loses at most what came after the last flush); [`TraceWriter::finish`] adds the
//! index and trailer that make opening instant. A writer dropped without `finish` leaves a file that
//! [`crate::trace::Trace::open`] recovers.

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use thiserror::Error;

use super::format::{
    BLOCK_SAMPLES, CHUNK_HEADER_LEN, ChannelDef, ChannelIndex, ChunkKind, ChunkRef, FILE_HEADER_LEN, IndexHead,
    LEVEL_FACTOR, LEVELS, begin_chunk, encode_file_header, encode_index, encode_trailer, seal_chunk,
};
use super::summary::Summary;

/// Samples per full samples chunk (4 MiB of f32).
pub const CHUNK_SAMPLES: usize = 1 << 20;
/// Summaries a level collects before they are written as one chunk.
const SUMMARIES_PER_CHUNK: usize = 4096;
/// Chunks queued for the disk thread before `append` waits for it.
const QUEUE_CHUNKS: usize = 16;
/// Smallest written buffer worth keeping for reuse.
const SPARE_MIN_BYTES: usize = 1 << 20;
/// How often the disk thread asks the OS to put written data on the disk itself.
const SYNC_INTERVAL: Duration = Duration::from_secs(1);

/// Why a recording could not be written.
#[derive(Debug, Error)]
pub enum WriteError {
    /// The file could not be created.
    #[error("could not create the recording ({error}); check that the folder exists and is writable: {path}")]
    Create {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        error: std::io::Error,
    },
    /// Writing failed part way; what was written before stays readable.
    #[error("could not write {path}: {reason}; the samples written before stay readable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        reason: String,
    },
    /// A channel number that was never added.
    #[error("no channel {0} in this recording")]
    NoChannel(usize),
    /// A channel definition that cannot be recorded.
    #[error("channel `{name}`: {reason}")]
    BadChannel {
        /// The channel.
        name: String,
        /// What is wrong.
        reason: String,
    },
}

enum Job {
    /// A chunk to seal (length and CRC) and write.
    Chunk(Vec<u8>),
    /// Bytes to write as they are (the trailer).
    Raw(Vec<u8>),
    Flush,
}

/// The disk thread: writes chunks in order, syncs now and then, reports the first error.
struct Disk {
    jobs: SyncSender<Job>,
    /// Written chunk buffers coming back for reuse: fresh 4 MiB buffers cost a page fault per 4 KiB.
    spare: Receiver<Vec<u8>>,
    thread: JoinHandle<std::io::Result<File>>,
    failure: Arc<Mutex<Option<String>>>,
}

fn disk_loop(
    mut file: File,
    jobs: Receiver<Job>,
    spare: SyncSender<Vec<u8>>,
    failure: Arc<Mutex<Option<String>>>,
) -> std::io::Result<File> {
    let mut last_sync = Instant::now();
    let result = (|| -> std::io::Result<()> {
        for job in jobs {
            match job {
                Job::Chunk(mut bytes) => {
                    seal_chunk(&mut bytes);
                    file.write_all(&bytes)?;
                    if bytes.capacity() >= SPARE_MIN_BYTES {
                        let _ = spare.try_send(bytes);
                    }
                }
                Job::Raw(bytes) => file.write_all(&bytes)?,
                Job::Flush => {
                    file.flush()?;
                    if last_sync.elapsed() >= SYNC_INTERVAL {
                        file.sync_data()?;
                        last_sync = Instant::now();
                    }
                }
            }
        }
        Ok(())
    })();
    if let Err(error) = &result
        && let Ok(mut slot) = failure.lock()
    {
        *slot = Some(error.to_string());
    }
    result.map(|()| file)
}

/// One summary level being built.
#[derive(Debug, Default)]
struct Level {
    /// The block being filled from blocks of the level below.
    partial: Summary,
    /// Lower-level blocks merged into `partial`.
    partial_children: u64,
    /// Complete blocks not yet written (encoded), and the index of the first.
    pending: Vec<u8>,
    pending_first: u64,
    /// Complete blocks so far.
    blocks: u64,
    /// Runs written.
    runs: Vec<ChunkRef>,
}

impl Level {
    fn pending_count(&self) -> usize {
        self.pending.len() / Summary::ENCODED_LEN
    }
}

/// One channel being written.
struct ChannelWriter {
    def: ChannelDef,
    /// The samples chunk under construction (header, first index, f32 values).
    chunk: Vec<u8>,
    chunk_first: u64,
    chunk_samples: usize,
    /// Samples appended so far.
    samples: u64,
    /// Summary of the level-0 block being filled, and how many samples it has.
    block: Summary,
    block_samples: u64,
    levels: Vec<Level>,
    sample_runs: Vec<ChunkRef>,
}

/// A `.btr` recording being written.
pub struct TraceWriter {
    path: PathBuf,
    channels: Vec<ChannelWriter>,
    meta: serde_json::Map<String, serde_json::Value>,
    disk: Option<Disk>,
    /// File offset where the next chunk lands.
    offset: u64,
}

impl TraceWriter {
    /// Creates `path` (replacing it) and starts the disk thread; the file records the current time as its start.
    pub fn create(path: &Path) -> Result<Self, WriteError> {
        let created_unix_ms =
            SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(0));
        Self::create_with_time(path, created_unix_ms)
    }

    /// [`TraceWriter::create`] with the start time given (ms since the Unix epoch): an import keeps the time
    /// its source was recorded, and golden files come out byte for byte the same on every run.
    pub fn create_with_time(path: &Path, created_unix_ms: u64) -> Result<Self, WriteError> {
        let mut file = File::create(path).map_err(|error| WriteError::Create { path: path.to_path_buf(), error })?;
        file.write_all(&encode_file_header(created_unix_ms))
            .map_err(|error| WriteError::Create { path: path.to_path_buf(), error })?;
        let (jobs, receiver) = sync_channel(QUEUE_CHUNKS);
        let (spare_tx, spare) = sync_channel(QUEUE_CHUNKS);
        let failure = Arc::new(Mutex::new(None));
        let thread_failure = failure.clone();
        let thread = std::thread::Builder::new()
            .name("benchtop-trace-disk".into())
            .spawn(move || disk_loop(file, receiver, spare_tx, thread_failure))
            .map_err(|error| WriteError::Create { path: path.to_path_buf(), error })?;
        Ok(Self {
            path: path.to_path_buf(),
            channels: Vec::new(),
            meta: serde_json::Map::new(),
            disk: Some(Disk { jobs, spare, thread, failure }),
            offset: FILE_HEADER_LEN as u64,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Adds a channel; returns its number for [`TraceWriter::append`].
    pub fn add_channel(&mut self, def: ChannelDef) -> Result<usize, WriteError> {
        let bad = |reason: &str| WriteError::BadChannel { name: def.name.clone(), reason: reason.into() };
        if !(def.sample_rate_hz.is_finite() && def.sample_rate_hz > 0.0) {
            return Err(bad("the sample rate must be a positive number of samples per second"));
        }
        if self.channels.iter().any(|c| c.def.name == def.name) {
            return Err(bad("a channel of that name is already in the recording"));
        }
        let id = self.channels.len();
        let mut chunk = Vec::new();
        begin_chunk(&mut chunk, ChunkKind::Channel, 0, id as u16);
        chunk.extend_from_slice(&serde_json::to_vec(&def).map_err(|e| bad(&e.to_string()))?);
        self.send_chunk(chunk)?;
        self.channels.push(ChannelWriter {
            def,
            chunk: Vec::new(),
            chunk_first: 0,
            chunk_samples: 0,
            samples: 0,
            block: Summary::EMPTY,
            block_samples: 0,
            levels: (0..LEVELS).map(|_| Level::default()).collect(),
            sample_runs: Vec::new(),
        });
        Ok(id)
    }

    /// Records metadata (source, device, voltage, …); later values of a key replace earlier ones.
    pub fn set_meta(&mut self, key: &str, value: serde_json::Value) -> Result<(), WriteError> {
        self.meta.insert(key.to_string(), value.clone());
        let mut chunk = Vec::new();
        begin_chunk(&mut chunk, ChunkKind::Meta, 0, 0);
        let mut one = serde_json::Map::new();
        one.insert(key.to_string(), value);
        chunk.extend_from_slice(&serde_json::to_vec(&one).unwrap_or_default());
        self.send_chunk(chunk)
    }

    /// Samples appended to `channel` so far.
    pub fn sample_count(&self, channel: usize) -> u64 {
        self.channels.get(channel).map_or(0, |c| c.samples)
    }

    /// The channel definitions, in order.
    pub fn channels(&self) -> impl Iterator<Item = &ChannelDef> {
        self.channels.iter().map(|c| &c.def)
    }

    /// Appends samples to `channel`; NaN marks a sample that is missing (a gap).
    pub fn append(&mut self, channel: usize, samples: &[f32]) -> Result<(), WriteError> {
        self.check_disk()?;
        if channel >= self.channels.len() {
            return Err(WriteError::NoChannel(channel));
        }
        let mut rest = samples;
        while !rest.is_empty() {
            let writer = &mut self.channels[channel];
            if writer.chunk_samples == 0 {
                if writer.chunk.capacity() == 0
                    && let Some(spare) = self.disk.as_ref().and_then(|d| d.spare.try_recv().ok())
                {
                    writer.chunk = spare;
                }
                begin_chunk(&mut writer.chunk, ChunkKind::Samples, 0, channel as u16);
                writer.chunk.reserve(8 + CHUNK_SAMPLES.min(rest.len().max(4096)) * 4);
                writer.chunk.extend_from_slice(&writer.samples.to_le_bytes());
                writer.chunk_first = writer.samples;
            }
            let take = rest.len().min(CHUNK_SAMPLES - writer.chunk_samples);
            let (piece, after) = rest.split_at(take);
            rest = after;
            let start = writer.chunk.len();
            writer.chunk.resize(start + piece.len() * 4, 0);
            for (dst, v) in writer.chunk[start..].chunks_exact_mut(4).zip(piece) {
                dst.copy_from_slice(&v.to_le_bytes());
            }
            writer.chunk_samples += piece.len();
            writer.samples += piece.len() as u64;
            writer.summarise(piece);
            if writer.chunk_samples == CHUNK_SAMPLES {
                self.emit_samples(channel)?;
                self.emit_summaries(channel, false)?;
            }
        }
        Ok(())
    }

    /// Appends `count` missing samples (a gap of known length) to `channel`.
    pub fn append_gap(&mut self, channel: usize, count: u64) -> Result<(), WriteError> {
        let nan = vec![f32::NAN; 65_536];
        let mut left = count;
        while left > 0 {
            let n = left.min(nan.len() as u64) as usize;
            self.append(channel, &nan[..n])?;
            left -= n as u64;
        }
        Ok(())
    }

    /// Hands everything appended so far to the disk thread; a crash after this loses none of it.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        for channel in 0..self.channels.len() {
            self.emit_samples(channel)?;
        }
        self.send(Job::Flush)
    }

    /// Writes the remaining samples and summaries, the index and the trailer, and closes the file.
    pub fn finish(mut self) -> Result<(), WriteError> {
        for channel in 0..self.channels.len() {
            self.emit_samples(channel)?;
            self.emit_summaries(channel, true)?;
        }
        let head =
            IndexHead { channels: self.channels.iter().map(|c| c.def.clone()).collect(), meta: self.meta.clone() };
        let index: Vec<ChannelIndex> = self
            .channels
            .iter()
            .map(|c| ChannelIndex {
                samples: c.sample_runs.clone(),
                levels: c.levels.iter().map(|l| l.runs.clone()).collect(),
            })
            .collect();
        let mut chunk = Vec::new();
        begin_chunk(&mut chunk, ChunkKind::Index, 0, 0);
        chunk.extend_from_slice(&encode_index(&head, &index));
        let index_offset = self.offset;
        let index_len = chunk.len() as u64;
        self.send_chunk(chunk)?;
        self.send(Job::Raw(encode_trailer(index_offset, index_len).to_vec()))?;
        let Some(disk) = self.disk.take() else { return self.failed("the disk thread had already stopped") };
        drop(disk.jobs);
        match disk.thread.join() {
            Ok(Ok(file)) => file.sync_all().map_err(|e| self.write_error(e.to_string())),
            Ok(Err(error)) => Err(self.write_error(error.to_string())),
            Err(_) => self.failed("the disk thread stopped unexpectedly"),
        }
    }

    fn emit_samples(&mut self, channel: usize) -> Result<(), WriteError> {
        let writer = &mut self.channels[channel];
        if writer.chunk_samples == 0 {
            return Ok(());
        }
        let chunk = std::mem::take(&mut writer.chunk);
        let run = ChunkRef {
            first: writer.chunk_first,
            count: writer.chunk_samples as u64,
            data_offset: self.offset + CHUNK_HEADER_LEN as u64 + 8,
        };
        writer.sample_runs.push(run);
        writer.chunk_samples = 0;
        self.send_chunk(chunk)
    }

    /// Writes each level's complete blocks once enough have gathered (or all of them when `all`).
    fn emit_summaries(&mut self, channel: usize, all: bool) -> Result<(), WriteError> {
        for level in 0..LEVELS {
            let state = &mut self.channels[channel].levels[level];
            let count = state.pending_count();
            if count == 0 || (!all && count < SUMMARIES_PER_CHUNK) {
                continue;
            }
            let mut chunk = Vec::with_capacity(CHUNK_HEADER_LEN + 8 + state.pending.len());
            begin_chunk(&mut chunk, ChunkKind::Summaries, level as u8, channel as u16);
            chunk.extend_from_slice(&state.pending_first.to_le_bytes());
            chunk.extend_from_slice(&state.pending);
            state.runs.push(ChunkRef {
                first: state.pending_first,
                count: count as u64,
                data_offset: self.offset + CHUNK_HEADER_LEN as u64 + 8,
            });
            state.pending_first += count as u64;
            state.pending.clear();
            self.send_chunk(chunk)?;
        }
        Ok(())
    }

    fn send_chunk(&mut self, chunk: Vec<u8>) -> Result<(), WriteError> {
        self.offset += chunk.len() as u64;
        self.send(Job::Chunk(chunk))
    }

    fn send(&mut self, job: Job) -> Result<(), WriteError> {
        let Some(disk) = &self.disk else { return self.failed("the recording is closed") };
        if disk.jobs.send(job).is_err() {
            self.check_disk()?;
            return self.failed("the disk thread stopped");
        }
        Ok(())
    }

    fn check_disk(&self) -> Result<(), WriteError> {
        let failure = self.disk.as_ref().and_then(|d| d.failure.lock().ok().and_then(|f| f.clone()));
        match failure {
            Some(reason) => Err(self.write_error(reason)),
            None => Ok(()),
        }
    }

    fn write_error(&self, reason: String) -> WriteError {
        WriteError::Write { path: self.path.clone(), reason }
    }

    fn failed<T>(&self, reason: &str) -> Result<T, WriteError> {
        Err(self.write_error(reason.into()))
    }
}

impl Drop for TraceWriter {
    /// A writer dropped without [`TraceWriter::finish`] (an error path) still hands its samples to the disk
    /// and waits for them to be written; the file has no index and opens through recovery.
    fn drop(&mut self) {
        if self.disk.is_none() {
            return;
        }
        for channel in 0..self.channels.len() {
            let _ = self.emit_samples(channel);
        }
        if let Some(disk) = self.disk.take() {
            drop(disk.jobs);
            let _ = disk.thread.join();
        }
    }
}

impl ChannelWriter {
    /// Folds samples (already counted in `self.samples`) into the level-0 block and the levels above.
    fn summarise(&mut self, mut samples: &[f32]) {
        while !samples.is_empty() {
            let room = (BLOCK_SAMPLES - self.block_samples) as usize;
            let (part, rest) = samples.split_at(room.min(samples.len()));
            samples = rest;
            if part.len() == BLOCK_SAMPLES as usize {
                self.complete_block(0, Summary::of(part));
                continue;
            }
            self.block.merge(&Summary::of(part));
            self.block_samples += part.len() as u64;
            if self.block_samples == BLOCK_SAMPLES {
                let block = std::mem::take(&mut self.block);
                self.block_samples = 0;
                self.complete_block(0, block);
            }
        }
    }

    fn complete_block(&mut self, mut level: usize, mut block: Summary) {
        loop {
            let state = &mut self.levels[level];
            block.encode(&mut state.pending);
            state.blocks += 1;
            let Some(up) = self.levels.get_mut(level + 1) else { return };
            up.partial.merge(&block);
            up.partial_children += 1;
            if up.partial_children < LEVEL_FACTOR {
                return;
            }
            block = std::mem::take(&mut up.partial);
            up.partial_children = 0;
            level += 1;
        }
    }
}
