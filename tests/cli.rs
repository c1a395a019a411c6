#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The `benchtop` binary as a user runs it: `sim --pty` in one process, `info serial:PATH` in another.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use benchtop::sim::board::device_id_for_seed;

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

/// A child process killed when the test ends, pass or fail.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `benchtop sim ARGS` and returns it with the first line it prints (the pty path or TCP address).
fn serve(args: &[&str]) -> (Running, String) {
    let mut child =
        Command::new(BIN).arg("sim").args(args).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (Running(child), line.trim().to_string())
}

fn info(source: &str, extra: &[&str]) -> std::process::Output {
    Command::new(BIN).arg("info").arg(source).args(extra).output().unwrap()
}

#[test]
fn sim_pty_then_info_prints_the_channels() {
    let (_sim, path) = serve(&["--pty", "--seed", "3"]);
    assert!(path.starts_with("/dev/"), "{path}");

    let output = info(&format!("serial:{path}"), &["--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["device_id"], format!("{:016x}", device_id_for_seed(3)));
    let names: Vec<&str> = report["channels"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["temperature", "humidity", "battery", "current"]);
    assert_eq!(report["channels"][3]["unit"], "nA");

    // The table form, from a second connection to the same board.
    let output = info(&format!("serial:{path}"), &[]);
    let table = String::from_utf8(output.stdout).unwrap();
    assert!(table.contains(&format!("device {:016x}", device_id_for_seed(3))), "{table}");
    assert!(table.lines().any(|l| l.contains("temperature") && l.contains("°C")), "{table}");

    // Holding DTR and RTS low: a pty has no such lines, which must not stop the port from opening.
    let output = info(&format!("serial:{path}?dtr=off&rts=off"), &["--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn sim_tcp_then_info() {
    let (_sim, address) = serve(&["--tcp", "127.0.0.1:0", "--seed", "4"]);
    let output = info(&format!("tcp:{address}"), &["--json"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["device_id"], format!("{:016x}", device_id_for_seed(4)));
}

#[test]
fn info_on_the_in_process_board() {
    let output = info("sim:seed=5", &["--json"]);
    assert!(output.status.success());
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["device_id"], format!("{:016x}", device_id_for_seed(5)));
}

#[test]
fn errors_are_sentences_and_exit_codes() {
    let output = info("serial:/dev/benchtop-missing", &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(stderr.contains("could not open serial port /dev/benchtop-missing"), "{stderr}");

    let output = info("carrier-pigeon:7", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr).unwrap().contains("is not a source"));

    let output = Command::new(BIN).args(["sim", "--pty", "--faults", "explode"]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr).unwrap().contains("unknown fault `explode`"));

    let output = info("file:trace.btr", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr).unwrap().contains("file sources are not available"));

    // A CoAP resource has no device description: the error says where it works.
    let output = info("coap://127.0.0.1/temperature", &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8(output.stderr).unwrap().contains("benchtop coap get"));
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    // As `benchtop inspect … | head -0`: the reader is gone before anything is printed.
    let mut child = Command::new(BIN)
        .args(["inspect", "--format", "lpp", "--hex", "01 67 01 10"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(141), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
