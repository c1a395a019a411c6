//! CBOR decoder (RFC 8949): every major type, definite and indefinite lengths, tags, simple values and half,
//! single and double floats, as a field tree. A map's entries are named by their key and cover the key and the
//! value; array items are named `[i]`; every item's range covers its header.
//!
//! A top-level array of maps with integer keys is read as SenML (RFC 8428, see [`senml`]): labels get names and
//! each record its resolved name and unit. Several top-level items are read as a CBOR sequence (`[0]`, `[1]` …),
//! a single one is named `root`. Nesting deeper than [`MAX_DEPTH`] and malformed items stop decoding with a
//! warning; the rest of the payload is one `bytes` field. Never panics, and every loop consumes a byte.

pub mod senml;

use serde_json::json;

use super::field::{Decoded, Field};
use super::lpp::{hex, rest_field};

/// Deepest nesting of arrays, maps and tags decoded before giving up.
pub const MAX_DEPTH: usize = 64;

/// Decodes a CBOR item (or a CBOR sequence). Never panics.
pub fn decode(bytes: &[u8]) -> Decoded {
    let (fields, warnings, json_size_bytes) = decode_items_sized(bytes);
    let mut decoded = Decoded::new("cbor", bytes.len(), fields, warnings);
    decoded.json_size_bytes = json_size_bytes;
    decoded
}

/// The top-level fields and payload warnings of `bytes` read as CBOR (used by CoAP for a CBOR payload).
pub(crate) fn decode_items(bytes: &[u8]) -> (Vec<Field>, Vec<String>) {
    let (fields, warnings, _) = decode_items_sized(bytes);
    (fields, warnings)
}

/// [`decode_items`] with the size of the same data as compact JSON: the item itself (a sequence as an array),
/// arrays as arrays, a SenML pack as SenML JSON with its values as stored.
fn decode_items_sized(bytes: &[u8]) -> (Vec<Field>, Vec<String>, usize) {
    let mut items = Vec::new();
    let mut warnings = Vec::new();
    let mut offset = 0;
    while offset < bytes.len() {
        let name = format!("[{}]", items.len());
        let parsed = item(bytes, offset, 0, name);
        items.push(parsed);
        let Some(last) = items.last() else { break };
        offset = last.end;
        if let Err(problem) = &last.outcome {
            warnings.push(problem.clone());
            if offset < bytes.len() {
                items.push(Parsed::bare(rest_field(bytes, offset, "not decoded after the error above".to_owned())));
            }
            break;
        }
    }
    let json_value = match items.as_mut_slice() {
        [only] => {
            only.field.name = "root".to_owned();
            if only.array_of_int_maps {
                let value = senml::compact_pack(&only.field);
                senml::resolve(&mut only.field);
                value
            } else {
                super::json::compact_value(&only.field)
            }
        }
        items => serde_json::Value::Array(items.iter().map(|item| super::json::compact_value(&item.field)).collect()),
    };
    let json_size_bytes = super::json::compact_size_bytes(&json_value);
    (items.into_iter().map(|parsed| parsed.field).collect(), warnings, json_size_bytes)
}

/// One decoded item: its field, where it ended, and whether decoding may go on after it.
struct Parsed {
    field: Field,
    end: usize,
    /// `Err` carries the warning that stopped decoding (already on the innermost field).
    outcome: Result<(), String>,
    /// A non-empty array whose items are all maps with only integer keys (a SenML candidate).
    array_of_int_maps: bool,
    /// A map whose keys are all integers.
    int_key_map: bool,
}

impl Parsed {
    fn bare(field: Field) -> Self {
        let end = field.offset + field.length;
        Self { field, end, outcome: Ok(()), array_of_int_maps: false, int_key_map: false }
    }

    fn failed(mut field: Field, end: usize, problem: String) -> Self {
        field.length = end - field.offset;
        field.warnings.push(problem.clone());
        Self { field, end, outcome: Err(problem), array_of_int_maps: false, int_key_map: false }
    }
}

/// An item's initial byte and argument.
struct Head {
    major: u8,
    info: u8,
    /// The argument, or `None` for an indefinite length (additional information 31).
    argument: Option<u64>,
    /// Bytes of the initial byte and its argument.
    length: usize,
}

fn head(bytes: &[u8], offset: usize) -> Result<Head, String> {
    let initial = *bytes.get(offset).ok_or_else(|| format!("byte {offset}: the payload ends before an item"))?;
    let (major, info) = (initial >> 5, initial & 0x1F);
    let extra = match info {
        0..=23 => return Ok(Head { major, info, argument: Some(u64::from(info)), length: 1 }),
        24 => 1,
        25 => 2,
        26 => 4,
        27 => 8,
        31 => return Ok(Head { major, info, argument: None, length: 1 }),
        _ => return Err(format!("byte {offset}: additional information {info} is reserved")),
    };
    let argument = bytes
        .get(offset + 1..offset + 1 + extra)
        .ok_or_else(|| format!("byte {offset}: the {extra}-byte argument runs past the end of the payload"))?;
    let argument = argument.iter().fold(0u64, |acc, &byte| (acc << 8) | u64::from(byte));
    Ok(Head { major, info, argument: Some(argument), length: 1 + extra })
}

/// Decodes the item at `offset`, named `name`.
fn item(bytes: &[u8], offset: usize, depth: usize, name: String) -> Parsed {
    let field = Field::new(name, offset, 0);
    if depth > MAX_DEPTH {
        return Parsed::failed(field, offset, format!("byte {offset}: nested deeper than {MAX_DEPTH} levels"));
    }
    let head = match head(bytes, offset) {
        Ok(head) => head,
        Err(problem) => return Parsed::failed(field, offset, problem),
    };
    let body = offset + head.length;
    match (head.major, head.argument) {
        (0, Some(n)) => scalar(field, body, json!(n), json!(n)),
        (1, Some(n)) => {
            let value = i64::try_from(n).map_or_else(|_| json!(format!("-1-{n}")), |n| json!(-1 - n));
            scalar(field, body, json!(n), value)
        }
        (2 | 3, Some(len)) => string(bytes, field, head.major, body, len),
        (2 | 3, None) => chunked_string(bytes, field, head.major, body, depth),
        (4, count) => array(bytes, field, body, count, depth),
        (5, count) => map(bytes, field, body, count, depth),
        (6, Some(tag)) => tagged(bytes, field, body, tag, depth),
        (7, _) => simple(bytes, field, &head, body),
        _ => Parsed::failed(
            field,
            offset,
            format!("byte {offset}: major type {} cannot have an indefinite length", head.major),
        ),
    }
}

fn scalar(mut field: Field, end: usize, raw: serde_json::Value, value: serde_json::Value) -> Parsed {
    field.length = end - field.offset;
    field.raw = raw;
    field.value = value;
    Parsed::bare(field)
}

/// A definite byte string (major 2) or text string (major 3) of `len` bytes starting at `body`.
fn string(bytes: &[u8], field: Field, major: u8, body: usize, len: u64) -> Parsed {
    let content = usize::try_from(len).ok().and_then(|len| bytes.get(body..body.checked_add(len)?));
    let Some(content) = content else {
        let what = if major == 2 { "byte" } else { "text" };
        let problem = format!("byte {}: {what} string of {len} bytes runs past the end of the payload", field.offset);
        return Parsed::failed(field, body.min(bytes.len()), problem);
    };
    let end = body + content.len();
    if major == 2 {
        return scalar(field, end, json!(hex(content)), json!(hex(content)));
    }
    match std::str::from_utf8(content) {
        Ok(text) => scalar(field, end, json!(text), json!(text)),
        Err(_) => {
            let mut parsed = scalar(field, end, json!(hex(content)), json!(hex(content)));
            parsed.field.warnings.push("text string is not valid UTF-8; shown as hex".to_owned());
            parsed
        }
    }
}

/// An indefinite-length string: definite chunks of the same major type until a break.
fn chunked_string(bytes: &[u8], mut field: Field, major: u8, body: usize, depth: usize) -> Parsed {
    let mut offset = body;
    let mut joined = Vec::new();
    loop {
        if bytes.get(offset) == Some(&0xFF) {
            let end = offset + 1;
            let text = if major == 3 { std::str::from_utf8(&joined).ok() } else { None };
            let value = text.map_or_else(|| json!(hex(&joined)), |text| json!(text));
            let mut parsed = scalar(field, end, value.clone(), value);
            if major == 3 && text.is_none() {
                parsed.field.warnings.push("the joined text is not valid UTF-8; shown as hex".to_owned());
            }
            return parsed;
        }
        let initial = bytes.get(offset).copied();
        if let Some(initial) = initial
            && (initial >> 5 != major || initial & 0x1F == 31)
        {
            let problem = format!("byte {offset}: a string chunk must be a definite string of the same type");
            return Parsed::failed(field, offset, problem);
        }
        let chunk = item(bytes, offset, depth + 1, format!("[{}]", field.children.len()));
        let (end, outcome) = (chunk.end, chunk.outcome.clone());
        // A chunk that decoded is a definite string: its content is what follows its head.
        let content_start = head(bytes, offset).map_or(end, |chunk_head| offset + chunk_head.length);
        joined.extend_from_slice(bytes.get(content_start..end).unwrap_or_default());
        field.children.push(chunk.field);
        if let Err(problem) = outcome {
            field.length = end - field.offset;
            return Parsed { field, end, outcome: Err(problem), array_of_int_maps: false, int_key_map: false };
        }
        offset = end;
    }
}

/// Reads items (or key/value pairs) until `count` or, for an indefinite length, a break byte.
fn array(bytes: &[u8], mut field: Field, body: usize, count: Option<u64>, depth: usize) -> Parsed {
    let mut offset = body;
    let mut all_int_maps = true;
    let mut index: u64 = 0;
    loop {
        if count == Some(index) || (count.is_none() && bytes.get(offset) == Some(&0xFF)) {
            let end = if count.is_none() { offset + 1 } else { offset };
            field.length = end - field.offset;
            field.raw = json!(format!("array({index})"));
            let array_of_int_maps = all_int_maps && index > 0;
            return Parsed { field, end, outcome: Ok(()), array_of_int_maps, int_key_map: false };
        }
        let parsed = item(bytes, offset, depth + 1, format!("[{index}]"));
        all_int_maps &= parsed.int_key_map;
        let (end, outcome) = (parsed.end, parsed.outcome);
        field.children.push(parsed.field);
        if let Err(problem) = outcome {
            field.length = end - field.offset;
            return Parsed { field, end, outcome: Err(problem), array_of_int_maps: false, int_key_map: false };
        }
        offset = end;
        index += 1;
    }
}

fn map(bytes: &[u8], mut field: Field, body: usize, count: Option<u64>, depth: usize) -> Parsed {
    let mut offset = body;
    let mut int_keys = true;
    let mut seen_keys = std::collections::HashSet::new();
    let mut index: u64 = 0;
    loop {
        if count == Some(index) || (count.is_none() && bytes.get(offset) == Some(&0xFF)) {
            let end = if count.is_none() { offset + 1 } else { offset };
            field.length = end - field.offset;
            field.raw = json!(format!("map({index})"));
            return Parsed { field, end, outcome: Ok(()), array_of_int_maps: false, int_key_map: int_keys };
        }
        let key = item(bytes, offset, depth + 1, format!("key [{index}]"));
        if key.outcome.is_err() {
            let (end, outcome) = (key.end, key.outcome.clone());
            field.children.push(key.field);
            field.length = end - field.offset;
            return Parsed { field, end, outcome, array_of_int_maps: false, int_key_map: false };
        }
        let is_int = bytes.get(offset).is_some_and(|b| b >> 5 <= 1);
        int_keys &= is_int;
        let name = match (&key.field.value, is_int) {
            (serde_json::Value::String(text), false) => text.clone(),
            (serde_json::Value::Number(number), true) => number.to_string(),
            _ => format!("key [{index}]"),
        };
        let duplicate = !seen_keys.insert((is_int, name.clone()));
        let value = item(bytes, key.end, depth + 1, name);
        let (end, outcome) = (value.end, value.outcome);
        // The entry covers the key and the value so that every byte of the map belongs to a child.
        let mut entry = value.field;
        entry.length = end - offset;
        entry.offset = offset;
        if duplicate {
            entry.warnings.push("duplicate key: the map is not valid CBOR (RFC 8949 §5.6)".to_owned());
        }
        field.children.push(entry);
        if let Err(problem) = outcome {
            field.length = end - field.offset;
            return Parsed { field, end, outcome: Err(problem), array_of_int_maps: false, int_key_map: false };
        }
        offset = end;
        index += 1;
    }
}

/// What the registered tags of the reference mean.
fn tag_meaning(tag: u64) -> &'static str {
    match tag {
        0 => "date/time string",
        1 => "epoch time",
        2 => "positive bignum",
        3 => "negative bignum",
        16 => "COSE_Encrypt0",
        17 => "COSE_Mac0",
        18 => "COSE_Sign1",
        _ => "tag",
    }
}

fn tagged(bytes: &[u8], mut field: Field, body: usize, tag: u64, depth: usize) -> Parsed {
    let content = item(bytes, body, depth + 1, "content".to_owned());
    field.raw = json!(tag);
    field.value = json!(format!("{} ({tag})", tag_meaning(tag)));
    if tag == 1
        && let Some(secs) = content.field.value.as_u64()
        // humantime formats years up to 9999 only (its Display fails, and `format!` would panic, past that).
        && secs < 253_402_300_800
        && let Some(time) = std::time::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(secs))
    {
        field.value = json!(format!("epoch time (1): {}", humantime::format_rfc3339_seconds(time)));
    }
    let (end, outcome) = (content.end, content.outcome);
    field.children.push(content.field);
    field.length = end - field.offset;
    Parsed { field, end, outcome, array_of_int_maps: false, int_key_map: false }
}

/// Major type 7: simple values and floats.
fn simple(bytes: &[u8], field: Field, head: &Head, end: usize) -> Parsed {
    let offset = field.offset;
    let argument = head.argument.unwrap_or_default();
    match head.info {
        20 => scalar(field, end, json!(20), json!(false)),
        21 => scalar(field, end, json!(21), json!(true)),
        22 => scalar(field, end, json!(22), serde_json::Value::Null),
        23 => scalar(field, end, json!(23), json!("undefined")),
        25 => scalar(field, end, json!(argument), json!(half_to_f64(argument as u16))),
        26 => scalar(field, end, json!(argument), json!(f64::from(f32::from_bits(argument as u32)))),
        27 => scalar(field, end, json!(argument), json!(f64::from_bits(argument))),
        31 => Parsed::failed(field, offset, format!("byte {offset}: a break outside an indefinite-length item")),
        24 if argument < 32 => Parsed::failed(
            field,
            end.min(bytes.len()),
            format!("byte {offset}: simple value {argument} must be encoded in the initial byte"),
        ),
        _ => scalar(field, end, json!(argument), json!(format!("simple({argument})"))),
    }
}

/// An IEEE 754 half-precision float (RFC 8949 appendix D).
pub(crate) fn half_to_f64(half: u16) -> f64 {
    let exponent = i32::from((half >> 10) & 0x1F);
    let mantissa = f64::from(half & 0x3FF);
    let magnitude = match exponent {
        0 => mantissa * 2f64.powi(-24),
        31 if mantissa == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        _ => (mantissa + 1024.0) * 2f64.powi(exponent - 25),
    };
    if half & 0x8000 != 0 { -magnitude } else { magnitude }
}

#[cfg(test)]
mod tests;
