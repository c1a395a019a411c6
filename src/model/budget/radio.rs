//! LoRa time on air, the charge of one uplink, and the spacing a duty-cycle limit imposes.
//!
//! The formula is Semtech's (AN1200.13, SX127x/SX126x data sheets), as LoRaMac-node computes it:
//!
//! ```text
//! T_sym      = 2^SF / BW
//! T_preamble = (n_preamble + 4.25) · T_sym                        (+6.25 for SF5 and SF6)
//! N_payload  = 8 + max(ceil(num / den) · (CR + 4), 0)
//!   SF ≥ 7:  num = 8·PL − 4·SF + 28 + 16·CRC − 20·IH,   den = 4·(SF − 2·DE)
//!   SF ≤ 6:  num = 8·PL − 4·SF + 16·CRC + 20·(1 − IH),  den = 4·SF
//! ToA        = T_preamble + N_payload · T_sym
//! ```
//!
//! Low-data-rate optimisation (DE) is on by default exactly when a symbol lasts longer than 16 ms (SF11 and
//! SF12 at 125 kHz, SF12 at 250 kHz), and may be forced either way. SF5 and SF6 need at least 12 preamble
//! symbols, which LoRaMac-node enforces by raising shorter preambles; so does this module, and reports the
//! preamble it used. PL is the whole PHY payload: for LoRaWAN, the application payload plus 13 bytes.

use serde::{Deserialize, Serialize};

/// Bytes LoRaWAN adds around an application payload (MHDR 1, FHDR 7, FPort 1, MIC 4).
pub const LORAWAN_OVERHEAD_BYTES: usize = 13;
/// Largest PHY payload a LoRa packet carries.
pub const MAX_PHY_PAYLOAD_BYTES: usize = 255;
/// Symbol time above which low-data-rate optimisation is mandatory, ms.
pub const LDRO_SYMBOL_MS: f64 = 16.0;
/// Shortest preamble SF5 and SF6 work with, symbols.
pub const MIN_PREAMBLE_SF5_SF6: u16 = 12;

/// The PHY payload that carries `app_payload_bytes` of application data in a LoRaWAN uplink.
pub fn app_payload_to_phy(app_payload_bytes: usize) -> usize {
    app_payload_bytes + LORAWAN_OVERHEAD_BYTES
}

/// Whether low-data-rate optimisation is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum LowDataRate {
    /// On exactly when a symbol lasts longer than 16 ms, as the radios require.
    #[default]
    Auto,
    /// Forced on.
    On,
    /// Forced off.
    Off,
}

/// The radio settings of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoraSettings {
    /// Spreading factor, 5..=12.
    pub spreading_factor: u8,
    /// Bandwidth, Hz (125 000 for LoRaWAN's usual channels).
    pub bandwidth_hz: f64,
    /// Coding-rate index 1..=4, for 4/5 … 4/8.
    pub coding_rate: u8,
    /// Programmed preamble, symbols (8 for LoRaWAN).
    pub preamble_symbols: u16,
    /// PHY payload, bytes (see [`app_payload_to_phy`]).
    pub payload_bytes: usize,
    /// Payload CRC on (LoRaWAN uplinks: on).
    pub crc_on: bool,
    /// Implicit header (LoRaWAN: off).
    pub implicit_header: bool,
    /// Low-data-rate optimisation.
    pub low_data_rate: LowDataRate,
}

impl Default for LoraSettings {
    /// A LoRaWAN uplink at SF7, 125 kHz, CR 4/5, with a 10-byte PHY payload.
    fn default() -> Self {
        Self {
            spreading_factor: 7,
            bandwidth_hz: 125_000.0,
            coding_rate: 1,
            preamble_symbols: 8,
            payload_bytes: 10,
            crc_on: true,
            implicit_header: false,
            low_data_rate: LowDataRate::Auto,
        }
    }
}

/// The time one packet spends on air, and its parts.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Airtime {
    /// Total, ms.
    pub time_on_air_ms: f64,
    /// One symbol, ms.
    pub symbol_time_ms: f64,
    /// Preamble and sync word, ms.
    pub preamble_ms: f64,
    /// Header and payload, ms.
    pub payload_ms: f64,
    /// Header and payload symbols (N_payload).
    pub payload_symbols: u32,
    /// The preamble used, symbols (raised to 12 for SF5 and SF6).
    pub preamble_symbols: u16,
    /// Whether low-data-rate optimisation was on.
    pub low_data_rate_optimize: bool,
}

/// Why settings were refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RadioError {
    /// SF outside 5..=12.
    #[error("spreading factor {0} is not between 5 and 12; use SF7 to SF12 (SF5 and SF6 on SX126x radios)")]
    SpreadingFactor(u8),
    /// Bandwidth not positive.
    #[error("bandwidth {0} Hz is not a positive number; give it in Hz here (125 kHz = 125000)")]
    Bandwidth(f64),
    /// CR index outside 1..=4.
    #[error("coding rate {0} is not between 1 and 4; use 1 for 4/5 up to 4 for 4/8")]
    CodingRate(u8),
    /// Payload too long for one packet.
    #[error("a PHY payload of {0} bytes does not fit one LoRa packet (at most 255); send less per uplink")]
    PayloadTooLong(usize),
    /// Duty cycle outside (0, 1].
    #[error("duty cycle {0} is not in 0 < duty ≤ 1; give a fraction such as 0.01 for 1 %")]
    DutyCycle(f64),
    /// Current not a finite number ≥ 0.
    #[error("transmit current {0} mA is not a finite number ≥ 0; give the current while transmitting in mA")]
    Current(f64),
}

/// Charge drawn by one transmission.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct UplinkCharge {
    /// µC (mA × ms).
    pub charge_uc: f64,
    /// µAh.
    pub charge_uah: f64,
}

impl LoraSettings {
    /// One symbol, ms.
    pub fn symbol_time_ms(&self) -> f64 {
        f64::from(1u32 << self.spreading_factor.min(12)) / self.bandwidth_hz * 1000.0
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), RadioError> {
        if !(5..=12).contains(&self.spreading_factor) {
            return Err(RadioError::SpreadingFactor(self.spreading_factor));
        }
        if !(self.bandwidth_hz.is_finite() && self.bandwidth_hz > 0.0) {
            return Err(RadioError::Bandwidth(self.bandwidth_hz));
        }
        if !(1..=4).contains(&self.coding_rate) {
            return Err(RadioError::CodingRate(self.coding_rate));
        }
        if self.payload_bytes > MAX_PHY_PAYLOAD_BYTES {
            return Err(RadioError::PayloadTooLong(self.payload_bytes));
        }
        Ok(())
    }

    /// Whether low-data-rate optimisation is on for these settings.
    pub fn low_data_rate_optimize(&self) -> bool {
        match self.low_data_rate {
            LowDataRate::Auto => self.symbol_time_ms() > LDRO_SYMBOL_MS,
            LowDataRate::On => true,
            LowDataRate::Off => false,
        }
    }

    /// The time on air of one packet.
    pub fn time_on_air(&self) -> Result<Airtime, RadioError> {
        self.validate()?;
        let sf = i64::from(self.spreading_factor);
        let symbol_time_ms = self.symbol_time_ms();
        let ldro = self.low_data_rate_optimize();
        let short_sf = sf <= 6;
        let preamble_symbols =
            if short_sf { self.preamble_symbols.max(MIN_PREAMBLE_SF5_SF6) } else { self.preamble_symbols };
        // Bounded by the checks above (PL ≤ 255), so i64 cannot overflow.
        let payload_bytes = self.payload_bytes as i64;
        let crc = i64::from(self.crc_on);
        let ih = i64::from(self.implicit_header);
        let (numerator, denominator) = if short_sf {
            (8 * payload_bytes - 4 * sf + 16 * crc + 20 * (1 - ih), 4 * sf)
        } else {
            (8 * payload_bytes - 4 * sf + 28 + 16 * crc - 20 * ih, 4 * (sf - 2 * i64::from(ldro)))
        };
        let blocks = ceil_div(numerator, denominator).max(0);
        let payload_symbols = 8 + blocks * (i64::from(self.coding_rate) + 4);
        let preamble_extra = if short_sf { 6.25 } else { 4.25 };
        let preamble_ms = (f64::from(preamble_symbols) + preamble_extra) * symbol_time_ms;
        let payload_ms = payload_symbols as f64 * symbol_time_ms;
        Ok(Airtime {
            time_on_air_ms: preamble_ms + payload_ms,
            symbol_time_ms,
            preamble_ms,
            payload_ms,
            // At most 8 + 255·8/… ·8 symbols: far below u32::MAX.
            payload_symbols: u32::try_from(payload_symbols).unwrap_or(u32::MAX),
            preamble_symbols,
            low_data_rate_optimize: ldro,
        })
    }
}

/// Integer division rounding towards +∞ (the denominator is positive).
fn ceil_div(numerator: i64, denominator: i64) -> i64 {
    numerator.div_euclid(denominator) + i64::from(numerator.rem_euclid(denominator) != 0)
}

/// The charge of one transmission of `time_on_air_ms` at `tx_current_ma`.
pub fn uplink_charge(time_on_air_ms: f64, tx_current_ma: f64) -> Result<UplinkCharge, RadioError> {
    if !(tx_current_ma.is_finite() && tx_current_ma >= 0.0) {
        return Err(RadioError::Current(tx_current_ma));
    }
    let charge_uc = tx_current_ma * time_on_air_ms;
    Ok(UplinkCharge { charge_uc, charge_uah: charge_uc / 3600.0 })
}

/// The shortest time between the starts of two packets under a duty-cycle limit (0.01 = 1 %), s.
pub fn min_spacing_s(time_on_air_ms: f64, duty_cycle: f64) -> Result<f64, RadioError> {
    if !(duty_cycle > 0.0 && duty_cycle <= 1.0) {
        return Err(RadioError::DutyCycle(duty_cycle));
    }
    Ok(time_on_air_ms / 1000.0 / duty_cycle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(sf: u8, payload_bytes: usize) -> LoraSettings {
        LoraSettings { spreading_factor: sf, payload_bytes, ..LoraSettings::default() }
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    /// Every row of the reference's check table: T_sym, N_payload, ToA.
    #[test]
    fn the_reference_table() {
        let rows = [
            (7, 10, 1.024, 28, 41.216, false),
            (11, 10, 16.384, 23, 577.536, true),
            (9, 13, 4.096, 28, 164.864, false),
            (12, 10, 32.768, 18, 991.232, true),
            (7, 51, 1.024, 88, 102.656, false),
        ];
        for (sf, pl, t_sym, n_payload, toa, ldro) in rows {
            let airtime = at(sf, pl).time_on_air().unwrap();
            assert!(close(airtime.symbol_time_ms, t_sym), "SF{sf} PL{pl}: {airtime:?}");
            assert_eq!(airtime.payload_symbols, n_payload, "SF{sf} PL{pl}");
            assert!(close(airtime.time_on_air_ms, toa), "SF{sf} PL{pl}: {} ms", airtime.time_on_air_ms);
            assert_eq!(airtime.low_data_rate_optimize, ldro, "SF{sf}");
        }
    }

    #[test]
    fn ldro_follows_the_symbol_time_unless_forced() {
        let sf12_250 = LoraSettings { bandwidth_hz: 250_000.0, ..at(12, 10) };
        assert!(sf12_250.low_data_rate_optimize(), "16.384 ms symbols");
        let sf11_250 = LoraSettings { bandwidth_hz: 250_000.0, ..at(11, 10) };
        assert!(!sf11_250.low_data_rate_optimize(), "8.192 ms symbols");
        let forced_off = LoraSettings { low_data_rate: LowDataRate::Off, ..at(12, 10) };
        // At PL 10 both denominators give 2 blocks (ceil(76/40) = ceil(76/48) = 2); at PL 30 LDRO costs one more.
        assert_eq!(forced_off.time_on_air().unwrap().payload_symbols, 18);
        let longer = LoraSettings { low_data_rate: LowDataRate::Off, ..at(12, 30) };
        let on = at(12, 30).time_on_air().unwrap();
        assert!(longer.time_on_air().unwrap().payload_symbols < on.payload_symbols);
        let forced_on = LoraSettings { low_data_rate: LowDataRate::On, ..at(7, 10) };
        assert!(forced_on.time_on_air().unwrap().low_data_rate_optimize);
    }

    #[test]
    fn sf5_and_sf6_use_their_own_variant() {
        // SF6, PL 10, CRC, explicit: num = 80 − 24 + 16 + 20 = 92, den = 24 → 4 blocks · 5 = 20 → N = 28;
        // preamble raised from 8 to 12: (12 + 6.25) · 0.512 ms.
        let airtime = at(6, 10).time_on_air().unwrap();
        assert_eq!(airtime.preamble_symbols, 12);
        assert_eq!(airtime.payload_symbols, 28);
        assert!(close(airtime.time_on_air_ms, (18.25 + 28.0) * 0.512));
        let sf5 = LoraSettings { preamble_symbols: 16, implicit_header: true, crc_on: false, ..at(5, 1) };
        // num = 8 − 20 + 0 + 0 = −12 → max(…, 0) → N = 8.
        let airtime = sf5.time_on_air().unwrap();
        assert_eq!((airtime.payload_symbols, airtime.preamble_symbols), (8, 16));
    }

    /// LoRaMac-node's integer form, `ceil(1000·(4·(blocks·(CR+4) + n_pre + 12 [+2]) + 1)·2^(SF−2) / BW)`,
    /// agrees with the float formula to its 1 ms rounding over a grid of settings.
    #[test]
    fn matches_the_integer_form() {
        for sf in 5u8..=12 {
            for bandwidth_hz in [125_000.0, 250_000.0, 500_000.0] {
                for coding_rate in 1..=4 {
                    for payload_bytes in [0, 1, 13, 51, 100, 222, 255] {
                        let settings = LoraSettings { bandwidth_hz, coding_rate, payload_bytes, ..at(sf, 0) };
                        let airtime = settings.time_on_air().unwrap();
                        let blocks = i64::from(airtime.payload_symbols - 8) / i64::from(coding_rate + 4);
                        let extra = if sf <= 6 { 14 } else { 12 };
                        let quarter_symbols =
                            4 * (blocks * i64::from(coding_rate + 4) + i64::from(airtime.preamble_symbols) + extra) + 1;
                        let integer_ms =
                            (1000.0 * quarter_symbols as f64 * f64::from(1u32 << (sf - 2)) / bandwidth_hz).ceil();
                        let gap = integer_ms - airtime.time_on_air_ms;
                        assert!(
                            (-1e-9..1.0).contains(&gap),
                            "SF{sf} BW{bandwidth_hz} CR{coding_rate} PL{payload_bytes}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn charge_spacing_and_lorawan_overhead() {
        assert_eq!(app_payload_to_phy(10), 23);
        let charge = uplink_charge(41.216, 120.0).unwrap();
        assert!(close(charge.charge_uc, 4945.92));
        assert!(close(charge.charge_uah, 4945.92 / 3600.0));
        assert!(close(min_spacing_s(164.864, 0.01).unwrap(), 16.4864));
        assert_eq!(min_spacing_s(1.0, 0.0).unwrap_err(), RadioError::DutyCycle(0.0));
        assert_eq!(uplink_charge(1.0, -1.0).unwrap_err(), RadioError::Current(-1.0));
    }

    #[test]
    fn out_of_range_settings_are_refused() {
        assert_eq!(at(13, 10).time_on_air().unwrap_err(), RadioError::SpreadingFactor(13));
        assert_eq!(at(4, 10).time_on_air().unwrap_err(), RadioError::SpreadingFactor(4));
        assert_eq!(at(7, 256).time_on_air().unwrap_err(), RadioError::PayloadTooLong(256));
        let cr = LoraSettings { coding_rate: 5, ..at(7, 10) };
        assert_eq!(cr.time_on_air().unwrap_err(), RadioError::CodingRate(5));
        let bw = LoraSettings { bandwidth_hz: 0.0, ..at(7, 10) };
        assert!(bw.time_on_air().unwrap_err().to_string().contains("125 kHz = 125000"));
    }
}
