#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Frames decoded through a device's schema report: the simulated board's report decodes its own telemetry
//! exactly as the built-in table does, and a postcard-rpc device's message that `firmware-protocol` does not
//! define decodes with the field names its schema gives.

use std::time::Duration;

use benchtop::inspect::Field;
use benchtop::inspect::frame::{self, Catalog};
use benchtop::io::{Session, SessionOptions};
use benchtop::model::source::Source;
use firmware_protocol::postcard_rpc::header::{VarHeader, VarKey, VarSeq};
use firmware_protocol::postcard_rpc::host_client::SchemaReport;
use firmware_protocol::postcard_rpc::{Key, Topic};
use firmware_protocol::{MAX_ENCODED_FRAME_LEN, SampleBatch, SampleBatchTopic, encode_frame};
use postcard_schema::Schema;
use postcard_schema::schema::owned::OwnedNamedType;
use serde::Serialize;
use serde_json::json;

fn wire_frame(key: Key, seq: u16, body: &[u8]) -> Vec<u8> {
    let header = VarHeader { key: VarKey::Key8(key), seq_no: VarSeq::Seq2(seq) };
    let mut payload = header.write_to_vec();
    payload.extend_from_slice(body);
    let mut frame = vec![0u8; MAX_ENCODED_FRAME_LEN];
    let len = encode_frame(&payload, &mut frame).unwrap();
    frame.truncate(len);
    frame
}

/// Names and values of a field tree, depth first.
fn values(field: &Field) -> Vec<(String, serde_json::Value)> {
    let mut out = vec![(field.name.clone(), field.value.clone())];
    for child in &field.children {
        out.extend(values(child));
    }
    out
}

fn sim_report() -> SchemaReport {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let options = SessionOptions { timeout: Duration::from_millis(500), attempts: 3 };
        let session = Session::open(&Source::parse("sim:seed=3").unwrap(), options).await.unwrap();
        session.schema_report().await.unwrap()
    })
}

#[test]
fn the_simulated_boards_report_decodes_its_telemetry_like_the_built_in_table() {
    let report = sim_report();
    let batch = SampleBatch {
        channel_id: 2,
        first_sample_time_us: 1_000_000,
        sample_period_us: 100_000,
        values: heapless::Vec::from_slice(&[-5, 0, 12_345]).unwrap(),
    };
    let body = postcard::to_stdvec(&batch).unwrap();
    let bytes = wire_frame(SampleBatchTopic::TOPIC_KEY, 7, &body);
    // Only what the device reported: nothing from the built-in table.
    let from_report = frame::decode_with_catalog(&bytes, &Catalog::from_report(&report));
    let built_in = frame::decode(&bytes);
    assert!(from_report.warnings.is_empty(), "{:?}", from_report.warnings);
    let body_of = |decoded: &benchtop::inspect::Decoded| {
        decoded.fields.iter().find(|f| f.name == SampleBatchTopic::PATH).cloned().unwrap()
    };
    let (reported, known) = (body_of(&from_report), body_of(&built_in));
    assert_eq!(values(&reported), values(&known));
    assert_eq!((reported.offset, reported.length), (known.offset, known.length));
    let items = reported.child("values").unwrap();
    let read: Vec<_> = items.children.iter().map(|f| f.value.clone()).collect();
    assert_eq!(read, [json!(-5), json!(0), json!(12_345)]);
}

#[derive(Serialize, Schema)]
#[allow(dead_code)] // `Closed` is part of the device's schema; this test only sends `Open`.
enum Valve {
    Closed,
    Open { percent: u8 },
}

#[derive(Serialize, Schema)]
struct IrrigationStatus {
    zone: String,
    valve: Valve,
    flow_l_per_min: Option<f32>,
}

#[test]
fn a_message_only_the_devices_schema_knows_decodes_with_its_field_names() {
    let path = "garden/irrigation/status";
    let schema: OwnedNamedType = IrrigationStatus::SCHEMA.into();
    let key = Key::for_owned_schema_path(path, &schema);
    let mut report = SchemaReport::default();
    report.add_type(schema);
    report.add_topic_out(path.into(), key).unwrap();

    let status =
        IrrigationStatus { zone: "north".into(), valve: Valve::Open { percent: 40 }, flow_l_per_min: Some(2.5) };
    let bytes = wire_frame(key, 1, &postcard::to_stdvec(&status).unwrap());
    // Without the report the key is unknown.
    let plain = frame::decode(&bytes);
    assert!(plain.fields.iter().any(|f| f.warnings.iter().any(|w| w.contains("no message"))), "{plain:?}");

    let decoded = frame::decode_with_schema(&bytes, Some(&report));
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let header = decoded.fields.iter().find(|f| f.name == "header").unwrap();
    assert_eq!(header.child("key").unwrap().value, json!(format!("{path} topic")));
    let body = decoded.fields.iter().find(|f| f.name == path).unwrap();
    assert_eq!(body.child("zone").unwrap().value, json!("north"));
    let valve = body.child("valve").unwrap();
    assert_eq!(valve.value, json!("Open"));
    assert_eq!(valve.child("percent").unwrap().value, json!(40));
    assert_eq!(body.child("flow_l_per_min").unwrap().child("some").unwrap().value, json!(2.5));

    // Cut short, the decoder says so and keeps what it read.
    let mut payload = VarHeader { key: VarKey::Key8(key), seq_no: VarSeq::Seq2(1) }.write_to_vec();
    payload.extend_from_slice(&postcard::to_stdvec(&status).unwrap()[..4]);
    let short = frame::decode_with_schema(&payload, Some(&report));
    let body = short.fields.iter().find(|f| f.name == path).unwrap();
    assert!(body.warnings.iter().any(|w| w.contains("ends early")), "{body:?}");
}
