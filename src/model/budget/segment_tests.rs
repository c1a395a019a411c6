//! Unit tests of segmentation on synthetic square waves with seeded noise: levels and shares recovered within
//! stated tolerances, the period found, charge preserved, and the editing functions.

use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use rand_pcg::Pcg64Mcg;

use super::*;

/// The reference cycle: 10 µA for 990 ms, 5 mA for 8 ms, 120 mA for 2 ms.
const CYCLE: [(f64, f64); 3] = [(10e-6, 0.990), (5e-3, 0.008), (120e-3, 0.002)];

/// Per-window means of `periods` repetitions of `cycle` ((current A, duration s) pairs), each window the exact
/// average of the square wave over its span, then multiplied by (1 + `noise` · N(0, 1)) and offset by
/// 0.2 µA · N(0, 1) of amplifier noise.
fn square_wave(cycle: &[(f64, f64)], window_s: f64, periods: usize, noise: f64, seed: u64) -> Vec<f32> {
    let period_s: f64 = cycle.iter().map(|(_, d)| d).sum();
    let total_s = period_s * periods as f64;
    let windows = (total_s / window_s).round() as usize;
    // Charge from 0 to t, by whole periods plus the part of the cycle before t.
    let charge = |t: f64| {
        let whole = (t / period_s).floor();
        let mut q = whole * cycle.iter().map(|(a, d)| a * d).sum::<f64>();
        let mut left = t - whole * period_s;
        for &(a, d) in cycle {
            q += a * left.min(d);
            left = (left - d).max(0.0);
        }
        q
    };
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..windows)
        .map(|k| {
            let (t0, t1) = (k as f64 * window_s, (k + 1) as f64 * window_s);
            let mean = (charge(t1) - charge(t0)) / window_s;
            let n1: f64 = rng.sample(StandardNormal);
            let n2: f64 = rng.sample(StandardNormal);
            (mean * (1.0 + noise * n1) + 0.2e-6 * n2) as f32
        })
        .collect()
}

fn mean_of_valid(means_a: &[f32]) -> f64 {
    let valid: Vec<f64> = means_a.iter().filter(|a| a.is_finite()).map(|&a| f64::from(a)).collect();
    valid.iter().sum::<f64>() / valid.len() as f64
}

fn relative_error(got: f64, want: f64) -> f64 {
    (got - want).abs() / want
}

#[test]
fn recovers_the_three_levels_shares_and_period() {
    let trace = square_wave(&CYCLE, 1e-3, 20, 0.05, 1);
    let segmentation = segment(&trace, 1e-3, &SegmentOptions::default()).unwrap();
    assert_eq!(segmentation.names(), ["sleep", "active", "transmit"]);
    let profile = segmentation.profile("bench");
    // Tolerance: currents within 3 % (5 % noise averaged over ≥ 40 windows), shares within 0.05 points.
    for (state, (current_a, duration_s)) in profile.states.iter().zip(CYCLE) {
        assert!(relative_error(state.current_ma, current_a * 1000.0) < 0.03, "{state:?}");
        assert!((state.share - duration_s).abs() < 0.0005, "{state:?}");
    }
    let period_s = profile.period_s.unwrap();
    assert!((period_s - 1.0).abs() < 1e-9, "{period_s}");
    assert!(relative_error(profile.avg_current_ma(), mean_of_valid(&trace) * 1000.0) < 1e-9);
    profile.validate().unwrap();
    // Three segments per period (the trace starts asleep and ends in a burst).
    assert_eq!(segmentation.segments().len(), 60);
}

#[test]
fn windows_that_straddle_transitions_stay_within_tolerance() {
    // 0.7 ms windows never line up with the 1 s cycle: every transition leaves a mixed window.
    let trace = square_wave(&CYCLE, 0.7e-3, 30, 0.05, 2);
    let profile = segment(&trace, 0.7e-3, &SegmentOptions::default()).unwrap().profile("bench");
    assert_eq!(profile.states.len(), 3);
    // At most one mixed window per transition: 0.7 ms in 1 s of share; levels within 5 % for the long states,
    // 25 % for the 2 ms burst, which one mixed window in three dilutes.
    let tolerances = [0.05, 0.05, 0.25];
    for ((state, (current_a, duration_s)), tolerance) in profile.states.iter().zip(CYCLE).zip(tolerances) {
        assert!((state.share - duration_s).abs() < 0.001, "{state:?}");
        assert!(relative_error(state.current_ma, current_a * 1000.0) < tolerance, "{state:?}");
    }
    assert!((profile.period_s.unwrap() - 1.0).abs() < 0.7e-3);
    assert!(relative_error(profile.avg_current_ma(), mean_of_valid(&trace) * 1000.0) < 1e-9);
}

#[test]
fn at_most_max_states_levels() {
    let trace = square_wave(&CYCLE, 1e-3, 10, 0.05, 3);
    let options = SegmentOptions { max_states: 2, ..SegmentOptions::default() };
    let profile = segment(&trace, 1e-3, &options).unwrap().profile("two");
    assert_eq!(profile.states.len(), 2);
    assert!((profile.states[0].share - 0.990).abs() < 0.0005);
    assert!(relative_error(profile.avg_current_ma(), mean_of_valid(&trace) * 1000.0) < 1e-9);
}

#[test]
fn short_glitches_are_absorbed_into_their_neighbours() {
    // 10 µA sleep with two 2 ms 3 mA glitches, and a 5 ms 80 mA burst, per 1 s period.
    let cycle = [(10e-6, 0.300), (3e-3, 0.002), (10e-6, 0.300), (3e-3, 0.002), (10e-6, 0.391), (80e-3, 0.005)];
    let trace = square_wave(&cycle, 1e-3, 10, 0.02, 4);
    let kept = segment(&trace, 1e-3, &SegmentOptions::default()).unwrap();
    assert_eq!(kept.names().len(), 3, "without a minimum duration the glitches are a state");
    let options = SegmentOptions { min_duration_s: 2.5e-3, ..SegmentOptions::default() };
    let segmentation = segment(&trace, 1e-3, &options).unwrap();
    assert_eq!(segmentation.names(), ["sleep", "active"]);
    let profile = segmentation.profile("glitchy");
    assert!((profile.states[1].share - 0.005).abs() < 1e-9);
    // The glitches' charge now belongs to sleep: (0.991 · 10 µA + 0.004 · 3 mA) / 0.995.
    let sleep_ma = (0.991 * 10e-3 + 0.004 * 3.0) / 0.995;
    assert!(relative_error(profile.states[0].current_ma, sleep_ma) < 0.01, "{:?}", profile.states[0]);
    assert!(relative_error(profile.avg_current_ma(), mean_of_valid(&trace) * 1000.0) < 1e-9);
    assert_eq!(segmentation.segments().len(), 20);
}

#[test]
fn nan_windows_are_gaps_that_count_nowhere() {
    let mut trace = square_wave(&CYCLE, 1e-3, 5, 0.02, 5);
    for window in &mut trace[1200..1700] {
        *window = f32::NAN;
    }
    let segmentation = segment(&trace, 1e-3, &SegmentOptions::default()).unwrap();
    let covered_s: f64 = segmentation.segments().iter().map(Segment::duration_s).sum();
    assert!((covered_s - 4.5).abs() < 1e-9);
    assert!(segmentation.segments().iter().all(|s| s.end_s <= 1.2 + 1e-9 || s.start_s >= 1.7 - 1e-9));
    let profile = segmentation.profile("gappy");
    assert!(relative_error(profile.avg_current_ma(), mean_of_valid(&trace) * 1000.0) < 1e-9);
    assert!((profile.states[2].share - 0.010 / 4.5).abs() < 1e-9, "five 2 ms bursts in 4.5 s of data");
}

#[test]
fn a_flat_trace_is_one_state_without_a_period() {
    let trace = square_wave(&[(2e-3, 1.0)], 1e-3, 3, 0.05, 6);
    let segmentation = segment(&trace, 1e-3, &SegmentOptions::default()).unwrap();
    assert_eq!(segmentation.names(), ["sleep"]);
    assert_eq!(segmentation.segments().len(), 1);
    let profile = segmentation.profile("flat");
    assert_eq!(profile.period_s, None);
    assert_eq!(profile.states[0].share, 1.0);
}

#[test]
fn states_past_the_third_are_numbered() {
    let cycle = [(1e-6, 0.5), (100e-6, 0.2), (10e-3, 0.2), (1.0, 0.1)];
    let trace = square_wave(&cycle, 1e-3, 4, 0.02, 7);
    let segmentation = segment(&trace, 1e-3, &SegmentOptions::default()).unwrap();
    assert_eq!(segmentation.names(), ["sleep", "active", "transmit", "state 4"]);
    let period_s = segmentation.period_s.unwrap();
    assert!((period_s - 1.0).abs() < 1e-9);
}

#[test]
fn states_can_be_renamed_merged_and_boundaries_moved() {
    let trace = square_wave(&CYCLE, 1e-3, 10, 0.0, 8);
    let mut segmentation = segment(&trace, 1e-3, &SegmentOptions::default()).unwrap();

    segmentation.rename_state(2, "LoRa transmit").unwrap();
    assert_eq!(segmentation.profile("p").states[2].name, "LoRa transmit");
    assert_eq!(segmentation.rename_state(1, "sleep").unwrap_err(), SegmentError::NameTaken("sleep".into()));
    assert_eq!(segmentation.rename_state(7, "x").unwrap_err(), SegmentError::NoSuchState(7));

    // The first sleep ends at 990 ms; moving the boundary to 995 ms gives 5 ms of active to sleep.
    let sleep_before = segmentation.state_time_s(0);
    segmentation.move_boundary(&trace, 0, 0.995).unwrap();
    assert!((segmentation.state_time_s(0) - sleep_before - 0.005).abs() < 1e-9);
    assert!((segmentation.segments()[0].end_s - 0.995).abs() < 1e-12);
    assert!(relative_error(segmentation.segments()[1].mean_a, 5e-3) < 1e-4, "still pure active");
    assert!(segmentation.segments()[0].mean_a > 10e-6, "sleep took some active windows");
    assert!(matches!(segmentation.move_boundary(&trace, 0, 2.0).unwrap_err(), SegmentError::BoundaryOutOfRange { .. }));
    assert_eq!(segmentation.move_boundary(&trace, 99, 1.0).unwrap_err(), SegmentError::NoSuchBoundary(99));
    assert_eq!(segmentation.move_boundary(&trace[..10], 0, 0.9).unwrap_err(), SegmentError::DataMismatch);

    // Active and transmit as one state of (8 · 5 + 2 · 120) / 10 = 28 mA, charge preserved.
    let avg_before = segmentation.profile("p").avg_current_ma();
    segmentation.merge_states(1, 2).unwrap();
    assert_eq!(segmentation.names(), ["sleep", "active"]);
    let profile = segmentation.profile("p");
    assert!((profile.avg_current_ma() - avg_before).abs() < 1e-12);
    assert_eq!(segmentation.segments().len(), 20, "touching segments of one state are joined");
    // The first burst now starts 5 ms early: the period is the mean of the regular intervals.
    let period_s = profile.period_s.unwrap();
    assert!((period_s - (0.995 + 8.0) / 9.0).abs() < 1e-9, "{period_s}");
    assert_eq!(segmentation.merge_states(0, 0).unwrap_err(), SegmentError::SameState);
}

#[test]
fn unusable_input_is_refused() {
    assert_eq!(segment(&[1.0], 0.0, &SegmentOptions::default()).unwrap_err(), SegmentError::BadWindow(0.0));
    assert_eq!(segment(&[f32::NAN; 4], 1e-3, &SegmentOptions::default()).unwrap_err(), SegmentError::NoData);
    assert_eq!(segment(&[], 1e-3, &SegmentOptions::default()).unwrap_err(), SegmentError::NoData);
    let none = SegmentOptions { max_states: 0, ..SegmentOptions::default() };
    assert!(matches!(segment(&[1.0], 1e-3, &none).unwrap_err(), SegmentError::BadOptions(_)));
}
