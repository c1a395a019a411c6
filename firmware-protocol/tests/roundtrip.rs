#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Property tests: every message survives encode → frame → decode, and the frame decoder survives anything.

mod common;

use firmware_protocol::firmware::{FrameWriter, Request};
use firmware_protocol::postcard_rpc::Endpoint;
use firmware_protocol::*;
use heapless::{String, Vec};
use proptest::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;

fn roundtrip<T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug>(value: &T) {
    let bytes = postcard::to_allocvec(value).unwrap();
    let back: T = postcard::from_bytes(&bytes).unwrap();
    assert_eq!(&back, value);
}

fn hstring<const N: usize>(max: usize) -> impl Strategy<Value = String<N>> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 _°%-]{{0,{max}}}"))
        .unwrap()
        .prop_filter_map("fits", |s| String::try_from(s.as_str()).ok())
}

fn channel() -> impl Strategy<Value = ChannelDescriptor> {
    (any::<u8>(), hstring::<16>(5), hstring::<8>(2), 0usize..5, 0usize..6, any::<f64>(), any::<f64>(), any::<f32>())
        .prop_map(|(id, name, unit, kind, raw, scale, offset, rate)| ChannelDescriptor {
            id,
            name,
            unit,
            kind: [
                ChannelKind::Sensor,
                ChannelKind::Current,
                ChannelKind::Voltage,
                ChannelKind::Logic,
                ChannelKind::Log,
            ][kind],
            raw_type: [RawType::U8, RawType::I8, RawType::U16, RawType::I16, RawType::U32, RawType::I32][raw],
            scale: if scale.is_nan() { 1.0 } else { scale },
            offset: if offset.is_nan() { 0.0 } else { offset },
            nominal_rate_hz: if rate.is_nan() { 1.0 } else { rate },
        })
}

fn config() -> impl Strategy<Value = Config> {
    (
        any::<u32>(),
        (any::<bool>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>(), any::<u16>()),
        (any::<[u8; 8]>(), any::<[u8; 8]>(), any::<[u8; 16]>()),
        (hstring::<64>(64), hstring::<64>(64), hstring::<64>(64)),
        (any::<bool>(), any::<u32>()),
    )
        .prop_map(|(interval, a, l, m, st)| Config {
            reporting: ReportingConfig { interval_secs: interval },
            adaptive: AdaptiveReporting {
                enabled: a.0,
                base_interval_secs: a.1,
                min_interval_secs: a.2,
                max_interval_secs: a.3,
                change_threshold_milli: a.4,
                low_battery_stretch_percent: a.5,
            },
            lorawan: LoraWanConfig { dev_eui: l.0, join_eui: l.1, app_key: l.2 },
            mqtt: MqttConfig { client_id: m.0, user: m.1, password: m.2 },
            streaming: StreamingConfig { enabled: st.0, current_rate_hz: st.1 },
        })
}

proptest! {
    #[test]
    fn device_info_roundtrips(channels in proptest::collection::vec(channel(), 0..=8), id in any::<u64>(), caps in any::<u32>()) {
        let mut info = common::device_info();
        info.device_id = id;
        info.capabilities = Capabilities(caps);
        info.channels = Vec::from_slice(&channels).unwrap();
        roundtrip(&info);
    }

    #[test]
    fn sample_batches_roundtrip(ch in any::<u8>(), t in any::<u64>(), p in any::<u32>(), values in proptest::collection::vec(any::<i32>(), 0..=32)) {
        roundtrip(&SampleBatch { channel_id: ch, first_sample_time_us: t, sample_period_us: p, values: Vec::from_slice(&values).unwrap() });
    }

    #[test]
    fn current_batches_roundtrip_and_fit_a_frame(t in any::<u64>(), p in any::<u32>(), d in any::<u32>(), values in proptest::collection::vec(any::<u32>(), 0..=160)) {
        let batch = CurrentBatch { channel_id: 3, first_sample_time_us: t, sample_period_ns: p, dropped_before: d, values: Vec::from_slice(&values).unwrap() };
        roundtrip(&batch);
        let mut writer = FrameWriter::new();
        prop_assert!(writer.topic::<CurrentBatchTopic>(&batch).is_ok());
    }

    #[test]
    fn configs_roundtrip_and_views_hide_secrets(config in config(), device_id in any::<u64>()) {
        roundtrip(&config);
        let view = config.view(device_id, 1);
        roundtrip(&view);
        let view_bytes = postcard::to_allocvec(&view).unwrap();
        prop_assert!(!view_bytes.windows(16).any(|w| w == config.lorawan.app_key), "AppKey must not appear in a view");
        prop_assert_eq!(view.lorawan.app_key_kcv, key_check_value(device_id, SecretField::AppKey, &config.lorawan.app_key));
        // Items of this config round-trip too and fit a frame.
        for item in [ConfigItem::LoraWan(config.lorawan.clone()), ConfigItem::Mqtt(config.mqtt.clone()), ConfigItem::Adaptive(config.adaptive)] {
            roundtrip(&item);
            let mut writer = FrameWriter::new();
            prop_assert!(writer.topic_raw(ConfigStageEndpoint::REQ_KEY, &item).is_ok());
        }
    }

    #[test]
    fn digests_change_with_any_field(config in config(), byte in 0usize..16) {
        let mut other = config.clone();
        other.lorawan.app_key[byte] ^= 0x01;
        prop_assert_ne!(config.digest(), other.digest());
    }

    #[test]
    fn frames_roundtrip(payload in proptest::collection::vec(any::<u8>(), 1..=MAX_PAYLOAD_LEN)) {
        let mut out = [0u8; MAX_ENCODED_FRAME_LEN];
        let len = encode_frame(&payload, &mut out).unwrap();
        prop_assert_eq!(out[len - 1], 0);
        prop_assert!(!out[..len - 1].contains(&0));
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let mut got = std::vec::Vec::new();
        // Fed in arbitrary pieces, as a UART would deliver it.
        for chunk in out[..len].chunks(7) {
            decoder.feed(chunk, |p| got.push(p.to_vec()));
        }
        prop_assert_eq!(got, vec![payload]);
    }

    #[test]
    fn garbage_never_panics_and_frames_after_it_survive(
        garbage in proptest::collection::vec(any::<u8>(), 0..4096),
        n in any::<u32>(),
    ) {
        let mut decoder: FrameDecoder = FrameDecoder::new();
        decoder.feed(&garbage, |_| {});
        let mut host = FrameWriter::new();
        let frame = host.topic_raw(PingEndpoint::REQ_KEY, &n).unwrap().to_vec();
        // One delimiter ends whatever garbage was in progress; then the frame is seen whole.
        let mut got = std::vec::Vec::new();
        decoder.feed(&[0], |_| {});
        decoder.feed(&frame, |p| got.push(p.to_vec()));
        prop_assert_eq!(got.len(), 1);
        let request = Request::parse(&got[0]).unwrap();
        prop_assert!(request.is::<PingEndpoint>());
        prop_assert_eq!(request.decode::<PingEndpoint>().unwrap(), n);
    }

    #[test]
    fn a_flipped_bit_is_never_delivered(payload in proptest::collection::vec(any::<u8>(), 1..256), bit in any::<usize>()) {
        let mut out = [0u8; MAX_ENCODED_FRAME_LEN];
        let len = encode_frame(&payload, &mut out).unwrap();
        let body = len - 1;
        let bit = bit % (body * 8);
        out[bit / 8] ^= 1 << (bit % 8);
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let mut got = std::vec::Vec::new();
        decoder.feed(&out[..len], |p| got.push(p.to_vec()));
        decoder.feed(&[0], |p| got.push(p.to_vec()));
        prop_assert!(got.iter().all(|p| p != &payload) || got.is_empty() , "corrupted frame delivered");
        prop_assert!(got.is_empty());
        let stats = decoder.stats();
        prop_assert!(stats.bad_checksums + stats.malformed_frames >= 1);
    }
}

#[test]
fn decoder_counts_garbage_and_bad_checksums() {
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut out = [0u8; MAX_ENCODED_FRAME_LEN];
    let len = encode_frame(b"hello", &mut out).unwrap();
    let mut corrupted = out[..len].to_vec();
    corrupted[2] ^= 0x40;
    let mut stream = b"\x01\x02\x03garbage\x00".to_vec();
    stream.extend_from_slice(&corrupted);
    stream.extend_from_slice(&out[..len]);
    let mut got = std::vec::Vec::new();
    decoder.feed(&stream, |p| got.push(p.to_vec()));
    assert_eq!(got, vec![b"hello".to_vec()]);
    let stats = decoder.stats();
    assert_eq!(stats.frames, 1);
    assert_eq!(stats.bad_checksums + stats.malformed_frames, 2);
    assert_eq!(stats.discarded_bytes, 11 + len as u64);
}

#[test]
fn oversized_frames_are_skipped_to_the_next_delimiter() {
    let mut decoder: FrameDecoder<64> = FrameDecoder::new();
    let mut stream = vec![0x55u8; 200];
    stream.push(0);
    let mut out = [0u8; MAX_ENCODED_FRAME_LEN];
    let len = encode_frame(b"ok", &mut out).unwrap();
    stream.extend_from_slice(&out[..len]);
    let mut got = std::vec::Vec::new();
    decoder.feed(&stream, |p| got.push(p.to_vec()));
    assert_eq!(got, vec![b"ok".to_vec()]);
    assert_eq!(decoder.stats().discarded_bytes, 201);
    assert_eq!(decoder.stats().malformed_frames, 1);
}

#[test]
fn encode_refuses_oversized_payloads_and_small_buffers() {
    let mut out = [0u8; MAX_ENCODED_FRAME_LEN];
    assert_eq!(encode_frame(&[1; MAX_PAYLOAD_LEN + 1], &mut out), Err(FrameError::PayloadTooLong));
    let mut small = [0u8; 8];
    assert_eq!(encode_frame(&[1; 16], &mut small), Err(FrameError::BufferTooSmall));
}

#[test]
fn validation_names_the_field() {
    let mut lorawan = common::lorawan();
    lorawan.app_key = [0; 16];
    assert_eq!(lorawan.validate(), Err(ConfigField::AppKey));
    lorawan = common::lorawan();
    lorawan.dev_eui = [0xFF; 8];
    assert_eq!(lorawan.validate(), Err(ConfigField::DevEui));
    assert_eq!(common::lorawan().validate(), Ok(()));
    assert_eq!(ReportingConfig { interval_secs: 0 }.validate(), Err(ConfigField::IntervalSecs));
    let mut adaptive = Config::default().adaptive;
    assert_eq!(adaptive.validate(), Ok(()));
    adaptive.min_interval_secs = adaptive.base_interval_secs + 1;
    assert_eq!(adaptive.validate(), Err(ConfigField::AdaptiveBaseIntervalSecs));
    let mut mqtt = common::mqtt();
    mqtt.client_id = common::s("has space");
    assert_eq!(mqtt.validate(), Err(ConfigField::MqttClientId));
    assert_eq!(StreamingConfig { enabled: true, current_rate_hz: 0 }.validate(), Err(ConfigField::StreamingRate));
}

#[test]
fn check_values_bind_field_and_device() {
    let key = common::lorawan().app_key;
    let a = key_check_value(1, SecretField::AppKey, &key);
    assert_ne!(a, key_check_value(2, SecretField::AppKey, &key));
    assert_ne!(a, key_check_value(1, SecretField::MqttPassword, &key));
    let mut other = key;
    other[15] ^= 1;
    assert_ne!(a, key_check_value(1, SecretField::AppKey, &other));
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let text = format!("{:?}", common::config());
    assert!(text.contains("<secret>"));
    assert!(!text.contains("hunter2"));
}

#[test]
fn every_schema_message_fits_a_frame() {
    let mut writer = FrameWriter::new();
    let totals = firmware_protocol::firmware::for_each_schema_message(|message| {
        writer.topic_raw(firmware_protocol::firmware::SCHEMA_DATA_KEY, &message).is_ok()
    });
    assert_eq!(totals.errors, 0, "{totals:?}");
    assert!(totals.types_sent > 20 && totals.endpoints_sent == ENDPOINT_LIST.endpoints.len() as u32);
}
