//! Decoding a payload with a layout into the [`Decoded`] field tree and, alongside, the compact JSON of the
//! same values (groups as arrays, padding left out) whose size the cost view compares against.

use serde_json::{Map, Value, json};

use super::bits::BitReader;
use super::{ByteOrder, Count, FieldSpec, FieldType, Layout};
use crate::inspect::{Decoded, Field};

/// Where decoding is: the bit cursor, the integer fields seen so far (for `count_field`), the path of names
/// for messages, and whether a truncation stopped everything.
struct State<'a> {
    reader: BitReader<'a>,
    scope: Vec<(String, i128)>,
    path: Vec<String>,
    warnings: Vec<String>,
    stopped: bool,
}

pub(super) fn decode(layout: &Layout, bytes: &[u8]) -> Decoded {
    let mut state = State {
        reader: BitReader::new(bytes),
        scope: Vec::new(),
        path: Vec::new(),
        warnings: Vec::new(),
        stopped: false,
    };
    let (fields, json) = decode_record(&layout.fields, &mut state);
    let end_byte = usize::try_from(state.reader.bit_position().div_ceil(8)).unwrap_or(usize::MAX);
    if !state.stopped && end_byte < bytes.len() {
        let trailing = bytes.len() - end_byte;
        let noun = if trailing == 1 { "byte" } else { "bytes" };
        state.warnings.push(format!(
            "{trailing} trailing {noun} after the layout's fields (offset {end_byte}..{}); is this the right layout?",
            bytes.len()
        ));
    }
    let mut decoded = Decoded::new(layout.name.clone(), bytes.len(), fields, state.warnings);
    decoded.json_size_bytes = serde_json::to_string(&Value::Object(json)).map_or(0, |text| text.len());
    decoded
}

fn decode_record(specs: &[FieldSpec], state: &mut State<'_>) -> (Vec<Field>, Map<String, Value>) {
    let mut fields = Vec::new();
    let mut json = Map::new();
    for spec in specs {
        if state.stopped {
            break;
        }
        let decoded = match &spec.field_type {
            FieldType::Group { count, fields: record } => Some(decode_group(spec, count, record, state)),
            _ => decode_leaf(spec, state),
        };
        if let Some((field, value)) = decoded {
            if let Some(value) = value {
                json.insert(spec.name.clone(), value);
            }
            fields.push(field);
        }
    }
    (fields, json)
}

/// The byte range covering bits `start..end`, as (offset, length).
fn byte_span(start_bit: u64, end_bit: u64) -> (usize, usize) {
    let first = usize::try_from(start_bit / 8).unwrap_or(usize::MAX);
    let last = usize::try_from(end_bit.div_ceil(8)).unwrap_or(usize::MAX);
    (first, last.saturating_sub(first))
}

fn spanned_field(name: String, start_bit: u64, end_bit: u64) -> Field {
    let (offset, length) = byte_span(start_bit, end_bit);
    let mut field = Field::new(name, offset, length);
    if !start_bit.is_multiple_of(8) || !end_bit.is_multiple_of(8) {
        field.bit_offset = Some(start_bit);
        field.bit_length = Some(end_bit - start_bit);
    }
    field
}

fn decode_group(
    spec: &FieldSpec,
    count: &Count,
    record: &[FieldSpec],
    state: &mut State<'_>,
) -> (Field, Option<Value>) {
    let start_bit = state.reader.bit_position();
    let mut warnings = Vec::new();
    let declared: i128 = match count {
        Count::Fixed(n) => i128::from(*n),
        Count::Field(name) => state.scope.iter().rev().find(|(seen, _)| seen == name).map_or(0, |(_, raw)| *raw),
    };
    if declared < 0 {
        warnings.push(format!("the count is negative ({declared}); no records decoded"));
    }
    let mut records = Vec::new();
    let mut values = Vec::new();
    let mut index: i128 = 0;
    while index < declared {
        if state.reader.remaining_bits() == 0 {
            state.warnings.push(format!(
                "truncated: group `{}` should hold {declared} records, the payload ends after {index}",
                qualified(state, &spec.name)
            ));
            state.stopped = true;
            break;
        }
        let record_start = state.reader.bit_position();
        let scope_len = state.scope.len();
        state.path.push(format!("{}[{index}]", spec.name));
        let (children, json) = decode_record(record, state);
        state.path.pop();
        state.scope.truncate(scope_len);
        let record_end = state.reader.bit_position();
        let mut field = spanned_field(format!("[{index}]"), record_start, record_end);
        field.children = children;
        records.push(field);
        values.push(Value::Object(json));
        if state.stopped {
            break;
        }
        // A record that reads nothing (every nested count zero) would repeat up to 2^64 times.
        if record_end == record_start {
            warnings.push("a record here takes no bytes (its groups are empty), so only the first is shown".into());
            break;
        }
        index += 1;
    }
    let mut field = spanned_field(spec.name.clone(), start_bit, state.reader.bit_position());
    field.raw = json!(declared.max(0).min(i128::from(u64::MAX)) as u64);
    field.value = json!(records.len());
    field.unit = "records".into();
    field.warnings = warnings;
    field.children = records;
    (field, Some(Value::Array(values)))
}

fn qualified(state: &State<'_>, name: &str) -> String {
    let mut path = state.path.join(".");
    if !path.is_empty() {
        path.push('.');
    }
    path.push_str(name);
    path
}

/// Reads one non-group field; `None` when the payload ends first (a warning is recorded and decoding stops).
fn decode_leaf(spec: &FieldSpec, state: &mut State<'_>) -> Option<(Field, Option<Value>)> {
    let needed_bits = spec.field_type.static_bits().unwrap_or(0);
    let start_bit = state.reader.bit_position();
    if needed_bits > state.reader.remaining_bits() {
        let needs = if needed_bits.is_multiple_of(8) {
            format!("{} bytes", needed_bits / 8)
        } else {
            format!("{needed_bits} bits")
        };
        state.warnings.push(format!(
            "truncated: `{}` needs {needs} at byte {}, only {} bits remain; decoding stopped there",
            qualified(state, &spec.name),
            start_bit / 8,
            state.reader.remaining_bits()
        ));
        state.stopped = true;
        return None;
    }
    let mut field = spanned_field(spec.name.clone(), start_bit, start_bit + needed_bits);
    field.unit = spec.unit.clone();
    let json = match &spec.field_type {
        FieldType::Int { byte_count, signed } => {
            let raw = read_int(state, u32::from(*byte_count), spec.byte_order)?;
            let raw = if *signed { sign_extend(raw, u32::from(*byte_count) * 8) } else { i128::from(raw) };
            Some(set_integer(&mut field, spec, raw, state))
        }
        FieldType::Bits { bit_count, signed } => {
            let raw = state.reader.read_bits(u32::from(*bit_count))?;
            let raw = if *signed { sign_extend(raw, u32::from(*bit_count)) } else { i128::from(raw) };
            Some(set_integer(&mut field, spec, raw, state))
        }
        FieldType::Float { byte_count } => {
            let bits = read_int(state, u32::from(*byte_count), spec.byte_order)?;
            let raw = if *byte_count == 4 {
                f64::from(f32::from_bits(u32::try_from(bits).unwrap_or(0)))
            } else {
                f64::from_bits(bits)
            };
            if !raw.is_finite() {
                field.warnings.push(format!("not a finite number ({raw})"));
            }
            field.raw = json!(raw);
            // A float keeps all its digits: rounding to the scale's decimals would invent precision loss.
            field.value = json!(raw * spec.scale + spec.offset);
            Some(field.value.clone())
        }
        FieldType::Bytes(count) | FieldType::Pad(count) => {
            let mut hex = String::with_capacity(count * 2);
            let mut all_zero = true;
            for _ in 0..*count {
                let byte = state.reader.read_bits(8)?;
                all_zero &= byte == 0;
                hex.push_str(&format!("{byte:02x}"));
            }
            field.raw = json!(hex);
            if matches!(spec.field_type, FieldType::Pad(_)) {
                if !all_zero {
                    field.warnings.push("padding is not zero: a newer firmware may use these bytes".into());
                }
                None
            } else {
                field.value = field.raw.clone();
                Some(field.value.clone())
            }
        }
        FieldType::Group { .. } => None,
    };
    Some((field, json))
}

/// Reads `byte_count` bytes as one unsigned number in `order` (works at any bit position).
fn read_int(state: &mut State<'_>, byte_count: u32, order: ByteOrder) -> Option<u64> {
    let mut value: u64 = 0;
    for index in 0..byte_count {
        let byte = state.reader.read_bits(8)?;
        value = match order {
            ByteOrder::Big => (value << 8) | byte,
            ByteOrder::Little => value | (byte << (8 * index)),
        };
    }
    Some(value)
}

/// Two's complement of the low `bit_count` bits.
fn sign_extend(raw: u64, bit_count: u32) -> i128 {
    let raw = i128::from(raw);
    if bit_count > 0 && raw & (1 << (bit_count - 1)) != 0 { raw - (1 << bit_count) } else { raw }
}

fn set_integer(field: &mut Field, spec: &FieldSpec, raw: i128, state: &mut State<'_>) -> Value {
    state.scope.push((spec.name.clone(), raw));
    field.raw = integer_json(raw);
    field.value = if spec.is_identity() { field.raw.clone() } else { json!(physical(spec, raw as f64)) };
    field.value.clone()
}

fn integer_json(raw: i128) -> Value {
    match (u64::try_from(raw), i64::try_from(raw)) {
        (Ok(unsigned), _) => json!(unsigned),
        (_, Ok(signed)) => json!(signed),
        _ => Value::Null,
    }
}

/// raw × scale + offset, rounded to the decimals the scale and offset are written with, so that 3 × 0.1
/// shows as 0.3 rather than 0.30000000000000004.
pub(super) fn physical(spec: &FieldSpec, raw: f64) -> f64 {
    let value = raw * spec.scale + spec.offset;
    let decimals = decimals_of(spec.scale).max(decimals_of(spec.offset));
    let factor = 10f64.powi(decimals);
    let rounded = (value * factor).round() / factor;
    if rounded.is_finite() && value.abs() < 1e15 { rounded } else { value }
}

/// Decimal places of a number as a person would write it, at most 12.
fn decimals_of(number: f64) -> i32 {
    (0..12)
        .find(|&places| {
            let shifted = number * 10f64.powi(places);
            (shifted - shifted.round()).abs() < 1e-9 * shifted.abs().max(1.0)
        })
        .unwrap_or(12)
}
