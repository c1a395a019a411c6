//! A cursor over the bytes of one MQTT packet that makes fields as it reads: integers, variable byte integers,
//! length-prefixed UTF-8 strings and binary data. It never reads past `end` (the end of the packet, or of a
//! property block); running out is an `Err` naming the byte.

use serde_json::json;

use crate::inspect::field::Field;
use crate::inspect::lpp::hex;

/// Reads fields from `bytes[pos..end]`; offsets stay those of the whole payload.
pub(super) struct Reader<'a> {
    bytes: &'a [u8],
    /// Next byte to read.
    pub(super) pos: usize,
    end: usize,
}

impl<'a> Reader<'a> {
    pub(super) fn new(bytes: &'a [u8], pos: usize, end: usize) -> Self {
        Self { bytes, pos, end: end.min(bytes.len()) }
    }

    /// A reader over the next `length` bytes (for a property block); `None` when they are not all there.
    pub(super) fn sub(&self, length: usize) -> Option<Reader<'a>> {
        let end = self.pos.checked_add(length).filter(|end| *end <= self.end)?;
        Some(Reader { bytes: self.bytes, pos: self.pos, end })
    }

    pub(super) fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn take(&mut self, count: usize, name: &str) -> Result<&'a [u8], String> {
        let slice = self
            .pos
            .checked_add(count)
            .filter(|end| *end <= self.end)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or_else(|| format!("byte {}: {name} needs {count} bytes, the packet ends", self.pos))?;
        self.pos += count;
        Ok(slice)
    }

    fn integer(&mut self, count: usize, name: &str) -> Result<(Field, u32), String> {
        let offset = self.pos;
        let value = self.take(count, name)?.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
        Ok((Field::new(name, offset, count).with_values(json!(value), json!(value)), value))
    }

    pub(super) fn u8(&mut self, name: &str) -> Result<(Field, u8), String> {
        let (field, value) = self.integer(1, name)?;
        Ok((field, u8::try_from(value).unwrap_or_default()))
    }

    pub(super) fn u16(&mut self, name: &str) -> Result<(Field, u16), String> {
        let (field, value) = self.integer(2, name)?;
        Ok((field, u16::try_from(value).unwrap_or_default()))
    }

    pub(super) fn u32(&mut self, name: &str) -> Result<(Field, u32), String> {
        self.integer(4, name)
    }

    /// A variable byte integer: 7 bits a byte, least significant group first, at most 4 bytes.
    pub(super) fn varint(&mut self, name: &str) -> Result<(Field, u32), String> {
        let offset = self.pos;
        let mut value = 0u32;
        for index in 0..4 {
            let byte = *self.take(1, name)?.first().unwrap_or(&0);
            value |= u32::from(byte & 0x7F) << (7 * index);
            if byte & 0x80 == 0 {
                let field = Field::new(name, offset, index + 1).with_values(json!(value), json!(value));
                return Ok((field, value));
            }
        }
        Err(format!("byte {offset}: {name} is a variable byte integer longer than 4 bytes (malformed)"))
    }

    /// A UTF-8 string with its 2-byte length; the field covers both.
    pub(super) fn string(&mut self, name: &str) -> Result<(Field, String), String> {
        let offset = self.pos;
        let (_, length) = self.u16(name)?;
        let text = self.take(usize::from(length), name)?;
        let mut field = Field::new(name, offset, 2 + text.len());
        match std::str::from_utf8(text) {
            Ok(text) => {
                field = field.with_values(json!(text), json!(text));
                Ok((field, text.to_owned()))
            }
            Err(_) => {
                field = field.with_values(json!(hex(text)), json!(hex(text)));
                field.warnings.push("not valid UTF-8; shown as hex".to_owned());
                Ok((field, String::new()))
            }
        }
    }

    /// Binary data with its 2-byte length; the field covers both.
    pub(super) fn binary(&mut self, name: &str) -> Result<Field, String> {
        let offset = self.pos;
        let (_, length) = self.u16(name)?;
        let data = self.take(usize::from(length), name)?;
        Ok(Field::new(name, offset, 2 + data.len()).with_values(json!(hex(data)), json!(hex(data))))
    }

    /// Everything left, consumed.
    pub(super) fn take_rest(&mut self) -> &'a [u8] {
        let rest = self.bytes.get(self.pos..self.end).unwrap_or_default();
        self.pos = self.end.max(self.pos);
        rest
    }

    /// Everything left as one field named `name`, or `None` when nothing is left.
    pub(super) fn rest(&mut self, name: &str) -> Option<Field> {
        let offset = self.pos;
        let rest = self.take_rest();
        (!rest.is_empty()).then(|| Field::new(name, offset, rest.len()).with_values(json!(hex(rest)), json!(hex(rest))))
    }
}
