#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop budget` and `benchtop airtime` as a user runs them: JSON numbers against values worked out by
//! hand, the tables, and the error sentences with their exit codes.

use std::process::{Command, Output};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");
const HOURS_PER_YEAR: f64 = 8760.0;

fn benchtop(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().unwrap()
}

/// Runs a command that must succeed with `--json` and returns its output.
fn json(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = benchtop(&all);
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Runs a command that must fail with `code` and returns its stderr.
fn fails(args: &[&str], code: i32) -> String {
    let output = benchtop(args);
    assert_eq!(output.status.code(), Some(code), "{args:?}: {}", String::from_utf8_lossy(&output.stdout));
    String::from_utf8(output.stderr).unwrap()
}

fn number(report: &Value, key: &str) -> f64 {
    report[key].as_f64().unwrap_or_else(|| panic!("{key} missing in {report}"))
}

fn assert_close(got: f64, want: f64, what: &str) {
    assert!((got - want).abs() <= 1e-9 * want.abs().max(1.0), "{what}: got {got}, want {want}");
}

#[test]
fn wifi_preset_matches_the_hand_computed_budget() {
    let report = json(&["budget", "--preset", "wifi"]);
    let avg_ma = 0.997 * 0.02 + 0.001 * 80.0 + 0.002 * 170.0;
    assert_close(avg_ma, 0.43994, "hand arithmetic");
    assert_close(number(&report, "avg_current_ma"), avg_ma, "average current");
    assert_close(number(&report, "lifetime_hours"), 3000.0 / avg_ma, "plain hours");
    assert_close(number(&report, "lifetime_years"), 3000.0 / avg_ma / HOURS_PER_YEAR, "plain years");
    // 80 % of 3000 mAh, drained by the device plus 2 %/year of 3000 mAh.
    let derated_hours = 2400.0 / (avg_ma + 3000.0 * 0.02 / HOURS_PER_YEAR);
    assert_close(number(&report, "derated_lifetime_hours"), derated_hours, "derated hours");
    assert_close(number(&report, "derated_lifetime_years"), derated_hours / HOURS_PER_YEAR, "derated years");
    let states = report["states"].as_array().unwrap();
    assert_eq!(states.len(), 3);
    assert_eq!(states[2]["name"], "WiFi transmit");
    assert_close(number(&states[2], "duration_s"), 0.12, "transmit seconds per minute");
}

#[test]
fn states_on_the_command_line_with_battery_options() {
    let report = json(&[
        "budget",
        "--capacity-mah",
        "1000",
        "--state",
        "sleep:0.01:99.9",
        "--state",
        "measure:50:0.05",
        "--state",
        "tx:120:0.05%",
        "--usable",
        "1",
        "--self-discharge",
        "0",
    ]);
    let avg_ma = 0.999 * 0.01 + 0.0005 * 50.0 + 0.0005 * 120.0;
    assert_close(number(&report, "avg_current_ma"), avg_ma, "average current");
    assert_close(number(&report, "lifetime_hours"), 1000.0 / avg_ma, "plain hours");
    assert_close(number(&report, "derated_lifetime_hours"), 1000.0 / avg_ma, "nothing to derate");
    assert!(report["states"][0]["duration_s"].is_null(), "no period given");
}

#[test]
fn interval_what_if_keeps_the_awake_time() {
    let report = json(&["budget", "--preset", "lora", "--interval-s", "600"]);
    // 60 ms measuring at 50 mA and 60 ms transmitting at 120 mA per period, asleep at 10 µA the rest.
    let avg_ma = (0.06 * 50.0 + 0.06 * 120.0 + (600.0 - 0.12) * 0.01) / 600.0;
    assert_close(number(&report, "avg_current_ma"), avg_ma, "average current every 10 min");
    assert_close(number(&report, "period_s"), 600.0, "new period");
    let baseline = &report["baseline"];
    assert_close(number(baseline, "avg_current_ma"), 0.999 * 0.01 + 0.0005 * 170.0, "baseline");
    assert_close(number(baseline, "period_s"), 120.0, "baseline period");

    let table = String::from_utf8(benchtop(&["budget", "--preset", "lora", "--interval-s", "600"]).stdout).unwrap();
    assert!(table.contains("what if: reporting every 600 s instead of 120 s"), "{table}");
}

#[test]
fn a_profile_file_with_durations() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("node.toml");
    std::fs::write(
        &path,
        "name = \"node\"\nperiod_s = 10.0\n[[states]]\nname = \"sleep\"\ncurrent_ma = 0.005\n\
         [[states]]\nname = \"tx\"\ncurrent_ma = 100.0\nduration_s = 0.1\n",
    )
    .unwrap();
    let report = json(&["budget", "--profile", path.to_str().unwrap(), "--capacity-mah", "2000"]);
    let avg_ma = 0.99 * 0.005 + 0.01 * 100.0;
    assert_close(number(&report, "avg_current_ma"), avg_ma, "average current");
    assert_close(number(&report, "lifetime_hours"), 2000.0 / avg_ma, "plain hours");
    assert_close(report["battery"]["voltage_v"].as_f64().unwrap(), 3.7, "default voltage");
}

#[test]
fn the_table_is_readable() {
    let output = benchtop(&["budget", "--preset", "wifi"]);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.starts_with("WiFi sensor, period 60 s"), "{table}");
    assert!(table.contains("average current        0.43994 mA"), "{table}");
    assert!(table.contains(&format!("lifetime, plain        {:.1} h", 3000.0 / 0.43994)), "{table}");
}

#[test]
fn budget_errors_say_what_is_wrong_and_what_to_do() {
    let stderr = fails(&["budget", "--capacity-mah", "3000", "--state", "sleep:abc:99"], 2);
    assert!(
        stderr.contains("state `sleep:abc:99`: current `abc` is not a number; write NAME:CURRENT_MA:PERCENT"),
        "{stderr}"
    );
    let stderr = fails(&["budget", "--capacity-mah", "3000", "--state", "a:1:50", "--state", "b:2:40"], 1);
    assert!(stderr.contains("the shares add up to 90.000 %, not 100 %"), "{stderr}");
    let stderr = fails(&["budget", "--state", "a:1:100"], 1);
    assert!(stderr.contains("give it with --capacity-mah"), "{stderr}");
    let stderr = fails(&["budget", "--preset", "zigbee"], 1);
    assert!(stderr.contains("there is no preset `zigbee`; use one of: wifi, lora"), "{stderr}");
    let stderr = fails(&["budget", "--preset", "lora", "--interval-s", "0.05"], 1);
    assert!(stderr.contains("shorter than the 0.120 s the device is awake"), "{stderr}");
    let stderr = fails(&["budget", "--preset", "lora", "--usable", "80"], 1);
    assert!(stderr.contains("usable share 80 is not in 0 < share ≤ 1"), "{stderr}");
    let stderr = fails(&["budget", "--profile", "/nonexistent/benchtop.toml"], 1);
    assert!(stderr.contains("could not read profile") && stderr.trim_end().ends_with("/nonexistent/benchtop.toml"));
    let stderr = fails(&["budget", "--capacity-mah", "3000"], 2);
    assert!(stderr.contains("--state"), "one of the profile sources is required: {stderr}");
}

#[test]
fn airtime_matches_the_reference_table() {
    let sf7 = json(&["airtime", "--sf", "7", "--bw", "125", "--cr", "1", "--payload", "10"]);
    assert_close(number(&sf7, "time_on_air_ms"), 41.216, "SF7 PL10");
    assert_eq!(sf7["payload_symbols"], 28);
    assert_close(number(&sf7, "symbol_time_ms"), 1.024, "SF7 symbol");
    assert_eq!(sf7["low_data_rate_optimize"], false);

    let sf12 = json(&["airtime", "--sf", "12", "--payload", "10"]);
    assert_close(number(&sf12, "time_on_air_ms"), 991.232, "SF12 PL10");
    assert_eq!(sf12["payload_symbols"], 18);
    assert_eq!(sf12["low_data_rate_optimize"], true);

    for (sf, payload, toa) in [("11", "10", 577.536), ("9", "13", 164.864), ("7", "51", 102.656)] {
        let report = json(&["airtime", "--sf", sf, "--payload", payload]);
        assert_close(number(&report, "time_on_air_ms"), toa, &format!("SF{sf} PL{payload}"));
    }
}

#[test]
fn airtime_spacing_charge_and_application_payload() {
    let report = json(&["airtime", "--sf", "9", "--payload", "13", "--duty-cycle", "0.01", "--tx-current-ma", "120"]);
    assert_close(number(&report, "min_spacing_s"), 16.4864, "1 % duty cycle");
    assert_close(number(&report, "charge_uc"), 120.0 * 164.864, "µC = mA × ms");
    assert_close(number(&report, "charge_uah"), 120.0 * 164.864 / 3600.0, "µAh");

    // 10 application bytes are a 23-byte PHY payload: 8 + ceil(200/28)·5 = 48 symbols.
    let app = json(&["airtime", "--sf", "7", "--app-payload", "10"]);
    assert_eq!(app["payload_bytes"], 23);
    assert_eq!(app["payload_symbols"], 48);
    assert_close(number(&app, "time_on_air_ms"), 61.696, "SF7 app 10");

    let output = benchtop(&["airtime", "--sf", "7", "--app-payload", "10", "--duty-cycle", "0.01"]);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains("time on air            61.696 ms"), "{table}");
    assert!(table.contains("23 B PHY payload (10 B application + 13)"), "{table}");
    assert!(table.contains("one uplink every 6.17 s at most"), "{table}");
}

#[test]
fn airtime_errors() {
    let stderr = fails(&["airtime", "--sf", "13", "--payload", "10"], 1);
    assert!(stderr.contains("spreading factor 13 is not between 5 and 12"), "{stderr}");
    let stderr = fails(&["airtime", "--sf", "7", "--payload", "10", "--app-payload", "10"], 2);
    assert!(stderr.contains("cannot be used with"), "{stderr}");
    let stderr = fails(&["airtime", "--sf", "7"], 2);
    assert!(stderr.contains("--payload"), "{stderr}");
    let stderr = fails(&["airtime", "--sf", "7", "--app-payload", "250"], 1);
    assert!(stderr.contains("PHY payload of 263 bytes does not fit"), "{stderr}");
    let stderr = fails(&["airtime", "--sf", "7", "--payload", "10", "--duty-cycle", "1.5"], 1);
    assert!(stderr.contains("duty cycle 1.5 is not in 0 < duty ≤ 1"), "{stderr}");
}
