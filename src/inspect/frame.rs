//! Benchtop protocol frames explained: the COBS layer, the CRC-32C, postcard-rpc's header (key and sequence
//! number), and the message body decoded field by field from the message's postcard schema.
//!
//! Input is either a whole wire frame (`COBS(payload ‖ CRC-32C LE) ‖ 0x00`, as a capture of the serial line
//! shows it) or a bare payload (header and body). The message is found by its key among every endpoint and
//! topic of `firmware-protocol` (and postcard-rpc's error key), compared at the key length the frame uses.
//! The body is walked with the schema, so any message the protocol crate defines decodes without code of its
//! own here. Field offsets refer to the input as given: inside a wire frame, to the encoded bytes.

use firmware_protocol::icd::{
    ConfigCheckEndpoint, ConfigCommitEndpoint, ConfigDiscardEndpoint, ConfigReadEndpoint, ConfigStageEndpoint,
    CurrentBatchTopic, DeviceInfoEndpoint, ERROR_KEY, IdentifyEndpoint, LogTopic, PingEndpoint, RebootEndpoint,
    SampleBatchTopic, StreamingSetEndpoint, WireError,
};
use postcard_rpc::header::{VarHeader, VarKey, VarSeq};
use postcard_rpc::{Endpoint, Key, Topic};
use postcard_schema::Schema;
use postcard_schema::schema::{DataModelType, DataModelVariant, NamedType};
use serde_json::{Value, json};

use super::{Decoded, Field};

/// Deepest nesting the body walker follows (schemas are finite, this guards recursive ones).
const MAX_DEPTH: usize = 32;

/// A message the protocol defines.
struct Message {
    path: &'static str,
    kind: &'static str,
    key: Key,
    schema: &'static NamedType,
}

fn messages() -> Vec<Message> {
    let mut out = Vec::new();
    macro_rules! endpoints {
        ($($e:ty),*) => {$(
            out.push(Message { path: <$e>::PATH, kind: "request", key: <$e>::REQ_KEY, schema: <$e as Endpoint>::Request::SCHEMA });
            out.push(Message { path: <$e>::PATH, kind: "response", key: <$e>::RESP_KEY, schema: <$e as Endpoint>::Response::SCHEMA });
        )*};
    }
    macro_rules! topics {
        ($($t:ty),*) => {$(
            out.push(Message { path: <$t>::PATH, kind: "topic", key: <$t>::TOPIC_KEY, schema: <$t as Topic>::Message::SCHEMA });
        )*};
    }
    endpoints!(
        PingEndpoint,
        DeviceInfoEndpoint,
        ConfigReadEndpoint,
        ConfigStageEndpoint,
        ConfigCheckEndpoint,
        ConfigCommitEndpoint,
        ConfigDiscardEndpoint,
        StreamingSetEndpoint,
        IdentifyEndpoint,
        RebootEndpoint
    );
    topics!(SampleBatchTopic, CurrentBatchTopic, LogTopic);
    out.push(Message { path: "error", kind: "response", key: ERROR_KEY, schema: WireError::SCHEMA });
    out
}

/// Decodes a Benchtop protocol frame or payload.
pub fn decode(bytes: &[u8]) -> Decoded {
    let mut fields = Vec::new();
    let mut warnings = Vec::new();
    let is_wire_frame = bytes.last() == Some(&0) && bytes.iter().filter(|&&b| b == 0).count() == 1;
    let (payload, map) = if is_wire_frame {
        match cobs_decode(&bytes[..bytes.len() - 1]) {
            Some((decoded, map)) if decoded.len() >= 4 => {
                let (payload, crc) = decoded.split_at(decoded.len() - 4);
                let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
                let computed = crc32c::crc32c(payload);
                let crc_start = map.get(payload.len()).copied().unwrap_or(0);
                let mut field = Field::new("crc32c", crc_start, bytes.len() - 1 - crc_start)
                    .with_values(json!(format!("{stored:08x}")), json!(stored == computed));
                if stored != computed {
                    field.warnings.push(format!("CRC mismatch: the payload's CRC-32C is {computed:08x}"));
                }
                let delimiter =
                    Field::new("delimiter", bytes.len() - 1, 1).with_values(json!(0), json!("end of frame"));
                let mut map = map;
                map.truncate(payload.len());
                let payload = payload.to_vec();
                fields.push(field);
                fields.push(delimiter);
                (payload, map)
            }
            _ => {
                warnings.push("ends in 0x00 but is not a valid COBS frame with a CRC".into());
                (bytes.to_vec(), (0..bytes.len()).collect())
            }
        }
    } else {
        (bytes.to_vec(), (0..bytes.len()).collect())
    };
    let place = |start: usize, len: usize| -> (usize, usize) {
        let first = map.get(start).copied().unwrap_or(0);
        let last = if len == 0 { first } else { map.get(start + len - 1).copied().unwrap_or(first) + 1 };
        (first, last.saturating_sub(first))
    };
    let mut body_fields = Vec::new();
    match VarHeader::take_from_slice(&payload) {
        None => warnings.push("no postcard-rpc header: the first byte is not a version-0 header".into()),
        Some((header, rest)) => {
            let header_len = payload.len() - rest.len();
            let key_len = match header.key {
                VarKey::Key1(_) => 1,
                VarKey::Key2(_) => 2,
                VarKey::Key4(_) => 4,
                VarKey::Key8(_) => 8,
            };
            let seq = match header.seq_no {
                VarSeq::Seq1(s) => u32::from(s),
                VarSeq::Seq2(s) => u32::from(s),
                VarSeq::Seq4(s) => s,
            };
            let message = messages().into_iter().find(|m| {
                let mut key = VarKey::Key8(m.key);
                key.shrink_to(header.key.kind());
                key == header.key
            });
            let (o, l) = place(0, header_len);
            let mut head = Field::new("header", o, l).with_values(json!(hex(&payload[..header_len])), Value::Null);
            let (o, l) = place(0, 1);
            head.children.push(Field::new("flags", o, l).with_values(json!(payload[0]), json!("version 0")));
            let (o, l) = place(1, key_len);
            head.children.push(Field::new("key", o, l).with_values(
                json!(hex(&payload[1..1 + key_len])),
                json!(message.as_ref().map_or("unknown key".to_string(), |m| format!("{} {}", m.path, m.kind))),
            ));
            let (o, l) = place(1 + key_len, header_len - 1 - key_len);
            head.children.push(Field::new("seq", o, l).with_values(json!(seq), json!(seq)));
            body_fields.push(head);
            match message {
                None => {
                    let (o, l) = place(header_len, rest.len());
                    let mut body = Field::new("body", o, l).with_values(json!(hex(rest)), Value::Null);
                    body.warnings.push("no message of this protocol has this key".into());
                    body_fields.push(body);
                }
                Some(message) => {
                    let mut walker = Walker { bytes: &payload, at: header_len, warnings: Vec::new() };
                    let body = walker.value(message.path, message.schema, 0);
                    let mut body = body.unwrap_or_else(|| Field::new(message.path, header_len, 0));
                    remap(&mut body, &place);
                    body.warnings.extend(walker.warnings);
                    if walker.at < payload.len() {
                        warnings.push(format!("{} bytes after the message", payload.len() - walker.at));
                    }
                    body_fields.push(body);
                }
            }
        }
    }
    body_fields.extend(fields);
    Decoded::new("frame", bytes.len(), body_fields, warnings)
}

/// Moves a field tree from payload offsets to input offsets.
fn remap(field: &mut Field, place: &dyn Fn(usize, usize) -> (usize, usize)) {
    let (offset, length) = place(field.offset, field.length);
    field.offset = offset;
    field.length = length;
    for child in &mut field.children {
        remap(child, place);
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// COBS-decodes `encoded` (without its 0x00), returning the bytes and, for each, its offset in `encoded`.
fn cobs_decode(encoded: &[u8]) -> Option<(Vec<u8>, Vec<usize>)> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut map = Vec::with_capacity(encoded.len());
    let mut at = 0;
    while at < encoded.len() {
        let code = usize::from(*encoded.get(at)?);
        if code == 0 {
            return None;
        }
        for i in 1..code {
            out.push(*encoded.get(at + i)?);
            map.push(at + i);
        }
        at += code;
        if code < 0xFF && at < encoded.len() {
            out.push(0);
            map.push(at);
        }
    }
    Some((out, map))
}

/// Walks postcard bytes with a schema.
struct Walker<'a> {
    bytes: &'a [u8],
    at: usize,
    warnings: Vec<String>,
}

impl Walker<'_> {
    fn take(&mut self, n: usize) -> Option<&[u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?);
        if slice.is_none() {
            self.warnings.push(format!("the message ends early: {n} more bytes needed at byte {}", self.at));
        }
        self.at += n * usize::from(slice.is_some());
        slice
    }

    fn varint(&mut self) -> Option<u128> {
        let mut value = 0u128;
        for shift in (0..19).map(|i| i * 7) {
            let byte = *self.take(1)?.first()?;
            value |= u128::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        self.warnings.push("a varint runs past 19 bytes".into());
        None
    }

    fn value(&mut self, name: &str, ty: &NamedType, depth: usize) -> Option<Field> {
        if depth > MAX_DEPTH {
            self.warnings.push("nested too deeply".into());
            return None;
        }
        let start = self.at;
        let mut field = Field::new(name, start, 0);
        let done = |mut field: Field, walker: &Self, raw: Value, value: Value| {
            field.length = walker.at - start;
            field.raw = raw;
            field.value = value;
            Some(field)
        };
        let zigzag = |v: u128| -> i128 { ((v >> 1) as i128) ^ -((v & 1) as i128) };
        match ty.ty {
            DataModelType::Bool => {
                let b = *self.take(1)?.first()?;
                done(field, self, json!(b), json!(b != 0))
            }
            DataModelType::U8 => {
                let b = *self.take(1)?.first()?;
                done(field, self, json!(b), json!(b))
            }
            DataModelType::I8 => {
                let b = *self.take(1)?.first()? as i8;
                done(field, self, json!(b), json!(b))
            }
            DataModelType::U16
            | DataModelType::U32
            | DataModelType::U64
            | DataModelType::U128
            | DataModelType::Usize => {
                let v = self.varint()?;
                let value = u64::try_from(v).map_or(json!(v.to_string()), |v| json!(v));
                done(field, self, value.clone(), value)
            }
            DataModelType::I16
            | DataModelType::I32
            | DataModelType::I64
            | DataModelType::I128
            | DataModelType::Isize => {
                let v = zigzag(self.varint()?);
                let value = i64::try_from(v).map_or(json!(v.to_string()), |v| json!(v));
                done(field, self, value.clone(), value)
            }
            DataModelType::F32 => {
                let b = self.take(4)?;
                let (raw, v) = (json!(hex(b)), f32::from_le_bytes([b[0], b[1], b[2], b[3]]));
                done(field, self, raw, json!(v))
            }
            DataModelType::F64 => {
                let b = self.take(8)?;
                let (raw, v) = (json!(hex(b)), f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]));
                done(field, self, raw, json!(v))
            }
            DataModelType::Char | DataModelType::String => {
                let len = usize::try_from(self.varint()?).ok()?;
                let b = self.take(len)?;
                let (raw, text) = (json!(hex(b)), String::from_utf8_lossy(b).into_owned());
                done(field, self, raw, json!(text))
            }
            DataModelType::ByteArray => {
                let len = usize::try_from(self.varint()?).ok()?;
                let b = self.take(len)?;
                let raw = json!(hex(b));
                done(field, self, raw.clone(), raw)
            }
            DataModelType::Option(inner) => {
                let tag = *self.take(1)?.first()?;
                if tag == 1 {
                    field.children.extend(self.value("some", inner, depth + 1));
                } else if tag != 0 {
                    field.warnings.push(format!("option tag {tag} is neither 0 (none) nor 1 (some)"));
                }
                let value = if tag == 0 { json!("none") } else { Value::Null };
                done(field, self, json!(tag), value)
            }
            DataModelType::Unit | DataModelType::UnitStruct | DataModelType::Schema => {
                done(field, self, Value::Null, json!(ty.name))
            }
            DataModelType::NewtypeStruct(inner) => {
                field.children.extend(self.value(inner.name, inner, depth + 1));
                done(field, self, Value::Null, Value::Null)
            }
            DataModelType::Seq(inner) => {
                let len = self.varint()?;
                for i in 0..len.min(100_000) {
                    let Some(item) = self.value(&format!("[{i}]"), inner, depth + 1) else { break };
                    field.children.push(item);
                }
                done(field, self, json!(len.to_string()), Value::Null)
            }
            DataModelType::Tuple(items) | DataModelType::TupleStruct(items) => {
                for (i, item) in items.iter().enumerate() {
                    let Some(child) = self.value(&format!("{i}"), item, depth + 1) else { break };
                    field.children.push(child);
                }
                done(field, self, Value::Null, Value::Null)
            }
            DataModelType::Map { key, val } => {
                let len = self.varint()?;
                for i in 0..len.min(100_000) {
                    let Some(k) = self.value(&format!("key [{i}]"), key, depth + 1) else { break };
                    field.children.push(k);
                    let Some(v) = self.value(&format!("value [{i}]"), val, depth + 1) else { break };
                    field.children.push(v);
                }
                done(field, self, json!(len.to_string()), Value::Null)
            }
            DataModelType::Struct(members) => {
                for member in members.iter() {
                    let Some(child) = self.value(member.name, member.ty, depth + 1) else { break };
                    field.children.push(child);
                }
                done(field, self, Value::Null, Value::Null)
            }
            DataModelType::Enum(variants) => {
                let index = self.varint()?;
                let Some(variant) = usize::try_from(index).ok().and_then(|i| variants.get(i)) else {
                    field.warnings.push(format!("variant {index} is not one of the {} this type has", variants.len()));
                    return done(field, self, json!(index.to_string()), Value::Null);
                };
                match variant.ty {
                    DataModelVariant::UnitVariant => {}
                    DataModelVariant::NewtypeVariant(inner) => {
                        field.children.extend(self.value(variant.name, inner, depth + 1));
                    }
                    DataModelVariant::TupleVariant(items) => {
                        for (i, item) in items.iter().enumerate() {
                            let Some(child) = self.value(&format!("{i}"), item, depth + 1) else { break };
                            field.children.push(child);
                        }
                    }
                    DataModelVariant::StructVariant(members) => {
                        for member in members.iter() {
                            let Some(child) = self.value(member.name, member.ty, depth + 1) else { break };
                            field.children.push(child);
                        }
                    }
                }
                done(field, self, json!(index.to_string()), json!(variant.name))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(text: &str) -> Vec<u8> {
        (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
    }

    fn find<'a>(fields: &'a [Field], name: &str) -> &'a Field {
        fields.iter().find(|f| f.name == name).unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
    }

    #[test]
    fn a_sample_batch_frame_from_the_golden_file_reads_field_by_field() {
        // firmware-protocol/tests/golden/wire.txt: frame.topic.sample_batch
        let bytes = unhex("0310e601010dc0843da08d0604c422c622090519896ae300");
        let decoded = decode(&bytes);
        assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        let header = find(&decoded.fields, "header");
        assert_eq!(find(&header.children, "key").value, json!("benchtop/telemetry/samples topic"));
        let crc = find(&decoded.fields, "crc32c");
        assert_eq!(crc.value, json!(true));
        let body = find(&decoded.fields, "benchtop/telemetry/samples");
        let names: Vec<&str> = body.children.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["channel_id", "first_sample_time_us", "sample_period_us", "values"]);
        let values = find(&body.children, "values");
        assert!(!values.children.is_empty());
        // Every field lies inside the frame.
        fn inside(fields: &[Field], len: usize) {
            for f in fields {
                assert!(f.offset + f.length <= len, "{f:?}");
                inside(&f.children, len);
            }
        }
        inside(&decoded.fields, bytes.len());
    }

    #[test]
    fn a_damaged_frame_says_so() {
        let mut bytes = unhex("0310e601010dc0843da08d0604c422c622090519896ae300");
        bytes[6] ^= 0x01;
        let decoded = decode(&bytes);
        let crc = find(&decoded.fields, "crc32c");
        assert_eq!(crc.value, json!(false));
        assert!(!crc.warnings.is_empty());
    }

    #[test]
    fn a_ping_request_is_named() {
        let decoded = decode(&unhex("0310bd010af8acd19101811d10e500"));
        let header = find(&decoded.fields, "header");
        let key = find(&header.children, "key");
        assert!(key.value.as_str().unwrap().contains("postcard-rpc/ping"), "{key:?}");
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_stay_inside(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let decoded = decode(&bytes);
            fn inside(fields: &[Field], len: usize) -> bool {
                fields.iter().all(|f| f.offset + f.length <= len && inside(&f.children, len))
            }
            proptest::prop_assert!(inside(&decoded.fields, bytes.len()));
        }
    }
}
