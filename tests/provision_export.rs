#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Provisioning exports end to end: golden The Things Stack and ChirpStack files from two hand-built ledger
//! records, CSV quoting read back with a CSV reader, QR labels decoded back from the PNG, and the atomic
//! owner-only file writer.

use std::io::Cursor;

use benchtop::provision::export::{
    ExportError, ExportFormat, ExportOptions, label_png, label_svg, render, tr005_payload, write_atomically,
    write_labels,
};
use benchtop::provision::keys::{AppKey, Eui64};
use benchtop::provision::record::{DeviceRecord, NetworkProfile};
use serde_json::Value;

const KEY_A: &str = "2B7E151628AED2A6ABF7158809CF4F3C";
const KEY_B: &str = "000102030405060708090A0B0C0D0E0F";
const APPLICATION_ID: &str = "5F0C7C3E-8B4C-4E8A-9C59-2A1F3C2B9D10";
const DEVICE_PROFILE_ID: &str = "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";

/// LoRaWAN 1.0.4, EU868.
fn record_a() -> DeviceRecord {
    DeviceRecord {
        serial: 17,
        device_id: 0x0011_2233_4455_6677,
        name: "eui-70b3d57ed0000010".into(),
        dev_eui: Eui64::parse_dev_eui("70B3D57ED0000010").unwrap(),
        join_eui: Eui64::parse_join_eui("70B3D57ED0000000").unwrap(),
        app_key: AppKey::parse_app_key(KEY_A).unwrap(),
        network: NetworkProfile {
            mac_version: "MAC_V1_0_4".into(),
            phy_version: "RP002_V1_0_3".into(),
            frequency_plan_id: "EU_863_870_TTN".into(),
            tr005_profile_id: "000AF8BE".into(),
        },
        station: "line-1".into(),
        operator: "ana".into(),
        committed_at: "2025-03-04T10:20:30Z".into(),
    }
}

/// LoRaWAN 1.0.2, US915, an all-zero JoinEUI and a station name that needs CSV quoting.
fn record_b() -> DeviceRecord {
    DeviceRecord {
        serial: 18,
        device_id: 0xDEAD_BEEF,
        name: "soil-probe-18".into(),
        dev_eui: Eui64::parse_dev_eui("0018B20000000101").unwrap(),
        join_eui: Eui64::parse_join_eui("0000000000000000").unwrap(),
        app_key: AppKey::parse_app_key(KEY_B).unwrap(),
        network: NetworkProfile {
            mac_version: "MAC_V1_0_2".into(),
            phy_version: "PHY_V1_0_2_REV_B".into(),
            frequency_plan_id: "US_902_928_FSB_2".into(),
            tr005_profile_id: "0000ABCD".into(),
        },
        station: "bay \"3\"; east".into(),
        operator: "bo".into(),
        committed_at: "2025-03-04T10:21:00Z".into(),
    }
}

fn chirpstack_options() -> ExportOptions {
    ExportOptions {
        chirpstack_application_id: Some(APPLICATION_ID.into()),
        chirpstack_device_profile_id: Some(DEVICE_PROFILE_ID.into()),
    }
}

#[test]
fn tts_csv_is_the_golden_text() {
    let csv = render(&[record_a(), record_b()], ExportFormat::TtsCsv, &ExportOptions::default()).unwrap();
    let expected = "\
id;dev_eui;join_eui;name;description;frequency_plan_id;lorawan_version;lorawan_phy_version;app_key
eui-70b3d57ed0000010;70B3D57ED0000010;70B3D57ED0000000;eui-70b3d57ed0000010;Benchtop serial 17, device 0011223344556677, station line-1, committed 2025-03-04T10:20:30Z;EU_863_870_TTN;MAC_V1_0_4;RP002_V1_0_3;2B7E151628AED2A6ABF7158809CF4F3C
soil-probe-18;0018B20000000101;0000000000000000;soil-probe-18;\"Benchtop serial 18, device 00000000DEADBEEF, station bay \"\"3\"\"; east, committed 2025-03-04T10:21:00Z\";US_902_928_FSB_2;MAC_V1_0_2;PHY_V1_0_2_REV_B;000102030405060708090A0B0C0D0E0F
";
    assert_eq!(String::from_utf8(csv).unwrap(), expected);
}

#[test]
fn tts_csv_reads_back_with_the_same_fields() {
    let bytes = render(&[record_a(), record_b()], ExportFormat::TtsCsv, &ExportOptions::default()).unwrap();
    let mut reader = csv::ReaderBuilder::new().delimiter(b';').from_reader(bytes.as_slice());
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header,
        [
            "id",
            "dev_eui",
            "join_eui",
            "name",
            "description",
            "frequency_plan_id",
            "lorawan_version",
            "lorawan_phy_version",
            "app_key"
        ]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|row| row.len() == header.len()));
    let b = &rows[1];
    assert_eq!(&b[0], "soil-probe-18");
    assert_eq!(
        &b[4],
        "Benchtop serial 18, device 00000000DEADBEEF, station bay \"3\"; east, committed 2025-03-04T10:21:00Z"
    );
    assert_eq!(&b[8], KEY_B);
}

#[test]
fn tts_json_is_one_end_device_per_line() {
    let bytes = render(&[record_a(), record_b()], ExportFormat::TtsJson, &ExportOptions::default()).unwrap();
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.ends_with("}\n"));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2);
    let a: Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(a["ids"]["device_id"], "eui-70b3d57ed0000010");
    assert_eq!(a["ids"]["dev_eui"], "70B3D57ED0000010");
    assert_eq!(a["ids"]["join_eui"], "70B3D57ED0000000");
    assert_eq!(a["name"], "eui-70b3d57ed0000010");
    assert_eq!(a["lorawan_version"], "MAC_V1_0_4");
    assert_eq!(a["lorawan_phy_version"], "RP002_V1_0_3");
    assert_eq!(a["frequency_plan_id"], "EU_863_870_TTN");
    assert_eq!(a["supports_join"], true);
    assert_eq!(a["root_keys"]["app_key"]["key"], KEY_A);
    assert!(a["root_keys"].get("nwk_key").is_none(), "a 1.0.x device has no NwkKey");
    let b: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(b["ids"]["device_id"], "soil-probe-18");
    assert_eq!(b["ids"]["join_eui"], "0000000000000000");
    assert_eq!(b["lorawan_phy_version"], "PHY_V1_0_2_REV_B");
    assert_eq!(b["frequency_plan_id"], "US_902_928_FSB_2");
    assert_eq!(b["root_keys"]["app_key"]["key"], KEY_B);
    assert_eq!(
        b["description"],
        "Benchtop serial 18, device 00000000DEADBEEF, station bay \"3\"; east, committed 2025-03-04T10:21:00Z"
    );
}

#[test]
fn chirpstack_puts_the_1_0_app_key_in_nwk_key() {
    let bytes = render(&[record_a(), record_b()], ExportFormat::Chirpstack, &chirpstack_options()).unwrap();
    let document: Value = serde_json::from_slice(&bytes).unwrap();
    let devices = document["devices"].as_array().unwrap();
    assert_eq!(devices.len(), 2);
    let a = &devices[0];
    assert_eq!(a["device"]["dev_eui"], "70b3d57ed0000010");
    assert_eq!(a["device"]["join_eui"], "70b3d57ed0000000");
    assert_eq!(a["device"]["name"], "eui-70b3d57ed0000010");
    assert_eq!(a["device"]["application_id"], APPLICATION_ID.to_ascii_lowercase());
    assert_eq!(a["device"]["device_profile_id"], DEVICE_PROFILE_ID);
    assert_eq!(a["device"]["skip_fcnt_check"], false);
    assert_eq!(a["device"]["is_disabled"], false);
    assert_eq!(a["device"]["tags"]["benchtop_serial"], "17");
    assert_eq!(a["device"]["tags"]["device_id"], "0011223344556677");
    assert_eq!(a["keys"]["dev_eui"], "70b3d57ed0000010");
    assert_eq!(a["keys"]["nwk_key"], KEY_A.to_ascii_lowercase());
    assert_eq!(a["keys"]["app_key"], "00000000000000000000000000000000");
    let b = &devices[1];
    assert_eq!(b["keys"]["nwk_key"], KEY_B.to_ascii_lowercase());
    assert_eq!(b["keys"]["app_key"], "00000000000000000000000000000000");
    assert_eq!(b["device"]["tags"]["station"], "bay \"3\"; east");
}

#[test]
fn a_bad_record_in_a_batch_means_no_export() {
    let mut bad = record_b();
    bad.network.mac_version = "MAC_V1_1".into();
    let error = render(&[record_a(), bad], ExportFormat::TtsJson, &ExportOptions::default()).unwrap_err();
    let message = error.to_string();
    assert!(message.contains("serial 18") && message.contains("two root keys"), "{message}");
}

/// Decodes a 1-bit PNG to 8-bit grey and reads the QR code in it.
fn read_qr(png_bytes: &[u8]) -> String {
    let mut decoder = png::Decoder::new(Cursor::new(png_bytes));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(frame.color_type, png::ColorType::Grayscale);
    assert_eq!(frame.bit_depth, png::BitDepth::Eight);
    let (width, height) = (frame.width as usize, frame.height as usize);
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| buffer[y * frame.line_size + x]);
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the label");
    grids[0].decode().unwrap().1
}

#[test]
fn tr005_payload_is_the_golden_text_without_the_key() {
    let payload = tr005_payload(&record_a()).unwrap();
    assert_eq!(payload, "LW:D0:70B3D57ED0000000:70B3D57ED0000010:000AF8BE:S17");
    assert!(!payload.contains(KEY_A));
    assert_eq!(tr005_payload(&record_b()).unwrap(), "LW:D0:0000000000000000:0018B20000000101:0000ABCD:S18");
}

#[test]
fn png_label_decodes_back_to_the_payload() {
    for record in [record_a(), record_b()] {
        for module_px in [3, 8] {
            let png_bytes = label_png(&record, module_px).unwrap();
            let text = read_qr(&png_bytes);
            assert_eq!(text, tr005_payload(&record).unwrap());
            assert!(!text.to_ascii_uppercase().contains(&record.app_key.expose_hex()));
        }
    }
}

#[test]
fn png_label_has_a_four_module_quiet_zone() {
    let png_bytes = label_png(&record_a(), 1).unwrap();
    let mut decoder = png::Decoder::new(Cursor::new(png_bytes.as_slice()));
    decoder.set_transformations(png::Transformations::EXPAND);
    let mut reader = decoder.read_info().unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let frame = reader.next_frame(&mut buffer).unwrap();
    let side = frame.width as usize;
    // A version 3 code (29 modules) plus 4 light modules on each side.
    assert_eq!(side, 29 + 8);
    let pixel = |x: usize, y: usize| buffer[y * frame.line_size + x];
    for i in 0..side {
        for margin in 0..4 {
            for (x, y) in [(i, margin), (margin, i), (i, side - 1 - margin), (side - 1 - margin, i)] {
                assert_eq!(pixel(x, y), 255, "quiet zone at {x},{y}");
            }
        }
    }
    assert_eq!(pixel(4, 4), 0, "finder pattern corner is dark");
}

#[test]
fn svg_label_shows_the_dev_eui_serial_and_profile_but_not_the_key() {
    let svg = label_svg(&record_a()).unwrap();
    assert!(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("<path ").count(), 1);
    assert!(svg.contains(">DevEUI 70B3D57ED0000010</text>"), "{svg}");
    assert!(svg.contains(">S/N 17  Profile 000AF8BE</text>"), "{svg}");
    assert!(!svg.to_ascii_uppercase().contains(KEY_A));
    // Every element that opens is closed or self-closing.
    let opened = svg.matches("<text").count() + svg.matches("<svg").count() + svg.matches("<title").count();
    let closed = svg.matches("</text>").count() + svg.matches("</svg>").count() + svg.matches("</title>").count();
    assert_eq!(opened, closed);
}

#[test]
fn a_bad_profile_id_gives_a_clear_error() {
    let mut record = record_a();
    record.network.tr005_profile_id = "0A F8BE".into();
    let error = tr005_payload(&record).unwrap_err();
    assert!(matches!(error, ExportError::InvalidProfileId { serial: 17, .. }), "{error}");
    let message = error.to_string();
    assert!(message.contains("\"0A F8BE\"") && message.contains("8 hex digits"), "{message}");
    assert!(message.contains("tr005_profile_id in the template"), "{message}");
    assert!(label_svg(&record).is_err());
    assert!(label_png(&record, 4).is_err());
}

#[test]
fn write_atomically_leaves_nothing_when_the_folder_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing").join("devices.csv");
    assert!(write_atomically(&path, b"secret").is_err());
    assert!(!path.exists());
    assert!(!dir.path().join("missing").exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn write_atomically_replaces_the_file_owner_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("devices.json");
    write_atomically(&path, b"first").unwrap();
    write_atomically(&path, b"second").unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), b"second");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(names, ["devices.json"], "no temporary files left behind");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
    }
}

#[test]
fn write_labels_names_files_by_dev_eui() {
    let dir = tempfile::tempdir().unwrap();
    let paths = write_labels(&[record_a(), record_b()], dir.path(), true, true).unwrap();
    let names: Vec<String> = paths.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["70B3D57ED0000010.svg", "70B3D57ED0000010.png", "0018B20000000101.svg", "0018B20000000101.png"]);
    assert_eq!(read_qr(&std::fs::read(&paths[3]).unwrap()), tr005_payload(&record_b()).unwrap());
    assert_eq!(std::fs::read_to_string(&paths[0]).unwrap(), label_svg(&record_a()).unwrap());

    let mut bad = record_b();
    bad.network.tr005_profile_id = "nope".into();
    let empty = tempfile::tempdir().unwrap();
    assert!(write_labels(&[record_a(), bad], empty.path(), true, false).is_err());
    assert_eq!(std::fs::read_dir(empty.path()).unwrap().count(), 0, "a bad record means no labels at all");
}

#[test]
fn the_documented_examples_are_what_the_exports_write() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/provisioning-exports.md")).unwrap();
    let records = [record_a()];
    let csv = String::from_utf8(render(&records, ExportFormat::TtsCsv, &ExportOptions::default()).unwrap()).unwrap();
    assert!(doc.contains(&csv), "docs/provisioning-exports.md CSV example differs from:\n{csv}");
    let json = String::from_utf8(render(&records, ExportFormat::TtsJson, &ExportOptions::default()).unwrap()).unwrap();
    assert!(doc.contains(&json), "docs/provisioning-exports.md JSON example differs from:\n{json}");
    let chirpstack =
        String::from_utf8(render(&records, ExportFormat::Chirpstack, &chirpstack_options()).unwrap()).unwrap();
    assert!(doc.contains(&chirpstack), "docs/provisioning-exports.md ChirpStack example differs from:\n{chirpstack}");
    assert!(doc.contains(&tr005_payload(&records[0]).unwrap()));
}

/// Reads the SVG label's module path (`M<x> <y>h<run>v1h-<run>z` per dark run) back into the QR code's text.
fn read_svg_qr(svg: &str) -> String {
    let start = svg.find(" d=\"").unwrap() + 4;
    let path = &svg[start..start + svg[start..].find('"').unwrap()];
    let mut dark = std::collections::HashSet::new();
    let mut side = 0;
    for command in path.split('z').filter(|c| !c.is_empty()) {
        let (position, rest) = command.strip_prefix('M').unwrap().split_once('h').unwrap();
        let (x, y) = position.split_once(' ').unwrap();
        let (x, y): (usize, usize) = (x.parse().unwrap(), y.parse().unwrap());
        let run: usize = rest.split_once('v').unwrap().0.parse().unwrap();
        assert_eq!(rest, format!("{run}v1h-{run}"));
        for dx in 0..run {
            dark.insert((x + dx, y));
        }
        side = side.max(x + run + 4);
    }
    let mut image = rqrr::PreparedImage::prepare_from_bitmap(side * 4, side * 4, |x, y| dark.contains(&(x / 4, y / 4)));
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().unwrap().1
}

#[test]
fn svg_label_modules_decode_back_to_the_payload() {
    for record in [record_a(), record_b()] {
        assert_eq!(read_svg_qr(&label_svg(&record).unwrap()), tr005_payload(&record).unwrap());
    }
}
