//! Loading a layout from TOML: serde with spans for the shape, then checks that name the line of each
//! problem and say what to write instead.

use serde::Deserialize;
use toml::Spanned;

use super::{ByteOrder, Count, FieldSpec, FieldType, Layout, record_bits};
use crate::inspect::InspectError;

/// Largest `pad:N` / `bytes:N`, bytes: far above any radio payload, low enough to keep encoding cheap.
const MAX_BYTE_RUN: usize = 65_536;
/// Largest fixed group count.
const MAX_FIXED_COUNT: i64 = 65_536;
/// Characters a name may not contain, because `--encode` uses them.
const RESERVED_NAME_CHARS: &[char] = &['[', ']', '.', '=', ',', ' '];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLayout {
    name: Option<Spanned<String>>,
    byte_order: Option<Spanned<String>>,
    fields: Option<Spanned<Vec<Spanned<RawField>>>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawField {
    name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    field_type: Option<Spanned<String>>,
    byte_order: Option<Spanned<String>>,
    scale: Option<Spanned<f64>>,
    offset: Option<Spanned<f64>>,
    unit: Option<Spanned<String>>,
    count: Option<Spanned<i64>>,
    count_field: Option<Spanned<String>>,
    fields: Option<Spanned<Vec<Spanned<RawField>>>>,
}

/// Converts byte offsets in the text to 1-based lines.
struct Lines<'a>(&'a str);

impl Lines<'_> {
    fn line(&self, byte_offset: usize) -> usize {
        crate::model::text_position::line_at(self.0, byte_offset)
    }

    fn error<T>(&self, spanned: &Spanned<T>, reason: impl Into<String>) -> InspectError {
        InspectError::Layout { line: self.line(spanned.span().start), reason: reason.into() }
    }
}

/// A name defined earlier, visible to `count_field`.
struct Visible {
    name: String,
    integer: bool,
}

pub(super) fn parse(text: &str) -> Result<Layout, InspectError> {
    let lines = Lines(text);
    let raw: RawLayout = toml::from_str(text).map_err(|error| InspectError::Layout {
        line: error.span().map_or(1, |span| lines.line(span.start)),
        reason: format!("{} (see docs/layouts.md for the format)", error.message().trim_end()),
    })?;
    let name = match raw.name {
        Some(name) if !name.get_ref().trim().is_empty() => name.into_inner(),
        Some(name) => return Err(lines.error(&name, "the layout name is empty; write name = \"my-sensor-v1\"")),
        None => {
            return Err(InspectError::Layout {
                line: 1,
                reason: "the layout has no name; add name = \"my-sensor-v1\" at the top".into(),
            });
        }
    };
    let byte_order = match &raw.byte_order {
        Some(order) => parse_byte_order(&lines, order)?,
        None => ByteOrder::Big,
    };
    let Some(fields) = raw.fields else {
        return Err(InspectError::Layout {
            line: lines.line(text.len()),
            reason: "the layout has no fields; add [[fields]] tables with a name and a type".into(),
        });
    };
    let mut visible = Vec::new();
    let fields = parse_fields(&lines, fields, byte_order, &mut visible)?;
    check_alignment(&fields, Some(0))?;
    Ok(Layout { name, byte_order, fields })
}

fn parse_byte_order(lines: &Lines<'_>, order: &Spanned<String>) -> Result<ByteOrder, InspectError> {
    match order.get_ref().as_str() {
        "big" => Ok(ByteOrder::Big),
        "little" => Ok(ByteOrder::Little),
        other => Err(lines.error(order, format!("byte_order \"{other}\" is not known; write \"big\" or \"little\""))),
    }
}

fn parse_fields(
    lines: &Lines<'_>,
    raw_fields: Spanned<Vec<Spanned<RawField>>>,
    byte_order: ByteOrder,
    visible: &mut Vec<Visible>,
) -> Result<Vec<FieldSpec>, InspectError> {
    if raw_fields.get_ref().is_empty() {
        return Err(lines.error(&raw_fields, "`fields` is empty; give at least one field with a name and a type"));
    }
    let scope_start = visible.len();
    // Every name of this record with its line, so a count_field naming a later one can say where it is.
    let record_names: Vec<(String, usize)> = raw_fields
        .get_ref()
        .iter()
        .filter_map(|raw| Some((raw.get_ref().name.as_ref()?.get_ref().clone(), lines.line(raw.span().start))))
        .collect();
    let mut fields: Vec<FieldSpec> = Vec::new();
    for raw in raw_fields.into_inner() {
        let field = parse_field(lines, raw, byte_order, visible, &record_names)?;
        // Padding carries no value (it is not in the JSON and needs none to encode), so any number may share
        // the default name `pad`.
        let is_pad = |spec: &FieldSpec| matches!(spec.field_type, FieldType::Pad(_));
        let clash = if is_pad(&field) { None } else { fields.iter().find(|e| e.name == field.name && !is_pad(e)) };
        if let Some(earlier) = clash {
            return Err(InspectError::Layout {
                line: field.line,
                reason: format!(
                    "the name `{}` is already used on line {}; give each field of a record its own name",
                    field.name, earlier.line
                ),
            });
        }
        visible.push(Visible { name: field.name.clone(), integer: field.field_type.is_integer() });
        fields.push(field);
    }
    // Names inside a record are not visible after it: a later count_field cannot reach into a group.
    visible.truncate(scope_start);
    Ok(fields)
}

fn parse_field(
    lines: &Lines<'_>,
    spanned: Spanned<RawField>,
    inherited_order: ByteOrder,
    visible: &mut Vec<Visible>,
    record_names: &[(String, usize)],
) -> Result<FieldSpec, InspectError> {
    let line = lines.line(spanned.span().start);
    let raw = spanned.into_inner();
    let Some(type_text) = raw.field_type.clone() else {
        return Err(InspectError::Layout {
            line,
            reason: "this field has no type; add type = \"u8\" (or i16, bits:4, group, … see docs/layouts.md)".into(),
        });
    };
    let is_group = type_text.get_ref() == "group";
    let is_pad = type_text.get_ref().starts_with("pad:");
    let name = match &raw.name {
        Some(name) => {
            let text = name.get_ref();
            if text.is_empty() {
                return Err(lines.error(name, "the field name is empty; write name = \"temperature\""));
            }
            if text.contains(RESERVED_NAME_CHARS) {
                return Err(lines.error(
                    name,
                    format!("the name \"{text}\" contains one of `[ ] . = ,` or a space; use letters, digits, _ or -"),
                ));
            }
            text.clone()
        }
        None if is_pad => "pad".into(),
        None => {
            return Err(InspectError::Layout {
                line,
                reason: "this field has no name; add name = \"…\" (only pad:N fields may leave it out)".into(),
            });
        }
    };
    let byte_order = match &raw.byte_order {
        Some(order) => parse_byte_order(lines, order)?,
        None => inherited_order,
    };
    let field_type = if is_group {
        parse_group(lines, &raw, byte_order, visible, &name, record_names)?
    } else {
        if let Some(fields) = &raw.fields {
            return Err(lines.error(fields, "only type = \"group\" has `fields`; set type = \"group\" or remove them"));
        }
        if let Some(count) = &raw.count {
            return Err(lines.error(count, "only type = \"group\" has `count`; remove it"));
        }
        if let Some(count_field) = &raw.count_field {
            return Err(lines.error(count_field, "only type = \"group\" has `count_field`; remove it"));
        }
        parse_type(lines, &type_text)?
    };
    let numeric = matches!(field_type, FieldType::Int { .. } | FieldType::Float { .. } | FieldType::Bits { .. });
    let mut scale = 1.0;
    let mut offset = 0.0;
    for (key, given, target) in [("scale", &raw.scale, &mut scale), ("offset", &raw.offset, &mut offset)] {
        if let Some(given) = given {
            if !numeric {
                return Err(lines.error(given, format!("`{key}` applies to numbers only; remove it from `{name}`")));
            }
            if !given.get_ref().is_finite() || (key == "scale" && *given.get_ref() == 0.0) {
                return Err(lines.error(given, format!("`{key}` must be a finite number (and a scale not 0)")));
            }
            *target = *given.get_ref();
        }
    }
    let unit = raw.unit.map(Spanned::into_inner).unwrap_or_default();
    Ok(FieldSpec { name, field_type, byte_order, scale, offset, unit, line })
}

fn parse_group(
    lines: &Lines<'_>,
    raw: &RawField,
    byte_order: ByteOrder,
    visible: &mut Vec<Visible>,
    name: &str,
    record_names: &[(String, usize)],
) -> Result<FieldType, InspectError> {
    let count = match (&raw.count, &raw.count_field) {
        (Some(_), Some(count_field)) => {
            return Err(lines.error(count_field, "give either `count` or `count_field`, not both"));
        }
        (None, None) => {
            let at = raw.field_type.as_ref().map_or(1, |t| lines.line(t.span().start));
            return Err(InspectError::Layout {
                line: at,
                reason: format!(
                    "group `{name}` has no count; add count = 4 or count_field = \"<an earlier integer field>\""
                ),
            });
        }
        (Some(count), None) => {
            let value = *count.get_ref();
            if !(0..=MAX_FIXED_COUNT).contains(&value) {
                return Err(lines.error(count, format!("count must be between 0 and {MAX_FIXED_COUNT}")));
            }
            Count::Fixed(value.unsigned_abs())
        }
        (None, Some(count_field)) => {
            let wanted = count_field.get_ref();
            match visible.iter().rev().find(|v| &v.name == wanted) {
                Some(found) if found.integer => Count::Field(wanted.clone()),
                Some(_) => {
                    return Err(lines.error(
                        count_field,
                        format!("count_field \"{wanted}\" is not an integer field; name a u8…u64 or bits:N field"),
                    ));
                }
                None if record_names.iter().any(|(later, _)| later == wanted) => {
                    let line = record_names.iter().find(|(later, _)| later == wanted).map_or(0, |(_, line)| *line);
                    return Err(lines.error(
                        count_field,
                        format!(
                            "count_field \"{wanted}\" names the field on line {line}, which comes after group \
                             `{name}`; a count must come before its group, so move `{wanted}` above `{name}`"
                        ),
                    ));
                }
                None => {
                    let earlier: Vec<&str> = visible.iter().filter(|v| v.integer).map(|v| v.name.as_str()).collect();
                    return Err(lines.error(
                        count_field,
                        format!(
                            "count_field \"{wanted}\" does not name an earlier field; a count must come before its \
                             group (earlier integer fields: {})",
                            if earlier.is_empty() { "none".to_string() } else { earlier.join(", ") }
                        ),
                    ));
                }
            }
        }
    };
    let Some(raw_fields) = &raw.fields else {
        let at = raw.field_type.as_ref().map_or(1, |t| lines.line(t.span().start));
        return Err(InspectError::Layout {
            line: at,
            reason: format!("group `{name}` has no fields; add fields = [ {{ name = \"…\", type = \"u8\" }}, … ]"),
        });
    };
    let fields = parse_fields(lines, raw_fields.clone(), byte_order, visible)?;
    Ok(FieldType::Group { count, fields })
}

fn parse_type(lines: &Lines<'_>, text: &Spanned<String>) -> Result<FieldType, InspectError> {
    let kind = text.get_ref().as_str();
    let int = |byte_count, signed| Ok(FieldType::Int { byte_count, signed });
    match kind {
        "u8" => return int(1, false),
        "i8" => return int(1, true),
        "u16" => return int(2, false),
        "i16" => return int(2, true),
        "u24" => return int(3, false),
        "i24" => return int(3, true),
        "u32" => return int(4, false),
        "i32" => return int(4, true),
        "u64" => return int(8, false),
        "i64" => return int(8, true),
        "f32" => return Ok(FieldType::Float { byte_count: 4 }),
        "f64" => return Ok(FieldType::Float { byte_count: 8 }),
        _ => {}
    }
    if let Some((prefix, count_text)) = kind.split_once(':') {
        let count: Option<usize> = count_text.trim().parse().ok();
        let bits = |signed| match count {
            Some(n @ 1..=64) => Ok(FieldType::Bits { bit_count: u8::try_from(n).unwrap_or(64), signed }),
            _ => Err(lines.error(text, format!("\"{kind}\" needs a bit count from 1 to 64, such as \"{prefix}:4\""))),
        };
        let run = |make: fn(usize) -> FieldType| match count {
            Some(n @ 1..=MAX_BYTE_RUN) => Ok(make(n)),
            _ => Err(lines.error(
                text,
                format!("\"{kind}\" needs a byte count from 1 to {MAX_BYTE_RUN}, such as \"{prefix}:2\""),
            )),
        };
        match prefix {
            "bits" => return bits(false),
            "ibits" => return bits(true),
            "pad" => return run(FieldType::Pad),
            "bytes" => return run(FieldType::Bytes),
            _ => {}
        }
    }
    let hint = match kind {
        "uint8" | "byte" => " (did you mean \"u8\"?)",
        "int8" => " (did you mean \"i8\"?)",
        "uint16" => " (did you mean \"u16\"?)",
        "int16" | "short" => " (did you mean \"i16\"?)",
        "uint32" => " (did you mean \"u32\"?)",
        "int32" | "int" => " (did you mean \"i32\"?)",
        "float" => " (did you mean \"f32\"?)",
        "double" => " (did you mean \"f64\"?)",
        "bool" | "bit" => " (did you mean \"bits:1\"?)",
        _ => "",
    };
    Err(lines.error(
        text,
        format!(
            "unknown type \"{kind}\"{hint}; write one of u8 i8 u16 i16 u24 i24 u32 i32 u64 i64 f32 f64, bits:N, \
             ibits:N, pad:N, bytes:N or group"
        ),
    ))
}

/// Checks that byte-sized fields start on a byte boundary whenever the layout alone decides it.
/// `start_bit` is the position modulo 8 where the fields start, `None` when it depends on the payload.
fn check_alignment(fields: &[FieldSpec], start_bit: Option<u64>) -> Result<Option<u64>, InspectError> {
    let mut position = start_bit;
    for field in fields {
        if field.field_type.byte_aligned()
            && let Some(bit) = position
            && bit != 0
        {
            return Err(InspectError::Layout {
                line: field.line,
                reason: format!(
                    "`{}` would start at bit {bit} of a byte; byte-sized types start on a byte boundary, so add \
                     a bits:{} field before it (or use bits:N for `{}`)",
                    field.name,
                    8 - bit,
                    field.name
                ),
            });
        }
        position = match &field.field_type {
            FieldType::Group { fields: record, count } => {
                let record_bits = record_bits(record);
                // A record whose size is not whole bytes starts at different bit positions each time.
                let record_start = match record_bits {
                    Some(bits) if bits.is_multiple_of(8) => position,
                    _ => None,
                };
                check_alignment(record, record_start)?;
                match (count, record_bits, position) {
                    (Count::Fixed(n), Some(bits), Some(p)) => Some((p + bits % 8 * (n % 8)) % 8),
                    (_, Some(bits), p) if bits.is_multiple_of(8) => p,
                    // The count in the payload decides where it ends.
                    _ => None,
                }
            }
            other => match (position, other.static_bits()) {
                (Some(p), Some(bits)) => Some((p + bits) % 8),
                _ => None,
            },
        };
    }
    Ok(position)
}
