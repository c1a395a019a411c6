//! Any postcard message explained from its schema: postcard-schema's owned types (as a postcard-rpc device
//! reports them, or as `firmware-protocol` declares them) drive a walk over the bytes that yields one
//! [`Field`] per value, with the exact bytes it came from.
//!
//! The wire rules are postcard's: `u8`/`i8`/`bool` are one byte; wider integers are LEB128 varints (signed ones
//! zigzag-encoded first); `f32`/`f64` are little-endian; strings, byte arrays, sequences and maps start with
//! a varint count; `Option` has a tag byte; an enum starts with its variant index as a varint; structs and
//! tuples are their members in order, with nothing between them. A fixed array of bytes (`[u8; N]`, a tuple
//! of `u8` to the schema) is shown as one hex value.
//!
//! Invariants: every field's range lies within the input; decoding never panics, and never runs away on a
//! hostile schema or input — nesting is capped at [`MAX_DEPTH`] and the whole walk at [`MAX_FIELDS`] values,
//! so zero-sized elements repeated a billion times end with a warning, not a hang. What cannot be decoded
//! becomes a warning and the walk stops there, keeping what was read before.

#[cfg(test)]
mod tests;

use postcard_schema::schema::owned::{OwnedDataModelType, OwnedDataModelVariant, OwnedNamedType, OwnedNamedValue};
use serde_json::{Value, json};

use super::lpp::hex;
use super::{Decoded, Field};

/// Deepest nesting followed (schemas from a device are data, and may be recursive or absurd).
pub const MAX_DEPTH: usize = 32;
/// Most values decoded from one message, children included.
pub const MAX_FIELDS: usize = 20_000;

/// Decodes `bytes` as one postcard message of type `ty`; bytes left over and a short input are warnings.
pub fn decode(bytes: &[u8], ty: &OwnedNamedType) -> Decoded {
    let mut walker = Walker::new(bytes, 0);
    let field = walker.value(&ty.name, ty);
    let mut warnings = walker.take_warnings();
    if walker.position() < bytes.len() {
        warnings.push(leftover_warning(bytes.len() - walker.position()));
    }
    Decoded::new("postcard", bytes.len(), field.into_iter().collect(), warnings)
}

/// The warning for bytes after the end of a message.
pub fn leftover_warning(bytes: usize) -> String {
    let plural = if bytes == 1 { "" } else { "s" };
    format!("{bytes} byte{plural} after the end of the message: the schema may not match the sender's")
}

/// Walks postcard bytes with a schema, from a position, one value at a time.
pub struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
    fields_left: usize,
    warnings: Vec<String>,
}

impl<'a> Walker<'a> {
    /// A walker over `bytes` whose next value starts at byte `at`.
    pub fn new(bytes: &'a [u8], at: usize) -> Self {
        Self { bytes, at, fields_left: MAX_FIELDS, warnings: Vec::new() }
    }

    /// Where the next value starts.
    pub fn position(&self) -> usize {
        self.at
    }

    /// The problems met so far (a short input, an unknown variant, a value out of range), emptied.
    pub fn take_warnings(&mut self) -> Vec<String> {
        std::mem::take(&mut self.warnings)
    }

    /// Reads one value of type `ty`, named `name`. `None` when not even its first byte could be read; a
    /// container that breaks off midway is returned with the members read so far.
    pub fn value(&mut self, name: &str, ty: &OwnedNamedType) -> Option<Field> {
        self.value_at_depth(name, ty, 0)
    }

    fn warn(&mut self, warning: String) {
        // One message gets a handful of warnings at most; a repeated one says nothing new.
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes;
        let Some(slice) = self.at.checked_add(n).and_then(|end| bytes.get(self.at..end)) else {
            let have = bytes.len().saturating_sub(self.at);
            self.warn(format!("the message ends early: {n} bytes needed at byte {}, {have} left", self.at));
            return None;
        };
        self.at += n;
        Some(slice)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    /// A LEB128 varint of at most `max_bytes` bytes.
    fn varint(&mut self, max_bytes: usize) -> Option<u128> {
        let mut value = 0u128;
        for i in 0..max_bytes {
            let byte = self.byte()?;
            value |= u128::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        self.warn(format!("a varint at byte {} runs past the {max_bytes} bytes its type allows", self.at));
        None
    }

    /// A count (of bytes, items or entries) as a varint.
    fn count(&mut self) -> Option<usize> {
        let start = self.at;
        let count = self.varint(VARINT_MAX_BYTES_U64)?;
        match usize::try_from(count) {
            Ok(count) => Some(count),
            Err(_) => {
                self.warn(format!("the count {count} at byte {start} is larger than any message"));
                None
            }
        }
    }

    fn value_at_depth(&mut self, name: &str, ty: &OwnedNamedType, depth: usize) -> Option<Field> {
        if depth > MAX_DEPTH {
            self.warn(format!("nested more than {MAX_DEPTH} levels deep at byte {}; stopped there", self.at));
            return None;
        }
        if self.fields_left == 0 {
            self.warn(format!("more than {MAX_FIELDS} values; stopped at byte {}", self.at));
            return None;
        }
        self.fields_left -= 1;
        let start = self.at;
        let mut field = Field::new(name, start, 0);
        use OwnedDataModelType as T;
        match &ty.ty {
            T::Bool => {
                let b = self.byte()?;
                if b > 1 {
                    field.warnings.push(format!("a bool is 0 or 1, this byte is {b}"));
                }
                (field.raw, field.value) = (json!(b), json!(b != 0));
            }
            T::U8 => {
                let b = self.byte()?;
                (field.raw, field.value) = (json!(b), json!(b));
            }
            T::I8 => {
                let b = self.byte()?;
                (field.raw, field.value) = (json!(b), json!(b as i8));
            }
            T::U16 | T::U32 | T::U64 | T::U128 | T::Usize => {
                let (max_bytes, bits) = unsigned_width(&ty.ty);
                let v = self.varint(max_bytes)?;
                if bits < 128 && v >> bits != 0 {
                    field.warnings.push(format!("{v} does not fit in {bits} bits"));
                }
                let value = integer(v);
                (field.raw, field.value) = (value.clone(), value);
            }
            T::I16 | T::I32 | T::I64 | T::I128 | T::Isize => {
                let (max_bytes, bits) = unsigned_width(&ty.ty);
                let stored = self.varint(max_bytes)?;
                if bits < 128 && stored >> bits != 0 {
                    field.warnings.push(format!("zigzag value {stored} does not fit in {bits} bits"));
                }
                // Zigzag: 0, -1, 1, -2, 2 … are stored as 0, 1, 2, 3, 4 …
                let value = ((stored >> 1) as i128) ^ -((stored & 1) as i128);
                (field.raw, field.value) = (integer(stored), signed(value));
            }
            T::F32 => {
                let b = self.take(4)?;
                let v = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                // Shortest text that reads back as the same f32 (0.1, not 0.10000000149011612).
                let value = v.to_string().parse::<f64>().map_or(Value::Null, float);
                (field.raw, field.value) = (json!(hex(b)), value);
            }
            T::F64 => {
                let b = self.take(8)?;
                let v = f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
                (field.raw, field.value) = (json!(hex(b)), float(v));
            }
            T::Char | T::String => {
                let len = self.count()?;
                let b = self.take(len)?;
                let text = match std::str::from_utf8(b) {
                    Ok(text) => text.to_string(),
                    Err(e) => {
                        field.warnings.push(format!("not UTF-8: {e}"));
                        String::from_utf8_lossy(b).into_owned()
                    }
                };
                if matches!(ty.ty, T::Char) && text.chars().count() != 1 {
                    field.warnings.push(format!("a char holds one character, this one holds {}", text.chars().count()));
                }
                (field.raw, field.value) = (json!(hex(b)), json!(text));
            }
            T::ByteArray => {
                let len = self.count()?;
                let b = self.take(len)?;
                (field.raw, field.value) = (json!(hex(b)), json!(hex(b)));
            }
            T::Option(inner) => {
                let tag = self.byte()?;
                field.raw = json!(tag);
                match tag {
                    0 => field.value = json!("none"),
                    1 => field.children.extend(self.value_at_depth("some", inner, depth + 1)),
                    _ => field.warnings.push(format!("option tag {tag} is neither 0 (none) nor 1 (some)")),
                }
            }
            T::Unit | T::UnitStruct => field.value = json!(ty.name),
            T::Schema => self.schema(&mut field)?,
            T::NewtypeStruct(inner) => {
                // A newtype is its inner value on the wire; show that value under the outer name.
                let inner = self.value_at_depth(name, inner, depth + 1)?;
                field = inner;
            }
            T::Seq(item) => {
                let count = self.count()?;
                field.raw = json!(count);
                for i in 0..count {
                    let Some(child) = self.value_at_depth(&format!("[{i}]"), item, depth + 1) else { break };
                    field.children.push(child);
                }
            }
            T::Tuple(items) | T::TupleStruct(items) => {
                if items.len() > 1 && items.iter().all(|i| i.ty == T::U8) {
                    let b = self.take(items.len())?;
                    (field.raw, field.value) = (json!(hex(b)), json!(hex(b)));
                } else {
                    self.members(&mut field, items.iter().enumerate().map(|(i, t)| (i.to_string(), t)), depth);
                }
            }
            T::Map { key, val } => {
                let count = self.count()?;
                field.raw = json!(count);
                for i in 0..count {
                    let mut entry = Field::new(format!("[{i}]"), self.at, 0);
                    let pair = [("key".to_string(), key.as_ref()), ("value".to_string(), val.as_ref())];
                    let complete = self.members(&mut entry, pair.into_iter(), depth + 1);
                    entry.length = self.at - entry.offset;
                    field.children.push(entry);
                    if !complete {
                        break;
                    }
                }
            }
            T::Struct(members) => {
                self.members(&mut field, named(members), depth);
            }
            T::Enum(variants) => {
                let index = self.varint(VARINT_MAX_BYTES_U32)?;
                field.raw = integer(index);
                let Some(variant) = usize::try_from(index).ok().and_then(|i| variants.get(i)) else {
                    field.warnings.push(format!("variant {index} is not one of the {} this type has", variants.len()));
                    field.length = self.at - start;
                    return Some(field);
                };
                field.value = json!(variant.name);
                match &variant.ty {
                    OwnedDataModelVariant::UnitVariant => {}
                    OwnedDataModelVariant::NewtypeVariant(inner) => {
                        field.children.extend(self.value_at_depth(&variant.name, inner, depth + 1));
                    }
                    OwnedDataModelVariant::TupleVariant(items) => {
                        self.members(&mut field, items.iter().enumerate().map(|(i, t)| (i.to_string(), t)), depth);
                    }
                    OwnedDataModelVariant::StructVariant(members) => {
                        self.members(&mut field, named(members), depth);
                    }
                }
            }
        }
        field.length = self.at - start;
        Some(field)
    }

    /// Reads members one after another into `parent`; false when one could not be read.
    fn members<'t>(
        &mut self,
        parent: &mut Field,
        members: impl Iterator<Item = (String, &'t OwnedNamedType)>,
        depth: usize,
    ) -> bool {
        for (name, ty) in members {
            match self.value_at_depth(&name, ty, depth + 1) {
                Some(child) => parent.children.push(child),
                None => return false,
            }
        }
        true
    }

    /// A schema carried as a value (postcard-rpc's schema topic): postcard-schema's own type, read whole.
    fn schema(&mut self, field: &mut Field) -> Option<()> {
        let rest = self.bytes.get(self.at..).unwrap_or_default();
        // postcard-schema's own reader recurses without a limit; measure the nesting first so that hostile
        // bytes cannot exhaust the stack.
        if schema_len(rest, 0).is_none() {
            self.warn(format!("a schema at byte {} is cut off or nested too deeply", self.at));
            return None;
        }
        match postcard::take_from_bytes::<OwnedNamedType>(rest) {
            Ok((schema, after)) => {
                let used = rest.len() - after.len();
                let b = self.take(used)?;
                (field.raw, field.value) = (json!(hex(b)), json!(schema.to_pseudocode()));
                Some(())
            }
            Err(e) => {
                self.warn(format!("a schema at byte {} does not decode: {e}", self.at));
                None
            }
        }
    }
}

/// The length of a postcard-encoded `OwnedNamedType` at the start of `bytes`, if it is complete and nested at
/// most [`MAX_DEPTH`] deep. Follows the variant order of `OwnedDataModelType` and `OwnedDataModelVariant`.
fn schema_len(bytes: &[u8], depth: usize) -> Option<usize> {
    fn varint(bytes: &[u8], at: &mut usize) -> Option<usize> {
        let mut value = 0u64;
        for i in 0..VARINT_MAX_BYTES_U64 {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= u64::from(byte & 0x7F).checked_shl(7 * i as u32)?;
            if byte & 0x80 == 0 {
                return usize::try_from(value).ok();
            }
        }
        None
    }
    fn string(bytes: &[u8], at: &mut usize) -> Option<()> {
        let len = varint(bytes, at)?;
        *at = at.checked_add(len).filter(|&end| end <= bytes.len())?;
        Some(())
    }
    fn named_type(bytes: &[u8], at: &mut usize, depth: usize) -> Option<()> {
        string(bytes, at)?;
        data_model_type(bytes, at, depth)
    }
    fn list(bytes: &[u8], at: &mut usize, depth: usize, with_names: bool) -> Option<()> {
        let count = varint(bytes, at)?;
        for _ in 0..count {
            if with_names {
                string(bytes, at)?;
            }
            named_type(bytes, at, depth + 1)?;
        }
        Some(())
    }
    fn data_model_type(bytes: &[u8], at: &mut usize, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match varint(bytes, at)? {
            0..=17 | 19 | 20 | 28 => Some(()),
            18 | 21 | 22 => named_type(bytes, at, depth + 1),
            23 | 24 => list(bytes, at, depth, false),
            25 => {
                named_type(bytes, at, depth + 1)?;
                named_type(bytes, at, depth + 1)
            }
            26 => list(bytes, at, depth, true),
            27 => {
                let count = varint(bytes, at)?;
                for _ in 0..count {
                    string(bytes, at)?;
                    match varint(bytes, at)? {
                        0 => {}
                        1 => named_type(bytes, at, depth + 1)?,
                        2 => list(bytes, at, depth + 1, false)?,
                        3 => list(bytes, at, depth + 1, true)?,
                        _ => return None,
                    }
                }
                Some(())
            }
            _ => None,
        }
    }
    let mut at = 0;
    named_type(bytes, &mut at, depth)?;
    Some(at)
}

/// Varint bytes of a `u32`/`u64` (7 bits per byte).
const VARINT_MAX_BYTES_U32: usize = 5;
const VARINT_MAX_BYTES_U64: usize = 10;

/// Most varint bytes and value bits of an integer type (postcard sends `usize`/`isize` as 64-bit).
fn unsigned_width(ty: &OwnedDataModelType) -> (usize, u32) {
    use OwnedDataModelType as T;
    match ty {
        T::U16 | T::I16 => (3, 16),
        T::U32 | T::I32 => (VARINT_MAX_BYTES_U32, 32),
        T::U128 | T::I128 => (19, 128),
        _ => (VARINT_MAX_BYTES_U64, 64),
    }
}

fn named(members: &[OwnedNamedValue]) -> impl Iterator<Item = (String, &OwnedNamedType)> {
    members.iter().map(|m| (m.name.clone(), &m.ty))
}

/// An unsigned integer as a JSON number, or as text beyond `u64`.
fn integer(v: u128) -> Value {
    u64::try_from(v).map_or_else(|_| json!(v.to_string()), |v| json!(v))
}

/// A signed integer as a JSON number, or as text beyond `i64`.
fn signed(v: i128) -> Value {
    i64::try_from(v).map_or_else(|_| json!(v.to_string()), |v| json!(v))
}

/// A float as a JSON number; NaN and infinities, which JSON has no number for, as text.
fn float(v: f64) -> Value {
    serde_json::Number::from_f64(v).map_or_else(|| json!(v.to_string()), Value::Number)
}
