//! MQTT packet decoder (3.1.1 and 5): the fixed header (packet type, flags with DUP/QoS/RETAIN for PUBLISH and
//! the required flags of the others, remaining length as a variable byte integer), then the variable header of
//! each packet type (PUBLISH topic and packet id, CONNECT protocol, flags and client id, acknowledgement packet
//! ids and reason codes, subscription topic filters), MQTT 5 properties, and the PUBLISH payload, decoded as
//! JSON when it parses, else shown as text or bytes.
//!
//! A PUBLISH does not say which MQTT version it is, so [`decode`] reads 3.1.1 unless the packet is a CONNECT
//! with protocol level 5 or a PUBLISH that reads cleanly as MQTT 5 with real properties (or, only so, a JSON
//! payload) — that guess is noted on the `properties` field; [`decode_version`] chooses explicitly. Illegal flags and a remaining length that disagrees with
//! the bytes get warnings; a field that runs past the end stops decoding, with the rest as one `bytes` field.
//! Never panics, and every loop consumes a byte.

mod properties;
mod reader;
#[cfg(test)]
mod tests;

use serde_json::json;

use super::field::{Decoded, Field};
use super::json;
use super::lpp::{hex, rest_field, shift};
use reader::Reader;

/// Which MQTT version's packet layout to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttVersion {
    /// MQTT 3.1.1 (protocol level 4): no properties, no reason codes in acknowledgements.
    V3_1_1,
    /// MQTT 5 (protocol level 5): properties after the variable header, reason codes.
    V5,
}

/// Decodes one MQTT packet as 3.1.1, or as 5 when it is a CONNECT with protocol level 5. Never panics.
pub fn decode(bytes: &[u8]) -> Decoded {
    let connect_v5 = bytes.first().is_some_and(|b| b >> 4 == 1) && {
        // CONNECT: fixed header, then "MQTT" (6 bytes with its length), then the level.
        let header_length = 1 + bytes.iter().skip(1).take(4).take_while(|b| *b & 0x80 != 0).count() + 1;
        bytes.get(header_length + 6) == Some(&5)
    };
    if connect_v5 {
        return decode_version(bytes, MqttVersion::V5);
    }
    let classic = decode_version(bytes, MqttVersion::V3_1_1);
    if bytes.first().is_some_and(|b| b >> 4 == 3) {
        let mut v5 = decode_version(bytes, MqttVersion::V5);
        if clearly_v5(&classic, &v5)
            && let Some(properties) = v5.fields.iter_mut().find(|f| f.name == "properties")
        {
            properties.warnings.push(
                "read as MQTT 5: a PUBLISH does not say its version, and these bytes form a valid property block"
                    .to_owned(),
            );
            return v5;
        }
    }
    classic
}

/// Whether a PUBLISH read as MQTT 5 is clearly the right reading: nothing in it looks wrong, and either it has
/// real properties or only it finds a JSON payload. An empty property block alone proves nothing.
fn clearly_v5(classic: &Decoded, v5: &Decoded) -> bool {
    fn clean(fields: &[Field]) -> bool {
        fields.iter().all(|f| f.warnings.is_empty() && clean(&f.children))
    }
    let json_payload = |decoded: &Decoded| decoded.fields.iter().any(|f| f.name == "payload" && !f.children.is_empty());
    let property_count = v5.fields.iter().find(|f| f.name == "properties").map_or(0, |p| p.children.len() - 1);
    v5.warnings.is_empty() && clean(&v5.fields) && (property_count > 0 || (json_payload(v5) && !json_payload(classic)))
}

/// Decodes one MQTT packet of the given version. Never panics.
pub fn decode_version(bytes: &[u8], version: MqttVersion) -> Decoded {
    let mut fields = Vec::new();
    let mut warnings = Vec::new();
    if let Err(problem) = decode_into(bytes, version, &mut fields, &mut warnings) {
        warnings.push(problem.clone());
        let end = fields.iter().map(|f| f.offset + f.length).max().unwrap_or(0);
        if end < bytes.len() {
            fields.push(rest_field(bytes, end, problem));
        }
    }
    let mut decoded = Decoded::new("mqtt", bytes.len(), fields, warnings);
    decoded.json_size_bytes = size_with_json_payload(bytes, &decoded.fields);
    decoded
}

/// The size of the packet with a JSON payload written compactly (fixed and variable headers stay); a payload
/// that is not JSON counts as it is.
fn size_with_json_payload(bytes: &[u8], fields: &[Field]) -> usize {
    let payload = fields.iter().find(|f| f.name == "payload" && !f.children.is_empty());
    match payload
        .and_then(|payload| Some((payload.length, bytes.get(payload.offset..payload.offset + payload.length)?)))
    {
        Some((length, body)) => bytes.len() - length + json::decode(body).json_size_bytes,
        None => bytes.len(),
    }
}

/// The name of a control packet type.
pub fn packet_type_name(packet_type: u8) -> &'static str {
    [
        "reserved",
        "CONNECT",
        "CONNACK",
        "PUBLISH",
        "PUBACK",
        "PUBREC",
        "PUBREL",
        "PUBCOMP",
        "SUBSCRIBE",
        "SUBACK",
        "UNSUBSCRIBE",
        "UNSUBACK",
        "PINGREQ",
        "PINGRESP",
        "DISCONNECT",
        "AUTH",
    ]
    .get(usize::from(packet_type))
    .copied()
    .unwrap_or("reserved")
}

fn bit_field(name: &str, bit_offset: u64, bit_length: u64, raw: u8) -> Field {
    let mut field = Field::new(name, 0, 1).with_values(json!(raw), json!(raw));
    field.bit_offset = Some(bit_offset);
    field.bit_length = Some(bit_length);
    field
}

/// The first byte: packet type and flags, with warnings for what the version forbids.
fn fixed_header_byte(first: u8, version: MqttVersion) -> (Field, Field) {
    let packet_type = first >> 4;
    let flags = first & 0x0F;
    let mut type_field = bit_field("packet type", 0, 4, packet_type);
    type_field.value = json!(packet_type_name(packet_type));
    if packet_type == 0 || (packet_type == 15 && version == MqttVersion::V3_1_1) {
        type_field.warnings.push(format!("packet type {packet_type} is reserved in this MQTT version"));
    }
    let mut flags_field = bit_field("flags", 4, 4, flags);
    flags_field.value = json!(format!("{flags:04b}"));
    if packet_type == 3 {
        let qos = (flags >> 1) & 0b11;
        let mut dup = bit_field("dup", 4, 1, flags >> 3);
        dup.value = json!(flags & 0b1000 != 0);
        let mut qos_field = bit_field("qos", 5, 2, qos);
        if qos == 3 {
            qos_field.warnings.push("QoS 3 is illegal; the receiver must close the connection".to_owned());
        }
        if qos == 0 && flags & 0b1000 != 0 {
            dup.warnings.push("DUP must be 0 for QoS 0 messages".to_owned());
        }
        let mut retain = bit_field("retain", 7, 1, flags & 1);
        retain.value = json!(flags & 1 != 0);
        flags_field.children = vec![dup, qos_field, retain];
    } else {
        let required = if matches!(packet_type, 6 | 8 | 10) { 0b0010 } else { 0 };
        if flags != required {
            flags_field.warnings.push(format!(
                "flags must be {required:04b} for {}; the receiver must close the connection",
                packet_type_name(packet_type)
            ));
        }
    }
    (type_field, flags_field)
}

fn decode_into(
    bytes: &[u8],
    version: MqttVersion,
    fields: &mut Vec<Field>,
    warnings: &mut Vec<String>,
) -> Result<(), String> {
    let first = *bytes.first().ok_or("the payload is empty; an MQTT packet needs at least 2 bytes")?;
    let (type_field, flags_field) = fixed_header_byte(first, version);
    fields.push(type_field);
    fields.push(flags_field);
    let mut reader = Reader::new(bytes, 1, bytes.len());
    let (mut length_field, remaining) = reader.varint("remaining length")?;
    length_field.unit = "B".to_owned();
    fields.push(length_field);
    let body_start = reader.pos;
    let available = bytes.len() - body_start;
    let body_end = match usize::try_from(remaining) {
        Ok(remaining) if remaining <= available => body_start + remaining,
        _ => {
            warnings.push(format!(
                "the remaining length says {remaining} bytes, only {available} follow; the packet is cut short"
            ));
            bytes.len()
        }
    };
    let mut body = Reader::new(bytes, body_start, body_end);
    let outcome = variable_header_and_payload(first, version, &mut body, fields);
    if outcome.is_ok() && body_end < bytes.len() {
        let problem = format!("byte {body_end}: {} bytes after the packet", bytes.len() - body_end);
        warnings.push(problem.clone());
        fields.push(rest_field(bytes, body_end, problem));
    }
    outcome
}

fn variable_header_and_payload(
    first: u8,
    version: MqttVersion,
    body: &mut Reader<'_>,
    fields: &mut Vec<Field>,
) -> Result<(), String> {
    let v5 = version == MqttVersion::V5;
    match first >> 4 {
        1 => return connect(body, fields),
        2 => {
            let (mut flags, value) = body.u8("acknowledge flags")?;
            flags.value = json!(if value & 1 != 0 { "session present" } else { "no session present" });
            fields.push(flags);
            fields.push(body.u8("return code")?.0);
            if v5 {
                fields.push(properties::read(body)?);
            }
        }
        3 => publish(first, v5, body, fields)?,
        4..=7 | 11 => {
            fields.push(body.u16("packet id")?.0);
            // MQTT 5 acknowledgements may end after the packet id (reason 0, no properties).
            if v5 && !body.at_end() {
                fields.push(body.u8("reason code")?.0);
                if !body.at_end() {
                    fields.push(properties::read(body)?);
                }
            }
        }
        8 | 10 => {
            fields.push(body.u16("packet id")?.0);
            if v5 {
                fields.push(properties::read(body)?);
            }
            let mut index = 0;
            while !body.at_end() {
                let (mut filter, _) = body.string(&format!("topic filter [{index}]"))?;
                if first >> 4 == 8 {
                    let (options, qos) = body.u8("options")?;
                    filter.length += 1;
                    filter.children.push(options.with_values(json!(qos), json!(format!("max QoS {}", qos & 0b11))));
                }
                fields.push(filter);
                index += 1;
            }
        }
        9 => {
            fields.push(body.u16("packet id")?.0);
            if v5 {
                fields.push(properties::read(body)?);
            }
            let mut index = 0;
            while !body.at_end() {
                let (mut code, value) = body.u8(&format!("return code [{index}]"))?;
                code.value = json!(if value == 0x80 { "failure".to_owned() } else { format!("granted QoS {value}") });
                fields.push(code);
                index += 1;
            }
        }
        14 | 15 if v5 && !body.at_end() => {
            fields.push(body.u8("reason code")?.0);
            if !body.at_end() {
                fields.push(properties::read(body)?);
            }
        }
        _ => {}
    }
    if let Some(rest) = body.rest("data") {
        fields.push(rest);
    }
    Ok(())
}

fn publish(first: u8, v5: bool, body: &mut Reader<'_>, fields: &mut Vec<Field>) -> Result<(), String> {
    let (mut topic, topic_text) = body.string("topic")?;
    if topic_text.contains(['+', '#']) {
        topic.warnings.push("a PUBLISH topic must not contain wildcards".to_owned());
    }
    if topic.length == 2 && !v5 {
        topic.warnings.push("an empty topic is only allowed in MQTT 5 with a topic alias".to_owned());
    }
    fields.push(topic);
    if (first >> 1) & 0b11 > 0 {
        let (mut packet_id, id) = body.u16("packet id")?;
        if id == 0 {
            packet_id.warnings.push("packet id 0 is not allowed".to_owned());
        }
        fields.push(packet_id);
    }
    if v5 {
        fields.push(properties::read(body)?);
    }
    let start = body.pos;
    let payload = body.take_rest();
    if payload.is_empty() {
        return Ok(());
    }
    let mut field = Field::new("payload", start, payload.len()).with_values(json!(hex(payload)), json!(hex(payload)));
    let (children, problems) = json::decode_fields(payload);
    if problems.is_empty() {
        field.children = children;
        field.children.iter_mut().for_each(|child| shift(child, start));
    } else if let Some(text) = super::coap::printable_text(payload) {
        field.value = json!(text);
    }
    fields.push(field);
    Ok(())
}

fn connect(body: &mut Reader<'_>, fields: &mut Vec<Field>) -> Result<(), String> {
    let (mut name, name_text) = body.string("protocol name")?;
    if name_text != "MQTT" {
        name.warnings.push(format!("protocol name `{name_text}`; MQTT 3.1.1 and 5 use `MQTT`"));
    }
    fields.push(name);
    let (mut level, level_value) = body.u8("protocol level")?;
    level.value = json!(match level_value {
        4 => "3.1.1",
        5 => "5",
        _ => "unknown",
    });
    fields.push(level);
    let (mut flags, value) = body.u8("connect flags")?;
    let offset = flags.offset;
    for (bit, name) in [
        (7u8, "username"),
        (6, "password"),
        (5, "will retain"),
        (2, "will flag"),
        (1, "clean session"),
        (0, "reserved"),
    ] {
        let mut child =
            Field::new(name, offset, 1).with_values(json!((value >> bit) & 1), json!(value & (1 << bit) != 0));
        child.bit_offset = Some(offset as u64 * 8 + u64::from(7 - bit));
        child.bit_length = Some(1);
        flags.children.push(child);
    }
    let mut will_qos =
        Field::new("will qos", offset, 1).with_values(json!((value >> 3) & 0b11), json!((value >> 3) & 0b11));
    will_qos.bit_offset = Some(offset as u64 * 8 + 3);
    will_qos.bit_length = Some(2);
    flags.children.push(will_qos);
    if value & 1 != 0 {
        flags.warnings.push("the reserved flag must be 0".to_owned());
    }
    fields.push(flags);
    let (mut keep_alive, _) = body.u16("keep alive")?;
    keep_alive.unit = "s".to_owned();
    fields.push(keep_alive);
    if level_value == 5 {
        fields.push(properties::read(body)?);
    }
    fields.push(body.string("client id")?.0);
    if let Some(rest) = body.rest("will, username and password") {
        fields.push(rest);
    }
    Ok(())
}
