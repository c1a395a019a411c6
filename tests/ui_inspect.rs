#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Inspect tab driven headless through egui_kittest: a pasted Cayenne LPP payload is decoded into named
//! fields with units, hovering a byte highlights its field, and a bad paste says what is wrong.

use benchtop::ui::BenchtopApp;
use benchtop::ui::app::View;
use eframe::egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn app() -> Harness<'static, BenchtopApp> {
    let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
    let handle = runtime.handle().clone();
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, "sim:seed=4"));
    // Wait for the simulated board so that nothing moves under the clicks.
    let started = std::time::Instant::now();
    while harness.state().paused().is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    harness.get_by_label("Inspect").click();
    harness.run_steps(2);
    assert_eq!(harness.state().view(), View::Inspect);
    harness
}

fn paste(harness: &mut Harness<'static, BenchtopApp>, text: &str) {
    harness.get_by_role_and_label(Role::MultilineTextInput, "Payload").click();
    harness.run_steps(2);
    harness.get_by_role_and_label(Role::MultilineTextInput, "Payload").type_text(text);
    harness.run_steps(3);
}

#[test]
fn a_pasted_lpp_payload_is_read_field_by_field_and_bytes_light_up() {
    let mut harness = app();
    // Channel 1 temperature 27.2 °C (0x0110 = 272 × 0.1), channel 2 humidity 50 % (100 × 0.5).
    paste(&mut harness, "01 67 01 10 02 68 64");
    let decoded = harness.state_mut().inspector().decoded().cloned().unwrap().unwrap();
    assert_eq!(decoded.size_bytes, 7);
    assert_eq!(decoded.fields.len(), 2);
    let text = serde_json::to_string(&decoded).unwrap();
    assert!(text.contains("27.2") && text.contains("50"), "{text}");
    harness.get_by_label("7 bytes");
    // Hovering the temperature's value bytes lights the field they belong to.
    harness.get_by_label("10").hover();
    harness.run_steps(2);
    let lit = harness.state_mut().inspector().highlighted().unwrap();
    assert!(lit.contains(&3) && !lit.contains(&4), "{lit:?}");
}

#[test]
fn a_paste_that_is_neither_hex_nor_base64_says_so() {
    let mut harness = app();
    paste(&mut harness, "zz not a payload");
    let decoded = harness.state_mut().inspector().decoded().cloned().unwrap();
    let error = decoded.unwrap_err();
    assert!(error.contains("not hex"), "{error}");
}

#[test]
fn a_captured_payload_comes_back_from_the_capture_list() {
    let mut harness = app();
    harness.state_mut().inspector().capture("board · console 1.500 s", vec![0x01, 0x67, 0x01, 0x10]);
    harness.run_steps(2);
    assert!(harness.state_mut().inspector().decoded().is_none(), "nothing pasted yet");
    // The board's frames keep arriving at the top of the list; as a user would, pause it before clicking.
    harness.get_by_label("Pause capture").click();
    harness.run_steps(2);
    harness.get_by_label("board · console 1.500 s").click();
    harness.run_steps(3);
    let decoded = harness.state_mut().inspector().decoded().cloned().unwrap().unwrap();
    assert_eq!(decoded.size_bytes, 4);
    assert_eq!(decoded.fields.len(), 1);
}

#[test]
fn values_encoded_with_a_layout_become_the_payload_and_decode_back() {
    let mut harness = app();
    let layout = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/layouts/env-sensor-v1.toml");
    harness.get_by_role_and_label(Role::TextInput, "Layout").click();
    harness.run_steps(2);
    harness.get_by_role_and_label(Role::TextInput, "Layout").type_text(layout);
    harness.run_steps(1);
    harness.get_by_label("Use layout").click();
    harness.run_steps(2);
    harness.state_mut().inspector().encode_input =
        "temperature=21.5,humidity=45.5,battery=3.3,light=1234,uplink_count=513".into();
    harness.get_by_label("Make bytes").click();
    harness.run_steps(3);
    // The same bytes `benchtop inspect --encode` gives for these values (tests/inspect_cli.rs).
    assert_eq!(harness.state_mut().inspector().input, "08 66 5b a5 04 d2 01 02");
    let decoded = harness.state_mut().inspector().decoded().cloned().unwrap().unwrap();
    let text = serde_json::to_string(&decoded).unwrap();
    assert!(text.contains("21.5") && text.contains("1234"), "{text}");
    // A value the layout cannot hold is refused with the field named.
    harness.state_mut().inspector().encode_input = "humidity=4000".into();
    harness.get_by_label("Make bytes").click();
    harness.run_steps(2);
    assert_eq!(harness.state_mut().inspector().input, "08 66 5b a5 04 d2 01 02", "the payload is kept");
}

#[test]
fn frames_of_the_connected_board_are_captured_and_decode_with_its_schema() {
    let mut harness = app();
    let samples = "benchtop/telemetry/samples topic";
    let started = std::time::Instant::now();
    while harness.query_all_by_label_contains(samples).next().is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no telemetry frame captured");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The board's schema report arrives shortly after it connects; captures from then on carry it.
    let started = std::time::Instant::now();
    while !harness.state_mut().inspector().captures().all().any(|c| c.schema.is_some()) {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no schema report");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Hold the list still, then open the newest telemetry frame.
    harness.get_by_label("Pause capture").click();
    harness.run_steps(2);
    let kept = harness.state_mut().inspector().captures().all().count();
    assert!(kept <= 4 * benchtop::ui::inspector::CAPTURES_PER_KIND);
    harness.query_all_by_label_contains(samples).next().unwrap().click();
    harness.run_steps(3);
    let decoded = harness.state_mut().inspector().decoded().cloned().unwrap().unwrap();
    assert_eq!(decoded.format, "frame");
    assert!(decoded.warnings.is_empty(), "{:?}", decoded.warnings);
    let body = decoded.fields.iter().find(|f| f.name == "benchtop/telemetry/samples").unwrap();
    assert!(body.child("values").is_some(), "{body:?}");
    harness.get_by_label_contains("channel_id");
    harness.get_by_label_contains("sample_period_us");

    // Requests and responses only: no telemetry frame is listed.
    harness.get_by_label("Telemetry").click();
    harness.run_steps(2);
    assert!(harness.query_all_by_label_contains("received benchtop/telemetry/samples").next().is_none());
    assert!(
        harness.query_all_by_label_contains("received postcard-rpc/").next().is_some(),
        "schema frames stay listed"
    );
}

#[test]
fn a_wire_frame_is_shown_decoded_and_its_fields_light_up_the_bytes_they_came_from() {
    let mut harness = app();
    harness.get_by_label("frame").click();
    harness.run_steps(2);
    // A sample batch as it crosses the serial line (firmware-protocol's golden bytes).
    paste(&mut harness, "0310e601010dc0843da08d0604c422c622090519896ae300");
    let decoded = harness.state_mut().inspector().decoded().cloned().unwrap().unwrap();
    let shown = decoded.shown_bytes.clone().unwrap();
    harness.get_by_label(&format!("{} bytes decoded from 24", shown.len()));
    harness.get_by_label_contains("without its COBS encoding");
    // The sequence number's label in the tree lights the two 0x00 bytes that hold it in the decoded frame.
    harness.get_by_label_contains("seq  0").hover();
    harness.run_steps(2);
    let lit = harness.state_mut().inspector().highlighted().unwrap();
    assert_eq!(lit, 2..4);
    assert_eq!(shown[lit], [0, 0]);
}

#[test]
fn the_mqtt_version_is_a_decoder_option() {
    let mut harness = app();
    harness.get_by_label("mqtt").click();
    harness.run_steps(2);
    // A PUBLISH with an empty MQTT 5 property block: guessed as 3.1.1, read as 5 when chosen.
    paste(&mut harness, "30 06 00 01 74 00 68 69");
    let has_properties = |harness: &mut Harness<'static, BenchtopApp>| {
        let decoded = harness.state_mut().inspector().decoded().cloned().unwrap().unwrap();
        decoded.fields.iter().any(|f| f.name == "properties")
    };
    assert!(!has_properties(&mut harness));
    harness.get_by_label("5").click();
    harness.run_steps(2);
    assert_eq!(harness.state_mut().inspector().mqtt_version(), Some(benchtop::inspect::mqtt::MqttVersion::V5));
    assert!(has_properties(&mut harness));
    harness.get_by_label("3.1.1").click();
    harness.run_steps(2);
    assert!(!has_properties(&mut harness));
}
