//! User layouts: a TOML file that says what each byte (or bit) of a packed payload means, used both to
//! decode payloads into the [`Decoded`] field tree and to encode field values into bytes.
//!
//! The format is described with examples in `docs/layouts.md`; `assets/layouts/` holds two examples.
//! A loaded [`Layout`] is valid: every name is unique in its record and free of `[ ] . = ,`; every
//! `count_field` names an earlier integer field in scope; byte-sized types start on a byte boundary whenever
//! that can be known from the layout alone (bit fields before them fill whole bytes). Problems found while
//! loading are [`InspectError::Layout`] with the 1-based line of the problem. Decoding never panics and
//! always ends: each repeated record consumes at least one bit, or repetition stops.

mod bits;
mod decode;
mod encode;
mod parse;

use super::{Decoded, InspectError};

/// The order of bytes in a multi-byte number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteOrder {
    /// Most significant byte first (network order; the default).
    Big,
    /// Least significant byte first.
    Little,
}

/// How many records a group holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Count {
    /// A fixed number.
    Fixed(u64),
    /// The raw value of an earlier field.
    Field(String),
}

/// What a field stores.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldType {
    /// A whole-byte integer (`u8` … `i64`, `u24`, `i24`).
    Int {
        /// Bytes, 1–8.
        byte_count: u8,
        /// Two's complement.
        signed: bool,
    },
    /// An IEEE 754 float (`f32`, `f64`).
    Float {
        /// Bytes, 4 or 8.
        byte_count: u8,
    },
    /// `bits:N` / `ibits:N`: N bits from the MSB-first bit stream.
    Bits {
        /// Bits, 1–64.
        bit_count: u8,
        /// Two's complement (`ibits`).
        signed: bool,
    },
    /// `pad:N`: N bytes skipped.
    Pad(usize),
    /// `bytes:N`: N raw bytes, shown as hex.
    Bytes(usize),
    /// A repeated record.
    Group {
        /// Number of records.
        count: Count,
        /// The fields of one record.
        fields: Vec<FieldSpec>,
    },
}

impl FieldType {
    /// Bits the field occupies, when known from the layout alone.
    pub fn static_bits(&self) -> Option<u64> {
        match self {
            Self::Int { byte_count, .. } | Self::Float { byte_count } => Some(u64::from(*byte_count) * 8),
            Self::Bits { bit_count, .. } => Some(u64::from(*bit_count)),
            Self::Pad(byte_count) | Self::Bytes(byte_count) => Some(*byte_count as u64 * 8),
            Self::Group { count: Count::Fixed(count), fields } => record_bits(fields)?.checked_mul(*count),
            Self::Group { count: Count::Field(_), .. } => None,
        }
    }

    /// Whether the field must start on a byte boundary.
    pub fn byte_aligned(&self) -> bool {
        matches!(self, Self::Int { .. } | Self::Float { .. } | Self::Pad(_) | Self::Bytes(_))
    }

    /// Whether the field holds an integer a `count_field` may name.
    pub fn is_integer(&self) -> bool {
        matches!(self, Self::Int { .. } | Self::Bits { .. })
    }
}

/// Bits one record of `fields` occupies, when known from the layout alone.
pub fn record_bits(fields: &[FieldSpec]) -> Option<u64> {
    fields.iter().try_fold(0u64, |sum, field| sum.checked_add(field.field_type.static_bits()?))
}

/// One field of a layout.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSpec {
    /// Name, unique in its record.
    pub name: String,
    /// What it stores.
    pub field_type: FieldType,
    /// Byte order of a multi-byte number.
    pub byte_order: ByteOrder,
    /// value = raw × scale + offset.
    pub scale: f64,
    /// value = raw × scale + offset.
    pub offset: f64,
    /// Unit of the value, empty when none.
    pub unit: String,
    /// Line of the field in the layout file, 1-based.
    pub line: usize,
}

impl FieldSpec {
    /// Whether the physical value is the raw value unchanged.
    pub fn is_identity(&self) -> bool {
        self.scale == 1.0 && self.offset == 0.0
    }
}

/// A loaded, checked layout.
#[derive(Debug, Clone, PartialEq)]
pub struct Layout {
    /// Name (shown as the decoded payload's format).
    pub name: String,
    /// Default byte order of its fields.
    pub byte_order: ByteOrder,
    /// Top-level fields, in payload order.
    pub fields: Vec<FieldSpec>,
}

impl Layout {
    /// Loads a layout from TOML text; a problem is reported with its line and what to write instead.
    pub fn from_toml(text: &str) -> Result<Self, InspectError> {
        parse::parse(text)
    }

    /// Decodes a payload. Never fails: truncation and trailing bytes become warnings on the result.
    pub fn decode(&self, bytes: &[u8]) -> Decoded {
        decode::decode(self, bytes)
    }

    /// Encodes field values given in physical units as `name=value,…` (`group[i].field=value` inside groups;
    /// hex for `bytes:N`). A count field left out is set to the number of records given.
    pub fn encode(&self, assignments: &str) -> Result<Vec<u8>, InspectError> {
        encode::encode(self, assignments)
    }

    /// Payload size when known from the layout alone (no `count_field` groups), bytes.
    pub fn static_size_bytes(&self) -> Option<u64> {
        record_bits(&self.fields).map(|bits| bits.div_ceil(8))
    }
}

#[cfg(test)]
mod tests;
