//! Framing for byte streams (serial, TCP, BLE GATT): `COBS(payload ‖ CRC-32C LE) ‖ 0x00`.
//!
//! COBS removes every zero from the frame so `0x00` can only mean "end of frame": after garbage, a lost byte
//! or a reset mid-frame, the decoder loses at most the frame it was in and picks up again at the next
//! delimiter. The CRC inside the frame catches corrupted bytes that COBS alone would pass. The decoder never
//! allocates, never panics on any input, and counts what it throws away.

use crc::{CRC_32_ISCSI, Crc};

/// Largest payload (postcard-rpc header + body) a frame may carry, in bytes. Sized for the largest schema
/// message (the description of `Result<ConfigView, DeviceError>`, about 1 KiB) with room to grow; telemetry
/// batches stay well under it.
pub const MAX_PAYLOAD_LEN: usize = 1536;
/// Bytes of CRC at the end of each decoded frame.
pub const CRC_LEN: usize = 4;
/// Largest frame on the wire, delimiter included.
pub const MAX_ENCODED_FRAME_LEN: usize = cobs::max_encoding_length(MAX_PAYLOAD_LEN + CRC_LEN) + 1;

const CRC32C: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);

/// Why a frame could not be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The payload is longer than [`MAX_PAYLOAD_LEN`].
    PayloadTooLong,
    /// The output buffer is too small; it needs [`MAX_ENCODED_FRAME_LEN`] bytes for any payload.
    BufferTooSmall,
    /// The message did not serialize (too long for the buffer).
    Serialize,
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            FrameError::PayloadTooLong => "the message is longer than the largest frame",
            FrameError::BufferTooSmall => "the frame buffer is too small",
            FrameError::Serialize => "the message could not be serialized",
        })
    }
}

impl core::error::Error for FrameError {}

/// Writes `payload` as one frame into `out`; returns the frame's length including the `0x00` delimiter.
pub fn encode_frame(payload: &[u8], out: &mut [u8]) -> Result<usize, FrameError> {
    if payload.len() > MAX_PAYLOAD_LEN {
        return Err(FrameError::PayloadTooLong);
    }
    let crc = CRC32C.checksum(payload).to_le_bytes();
    let (body, _) = out.split_at_mut_checked(out.len().saturating_sub(1)).ok_or(FrameError::BufferTooSmall)?;
    let mut encoder = cobs::CobsEncoder::new(body);
    encoder.push(payload).map_err(|_| FrameError::BufferTooSmall)?;
    encoder.push(&crc).map_err(|_| FrameError::BufferTooSmall)?;
    let len = encoder.finalize();
    let delimiter = out.get_mut(len).ok_or(FrameError::BufferTooSmall)?;
    *delimiter = 0;
    Ok(len + 1)
}

/// What a [`FrameDecoder`] has seen, for the host's link statistics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DecoderStats {
    /// Frames delivered.
    pub frames: u64,
    /// Bytes thrown away: garbage, frames with a bad checksum, malformed or overlong frames (delimiters included).
    pub discarded_bytes: u64,
    /// Frames whose CRC did not match.
    pub bad_checksums: u64,
    /// Frames that were not valid COBS, were too short to hold a CRC, or were longer than the buffer.
    pub malformed_frames: u64,
}

/// A streaming frame decoder with an `N`-byte buffer for the encoded frame (use [`MAX_ENCODED_FRAME_LEN`]).
pub struct FrameDecoder<const N: usize = MAX_ENCODED_FRAME_LEN> {
    buf: [u8; N],
    len: usize,
    /// The current frame outgrew the buffer; skip to the next delimiter.
    overflowed: bool,
    /// Bytes of the current overflowed frame.
    overflowed_len: usize,
    stats: DecoderStats,
}

impl<const N: usize> Default for FrameDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameDecoder<N> {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflowed: false,
            overflowed_len: 0,
            stats: DecoderStats { frames: 0, discarded_bytes: 0, bad_checksums: 0, malformed_frames: 0 },
        }
    }

    /// Counts so far.
    pub fn stats(&self) -> DecoderStats {
        self.stats
    }

    /// Bytes of a partial frame waiting for its delimiter.
    pub fn pending_len(&self) -> usize {
        if self.overflowed { self.overflowed_len } else { self.len }
    }

    /// Drops a partial frame (for example when the link reconnects), counting it as discarded.
    pub fn reset(&mut self) {
        self.stats.discarded_bytes += self.pending_len() as u64;
        self.len = 0;
        self.overflowed = false;
        self.overflowed_len = 0;
    }

    /// Feeds received bytes; calls `on_frame` with the payload of each good frame, in order.
    pub fn feed(&mut self, data: &[u8], mut on_frame: impl FnMut(&[u8])) {
        for &byte in data {
            if byte != 0 {
                self.push_byte(byte);
                continue;
            }
            if self.overflowed {
                self.stats.malformed_frames += 1;
                self.stats.discarded_bytes += self.overflowed_len as u64 + 1;
                self.overflowed = false;
                self.overflowed_len = 0;
                continue;
            }
            if self.len == 0 {
                // Back-to-back delimiters: senders may lead with one to flush a half-received frame.
                continue;
            }
            let encoded_len = self.len;
            self.len = 0;
            match self.check_frame(encoded_len) {
                Some(payload_len) => {
                    self.stats.frames += 1;
                    on_frame(&self.buf[..payload_len]);
                }
                None => self.stats.discarded_bytes += encoded_len as u64 + 1,
            }
        }
    }

    fn push_byte(&mut self, byte: u8) {
        if self.overflowed {
            self.overflowed_len += 1;
        } else if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = byte;
            self.len += 1;
        } else {
            self.overflowed = true;
            self.overflowed_len = self.len + 1;
            self.len = 0;
        }
    }

    /// Decodes the frame in place and checks its CRC; returns the payload length.
    fn check_frame(&mut self, encoded_len: usize) -> Option<usize> {
        let Ok(decoded_len) = cobs::decode_in_place(&mut self.buf[..encoded_len]) else {
            self.stats.malformed_frames += 1;
            return None;
        };
        let Some(payload_len) = decoded_len.checked_sub(CRC_LEN).filter(|&len| len > 0) else {
            self.stats.malformed_frames += 1;
            return None;
        };
        let mut crc = [0u8; CRC_LEN];
        crc.copy_from_slice(&self.buf[payload_len..decoded_len]);
        if CRC32C.checksum(&self.buf[..payload_len]) != u32::from_le_bytes(crc) {
            self.stats.bad_checksums += 1;
            return None;
        }
        Some(payload_len)
    }
}
