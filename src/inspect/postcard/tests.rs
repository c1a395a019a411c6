use std::collections::BTreeMap;

use postcard_schema::Schema;
use postcard_schema::schema::owned::{
    OwnedDataModelType, OwnedDataModelVariant, OwnedNamedType, OwnedNamedValue, OwnedNamedVariant,
};
use proptest::prelude::*;
use serde::Serialize;
use serde_json::json;

use super::*;

#[derive(Serialize, Schema)]
enum Mode {
    Idle,
    Level(i32),
    Point { x: f64, y: i8 },
}

#[derive(Serialize, Schema)]
struct Reading {
    id: u16,
    delta: i32,
    ratio: f32,
    name: String,
    mode: Mode,
    note: Option<String>,
    missing: Option<u8>,
    samples: Vec<i16>,
    ok: bool,
}

fn reading() -> Reading {
    Reading {
        id: 300,
        delta: -3,
        ratio: 0.5,
        name: "ab".into(),
        mode: Mode::Point { x: 1.5, y: -2 },
        note: Some("hi".into()),
        missing: None,
        samples: vec![-1, 64],
        ok: true,
    }
}

/// The bytes of [`reading`], pinned: varint id, zigzag delta, f32 LE, string, enum variant 2 with an f64 and
/// an i8, `Some("hi")`, `None`, a sequence of two zigzag i16s, `true`.
const READING_HEX: &str = "ac0205\
    0000003f\
    026162\
    02000000000000f83ffe\
    01026869\
    00\
    02018001\
    01";

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap()).collect()
}

fn place(field: &Field) -> (usize, usize) {
    (field.offset, field.length)
}

#[test]
fn golden_bytes_of_a_struct_with_an_enum_options_a_sequence_and_floats() {
    let bytes = postcard::to_stdvec(&reading()).unwrap();
    assert_eq!(hex(&bytes), READING_HEX);
    let decoded = decode(&bytes, &Reading::SCHEMA.into());
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let root = &decoded.fields[0];
    assert_eq!((root.name.as_str(), place(root)), ("Reading", (0, 30)));
    let f = |name: &str| root.child(name).unwrap_or_else(|| panic!("no {name} in {root:?}"));

    assert_eq!(place(f("id")), (0, 2));
    assert_eq!(f("id").value, json!(300));
    assert_eq!(place(f("delta")), (2, 1));
    assert_eq!((f("delta").raw.clone(), f("delta").value.clone()), (json!(5), json!(-3)));
    assert_eq!(place(f("ratio")), (3, 4));
    assert_eq!((f("ratio").raw.clone(), f("ratio").value.clone()), (json!("0000003f"), json!(0.5)));
    assert_eq!(place(f("name")), (7, 3));
    assert_eq!(f("name").value, json!("ab"));

    let mode = f("mode");
    assert_eq!(place(mode), (10, 10));
    assert_eq!((mode.raw.clone(), mode.value.clone()), (json!(2), json!("Point")));
    assert_eq!(place(mode.child("x").unwrap()), (11, 8));
    assert_eq!(mode.child("x").unwrap().value, json!(1.5));
    assert_eq!(place(mode.child("y").unwrap()), (19, 1));
    assert_eq!(mode.child("y").unwrap().value, json!(-2));

    let note = f("note");
    assert_eq!((place(note), note.raw.clone()), ((20, 4), json!(1)));
    let some = note.child("some").unwrap();
    assert_eq!((place(some), some.value.clone()), ((21, 3), json!("hi")));
    assert_eq!((place(f("missing")), f("missing").value.clone()), ((24, 1), json!("none")));

    let samples = f("samples");
    assert_eq!((place(samples), samples.raw.clone()), ((25, 4), json!(2)));
    let items: Vec<_> = samples.children.iter().map(|c| (place(c), c.value.clone())).collect();
    assert_eq!(items, [((26, 1), json!(-1)), ((27, 2), json!(64))]);
    assert_eq!((place(f("ok")), f("ok").value.clone()), ((29, 1), json!(true)));
}

#[test]
fn maps_tuples_byte_arrays_newtypes_and_units_have_their_bytes() {
    #[derive(Serialize, Schema)]
    struct Id(u32);
    #[derive(Serialize, Schema)]
    struct Marker;
    #[derive(Serialize, Schema)]
    struct Record {
        eui: [u8; 4],
        pair: (u8, i64),
        id: Id,
        marker: Marker,
        limits: BTreeMap<u8, bool>,
    }
    let record = Record {
        eui: [0xde, 0xad, 0xbe, 0xef],
        pair: (7, -65),
        id: Id(128),
        marker: Marker,
        limits: BTreeMap::from([(1, true), (2, false)]),
    };
    let bytes = postcard::to_stdvec(&record).unwrap();
    assert_eq!(hex(&bytes), "deadbeef07810180010201010200");
    let decoded = decode(&bytes, &Record::SCHEMA.into());
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let root = &decoded.fields[0];
    let eui = root.child("eui").unwrap();
    assert_eq!((place(eui), eui.value.clone()), ((0, 4), json!("deadbeef")));
    let pair = root.child("pair").unwrap();
    assert_eq!(place(pair), (4, 3));
    assert_eq!((place(&pair.children[1]), pair.children[1].value.clone()), ((5, 2), json!(-65)));
    let id = root.child("id").unwrap();
    assert_eq!((place(id), id.value.clone()), ((7, 2), json!(128)));
    assert_eq!(place(root.child("marker").unwrap()), (9, 0));
    let limits = root.child("limits").unwrap();
    assert_eq!((place(limits), limits.raw.clone()), ((9, 5), json!(2)));
    let second = &limits.children[1];
    assert_eq!(place(second), (12, 2));
    assert_eq!(second.child("key").unwrap().value, json!(2));
    assert_eq!(second.child("value").unwrap().value, json!(false));
}

#[test]
fn a_short_input_and_leftover_bytes_are_warnings() {
    let bytes = unhex(READING_HEX);
    let short = decode(&bytes[..12], &Reading::SCHEMA.into());
    assert!(short.warnings.iter().any(|w| w.contains("ends early")), "{:?}", short.warnings);
    // What was read before the cut is kept.
    assert_eq!(short.fields[0].child("name").unwrap().value, json!("ab"));
    let mut long = bytes.clone();
    long.extend([0xAA, 0xBB]);
    let long = decode(&long, &Reading::SCHEMA.into());
    assert_eq!(long.warnings, ["2 bytes after the end of the message: the schema may not match the sender's"]);
}

#[test]
fn an_unknown_variant_and_a_bad_option_tag_are_named() {
    let idle = decode(&postcard::to_stdvec(&Mode::Idle).unwrap(), &Mode::SCHEMA.into());
    assert_eq!((place(&idle.fields[0]), idle.fields[0].value.clone()), ((0, 1), json!("Idle")));
    let level = decode(&postcard::to_stdvec(&Mode::Level(-1)).unwrap(), &Mode::SCHEMA.into());
    assert_eq!(level.fields[0].child("Level").unwrap().value, json!(-1));
    let decoded = decode(&[0x07], &Mode::SCHEMA.into());
    assert!(decoded.fields[0].warnings[0].contains("variant 7"), "{:?}", decoded.fields);
    let decoded = decode(&[0x02], &<Option<u8>>::SCHEMA.into());
    assert!(decoded.fields[0].warnings[0].contains("option tag 2"), "{:?}", decoded.fields);
}

#[test]
fn a_schema_carried_as_a_value_reads_as_pseudocode() {
    let schema: OwnedNamedType = Reading::SCHEMA.into();
    let bytes = postcard::to_stdvec(&schema).unwrap();
    let decoded = decode(&bytes, &OwnedNamedType::SCHEMA.into());
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    assert_eq!(place(&decoded.fields[0]), (0, bytes.len()));
    assert!(decoded.fields[0].value.as_str().unwrap().contains("Reading"), "{:?}", decoded.fields[0].value);
    // A schema nested deeper than the limit is refused before postcard-schema's reader recurses into it.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        deep.extend([0x00, 18]); // an unnamed Option of …
    }
    let decoded = decode(&deep, &OwnedNamedType::SCHEMA.into());
    assert!(decoded.warnings.iter().any(|w| w.contains("nested too deeply")), "{:?}", decoded.warnings);
}

fn unit() -> OwnedNamedType {
    OwnedNamedType { name: "()".into(), ty: OwnedDataModelType::Unit }
}

fn seq_of(item: OwnedNamedType) -> OwnedNamedType {
    OwnedNamedType { name: "[T]".into(), ty: OwnedDataModelType::Seq(Box::new(item)) }
}

#[test]
fn billions_of_zero_sized_items_stop_at_the_field_limit() {
    // Three nested sequences of units, each claiming 2^35 items: no byte is consumed per item.
    let schema = seq_of(seq_of(seq_of(unit())));
    let count = [0x80, 0x80, 0x80, 0x80, 0x80, 0x01];
    let bytes: Vec<u8> = count.iter().chain(&count).chain(&count).copied().collect();
    let started = std::time::Instant::now();
    let decoded = decode(&bytes, &schema);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(decoded.warnings.iter().any(|w| w.contains("more than")), "{:?}", decoded.warnings);
}

fn leaf() -> impl Strategy<Value = OwnedNamedType> {
    use OwnedDataModelType as T;
    prop_oneof![
        Just(T::Bool),
        Just(T::U8),
        Just(T::I8),
        Just(T::U16),
        Just(T::I32),
        Just(T::U64),
        Just(T::I128),
        Just(T::Usize),
        Just(T::F32),
        Just(T::F64),
        Just(T::Char),
        Just(T::String),
        Just(T::ByteArray),
        Just(T::Unit),
        Just(T::UnitStruct),
        Just(T::Schema),
    ]
    .prop_map(|ty| OwnedNamedType { name: "leaf".into(), ty })
}

fn schema() -> impl Strategy<Value = OwnedNamedType> {
    use OwnedDataModelType as T;
    leaf().prop_recursive(6, 48, 4, |inner| {
        let members = proptest::collection::vec(inner.clone(), 0..4);
        prop_oneof![
            inner.clone().prop_map(|t| T::Option(Box::new(t))),
            inner.clone().prop_map(|t| T::Seq(Box::new(t))),
            inner.clone().prop_map(|t| T::NewtypeStruct(Box::new(t))),
            (inner.clone(), inner.clone()).prop_map(|(k, v)| T::Map { key: Box::new(k), val: Box::new(v) }),
            members.clone().prop_map(T::Tuple),
            members.clone().prop_map(|m| T::Struct(
                m.into_iter().enumerate().map(|(i, ty)| OwnedNamedValue { name: format!("m{i}"), ty }).collect()
            )),
            members.prop_map(|m| {
                let mut variants =
                    vec![OwnedNamedVariant { name: "Unit".into(), ty: OwnedDataModelVariant::UnitVariant }];
                variants.extend(m.into_iter().enumerate().map(|(i, ty)| OwnedNamedVariant {
                    name: format!("V{i}"),
                    ty: OwnedDataModelVariant::NewtypeVariant(Box::new(ty)),
                }));
                T::Enum(variants)
            }),
        ]
        .prop_map(|ty| OwnedNamedType { name: "node".into(), ty })
    })
}

proptest! {
    #[test]
    fn arbitrary_bytes_with_arbitrary_schemas_never_panic_and_stay_inside(
        ty in schema(),
        bytes in proptest::collection::vec(any::<u8>(), 0..256),
    ) {
        let decoded = decode(&bytes, &ty);
        fn inside(fields: &[Field], len: usize) -> bool {
            fields.iter().all(|f| f.offset + f.length <= len && inside(&f.children, len))
        }
        prop_assert!(inside(&decoded.fields, bytes.len()));
        prop_assert_eq!(decoded.size_bytes, bytes.len());
    }
}
