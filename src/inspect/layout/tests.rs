//! Golden payloads, round trips, error lines and property tests for layouts.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::inspect::Field;
use crate::inspect::input::parse_hex;

const ENV_SENSOR: &str = include_str!("../../../assets/layouts/env-sensor-v1.toml");
const BATCH: &str = include_str!("../../../assets/layouts/batch-v1.toml");
const ENV_PAYLOAD: &str = "08 66 5B A5 04 D2 01 02";
const BATCH_PAYLOAD: &str = "03 65 53 F1 00 00 00 00 D7 01 2C 00 DA 01 2C FF F4";

fn layout_error(text: &str) -> (usize, String) {
    match Layout::from_toml(text) {
        Err(InspectError::Layout { line, reason }) => (line, reason),
        other => panic!("expected a layout error, got {other:?}"),
    }
}

#[test]
fn env_sensor_golden_decode() {
    let layout = Layout::from_toml(ENV_SENSOR).unwrap();
    assert_eq!(layout.static_size_bytes(), Some(8));
    let decoded = layout.decode(&parse_hex(ENV_PAYLOAD).unwrap());
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    assert_eq!(decoded.format, "env-sensor-v1");
    let summary: Vec<_> = decoded
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.offset, f.length, f.bit_offset, f.bit_length, f.raw.clone(), f.value.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("temperature", 0, 2, None, None, json!(2150), json!(21.5)),
            ("humidity", 2, 1, None, None, json!(91), json!(45.5)),
            ("battery", 3, 2, Some(24), Some(10), json!(660), json!(3.3)),
            ("light", 4, 2, Some(34), Some(14), json!(1234), json!(1234)),
            ("uplink_count", 6, 2, None, None, json!(513), json!(513)),
        ]
    );
    assert_eq!(decoded.fields[0].unit, "°C");
    let compact = r#"{"temperature":21.5,"humidity":45.5,"battery":3.3,"light":1234,"uplink_count":513}"#;
    assert_eq!(decoded.json_size_bytes, compact.len());
    // Hovering byte 4 (shared by battery and light) finds the first field covering it.
    assert_eq!(decoded.field_at(5).unwrap()[0].name, "light");
}

#[test]
fn env_sensor_encode_round_trip() {
    let layout = Layout::from_toml(ENV_SENSOR).unwrap();
    let bytes = layout.encode("temperature=21.5, humidity=45.5, battery=3.3, light=1234, uplink_count=513").unwrap();
    assert_eq!(bytes, parse_hex(ENV_PAYLOAD).unwrap());
    let again = layout.decode(&bytes);
    assert_eq!(again.fields[2].value, json!(3.3));
}

#[test]
fn batch_golden_decode_and_encode() {
    let layout = Layout::from_toml(BATCH).unwrap();
    assert_eq!(layout.static_size_bytes(), None);
    let bytes = parse_hex(BATCH_PAYLOAD).unwrap();
    let decoded = layout.decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let samples = &decoded.fields[2];
    assert_eq!((samples.name.as_str(), samples.offset, samples.length), ("samples", 5, 12));
    assert_eq!(samples.children.len(), 3);
    let record = &samples.children[2];
    assert_eq!((record.name.as_str(), record.offset, record.length), ("[2]", 13, 4));
    assert_eq!(record.children[1].raw, json!(-12));
    assert_eq!(record.children[1].value, json!(-1.2));
    assert_eq!(decoded.fields[1].value, json!(1_700_000_000u32));
    let compact = r#"{"count":3,"base_time":1700000000,"samples":[{"delta":0,"value":21.5},{"delta":300,"value":21.8},{"delta":300,"value":-1.2}]}"#;
    assert_eq!(decoded.json_size_bytes, compact.len());

    // The count is left out: it becomes the number of records given.
    let encoded = layout
        .encode(
            "base_time=1700000000,samples[0].delta=0,samples[0].value=21.5,samples[1].delta=300,\
             samples[1].value=21.8,samples[2].delta=300,samples[2].value=-1.2",
        )
        .unwrap();
    assert_eq!(encoded, bytes);
}

#[test]
fn little_endian_layout_with_a_big_endian_override() {
    let layout = Layout::from_toml(
        r#"name = "le"
byte_order = "little"
[[fields]]
name = "a"
type = "u24"
[[fields]]
name = "b"
type = "i32"
byte_order = "big"
[[fields]]
name = "c"
type = "f32"
"#,
    )
    .unwrap();
    let bytes = [0x01, 0x02, 0x03, 0xFF, 0xFF, 0xFF, 0xFE, 0x00, 0x00, 0xC0, 0x3F];
    let decoded = layout.decode(&bytes);
    assert_eq!(decoded.fields[0].raw, json!(0x030201));
    assert_eq!(decoded.fields[1].raw, json!(-2));
    assert_eq!(decoded.fields[2].value, json!(1.5));
    assert_eq!(layout.encode("a=197121,b=-2,c=1.5").unwrap(), bytes);
}

#[test]
fn signed_bits_cross_bytes_and_groups_of_bits() {
    let layout = Layout::from_toml(
        r#"name = "bits"
[[fields]]
name = "n"
type = "bits:3"
[[fields]]
name = "points"
type = "group"
count_field = "n"
fields = [{ name = "dx", type = "ibits:7" }, { name = "flag", type = "bits:1" }]
[[fields]]
name = "tail"
type = "bits:5"
"#,
    )
    .unwrap();
    let bytes = layout.encode("points[0].dx=-3,points[0].flag=1,points[1].dx=63,points[1].flag=0,tail=17").unwrap();
    // n 010 | dx 1111101, flag 1 | dx 0111111, flag 0 | tail 10001 → 01011111 01101111 11010001
    assert_eq!(bytes, [0b0101_1111, 0b0110_1111, 0b1101_0001]);
    let decoded = layout.decode(&bytes);
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let first = &decoded.fields[1].children[0];
    assert_eq!((first.bit_offset, first.bit_length, first.offset, first.length), (Some(3), Some(8), 0, 2));
    assert_eq!(first.children[0].value, json!(-3));
    assert_eq!(decoded.fields[2].value, json!(17));
}

#[test]
fn truncation_and_trailing_bytes_are_warnings() {
    let layout = Layout::from_toml(BATCH).unwrap();
    let decoded = layout.decode(&parse_hex("03 65 53 F1 00 00 00 00 D7 01").unwrap());
    assert_eq!(decoded.warnings.len(), 1, "{:?}", decoded.warnings);
    assert!(
        decoded.warnings[0].contains("truncated: `samples[1].delta` needs 2 bytes at byte 9"),
        "{:?}",
        decoded.warnings
    );
    assert_eq!(decoded.fields[2].children.len(), 2, "the partial record is shown up to the break");

    let decoded = layout.decode(&parse_hex("03 65 53 F1 00").unwrap());
    assert!(decoded.warnings[0].contains("should hold 3 records, the payload ends after 0"), "{:?}", decoded.warnings);

    let env = Layout::from_toml(ENV_SENSOR).unwrap();
    let decoded = env.decode(&parse_hex("08 66 5B A5 04 D2 01 02 AA BB").unwrap());
    assert_eq!(
        decoded.warnings,
        ["2 trailing bytes after the layout's fields (offset 8..10); is this the right layout?"]
    );
    assert_eq!(decoded.fields.len(), 5);
}

#[test]
fn encode_refuses_values_that_do_not_fit() {
    let layout = Layout::from_toml(ENV_SENSOR).unwrap();
    let all = "temperature=21.5,humidity=45.5,battery=3.3,light=1234,uplink_count=513";
    let cases = [
        ("humidity=128", "humidity", "raw 256 after scaling"),
        ("battery=5.2", "battery", "raw values 0 to 1023"),
        ("temperature=400", "temperature", "raw values -32768 to 32767"),
        ("light=-1", "light", "raw values 0 to 16383"),
        ("light=lots", "light", "not a number"),
    ];
    for (change, field, expected) in cases {
        let name = change.split('=').next().unwrap();
        let list: Vec<&str> = all.split(',').filter(|a| !a.starts_with(name)).chain([change]).collect();
        match layout.encode(&list.join(",")) {
            Err(InspectError::Encode { field: f, reason }) => {
                assert_eq!(f, field);
                assert!(reason.contains(expected), "{change}: {reason}");
            }
            other => panic!("{change}: {other:?}"),
        }
    }
    let error = layout.encode("temperature=1").unwrap_err().to_string();
    assert!(error.contains("humidity") && error.contains("no value given"), "{error}");
    let error = layout.encode(&format!("{all},pressure=1000")).unwrap_err().to_string();
    assert!(error.contains("`pressure`") && error.contains("no such field"), "{error}");
    let batch = Layout::from_toml(BATCH).unwrap();
    let error =
        batch.encode("count=1,base_time=0,samples[0].delta=0,samples[0].value=1,samples[1].delta=0").unwrap_err();
    assert!(error.to_string().contains("samples[1].delta"), "{error}");
}

#[test]
fn malformed_layouts_name_the_line() {
    let head = "name = \"x\"\n";
    let cases: [(&str, usize, &str); 10] = [
        ("[[fields]]\nname = \"a\"\ntype = \"uint16\"\n", 4, "did you mean \"u16\""),
        ("[[fields]]\ntype = \"u8\"\n", 2, "no name"),
        ("byte_order = \"bigg\"\n[[fields]]\nname = \"a\"\ntype = \"u8\"\n", 2, "write \"big\" or \"little\""),
        (
            "[[fields]]\nname = \"g\"\ntype = \"group\"\ncount_field = \"n\"\nfields = [{ name = \"v\", type = \"u8\" }]\n[[fields]]\nname = \"n\"\ntype = \"u8\"\n",
            5,
            "names the field on line 7, which comes after group `g`",
        ),
        ("[[fields]]\nname = \"a\"\ntype = \"bits:65\"\n", 4, "from 1 to 64"),
        (
            "[[fields]]\nname = \"a\"\ntype = \"bits:3\"\n[[fields]]\nname = \"b\"\ntype = \"u8\"\n",
            5,
            "add a bits:5 field",
        ),
        ("[[fields]]\nname = \"a\"\ntype = \"u8\"\nsacle = 0.1\n", 5, "unknown field `sacle`"),
        (
            "[[fields]]\nname = \"a\"\ntype = \"u8\"\n[[fields]]\nname = \"a\"\ntype = \"u8\"\n",
            5,
            "already used on line 2",
        ),
        ("[[fields]]\nname = \"a\"\ntype = \"group\"\nfields = [{ name = \"v\", type = \"u8\" }]\n", 4, "has no count"),
        ("[[fields]]\nname = \"a.b\"\ntype = \"u8\"\n", 3, "contains one of"),
    ];
    for (body, line, expected) in cases {
        let (got_line, reason) = layout_error(&format!("{head}{body}"));
        assert!(reason.contains(expected), "{body}: {reason}");
        assert_eq!(got_line, line, "{body}: {reason}");
    }
    assert_eq!(layout_error("[[fields]]\nname = \"a\"\ntype = \"u8\"\n").0, 1, "no name at all");
    let (line, reason) = layout_error(&format!(
        "{head}[[fields]]\nname = \"g\"\ntype = \"group\"\ncount_field = \"m\"\nfields = [{{ name = \"v\", type = \"u8\" }}]\n"
    ));
    assert_eq!(line, 5);
    assert!(reason.contains("does not name an earlier field") && reason.contains("none"), "{reason}");
    assert_eq!(layout_error("name = \"x\"\nname = \n").0, 2, "TOML syntax errors carry their line");
}

/// One field of a generated layout, as TOML inline-table text.
fn leaf_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["u8", "i8", "u16", "i16", "u24", "i24", "u32", "i32", "u64", "i64", "f32", "f64"])
            .prop_map(|t| format!("type = \"{t}\", scale = 0.5, offset = 1.0")),
        (1u8..=64, any::<bool>()).prop_map(|(n, s)| format!("type = \"{}bits:{n}\"", if s { "i" } else { "" })),
        (1usize..4).prop_map(|n| format!("type = \"pad:{n}\"")),
        (1usize..4).prop_map(|n| format!("type = \"bytes:{n}\"")),
    ]
}

fn layout_strategy() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(leaf_strategy(), 1..5),
        prop::collection::vec(leaf_strategy(), 1..3),
        any::<bool>(),
        0u64..3,
    )
        .prop_map(|(top, record, little, nested_count)| {
            let mut text = format!("name = \"p\"\nbyte_order = \"{}\"\n", if little { "little" } else { "big" });
            text.push_str("[[fields]]\nname = \"n\"\ntype = \"u8\"\n");
            for (index, leaf) in top.iter().enumerate() {
                text.push_str(&format!("[[fields]]\nname = \"f{index}\"\n{}\n", leaf.replace(", ", "\n")));
            }
            let mut inner: Vec<String> =
                record.iter().enumerate().map(|(i, leaf)| format!("{{ name = \"r{i}\", {leaf} }}")).collect();
            // A nested group counted by a field of the enclosing record, or a fixed count (0 included).
            inner.push(format!(
                "{{ name = \"h\", type = \"group\", count = {nested_count}, fields = [{{ name = \"x\", type = \"bits:3\" }}] }}"
            ));
            text.push_str(&format!(
                "[[fields]]\nname = \"g\"\ntype = \"group\"\ncount_field = \"n\"\nfields = [{}]\n",
                inner.join(", ")
            ));
            text
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any generated layout either loads or names a line inside the file; a loaded one decodes any bytes
    /// without panicking, within the payload, and stays within it.
    #[test]
    fn layouts_decode_arbitrary_bytes(text in layout_strategy(), bytes in prop::collection::vec(any::<u8>(), 0..64)) {
        match Layout::from_toml(&text) {
            Ok(layout) => {
                let decoded = layout.decode(&bytes);
                fn within(fields: &[Field], size: usize) -> bool {
                    fields.iter().all(|f| f.offset + f.length <= size && within(&f.children, size))
                }
                prop_assert!(within(&decoded.fields, bytes.len()));
            }
            Err(InspectError::Layout { line, .. }) => prop_assert!(line >= 1 && line <= text.lines().count() + 1),
            Err(other) => prop_assert!(false, "unexpected error {other}"),
        }
    }

    /// A defect injected into one field of a valid layout is reported on that field's `type` line.
    #[test]
    fn injected_defects_name_their_line(
        field_count in 1usize..8,
        pick in any::<prop::sample::Index>(),
        defect in prop::sample::select(vec!["uint16", "bits:0", "bits:99", "pad:x", "bytes:0", "i17", "Group"]),
    ) {
        let broken = pick.index(field_count);
        let mut text = String::from("name = \"p\"\n");
        let mut defect_line = 0;
        for index in 0..field_count {
            text.push_str(&format!("\n[[fields]]\nname = \"f{index}\"\n"));
            if index == broken {
                defect_line = text.lines().count() + 1;
                text.push_str(&format!("type = \"{defect}\"\n"));
            } else {
                text.push_str("type = \"u16\"\nscale = 0.1\n");
            }
        }
        match Layout::from_toml(&text) {
            Err(InspectError::Layout { line, reason }) => {
                prop_assert_eq!(line, defect_line, "{}", reason);
                prop_assert!(reason.contains(defect), "{}", reason);
            }
            other => prop_assert!(false, "expected a layout error, got {:?}", other),
        }
    }

    /// Arbitrary text never panics the loader; errors carry a line within the text.
    #[test]
    fn arbitrary_text_gives_a_line(text in "[a-z_=\"\\[\\]:{}, 0-9\n]{0,120}") {
        if let Err(InspectError::Layout { line, .. }) = Layout::from_toml(&text) {
            prop_assert!(line >= 1 && line <= text.lines().count() + 1);
        }
    }

    /// Any batch payload decodes and encodes back to the same bytes, the count filled in from the records.
    #[test]
    fn batch_round_trips(records in prop::collection::vec(any::<[u8; 4]>(), 0..6), base in any::<[u8; 4]>()) {
        let layout = Layout::from_toml(BATCH).unwrap();
        let mut bytes = vec![u8::try_from(records.len()).unwrap()];
        bytes.extend(base);
        bytes.extend(records.iter().flatten());
        let decoded = layout.decode(&bytes);
        prop_assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
        let mut list = vec![format!("base_time={}", decoded.fields[1].value)];
        for record in &decoded.fields[2].children {
            for field in &record.children {
                list.push(format!("samples{}.{}={}", record.name, field.name, field.value));
            }
        }
        prop_assert_eq!(layout.encode(&list.join(",")).unwrap(), bytes);
    }

    /// Whatever decodes from bytes without warnings encodes back to the same bytes (env sensor layout).
    #[test]
    fn env_sensor_round_trips(bytes in prop::collection::vec(any::<u8>(), 8)) {
        let layout = Layout::from_toml(ENV_SENSOR).unwrap();
        let decoded = layout.decode(&bytes);
        let list: Vec<String> = decoded.fields.iter().map(|f| format!("{}={}", f.name, f.value)).collect();
        prop_assert_eq!(layout.encode(&list.join(",")).unwrap(), bytes);
    }
}

#[test]
fn padding_and_raw_bytes() {
    let layout = Layout::from_toml(
        "name = \"ids\"\n[[fields]]\ntype = \"pad:1\"\n[[fields]]\ntype = \"pad:1\"\n[[fields]]\nname = \"id\"\ntype = \"bytes:2\"\n[[fields]]\nname = \"tries\"\ntype = \"group\"\ncount = 2\nfields = [{ name = \"rssi\", type = \"i8\", unit = \"dBm\" }]\n",
    )
    .unwrap();
    assert_eq!(layout.static_size_bytes(), Some(6), "two unnamed pads may share the name `pad`");
    let bytes = layout.encode("id=be:ef, tries[0].rssi=-90, tries[1].rssi=-101").unwrap();
    assert_eq!(bytes, [0x00, 0x00, 0xBE, 0xEF, 0xA6, 0x9B]);
    let decoded = layout.decode(&bytes);
    assert_eq!((decoded.fields[0].name.as_str(), &decoded.fields[0].value), ("pad", &serde_json::Value::Null));
    assert_eq!(decoded.fields[2].value, json!("beef"));
    assert_eq!(decoded.json_size_bytes, r#"{"id":"beef","tries":[{"rssi":-90},{"rssi":-101}]}"#.len());
    let decoded = layout.decode(&[0x00, 0x01, 0xBE, 0xEF, 0xA6, 0x9B]);
    assert_eq!(decoded.fields[1].warnings.len(), 1, "a set padding bit is worth a warning");
    assert!(decoded.fields[0].warnings.is_empty());
    let error = layout.encode("id=beefcafe, tries[0].rssi=0, tries[1].rssi=0").unwrap_err().to_string();
    assert!(error.contains("needs 2 bytes of hex, got 4"), "{error}");
    let error = layout.encode("id=beef, tries[0].rssi=0, tries[1].rssi=0, tries[2].rssi=0").unwrap_err().to_string();
    assert!(error.contains("tries[2].rssi"), "{error}");
}

#[test]
fn records_that_take_no_bytes_do_not_repeat() {
    let layout = Layout::from_toml(
        "name = \"z\"\n[[fields]]\nname = \"n\"\ntype = \"u64\"\n[[fields]]\nname = \"g\"\ntype = \"group\"\ncount_field = \"n\"\nfields = [{ name = \"e\", type = \"group\", count = 0, fields = [{ name = \"x\", type = \"u8\" }] }]\n",
    )
    .unwrap();
    let decoded = layout.decode(&[0xFF; 9]);
    let group = &decoded.fields[1];
    assert_eq!(group.children.len(), 1);
    assert!(group.warnings[0].contains("takes no bytes"), "{:?}", group.warnings);
}
