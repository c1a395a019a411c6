//! An emulated Nordic Power Profiler Kit II: the USB protocol of a real unit, for Benchtop's tests and demos.
//!
//! [`Ppk2Emulator`] is the unit itself, pure and driven by the caller: [`Ppk2Emulator::receive`] takes host
//! bytes (raw opcodes, split anywhere across calls) and returns the immediate reply; [`Ppk2Emulator::produce`]
//! returns what the unit sends over the next `n` sample periods (10 µs each). Nothing here touches a thread,
//! a port or the wall clock; [`serve::serve_pty`] runs one on a pseudo-terminal in real time
//! (`benchtop sim --ppk2 --pty`).
//!
//! It is written from the protocol reference alone and shares no code with Benchtop's PPK2 decoder, so that
//! each checks the other. What it does:
//!
//! * Commands: `0x06` start, `0x07` stop, `0x19` metadata (the `KEY: value` text ending `END\n`), `0x0D`
//!   regulator (u16 big-endian mV, 800–5000; other values are ignored), `0x0C` DUT power (0 off, 1 on),
//!   `0x11` mode (1 ampere, 2 source), `0x25` user gain (range 0–4 and an f32 little-endian; the app's
//!   [0.9, 1.1] policy is the host's business, any finite positive gain is stored), `0x20` reset (to the
//!   power-on state, sample counter included; bytes after it in the same write are lost while it reboots).
//!   Every other opcode is one byte, counted as ignored.
//! * The stream: 4-byte little-endian words at 100 kS/s, ADC field bits 0–13, range 14–16, 6-bit counter
//!   18–23, D0–D7 24–31, made from the known waveform of [`waveform`]. The ADC field is the inverse of the
//!   reference's conversion with the good (example) calibration at the current VDD, so a correct decoder
//!   gets back [`Ppk2Emulator::quantised_current_a`] exactly, which is within half an ADC step of
//!   [`Ppk2Emulator::expected_current_a`]. With the DUT unpowered (`0x0C 00`, or the host closed the port)
//!   the current is 0 A and the logic lines are low.
//! * User gains are the host's correction: they change what the metadata says and what a decoder must
//!   compute ([`Ppk2Emulator::quantised_current_a`] includes them, as the f32 the host sent), never the ADC
//!   codes. The metadata prints them to two decimals, as the unit does.
//! * Faults and quirks from [`Ppk2Faults`], all drawn from one generator seeded by [`Ppk2Options::seed`],
//!   with counts of what they did in [`Ppk2Counters`].

pub mod calibration;
pub mod faults;
pub mod serve;
pub mod waveform;

use std::collections::VecDeque;

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

pub use calibration::Ppk2Calibration;
pub use faults::{Ppk2Faults, Ppk2FaultsError};
pub use serve::{Ppk2PtyHandle, serve_pty};

/// Opcode: start streaming (AverageStart).
pub const OP_START: u8 = 0x06;
/// Opcode: stop streaming (AverageStop).
pub const OP_STOP: u8 = 0x07;
/// Opcode: DUT power, one byte payload (DeviceRunningSet).
pub const OP_DUT_POWER: u8 = 0x0C;
/// Opcode: regulator voltage, u16 big-endian mV payload (RegulatorSet).
pub const OP_REGULATOR: u8 = 0x0D;
/// Opcode: power mode, one byte payload (SetPowerMode).
pub const OP_MODE: u8 = 0x11;
/// Opcode: metadata request (GetMetadata).
pub const OP_METADATA: u8 = 0x19;
/// Opcode: reset.
pub const OP_RESET: u8 = 0x20;
/// Opcode: user gain, range byte and f32 little-endian payload (SetUserGains).
pub const OP_USER_GAIN: u8 = 0x25;
/// Lowest and highest regulator voltage the unit accepts, mV.
pub const VDD_LIMITS_MV: (u16, u16) = (800, 5000);
/// The stray byte some units send before the metadata text after a firmware update.
pub const STRAY_BYTE: u8 = 0x81;

/// Payload bytes that follow an opcode.
fn payload_bytes(opcode: u8) -> usize {
    match opcode {
        OP_DUT_POWER | OP_MODE => 1,
        OP_REGULATOR => 2,
        OP_USER_GAIN => 5,
        _ => 0,
    }
}

/// The unit's power mode (`mode:` in the metadata).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Ppk2Mode {
    /// Ampere meter: the DUT has its own supply, measured through the unit (`1`).
    Ampere = 1,
    /// Source meter: the unit supplies the DUT at the regulator voltage (`2`).
    #[default]
    Source = 2,
}

/// How to build an emulated PPK2.
#[derive(Debug, Clone, PartialEq)]
pub struct Ppk2Options {
    /// Seed of all randomness (the faults).
    pub seed: u64,
    /// Faults and quirks to show.
    pub faults: Ppk2Faults,
    /// Regulator voltage at power-on, mV.
    pub vdd_mv: u16,
    /// Mode at power-on.
    pub mode: Ppk2Mode,
    /// Whether the DUT is powered at power-on. True by default so that a demo shows the waveform at once;
    /// a host following Nordic's connect sequence sets it anyway.
    pub dut_powered: bool,
}

impl Default for Ppk2Options {
    fn default() -> Self {
        Self { seed: 0, faults: Ppk2Faults::default(), vdd_mv: 3000, mode: Ppk2Mode::Source, dut_powered: true }
    }
}

/// What the emulator did, for tests and the CLI.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ppk2Counters {
    /// Commands understood and applied.
    pub commands: u64,
    /// Opcodes not understood, and commands with a value out of bounds; all ignored.
    pub ignored_commands: u64,
    /// Metadata replies sent.
    pub metadata_replies: u64,
    /// Sample words sent whole or in part (those not dropped whole).
    pub samples_sent: u64,
    /// Sample words dropped whole by the drop-samples fault.
    pub dropped_samples: u64,
    /// Stream bytes dropped by the drop-bytes fault.
    pub dropped_bytes: u64,
    /// Backlog bytes queued for a host that opened the port while the unit streamed (stale fault).
    pub stale_bytes: u64,
    /// Samples measured but never sent because the host did not read ([`Ppk2Emulator::skip_samples`]).
    pub overflow_samples: u64,
}

/// One sample as the emulator makes it, before faults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EmulatedSample {
    /// Index since power-on (the counter is its low 6 bits).
    pub sample_index: u64,
    /// The current the word was made from, A.
    pub current_a: f64,
    /// Measurement range, 0–4.
    pub range: u8,
    /// The 14-bit ADC field.
    pub adc14: u16,
    /// The ADC field is pinned at 0x3FFF (or at 0): the current is beyond the range.
    pub over_range: bool,
    /// The 6-bit rolling counter.
    pub counter: u8,
    /// D0–D7, bit N is DN.
    pub logic: u8,
    /// The 4-byte word as sent (little-endian on the wire).
    pub word: u32,
}

/// Packs the fields of a stream word: ADC bits 0–13, range 14–16, counter 18–23, logic 24–31.
pub fn encode_word(adc14: u16, range: u8, counter: u8, logic: u8) -> u32 {
    u32::from(adc14 & 0x3FFF)
        | (u32::from(range & 0x7) << 14)
        | (u32::from(counter & 0x3F) << 18)
        | (u32::from(logic) << 24)
}

/// The emulated unit; see the module docs.
pub struct Ppk2Emulator {
    options: Ppk2Options,
    /// The constants the stream is made with: the good ones, user gains at 1.
    physics: Ppk2Calibration,
    /// The constants the metadata reports (corrupt with that fault), with the host's user gains.
    reported: Ppk2Calibration,
    vdd_mv: u16,
    mode: Ppk2Mode,
    dut_powered: bool,
    streaming: bool,
    next_sample_index: u64,
    rng: Pcg64Mcg,
    /// Bytes of a command whose payload has not all arrived.
    partial_command: Vec<u8>,
    /// Pieces waiting to go out before the stream: metadata fragments and stale backlog, one per round.
    outbox: VecDeque<Vec<u8>>,
    stray_byte_due: bool,
    counters: Ppk2Counters,
}

impl Ppk2Emulator {
    /// A unit at power-on. With the stale fault it is already streaming, left on by an earlier session.
    pub fn new(options: Ppk2Options) -> Self {
        let reported =
            if options.faults.corrupt_calibration { Ppk2Calibration::corrupt() } else { Ppk2Calibration::example() };
        Self {
            physics: Ppk2Calibration::example(),
            reported,
            vdd_mv: options.vdd_mv,
            mode: options.mode,
            dut_powered: options.dut_powered,
            streaming: options.faults.stale_bytes_on_open > 0,
            next_sample_index: 0,
            rng: Pcg64Mcg::seed_from_u64(options.seed),
            partial_command: Vec::new(),
            outbox: VecDeque::new(),
            stray_byte_due: options.faults.metadata_stray_byte,
            counters: Ppk2Counters::default(),
            options,
        }
    }

    /// Handles host bytes and returns the immediate reply (the first piece of a fragmented metadata reply;
    /// the rest come out of [`Ppk2Emulator::produce`]). A command cut anywhere waits for its remaining bytes.
    pub fn receive(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut reply = Vec::new();
        self.partial_command.extend_from_slice(bytes);
        let mut consumed = 0;
        while let Some(&opcode) = self.partial_command.get(consumed) {
            let end = consumed + 1 + payload_bytes(opcode);
            let Some(command) = self.partial_command.get(consumed..end) else { break };
            let command = command.to_vec();
            consumed = end;
            if opcode == OP_RESET {
                self.reset();
                // The unit reboots: whatever else arrived in this write is lost.
                consumed = self.partial_command.len();
                break;
            }
            self.apply(&command, &mut reply);
        }
        self.partial_command.drain(..consumed);
        reply
    }

    fn apply(&mut self, command: &[u8], reply: &mut Vec<u8>) {
        let applied = match *command {
            [OP_START] => {
                self.streaming = true;
                true
            }
            [OP_STOP] => {
                self.streaming = false;
                true
            }
            [OP_METADATA] => {
                self.reply_metadata(reply);
                true
            }
            [OP_REGULATOR, high, low] => {
                let vdd_mv = u16::from_be_bytes([high, low]);
                let ok = (VDD_LIMITS_MV.0..=VDD_LIMITS_MV.1).contains(&vdd_mv);
                if ok {
                    self.vdd_mv = vdd_mv;
                }
                ok
            }
            [OP_DUT_POWER, on @ (0 | 1)] => {
                self.dut_powered = on == 1;
                true
            }
            [OP_MODE, mode @ (1 | 2)] => {
                self.mode = if mode == 1 { Ppk2Mode::Ampere } else { Ppk2Mode::Source };
                true
            }
            [OP_USER_GAIN, range, a, b, c, d] => {
                let gain = f64::from(f32::from_le_bytes([a, b, c, d]));
                let slot = self.reported.user_gain.get_mut(usize::from(range));
                match slot {
                    Some(slot) if gain.is_finite() && gain > 0.0 => {
                        *slot = gain;
                        true
                    }
                    _ => false,
                }
            }
            [0x00] => true,
            _ => false,
        };
        if applied {
            self.counters.commands += 1;
        } else {
            self.counters.ignored_commands += 1;
        }
    }

    fn reply_metadata(&mut self, reply: &mut Vec<u8>) {
        let mut text = Vec::with_capacity(800);
        if std::mem::take(&mut self.stray_byte_due) {
            text.push(STRAY_BYTE);
        }
        text.extend_from_slice(self.reported.metadata_text(self.vdd_mv, self.mode as u8).as_bytes());
        self.counters.metadata_replies += 1;
        let fragment_bytes = self.options.faults.metadata_fragment_bytes;
        if fragment_bytes == 0 {
            reply.extend_from_slice(&text);
            return;
        }
        let mut pieces = text.chunks(fragment_bytes);
        if let Some(first) = pieces.next() {
            reply.extend_from_slice(first);
        }
        self.outbox.extend(pieces.map(<[u8]>::to_vec));
    }

    fn reset(&mut self) {
        let user_gain = Ppk2Calibration::example().user_gain;
        self.reported.user_gain = user_gain;
        self.vdd_mv = self.options.vdd_mv;
        self.mode = self.options.mode;
        self.dut_powered = self.options.dut_powered;
        self.streaming = false;
        self.next_sample_index = 0;
        self.partial_command.clear();
        self.outbox.clear();
        self.counters.commands += 1;
    }

    /// What the unit sends over the next `samples` sample periods: one waiting piece (metadata fragment or
    /// stale backlog) if any, then, while streaming, `samples` words with the faults applied. Not streaming,
    /// the sample index does not move.
    pub fn produce(&mut self, samples: usize) -> Vec<u8> {
        let mut out = self.outbox.pop_front().unwrap_or_default();
        if !self.streaming {
            return out;
        }
        out.reserve(samples * 4);
        let faults = &self.options.faults;
        let (drop_sample_p, drop_byte_p) = (faults.drop_sample_probability, faults.drop_byte_probability);
        for _ in 0..samples {
            let sample = self.sample(self.next_sample_index);
            self.next_sample_index += 1;
            if drop_sample_p > 0.0 && self.rng.random::<f64>() < drop_sample_p {
                self.counters.dropped_samples += 1;
                continue;
            }
            self.counters.samples_sent += 1;
            for byte in sample.word.to_le_bytes() {
                if drop_byte_p > 0.0 && self.rng.random::<f64>() < drop_byte_p {
                    self.counters.dropped_bytes += 1;
                } else {
                    out.push(byte);
                }
            }
        }
        out
    }

    /// Advances the stream by `samples` that were measured but never sent, as when the host stops reading
    /// and the unit's buffer is full; the counter moves on, so the host sees a gap. Nothing while stopped.
    pub fn skip_samples(&mut self, samples: u64) {
        if self.streaming {
            self.next_sample_index += samples;
            self.counters.overflow_samples += samples;
        }
    }

    /// A host opened the port. With the stale fault and the unit streaming, queues that many bytes of
    /// backlog (the tail of the stream since the last reader left), which the next [`Ppk2Emulator::produce`]
    /// returns first.
    pub fn host_opened(&mut self) {
        let stale_bytes = self.options.faults.stale_bytes_on_open;
        if stale_bytes == 0 || !self.streaming {
            return;
        }
        let words = stale_bytes.div_ceil(4);
        let first = self.next_sample_index;
        self.next_sample_index += words as u64;
        let stream: Vec<u8> = (first..self.next_sample_index).flat_map(|i| self.sample(i).word.to_le_bytes()).collect();
        self.outbox.push_back(stream[stream.len() - stale_bytes..].to_vec());
        self.counters.stale_bytes += stale_bytes as u64;
    }

    /// The host closed the port: the DUT loses power (the real unit cuts it within ≈ 0.5 s), waiting replies
    /// are lost, and streaming goes on unread, as on a real unit; mode and VDD persist.
    pub fn host_closed(&mut self) {
        self.dut_powered = false;
        self.partial_command.clear();
        self.outbox.clear();
    }

    /// The sample at `sample_index` as the unit makes it in its present state (DUT power, VDD), before faults.
    pub fn sample(&self, sample_index: u64) -> EmulatedSample {
        let current_a = self.expected_current_a(sample_index);
        let range = waveform::range_for_current(current_a);
        let (adc14, over_range) = self.physics.adc_code(usize::from(range), current_a, self.vdd_mv);
        let counter = (sample_index & 0x3F) as u8;
        let logic = if self.dut_powered { waveform::logic(sample_index) } else { 0 };
        let word = encode_word(adc14, range, counter, logic);
        EmulatedSample { sample_index, current_a, range, adc14, over_range, counter, logic, word }
    }

    /// The current the word for `sample_index` is made from, A: the waveform, or 0 with the DUT unpowered.
    pub fn expected_current_a(&self, sample_index: u64) -> f64 {
        if self.dut_powered { waveform::current_a(sample_index, self.options.faults.over_range) } else { 0.0 }
    }

    /// What a correct decoder gets back from the word for `sample_index`, A: the reference's forward formula
    /// applied to the rounded (or clamped) ADC field, with the good constants, the present VDD and the
    /// user gains the host set. With a corrupt calibration the metadata cannot give this; a decoder should
    /// refuse those ranges instead.
    pub fn quantised_current_a(&self, sample_index: u64) -> f64 {
        let sample = self.sample(sample_index);
        let range = usize::from(sample.range);
        self.physics.current_a(range, sample.adc14, self.vdd_mv) * self.reported.user_gain[range]
    }

    /// Counts of what happened.
    pub fn counters(&self) -> Ppk2Counters {
        self.counters
    }

    /// Whether the unit is streaming.
    pub fn streaming(&self) -> bool {
        self.streaming
    }

    /// The regulator voltage, mV.
    pub fn vdd_mv(&self) -> u16 {
        self.vdd_mv
    }

    /// The power mode.
    pub fn mode(&self) -> Ppk2Mode {
        self.mode
    }

    /// Whether the DUT is powered.
    pub fn dut_powered(&self) -> bool {
        self.dut_powered
    }

    /// The index of the next sample the stream will carry.
    pub fn next_sample_index(&self) -> u64 {
        self.next_sample_index
    }

    /// The constants the metadata reports, with the host's user gains.
    pub fn reported_calibration(&self) -> &Ppk2Calibration {
        &self.reported
    }
}

#[cfg(test)]
mod tests;
