//! CoAP message decoder (RFC 7252 §3): the 4-byte header (version, type and token length as bit fields, code as
//! `2.05 Content`, message id), the token, the delta-encoded options with their names and decoded values
//! (Content-Format by name, Block1/Block2 as number, more flag and size), the payload marker and the payload,
//! itself decoded as CBOR (with SenML) or JSON when the Content-Format says so.
//!
//! A format error (token length over 8, a reserved option nibble, an option running past the end, a marker
//! without payload) gets a warning; where the message cannot be followed further the rest is one `bytes` field.
//! Never panics, and every loop consumes a byte.

pub(crate) mod names;
#[cfg(test)]
mod tests;

use serde_json::json;

use super::field::{Decoded, Field};
use super::lpp::{hex, rest_field, shift};
use super::{cbor, json};
use names::{OptionKind, code_name, content_format_name, option_info};

/// Decodes a CoAP message. Never panics.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut fields = Vec::new();
    let mut warnings = Vec::new();
    if let Err(problem) = decode_into(bytes, &mut fields) {
        warnings.push(problem.clone());
        let end = fields.last().map_or(0, |f: &Field| f.offset + f.length);
        if end < bytes.len() {
            fields.push(rest_field(bytes, end, problem));
        }
    }
    let mut decoded = Decoded::new("coap", bytes.len(), fields, warnings);
    decoded.json_size_bytes = size_with_json_payload(bytes, &decoded.fields);
    decoded
}

/// The size of the message with its decoded payload written as compact JSON instead (headers and options stay,
/// JSON would not replace them); an opaque payload counts as it is.
fn size_with_json_payload(bytes: &[u8], fields: &[Field]) -> usize {
    let content_format = fields.iter().find(|f| f.name == "Content-Format").and_then(|f| f.raw.as_u64());
    let payload = fields.iter().find(|f| f.name == "payload" && !f.children.is_empty());
    let json_payload_bytes = payload.and_then(|payload| {
        let body = bytes.get(payload.offset..)?;
        match content_format {
            Some(60 | 112) => Some(cbor::decode(body).json_size_bytes),
            Some(50 | 110) => Some(json::decode(body).json_size_bytes),
            _ => None,
        }
    });
    match (payload, json_payload_bytes) {
        (Some(payload), Some(json_bytes)) => bytes.len() - payload.length + json_bytes,
        _ => bytes.len(),
    }
}

/// `bytes` as text when they are UTF-8 without control characters (other than tab and line breaks), so that a
/// binary payload is not shown as garbled text. MQTT uses it too.
pub(crate) fn printable_text(bytes: &[u8]) -> Option<&str> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r')).then_some(text)
}

/// Pushes the fields of the message; `Err` says why decoding stopped before the end.
fn decode_into(bytes: &[u8], fields: &mut Vec<Field>) -> Result<(), String> {
    let [first, code, id_high, id_low] = *bytes
        .get(..4)
        .and_then(|h| <&[u8; 4]>::try_from(h).ok())
        .ok_or_else(|| format!("a CoAP header needs 4 bytes, the message has {}", bytes.len()))?;
    let version = first >> 6;
    let mut version_field = bit_field("version", 0, 2, version).with_values(json!(version), json!(version));
    if version != 1 {
        version_field.warnings.push(format!("version {version}; CoAP is version 1"));
    }
    fields.push(version_field);
    let message_type = (first >> 4) & 0b11;
    let type_name = ["CON", "NON", "ACK", "RST"].get(usize::from(message_type)).copied().unwrap_or_default();
    fields.push(bit_field("type", 2, 2, message_type).with_values(json!(message_type), json!(type_name)));
    let token_length = usize::from(first & 0x0F);
    let mut tkl_field =
        bit_field("token length", 4, 4, first & 0x0F).with_values(json!(token_length), json!(token_length));
    if token_length > 8 {
        let problem = format!("byte 0: token length {token_length} is reserved (0 to 8); a format error");
        tkl_field.warnings.push(problem.clone());
        fields.push(tkl_field);
        return Err(problem);
    }
    fields.push(tkl_field);
    let code_text = format!("{}.{:02} {}", code >> 5, code & 0x1F, code_name(code));
    fields.push(Field::new("code", 1, 1).with_values(json!(code), json!(code_text.trim_end())));
    let message_id = u16::from_be_bytes([id_high, id_low]);
    fields.push(Field::new("message id", 2, 2).with_values(json!(message_id), json!(message_id)));
    let token = bytes
        .get(4..4 + token_length)
        .ok_or_else(|| format!("byte 4: the token of {token_length} bytes runs past the end"))?;
    if token_length > 0 {
        fields.push(Field::new("token", 4, token_length).with_values(json!(hex(token)), json!(hex(token))));
    }
    if code == 0 && bytes.len() > 4 {
        let problem = "byte 4: an Empty message (0.00) must be exactly 4 bytes".to_owned();
        fields.push(rest_field(bytes, 4, problem.clone()));
        return Ok(());
    }
    options_and_payload(bytes, 4 + token_length, fields)
}

/// A field of `bit_length` bits inside byte 0 at `bit_offset`.
fn bit_field(name: &str, bit_offset: u64, bit_length: u64, raw: u8) -> Field {
    let mut field = Field::new(name, 0, 1);
    field.bit_offset = Some(bit_offset);
    field.bit_length = Some(bit_length);
    field.raw = json!(raw);
    field
}

/// An option delta or length nibble with its extended bytes at `at`: (value, extended bytes used).
fn extended(nibble: u8, bytes: &[u8], at: usize) -> Result<(u32, usize), String> {
    match nibble {
        0..=12 => Ok((u32::from(nibble), 0)),
        13 => bytes.get(at).map(|&b| (u32::from(b) + 13, 1)).ok_or_else(|| format!("byte {at}: extended byte missing")),
        14 => bytes
            .get(at..at + 2)
            .map(|b| (b.iter().fold(0u32, |acc, &x| (acc << 8) | u32::from(x)) + 269, 2))
            .ok_or_else(|| format!("byte {at}: extended bytes missing")),
        _ => Err(format!("byte {}: option nibble 15 is reserved outside the payload marker", at.saturating_sub(1))),
    }
}

fn options_and_payload(bytes: &[u8], start: usize, fields: &mut Vec<Field>) -> Result<(), String> {
    let mut offset = start;
    let mut number: u32 = 0;
    let mut content_format = None;
    while let Some(&header) = bytes.get(offset) {
        if header == 0xFF {
            return payload(bytes, offset, content_format, fields);
        }
        let (delta, delta_extra) = extended(header >> 4, bytes, offset + 1)?;
        let (length, length_extra) = extended(header & 0x0F, bytes, offset + 1 + delta_extra)?;
        let value_offset = offset + 1 + delta_extra + length_extra;
        number = number.saturating_add(delta);
        let value = usize::try_from(length)
            .ok()
            .and_then(|length| bytes.get(value_offset..value_offset + length))
            .ok_or_else(|| format!("byte {value_offset}: option {number} value of {length} bytes runs past the end"))?;
        let mut option = option_field(number, value, value_offset);
        option.offset = offset;
        option.length = value_offset - offset + value.len();
        let header_text = format!("delta {delta} (option {number}), length {length}");
        let header_field = Field::new("header", offset, value_offset - offset)
            .with_values(json!(hex(bytes.get(offset..value_offset).unwrap_or_default())), json!(header_text));
        option.children.insert(0, header_field);
        if number == 12 {
            content_format = Some(uint(value));
        }
        fields.push(option);
        offset = value_offset + value.len();
    }
    Ok(())
}

/// A big-endian unsigned option value (at most 4 bytes are meaningful).
fn uint(value: &[u8]) -> u64 {
    value.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

/// The option `number` with value bytes `value` at `value_offset`; offset and length are set by the caller.
fn option_field(number: u32, value: &[u8], value_offset: usize) -> Field {
    let (name, kind) = option_info(number);
    let mut field = Field::new(name.map_or_else(|| format!("option {number}"), str::to_owned), 0, 0);
    let mut value_field = Field::new("value", value_offset, value.len());
    if name.is_none() {
        let class = if number % 2 == 1 { "critical" } else { "elective" };
        field.warnings.push(format!("option {number} is not a known option ({class})"));
    }
    match kind {
        OptionKind::Uint { unit, max_bytes } => {
            let raw = uint(value);
            value_field = value_field.with_values(json!(raw), json!(raw)).with_unit(unit);
            if value.len() > max_bytes {
                field.warnings.push(format!("{} value bytes; at most {max_bytes} allowed", value.len()));
            }
            if number == 12 || number == 17 {
                value_field.value = json!(format!("{} ({raw})", content_format_name(raw)));
            }
            if number == 23 || number == 27 {
                block_children(&mut value_field, raw);
            }
        }
        OptionKind::Text => match std::str::from_utf8(value) {
            Ok(text) => value_field = value_field.with_values(json!(text), json!(text)),
            Err(_) => {
                value_field = value_field.with_values(json!(hex(value)), json!(hex(value)));
                field.warnings.push("the value is not valid UTF-8".to_owned());
            }
        },
        OptionKind::Opaque | OptionKind::Empty => {
            value_field = value_field.with_values(json!(hex(value)), json!(hex(value)));
            if matches!(kind, OptionKind::Empty) && !value.is_empty() {
                field.warnings.push("this option has no value".to_owned());
            }
        }
    }
    field.raw = value_field.raw.clone();
    field.value = value_field.value.clone();
    field.unit = value_field.unit.clone();
    field.children.push(value_field);
    field
}

/// Block1/Block2 (RFC 7959): `NUM << 4 | M << 3 | SZX`, block size 2^(SZX + 4) bytes.
fn block_children(value_field: &mut Field, raw: u64) {
    let (number, more, szx) = (raw >> 4, raw & 0b1000 != 0, raw & 0b111);
    let size_bytes = 1u64 << (szx + 4);
    value_field.value = json!(format!("block {number}{}, {size_bytes} B", if more { ", more" } else { "" }));
    let (offset, length) = (value_field.offset, value_field.length);
    value_field.children.push(Field::new("num", offset, length).with_values(json!(number), json!(number)));
    value_field.children.push(Field::new("m", offset, length).with_values(json!(u8::from(more)), json!(more)));
    let mut size = Field::new("szx", offset, length).with_values(json!(szx), json!(size_bytes)).with_unit("B");
    if szx == 7 {
        size.warnings.push("SZX 7 is reserved".to_owned());
    }
    value_field.children.push(size);
}

/// The payload marker at `marker` and the payload after it, decoded by its Content-Format.
fn payload(bytes: &[u8], marker: usize, content_format: Option<u64>, fields: &mut Vec<Field>) -> Result<(), String> {
    let mut marker_field = Field::new("payload marker", marker, 1).with_values(json!(0xFF), json!("0xFF"));
    let body = bytes.get(marker + 1..).unwrap_or_default();
    if body.is_empty() {
        let problem = format!("byte {marker}: a payload marker followed by no payload is a format error");
        marker_field.warnings.push(problem);
    }
    fields.push(marker_field);
    if body.is_empty() {
        return Ok(());
    }
    let start = marker + 1;
    let mut field = Field::new("payload", start, body.len()).with_values(json!(hex(body)), json!(hex(body)));
    let sub = match content_format {
        Some(60 | 112) => Some(cbor::decode_items(body)),
        Some(50 | 110) => Some(json::decode_fields(body)),
        _ => None,
    };
    match sub {
        Some((mut children, warnings)) => {
            if content_format == Some(110)
                && let Some(root) = children.first_mut()
                && !cbor::senml::resolve_json_pack(root)
            {
                field.warnings.push("the Content-Format says SenML JSON, but this is not a SenML pack".to_owned());
            }
            field.children = children;
            field.children.iter_mut().for_each(|child| shift(child, start));
            field.warnings.extend(warnings);
        }
        None => {
            if let Some(text) = printable_text(body) {
                field.value = json!(text);
            }
        }
    }
    fields.push(field);
    Ok(())
}
