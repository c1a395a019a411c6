//! What-if questions on a profile: report more or less often, transmit with other radio settings, and two
//! profiles side by side.
//!
//! Changing the interval or the airtime needs the profile's period, because it works on durations: the states
//! other than sleep keep their seconds per period (a measurement takes as long whether it happens every
//! minute or every hour) and sleep absorbs whatever time is left. One uplink per period is assumed. The
//! functions return new profiles and never change their input.

use serde::Serialize;

use super::battery::{Battery, Lifetime};
use super::profile::{Profile, State};
use super::radio::{Airtime, LoraSettings, RadioError};

/// Why a what-if could not be answered.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum WhatIfError {
    /// The profile has shares only.
    #[error(
        "the profile has no period, so how long each state lasts is unknown; give its period (the reporting interval) first"
    )]
    NoPeriod,
    /// The interval is not a positive number.
    #[error("interval {interval_s} s is not a positive number of seconds; give the time between reports")]
    BadInterval {
        /// The value given.
        interval_s: f64,
    },
    /// The states other than sleep do not fit into the new interval.
    #[error(
        "an interval of {interval_s} s is shorter than the {active_s:.3} s the device is awake per period; choose at least that"
    )]
    ShorterThanActive {
        /// The interval asked for, s.
        interval_s: f64,
        /// Time per period outside sleep, s.
        active_s: f64,
    },
    /// A longer transmission does not fit the period.
    #[error(
        "a transmission of {transmit_s:.3} s leaves no time to sleep in a {period_s} s period; report less often or shorten the packet"
    )]
    NoRoomToTransmit {
        /// The new transmit time, s.
        transmit_s: f64,
        /// The period, s.
        period_s: f64,
    },
    /// The transmit state is the sleep state (or missing).
    #[error("the profile needs a transmit state apart from its sleep state; add one")]
    NoTransmitState,
    /// The radio settings were refused.
    #[error(transparent)]
    Radio(#[from] RadioError),
}

/// The profile with a new reporting interval: states other than sleep keep their duration, sleep absorbs the rest.
pub fn with_interval(profile: &Profile, interval_s: f64) -> Result<Profile, WhatIfError> {
    if !(interval_s.is_finite() && interval_s > 0.0) {
        return Err(WhatIfError::BadInterval { interval_s });
    }
    let durations_s = profile.durations_s().ok_or(WhatIfError::NoPeriod)?;
    let sleep = profile.sleep_index().ok_or(WhatIfError::NoPeriod)?;
    let active_s: f64 = durations_s.iter().enumerate().filter(|(i, _)| *i != sleep).map(|(_, d)| d).sum();
    // Durations come from shares × period, so allow for rounding: 0.12 s awake must fit a 0.12 s interval.
    if interval_s < active_s * (1.0 - 1e-9) {
        return Err(WhatIfError::ShorterThanActive { interval_s, active_s });
    }
    let mut states: Vec<State> = profile.states.clone();
    for (i, state) in states.iter_mut().enumerate() {
        state.share =
            if i == sleep { ((interval_s - active_s) / interval_s).max(0.0) } else { durations_s[i] / interval_s };
    }
    Ok(Profile { name: profile.name.clone(), period_s: Some(interval_s), states })
}

/// The profile with state `transmit` lasting `time_on_air_ms` per period; sleep absorbs the difference.
pub fn with_transmit_time(profile: &Profile, transmit: usize, time_on_air_ms: f64) -> Result<Profile, WhatIfError> {
    let period_s = profile.period_s.ok_or(WhatIfError::NoPeriod)?;
    let sleep = profile.sleep_index().ok_or(WhatIfError::NoTransmitState)?;
    if transmit == sleep || transmit >= profile.states.len() {
        return Err(WhatIfError::NoTransmitState);
    }
    let transmit_s = time_on_air_ms / 1000.0;
    let old_transmit_share = profile.states[transmit].share;
    let new_transmit_share = transmit_s / period_s;
    let sleep_share = profile.states[sleep].share + old_transmit_share - new_transmit_share;
    if sleep_share < 0.0 {
        return Err(WhatIfError::NoRoomToTransmit { transmit_s, period_s });
    }
    let mut changed = profile.clone();
    changed.states[transmit].share = new_transmit_share;
    changed.states[sleep].share = sleep_share;
    Ok(changed)
}

/// The profile with its transmit state lasting one packet of `settings`, and that packet's airtime.
pub fn with_radio(profile: &Profile, settings: &LoraSettings) -> Result<(Profile, Airtime), WhatIfError> {
    let airtime = settings.time_on_air()?;
    let transmit = profile.transmit_index().ok_or(WhatIfError::NoTransmitState)?;
    Ok((with_transmit_time(profile, transmit, airtime.time_on_air_ms)?, airtime))
}

/// One state as it appears in one profile of a comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Mean current, mA.
    pub current_ma: f64,
    /// Share of the time, 0..=1.
    pub share: f64,
    /// What the state adds to the average current (current × share), mA.
    pub contribution_ma: f64,
}

/// A state by name, in profile A, B or both.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComparisonRow {
    /// The state's name.
    pub name: String,
    /// In profile A.
    pub a: Option<Side>,
    /// In profile B.
    pub b: Option<Side>,
}

impl ComparisonRow {
    /// B's contribution to the average current minus A's, mA (a state missing on one side counts as 0).
    pub fn contribution_delta_ma(&self) -> f64 {
        let of = |side: &Option<Side>| side.as_ref().map_or(0.0, |s| s.contribution_ma);
        of(&self.b) - of(&self.a)
    }
}

/// Two profiles side by side: states matched by name, lifetimes and their differences (B − A).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// A's states in order, then those only B has.
    pub rows: Vec<ComparisonRow>,
    /// A's lifetime.
    pub a: Lifetime,
    /// B's lifetime.
    pub b: Lifetime,
    /// B's average current minus A's, mA.
    pub avg_current_delta_ma: f64,
    /// B's plain lifetime minus A's, h.
    pub plain_hours_delta: f64,
    /// B's derated lifetime minus A's, h.
    pub derated_hours_delta: f64,
}

impl Comparison {
    /// B's derated lifetime over A's (2.0: B lasts twice as long).
    pub fn derated_ratio(&self) -> f64 {
        self.b.derated_hours / self.a.derated_hours
    }
}

/// Compares profile `a` on `battery_a` with profile `b` on `battery_b`.
pub fn compare(a: &Profile, battery_a: &Battery, b: &Profile, battery_b: &Battery) -> Comparison {
    let side = |state: &State| Side {
        current_ma: state.current_ma,
        share: state.share,
        contribution_ma: state.current_ma * state.share,
    };
    let mut rows: Vec<ComparisonRow> = a
        .states
        .iter()
        .map(|state| ComparisonRow {
            name: state.name.clone(),
            a: Some(side(state)),
            b: b.states.iter().find(|s| s.name == state.name).map(side),
        })
        .collect();
    for state in &b.states {
        if a.index_of(&state.name).is_none() {
            rows.push(ComparisonRow { name: state.name.clone(), a: None, b: Some(side(state)) });
        }
    }
    let lifetime_a = battery_a.lifetime(a.avg_current_ma());
    let lifetime_b = battery_b.lifetime(b.avg_current_ma());
    Comparison {
        rows,
        avg_current_delta_ma: lifetime_b.avg_current_ma - lifetime_a.avg_current_ma,
        plain_hours_delta: lifetime_b.plain_hours - lifetime_a.plain_hours,
        derated_hours_delta: lifetime_b.derated_hours - lifetime_a.derated_hours,
        a: lifetime_a,
        b: lifetime_b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::budget::radio::app_payload_to_phy;

    fn lora() -> Profile {
        Profile::new(
            "LoRa sensor",
            Some(120.0),
            vec![
                State::new("deep sleep", 0.01, 0.999),
                State::new("wake and measure", 50.0, 0.0005),
                State::new("LoRa transmit", 120.0, 0.0005),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_longer_interval_keeps_the_awake_time_and_sleeps_more() {
        let hourly = with_interval(&lora(), 3600.0).unwrap();
        hourly.validate().unwrap();
        assert_eq!(hourly.period_s, Some(3600.0));
        let durations = hourly.durations_s().unwrap();
        assert!((durations[1] - 0.06).abs() < 1e-12);
        assert!((durations[2] - 0.06).abs() < 1e-12);
        assert!((durations[0] - (3600.0 - 0.12)).abs() < 1e-9);
        // Charge per period: 0.06 s · (50 + 120) mA + sleep; averaged over an hour.
        let expected_ma = (0.06 * 170.0 + (3600.0 - 0.12) * 0.01) / 3600.0;
        assert!((hourly.avg_current_ma() - expected_ma).abs() < 1e-12);
        assert!(hourly.avg_current_ma() < lora().avg_current_ma());
    }

    #[test]
    fn an_interval_shorter_than_the_awake_time_is_refused() {
        let tight = with_interval(&lora(), 0.12).unwrap();
        assert_eq!(tight.states[0].share, 0.0, "exactly the awake time fits, with no sleep");
        let error = with_interval(&lora(), 0.1).unwrap_err();
        assert!(matches!(error, WhatIfError::ShorterThanActive { active_s, .. } if (active_s - 0.12).abs() < 1e-12));
        let mut no_period = lora();
        no_period.period_s = None;
        assert_eq!(with_interval(&no_period, 60.0).unwrap_err(), WhatIfError::NoPeriod);
        assert!(matches!(with_interval(&lora(), -5.0).unwrap_err(), WhatIfError::BadInterval { .. }));
    }

    #[test]
    fn new_radio_settings_change_the_transmit_time() {
        let sf12 =
            LoraSettings { spreading_factor: 12, payload_bytes: app_payload_to_phy(10), ..LoraSettings::default() };
        let (changed, airtime) = with_radio(&lora(), &sf12).unwrap();
        changed.validate().unwrap();
        let transmit_s = changed.duration_s(2).unwrap();
        assert!((transmit_s - airtime.time_on_air_ms / 1000.0).abs() < 1e-12);
        assert!(airtime.time_on_air_ms > 1000.0, "SF12 with 23 bytes takes over a second");
        // The measurement is untouched; sleep gave up the difference.
        assert!((changed.states[1].share - 0.0005).abs() < 1e-15);
        let sleep_lost = lora().states[0].share - changed.states[0].share;
        assert!((sleep_lost - (transmit_s / 120.0 - 0.0005)).abs() < 1e-12);
        assert!(changed.avg_current_ma() > lora().avg_current_ma());
    }

    #[test]
    fn a_packet_longer_than_the_period_is_refused() {
        let mut tight = lora();
        tight.period_s = Some(0.5);
        let sf12 = LoraSettings { spreading_factor: 12, payload_bytes: 50, ..LoraSettings::default() };
        assert!(matches!(with_radio(&tight, &sf12).unwrap_err(), WhatIfError::NoRoomToTransmit { .. }));
        let bad = LoraSettings { spreading_factor: 3, ..LoraSettings::default() };
        assert_eq!(with_radio(&lora(), &bad).unwrap_err(), WhatIfError::Radio(RadioError::SpreadingFactor(3)));
    }

    #[test]
    fn comparison_matches_states_by_name_and_gives_deltas() {
        let battery = Battery::default();
        let b = Profile::new(
            "other",
            None,
            vec![State::new("deep sleep", 0.005, 0.999), State::new("LoRa transmit", 120.0, 0.001)],
        )
        .unwrap();
        let comparison = compare(&lora(), &battery, &b, &battery);
        let names: Vec<&str> = comparison.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["deep sleep", "wake and measure", "LoRa transmit"]);
        assert!(comparison.rows[1].b.is_none());
        assert!((comparison.rows[1].contribution_delta_ma() + 0.025).abs() < 1e-12);
        let expected_delta = b.avg_current_ma() - lora().avg_current_ma();
        assert!((comparison.avg_current_delta_ma - expected_delta).abs() < 1e-15);
        let plain_delta = 3000.0 / b.avg_current_ma() - 3000.0 / lora().avg_current_ma();
        assert!((comparison.plain_hours_delta - plain_delta).abs() < 1e-6);
        assert!(comparison.derated_ratio() < 1.0, "B draws more");
    }
}
