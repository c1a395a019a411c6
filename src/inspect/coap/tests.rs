//! CoAP decoder tests: two messages worked out by hand (an Observe response with a CBOR payload; a request with
//! an extended-length Uri-Path, Block2 and an extended-delta Size1), format errors, truncation and a proptest.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::inspect::field::assert_within;

fn field<'a>(decoded: &'a Decoded, name: &str) -> &'a Field {
    decoded.fields.iter().find(|f| f.name == name).unwrap()
}

#[test]
fn observe_response_with_cbor_payload() {
    // ACK 2.05, mid 0x7D34, token 0A1B2C3D, Observe 0 (empty value), Content-Format 60, 0xFF, {"t": 21.125 (half)}
    let bytes =
        [0x64, 0x45, 0x7D, 0x34, 0x0A, 0x1B, 0x2C, 0x3D, 0x60, 0x61, 0x3C, 0xFF, 0xA1, 0x61, 0x74, 0xF9, 0x4D, 0x48];
    let decoded = decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let version = field(&decoded, "version");
    assert_eq!((version.value.clone(), version.bit_offset, version.bit_length), (json!(1), Some(0), Some(2)));
    assert_eq!(field(&decoded, "type").value, json!("ACK"));
    assert_eq!(field(&decoded, "token length").bit_offset, Some(4));
    assert_eq!(field(&decoded, "code").value, json!("2.05 Content"));
    assert_eq!(field(&decoded, "message id").value, json!(0x7D34));
    let token = field(&decoded, "token");
    assert_eq!((token.offset, token.length, token.value.clone()), (4, 4, json!("0a1b2c3d")));
    let observe = field(&decoded, "Observe");
    assert_eq!((observe.offset, observe.length, observe.value.clone()), (8, 1, json!(0)));
    let format = field(&decoded, "Content-Format");
    assert_eq!((format.offset, format.length), (9, 2));
    assert_eq!(format.value, json!("application/cbor (60)"));
    assert_eq!(format.child("header").unwrap().value, json!("delta 6 (option 12), length 1"));
    assert_eq!(field(&decoded, "payload marker").offset, 11);
    let payload = field(&decoded, "payload");
    assert_eq!((payload.offset, payload.length), (12, 6));
    let root = payload.child("root").unwrap();
    assert_eq!((root.offset, root.length), (12, 6));
    let t = root.child("t").unwrap();
    assert_eq!((t.offset, t.length, t.value.clone()), (13, 5, json!(21.125)));
    // The 6-byte CBOR payload as JSON, {"t":21.125}, is 12 bytes: the message would be 24.
    assert_eq!(decoded.json_size_bytes, 24);
}

#[test]
fn extended_length_block2_and_extended_delta() {
    let mut bytes = vec![0x42, 0x01, 0x00, 0x01, 0x11, 0x22, 0xBD, 0x08];
    bytes.extend_from_slice(b"a-very-long-path-name");
    bytes.extend_from_slice(&[0xC1, 0x16, 0xD2, 0x18, 0x04, 0x00]);
    assert_eq!(bytes.len(), 35);
    let decoded = decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    assert_eq!(field(&decoded, "type").value, json!("CON"));
    assert_eq!(field(&decoded, "code").value, json!("0.01 GET"));
    let path = field(&decoded, "Uri-Path");
    assert_eq!((path.offset, path.length, path.value.clone()), (6, 23, json!("a-very-long-path-name")));
    assert_eq!((path.child("header").unwrap().offset, path.child("header").unwrap().length), (6, 2));
    assert_eq!((path.child("value").unwrap().offset, path.child("value").unwrap().length), (8, 21));
    let block = field(&decoded, "Block2");
    assert_eq!((block.offset, block.length, block.value.clone()), (29, 2, json!("block 1, 1024 B")));
    let block_value = block.child("value").unwrap();
    assert_eq!(block_value.child("num").unwrap().value, json!(1));
    assert_eq!(block_value.child("m").unwrap().value, json!(false));
    assert_eq!(block_value.child("szx").unwrap().value, json!(1024));
    let size = field(&decoded, "Size1");
    assert_eq!((size.offset, size.length, size.value.clone(), size.unit.as_str()), (31, 4, json!(1024), "B"));
}

#[test]
fn json_payload_and_text_payload() {
    // NON 2.05, no token, Content-Format 50, {"a":1}
    let mut bytes = vec![0x50, 0x45, 0x00, 0x02, 0xC1, 0x32, 0xFF];
    bytes.extend_from_slice(br#"{"a":1}"#);
    let decoded = decode(&bytes);
    let payload = field(&decoded, "payload");
    let a = payload.child("root").unwrap().child("a").unwrap();
    assert_eq!((a.offset, a.length, a.value.clone()), (8, 5, json!(1)));
    // 2.04 Changed with a plain text payload and no Content-Format
    let decoded = decode(&[0x60, 0x44, 0x00, 0x03, 0xFF, b'o', b'k']);
    assert_eq!(field(&decoded, "code").value, json!("2.04 Changed"));
    assert_eq!(field(&decoded, "payload").value, json!("ok"));
}

#[test]
fn senml_json_payload_is_resolved() {
    // NON 2.05, Content-Format 110 (two-byte value 0x006E), [{"bn":"dev:","n":"temp","u":"Cel","v":21.5}]
    let mut bytes = vec![0x50, 0x45, 0x00, 0x04, 0xC1, 0x6E, 0xFF];
    bytes.extend_from_slice(br#"[{"bn":"dev:","n":"temp","u":"Cel","v":21.5}]"#);
    let decoded = decode(&bytes);
    assert_eq!(field(&decoded, "Content-Format").value, json!("application/senml+json (110)"));
    let payload = field(&decoded, "payload");
    assert!(payload.warnings.is_empty(), "{:?}", payload.warnings);
    let record = &payload.child("root").unwrap().children[0];
    assert_eq!((record.name.as_str(), record.unit.as_str()), ("dev:temp", "Cel"));
    let value = record.child("value").unwrap();
    assert_eq!((value.offset, value.length, value.value.clone(), value.unit.as_str()), (42, 8, json!(21.5), "Cel"));
    // The same format with a JSON object is flagged.
    let mut bytes = vec![0x50, 0x45, 0x00, 0x04, 0xC1, 0x6E, 0xFF];
    bytes.extend_from_slice(br#"{"v":1}"#);
    assert!(field(&decode(&bytes), "payload").warnings[0].contains("not a SenML pack"));
}

#[test]
fn format_errors_are_warned() {
    // token length 9
    let decoded = decode(&[0x49, 0x01, 0x00, 0x01, 0x00]);
    assert!(decoded.warnings[0].contains("token length 9"));
    assert_eq!(decoded.fields.last().unwrap().offset, 1);
    // reserved option nibble 15 (0xF1)
    let decoded = decode(&[0x40, 0x01, 0x00, 0x01, 0xF1, 0x00]);
    assert!(decoded.warnings[0].contains("reserved"));
    let rest = decoded.fields.last().unwrap();
    assert_eq!((rest.name.as_str(), rest.offset, rest.length), ("bytes", 4, 2));
    // payload marker with nothing after it
    let decoded = decode(&[0x40, 0x45, 0x00, 0x01, 0xFF]);
    assert!(field(&decoded, "payload marker").warnings[0].contains("format error"));
    // option value past the end
    let decoded = decode(&[0x40, 0x01, 0x00, 0x01, 0xB4, b'a']);
    assert!(decoded.warnings[0].contains("runs past the end"));
    // short header and short token
    assert!(decode(&[0x40, 0x01]).warnings[0].contains("needs 4 bytes"));
    assert!(decode(&[0x44, 0x01, 0x00, 0x01, 0xAA]).warnings[0].contains("token of 4 bytes"));
    // unknown critical option 9
    let decoded = decode(&[0x40, 0x01, 0x00, 0x01, 0x90]);
    assert!(field(&decoded, "option 9").warnings[0].contains("critical"));
}

/// The option header for `delta` and `length` with its 13/14 extended bytes (RFC 7252 §3.1).
fn option_header(delta: u32, length: usize) -> Vec<u8> {
    fn nibble(value: u32) -> (u8, Vec<u8>) {
        match value {
            0..=12 => (value as u8, Vec::new()),
            13..=268 => (13, vec![(value - 13) as u8]),
            _ => (14, ((value - 269) as u16).to_be_bytes().to_vec()),
        }
    }
    let (delta_nibble, delta_extra) = nibble(delta);
    let (length_nibble, length_extra) = nibble(length as u32);
    let mut header = vec![delta_nibble << 4 | length_nibble];
    header.extend(delta_extra);
    header.extend(length_extra);
    header
}

proptest! {
    #[test]
    fn encoded_options_decode_back(
        options in proptest::collection::vec((0u32..1000, proptest::collection::vec(any::<u8>(), 0..300)), 0..6)
    ) {
        let mut bytes = vec![0x40, 0x01, 0x00, 0x01];
        let mut number = 0;
        let mut expected = Vec::new();
        for (delta, value) in &options {
            number += delta;
            let start = bytes.len();
            bytes.extend(option_header(*delta, value.len()));
            bytes.extend_from_slice(value);
            expected.push((start, bytes.len() - start, format!("delta {delta} (option {number}), length {}", value.len())));
        }
        let decoded = decode(&bytes);
        prop_assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        let decoded_options: Vec<_> = decoded.fields.iter().skip(5).collect();
        prop_assert_eq!(decoded_options.len(), expected.len());
        for (option, (offset, length, header)) in decoded_options.into_iter().zip(expected) {
            prop_assert_eq!((option.offset, option.length), (offset, length));
            prop_assert_eq!(&option.child("header").unwrap().value, &json!(header));
        }
    }


    #[test]
    fn arbitrary_bytes_decode_within_the_payload(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let decoded = decode(&bytes);
        for field in &decoded.fields {
            assert_within(field, bytes.len());
        }
    }

    #[test]
    fn arbitrary_options_after_a_valid_header(tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        let mut bytes = vec![0x40, 0x45, 0x12, 0x34];
        bytes.extend_from_slice(&tail);
        let decoded = decode(&bytes);
        prop_assert_eq!(&decoded.fields[3].name, "code");
        for field in &decoded.fields {
            assert_within(field, bytes.len());
        }
    }
}
