#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Golden bytes: the exact wire form of every message, key and frame. A change to the wire format shows up
//! here as a failing test and must be a deliberate diff of `tests/golden/wire.txt`
//! (regenerate with `UPDATE_GOLDEN=1 cargo test -p firmware-protocol --test golden`).

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;

use firmware_protocol::firmware::{FrameWriter, Request};
use firmware_protocol::postcard_rpc::{Endpoint, Topic};
use firmware_protocol::*;
use serde::Serialize;

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

fn enc<T: Serialize + ?Sized>(value: &T) -> String {
    hex(&postcard::to_allocvec(value).unwrap())
}

fn actual() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let config = common::config();
    let view = config.view(common::device_info().device_id, 7);
    let mut add = |name: &str, value: String| {
        m.insert(name.to_string(), value);
    };

    add("msg.device_info", enc(&common::device_info()));
    add("msg.sample_batch", enc(&common::sample_batch()));
    add("msg.current_batch", enc(&common::current_batch()));
    add("msg.log_line", enc(&common::log_line()));
    add("msg.config", enc(&config));
    add("msg.config_view", enc(&view));
    add("msg.config_digest", hex(&config.digest().0));
    add("msg.item.reporting", enc(&ConfigItem::Reporting(ReportingConfig { interval_secs: 300 })));
    add("msg.item.adaptive", enc(&ConfigItem::Adaptive(config.adaptive)));
    add("msg.item.lorawan", enc(&ConfigItem::LoraWan(common::lorawan())));
    add("msg.item.mqtt", enc(&ConfigItem::Mqtt(common::mqtt())));
    add("msg.item.streaming", enc(&ConfigItem::Streaming(StreamingConfig { enabled: true, current_rate_hz: 100_000 })));
    add("msg.commit_request", enc(&CommitRequest { digest: config.digest() }));
    add("msg.commit_result.ok", enc(&CommitResult::Ok(CommitReceipt { generation: 8, digest: config.digest() })));
    add("msg.ack.ok", enc(&Ack::Ok(())));
    add("msg.identify", enc(&IdentifyRequest { duration_ms: 3000 }));
    let errors = [
        ("unknown_endpoint", DeviceError::UnknownEndpoint),
        ("bad_value_app_key", DeviceError::BadValue(ConfigField::AppKey)),
        ("busy", DeviceError::Busy),
        ("storage_failure", DeviceError::StorageFailure),
        ("nothing_staged", DeviceError::NothingStaged),
        ("staged_mismatch", DeviceError::StagedMismatch),
        ("unsupported", DeviceError::Unsupported),
    ];
    for (name, error) in errors {
        add(&format!("msg.error.{name}"), enc(&Ack::Err(error)));
    }
    add("kcv.app_key", hex(&key_check_value(1, SecretField::AppKey, &common::lorawan().app_key).0));
    add("kcv.mqtt_password", hex(&key_check_value(1, SecretField::MqttPassword, b"hunter2").0));

    for (path, request_key, response_key) in ENDPOINT_LIST.endpoints {
        add(&format!("key.endpoint.{path}.request"), hex(&request_key.to_bytes()));
        add(&format!("key.endpoint.{path}.response"), hex(&response_key.to_bytes()));
    }
    for (path, key) in TOPICS_OUT_LIST.topics {
        add(&format!("key.topic.{path}"), hex(&key.to_bytes()));
    }
    add("key.min_len", MIN_KEY_LEN.to_string());

    // Whole frames as they cross the wire.
    let mut writer = FrameWriter::new();
    add("frame.topic.sample_batch", hex(writer.topic::<SampleBatchTopic>(&common::sample_batch()).unwrap()));
    let mut host = FrameWriter::new();
    let ping = host.topic_raw(PingEndpoint::REQ_KEY, &0x1234_5678u32).unwrap().to_vec();
    add("frame.request.ping", hex(&ping));
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut payload = Vec::new();
    decoder.feed(&ping, |p| payload = p.to_vec());
    let request = Request::parse(&payload).unwrap();
    add("frame.response.ping", hex(writer.response::<PingEndpoint>(&request, &0x1234_5678).unwrap()));
    add("frame.response.unknown_key", hex(writer.wire_error(&request, &WireError::UnknownKey).unwrap()));
    add("frame.topic.log", hex(writer.topic::<LogTopic>(&common::log_line()).unwrap()));
    let _ = SampleBatchTopic::PATH;
    m
}

#[test]
fn wire_format_matches_golden_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/wire.txt");
    let actual = actual();
    let rendered: String = actual.iter().map(|(k, v)| format!("{k} = {v}\n")).collect();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &rendered).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).expect("golden file missing: run with UPDATE_GOLDEN=1 once");
    let expected: BTreeMap<String, String> = expected
        .lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let mut differences = Vec::new();
    for key in actual.keys().chain(expected.keys()).collect::<std::collections::BTreeSet<_>>() {
        let (a, e) = (actual.get(key), expected.get(key));
        if a != e {
            differences.push(format!("{key}:\n  golden: {e:?}\n  now:    {a:?}"));
        }
    }
    assert!(differences.is_empty(), "the wire format changed:\n{}", differences.join("\n"));
}

#[test]
fn golden_values_decode_back() {
    // The golden file is only useful if what it pins can be read: decode the pinned device info.
    let golden =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/wire.txt"))
            .unwrap();
    let line = golden.lines().find_map(|l| l.strip_prefix("msg.device_info = ")).unwrap();
    let bytes: Vec<u8> = (0..line.len()).step_by(2).map(|i| u8::from_str_radix(&line[i..i + 2], 16).unwrap()).collect();
    let info: DeviceInfo = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(info, common::device_info());
}
