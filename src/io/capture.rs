//! A tap on a session's wire: a copy of every protocol frame sent to and received from the device (or of every
//! MQTT PUBLISH packet an MQTT source receives, or of every CoAP datagram a CoAP source sends and receives), for the payload inspector's capture list.
//!
//! The tap is a bounded broadcast ring: a frame costs nothing while nobody listens (it is not even copied),
//! and a listener that falls behind loses the oldest frames, counted, never the newest and never by blocking
//! the wire. Frames are kept as they travel on the wire (COBS, CRC, 0x00 delimiter), so the inspector shows
//! the bytes a logic analyser would see.

use std::time::Instant;

use firmware_protocol::{MAX_ENCODED_FRAME_LEN, encode_frame};
use tokio::sync::broadcast;

/// Frames a listener may fall behind by before the oldest are dropped.
pub const TAP_DEPTH: usize = 256;

/// Which way a frame travelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Host to device: requests.
    ToDevice,
    /// Device to host: responses, telemetry, logs.
    FromDevice,
}

impl Direction {
    /// A word for labels, as the host sees it: `sent` to the device, `received` from it.
    pub fn verb(self) -> &'static str {
        match self {
            Direction::ToDevice => "sent",
            Direction::FromDevice => "received",
        }
    }
}

/// What a captured frame is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// A Benchtop protocol frame in wire form.
    Protocol,
    /// An MQTT packet (an MQTT source's PUBLISH).
    Mqtt,
    /// A CoAP datagram (a CoAP source's requests, responses and notifications).
    Coap,
}

/// One frame as it crossed the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CapturedFrame {
    /// What it is.
    pub kind: FrameKind,
    /// Which way it went.
    pub direction: Direction,
    /// When it was written to, or decoded from, the link.
    pub at: Instant,
    /// The wire bytes: `COBS(header ‖ body ‖ CRC-32C) ‖ 0x00`.
    pub bytes: Vec<u8>,
}

impl CapturedFrame {
    /// The topic, if this is an MQTT PUBLISH packet (as an MQTT source captures them), for a label.
    pub fn mqtt_topic(&self) -> Option<String> {
        if self.kind == FrameKind::Mqtt { mqtt_publish_topic(&self.bytes) } else { None }
    }
}

/// The topic of an MQTT PUBLISH packet (fixed header, remaining length, then the topic as a UTF-8 string).
pub fn mqtt_publish_topic(packet: &[u8]) -> Option<String> {
    if packet.first()? >> 4 != 3 {
        return None;
    }
    let mut at = 1;
    for _ in 0..4 {
        let byte = *packet.get(at)?;
        at += 1;
        if byte & 0x80 == 0 {
            let len = usize::from(u16::from_be_bytes([*packet.get(at)?, *packet.get(at + 1)?]));
            let topic = packet.get(at + 2..at + 2 + len)?;
            return String::from_utf8(topic.to_vec()).ok();
        }
    }
    None
}

/// The sending side, shared by a session's wire halves. Cheap to clone.
#[derive(Debug, Clone)]
pub struct FrameTap {
    tx: broadcast::Sender<CapturedFrame>,
}

impl Default for FrameTap {
    fn default() -> Self {
        Self { tx: broadcast::channel(TAP_DEPTH).0 }
    }
}

impl FrameTap {
    /// Records a frame already in wire form.
    pub fn wire(&self, direction: Direction, wire: &[u8]) {
        self.send(FrameKind::Protocol, direction, wire);
    }

    /// Records an MQTT packet.
    pub fn mqtt(&self, direction: Direction, packet: &[u8]) {
        self.send(FrameKind::Mqtt, direction, packet);
    }

    /// Records a CoAP datagram.
    pub fn coap(&self, direction: Direction, datagram: &[u8]) {
        self.send(FrameKind::Coap, direction, datagram);
    }

    fn send(&self, kind: FrameKind, direction: Direction, bytes: &[u8]) {
        if self.tx.receiver_count() > 0 {
            let _ = self.tx.send(CapturedFrame { kind, direction, at: Instant::now(), bytes: bytes.to_vec() });
        }
    }

    /// Records a received frame from its decoded payload (header and body). Framing is deterministic, so the
    /// payload framed again gives the bytes that arrived.
    pub fn payload(&self, direction: Direction, payload: &[u8]) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let mut wire = vec![0u8; MAX_ENCODED_FRAME_LEN];
        if let Ok(len) = encode_frame(payload, &mut wire) {
            wire.truncate(len);
            let _ =
                self.tx.send(CapturedFrame { kind: FrameKind::Protocol, direction, at: Instant::now(), bytes: wire });
        }
    }

    /// A new listener; it sees frames from now on.
    pub fn listen(&self) -> FrameListener {
        FrameListener { rx: self.tx.subscribe(), dropped: 0 }
    }
}

/// The receiving side: drained by whoever shows the frames, without waiting.
#[derive(Debug)]
pub struct FrameListener {
    rx: broadcast::Receiver<CapturedFrame>,
    dropped: u64,
}

impl FrameListener {
    /// Takes up to `max` frames that are waiting, oldest first.
    pub fn drain(&mut self, max: usize) -> Vec<CapturedFrame> {
        let mut out = Vec::new();
        while out.len() < max {
            match self.rx.try_recv() {
                Ok(frame) => out.push(frame),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.dropped += n,
                Err(_) => break,
            }
        }
        out
    }

    /// Frames lost because this listener fell behind.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_listener_keeps_the_newest_frames_and_counts_the_rest() {
        let tap = FrameTap::default();
        tap.wire(Direction::ToDevice, &[1, 2, 0]); // nobody listens: not kept
        let mut listener = tap.listen();
        for i in 0..(TAP_DEPTH + 10) {
            tap.wire(Direction::FromDevice, &[(i % 200) as u8 + 1, 0]);
        }
        let frames = listener.drain(usize::MAX);
        assert_eq!(frames.len(), TAP_DEPTH);
        assert_eq!(listener.dropped(), 10);
        assert_eq!(frames.last().unwrap().bytes, [((TAP_DEPTH + 9) % 200) as u8 + 1, 0]);
    }

    #[test]
    fn an_mqtt_publish_names_its_topic() {
        let mut frame = CapturedFrame {
            kind: FrameKind::Mqtt,
            direction: Direction::FromDevice,
            at: Instant::now(),
            bytes: vec![0x30, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'4', b'2'],
        };
        assert_eq!(frame.mqtt_topic().as_deref(), Some("a/b"));
        // The same bytes as a protocol frame (a COBS code byte of 0x30) are not taken for MQTT.
        frame.kind = FrameKind::Protocol;
        assert_eq!(frame.mqtt_topic(), None);
        assert_eq!(mqtt_publish_topic(&[0x20, 0x02, 0, 0]), None);
        assert_eq!(mqtt_publish_topic(&[0x30, 0x05, 0x00, 0x09]), None);
    }

    #[test]
    fn a_payload_is_kept_as_the_wire_frame_it_came_in() {
        let tap = FrameTap::default();
        let mut listener = tap.listen();
        let payload = [0x10, 0xbd, 0x01, 0x0a, 0xf8, 0xac, 0xd1, 0x91, 0x01, 0x81];
        tap.payload(Direction::FromDevice, &payload);
        let frame = listener.drain(1).pop().unwrap();
        assert_eq!(frame.bytes.last(), Some(&0));
        assert_eq!(frame.bytes.iter().filter(|&&b| b == 0).count(), 1);
        assert_eq!(frame.direction, Direction::FromDevice);
    }
}
