//! Benchtop protocol frames explained: the COBS layer, the CRC-32C, postcard-rpc's header (key and sequence
//! number), and the message body decoded field by field from the message's postcard schema.
//!
//! Input is either a whole wire frame (`COBS(payload ‖ CRC-32C LE) ‖ 0x00`, as a capture of the serial line
//! shows it) or a bare payload (header and body). The message is found by its key among every endpoint and
//! topic of `firmware-protocol` (and postcard-rpc's standard ones and its error key), then — given a
//! [`SchemaReport`] — among the endpoints and topics a postcard-rpc device reported, compared at the key length
//! the frame uses. The body is walked with the message's schema ([`super::postcard`]), so any message the
//! protocol crate or the device defines decodes without code of its own here.
//!
//! Field offsets refer to the input as given, except in a wire frame: COBS replaces each 0x00 by a code byte
//! elsewhere in the frame, so no encoded byte lines up with the value it carries. A wire frame is therefore
//! explained as the bytes it decodes to (header, body, CRC-32C), given in [`Decoded::shown_bytes`] with a note,
//! and every field's offset refers to those.

use std::sync::OnceLock;

use firmware_protocol::icd::{
    ConfigCheckEndpoint, ConfigCommitEndpoint, ConfigDiscardEndpoint, ConfigReadEndpoint, ConfigStageEndpoint,
    CurrentBatchTopic, DeviceInfoEndpoint, ERROR_KEY, GetAllSchemaDataTopic, GetAllSchemasEndpoint, IdentifyEndpoint,
    LogTopic, PingEndpoint, RebootEndpoint, SampleBatchTopic, StreamingSetEndpoint, WireError,
};
use postcard_rpc::header::{VarHeader, VarKey, VarSeq};
use postcard_rpc::host_client::SchemaReport;
use postcard_rpc::{Endpoint, Key, Topic};
use postcard_schema::Schema;
use postcard_schema::schema::owned::OwnedNamedType;
use serde_json::{Value, json};

use super::postcard::{Walker, leftover_warning};
use super::{Decoded, Field};

/// A message a frame may carry: its path, what it is, its key and its type.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The endpoint's or topic's path (`benchtop/info`).
    pub path: String,
    /// `request`, `response`, `topic` (device to host) or `topic to the device`.
    pub kind: &'static str,
    /// The full key; a frame may carry a shorter one.
    pub key: Key,
    /// The message's type.
    pub schema: OwnedNamedType,
}

/// The messages frames are decoded against, searched in order (the first whose key matches wins).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    messages: Vec<Message>,
}

impl Catalog {
    /// Every endpoint and topic of `firmware-protocol`, postcard-rpc's standard ones and its error key.
    pub fn protocol() -> &'static Catalog {
        static PROTOCOL: OnceLock<Catalog> = OnceLock::new();
        PROTOCOL.get_or_init(protocol_messages)
    }

    /// Every endpoint and topic a device reported.
    pub fn from_report(report: &SchemaReport) -> Catalog {
        let mut catalog = Catalog::default();
        catalog.add_report(report);
        catalog
    }

    /// Adds what a device reported, after the messages already known.
    pub fn add_report(&mut self, report: &SchemaReport) {
        for endpoint in &report.endpoints {
            self.messages.push(Message {
                path: endpoint.path.clone(),
                kind: "request",
                key: endpoint.req_key,
                schema: endpoint.req_ty.clone(),
            });
            self.messages.push(Message {
                path: endpoint.path.clone(),
                kind: "response",
                key: endpoint.resp_key,
                schema: endpoint.resp_ty.clone(),
            });
        }
        for (topics, kind) in [(&report.topics_out, "topic"), (&report.topics_in, "topic to the device")] {
            for topic in topics {
                self.messages.push(Message {
                    path: topic.path.clone(),
                    kind,
                    key: topic.key,
                    schema: topic.ty.clone(),
                });
            }
        }
    }

    /// The messages, in search order.
    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    /// The first message whose key, cut to the frame's key length, is `key`.
    pub fn find(&self, key: &VarKey) -> Option<&Message> {
        self.messages.iter().find(|m| {
            let mut full = VarKey::Key8(m.key);
            full.shrink_to(key.kind());
            full == *key
        })
    }
}

fn protocol_messages() -> Catalog {
    let mut out = Vec::new();
    macro_rules! endpoints {
        ($($e:ty),*) => {$(
            out.push(Message {
                path: <$e>::PATH.into(),
                kind: "request",
                key: <$e>::REQ_KEY,
                schema: <$e as Endpoint>::Request::SCHEMA.into(),
            });
            out.push(Message {
                path: <$e>::PATH.into(),
                kind: "response",
                key: <$e>::RESP_KEY,
                schema: <$e as Endpoint>::Response::SCHEMA.into(),
            });
        )*};
    }
    macro_rules! topics {
        ($($t:ty),*) => {$(
            out.push(Message {
                path: <$t>::PATH.into(),
                kind: "topic",
                key: <$t>::TOPIC_KEY,
                schema: <$t as Topic>::Message::SCHEMA.into(),
            });
        )*};
    }
    endpoints!(
        PingEndpoint,
        GetAllSchemasEndpoint,
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
    topics!(SampleBatchTopic, CurrentBatchTopic, LogTopic, GetAllSchemaDataTopic);
    out.push(Message { path: "error".into(), kind: "response", key: ERROR_KEY, schema: WireError::SCHEMA.into() });
    Catalog { messages: out }
}

/// Decodes a Benchtop protocol frame or payload against `firmware-protocol`'s messages.
pub fn decode(bytes: &[u8]) -> Decoded {
    decode_with_catalog(bytes, Catalog::protocol())
}

/// Decodes a frame against `firmware-protocol`'s messages and then, for any other key, the messages a
/// postcard-rpc device reported in its schema.
pub fn decode_with_schema(bytes: &[u8], report: Option<&SchemaReport>) -> Decoded {
    match report {
        None => decode(bytes),
        Some(report) => {
            let mut catalog = Catalog::protocol().clone();
            catalog.add_report(report);
            decode_with_catalog(bytes, &catalog)
        }
    }
}

/// Decodes a Benchtop protocol frame or payload against the messages of `catalog`.
pub fn decode_with_catalog(bytes: &[u8], catalog: &Catalog) -> Decoded {
    let mut warnings = Vec::new();
    let is_wire_frame = bytes.last() == Some(&0) && bytes.iter().filter(|&&b| b == 0).count() == 1;
    let content = if is_wire_frame {
        match cobs_decode(&bytes[..bytes.len() - 1]) {
            Some(content) if content.len() >= 4 => Some(content),
            _ => {
                warnings.push("ends in 0x00 but is not a valid COBS frame with a CRC".into());
                None
            }
        }
    } else {
        None
    };
    let Some(content) = content else {
        let (fields, message_warnings) = message_fields(bytes, catalog);
        warnings.extend(message_warnings);
        return Decoded::new("frame", bytes.len(), fields, warnings);
    };
    // COBS replaces every 0x00 with a code byte elsewhere, so encoded bytes cannot be lined up with the values
    // they carry: the frame is explained as the bytes it decodes to, and the hex pane shows those.
    let (payload, crc) = content.split_at(content.len() - 4);
    let (mut fields, message_warnings) = message_fields(payload, catalog);
    warnings.extend(message_warnings);
    let stored = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    let computed = crc32c::crc32c(payload);
    let mut field =
        Field::new("crc32c", payload.len(), 4).with_values(json!(format!("{stored:08x}")), json!(stored == computed));
    if stored != computed {
        field.warnings.push(format!("CRC mismatch: the payload's CRC-32C is {computed:08x}"));
    }
    fields.push(field);
    let mut decoded = Decoded::new("frame", bytes.len(), fields, warnings);
    decoded.notes.push(format!(
        "a {}-byte wire frame, shown without its COBS encoding and 0x00 delimiter: {} bytes of header, body and \
         CRC-32C",
        bytes.len(),
        content.len()
    ));
    decoded.shown_bytes = Some(content);
    decoded
}

/// The header and body fields of a payload (header and body, no framing), and problems with it.
fn message_fields(payload: &[u8], catalog: &Catalog) -> (Vec<Field>, Vec<String>) {
    let mut warnings = Vec::new();
    let mut fields = Vec::new();
    let Some((header, rest)) = VarHeader::take_from_slice(payload) else {
        warnings.push("no postcard-rpc header: the first byte is not a version-0 header".into());
        return (fields, warnings);
    };
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
    let message = catalog.find(&header.key);
    let mut head = Field::new("header", 0, header_len).with_values(json!(hex(&payload[..header_len])), Value::Null);
    head.children.push(Field::new("flags", 0, 1).with_values(json!(payload[0]), json!("version 0")));
    head.children.push(Field::new("key", 1, key_len).with_values(
        json!(hex(&payload[1..1 + key_len])),
        json!(message.map_or("unknown key".to_string(), |m| format!("{} {}", m.path, m.kind))),
    ));
    head.children.push(Field::new("seq", 1 + key_len, header_len - 1 - key_len).with_values(json!(seq), json!(seq)));
    fields.push(head);
    match message {
        None => {
            let mut body = Field::new("body", header_len, rest.len()).with_values(json!(hex(rest)), Value::Null);
            body.warnings.push("no message of this protocol has this key".into());
            fields.push(body);
        }
        Some(message) => {
            let mut walker = Walker::new(payload, header_len);
            let body = walker.value(&message.path, &message.schema);
            let mut body = body.unwrap_or_else(|| Field::new(message.path.as_str(), header_len, 0));
            body.warnings.extend(walker.take_warnings());
            if walker.position() < payload.len() {
                warnings.push(leftover_warning(payload.len() - walker.position()));
            }
            fields.push(body);
        }
    }
    (fields, warnings)
}

/// What a frame carries, read from its header alone (cheap enough for every frame of a 1 kHz stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The endpoint's or topic's path, or `unknown key 0123abcd` when neither table knows the key.
    pub path: String,
    /// `request`, `response`, `topic`, `topic to the device`, or empty for an unknown key.
    pub kind: &'static str,
}

/// Names the message of a wire frame or payload from its header: `firmware-protocol`'s messages first, then
/// the device's `report`. `None` when there is no postcard-rpc header to read.
pub fn identify(bytes: &[u8], report: Option<&SchemaReport>) -> Option<Identity> {
    let decoded;
    let payload = match bytes.split_last() {
        Some((0, encoded)) => {
            decoded = cobs_decode(encoded)?;
            decoded.get(..decoded.len().checked_sub(4)?)?
        }
        _ => bytes,
    };
    let (header, _) = VarHeader::take_from_slice(payload)?;
    let found = |path: &str, kind: &'static str| Some(Identity { path: path.to_string(), kind });
    if let Some(message) = Catalog::protocol().find(&header.key) {
        return found(&message.path, message.kind);
    }
    let matches = |key: Key| {
        let mut full = VarKey::Key8(key);
        full.shrink_to(header.key.kind());
        full == header.key
    };
    if let Some(report) = report {
        for endpoint in &report.endpoints {
            if matches(endpoint.req_key) {
                return found(&endpoint.path, "request");
            }
            if matches(endpoint.resp_key) {
                return found(&endpoint.path, "response");
            }
        }
        for (topics, kind) in [(&report.topics_out, "topic"), (&report.topics_in, "topic to the device")] {
            if let Some(topic) = topics.iter().find(|t| matches(t.key)) {
                return found(&topic.path, kind);
            }
        }
    }
    let key_len = match header.key {
        VarKey::Key1(_) => 1,
        VarKey::Key2(_) => 2,
        VarKey::Key4(_) => 4,
        VarKey::Key8(_) => 8,
    };
    Some(Identity { path: format!("unknown key {}", hex(payload.get(1..1 + key_len)?)), kind: "" })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// COBS-decodes `encoded` (without its 0x00); `None` when it is not valid COBS.
fn cobs_decode(encoded: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(encoded.len());
    let mut at = 0;
    while at < encoded.len() {
        let code = usize::from(*encoded.get(at)?);
        if code == 0 {
            return None;
        }
        out.extend_from_slice(encoded.get(at + 1..at + code)?);
        at += code;
        if code < 0xFF && at < encoded.len() {
            out.push(0);
        }
    }
    Some(out)
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
    fn a_wire_frame_is_explained_as_the_bytes_it_decodes_to() {
        // Sequence number 0 is two 0x00 bytes that COBS turned into code bytes.
        let bytes = unhex("0310e601010dc0843da08d0604c422c622090519896ae300");
        let decoded = decode(&bytes);
        let shown = decoded.shown_bytes.clone().unwrap();
        assert_eq!(decoded.bytes(&bytes), shown.as_slice());
        assert_eq!(decoded.size_bytes, bytes.len(), "the cost is the wire frame's");
        assert!(decoded.notes[0].contains("without its COBS encoding"), "{:?}", decoded.notes);
        let header = find(&decoded.fields, "header");
        assert_eq!(&shown[header.bytes()], &[0x10, 0xe6, 0x00, 0x00]);
        let seq = find(&header.children, "seq");
        assert_eq!((seq.offset, seq.length, seq.value.clone()), (2, 2, json!(0)));
        let body = find(&decoded.fields, "benchtop/telemetry/samples");
        let channel = find(&body.children, "channel_id");
        assert_eq!(shown[channel.bytes()], [channel.value.as_u64().unwrap() as u8]);
        let crc = find(&decoded.fields, "crc32c");
        assert_eq!(crc.bytes(), shown.len() - 4..shown.len());
        let stored = u32::from_le_bytes(shown[crc.bytes()].try_into().unwrap());
        assert_eq!(crc.raw, json!(format!("{stored:08x}")));
        // Every field lies in the bytes shown.
        fn inside(fields: &[Field], len: usize) -> bool {
            fields.iter().all(|f| f.offset + f.length <= len && inside(&f.children, len))
        }
        assert!(inside(&decoded.fields, shown.len()));
        // The payload alone (no framing) decodes to the same fields.
        let bare = decode(&shown[..shown.len() - 4]);
        assert!(bare.shown_bytes.is_none() && bare.notes.is_empty());
        assert_eq!(bare.fields[..2], decoded.fields[..2]);
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

    #[test]
    fn a_frame_is_identified_from_its_header() {
        let sample = identify(&unhex("0310e601010dc0843da08d0604c422c622090519896ae300"), None).unwrap();
        assert_eq!((sample.path.as_str(), sample.kind), ("benchtop/telemetry/samples", "topic"));
        let ping = identify(&unhex("0310bd010af8acd19101811d10e500"), None).unwrap();
        assert_eq!(ping.kind, "request");
        let unknown = identify(&[0x10, 1, 2, 3, 4, 5, 6, 7, 8, 0], None);
        assert_eq!(unknown.map(|i| i.kind), None, "a 0x00 that is not a frame's end");
        let unknown = identify(&[0x10, 1, 2, 3, 4, 5, 6, 7, 8, 9], None).unwrap();
        // 0x10: a one-byte key and a two-byte sequence number.
        assert_eq!(unknown.path, "unknown key 01");
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
