//! The simulated board's physics: its supply current over a reporting cycle and its slowly drifting sensors.
//!
//! A cycle starts with wake-and-measure (≈ 50 mA for 30 ms), then a LoRa uplink (≈ 120 mA for the time on
//! air of a 20-byte payload at SF7, 61.7 ms), then the two receive windows one and two seconds after the
//! uplink (≈ 11 mA for 20 ms each), and deep sleep (≈ 10 µA) for the rest of the reporting interval. The
//! levels and durations are those of a typical SX1276-based board; they make a trace whose average current
//! visibly depends on the reporting interval, which is what the power view is for.

use rand::Rng;
use rand_distr::StandardNormal;

/// Deep-sleep current, nA.
pub const SLEEP_NA: f64 = 10_000.0;
/// Wake-and-measure current, nA.
pub const MEASURE_NA: f64 = 50_000_000.0;
/// Radio transmit current, nA.
pub const TRANSMIT_NA: f64 = 120_000_000.0;
/// Receive-window current, nA.
pub const RECEIVE_NA: f64 = 11_000_000.0;

const MEASURE_US: u64 = 30_000;
const TRANSMIT_US: u64 = 61_700;
const RX_WINDOW_US: u64 = 20_000;
const RX1_DELAY_US: u64 = 1_000_000;
const RX2_DELAY_US: u64 = 2_000_000;

/// What the board is doing at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Deep sleep.
    Sleep,
    /// Woken, reading sensors.
    Measure,
    /// Transmitting an uplink.
    Transmit,
    /// Listening in a receive window.
    Receive,
}

impl Phase {
    /// The phase's mean current, nA.
    pub fn mean_current_na(self) -> f64 {
        match self {
            Phase::Sleep => SLEEP_NA,
            Phase::Measure => MEASURE_NA,
            Phase::Transmit => TRANSMIT_NA,
            Phase::Receive => RECEIVE_NA,
        }
    }
}

/// The phase at `time_us` after boot for a cycle of `interval_us`; the first cycle starts at boot.
pub fn phase_at(time_us: u64, interval_us: u64) -> Phase {
    let t = time_us % interval_us.max(1);
    let tx_end = MEASURE_US + TRANSMIT_US;
    if t < MEASURE_US {
        Phase::Measure
    } else if t < tx_end {
        Phase::Transmit
    } else if in_window(t, tx_end + RX1_DELAY_US) || in_window(t, tx_end + RX2_DELAY_US) {
        Phase::Receive
    } else {
        Phase::Sleep
    }
}

fn in_window(t: u64, start: u64) -> bool {
    t >= start && t < start + RX_WINDOW_US
}

/// Relative noise on active currents.
const ACTIVE_NOISE: f64 = 0.02;
/// Absolute noise in sleep, nA.
const SLEEP_NOISE_NA: f64 = 300.0;

/// Noise models for the board's signals; the randomness comes from the board's seeded generator.
#[derive(Default)]
pub struct Noise {
    temperature_walk_c: f64,
}

impl Noise {
    /// One current sample, nA.
    pub fn current_na(&mut self, phase: Phase, rng: &mut impl Rng) -> u32 {
        let mean = phase.mean_current_na();
        let z: f64 = rng.sample(StandardNormal);
        let value = match phase {
            Phase::Sleep => mean + SLEEP_NOISE_NA * z,
            _ => mean * (1.0 + ACTIVE_NOISE * z),
        };
        value.clamp(0.0, u32::MAX as f64) as u32
    }

    /// Temperature, °C: a slow 5-minute swing around 22 °C plus a small random walk.
    pub fn temperature_c(&mut self, time_us: u64, rng: &mut impl Rng) -> f64 {
        self.temperature_walk_c = (self.temperature_walk_c + rng.random_range(-0.01..0.01)).clamp(-0.5, 0.5);
        22.0 + 2.5 * (seconds(time_us) * std::f64::consts::TAU / 300.0).sin() + self.temperature_walk_c
    }

    /// Relative humidity, %.
    pub fn humidity_percent(&mut self, time_us: u64, rng: &mut impl Rng) -> f64 {
        45.0 + 8.0 * (seconds(time_us) * std::f64::consts::TAU / 420.0 + 1.0).sin() + rng.random_range(-0.1..0.1)
    }

    /// Battery voltage, V: slowly discharging, sagging across a 0.5 Ω internal resistance under load.
    pub fn battery_v(&mut self, time_us: u64, current_na: f64, rng: &mut impl Rng) -> f64 {
        3.9 - 1e-5 * seconds(time_us) - 0.5 * current_na * 1e-9 + rng.random_range(-0.002..0.002)
    }
}

fn seconds(time_us: u64) -> f64 {
    time_us as f64 * 1e-6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cycle_has_its_phases_in_order() {
        let interval = 10_000_000;
        assert_eq!(phase_at(0, interval), Phase::Measure);
        assert_eq!(phase_at(40_000, interval), Phase::Transmit);
        assert_eq!(phase_at(500_000, interval), Phase::Sleep);
        assert_eq!(phase_at(91_700 + 1_000_000 + 5_000, interval), Phase::Receive);
        assert_eq!(phase_at(91_700 + 2_000_000 + 5_000, interval), Phase::Receive);
        assert_eq!(phase_at(interval + 10, interval), Phase::Measure);
    }

    #[test]
    fn average_current_follows_the_interval() {
        let average = |interval_us: u64| {
            let steps = 200_000u64;
            let sum: f64 = (0..steps).map(|i| phase_at(i * interval_us / steps, interval_us).mean_current_na()).sum();
            sum / steps as f64
        };
        let short = average(10_000_000);
        let long = average(60_000_000);
        assert!(short > 4.0 * long, "10 s cycle {short} nA vs 60 s cycle {long} nA");
        assert!(long > SLEEP_NA && long < MEASURE_NA);
    }
}
