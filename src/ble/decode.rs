//! Decoders for standard GATT characteristics, and numbers out of any notification for plotting.
//!
//! Standard: Environmental Sensing temperature (0x2A6E, sint16 in 0.01 °C), humidity (0x2A6F, uint16 in
//! 0.01 %) and pressure (0x2A6D, uint32 in 0.1 Pa); Battery Level (0x2A19, uint8 %); the Device Information
//! strings (0x2A24–0x2A29); Heart Rate Measurement (0x2A37, with its flags). Values are little-endian, as
//! GATT requires. A value of the wrong length is an error that names the characteristic, never a guess.
//!
//! [`plot_values`] turns any notification into named numbers, the same `(name, value)` pairs a text board's
//! lines give, so the live view plots a BLE characteristic like any other channel. Pure functions, no I/O.

use std::fmt;

use thiserror::Error;
use uuid::Uuid;

use super::names::{AttributeKind, name, sig_short};

/// A decoded standard characteristic.
#[derive(Debug, Clone, PartialEq)]
pub enum StandardValue {
    /// 0x2A6E; `None` when the sensor reports "unknown" (0x8000).
    Temperature {
        /// Degrees Celsius.
        celsius: Option<f64>,
    },
    /// 0x2A6F; `None` when the sensor reports "unknown" (0xFFFF).
    Humidity {
        /// Relative humidity, percent.
        percent: Option<f64>,
    },
    /// 0x2A6D.
    Pressure {
        /// Pascal.
        pascal: f64,
    },
    /// 0x2A19.
    BatteryLevel {
        /// Percent of full charge (0–100).
        percent: u8,
    },
    /// One of the Device Information strings (0x2A24–0x2A29).
    Text {
        /// The string, without trailing NULs.
        text: String,
    },
    /// 0x2A37.
    HeartRate(HeartRateMeasurement),
}

/// A Heart Rate Measurement (0x2A37).
#[derive(Debug, Clone, PartialEq)]
pub struct HeartRateMeasurement {
    /// Beats per minute (sent as a u8 or a u16, as the flags say).
    pub beats_per_minute: u16,
    /// What the sensor says about skin contact.
    pub sensor_contact: SensorContact,
    /// Energy expended since the last reset, kJ, when the measurement carries it.
    pub energy_expended_kj: Option<u16>,
    /// RR intervals, seconds (sent in 1/1024 s), oldest first.
    pub rr_intervals_s: Vec<f64>,
}

/// Skin contact as a heart rate sensor reports it (flags bits 1–2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SensorContact {
    /// The sensor cannot tell.
    NotSupported,
    /// Supported, no contact.
    NotDetected,
    /// Supported, in contact.
    Detected,
}

/// A standard characteristic's value that does not have its standard form.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Too short or too long.
    #[error("{characteristic} should be {expected} bytes long, this value has {actual}")]
    Length {
        /// The characteristic's name.
        characteristic: &'static str,
        /// The length it should have (or the least, for variable-length ones).
        expected: usize,
        /// The length it has.
        actual: usize,
    },
    /// A field announced by the flags is missing.
    #[error("{characteristic}: the flags announce {field} but the value ends before it")]
    Truncated {
        /// The characteristic's name.
        characteristic: &'static str,
        /// The missing field.
        field: &'static str,
    },
}

/// Decodes the value of a standard characteristic; `None` for a characteristic not decoded here.
pub fn decode_standard(characteristic: Uuid, value: &[u8]) -> Option<Result<StandardValue, DecodeError>> {
    let short = sig_short(characteristic)?;
    let exact = |name: &'static str, len: usize| {
        if value.len() == len {
            Ok(())
        } else {
            Err(DecodeError::Length { characteristic: name, expected: len, actual: value.len() })
        }
    };
    let decoded = match short {
        0x2A6E => exact("Temperature", 2).map(|()| {
            let raw = i16::from_le_bytes([value[0], value[1]]);
            StandardValue::Temperature { celsius: (raw != i16::MIN).then(|| f64::from(raw) * 0.01) }
        }),
        0x2A6F => exact("Humidity", 2).map(|()| {
            let raw = u16::from_le_bytes([value[0], value[1]]);
            StandardValue::Humidity { percent: (raw != u16::MAX).then(|| f64::from(raw) * 0.01) }
        }),
        0x2A6D => exact("Pressure", 4).map(|()| {
            let raw = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
            StandardValue::Pressure { pascal: f64::from(raw) * 0.1 }
        }),
        0x2A19 => exact("Battery Level", 1).map(|()| StandardValue::BatteryLevel { percent: value[0] }),
        0x2A24..=0x2A29 => {
            let text = String::from_utf8_lossy(value).trim_end_matches('\0').to_string();
            Ok(StandardValue::Text { text })
        }
        0x2A37 => decode_heart_rate(value).map(StandardValue::HeartRate),
        _ => return None,
    };
    Some(decoded)
}

fn decode_heart_rate(value: &[u8]) -> Result<HeartRateMeasurement, DecodeError> {
    const NAME: &str = "Heart Rate Measurement";
    let truncated = |field| DecodeError::Truncated { characteristic: NAME, field };
    let (&flags, mut rest) =
        value.split_first().ok_or(DecodeError::Length { characteristic: NAME, expected: 2, actual: 0 })?;
    let mut take_u16 = |field| -> Result<u16, DecodeError> {
        let (bytes, tail) = rest.split_first_chunk::<2>().ok_or(truncated(field))?;
        rest = tail;
        Ok(u16::from_le_bytes(*bytes))
    };
    let beats_per_minute = if flags & 0x01 != 0 {
        take_u16("a 16-bit heart rate")?
    } else {
        let (&bpm, tail) = rest.split_first().ok_or(truncated("the heart rate"))?;
        rest = tail;
        u16::from(bpm)
    };
    let mut take_u16 = |field| -> Result<u16, DecodeError> {
        let (bytes, tail) = rest.split_first_chunk::<2>().ok_or(truncated(field))?;
        rest = tail;
        Ok(u16::from_le_bytes(*bytes))
    };
    let sensor_contact = match (flags >> 1) & 0x03 {
        0b10 => SensorContact::NotDetected,
        0b11 => SensorContact::Detected,
        _ => SensorContact::NotSupported,
    };
    let energy_expended_kj = if flags & 0x08 != 0 { Some(take_u16("energy expended")?) } else { None };
    let mut rr_intervals_s = Vec::new();
    if flags & 0x10 != 0 {
        // Whatever follows is RR intervals; an odd byte at the end is a truncated one.
        if rest.len() % 2 != 0 {
            return Err(truncated("a whole RR interval"));
        }
        rr_intervals_s =
            rest.chunks_exact(2).map(|pair| f64::from(u16::from_le_bytes([pair[0], pair[1]])) / 1024.0).collect();
    }
    Ok(HeartRateMeasurement { beats_per_minute, sensor_contact, energy_expended_kj, rr_intervals_s })
}

impl StandardValue {
    /// The value as named numbers with units in the names, for plotting (strings give none).
    pub fn channels(&self) -> Vec<(String, f64)> {
        match self {
            StandardValue::Temperature { celsius } => {
                celsius.map(|c| ("temperature_c".into(), c)).into_iter().collect()
            }
            StandardValue::Humidity { percent } => {
                percent.map(|p| ("humidity_percent".into(), p)).into_iter().collect()
            }
            StandardValue::Pressure { pascal } => vec![("pressure_pa".into(), *pascal)],
            StandardValue::BatteryLevel { percent } => vec![("battery_percent".into(), f64::from(*percent))],
            StandardValue::Text { .. } => Vec::new(),
            StandardValue::HeartRate(measurement) => {
                let mut values = vec![("heart_rate_bpm".to_string(), f64::from(measurement.beats_per_minute))];
                if let Some(kj) = measurement.energy_expended_kj {
                    values.push(("energy_expended_kj".into(), f64::from(kj)));
                }
                values.extend(measurement.rr_intervals_s.iter().map(|&s| ("rr_interval_s".to_string(), s)));
                values
            }
        }
    }
}

impl fmt::Display for StandardValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StandardValue::Temperature { celsius: Some(c) } => write!(f, "{c:.2} °C"),
            StandardValue::Humidity { percent: Some(p) } => write!(f, "{p:.2} %"),
            StandardValue::Temperature { celsius: None } | StandardValue::Humidity { percent: None } => {
                f.write_str("unknown")
            }
            StandardValue::Pressure { pascal } => write!(f, "{:.1} hPa", pascal / 100.0),
            StandardValue::BatteryLevel { percent } => write!(f, "{percent} %"),
            StandardValue::Text { text } => write!(f, "\"{text}\""),
            StandardValue::HeartRate(m) => {
                write!(f, "{} bpm", m.beats_per_minute)?;
                match m.sensor_contact {
                    SensorContact::Detected => f.write_str(", contact")?,
                    SensorContact::NotDetected => f.write_str(", no contact")?,
                    SensorContact::NotSupported => {}
                }
                if let Some(kj) = m.energy_expended_kj {
                    write!(f, ", {kj} kJ")?;
                }
                if !m.rr_intervals_s.is_empty() {
                    let rr: Vec<String> = m.rr_intervals_s.iter().map(|s| format!("{:.0} ms", s * 1000.0)).collect();
                    write!(f, ", RR {}", rr.join(" "))?;
                }
                Ok(())
            }
        }
    }
}

/// How to read a number out of a characteristic that is not decoded here (little-endian).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NumericFormat {
    /// Unsigned 8-bit.
    U8,
    /// Signed 8-bit.
    I8,
    /// Unsigned 16-bit.
    U16,
    /// Signed 16-bit.
    I16,
    /// Unsigned 32-bit.
    U32,
    /// Signed 32-bit.
    I32,
    /// IEEE 754 single precision.
    F32,
}

impl NumericFormat {
    /// The unsigned integer as long as the value, for values of 1, 2 or 4 bytes.
    pub fn guess(len: usize) -> Option<Self> {
        match len {
            1 => Some(NumericFormat::U8),
            2 => Some(NumericFormat::U16),
            4 => Some(NumericFormat::U32),
            _ => None,
        }
    }

    /// Bytes one number takes.
    pub fn size_bytes(self) -> usize {
        match self {
            NumericFormat::U8 | NumericFormat::I8 => 1,
            NumericFormat::U16 | NumericFormat::I16 => 2,
            NumericFormat::U32 | NumericFormat::I32 | NumericFormat::F32 => 4,
        }
    }

    /// The number at the start of `bytes`, or `None` if they are too few.
    pub fn read(self, bytes: &[u8]) -> Option<f64> {
        let b = bytes.get(..self.size_bytes())?;
        Some(match self {
            NumericFormat::U8 => f64::from(b[0]),
            NumericFormat::I8 => f64::from(b[0] as i8),
            NumericFormat::U16 => f64::from(u16::from_le_bytes([b[0], b[1]])),
            NumericFormat::I16 => f64::from(i16::from_le_bytes([b[0], b[1]])),
            NumericFormat::U32 => f64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            NumericFormat::I32 => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            NumericFormat::F32 => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        })
    }
}

impl std::str::FromStr for NumericFormat {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match text {
            "u8" => NumericFormat::U8,
            "i8" => NumericFormat::I8,
            "u16" => NumericFormat::U16,
            "i16" => NumericFormat::I16,
            "u32" => NumericFormat::U32,
            "i32" => NumericFormat::I32,
            "f32" => NumericFormat::F32,
            other => return Err(format!("`{other}` is not one of u8, i8, u16, i16, u32, i32, f32")),
        })
    }
}

/// A notification as named numbers for the live view: a standard characteristic decoded (its unit in the
/// name), otherwise one number read as `format` (or, without one, as the unsigned integer of the value's
/// length) named after the characteristic. Empty when there is no number in it.
pub fn plot_values(characteristic: Uuid, value: &[u8], format: Option<NumericFormat>) -> Vec<(String, f64)> {
    if format.is_none()
        && let Some(decoded) = decode_standard(characteristic, value)
    {
        return decoded.map(|v| v.channels()).unwrap_or_default();
    }
    let Some(format) = format.or_else(|| NumericFormat::guess(value.len())) else {
        return Vec::new();
    };
    format.read(value).map(|number| vec![(channel_name(characteristic), number)]).unwrap_or_default()
}

/// A channel name for a characteristic, one word as text formats need: its SIG name in snake case
/// (`alert_level`), its 16-bit number (`0x2BFF`), or its full UUID.
pub fn channel_name(characteristic: Uuid) -> String {
    match (name(AttributeKind::Characteristic, characteristic), sig_short(characteristic)) {
        (Some(name), Some(_)) => name.to_lowercase().replace([' ', '-'], "_"),
        (_, Some(short)) => format!("0x{short:04X}"),
        (_, None) => characteristic.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::names::sig_uuid;
    use super::*;

    fn decode(short: u16, value: &[u8]) -> StandardValue {
        decode_standard(sig_uuid(short), value).unwrap().unwrap()
    }

    #[test]
    fn environmental_sensing_values_and_their_unknowns() {
        assert_eq!(decode(0x2A6E, &(-1234i16).to_le_bytes()), StandardValue::Temperature { celsius: Some(-12.34) });
        assert_eq!(decode(0x2A6E, &[0x00, 0x80]), StandardValue::Temperature { celsius: None });
        assert_eq!(decode(0x2A6F, &4567u16.to_le_bytes()), StandardValue::Humidity { percent: Some(45.67) });
        assert_eq!(decode(0x2A6F, &[0xff, 0xff]), StandardValue::Humidity { percent: None });
        let StandardValue::Pressure { pascal } = decode(0x2A6D, &1_013_250u32.to_le_bytes()) else { panic!() };
        assert!((pascal - 101_325.0).abs() < 1e-6);
        assert_eq!(decode(0x2A6D, &1_013_250u32.to_le_bytes()).to_string(), "1013.2 hPa");
        assert_eq!(
            decode_standard(sig_uuid(0x2A6E), &[1, 2, 3]),
            Some(Err(DecodeError::Length { characteristic: "Temperature", expected: 2, actual: 3 }))
        );
    }

    #[test]
    fn battery_and_device_information() {
        assert_eq!(decode(0x2A19, &[87]), StandardValue::BatteryLevel { percent: 87 });
        assert_eq!(decode(0x2A19, &[87]).to_string(), "87 %");
        assert_eq!(decode(0x2A29, b"Benchtop Labs\0"), StandardValue::Text { text: "Benchtop Labs".into() });
        assert_eq!(decode(0x2A24, b"env-1").to_string(), "\"env-1\"");
        assert!(decode_standard(sig_uuid(0x2A2A), b"x").is_none());
        assert!(decode_standard(Uuid::from_u128(firmware_protocol::ble::TX_CHARACTERISTIC_UUID), b"x").is_none());
    }

    #[test]
    fn heart_rate_with_every_flag() {
        // u8 value, contact not supported.
        let m = decode(0x2A37, &[0x00, 72]);
        assert_eq!(m.to_string(), "72 bpm");
        // u16 value, contact detected, energy, two RR intervals (1024 = 1 s, 512 = 0.5 s).
        let value = [0x1F, 0x2C, 0x01, 0x10, 0x00, 0x00, 0x04, 0x00, 0x02];
        let StandardValue::HeartRate(m) = decode(0x2A37, &value) else { panic!() };
        assert_eq!(m.beats_per_minute, 300);
        assert_eq!(m.sensor_contact, SensorContact::Detected);
        assert_eq!(m.energy_expended_kj, Some(16));
        assert_eq!(m.rr_intervals_s, vec![1.0, 0.5]);
        assert_eq!(
            StandardValue::HeartRate(m.clone()).channels(),
            vec![
                ("heart_rate_bpm".to_string(), 300.0),
                ("energy_expended_kj".to_string(), 16.0),
                ("rr_interval_s".to_string(), 1.0),
                ("rr_interval_s".to_string(), 0.5)
            ]
        );
        assert_eq!(decode(0x2A37, &[0x04, 60]).to_string(), "60 bpm, no contact");
        // Flags that promise more than the value holds.
        assert!(matches!(decode_standard(sig_uuid(0x2A37), &[0x01, 60]), Some(Err(DecodeError::Truncated { .. }))));
        assert!(matches!(decode_standard(sig_uuid(0x2A37), &[0x08, 60, 1]), Some(Err(DecodeError::Truncated { .. }))));
        assert!(matches!(decode_standard(sig_uuid(0x2A37), &[0x10, 60, 1]), Some(Err(DecodeError::Truncated { .. }))));
        assert!(matches!(decode_standard(sig_uuid(0x2A37), &[]), Some(Err(DecodeError::Length { .. }))));
    }

    #[test]
    fn any_numeric_notification_becomes_a_named_value() {
        assert_eq!(plot_values(sig_uuid(0x2A6E), &2150i16.to_le_bytes(), None), vec![("temperature_c".into(), 21.5)]);
        let custom = Uuid::from_u128(0x1234_5678_0000_1000_8000_0000_0000_0001);
        assert_eq!(plot_values(custom, &[0x34, 0x12], None), vec![(custom.to_string(), 4660.0)]);
        assert_eq!(plot_values(custom, &[0xff, 0xff], Some(NumericFormat::I16)), vec![(custom.to_string(), -1.0)]);
        assert_eq!(plot_values(custom, &1.5f32.to_le_bytes(), Some(NumericFormat::F32))[0].1, 1.5);
        assert!(plot_values(custom, &[1, 2, 3], None).is_empty());
        assert_eq!(plot_values(sig_uuid(0x2BFF), &[7], None), vec![("0x2BFF".into(), 7.0)]);
        assert_eq!(plot_values(sig_uuid(0x2A06), &[2], None), vec![("alert_level".into(), 2.0)]);
        assert_eq!("i16".parse::<NumericFormat>(), Ok(NumericFormat::I16));
    }
}
