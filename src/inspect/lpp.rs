//! Cayenne LPP decoder: a payload of `[channel][type][value]` records, values big-endian, decoded with the
//! myDevices type table and the library-specific "extended" types (flagged as such, because decoders disagree on
//! them).
//!
//! LPP has no length field, so an unknown type or a short value ends decoding: the record so far gets a warning
//! and the rest of the payload is shown as one `bytes` field. Every field lies within the payload. This module
//! also holds the small helpers the other byte-format decoders share (hex text, "the rest is bytes", shifting a
//! sub-payload's fields).

use serde_json::json;

use super::field::{Decoded, Field};

/// How a type's value bytes are read.
#[derive(Debug, Clone, Copy)]
enum Shape {
    /// One big-endian integer of the type's size: value = raw / `divisor`.
    Scalar { signed: bool, divisor: f64, unit: &'static str },
    /// Three signed 16-bit axes: value = raw / `divisor`.
    Axes { divisor: f64, unit: &'static str },
    /// Latitude, longitude (signed 24-bit, 0.0001°) and altitude (signed 24-bit, 0.01 m).
    Gps,
    /// Red, green, blue bytes.
    Colour,
}

/// One row of the type table.
#[derive(Debug, Clone, Copy)]
struct LppType {
    code: u8,
    name: &'static str,
    size_bytes: usize,
    shape: Shape,
    /// Not part of the myDevices table.
    extended: bool,
}

const fn scalar(signed: bool, divisor: f64, unit: &'static str) -> Shape {
    Shape::Scalar { signed, divisor, unit }
}

const fn row(code: u8, name: &'static str, size_bytes: usize, shape: Shape, extended: bool) -> LppType {
    LppType { code, name, size_bytes, shape, extended }
}

/// The reference's whole table (myDevices rows first, then the extended ones).
const TYPES: &[LppType] = &[
    row(0, "digital input", 1, scalar(false, 1.0, ""), false),
    row(1, "digital output", 1, scalar(false, 1.0, ""), false),
    row(2, "analog input", 2, scalar(true, 100.0, ""), false),
    row(3, "analog output", 2, scalar(true, 100.0, ""), false),
    row(101, "illuminance", 2, scalar(false, 1.0, "lx"), false),
    row(102, "presence", 1, scalar(false, 1.0, ""), false),
    row(103, "temperature", 2, scalar(true, 10.0, "°C"), false),
    row(104, "humidity", 1, scalar(false, 2.0, "%"), false),
    row(113, "accelerometer", 6, Shape::Axes { divisor: 1000.0, unit: "G" }, false),
    row(115, "barometer", 2, scalar(false, 10.0, "hPa"), false),
    row(134, "gyrometer", 6, Shape::Axes { divisor: 100.0, unit: "°/s" }, false),
    row(136, "gps", 9, Shape::Gps, false),
    row(100, "generic sensor", 4, scalar(false, 1.0, ""), true),
    row(116, "voltage", 2, scalar(false, 100.0, "V"), true),
    row(117, "current", 2, scalar(false, 1000.0, "A"), true),
    row(118, "frequency", 4, scalar(false, 1.0, "Hz"), true),
    row(120, "percentage", 1, scalar(false, 1.0, "%"), true),
    row(121, "altitude", 2, scalar(true, 1.0, "m"), true),
    row(122, "load", 3, scalar(true, 1000.0, "kg"), true),
    row(125, "concentration", 2, scalar(false, 1.0, "ppm"), true),
    row(128, "power", 2, scalar(false, 1.0, "W"), true),
    row(130, "distance", 4, scalar(false, 1000.0, "m"), true),
    row(131, "energy", 4, scalar(false, 1000.0, "kWh"), true),
    row(132, "direction", 2, scalar(false, 1.0, "°"), true),
    row(133, "unix time", 4, scalar(false, 1.0, "s"), true),
    row(135, "colour", 3, Shape::Colour, true),
    row(142, "switch", 1, scalar(false, 1.0, ""), true),
];

/// Decodes a Cayenne LPP payload. Never panics; see the module notes for what happens on bad input.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut fields = Vec::new();
    let mut warnings = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let (Some(&channel), Some(&code)) = (bytes.get(offset), bytes.get(offset + 1)) else {
            let warning = format!("byte {offset}: a record needs a channel and a type byte; the payload ends");
            warnings.push(warning.clone());
            fields.push(rest_field(bytes, offset, warning));
            break;
        };
        let Some(lpp_type) = TYPES.iter().find(|t| t.code == code) else {
            let warning = format!(
                "byte {}: unknown LPP type {code} (0x{code:02X}); LPP has no length field, so decoding stops here",
                offset + 1
            );
            warnings.push(warning.clone());
            fields.push(rest_field(bytes, offset, warning));
            break;
        };
        let value_offset = offset + 2;
        let Some(value_bytes) = bytes.get(value_offset..value_offset + lpp_type.size_bytes) else {
            let warning = format!(
                "byte {value_offset}: {} needs {} value bytes, only {} left",
                lpp_type.name,
                lpp_type.size_bytes,
                bytes.len() - value_offset.min(bytes.len())
            );
            warnings.push(warning.clone());
            fields.push(rest_field(bytes, offset, warning));
            break;
        };
        fields.push(record(offset, channel, lpp_type, value_bytes));
        offset = value_offset + lpp_type.size_bytes;
    }
    let mut decoded = Decoded::new("lpp", bytes.len(), fields, warnings);
    decoded.json_size_bytes = compact_json_size_bytes(&decoded.fields);
    decoded
}

/// Bytes of the records as The Things Stack's LPP decoder writes them: `{"temperature_3": 27.2, "gps_1": {"lat":
/// …}, …}` (name with underscores, then the channel), rather than the tree with its channel and type fields.
fn compact_json_size_bytes(fields: &[Field]) -> usize {
    let mut map = serde_json::Map::new();
    for record in fields {
        let channel = record.children.iter().find(|c| c.name == "channel").and_then(|c| c.value.as_u64());
        let type_name = record.children.iter().find(|c| c.name == "type").and_then(|c| c.value.as_str());
        let (Some(channel), Some(type_name)) = (channel, type_name) else {
            map.insert(record.name.clone(), record.value.clone());
            continue;
        };
        let parts: serde_json::Map<_, _> = record
            .children
            .iter()
            .filter(|c| c.name != "channel" && c.name != "type")
            .map(|c| (c.name.clone(), c.value.clone()))
            .collect();
        let value = match parts.get("value") {
            Some(value) if parts.len() == 1 => value.clone(),
            _ => serde_json::Value::Object(parts),
        };
        map.insert(format!("{}_{channel}", type_name.replace(' ', "_")), value);
    }
    serde_json::to_string(&serde_json::Value::Object(map)).map_or(0, |text| text.len())
}

/// One decoded record with its `channel`, `type` and value children.
fn record(offset: usize, channel: u8, lpp_type: &LppType, value_bytes: &[u8]) -> Field {
    let value_offset = offset + 2;
    let mut field = Field::new(format!("{} [ch {channel}]", lpp_type.name), offset, 2 + lpp_type.size_bytes);
    let channel_field = Field::new("channel", offset, 1).with_values(json!(channel), json!(channel));
    let type_field = Field::new("type", offset + 1, 1).with_values(json!(lpp_type.code), json!(lpp_type.name));
    field.children.push(channel_field);
    field.children.push(type_field);
    if lpp_type.extended {
        field.warnings.push(format!(
            "{} is an extended type, not in the myDevices table; other decoders may read it differently",
            lpp_type.name
        ));
    }
    match lpp_type.shape {
        Shape::Scalar { signed, divisor, unit } => {
            let raw = big_endian(value_bytes, signed);
            let mut value = Field::new("value", value_offset, value_bytes.len())
                .with_values(json!(raw), json!(raw as f64 / divisor))
                .with_unit(unit);
            if lpp_type.code == 100 {
                let as_float = <[u8; 4]>::try_from(value_bytes).map(f32::from_be_bytes).unwrap_or(f32::NAN);
                value.warnings.push(format!(
                    "read as an unsigned integer per the headers; encoders that write an IEEE float mean {as_float}"
                ));
            }
            field.value = value.value.clone();
            field.unit = unit.to_owned();
            field.children.push(value);
        }
        Shape::Axes { divisor, unit } => {
            for (index, axis) in ["x", "y", "z"].into_iter().enumerate() {
                let part = value_bytes.get(index * 2..index * 2 + 2).unwrap_or_default();
                let raw = big_endian(part, true);
                let child = Field::new(axis, value_offset + index * 2, 2)
                    .with_values(json!(raw), json!(raw as f64 / divisor))
                    .with_unit(unit);
                field.children.push(child);
            }
        }
        Shape::Gps => {
            for (index, (name, divisor, unit)) in
                [("lat", 10_000.0, "°"), ("lon", 10_000.0, "°"), ("alt", 100.0, "m")].into_iter().enumerate()
            {
                let part = value_bytes.get(index * 3..index * 3 + 3).unwrap_or_default();
                let raw = big_endian(part, true);
                let child = Field::new(name, value_offset + index * 3, 3)
                    .with_values(json!(raw), json!(raw as f64 / divisor))
                    .with_unit(unit);
                field.children.push(child);
            }
        }
        Shape::Colour => {
            for (index, name) in ["red", "green", "blue"].into_iter().enumerate() {
                let raw = value_bytes.get(index).copied().unwrap_or_default();
                field.children.push(Field::new(name, value_offset + index, 1).with_values(json!(raw), json!(raw)));
            }
        }
    }
    field
}

/// A big-endian integer of 0 to 8 bytes, sign-extended when `signed`.
fn big_endian(bytes: &[u8], signed: bool) -> i64 {
    let unsigned = bytes.iter().take(8).fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    let bits = (bytes.len().min(8) * 8) as u32;
    if signed && bits > 0 && bits < 64 {
        let shift = 64 - bits;
        ((unsigned << shift) as i64) >> shift
    } else {
        unsigned as i64
    }
}

/// Bytes as lowercase hex without separators.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The undecodable rest of a payload from `offset` on, as one `bytes` field carrying `warning`.
pub(crate) fn rest_field(bytes: &[u8], offset: usize, warning: String) -> Field {
    let rest = bytes.get(offset..).unwrap_or_default();
    let mut field =
        Field::new("bytes", offset.min(bytes.len()), rest.len()).with_values(json!(hex(rest)), json!(hex(rest)));
    field.warnings.push(warning);
    field
}

/// Moves a field decoded from a sub-slice (and all its children) by `by` bytes, to payload coordinates.
pub(crate) fn shift(field: &mut Field, by: usize) {
    field.offset += by;
    if let Some(bit_offset) = field.bit_offset.as_mut() {
        *bit_offset += by as u64 * 8;
    }
    for child in &mut field.children {
        shift(child, by);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::field::assert_within;
    use proptest::prelude::*;

    #[test]
    fn reference_example_two_temperatures() {
        let decoded = decode(&[0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00, 0xFF]);
        assert!(decoded.warnings.is_empty());
        assert_eq!(decoded.fields.len(), 2);
        let first = &decoded.fields[0];
        assert_eq!(first.name, "temperature [ch 3]");
        assert_eq!((first.offset, first.length), (0, 4));
        assert_eq!(first.child("channel").unwrap().value, json!(3));
        assert_eq!(first.child("type").unwrap().raw, json!(103));
        let value = first.child("value").unwrap();
        assert_eq!((value.offset, value.length), (2, 2));
        assert_eq!(value.raw, json!(272));
        assert_eq!(value.value, json!(27.2));
        assert_eq!(value.unit, "°C");
        let second = &decoded.fields[1];
        assert_eq!(second.name, "temperature [ch 5]");
        assert_eq!(second.child("value").unwrap().value, json!(25.5));
        assert_eq!((second.offset, second.length), (4, 4));
        // The Things Stack would write {"temperature_3":27.2,"temperature_5":25.5}.
        assert_eq!(decoded.json_size_bytes, r#"{"temperature_3":27.2,"temperature_5":25.5}"#.len());
    }

    #[test]
    fn negative_temperature_humidity_and_analog_are_signed_as_the_table_says() {
        // ch1 temperature -4.1 °C (0xFFD7), ch2 humidity 160 × 0.5 = 80 %, ch3 analog input -0.02 (0xFFFE)
        let decoded = decode(&[0x01, 0x67, 0xFF, 0xD7, 0x02, 0x68, 0xA0, 0x03, 0x02, 0xFF, 0xFE]);
        assert!(decoded.warnings.is_empty());
        assert_eq!(decoded.fields[0].child("value").unwrap().value, json!(-4.1));
        assert_eq!(decoded.fields[1].child("value").unwrap().value, json!(80.0));
        assert_eq!(decoded.fields[1].child("value").unwrap().unit, "%");
        assert_eq!(decoded.fields[2].child("value").unwrap().value, json!(-0.02));
        assert_eq!(decoded.fields[2].offset, 7);
    }

    #[test]
    fn accelerometer_and_gps_axes() {
        // ch6 accelerometer x=1.234 y=-1.234 z=0 G; ch1 GPS 52.3655 4.8885 21.54 m (LPP documentation example)
        let bytes = [
            0x06, 0x71, 0x04, 0xD2, 0xFB, 0x2E, 0x00, 0x00, 0x01, 0x88, 0x07, 0xFD, 0x87, 0x00, 0xBE, 0xF5, 0x00, 0x08,
            0x6A,
        ];
        let decoded = decode(&bytes);
        assert!(decoded.warnings.is_empty());
        let accel = &decoded.fields[0];
        assert_eq!(accel.name, "accelerometer [ch 6]");
        assert_eq!(accel.child("x").unwrap().value, json!(1.234));
        assert_eq!(accel.child("y").unwrap().value, json!(-1.234));
        assert_eq!((accel.child("z").unwrap().offset, accel.child("z").unwrap().length), (6, 2));
        let gps = &decoded.fields[1];
        assert_eq!((gps.offset, gps.length), (8, 11));
        assert_eq!(gps.child("lat").unwrap().value, json!(52.3655));
        assert_eq!(gps.child("lon").unwrap().value, json!(4.8885));
        let alt = gps.child("alt").unwrap();
        assert_eq!((alt.offset, alt.length, alt.raw.clone(), alt.value.clone()), (16, 3, json!(2154), json!(21.54)));
        let compact =
            r#"{"accelerometer_6":{"x":1.234,"y":-1.234,"z":0.0},"gps_1":{"lat":52.3655,"lon":4.8885,"alt":21.54}}"#;
        assert_eq!(decoded.json_size_bytes, compact.len());
    }

    #[test]
    fn extended_types_are_flagged_and_generic_sensor_mentions_the_float_reading() {
        // ch1 voltage 3.30 V, ch2 generic 0x40490FDB (= π as f32), ch3 load -1.5 kg (0xFFFA24)
        let bytes = [0x01, 0x74, 0x01, 0x4A, 0x02, 0x64, 0x40, 0x49, 0x0F, 0xDB, 0x03, 0x7A, 0xFF, 0xFA, 0x24];
        let decoded = decode(&bytes);
        assert!(decoded.warnings.is_empty());
        assert_eq!(decoded.fields[0].child("value").unwrap().value, json!(3.3));
        assert!(decoded.fields[0].warnings[0].contains("extended"));
        let generic = decoded.fields[1].child("value").unwrap();
        assert_eq!(generic.raw, json!(0x4049_0FDB_u32));
        assert!(generic.warnings[0].contains("3.1415"));
        assert_eq!(decoded.fields[2].child("value").unwrap().value, json!(-1.5));
        assert_eq!(decoded.fields[2].child("value").unwrap().unit, "kg");
    }

    #[test]
    fn unknown_type_stops_and_shows_the_rest() {
        let decoded = decode(&[0x03, 0x67, 0x01, 0x10, 0x04, 0x99, 0x01, 0x02]);
        assert_eq!(decoded.fields.len(), 2);
        let rest = &decoded.fields[1];
        assert_eq!((rest.name.as_str(), rest.offset, rest.length), ("bytes", 4, 4));
        assert_eq!(rest.raw, json!("04990102"));
        assert!(rest.warnings[0].contains("unknown LPP type 153"));
        assert_eq!(decoded.warnings.len(), 1);
    }

    #[test]
    fn truncated_value_and_lone_channel_are_warned() {
        let decoded = decode(&[0x03, 0x67, 0x01]);
        assert_eq!(decoded.fields.len(), 1);
        assert!(decoded.fields[0].warnings[0].contains("needs 2 value bytes, only 1 left"));
        let decoded = decode(&[0x01, 0x00, 0x01, 0x07]);
        assert_eq!(decoded.fields[0].name, "digital input [ch 1]");
        assert_eq!((decoded.fields[1].offset, decoded.fields[1].length), (3, 1));
        assert_eq!(decoded.warnings.len(), 1);
    }

    proptest! {
        #[test]
        fn generated_records_decode_back(records in proptest::collection::vec(
            (any::<u8>(), 0..TYPES.len(), proptest::collection::vec(any::<u8>(), 9)), 0..12)
        ) {
            let mut bytes = Vec::new();
            for (channel, type_index, value) in &records {
                let lpp_type = TYPES[*type_index];
                bytes.extend_from_slice(&[*channel, lpp_type.code]);
                bytes.extend_from_slice(&value[..lpp_type.size_bytes]);
            }
            let decoded = decode(&bytes);
            prop_assert!(decoded.warnings.is_empty());
            prop_assert_eq!(decoded.fields.len(), records.len());
            for (field, (channel, type_index, _)) in decoded.fields.iter().zip(&records) {
                prop_assert_eq!(&field.name, &format!("{} [ch {channel}]", TYPES[*type_index].name));
                prop_assert_eq!(field.length, 2 + TYPES[*type_index].size_bytes);
            }
        }

        #[test]
        fn arbitrary_bytes_decode_within_the_payload(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let decoded = decode(&bytes);
            for field in &decoded.fields {
                assert_within(field, bytes.len());
            }
        }
    }
}
