//! The postcard-rpc wire over a [`Link`](super::Link): COBS+CRC frames from `firmware-protocol` on the way
//! out, a [`FrameDecoder`] on the way in, and the link's counters updated as frames pass.
//!
//! postcard-rpc's `HostClient` does the request/response matching and topic subscriptions on top of this;
//! its own serial transport uses plain COBS without a CRC, which is why Benchtop brings its own wire.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use firmware_protocol::{FrameDecoder, MAX_ENCODED_FRAME_LEN, encode_frame};
use postcard_rpc::host_client::{WireRx, WireSpawn, WireTx};
use thiserror::Error;
use tokio::sync::mpsc;

use super::capture::{Direction, FrameTap};
use super::link::LinkStats;

/// The link is gone.
#[derive(Debug, Error)]
pub enum WireError {
    /// The device or its transport went away.
    #[error("the link to the device closed")]
    Closed,
    /// A message too long for one frame.
    #[error("message too long for a frame: {0}")]
    Frame(firmware_protocol::FrameError),
}

/// Sending half.
pub struct FramedTx {
    outgoing: mpsc::Sender<Vec<u8>>,
    tap: Option<FrameTap>,
}

impl FramedTx {
    /// Frames go to `outgoing`.
    pub fn new(outgoing: mpsc::Sender<Vec<u8>>) -> Self {
        Self { outgoing, tap: None }
    }

    /// Also copies every frame sent to `tap`.
    pub fn with_tap(mut self, tap: FrameTap) -> Self {
        self.tap = Some(tap);
        self
    }
}

impl WireTx for FramedTx {
    type Error = WireError;

    async fn send(&mut self, data: Vec<u8>) -> Result<(), Self::Error> {
        let mut frame = vec![0u8; MAX_ENCODED_FRAME_LEN];
        let len = encode_frame(&data, &mut frame).map_err(WireError::Frame)?;
        frame.truncate(len);
        if let Some(tap) = &self.tap {
            tap.wire(Direction::ToDevice, &frame);
        }
        self.outgoing.send(frame).await.map_err(|_| WireError::Closed)
    }
}

/// Receiving half.
pub struct FramedRx {
    incoming: mpsc::Receiver<Vec<u8>>,
    /// Chunks read before this wire existed, decoded first.
    pending: VecDeque<Vec<u8>>,
    decoder: Box<FrameDecoder>,
    ready: VecDeque<Vec<u8>>,
    stats: Arc<LinkStats>,
    tap: Option<FrameTap>,
}

impl FramedRx {
    /// Frames come from `incoming`; counters go to `stats`.
    pub fn new(incoming: mpsc::Receiver<Vec<u8>>, stats: Arc<LinkStats>) -> Self {
        Self::with_pending(incoming, Vec::new(), stats)
    }

    /// Like [`FramedRx::new`], decoding `pending` chunks before any new ones.
    pub fn with_pending(incoming: mpsc::Receiver<Vec<u8>>, pending: Vec<Vec<u8>>, stats: Arc<LinkStats>) -> Self {
        Self {
            incoming,
            pending: pending.into(),
            decoder: Box::new(FrameDecoder::new()),
            ready: VecDeque::new(),
            stats,
            tap: None,
        }
    }

    /// Also copies every good frame received to `tap`.
    pub fn with_tap(mut self, tap: FrameTap) -> Self {
        self.tap = Some(tap);
        self
    }
}

impl WireRx for FramedRx {
    type Error = WireError;

    async fn receive(&mut self) -> Result<Vec<u8>, Self::Error> {
        loop {
            if let Some(frame) = self.ready.pop_front() {
                if let Some(tap) = &self.tap {
                    tap.payload(Direction::FromDevice, &frame);
                }
                return Ok(frame);
            }
            let chunk = match self.pending.pop_front() {
                Some(chunk) => chunk,
                None => self.incoming.recv().await.ok_or(WireError::Closed)?,
            };
            let ready = &mut self.ready;
            self.decoder.feed(&chunk, |payload| ready.push_back(payload.to_vec()));
            let stats = self.decoder.stats();
            self.stats.frames_rx.store(stats.frames, Ordering::Relaxed);
            self.stats.bad_checksums.store(stats.bad_checksums, Ordering::Relaxed);
            self.stats.malformed_frames.store(stats.malformed_frames, Ordering::Relaxed);
            self.stats.discarded_bytes.store(stats.discarded_bytes, Ordering::Relaxed);
        }
    }
}

/// Spawns postcard-rpc's workers on the current tokio runtime.
pub struct TokioSpawn;

impl WireSpawn for TokioSpawn {
    fn spawn(&mut self, fut: impl Future<Output = ()> + Send + 'static) {
        tokio::spawn(fut);
    }
}
