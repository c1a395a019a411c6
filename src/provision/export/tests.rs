//! Unit tests of the record checks and format choice; golden files are in `tests/provision_export.rs`.

use super::*;
use crate::provision::keys::{AppKey, Eui64};
use crate::provision::record::NetworkProfile;

/// A LoRaWAN 1.0.4 device in EU868.
pub(super) fn record_a() -> DeviceRecord {
    DeviceRecord {
        serial: 17,
        device_id: 0x0011_2233_4455_6677,
        name: "eui-70b3d57ed0000010".into(),
        dev_eui: Eui64::parse_dev_eui("70B3D57ED0000010").unwrap(),
        join_eui: Eui64::parse_join_eui("70B3D57ED0000000").unwrap(),
        app_key: AppKey::parse_app_key("2B7E151628AED2A6ABF7158809CF4F3C").unwrap(),
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

fn error_of(record: DeviceRecord) -> ExportError {
    render(&[record], ExportFormat::TtsCsv, &ExportOptions::default()).unwrap_err()
}

#[test]
fn formats_read_back_from_their_names() {
    for format in ExportFormat::ALL {
        assert_eq!(format.to_string().parse::<ExportFormat>().unwrap(), format);
    }
    assert_eq!(" TTS-CSV ".parse::<ExportFormat>().unwrap(), ExportFormat::TtsCsv);
    let message = "ttn".parse::<ExportFormat>().unwrap_err().to_string();
    assert!(message.contains("tts-csv, tts-json or chirpstack"), "{message}");
}

#[test]
fn device_ids_follow_the_things_stack_rule() {
    for (name, reason) in [
        ("ab", "shorter"),
        ("Eui-1234", "lowercase"),
        ("dev;1", "lowercase"),
        ("-dev1", "starts or ends"),
        ("dev--1", "two hyphens"),
        ("a123456789012345678901234567890123456", "longer"),
    ] {
        let mut record = record_a();
        record.name = name.into();
        let message = error_of(record).to_string();
        assert!(message.contains(reason), "{name}: {message}");
        assert!(message.contains("serial 17"), "{message}");
    }
    let mut record = record_a();
    record.name = "abc".into();
    assert!(render(&[record], ExportFormat::TtsCsv, &ExportOptions::default()).is_ok());
}

#[test]
fn lorawan_1_1_and_unknown_versions_are_refused() {
    let mut record = record_a();
    record.network.mac_version = "MAC_V1_1".into();
    assert!(matches!(error_of(record), ExportError::UnsupportedMacVersion { serial: 17, .. }));
    for version in ["MAC_V1_0_5", "mac_v1_0_4", "", "MAC_V1_0_"] {
        let mut record = record_a();
        record.network.mac_version = version.into();
        assert!(
            matches!(error_of(record), ExportError::InvalidNetworkSetting { field: "lorawan_version", .. }),
            "{version}"
        );
    }
    for version in ["MAC_V1_0", "MAC_V1_0_1", "MAC_V1_0_2", "MAC_V1_0_3"] {
        let mut record = record_a();
        record.network.mac_version = version.into();
        assert!(render(&[record], ExportFormat::TtsJson, &ExportOptions::default()).is_ok(), "{version}");
    }
}

#[test]
fn empty_or_lower_case_network_settings_are_refused() {
    let mut record = record_a();
    record.network.frequency_plan_id = "eu_863_870_ttn".into();
    assert!(matches!(error_of(record), ExportError::InvalidNetworkSetting { field: "frequency_plan_id", .. }));
    let mut record = record_a();
    record.network.phy_version = String::new();
    assert!(matches!(error_of(record), ExportError::InvalidNetworkSetting { field: "lorawan_phy_version", .. }));
}

#[test]
fn a_repeated_dev_eui_or_device_id_is_refused() {
    let mut second = record_a();
    second.serial = 18;
    second.name = "other-device".into();
    let error = render(&[record_a(), second], ExportFormat::TtsCsv, &ExportOptions::default()).unwrap_err();
    assert!(
        matches!(error, ExportError::Duplicate { what: "DevEUI", first_serial: 17, second_serial: 18, .. }),
        "{error}"
    );
    let mut second = record_a();
    second.serial = 18;
    second.dev_eui = Eui64::parse_dev_eui("70B3D57ED0000011").unwrap();
    let error = render(&[record_a(), second], ExportFormat::TtsCsv, &ExportOptions::default()).unwrap_err();
    assert!(matches!(error, ExportError::Duplicate { what: "device id", .. }), "{error}");
}

#[test]
fn chirpstack_ids_are_required_and_must_be_uuids() {
    let records = [record_a()];
    let missing = render(&records, ExportFormat::Chirpstack, &ExportOptions::default()).unwrap_err();
    assert!(matches!(missing, ExportError::MissingChirpstackId { which: "application id" }), "{missing}");
    let options = ExportOptions {
        chirpstack_application_id: Some("5F0C7C3E-8B4C-4E8A-9C59-2A1F3C2B9D10".into()),
        chirpstack_device_profile_id: Some("not-a-uuid".into()),
    };
    let invalid = render(&records, ExportFormat::Chirpstack, &options).unwrap_err();
    assert!(matches!(invalid, ExportError::InvalidChirpstackId { which: "device profile id", .. }), "{invalid}");
}

#[test]
fn no_error_message_contains_the_key() {
    let key_hex = record_a().app_key.expose_hex();
    let mut bad_profile = record_a();
    bad_profile.network.tr005_profile_id = "XYZ".into();
    let mut bad_name = record_a();
    bad_name.name = "Bad Name".into();
    let errors = [
        tr005_payload(&bad_profile).unwrap_err(),
        error_of(bad_name),
        render(&[record_a()], ExportFormat::Chirpstack, &ExportOptions::default()).unwrap_err(),
        label_png(&record_a(), 0).unwrap_err(),
    ];
    for error in errors {
        let message = error.to_string();
        assert!(!message.to_ascii_uppercase().contains(&key_hex), "{message}");
    }
}

#[test]
fn labels_need_a_format_and_a_sane_module_size() {
    let dir = std::env::temp_dir();
    assert!(matches!(write_labels(&[record_a()], &dir, false, false), Err(ExportError::NoLabelFormat)));
    assert!(matches!(label_png(&record_a(), 65), Err(ExportError::InvalidModuleSize { module_px: 65, .. })));
}
