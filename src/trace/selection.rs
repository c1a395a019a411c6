//! What a selection of a trace amounts to: exact statistics between two times, charge in coulombs and µAh,
//! energy at a set voltage or from a measured voltage channel, and per-window means for segmentation.
//!
//! Energy from a voltage channel is Σ (mean voltage × charge) over up to [`ENERGY_COLUMNS`] equal parts of the
//! selection: exact when the voltage is constant within a part (a battery's voltage moves over minutes, the
//! parts are far shorter), and the charge in each part is exact.

use serde::Serialize;

use super::reader::{Trace, TraceError};
use super::summary::{CompensatedSum, Stats};

/// Parts a selection is cut into to integrate current × a measured voltage.
pub const ENERGY_COLUMNS: usize = 4096;

/// Where the voltage for an energy figure comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Voltage {
    /// A fixed supply voltage, V.
    Fixed(f64),
    /// A channel of the same trace, in volts.
    Channel(usize),
}

/// A selection's figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SelectionStats {
    /// Start of the selection, s.
    pub from_s: f64,
    /// End of the selection, s.
    pub to_s: f64,
    /// Statistics of the channel's values.
    pub stats: Stats,
    /// Charge, C (the integral of a current in amperes).
    pub charge_c: f64,
    /// Charge, µAh.
    pub charge_uah: f64,
    /// Energy, J, when a voltage is known.
    pub energy_j: Option<f64>,
}

/// Sample range of `channel` covering times `from_s..to_s` (clamped).
pub fn index_range(trace: &Trace, channel: usize, from_s: f64, to_s: f64) -> (u64, u64) {
    let count = trace.sample_count(channel) as f64;
    let (from_s, to_s) = if from_s <= to_s { (from_s, to_s) } else { (to_s, from_s) };
    let a = trace.index_at(channel, from_s).round().clamp(0.0, count) as u64;
    let b = trace.index_at(channel, to_s).round().clamp(0.0, count) as u64;
    (a, b)
}

/// Exact figures of `channel` between `from_s` and `to_s`, with energy when `voltage` is given.
pub fn selection_stats(
    trace: &Trace,
    channel: usize,
    from_s: f64,
    to_s: f64,
    voltage: Option<Voltage>,
) -> Result<SelectionStats, TraceError> {
    let (a, b) = index_range(trace, channel, from_s, to_s);
    let stats = trace.stats(channel, a, b)?;
    let charge_c = stats.integral;
    let energy_j = match voltage {
        None => None,
        Some(Voltage::Fixed(v)) => Some(v * charge_c),
        Some(Voltage::Channel(v)) => Some(measured_energy_j(trace, channel, v, a, b)?),
    };
    Ok(SelectionStats {
        from_s: trace.time_of(channel, a as f64),
        to_s: trace.time_of(channel, b as f64),
        stats,
        charge_c,
        charge_uah: charge_c / 3.6e-3,
        energy_j,
    })
}

fn measured_energy_j(trace: &Trace, current: usize, voltage: usize, a: u64, b: u64) -> Result<f64, TraceError> {
    let parts = ((b - a) as usize).clamp(1, ENERGY_COLUMNS);
    let rate = trace.channel(current).map_or(1.0, |c| c.sample_rate_hz);
    let mut energy = CompensatedSum::default();
    for part in 0..parts {
        let pa = a + (b - a) * part as u64 / parts as u64;
        let pb = a + (b - a) * (part as u64 + 1) / parts as u64;
        if pa >= pb {
            continue;
        }
        let charge_c = trace.summary(current, pa, pb)?.sum / rate;
        let (t0, t1) = (trace.time_of(current, pa as f64), trace.time_of(current, pb as f64));
        let (va, vb) = index_range(trace, voltage, t0, t1);
        // A voltage channel slower than the part: take its nearest sample.
        let (va, vb) = if va == vb { (va.saturating_sub(1), va.max(1)) } else { (va, vb) };
        let mean_v = trace.summary(voltage, va, vb)?.mean();
        if mean_v.is_finite() {
            energy.add(mean_v * charge_c);
        }
    }
    Ok(energy.value())
}

/// Means of `channel` over at most `max_windows` equal windows between `from_s` and `to_s`, and the window
/// length in seconds: the input of segmentation (NaN where a window has no data).
pub fn window_means(
    trace: &Trace,
    channel: usize,
    from_s: f64,
    to_s: f64,
    max_windows: usize,
) -> Result<(Vec<f32>, f64), TraceError> {
    let (a, b) = index_range(trace, channel, from_s, to_s);
    let samples = b.saturating_sub(a);
    let windows = (samples as usize).clamp(1, max_windows.max(1));
    let columns = trace.columns(channel, a as f64, b as f64, windows)?;
    let rate = trace.channel(channel).map_or(1.0, |c| c.sample_rate_hz);
    let means = columns.summaries.iter().map(|s| s.mean() as f32).collect();
    Ok((means, columns.width / rate))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trace::{ChannelDef, TraceWriter};

    #[test]
    fn charge_and_energy_of_a_selection() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("e.btr");
        let mut writer = TraceWriter::create(&path).unwrap();
        let def = |name: &str, unit: &str, rate| ChannelDef {
            name: name.into(),
            unit: unit.into(),
            sample_rate_hz: rate,
            start_s: 0.0,
        };
        let i = writer.add_channel(def("current", "A", 10_000.0)).unwrap();
        let v = writer.add_channel(def("voltage", "V", 100.0)).unwrap();
        // 10 mA for 2 s, then 1 mA for 2 s; voltage 4 V for the first 2 s, then 3 V.
        writer.append(i, &[0.01; 20_000]).unwrap();
        writer.append(i, &[0.001; 20_000]).unwrap();
        writer.append(v, &[4.0; 200]).unwrap();
        writer.append(v, &[3.0; 200]).unwrap();
        writer.finish().unwrap();
        let trace = Trace::open(&path).unwrap();
        let all = selection_stats(&trace, i, 0.0, 4.0, Some(Voltage::Channel(v))).unwrap();
        // f32 samples: 0.01 is stored as 0.0099999998; a part in 10⁷.
        assert!((all.charge_c - 0.022).abs() < 1e-8, "{all:?}");
        assert!((all.charge_uah - 0.022 / 3.6e-3).abs() < 1e-5);
        let expected_j = 0.02 * 4.0 + 0.002 * 3.0;
        // The part straddling the voltage step takes a mix: within one part in 10⁴.
        assert!((all.energy_j.unwrap() - expected_j).abs() < 1e-4 * expected_j, "{all:?}");
        let fixed = selection_stats(&trace, i, 1.0, 3.0, Some(Voltage::Fixed(3.3))).unwrap();
        assert!((fixed.charge_c - 0.011).abs() < 1e-8);
        assert!((fixed.energy_j.unwrap() - 3.3 * 0.011).abs() < 1e-7);
        assert!((fixed.stats.duration_s - 2.0).abs() < 1e-9);
        let (means, window_s) = window_means(&trace, i, 0.0, 4.0, 400).unwrap();
        assert_eq!(means.len(), 400);
        assert!((window_s - 0.01).abs() < 1e-12);
        assert!((means[0] - 0.01).abs() < 1e-8 && (means[399] - 0.001).abs() < 1e-8);
    }
}
