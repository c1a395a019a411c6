//! A battery and how long it lasts at a given average current.
//!
//! Two lifetimes are given. The plain one is the textbook capacity ÷ average current. The derated one uses
//! only the usable share of the capacity (cut-off voltage, cold, ageing) and models self-discharge as an
//! extra constant drain of `capacity · self_discharge_per_year / 8760 h`, so that
//! `capacity · usable_share = (I_avg + capacity · sd / 8760 h) · t`, solved for `t`. Self-discharge is taken
//! on the nominal capacity because data sheets quote it that way. A year is 365 days (8760 h) throughout.
//! An average current of 0 mA gives an infinite plain lifetime (and an infinite derated one without
//! self-discharge); JSON writes infinities as `null`.

use serde::{Deserialize, Serialize};

/// Hours in the 365-day year used for lifetimes and self-discharge rates.
pub const HOURS_PER_YEAR: f64 = 8760.0;

/// A battery: capacity, nominal voltage and how much of it a device really gets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Battery {
    /// Nominal capacity, mAh.
    pub capacity_mah: f64,
    /// Nominal voltage, V (for energies only; lifetimes come from charge).
    pub voltage_v: f64,
    /// Share of the capacity the device can use before its cut-off, 0 < share ≤ 1.
    pub usable_share: f64,
    /// Share of the nominal capacity lost per year when idle (0.02 = 2 %/year).
    pub self_discharge_per_year: f64,
}

impl Default for Battery {
    /// A 3000 mAh 3.7 V cell with 80 % usable and 2 %/year self-discharge, the figures the CLI defaults to.
    fn default() -> Self {
        Self { capacity_mah: 3000.0, voltage_v: 3.7, usable_share: 0.8, self_discharge_per_year: 0.02 }
    }
}

/// Why a battery was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BatteryError {
    /// Capacity not a positive number.
    #[error("battery capacity {capacity_mah} mAh is not a positive number; give the capacity in mAh")]
    Capacity {
        /// The value given.
        capacity_mah: f64,
    },
    /// Voltage not a positive number.
    #[error("battery voltage {voltage_v} V is not a positive number; give the nominal voltage in V")]
    Voltage {
        /// The value given.
        voltage_v: f64,
    },
    /// Usable share outside (0, 1].
    #[error("usable share {usable_share} is not in 0 < share ≤ 1; give a fraction such as 0.8 for 80 %")]
    UsableShare {
        /// The value given.
        usable_share: f64,
    },
    /// Self-discharge outside [0, 1).
    #[error("self-discharge {per_year} per year is not in 0 ≤ rate < 1; give a fraction such as 0.02 for 2 %/year")]
    SelfDischarge {
        /// The value given.
        per_year: f64,
    },
}

/// How long a battery lasts at an average current.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Lifetime {
    /// The average current it was computed for, mA.
    pub avg_current_ma: f64,
    /// Capacity ÷ average current, h.
    pub plain_hours: f64,
    /// Usable share and self-discharge applied, h.
    pub derated_hours: f64,
    /// `plain_hours` in 365-day years.
    pub plain_years: f64,
    /// `derated_hours` in 365-day years.
    pub derated_years: f64,
    /// Energy the battery holds when full, capacity × nominal voltage, Wh.
    pub energy_wh: f64,
    /// Energy the device draws per day at the nominal voltage, Wh.
    pub energy_per_day_wh: f64,
}

impl Battery {
    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), BatteryError> {
        if !(self.capacity_mah.is_finite() && self.capacity_mah > 0.0) {
            return Err(BatteryError::Capacity { capacity_mah: self.capacity_mah });
        }
        if !(self.voltage_v.is_finite() && self.voltage_v > 0.0) {
            return Err(BatteryError::Voltage { voltage_v: self.voltage_v });
        }
        if !(self.usable_share > 0.0 && self.usable_share <= 1.0) {
            return Err(BatteryError::UsableShare { usable_share: self.usable_share });
        }
        if !(self.self_discharge_per_year >= 0.0 && self.self_discharge_per_year < 1.0) {
            return Err(BatteryError::SelfDischarge { per_year: self.self_discharge_per_year });
        }
        Ok(())
    }

    /// Self-discharge as the constant current that would drain the same charge, mA.
    pub fn self_discharge_ma(&self) -> f64 {
        self.capacity_mah * self.self_discharge_per_year / HOURS_PER_YEAR
    }

    /// The lifetime at `avg_current_ma` (validate the battery first: this does not).
    pub fn lifetime(&self, avg_current_ma: f64) -> Lifetime {
        let plain_hours = self.capacity_mah / avg_current_ma;
        let derated_hours = self.capacity_mah * self.usable_share / (avg_current_ma + self.self_discharge_ma());
        Lifetime {
            avg_current_ma,
            plain_hours,
            derated_hours,
            plain_years: plain_hours / HOURS_PER_YEAR,
            derated_years: derated_hours / HOURS_PER_YEAR,
            energy_wh: self.capacity_mah / 1000.0 * self.voltage_v,
            energy_per_day_wh: avg_current_ma / 1000.0 * self.voltage_v * 24.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_lifetime_is_capacity_over_current() {
        let battery = Battery { capacity_mah: 3000.0, voltage_v: 3.7, usable_share: 1.0, self_discharge_per_year: 0.0 };
        let lifetime = battery.lifetime(0.5);
        assert_eq!(lifetime.plain_hours, 6000.0);
        assert_eq!(lifetime.derated_hours, 6000.0, "nothing to derate");
        assert!((lifetime.plain_years - 6000.0 / 8760.0).abs() < 1e-12);
        assert!((lifetime.energy_wh - 11.1).abs() < 1e-12);
        assert!((lifetime.energy_per_day_wh - 0.5e-3 * 3.7 * 24.0).abs() < 1e-12);
    }

    #[test]
    fn derated_lifetime_solves_the_drain_equation() {
        let battery = Battery::default();
        let current_ma = 0.1;
        let t = battery.lifetime(current_ma).derated_hours;
        // capacity · usable = I · t + capacity · sd · t / 8760 h
        let lhs = 3000.0 * 0.8;
        let rhs = current_ma * t + 3000.0 * 0.02 * t / 8760.0;
        assert!((lhs - rhs).abs() < 1e-9, "{lhs} vs {rhs}");
        // Self-discharge alone (2 %/yr of nominal) would empty the usable 80 % in 40 years.
        let idle = battery.lifetime(0.0);
        assert!(idle.plain_hours.is_infinite());
        assert!((idle.derated_years - 40.0).abs() < 1e-9);
    }

    #[test]
    fn out_of_range_fields_are_refused() {
        let bad = |f: fn(&mut Battery)| {
            let mut b = Battery::default();
            f(&mut b);
            b.validate().unwrap_err()
        };
        assert!(matches!(bad(|b| b.capacity_mah = 0.0), BatteryError::Capacity { .. }));
        assert!(matches!(bad(|b| b.voltage_v = f64::NAN), BatteryError::Voltage { .. }));
        assert!(matches!(bad(|b| b.usable_share = 1.2), BatteryError::UsableShare { .. }));
        assert!(matches!(bad(|b| b.self_discharge_per_year = -0.1), BatteryError::SelfDischarge { .. }));
        assert!(bad(|b| b.usable_share = 80.0).to_string().contains("0.8 for 80 %"));
        Battery::default().validate().unwrap();
    }
}
