//! What a payload costs on a LoRaWAN link: its size against the EU868 application-payload limit of each data
//! rate, and the time on air of the whole uplink — for the payload as decoded and for the same values sent as
//! compact JSON, so the two can be compared side by side.
//!
//! Time on air comes from [`crate::model::budget::radio`] (Semtech's formula) for the PHY payload, i.e. the
//! application payload plus LoRaWAN's 13 bytes, at 125 kHz, CR 4/5, an 8-symbol preamble and CRC on. A PHY
//! payload over 255 bytes has no time on air (it cannot be sent as one packet).

use serde::Serialize;

use super::Decoded;
use crate::model::budget::radio::{LORAWAN_OVERHEAD_BYTES, LoraSettings, app_payload_to_phy};

/// One EU868 data rate of LoRa modulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DataRate {
    /// `DR0` … `DR5`.
    pub name: &'static str,
    /// Spreading factor.
    pub spreading_factor: u8,
    /// Largest application payload (FRMPayload, no FOpts) at this rate, bytes.
    pub max_app_payload_bytes: usize,
}

/// EU868 DR0–DR5 (SF12…SF7 at 125 kHz) with their application-payload limits (RP002 regional parameters).
pub const EU868_DATA_RATES: [DataRate; 6] = [
    DataRate { name: "DR0", spreading_factor: 12, max_app_payload_bytes: 51 },
    DataRate { name: "DR1", spreading_factor: 11, max_app_payload_bytes: 51 },
    DataRate { name: "DR2", spreading_factor: 10, max_app_payload_bytes: 51 },
    DataRate { name: "DR3", spreading_factor: 9, max_app_payload_bytes: 115 },
    DataRate { name: "DR4", spreading_factor: 8, max_app_payload_bytes: 222 },
    DataRate { name: "DR5", spreading_factor: 7, max_app_payload_bytes: 222 },
];

/// Bandwidth of EU868 DR0–DR5, Hz.
pub const EU868_BANDWIDTH_HZ: f64 = 125_000.0;

/// One encoding of the values at one data rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Fit {
    /// Application payload, bytes.
    pub app_payload_bytes: usize,
    /// Whether it fits the data rate's limit.
    pub fits: bool,
    /// Time on air of the uplink carrying it (PHY payload = app payload + 13 bytes), ms; `None` when the PHY
    /// payload exceeds one LoRa packet.
    pub time_on_air_ms: Option<f64>,
}

/// The payload and its JSON equivalent at one data rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RateCost {
    /// The data rate.
    #[serde(flatten)]
    pub data_rate: DataRate,
    /// Bandwidth, Hz.
    pub bandwidth_hz: f64,
    /// The payload as decoded.
    pub payload: Fit,
    /// The same values as compact JSON.
    pub json: Fit,
}

/// The cost view of one payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cost {
    /// Payload, bytes.
    pub size_bytes: usize,
    /// The same values as compact JSON, bytes.
    pub json_size_bytes: usize,
    /// Bytes LoRaWAN adds to each uplink.
    pub lorawan_overhead_bytes: usize,
    /// EU868 DR0–DR5.
    pub data_rates: Vec<RateCost>,
}

impl Cost {
    /// The cost of a decoded payload.
    pub fn of(decoded: &Decoded) -> Self {
        Self::of_sizes(decoded.size_bytes, decoded.json_size_bytes)
    }

    /// The cost of a payload of `size_bytes` whose JSON equivalent takes `json_size_bytes`.
    pub fn of_sizes(size_bytes: usize, json_size_bytes: usize) -> Self {
        let data_rates = EU868_DATA_RATES
            .iter()
            .map(|rate| RateCost {
                data_rate: *rate,
                bandwidth_hz: EU868_BANDWIDTH_HZ,
                payload: fit(*rate, size_bytes),
                json: fit(*rate, json_size_bytes),
            })
            .collect();
        Self { size_bytes, json_size_bytes, lorawan_overhead_bytes: LORAWAN_OVERHEAD_BYTES, data_rates }
    }

    /// The fastest data rate (highest DR) the payload fits at, if any — all fit at DR5 when any does.
    pub fn slowest_fitting_rate(&self) -> Option<&RateCost> {
        self.data_rates.iter().find(|rate| rate.payload.fits)
    }
}

fn fit(rate: DataRate, app_payload_bytes: usize) -> Fit {
    let settings = LoraSettings {
        spreading_factor: rate.spreading_factor,
        bandwidth_hz: EU868_BANDWIDTH_HZ,
        payload_bytes: app_payload_to_phy(app_payload_bytes),
        ..LoraSettings::default()
    };
    Fit {
        app_payload_bytes,
        fits: app_payload_bytes <= rate.max_app_payload_bytes,
        time_on_air_ms: settings.time_on_air().ok().map(|airtime| airtime.time_on_air_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-6)
    }

    #[test]
    fn an_eight_byte_payload_fits_everywhere_and_its_json_does_not() {
        let cost = Cost::of_sizes(8, 82);
        assert_eq!(cost.data_rates.len(), 6);
        let names: Vec<_> = cost.data_rates.iter().map(|r| (r.data_rate.name, r.data_rate.spreading_factor)).collect();
        assert_eq!(names, [("DR0", 12), ("DR1", 11), ("DR2", 10), ("DR3", 9), ("DR4", 8), ("DR5", 7)]);
        assert!(cost.data_rates.iter().all(|r| r.payload.fits));
        let json_fits: Vec<bool> = cost.data_rates.iter().map(|r| r.json.fits).collect();
        assert_eq!(json_fits, [false, false, false, true, true, true]);
        assert_eq!(cost.slowest_fitting_rate().map(|r| r.data_rate.name), Some("DR0"));
        // PHY payload 21 bytes at SF7: ceil((168 − 28 + 28 + 16) / 28) = 7 blocks → 8 + 35 = 43 symbols.
        assert!(close(cost.data_rates[5].payload.time_on_air_ms, (8.0 + 4.25 + 43.0) * 1.024));
        assert!(cost.data_rates[5].json.time_on_air_ms > cost.data_rates[5].payload.time_on_air_ms);
    }

    #[test]
    fn limits_are_inclusive_and_oversize_packets_have_no_time_on_air() {
        let cost = Cost::of_sizes(51, 243);
        assert!(cost.data_rates[0].payload.fits, "51 bytes fit DR0");
        assert!(!Cost::of_sizes(52, 0).data_rates[2].payload.fits, "52 do not fit DR2");
        assert!(Cost::of_sizes(115, 0).data_rates[3].payload.fits);
        assert!(!Cost::of_sizes(223, 0).data_rates[5].payload.fits);
        // 243 + 13 = 256 > 255: not one LoRa packet.
        assert_eq!(cost.data_rates[5].json.time_on_air_ms, None);
        // The reference: SF7, PHY payload 51 → 102.656 ms, i.e. an application payload of 38 bytes.
        assert!(close(Cost::of_sizes(38, 0).data_rates[5].payload.time_on_air_ms, 102.656));
    }
}
