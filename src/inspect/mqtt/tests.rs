//! MQTT decoder tests: packets worked out by hand (3.1.1 PUBLISH with a JSON payload, MQTT 5 PUBLISH with
//! properties, a 2-byte remaining length, CONNECT 5, SUBACK, PINGREQ), illegal flags, truncation, malformed
//! lengths and a proptest.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::inspect::field::assert_within;

fn field<'a>(decoded: &'a Decoded, name: &str) -> &'a Field {
    decoded.fields.iter().find(|f| f.name == name).unwrap()
}

#[test]
fn publish_qos1_with_json_payload() {
    let mut bytes = vec![0x32, 0x16, 0x00, 0x0A];
    bytes.extend_from_slice(b"sensors/t1");
    bytes.extend_from_slice(&[0x00, 0x2A]);
    bytes.extend_from_slice(br#"{"t":21}"#);
    assert_eq!(bytes.len(), 24);
    let decoded = decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    assert_eq!(field(&decoded, "packet type").value, json!("PUBLISH"));
    let flags = field(&decoded, "flags");
    assert_eq!(flags.child("qos").unwrap().value, json!(1));
    assert_eq!(flags.child("qos").unwrap().bit_offset, Some(5));
    assert_eq!(flags.child("retain").unwrap().value, json!(false));
    let remaining = field(&decoded, "remaining length");
    assert_eq!((remaining.offset, remaining.length, remaining.value.clone()), (1, 1, json!(22)));
    let topic = field(&decoded, "topic");
    assert_eq!((topic.offset, topic.length, topic.value.clone()), (2, 12, json!("sensors/t1")));
    let packet_id = field(&decoded, "packet id");
    assert_eq!((packet_id.offset, packet_id.length, packet_id.value.clone()), (14, 2, json!(42)));
    let payload = field(&decoded, "payload");
    assert_eq!((payload.offset, payload.length), (16, 8));
    let t = payload.child("root").unwrap().child("t").unwrap();
    assert_eq!((t.offset, t.length, t.value.clone()), (17, 6, json!(21)));
    assert_eq!(decoded.json_size_bytes, 24);
}

#[test]
fn mqtt5_publish_properties_and_text_payload() {
    let bytes = [0x30, 0x0B, 0x00, 0x01, b'a', 0x05, 0x01, 0x01, 0x23, 0x00, 0x05, b'h', b'i'];
    let decoded = decode_version(&bytes, MqttVersion::V5);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let properties = field(&decoded, "properties");
    assert_eq!((properties.offset, properties.length), (5, 6));
    let indicator = properties.child("payload format indicator").unwrap();
    assert_eq!((indicator.offset, indicator.length, indicator.value.clone()), (6, 2, json!(1)));
    assert_eq!(indicator.child("identifier").unwrap().value, json!(1));
    let alias = properties.child("topic alias").unwrap();
    assert_eq!((alias.offset, alias.length, alias.value.clone()), (8, 3, json!(5)));
    let payload = field(&decoded, "payload");
    assert_eq!((payload.offset, payload.length, payload.value.clone()), (11, 2, json!("hi")));
    assert_eq!(decoded.json_size_bytes, 13);
    // decode() guesses MQTT 5 here, because the bytes after the topic are a clean property block, and says so.
    let guessed = decode(&bytes);
    assert!(field(&guessed, "properties").warnings[0].contains("read as MQTT 5"));
    assert_eq!(field(&guessed, "payload").value, json!("hi"));
    // A property block of length 0 and a JSON payload after it: MQTT 5 only because the payload then parses.
    let empty_block = [0x30, 0x0B, 0x00, 0x01, b'a', 0x00, b'{', b'"', b'a', b'"', b':', b'1', b'}'];
    let guessed = decode(&empty_block);
    assert_eq!(field(&guessed, "properties").length, 1);
    assert_eq!(field(&guessed, "payload").offset, 6);
    // The same bytes read as 3.1.1 have no properties: the payload starts right after the topic.
    let old = decode_version(&bytes, MqttVersion::V3_1_1);
    assert!(old.fields.iter().all(|f| f.name != "properties"));
    assert_eq!(field(&old, "payload").offset, 5);
    // Bytes with control characters are not shown as text.
    assert_eq!(field(&old, "payload").value, json!("0501012300056869"));
}

#[test]
fn two_byte_remaining_length() {
    let mut bytes = vec![0x31, 0xC1, 0x02, 0x00, 0x01, b't'];
    bytes.extend(std::iter::repeat_n(b'x', 318));
    let decoded = decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let remaining = field(&decoded, "remaining length");
    assert_eq!((remaining.offset, remaining.length, remaining.value.clone()), (1, 2, json!(321)));
    assert_eq!(field(&decoded, "flags").child("retain").unwrap().value, json!(true));
    let payload = field(&decoded, "payload");
    assert_eq!((payload.offset, payload.length), (6, 318));
}

#[test]
fn connect_5_is_detected_and_decoded() {
    let bytes = [0x10, 0x0F, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x05, 0x02, 0x00, 0x3C, 0x00, 0x00, 0x02, b'i', b'd'];
    let decoded = decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    assert_eq!(field(&decoded, "protocol level").value, json!("5"));
    assert_eq!(field(&decoded, "connect flags").child("clean session").unwrap().value, json!(true));
    let keep_alive = field(&decoded, "keep alive");
    assert_eq!((keep_alive.offset, keep_alive.value.clone(), keep_alive.unit.as_str()), (10, json!(60), "s"));
    assert_eq!((field(&decoded, "properties").offset, field(&decoded, "properties").length), (12, 1));
    let client = field(&decoded, "client id");
    assert_eq!((client.offset, client.length, client.value.clone()), (13, 4, json!("id")));
}

#[test]
fn acknowledgements_and_pings() {
    let decoded = decode(&[0x90, 0x03, 0x00, 0x01, 0x01]);
    assert!(decoded.warnings.is_empty());
    assert_eq!(field(&decoded, "packet id").value, json!(1));
    assert_eq!(field(&decoded, "return code [0]").value, json!("granted QoS 1"));
    let decoded = decode(&[0xC0, 0x00]);
    assert!(decoded.warnings.is_empty());
    assert_eq!(field(&decoded, "packet type").value, json!("PINGREQ"));
    assert_eq!(decoded.fields.len(), 3);
}

#[test]
fn illegal_flags_are_warned() {
    let subscribe = decode(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'#', 0x00]);
    assert!(field(&subscribe, "flags").warnings[0].contains("must be 0010"));
    assert_eq!(field(&subscribe, "topic filter [0]").value, json!("#"));
    let publish = decode(&[0x36, 0x05, 0x00, 0x01, b'a', 0x00, 0x01]);
    assert!(field(&publish, "flags").child("qos").unwrap().warnings[0].contains("QoS 3"));
    assert!(field(&decode(&[0xC1, 0x00]), "flags").warnings[0].contains("must be 0000"));
    // QoS 1 with packet id 0 and an empty 3.1.1 topic
    let publish = decode(&[0x32, 0x04, 0x00, 0x00, 0x00, 0x00]);
    assert!(field(&publish, "packet id").warnings[0].contains("packet id 0"));
    assert!(field(&publish, "topic").warnings[0].contains("empty topic"));
}

#[test]
fn truncated_and_malformed_packets() {
    let decoded = decode(&[0x32, 0x16, 0x00, 0x0A, b's']);
    assert!(decoded.warnings[0].contains("remaining length says 22"));
    assert!(decoded.warnings[1].contains("topic needs 10 bytes"));
    let rest = decoded.fields.last().unwrap();
    assert_eq!((rest.name.as_str(), rest.offset, rest.length), ("bytes", 2, 3));
    let decoded = decode(&[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]);
    assert!(decoded.warnings[0].contains("longer than 4 bytes"));
    let decoded = decode(&[0xC0, 0x00, 0xC0]);
    assert!(decoded.warnings[0].contains("1 bytes after the packet"));
    assert!(decode(&[]).warnings[0].contains("empty"));
    // MQTT 5 properties longer than the packet
    let decoded = decode_version(&[0x30, 0x04, 0x00, 0x01, b'a', 0x09], MqttVersion::V5);
    assert!(decoded.warnings[0].contains("properties run past"));
}

/// A PUBLISH packet: fixed header with the remaining length as a variable byte integer, topic, packet id.
fn publish_packet(qos: u8, retain: bool, topic: &str, packet_id: u16, payload: &[u8]) -> Vec<u8> {
    let mut body = (topic.len() as u16).to_be_bytes().to_vec();
    body.extend_from_slice(topic.as_bytes());
    if qos > 0 {
        body.extend_from_slice(&packet_id.to_be_bytes());
    }
    body.extend_from_slice(payload);
    let mut packet = vec![0x30 | qos << 1 | u8::from(retain)];
    let mut remaining = body.len();
    loop {
        let byte = (remaining % 128) as u8;
        remaining /= 128;
        packet.push(if remaining > 0 { byte | 0x80 } else { byte });
        if remaining == 0 {
            break;
        }
    }
    packet.extend(body);
    packet
}

proptest! {
    #[test]
    fn generated_publish_packets_decode_back(
        qos in 0u8..3,
        retain in any::<bool>(),
        topic in "[a-z/]{1,20}",
        packet_id in 1u16..,
        payload in proptest::collection::vec(any::<u8>(), 0..20_000),
    ) {
        let bytes = publish_packet(qos, retain, &topic, packet_id, &payload);
        // Explicitly 3.1.1: a random payload may, rarely, also read as a clean MQTT 5 property block.
        let decoded = decode_version(&bytes, MqttVersion::V3_1_1);
        prop_assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        let flags = field(&decoded, "flags");
        prop_assert_eq!(&flags.child("qos").unwrap().value, &json!(qos));
        prop_assert_eq!(&flags.child("retain").unwrap().value, &json!(retain));
        let remaining = field(&decoded, "remaining length");
        let topic_field = field(&decoded, "topic");
        prop_assert_eq!(topic_field.offset, 1 + remaining.length);
        prop_assert_eq!(&topic_field.value, &json!(topic));
        let ids: Vec<_> = decoded.fields.iter().filter(|f| f.name == "packet id").collect();
        prop_assert_eq!(ids.len(), usize::from(qos > 0));
        if let Some(id) = ids.first() {
            prop_assert_eq!(&id.value, &json!(packet_id));
        }
        let payload_length = decoded.fields.iter().find(|f| f.name == "payload").map_or(0, |f| f.length);
        prop_assert_eq!(payload_length, payload.len());
    }


    #[test]
    fn arbitrary_bytes_decode_within_the_payload(bytes in proptest::collection::vec(any::<u8>(), 0..96), v5 in any::<bool>()) {
        let version = if v5 { MqttVersion::V5 } else { MqttVersion::V3_1_1 };
        let decoded = decode_version(&bytes, version);
        for field in &decoded.fields {
            assert_within(field, bytes.len());
        }
    }
}
