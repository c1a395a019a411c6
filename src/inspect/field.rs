//! The field tree every decoder produces, and its JSON form (the `benchtop inspect --json` output).
//!
//! Invariants: a field's `offset..offset + length` lies within the payload; a bit field also gives
//! `bit_offset` (from the first bit of the payload, MSB first) and `bit_length`, and its byte range covers
//! every byte it touches; a group's children lie within the group's range. Decoders never panic on bad
//! input: what cannot be decoded becomes a warning on the field (or on the payload) and decoding stops there.

use serde::Serialize;
use thiserror::Error;

/// One decoded field.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Field {
    /// Name (from the layout, the format's label, or the position: `[3]`).
    pub name: String,
    /// First byte, from the start of the payload.
    pub offset: usize,
    /// Bytes covered.
    pub length: usize,
    /// First bit from the start of the payload (MSB first), for bit fields.
    pub bit_offset: Option<u64>,
    /// Bits, for bit fields.
    pub bit_length: Option<u64>,
    /// The value as stored: an integer, a hex string of bytes, a text.
    pub raw: serde_json::Value,
    /// The physical value (raw × scale + offset for numbers), or the decoded value.
    pub value: serde_json::Value,
    /// Unit of `value`, empty when none.
    pub unit: String,
    /// What looked wrong (out of range, truncated, reserved bits set …).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Sub-fields of a group, a record or a container.
    #[serde(rename = "fields", skip_serializing_if = "Vec::is_empty")]
    pub children: Vec<Field>,
}

impl Field {
    /// A field of `length` bytes at `offset` with no value yet.
    pub fn new(name: impl Into<String>, offset: usize, length: usize) -> Self {
        Self {
            name: name.into(),
            offset,
            length,
            bit_offset: None,
            bit_length: None,
            raw: serde_json::Value::Null,
            value: serde_json::Value::Null,
            unit: String::new(),
            warnings: Vec::new(),
            children: Vec::new(),
        }
    }

    /// Sets the raw and physical values.
    pub fn with_values(mut self, raw: serde_json::Value, value: serde_json::Value) -> Self {
        self.raw = raw;
        self.value = value;
        self
    }

    /// Sets the unit.
    pub fn with_unit(mut self, unit: impl Into<String>) -> Self {
        self.unit = unit.into();
        self
    }

    /// The first child named `name`.
    pub fn child(&self, name: &str) -> Option<&Field> {
        self.children.iter().find(|c| c.name == name)
    }

    /// The byte range `offset..offset + length`.
    pub fn bytes(&self) -> std::ops::Range<usize> {
        self.offset..self.offset + self.length
    }

    /// The values of this field and its children as compact JSON would carry them: `{name: value, …}` for a
    /// field with children, else the value.
    pub fn to_json_value(&self) -> serde_json::Value {
        if self.children.is_empty() {
            return self.value.clone();
        }
        let mut map = serde_json::Map::new();
        for child in &self.children {
            map.insert(child.name.clone(), child.to_json_value());
        }
        serde_json::Value::Object(map)
    }
}

/// A decoded payload.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decoded {
    /// What decoded it (`lpp`, `cbor`, `json`, `coap`, `mqtt`, `frame`, or the layout's name).
    pub format: String,
    /// Bytes in the payload.
    pub size_bytes: usize,
    /// Bytes of the same values as compact JSON (`{"name":value,…}`).
    pub json_size_bytes: usize,
    /// The top-level fields, in payload order.
    pub fields: Vec<Field>,
    /// Problems with the payload as a whole (trailing bytes, truncation).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What to know that is not a problem (a wire frame shown without its COBS layer).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The bytes the field offsets refer to, when they are not the input as given (a COBS wire frame is
    /// explained as the frame it decodes to); `None` when offsets refer to the input. In JSON: `decoded_hex`.
    #[serde(rename = "decoded_hex", serialize_with = "hex_option", skip_serializing_if = "Option::is_none")]
    pub shown_bytes: Option<Vec<u8>>,
}

fn hex_option<S: serde::Serializer>(bytes: &Option<Vec<u8>>, serializer: S) -> Result<S::Ok, S::Error> {
    match bytes {
        Some(bytes) => serializer.serialize_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()),
        None => serializer.serialize_none(),
    }
}

impl Decoded {
    /// A decoded payload from its fields; computes the compact-JSON size.
    pub fn new(format: impl Into<String>, size_bytes: usize, fields: Vec<Field>, warnings: Vec<String>) -> Self {
        let mut map = serde_json::Map::new();
        for field in &fields {
            map.insert(field.name.clone(), field.to_json_value());
        }
        let json_size_bytes = serde_json::to_string(&serde_json::Value::Object(map)).map_or(0, |s| s.len());
        Self {
            format: format.into(),
            size_bytes,
            json_size_bytes,
            fields,
            warnings,
            notes: Vec::new(),
            shown_bytes: None,
        }
    }

    /// The bytes the fields were decoded from and refer to, `input` unless [`Decoded::shown_bytes`] says
    /// otherwise.
    pub fn bytes<'a>(&'a self, input: &'a [u8]) -> &'a [u8] {
        self.shown_bytes.as_deref().unwrap_or(input)
    }

    /// The innermost field covering byte `index`, with its path of ancestors (for hover highlighting).
    pub fn field_at(&self, index: usize) -> Option<Vec<&Field>> {
        fn walk<'a>(fields: &'a [Field], index: usize, path: &mut Vec<&'a Field>) -> bool {
            for field in fields {
                if field.bytes().contains(&index) {
                    path.push(field);
                    walk(&field.children, index, path);
                    return true;
                }
            }
            false
        }
        let mut path = Vec::new();
        walk(&self.fields, index, &mut path).then_some(path)
    }
}

/// Why a payload or a layout could not be used at all (a payload that decodes partly is not an error: its
/// problems are warnings in the [`Decoded`]).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum InspectError {
    /// The pasted text is not hex or base64.
    #[error("the input is not {expected}: {reason}")]
    Input {
        /// `hex` or `base64`.
        expected: &'static str,
        /// What is wrong, with the position.
        reason: String,
    },
    /// A layout file that cannot be used; `line` is 1-based.
    #[error("layout line {line}: {reason}")]
    Layout {
        /// Line of the problem.
        line: usize,
        /// What is wrong and what to write instead.
        reason: String,
    },
    /// A value given for encoding that the layout cannot hold.
    #[error("field `{field}`: {reason}")]
    Encode {
        /// The field.
        field: String,
        /// What is wrong.
        reason: String,
    },
    /// A format name that is not known.
    #[error("unknown format `{0}`; use lpp, cbor, json, coap, mqtt or frame, or give a --layout")]
    UnknownFormat(String),
}

/// Test check: `field` and every field under it lie within a payload of `len` bytes, each child starting no
/// earlier than its parent.
#[cfg(test)]
pub(crate) fn assert_within(field: &Field, len: usize) {
    assert!(field.offset + field.length <= len, "{} at {}+{} beyond {len}", field.name, field.offset, field.length);
    for child in &field.children {
        assert!(child.offset >= field.offset, "{} starts before its parent", child.name);
        assert_within(child, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_size_and_hover_path_follow_the_tree() {
        let mut group = Field::new("batch", 1, 4);
        group.children.push(Field::new("t", 1, 2).with_values(json!(10), json!(10)));
        group.children.push(Field::new("v", 3, 2).with_values(json!(215), json!(21.5)).with_unit("°C"));
        let fields = vec![Field::new("count", 0, 1).with_values(json!(1), json!(1)), group];
        let decoded = Decoded::new("test", 5, fields, Vec::new());
        assert_eq!(decoded.json_size_bytes, r#"{"count":1,"batch":{"t":10,"v":21.5}}"#.len());
        let path: Vec<&str> = decoded.field_at(4).unwrap().iter().map(|f| f.name.as_str()).collect();
        assert_eq!(path, ["batch", "v"]);
        assert!(decoded.field_at(5).is_none());
        let text = serde_json::to_value(&decoded).unwrap();
        assert_eq!(text["fields"][1]["fields"][1]["unit"], "°C");
        assert!(text["fields"][0].get("fields").is_none());
    }
}
