//! The field-tree invariants every payload decoder promises, checked on arbitrary bytes through the public API:
//! decoding finishes without panicking, every field lies within the payload, every child within its parent, the
//! hover lookup finds a field that covers the byte, and the tree serialises as `benchtop inspect --json` does.

use benchtop::inspect::{Decoded, Field, cbor, coap, json, lpp, mqtt};
use proptest::prelude::*;

fn check_field(field: &Field, parent: std::ops::Range<usize>) {
    assert!(
        field.offset >= parent.start && field.offset + field.length <= parent.end,
        "{} at {}+{} outside {parent:?}",
        field.name,
        field.offset,
        field.length
    );
    if let (Some(bit_offset), Some(bit_length)) = (field.bit_offset, field.bit_length) {
        assert!(bit_offset / 8 >= field.offset as u64);
        assert!((bit_offset + bit_length).div_ceil(8) <= (field.offset + field.length) as u64);
    }
    for child in &field.children {
        check_field(child, field.bytes());
    }
}

fn check(decoded: &Decoded, bytes: &[u8]) {
    assert_eq!(decoded.size_bytes, bytes.len());
    for field in &decoded.fields {
        check_field(field, 0..bytes.len());
    }
    for index in 0..bytes.len() {
        if let Some(path) = decoded.field_at(index) {
            assert!(path.iter().all(|field| field.bytes().contains(&index)));
        }
    }
    assert!(serde_json::to_string(decoded).is_ok());
}

type Decoder = fn(&[u8]) -> Decoded;

const DECODERS: [(&str, Decoder); 5] = [
    ("lpp", lpp::decode),
    ("cbor", cbor::decode),
    ("json", json::decode),
    ("coap", coap::decode),
    ("mqtt", mqtt::decode),
];

/// An ACK 2.05 with token, Observe, Content-Format 60 and the CBOR payload `{"t": 21.125}`.
const COAP_MESSAGE: [u8; 18] =
    [0x64, 0x45, 0x7D, 0x34, 0x0A, 0x1B, 0x2C, 0x3D, 0x60, 0x61, 0x3C, 0xFF, 0xA1, 0x61, 0x74, 0xF9, 0x4D, 0x48];

#[test]
fn each_decoder_names_its_format_and_covers_a_worked_example() {
    let examples: [&[u8]; 5] = [
        &[0x03, 0x67, 0x01, 0x10],
        &[0xA1, 0x61, 0x74, 0x01],
        br#"{"t":1}"#,
        &[0x50, 0x45, 0x00, 0x01, 0xFF, b'o', b'k'],
        &[0x30, 0x05, 0x00, 0x01, b't', b'o', b'k'],
    ];
    for ((name, decode), bytes) in DECODERS.into_iter().zip(examples) {
        let decoded = decode(bytes);
        assert_eq!(decoded.format, name);
        assert!(decoded.warnings.is_empty(), "{name}: {:?}", decoded.warnings);
        check(&decoded, bytes);
        // Every byte of these well-formed examples belongs to some field.
        assert!((0..bytes.len()).all(|index| decoded.field_at(index).is_some()), "{name} leaves a byte unexplained");
    }
}

proptest! {
    #[test]
    fn arbitrary_bytes_keep_the_tree_invariants(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
        for (_, decode) in DECODERS {
            check(&decode(&bytes), &bytes);
        }
    }

    #[test]
    fn a_truncated_coap_message_keeps_the_invariants(cut in 0usize..=18) {
        let short = &COAP_MESSAGE[..cut];
        let decoded = coap::decode(short);
        check(&decoded, short);
        // Cut after the token, the Observe option or the marker, the message is still well formed; a cut CBOR
        // payload is warned on the payload field.
        let message_level = !matches!(short.len(), 8 | 9 | 11..=18);
        prop_assert_eq!(!decoded.warnings.is_empty(), message_level, "{:?}", decoded.warnings);
        let payload_warned = decoded.fields.iter().any(|f| f.name == "payload" && !f.warnings.is_empty());
        prop_assert_eq!(payload_warned, (13..18).contains(&short.len()));
    }
}
