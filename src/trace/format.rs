//! The `.btr` recording format: constants and the byte layout of its headers, chunks, index and trailer.
//!
//! `docs/btr-format.md` is the specification; this module is its only implementation of the byte layout, so
//! the writer and the reader cannot disagree. Everything is little-endian. A file is a 32-byte header, then
//! chunks appended one after another, each with a 16-byte header carrying a CRC-32C over the header and the
//! payload; a finished file ends with an index chunk and a 24-byte trailer that points at it.

use serde::{Deserialize, Serialize};

/// First bytes of every recording (`\x89BTR\r\n\x1a\n`: catches text-mode transfers like PNG's signature).
pub const FILE_MAGIC: [u8; 8] = *b"\x89BTR\r\n\x1a\n";
/// Format version this build writes.
pub const FORMAT_VERSION: u16 = 1;
/// Bytes of the file header.
pub const FILE_HEADER_LEN: usize = 32;
/// First bytes of every chunk header.
pub const CHUNK_MAGIC: [u8; 4] = *b"BTCK";
/// Bytes of a chunk header.
pub const CHUNK_HEADER_LEN: usize = 16;
/// Last bytes of a finished file.
pub const TRAILER_MAGIC: [u8; 8] = *b"BTRINDEX";
/// Bytes of the trailer.
pub const TRAILER_LEN: usize = 24;
/// Samples per level-0 summary block.
pub const BLOCK_SAMPLES: u64 = 512;
/// Blocks of one level per block of the next.
pub const LEVEL_FACTOR: u64 = 16;
/// Summary levels (blocks of 512 samples up to 512·16⁶ ≈ 8.6·10⁹ samples).
pub const LEVELS: usize = 7;
/// Largest payload a reader accepts (a corrupt length must not allocate gigabytes).
pub const MAX_PAYLOAD_LEN: u32 = 64 << 20;

/// Samples per block at `level`.
pub const fn block_len(level: usize) -> u64 {
    BLOCK_SAMPLES * LEVEL_FACTOR.pow(level as u32)
}

/// What a chunk holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ChunkKind {
    /// A channel's definition (JSON [`ChannelDef`]).
    Channel = 1,
    /// A run of a channel's samples: first sample index (u64), then f32 values.
    Samples = 2,
    /// A run of one level's summaries: first block index (u64), then 32-byte summaries.
    Summaries = 3,
    /// Recording metadata (a JSON object; later keys replace earlier ones).
    Meta = 4,
    /// Where every chunk is, written once when the recording is finished.
    Index = 5,
}

impl ChunkKind {
    /// The kind with this code.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            1 => Self::Channel,
            2 => Self::Samples,
            3 => Self::Summaries,
            4 => Self::Meta,
            5 => Self::Index,
            _ => return None,
        })
    }
}

/// A channel as the file describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelDef {
    /// Name, unique within the file.
    pub name: String,
    /// SI unit of the values (`A` for current, `V` for voltage), or the device's own unit.
    pub unit: String,
    /// Samples per second; sample `i` is at `start_s + i / sample_rate_hz`.
    pub sample_rate_hz: f64,
    /// Time of sample 0 in seconds since the recording started.
    #[serde(default)]
    pub start_s: f64,
}

/// The decoded file header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileHeader {
    /// Version that wrote the file.
    pub version: u16,
    /// Oldest reader version that can read it.
    pub min_reader_version: u16,
    /// When the recording started, ms since the Unix epoch.
    pub created_unix_ms: u64,
}

/// Encodes the file header.
pub fn encode_file_header(created_unix_ms: u64) -> [u8; FILE_HEADER_LEN] {
    let mut out = [0u8; FILE_HEADER_LEN];
    out[0..8].copy_from_slice(&FILE_MAGIC);
    out[8..10].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    out[10..12].copy_from_slice(&1u16.to_le_bytes());
    out[12..16].copy_from_slice(&(BLOCK_SAMPLES as u32).to_le_bytes());
    out[16..18].copy_from_slice(&(LEVEL_FACTOR as u16).to_le_bytes());
    out[20..28].copy_from_slice(&created_unix_ms.to_le_bytes());
    let crc = crc32c::crc32c(&out[..28]);
    out[28..32].copy_from_slice(&crc.to_le_bytes());
    out
}

/// Why a file header is not one this build reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderProblem {
    /// Not a Benchtop recording at all.
    NotARecording,
    /// The header's checksum does not match.
    Corrupt,
    /// Written by a newer Benchtop that changed the format.
    TooNew(u16),
    /// A block layout this build does not use.
    Layout,
}

/// Decodes and checks the file header.
pub fn decode_file_header(bytes: &[u8; FILE_HEADER_LEN]) -> Result<FileHeader, HeaderProblem> {
    if bytes[0..8] != FILE_MAGIC {
        return Err(HeaderProblem::NotARecording);
    }
    if crc32c::crc32c(&bytes[..28]) != le_u32(&bytes[28..32]) {
        return Err(HeaderProblem::Corrupt);
    }
    let version = le_u16(&bytes[8..10]);
    let min_reader_version = le_u16(&bytes[10..12]);
    if min_reader_version > FORMAT_VERSION {
        return Err(HeaderProblem::TooNew(version));
    }
    if u64::from(le_u32(&bytes[12..16])) != BLOCK_SAMPLES || u64::from(le_u16(&bytes[16..18])) != LEVEL_FACTOR {
        return Err(HeaderProblem::Layout);
    }
    Ok(FileHeader { version, min_reader_version, created_unix_ms: le_u64(&bytes[20..28]) })
}

/// A decoded chunk header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkHeader {
    /// Kind code (see [`ChunkKind`]); unknown codes are skipped by readers.
    pub kind: u8,
    /// Summary level for summary chunks, else 0.
    pub level: u8,
    /// Channel number (order of definition), 0 for file-wide chunks.
    pub channel: u16,
    /// Bytes of payload after the header.
    pub payload_len: u32,
    /// CRC-32C over header bytes 0..12 and the payload.
    pub crc: u32,
}

impl ChunkHeader {
    /// Decodes a header; `None` if the magic is wrong.
    pub fn decode(bytes: &[u8; CHUNK_HEADER_LEN]) -> Option<Self> {
        if bytes[0..4] != CHUNK_MAGIC {
            return None;
        }
        Some(Self {
            kind: bytes[4],
            level: bytes[5],
            channel: le_u16(&bytes[6..8]),
            payload_len: le_u32(&bytes[8..12]),
            crc: le_u32(&bytes[12..16]),
        })
    }

    /// Whether `payload` is what this header describes.
    pub fn matches(&self, header_bytes: &[u8; CHUNK_HEADER_LEN], payload: &[u8]) -> bool {
        let crc = crc32c::crc32c_append(crc32c::crc32c(&header_bytes[..12]), payload);
        crc == self.crc && payload.len() == self.payload_len as usize
    }
}

/// Starts a chunk in `out`: a header whose length and CRC [`seal_chunk`] fills in once the payload follows.
pub fn begin_chunk(out: &mut Vec<u8>, kind: ChunkKind, level: u8, channel: u16) {
    out.clear();
    out.extend_from_slice(&CHUNK_MAGIC);
    out.push(kind as u8);
    out.push(level);
    out.extend_from_slice(&channel.to_le_bytes());
    out.extend_from_slice(&[0u8; 8]);
}

/// Completes a chunk started by [`begin_chunk`]: sets its payload length and CRC.
pub fn seal_chunk(chunk: &mut [u8]) {
    let payload_len = (chunk.len() - CHUNK_HEADER_LEN) as u32;
    chunk[8..12].copy_from_slice(&payload_len.to_le_bytes());
    let crc = crc32c::crc32c_append(crc32c::crc32c(&chunk[..12]), &chunk[CHUNK_HEADER_LEN..]);
    chunk[12..16].copy_from_slice(&crc.to_le_bytes());
}

/// Where a run of samples or summaries sits in the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkRef {
    /// Index of the first sample (or block) in the run.
    pub first: u64,
    /// Samples (or blocks) in the run.
    pub count: u64,
    /// File offset of the first value (past the chunk header and the first-index field).
    pub data_offset: u64,
}

impl ChunkRef {
    /// One past the last index.
    pub fn end(&self) -> u64 {
        self.first + self.count
    }
}

/// One channel's part of the index.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ChannelIndex {
    /// Sample runs in order.
    pub samples: Vec<ChunkRef>,
    /// Summary runs per level, in order.
    pub levels: Vec<Vec<ChunkRef>>,
}

/// The index's JSON part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IndexHead {
    /// Channels in order.
    pub channels: Vec<ChannelDef>,
    /// Recording metadata.
    pub meta: serde_json::Map<String, serde_json::Value>,
}

/// Encodes the index payload: u32 JSON length, the JSON head, then per channel the sample runs and each
/// level's summary runs, each list as a u32 count of (first, count, data_offset) u64 triples.
pub fn encode_index(head: &IndexHead, channels: &[ChannelIndex]) -> Vec<u8> {
    let json = serde_json::to_vec(head).unwrap_or_default();
    let mut out = Vec::with_capacity(json.len() + 64);
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    let put_runs = |out: &mut Vec<u8>, runs: &[ChunkRef]| {
        out.extend_from_slice(&(runs.len() as u32).to_le_bytes());
        for run in runs {
            out.extend_from_slice(&run.first.to_le_bytes());
            out.extend_from_slice(&run.count.to_le_bytes());
            out.extend_from_slice(&run.data_offset.to_le_bytes());
        }
    };
    for channel in channels {
        put_runs(&mut out, &channel.samples);
        out.push(channel.levels.len() as u8);
        for level in &channel.levels {
            put_runs(&mut out, level);
        }
    }
    out
}

/// Decodes an index payload; `None` if it is malformed.
pub fn decode_index(payload: &[u8]) -> Option<(IndexHead, Vec<ChannelIndex>)> {
    let mut cursor = Cursor { bytes: payload, at: 0 };
    let json_len = le_u32(cursor.take(4)?) as usize;
    let head: IndexHead = serde_json::from_slice(cursor.take(json_len)?).ok()?;
    let mut channels = Vec::with_capacity(head.channels.len());
    for _ in 0..head.channels.len() {
        let samples = cursor.runs()?;
        let level_count = usize::from(cursor.take(1)?[0]);
        let mut levels = Vec::with_capacity(level_count);
        for _ in 0..level_count {
            levels.push(cursor.runs()?);
        }
        channels.push(ChannelIndex { samples, levels });
    }
    Some((head, channels))
}

/// Reads an index payload front to back.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn runs(&mut self) -> Option<Vec<ChunkRef>> {
        let n = le_u32(self.take(4)?) as usize;
        let bytes = self.take(n.checked_mul(24)?)?;
        Some(
            bytes
                .chunks_exact(24)
                .map(|r| ChunkRef {
                    first: le_u64(&r[0..8]),
                    count: le_u64(&r[8..16]),
                    data_offset: le_u64(&r[16..24]),
                })
                .collect(),
        )
    }
}

/// Encodes the trailer that points at the index chunk.
pub fn encode_trailer(index_offset: u64, index_len: u64) -> [u8; TRAILER_LEN] {
    let mut out = [0u8; TRAILER_LEN];
    out[0..8].copy_from_slice(&index_offset.to_le_bytes());
    out[8..16].copy_from_slice(&index_len.to_le_bytes());
    out[16..24].copy_from_slice(&TRAILER_MAGIC);
    out
}

/// Decodes a trailer into (index chunk offset, index chunk length with its header).
pub fn decode_trailer(bytes: &[u8; TRAILER_LEN]) -> Option<(u64, u64)> {
    (bytes[16..24] == TRAILER_MAGIC).then(|| (le_u64(&bytes[0..8]), le_u64(&bytes[8..16])))
}

/// Reads a little-endian u16 from the first two bytes of `b` (0 if shorter).
pub fn le_u16(b: &[u8]) -> u16 {
    b.get(..2).and_then(|b| b.try_into().ok()).map_or(0, u16::from_le_bytes)
}

/// Reads a little-endian u32 from the first four bytes of `b` (0 if shorter).
pub fn le_u32(b: &[u8]) -> u32 {
    b.get(..4).and_then(|b| b.try_into().ok()).map_or(0, u32::from_le_bytes)
}

/// Reads a little-endian u64 from the first eight bytes of `b` (0 if shorter).
pub fn le_u64(b: &[u8]) -> u64 {
    b.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_header_round_trips_and_rejects_damage() {
        let mut bytes = encode_file_header(1_700_000_000_123);
        let header = decode_file_header(&bytes).unwrap();
        assert_eq!((header.version, header.created_unix_ms), (FORMAT_VERSION, 1_700_000_000_123));
        bytes[21] ^= 1;
        assert_eq!(decode_file_header(&bytes), Err(HeaderProblem::Corrupt));
        bytes[0] = b'P';
        assert_eq!(decode_file_header(&bytes), Err(HeaderProblem::NotARecording));
    }

    #[test]
    fn a_chunk_checks_its_header_and_payload() {
        let mut chunk = Vec::new();
        begin_chunk(&mut chunk, ChunkKind::Samples, 0, 3);
        chunk.extend_from_slice(&[1, 2, 3, 4, 5]);
        seal_chunk(&mut chunk);
        let header_bytes: [u8; CHUNK_HEADER_LEN] = chunk[..CHUNK_HEADER_LEN].try_into().unwrap();
        let header = ChunkHeader::decode(&header_bytes).unwrap();
        assert_eq!((header.kind, header.channel, header.payload_len), (2, 3, 5));
        assert!(header.matches(&header_bytes, &chunk[CHUNK_HEADER_LEN..]));
        assert!(!header.matches(&header_bytes, &[1, 2, 3, 4, 6]));
        let mut other_channel = header_bytes;
        other_channel[6] = 4;
        assert!(!ChunkHeader::decode(&other_channel).unwrap().matches(&other_channel, &chunk[CHUNK_HEADER_LEN..]));
    }

    #[test]
    fn the_index_round_trips_and_a_truncated_one_is_refused() {
        let head = IndexHead {
            channels: vec![ChannelDef { name: "current".into(), unit: "A".into(), sample_rate_hz: 1e5, start_s: 0.5 }],
            meta: serde_json::Map::new(),
        };
        let run = |first, count, data_offset| ChunkRef { first, count, data_offset };
        let channels = vec![ChannelIndex {
            samples: vec![run(0, 10, 56), run(10, 5, 200)],
            levels: vec![vec![run(0, 1, 300)], vec![]],
        }];
        let bytes = encode_index(&head, &channels);
        assert_eq!(decode_index(&bytes), Some((head, channels)));
        assert_eq!(decode_index(&bytes[..bytes.len() - 1]), None);
    }
}
