#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop inspect` as a user runs it: decode a packed payload with a layout file, encode the same values
//! back to the same hex, read the JSON form, and get told what is wrong with a bad layout or bad input.

use std::process::{Command, Output};

use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");
const ENV_LAYOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/layouts/env-sensor-v1.toml");
const BATCH_LAYOUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/layouts/batch-v1.toml");

fn inspect(args: &[&str]) -> Output {
    Command::new(BIN).arg("inspect").args(args).output().unwrap()
}

fn stdout_of(output: &Output) -> String {
    assert!(output.status.success(), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn json_of(output: &Output) -> Value {
    serde_json::from_str(&stdout_of(output)).unwrap()
}

#[test]
fn decode_a_packed_sensor_payload_as_a_tree_and_cost_table() {
    let text = stdout_of(&inspect(&["--layout", ENV_LAYOUT, "--hex", "08 66 5B A5 04 D2 01 02"]));
    assert!(text.starts_with("env-sensor-v1 · 8 bytes (as compact JSON: 82 bytes)"), "{text}");
    let line = |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}"));
    assert!(line("temperature").contains("0+2") && line("temperature").contains("08 66"), "{text}");
    assert!(line("temperature").contains("21.5 °C") && line("temperature").contains("raw 2150"), "{text}");
    assert!(line("battery").contains("3.3 V") && line("battery").contains("bits 24+10"), "{text}");
    // Every data rate fits 8 bytes; the JSON form (82 bytes) is too big for DR0–DR2.
    assert!(line("DR0").contains("51 B") && line("DR0").contains("fits") && line("DR0").contains("too big"), "{text}");
    assert!(!line("DR3").contains("too big"), "{text}");
}

#[test]
fn encode_gives_the_same_hex_the_decoder_read() {
    let values = "temperature=21.5,humidity=45.5,battery=3.3,light=1234,uplink_count=513";
    let hex = stdout_of(&inspect(&["--layout", ENV_LAYOUT, "--encode", values]));
    assert_eq!(hex.trim(), "08665ba504d20102");

    let values = "base_time=1700000000,samples[0].delta=0,samples[0].value=21.5,samples[1].delta=300,\
                  samples[1].value=21.8,samples[2].delta=300,samples[2].value=-1.2";
    let hex = stdout_of(&inspect(&["--layout", BATCH_LAYOUT, "--encode", values]));
    assert_eq!(hex.trim(), "036553f100000000d7012c00da012cfff4");
    let report = json_of(&inspect(&["--layout", BATCH_LAYOUT, "--hex", hex.trim(), "--json"]));
    assert_eq!(report["fields"][0]["value"], 3);
    assert_eq!(report["fields"][2]["fields"][2]["fields"][1]["value"], -1.2);
}

#[test]
fn json_output_carries_every_field_with_its_bytes_and_the_cost() {
    // The same payload as base64.
    let report = json_of(&inspect(&["--layout", ENV_LAYOUT, "--base64", "CGZbpQTSAQI=", "--json"]));
    assert_eq!(report["size_bytes"], 8);
    assert_eq!(report["json_size_bytes"], 82);
    let battery = &report["fields"][2];
    assert_eq!(
        (&battery["name"], &battery["offset"], &battery["length"], &battery["bit_offset"], &battery["bit_length"]),
        (&json!("battery"), &json!(3), &json!(2), &json!(24), &json!(10))
    );
    assert_eq!((&battery["raw"], &battery["value"], &battery["unit"]), (&json!(660), &json!(3.3), &json!("V")));
    assert_eq!(report["fields"][0]["bit_offset"], Value::Null);
    let rates = report["cost"]["data_rates"].as_array().unwrap();
    assert_eq!(rates.len(), 6);
    assert_eq!((&rates[0]["name"], &rates[0]["spreading_factor"]), (&json!("DR0"), &json!(12)));
    assert_eq!((&rates[0]["payload"]["fits"], &rates[0]["json"]["fits"]), (&json!(true), &json!(false)));
    let airtime = |rate: &Value, key: &str| rate[key]["time_on_air_ms"].as_f64().unwrap();
    assert!(airtime(&rates[5], "payload") < airtime(&rates[5], "json"));
    assert!(airtime(&rates[0], "payload") > airtime(&rates[5], "payload"));
}

#[test]
fn payload_from_a_file_and_a_built_in_format() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("uplink.bin");
    std::fs::write(&path, [0x03, 0x67, 0x01, 0x10, 0x05, 0x67, 0x00, 0xFF]).unwrap();
    let report = json_of(&inspect(&["--format", "lpp", "--file", path.to_str().unwrap(), "--json"]));
    assert_eq!(report["size_bytes"], 8);
    assert_eq!(report["cost"]["data_rates"][5]["payload"]["fits"], true);
    let json = json_of(&inspect(&["--format", "json", "--hex", "7b2274223a32317d", "--json"]));
    assert_eq!(json["size_bytes"], 8, "{{\"t\":21}} is 8 bytes");
}

#[test]
fn mistakes_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "name = \"bad\"\n[[fields]]\nname = \"t\"\ntype = \"int16\"\n").unwrap();
    let output = inspect(&["--layout", path.to_str().unwrap(), "--hex", "0102"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("layout line 4") && stderr.contains("did you mean \"i16\""), "{stderr}");
    assert!(stderr.contains("bad.toml"), "the path comes last: {stderr}");

    let output = inspect(&["--layout", ENV_LAYOUT, "--hex", "08 66 5"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success() && stderr.contains("odd number of hex digits"), "{stderr}");

    let output = inspect(&["--layout", ENV_LAYOUT, "--encode", "temperature=400"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success() && stderr.contains("`temperature`") && stderr.contains("does not fit"),
        "{stderr}"
    );

    let output = inspect(&["--hex", "01"]);
    assert_eq!(output.status.code(), Some(2), "a decoder is required (clap usage error)");
}

/// A sample batch from the simulated board as it crosses the wire (firmware-protocol's golden bytes).
const SAMPLE_FRAME_HEX: &str = "0310e601010dc0843da08d0604c422c622090519896ae300";

#[test]
fn a_devices_schema_report_is_read_saved_and_used_to_decode_frames() {
    let dir = tempfile::tempdir().unwrap();
    let saved = dir.path().join("sim-schema.json");
    // Asked of the device: saved, then nothing else to do without a payload.
    let output = inspect(&["--format", "frame", "--device", "sim", "--save-schema", saved.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&saved).unwrap()).unwrap();
    let topics: Vec<&str> =
        report["topics_out"].as_array().unwrap().iter().map(|t| t["path"].as_str().unwrap()).collect();
    assert!(topics.contains(&"benchtop/telemetry/samples"), "{topics:?}");

    // Straight from the device, and from the saved file: the same fields.
    let live = json_of(&inspect(&["--format", "frame", "--device", "sim", "--hex", SAMPLE_FRAME_HEX, "--json"]));
    let from_file = json_of(&inspect(&[
        "--format",
        "frame",
        "--schema",
        saved.to_str().unwrap(),
        "--hex",
        SAMPLE_FRAME_HEX,
        "--json",
    ]));
    assert_eq!(live["fields"], from_file["fields"]);
    let body = live["fields"].as_array().unwrap().iter().find(|f| f["name"] == "benchtop/telemetry/samples").unwrap();
    assert_eq!(body["fields"][0]["name"], "channel_id");

    // A report is about frames only.
    let output = inspect(&["--format", "lpp", "--schema", saved.to_str().unwrap(), "--hex", "0167"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--format frame"));
}

#[test]
fn a_message_only_a_saved_schema_defines_is_decoded_with_its_names() {
    use benchtop::inspect::input::to_hex;
    use firmware_protocol::postcard_rpc::Key;
    use firmware_protocol::postcard_rpc::header::{VarHeader, VarKey, VarSeq};
    use firmware_protocol::postcard_rpc::host_client::SchemaReport;
    use postcard_schema::schema::owned::OwnedNamedType;

    #[derive(serde::Serialize, postcard_schema::Schema)]
    struct SoilReading {
        moisture_permille: u16,
        temperature_c: f32,
    }
    let path = "garden/soil";
    let schema: OwnedNamedType = <SoilReading as postcard_schema::Schema>::SCHEMA.into();
    let key = Key::for_owned_schema_path(path, &schema);
    let mut report = SchemaReport::default();
    report.add_type(schema);
    report.add_topic_out(path.into(), key).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("garden.json");
    std::fs::write(&file, serde_json::to_string(&report).unwrap()).unwrap();

    let mut payload = VarHeader { key: VarKey::Key8(key), seq_no: VarSeq::Seq1(4) }.write_to_vec();
    payload.extend(postcard::to_stdvec(&SoilReading { moisture_permille: 412, temperature_c: 18.5 }).unwrap());
    let text =
        stdout_of(&inspect(&["--format", "frame", "--schema", file.to_str().unwrap(), "--hex", &to_hex(&payload)]));
    let line = |name: &str| {
        text.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_else(|| panic!("{name}: {text}"))
    };
    assert!(line("moisture_permille").contains("412"), "{text}");
    assert!(line("temperature_c").contains("18.5"), "{text}");
    assert!(!text.contains("warning"), "{text}");
}

#[test]
fn a_wire_frame_is_explained_as_the_bytes_it_decodes_to() {
    let text = stdout_of(&inspect(&["--format", "frame", "--hex", SAMPLE_FRAME_HEX]));
    assert!(text.contains("note: a 24-byte wire frame, shown without its COBS encoding"), "{text}");
    let decoded = text.lines().find_map(|l| l.strip_prefix("decoded: ")).unwrap();
    assert!(decoded.starts_with("10e60000"), "{text}");
    // The sequence number's bytes are the two zeros of the decoded frame, not the COBS code bytes.
    let seq = text.lines().find(|l| l.trim_start().starts_with("seq")).unwrap();
    assert!(seq.contains("2+2") && seq.contains("00 00"), "{seq}");

    let report = json_of(&inspect(&["--format", "frame", "--hex", SAMPLE_FRAME_HEX, "--json"]));
    assert_eq!(report["size_bytes"], 24);
    assert_eq!(report["decoded_hex"].as_str().unwrap(), decoded);
}

#[test]
fn the_mqtt_version_can_be_chosen() {
    // A QoS 0 PUBLISH to "t" with an empty MQTT 5 property block and the payload "hi": the guess reads it as
    // 3.1.1 (an empty property block proves nothing), MQTT 5 reads the property block.
    let packet = "30060001740068 69";
    let names = |report: &Value| -> Vec<String> {
        report["fields"].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect()
    };
    let auto = json_of(&inspect(&["--format", "mqtt", "--hex", packet, "--json"]));
    assert!(!names(&auto).contains(&"properties".to_string()), "{auto}");
    let classic = json_of(&inspect(&["--format", "mqtt", "--mqtt-version", "3.1.1", "--hex", packet, "--json"]));
    assert_eq!(names(&classic), names(&auto));
    let v5 = json_of(&inspect(&["--format", "mqtt", "--mqtt-version", "5", "--hex", packet, "--json"]));
    assert!(names(&v5).contains(&"properties".to_string()), "{v5}");
    let payload = v5["fields"].as_array().unwrap().iter().find(|f| f["name"] == "payload").unwrap();
    assert_eq!(payload["value"], "hi");

    let output = inspect(&["--format", "lpp", "--mqtt-version", "5", "--hex", "0167"]);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--format mqtt"));
}
