//! Encoding field values (physical units, as `name=value,…`) into payload bytes with a layout: the same
//! file that decodes uplinks produces downlinks and test vectors.
//!
//! Every value must be given except padding and a `count_field` whose group follows in the same record
//! (it is set to the number of records given). A value that does not fit its type after scaling, a name
//! the layout does not have, or a record index beyond the group's count is an [`InspectError::Encode`].

use std::collections::BTreeMap;

use super::bits::BitWriter;
use super::{ByteOrder, Count, FieldSpec, FieldType, Layout};
use crate::inspect::InspectError;
use crate::inspect::input::parse_hex;

/// The values given, by path (`batch[1].value`), and whether each was used.
struct Values {
    by_path: BTreeMap<String, (String, bool)>,
}

pub(super) fn encode(layout: &Layout, assignments: &str) -> Result<Vec<u8>, InspectError> {
    let mut values = Values { by_path: BTreeMap::new() };
    for assignment in assignments.split(',').map(str::trim).filter(|a| !a.is_empty()) {
        let Some((path, value)) = assignment.split_once('=') else {
            return Err(InspectError::Encode {
                field: assignment.into(),
                reason: "write name=value (groups: batch[0].value=21.5), separated by commas".into(),
            });
        };
        let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
        if values.by_path.insert(path.clone(), (value.trim().to_string(), false)).is_some() {
            return Err(InspectError::Encode { field: path, reason: "given twice; give each value once".into() });
        }
    }
    let mut writer = BitWriter::default();
    let mut scope = Vec::new();
    encode_record(&layout.fields, "", &mut values, &mut writer, &mut scope)?;
    if let Some((path, _)) = values.by_path.iter().find(|(_, (_, used))| !used) {
        return Err(InspectError::Encode {
            field: path.clone(),
            reason: format!(
                "layout `{}` has no such field (or the record index is beyond its group's count); names are \
                 written as in the layout, groups as group[index].field",
                layout.name
            ),
        });
    }
    Ok(writer.into_bytes())
}

fn encode_record(
    specs: &[FieldSpec],
    prefix: &str,
    values: &mut Values,
    writer: &mut BitWriter,
    scope: &mut Vec<(String, i128)>,
) -> Result<(), InspectError> {
    let scope_len = scope.len();
    for spec in specs {
        let path = format!("{prefix}{}", spec.name);
        match &spec.field_type {
            FieldType::Pad(count) => {
                if let Some((_, used)) = values.by_path.get_mut(&path) {
                    *used = true;
                }
                writer.write_bytes(&vec![0; *count]);
            }
            FieldType::Bytes(count) => {
                let text = take(values, &path)?;
                let bytes = parse_hex(&text).map_err(|error| encode_error(&path, error.to_string()))?;
                if bytes.len() != *count {
                    return Err(encode_error(&path, format!("needs {count} bytes of hex, got {}", bytes.len())));
                }
                writer.write_bytes(&bytes);
            }
            FieldType::Float { byte_count } => {
                let text = take(values, &path)?;
                let value: f64 = text.parse().map_err(|_| encode_error(&path, format!("`{text}` is not a number")))?;
                let raw = (value - spec.offset) / spec.scale;
                let bits = if *byte_count == 4 {
                    if !raw.is_finite() || raw.abs() > f64::from(f32::MAX) {
                        return Err(encode_error(&path, format!("{value} does not fit an f32 after scaling")));
                    }
                    // The range check above makes this conversion lose only precision, never magnitude.
                    u64::from((raw as f32).to_bits())
                } else {
                    raw.to_bits()
                };
                write_number(writer, bits, u32::from(*byte_count), spec.byte_order);
            }
            FieldType::Int { byte_count, signed } => {
                let bit_count = u32::from(*byte_count) * 8;
                let raw = integer_raw(spec, specs, prefix, &path, values, bit_count, *signed)?;
                scope.push((spec.name.clone(), raw));
                write_number(writer, to_twos_complement(raw, bit_count), u32::from(*byte_count), spec.byte_order);
            }
            FieldType::Bits { bit_count, signed } => {
                let bit_count = u32::from(*bit_count);
                let raw = integer_raw(spec, specs, prefix, &path, values, bit_count, *signed)?;
                scope.push((spec.name.clone(), raw));
                writer.write_bits(to_twos_complement(raw, bit_count), bit_count);
            }
            FieldType::Group { count, fields } => {
                let records = match count {
                    Count::Fixed(n) => i128::from(*n),
                    Count::Field(name) => scope.iter().rev().find(|(seen, _)| seen == name).map_or(0, |(_, v)| *v),
                };
                for index in 0..records.max(0) {
                    encode_record(fields, &format!("{path}[{index}]."), values, writer, scope)?;
                }
            }
        }
    }
    scope.truncate(scope_len);
    Ok(())
}

fn encode_error(path: &str, reason: impl Into<String>) -> InspectError {
    InspectError::Encode { field: path.into(), reason: reason.into() }
}

fn take(values: &mut Values, path: &str) -> Result<String, InspectError> {
    match values.by_path.get_mut(path) {
        Some((value, used)) => {
            *used = true;
            Ok(value.clone())
        }
        None => Err(encode_error(path, format!("no value given; add {path}=… to the list"))),
    }
}

/// The raw integer for a field: from its value, or, for a count field left out, the records given.
fn integer_raw(
    spec: &FieldSpec,
    siblings: &[FieldSpec],
    prefix: &str,
    path: &str,
    values: &mut Values,
    bit_count: u32,
    signed: bool,
) -> Result<i128, InspectError> {
    let (min, max) = if signed {
        (-(1i128 << (bit_count - 1)), (1i128 << (bit_count - 1)) - 1)
    } else {
        (0, (1i128 << bit_count) - 1)
    };
    let raw = match values.by_path.contains_key(path) {
        true => {
            let text = take(values, path)?;
            parse_raw(spec, &text).ok_or_else(|| encode_error(path, format!("`{text}` is not a number")))?
        }
        false => match records_given(spec, siblings, prefix, values) {
            Some(records) => records,
            None => return Err(encode_error(path, format!("no value given; add {path}=… to the list"))),
        },
    };
    if raw < min || raw > max {
        let unit = if spec.unit.is_empty() { String::new() } else { format!(" {}", spec.unit) };
        let scaled = if spec.is_identity() { String::new() } else { format!(" (raw {raw} after scaling)") };
        return Err(encode_error(
            path,
            format!("the value{unit}{scaled} does not fit: the type holds raw values {min} to {max}"),
        ));
    }
    Ok(raw)
}

/// Physical value text → raw integer: exact for integers when there is no scaling, else rounded.
fn parse_raw(spec: &FieldSpec, text: &str) -> Option<i128> {
    if spec.is_identity() {
        if let Ok(exact) = text.parse::<i128>() {
            return Some(exact);
        }
        if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            return i128::from_str_radix(hex, 16).ok();
        }
    }
    let value: f64 = text.parse().ok()?;
    let raw = ((value - spec.offset) / spec.scale).round();
    // Beyond ±2^100 no field type can hold it anyway; the range check reports it.
    raw.is_finite().then(|| raw.clamp(-1e30, 1e30) as i128)
}

/// For a count field left out: one more than the highest record index given for the group it counts.
fn records_given(spec: &FieldSpec, siblings: &[FieldSpec], prefix: &str, values: &Values) -> Option<i128> {
    let group = siblings
        .iter()
        .find(|s| matches!(&s.field_type, FieldType::Group { count: Count::Field(n), .. } if *n == spec.name))?;
    let head = format!("{prefix}{}[", group.name);
    let highest = values
        .by_path
        .keys()
        .filter_map(|path| path.strip_prefix(&head)?.split_once(']')?.0.parse::<i128>().ok())
        .max();
    Some(highest.map_or(0, |index| index + 1))
}

fn to_twos_complement(raw: i128, bit_count: u32) -> u64 {
    let mask = if bit_count >= 64 { u64::MAX } else { (1u64 << bit_count) - 1 };
    (raw as u64) & mask
}

fn write_number(writer: &mut BitWriter, value: u64, byte_count: u32, order: ByteOrder) {
    for index in 0..byte_count {
        let shift = match order {
            ByteOrder::Big => 8 * (byte_count - 1 - index),
            ByteOrder::Little => 8 * index,
        };
        writer.write_bits((value >> shift) & 0xFF, 8);
    }
}
