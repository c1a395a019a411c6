//! CBOR decoder tests: RFC 8949 appendix A examples as golden bytes, a SenML pack with offsets worked out by
//! hand, malformed and truncated items, and proptests: arbitrary bytes decode within the payload, and documents
//! written by a minimal encoder here decode to the same values.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::inspect::field::assert_within;

fn root(bytes: &[u8]) -> Field {
    let decoded = decode(bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    assert_eq!(decoded.fields.len(), 1);
    decoded.fields[0].clone()
}

#[test]
fn rfc_8949_integers() {
    assert_eq!(root(&[0x17]).value, json!(23));
    let field = root(&[0x19, 0x03, 0xE8]);
    assert_eq!((field.value.clone(), field.offset, field.length), (json!(1000), 0, 3));
    assert_eq!(root(&[0x20]).value, json!(-1));
    assert_eq!(root(&[0x39, 0x03, 0xE7]).value, json!(-1000));
    let huge = root(&[0x3B, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);
    assert_eq!(huge.value, json!("-1-18446744073709551615"));
    assert_eq!(huge.length, 9);
}

#[test]
fn rfc_8949_floats_and_simple_values() {
    assert_eq!(root(&[0xF9, 0x3C, 0x00]).value, json!(1.0));
    assert_eq!(root(&[0xF9, 0x7B, 0xFF]).value, json!(65504.0));
    assert_eq!(root(&[0xF9, 0x00, 0x01]).value, json!(5.960464477539063e-8));
    assert_eq!(root(&[0xF9, 0xC4, 0x00]).value, json!(-4.0));
    assert_eq!(root(&[0xFA, 0x47, 0xC3, 0x50, 0x00]).value, json!(100000.0));
    assert_eq!(root(&[0xFB, 0x3F, 0xF1, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9A]).value, json!(1.1));
    assert_eq!(root(&[0xF4]).value, json!(false));
    assert_eq!(root(&[0xF5]).value, json!(true));
    assert_eq!(root(&[0xF6]).value, serde_json::Value::Null);
    assert_eq!(root(&[0xF7]).value, json!("undefined"));
    assert_eq!(root(&[0xF0]).value, json!("simple(16)"));
    assert_eq!(root(&[0xF8, 0xFF]).value, json!("simple(255)"));
}

#[test]
fn strings_tags_and_containers() {
    assert_eq!(root(&[0x64, 0x49, 0x45, 0x54, 0x46]).value, json!("IETF"));
    assert_eq!(root(&[0x44, 0x01, 0x02, 0x03, 0x04]).value, json!("01020304"));
    let tag = root(&[0xC1, 0x1A, 0x51, 0x4B, 0x67, 0xB0]);
    assert_eq!((tag.raw.clone(), tag.length), (json!(1), 6));
    assert_eq!(tag.value, json!("epoch time (1): 2013-03-21T20:04:00Z"));
    assert_eq!(root(&[0xC2, 0x41, 0x01]).value, json!("positive bignum (2)"));
    // An epoch time past year 9999 keeps the plain tag name.
    assert_eq!(root(&[0xC1, 0x1B, 0, 0, 0, 0x3B, 0, 0, 0, 0]).value, json!("epoch time (1)"));
    let content = tag.child("content").unwrap();
    assert_eq!((content.offset, content.length, content.value.clone()), (1, 5, json!(1_363_896_240)));
    // {"a": 1, "b": [2, 3]}
    let map = root(&[0xA2, 0x61, 0x61, 0x01, 0x61, 0x62, 0x82, 0x02, 0x03]);
    assert_eq!(map.length, 9);
    let a = map.child("a").unwrap();
    assert_eq!((a.offset, a.length, a.value.clone()), (1, 3, json!(1)));
    let b = map.child("b").unwrap();
    assert_eq!((b.offset, b.length), (4, 5));
    assert_eq!((b.children[1].name.as_str(), b.children[1].offset, b.children[1].value.clone()), ("[1]", 8, json!(3)));
    // {1: 2, 3: 4}: integer keys become the names
    let map = root(&[0xA2, 0x01, 0x02, 0x03, 0x04]);
    assert_eq!(map.child("3").unwrap().value, json!(4));
    // {1: 2, 1: 3} repeats a key; {1: 2, "1": 3} does not
    assert!(root(&[0xA2, 0x01, 0x02, 0x01, 0x03]).children[1].warnings[0].contains("duplicate key"));
    assert!(root(&[0xA2, 0x01, 0x02, 0x61, b'1', 0x03]).children[1].warnings.is_empty());
}

#[test]
fn indefinite_lengths() {
    // [_ 1, [2, 3], [_ 4, 5]]
    let array = root(&[0x9F, 0x01, 0x82, 0x02, 0x03, 0x9F, 0x04, 0x05, 0xFF, 0xFF]);
    assert_eq!((array.length, array.children.len()), (10, 3));
    let inner = &array.children[2];
    assert_eq!((inner.offset, inner.length, inner.children.len()), (5, 4, 2));
    // (_ "strea", "ming")
    let text = root(&[0x7F, 0x65, 0x73, 0x74, 0x72, 0x65, 0x61, 0x64, 0x6D, 0x69, 0x6E, 0x67, 0xFF]);
    assert_eq!((text.value.clone(), text.length, text.children.len()), (json!("streaming"), 13, 2));
    // (_ h'0102', h'03') and a text split inside a UTF-8 sequence: "é" = C3 A9 in two chunks
    assert_eq!(root(&[0x5F, 0x42, 0x01, 0x02, 0x41, 0x03, 0xFF]).value, json!("010203"));
    let split = root(&[0x7F, 0x61, 0xC3, 0x61, 0xA9, 0xFF]);
    assert_eq!(split.value, json!("é"));
    assert_eq!(split.children[0].value, json!("c3"));
    // RFC 8949 §3.2.3: each chunk must be valid UTF-8 on its own.
    assert!(split.children[0].warnings[0].contains("not valid UTF-8"));
    // {_ "Fun": true, "Amt": -2}
    let map = root(&[0xBF, 0x63, 0x46, 0x75, 0x6E, 0xF5, 0x63, 0x41, 0x6D, 0x74, 0x21, 0xFF]);
    assert_eq!(map.child("Fun").unwrap().value, json!(true));
    let amt = map.child("Amt").unwrap();
    assert_eq!((amt.offset, amt.length, amt.value.clone()), (6, 5, json!(-2)));
}

#[test]
fn senml_pack_gets_label_names_and_resolved_records() {
    // [{-2: "urn:dev:ow:10e2073a01080063:", 0: "voltage", 1: "V", 2: 120},
    //  {0: "current", 6: -5, 2: 1.5 (half)}]
    let mut bytes = vec![0x82, 0xA4, 0x21, 0x78, 0x1C];
    bytes.extend_from_slice(b"urn:dev:ow:10e2073a01080063:");
    bytes.extend_from_slice(&[0x00, 0x67]);
    bytes.extend_from_slice(b"voltage");
    bytes.extend_from_slice(&[0x01, 0x61, b'V', 0x02, 0x18, 0x78, 0xA3, 0x00, 0x67]);
    bytes.extend_from_slice(b"current");
    bytes.extend_from_slice(&[0x06, 0x24, 0x02, 0xF9, 0x3E, 0x00]);
    assert_eq!(bytes.len(), 64);
    let pack = root(&bytes);
    let voltage = &pack.children[0];
    assert_eq!(voltage.name, "urn:dev:ow:10e2073a01080063:voltage");
    assert_eq!((voltage.offset, voltage.length, voltage.unit.as_str()), (1, 47, "V"));
    let base_name = voltage.child("base name").unwrap();
    assert_eq!((base_name.offset, base_name.length), (2, 31));
    let value = voltage.child("value").unwrap();
    assert_eq!((value.offset, value.length, value.value.clone(), value.unit.as_str()), (45, 3, json!(120), "V"));
    let current = &pack.children[1];
    assert_eq!(current.name, "urn:dev:ow:10e2073a01080063:current");
    assert_eq!((current.offset, current.length, current.unit.as_str()), (48, 16, ""));
    let time = current.child("time").unwrap();
    assert_eq!((time.offset, time.length, time.value.clone(), time.unit.as_str()), (58, 2, json!(-5), "s"));
    assert_eq!(current.child("value").unwrap().value, json!(1.5));
    assert_eq!(current.child("name").unwrap().value, json!("current"));
    // As compact SenML JSON the same pack takes 99 bytes against 64 in CBOR.
    let senml_json =
        r#"[{"bn":"urn:dev:ow:10e2073a01080063:","n":"voltage","u":"V","v":120},{"n":"current","t":-5,"v":1.5}]"#;
    assert_eq!(decode(&bytes).json_size_bytes, senml_json.len());
}

#[test]
fn senml_base_value_and_time_add_up() {
    // [{-3: 1000, -5: 10, 0: "t", 1: "Cel", 2: 1, 6: 2}]
    let bytes = [
        0x81, 0xA6, 0x22, 0x19, 0x03, 0xE8, 0x24, 0x0A, 0x00, 0x61, b't', 0x01, 0x63, b'C', b'e', b'l', 0x02, 0x01,
        0x06, 0x02,
    ];
    let record = &root(&bytes).children[0];
    assert_eq!((record.name.as_str(), record.unit.as_str()), ("t", "Cel"));
    assert_eq!(record.child("value").unwrap().value, json!(11.0));
    assert_eq!(record.child("time").unwrap().value, json!(1002.0));
    // The size as SenML JSON uses the values as stored, not the resolved ones.
    assert_eq!(decode(&bytes).json_size_bytes, r#"[{"bt":1000,"bv":10,"n":"t","u":"Cel","v":1,"t":2}]"#.len());
}

#[test]
fn sequences_and_arrays_of_text_maps_are_not_senml() {
    let decoded = decode(&[0x01, 0x02]);
    assert_eq!(decoded.fields.len(), 2);
    assert_eq!((decoded.fields[1].name.as_str(), decoded.fields[1].offset), ("[1]", 1));
    let array = root(&[0x81, 0xA1, 0x61, 0x6E, 0x01]);
    assert_eq!(array.children[0].children[0].name, "n");
    assert_eq!(array.children[0].name, "[0]");
}

#[test]
fn malformed_items_stop_with_a_warning_and_the_rest_as_bytes() {
    // array of 3 with only two items
    let decoded = decode(&[0x83, 0x01, 0x02]);
    assert_eq!(decoded.warnings.len(), 1);
    assert_eq!((decoded.fields[0].length, decoded.fields[0].children.len()), (3, 3));
    let missing = &decoded.fields[0].children[2];
    assert_eq!((missing.name.as_str(), missing.offset, missing.length), ("[2]", 3, 0));
    assert!(missing.warnings[0].contains("ends before an item"));
    // truncated argument
    let decoded = decode(&[0x19, 0x03]);
    assert!(decoded.warnings[0].contains("argument runs past"));
    // reserved additional information, then the rest shown as bytes
    let decoded = decode(&[0x01, 0x1C, 0x05]);
    assert!(decoded.warnings[0].contains("reserved"));
    let rest = decoded.fields.last().unwrap();
    assert_eq!((rest.name.as_str(), rest.offset, rest.length), ("bytes", 1, 2));
    // a break outside an indefinite item
    assert!(decode(&[0xFF]).warnings[0].contains("break"));
    // a text string longer than the payload
    assert!(decode(&[0x65, 0x41]).warnings[0].contains("runs past the end"));
    // a byte-string chunk inside an indefinite text string
    assert!(decode(&[0x7F, 0x41, 0x00, 0xFF]).warnings[0].contains("chunk"));
}

#[test]
fn nesting_is_limited() {
    let bytes = vec![0x81; 200];
    let decoded = decode(&bytes);
    assert!(decoded.warnings[0].contains("deeper than 64"));
}

/// A minimal CBOR encoder for test documents: shortest heads, doubles for non-integers, text keys.
fn encode(value: &serde_json::Value, out: &mut Vec<u8>) {
    fn head(major: u8, argument: u64, out: &mut Vec<u8>) {
        let major = major << 5;
        match argument {
            0..=23 => out.push(major | argument as u8),
            24..=0xFF => out.extend_from_slice(&[major | 24, argument as u8]),
            0x100..=0xFFFF => {
                out.push(major | 25);
                out.extend_from_slice(&(argument as u16).to_be_bytes());
            }
            0x1_0000..=0xFFFF_FFFF => {
                out.push(major | 26);
                out.extend_from_slice(&(argument as u32).to_be_bytes());
            }
            _ => {
                out.push(major | 27);
                out.extend_from_slice(&argument.to_be_bytes());
            }
        }
    }
    match value {
        serde_json::Value::Null => out.push(0xF6),
        serde_json::Value::Bool(flag) => out.push(if *flag { 0xF5 } else { 0xF4 }),
        serde_json::Value::Number(number) => match (number.as_u64(), number.as_i64()) {
            (Some(n), _) => head(0, n, out),
            (None, Some(n)) => head(1, (-1 - n) as u64, out),
            _ => {
                out.push(0xFB);
                out.extend_from_slice(&number.as_f64().unwrap().to_bits().to_be_bytes());
            }
        },
        serde_json::Value::String(text) => {
            head(3, text.len() as u64, out);
            out.extend_from_slice(text.as_bytes());
        }
        serde_json::Value::Array(items) => {
            head(4, items.len() as u64, out);
            items.iter().for_each(|item| encode(item, out));
        }
        serde_json::Value::Object(map) => {
            head(5, map.len() as u64, out);
            for (key, item) in map {
                encode(&serde_json::Value::from(key.as_str()), out);
                encode(item, out);
            }
        }
    }
}

fn document() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "(?s).{0,30}".prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            proptest::collection::btree_map("[a-z]{1,4}", inner, 0..6)
                .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Leaf values in document order.
fn leaves(field: &Field, out: &mut Vec<serde_json::Value>) {
    let container = field.raw.as_str().is_some_and(|raw| raw.starts_with("array(") || raw.starts_with("map("));
    if !container {
        out.push(field.value.clone());
    }
    field.children.iter().for_each(|child| leaves(child, out));
}

fn document_leaves(value: &serde_json::Value, out: &mut Vec<serde_json::Value>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|item| document_leaves(item, out)),
        serde_json::Value::Object(map) => map.values().for_each(|item| document_leaves(item, out)),
        leaf => out.push(leaf.clone()),
    }
}

proptest! {
    #[test]
    fn encoded_documents_decode_to_the_same_values(value in document()) {
        let mut bytes = Vec::new();
        encode(&value, &mut bytes);
        let decoded = decode(&bytes);
        prop_assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        prop_assert_eq!((decoded.fields[0].offset, decoded.fields[0].length), (0, bytes.len()));
        let (mut ours, mut theirs) = (Vec::new(), Vec::new());
        leaves(&decoded.fields[0], &mut ours);
        document_leaves(&value, &mut theirs);
        prop_assert_eq!(ours, theirs);
        prop_assert_eq!(decoded.json_size_bytes, serde_json::to_string(&value).unwrap().len());
    }

    #[test]
    fn arbitrary_bytes_decode_within_the_payload(bytes in proptest::collection::vec(any::<u8>(), 0..96)) {
        let decoded = decode(&bytes);
        for field in &decoded.fields {
            assert_within(field, bytes.len());
        }
    }

    #[test]
    fn containers_of_small_items_decode_without_warnings(items in proptest::collection::vec(0u8..0x18, 0..23)) {
        let mut bytes = vec![0x80 | items.len() as u8];
        bytes.extend_from_slice(&items);
        let decoded = decode(&bytes);
        prop_assert!(decoded.warnings.is_empty());
        prop_assert_eq!(decoded.fields[0].children.len(), items.len());
    }
}
