#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! `benchtop provision` and `benchtop ledger` as a user runs them: a template, a SQLite ledger and simulated
//! boards on pseudo-terminals; then the ledger exported to The Things Stack CSV and checked.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use benchtop::sim::serve::PtyServer;
use benchtop::sim::{Faults, SimOptions};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

fn benchtop(args: &[&str]) -> Output {
    Command::new(BIN).args(args).env("BENCHTOP_LOG", "error").output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const TEMPLATE: &str = "station = \"cli-station\"\noperator = \"tester\"\n[lorawan]\n\
    join_eui = \"70B3D57ED0000010\"\ndev_eui = { block = \"70B3D57ED0002000..70B3D57ED00020FF\" }\n\
    app_key = \"generate\"\ntr005_profile_id = \"000AF8BE\"\n[reporting]\ninterval_s = 600\n";

fn write_template(dir: &Path, text: &str) -> String {
    let path = dir.join("line.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

fn board(seed: u64) -> PtyServer {
    PtyServer::start(SimOptions { seed, faults: Faults::default() }).unwrap()
}

#[test]
fn provision_a_port_then_export_to_the_things_stack_csv() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path(), TEMPLATE);
    let db = dir.path().join("ledger.sqlite");
    let ledger = format!("sqlite:{}", db.display());
    let server = board(21);
    let out = benchtop(&["provision", "--template", &template, "--ledger", &ledger, "--port", server.path(), "--json"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let lines: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let done = lines.iter().find(|l| l["event"] == "done").expect("a done event");
    assert_eq!(done["outcome"]["passed"], true);
    assert_eq!(done["outcome"]["dev_eui"], "70B3D57ED0002000");
    let steps: Vec<&str> = lines.iter().filter(|l| l["event"] == "step").map(|l| l["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["identify", "reserve", "stage", "check", "commit", "read-back", "record"]);
    let summary = lines.last().unwrap();
    assert_eq!((summary["passed"].as_u64(), summary["failed"].as_u64()), (Some(1), Some(0)));
    assert_eq!(std::fs::metadata(&db).unwrap().permissions().mode() & 0o777, 0o600);

    let csv_path = dir.path().join("devices.csv");
    let out = benchtop(&[
        "ledger",
        "export",
        "--ledger",
        &ledger,
        "--format",
        "tts-csv",
        "--out",
        csv_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let csv = std::fs::read_to_string(&csv_path).unwrap();
    let mut rows = csv.lines();
    let header: Vec<&str> = rows.next().unwrap().split(';').collect();
    for column in ["dev_eui", "join_eui", "app_key"] {
        assert!(header.contains(&column), "{header:?}");
    }
    let row: Vec<&str> = rows.next().unwrap().split(';').collect();
    let at = |name: &str| row[header.iter().position(|h| *h == name).unwrap()];
    assert_eq!(at("dev_eui"), "70B3D57ED0002000");
    assert_eq!(at("join_eui"), "70B3D57ED0000010");
    assert_eq!(at("app_key").len(), 32);
    assert!(rows.next().is_none());

    let out = benchtop(&["ledger", "check", "--ledger", &ledger, "--json"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(report["problems"].as_array().map(Vec::len), Some(0));
}

#[test]
fn watching_a_directory_provisions_each_device_that_appears() {
    let dir = tempfile::tempdir().unwrap();
    let template = write_template(dir.path(), TEMPLATE);
    let ledger = format!("sqlite:{}", dir.path().join("ledger.sqlite").display());
    let by_id = dir.path().join("by-id");
    std::fs::create_dir(&by_id).unwrap();
    let boards = [board(31), board(32)];
    for (i, server) in boards.iter().enumerate() {
        std::os::unix::fs::symlink(server.path(), by_id.join(format!("usb-Benchtop_Sim_{i}-if00"))).unwrap();
    }
    let out = benchtop(&[
        "provision",
        "--template",
        &template,
        "--ledger",
        &ledger,
        "--watch",
        "--watch-dir",
        by_id.to_str().unwrap(),
        "--count",
        "2",
    ]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert_eq!(text.matches("PASS").count(), 2, "{text}");
    assert!(text.contains("2 passed, 0 failed"), "{text}");
}

#[test]
fn bad_templates_and_unreachable_ledgers_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("never.sqlite");
    let ledger = format!("sqlite:{}", db.display());
    let server = board(41);
    let bad = write_template(dir.path(), &TEMPLATE.replace("70B3D57ED0000010", "70B3D57ED00000XYZ"));
    let out = benchtop(&["provision", "--template", &bad, "--ledger", &ledger, "--port", server.path()]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("line 4"), "{}", stderr(&out));
    assert!(!db.exists(), "a bad template must not create the ledger");

    let good = write_template(dir.path(), TEMPLATE);
    let out = benchtop(&[
        "provision",
        "--template",
        &good,
        "--ledger",
        "postgres://line:s3cret@127.0.0.1:1/ledger",
        "--port",
        server.path(),
    ]);
    assert!(!out.status.success());
    let error = stderr(&out);
    assert!(error.contains("127.0.0.1:1"), "{error}");
    assert!(!error.contains("s3cret"), "the password leaked: {error}");

    let out = benchtop(&["ledger", "export", "--ledger", &ledger, "--format", "tts-xml", "--out", "x"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("tts-csv"), "{}", stderr(&out));
}
