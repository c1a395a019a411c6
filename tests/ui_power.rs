#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The Power view driven headless through egui_kittest: a recording opened from the command line, markers
//! set from the view, exact statistics shown, states found and sent to the budget.

use benchtop::trace::{ChannelDef, TraceWriter};
use benchtop::ui::BenchtopApp;
use benchtop::ui::app::View;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// The window opened on `source`, with an I/O runtime that lives as long as the test process.
fn window(source: &str) -> Harness<'static, BenchtopApp> {
    let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
    let handle = runtime.handle().clone();
    let source = source.to_string();
    Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, &source))
}

/// Steps until the simulated board is connected: its "Record … to a trace" row then moves the Power view's
/// inputs down, so clicks must come after it.
fn wait_for_the_board(harness: &mut Harness<'_, BenchtopApp>) {
    let started = std::time::Instant::now();
    while harness.state().paused().is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "the simulated board did not connect");
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    harness.run_steps(2);
}

/// 10 s at 1 kS/s: 1 mA, with 10 mA from 4 s to 6 s.
fn write_trace(path: &std::path::Path) {
    let mut writer = TraceWriter::create(path).unwrap();
    let ch = writer
        .add_channel(ChannelDef { name: "current".into(), unit: "A".into(), sample_rate_hz: 1000.0, start_s: 0.0 })
        .unwrap();
    let samples: Vec<f32> = (0..10_000).map(|i| if (4000..6000).contains(&i) { 0.010 } else { 0.001 }).collect();
    writer.append(ch, &samples).unwrap();
    writer.finish().unwrap();
}

#[test]
fn markers_give_exact_statistics_and_states_go_to_the_budget() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("burst.btr");
    write_trace(&path);
    let mut harness = window(&format!("file:{}", path.display()));
    harness.run_steps(3);
    assert_eq!(harness.state().view(), View::Power);
    assert_eq!(harness.state_mut().power().trace().unwrap().sample_count(0), 10_000);
    harness.get_by_label("Set both markers to measure between them.");

    // The whole trace is in view (0–10 s): markers go to 10 % and 90 % of it, 1 s and 9 s.
    harness.get_by_label("Markers to view").click();
    harness.run_steps(2);
    let (a, b) = harness.state_mut().power().marker_range().unwrap();
    assert!((a - 1.0).abs() < 1e-6 && (b - 9.0).abs() < 1e-6, "{a} {b}");
    // 6 s at 1 mA and 2 s at 10 mA: mean 3.25 mA, charge 26 mC = 7.222 µAh, energy at 3.7 V 96.2 mJ.
    harness.get_by_label("3.250 mA");
    harness.get_by_label("26.000 mC");
    harness.get_by_label("7.222222 µAh");
    harness.get_by_label("96.200 mJ");

    harness.get_by_label("Find states between markers").click();
    harness.run_steps(2);
    let found = harness.state_mut().power().states().map(|s| s.segmentation.names().to_vec()).unwrap();
    assert_eq!(found, vec!["sleep".to_string(), "active".to_string()]);
    harness.get_by_label("Use in budget").click();
    harness.run_steps(2);
    assert_eq!(harness.state().view(), View::Budget);
    let profile = harness.state().settings().budget.profile();
    assert_eq!(profile.name, "burst");
    // The profile's average is the trace's mean between the markers.
    assert!((profile.avg_current_ma() - 3.25).abs() < 1e-3, "{}", profile.avg_current_ma());
}

#[test]
fn a_file_that_is_not_a_trace_says_so_in_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.btr");
    std::fs::write(&path, "not a trace").unwrap();
    let mut harness = window(&format!("file:{}", path.display()));
    harness.run_steps(3);
    assert_eq!(harness.state().view(), View::Power);
    assert!(harness.state_mut().power().trace().is_none());
    let toast: Vec<String> = harness.state().toasts().map(str::to_string).collect();
    assert!(toast.iter().any(|t| t.contains("is not a Benchtop trace")), "{toast:?}");
}

#[test]
fn a_csv_typed_in_the_open_box_is_imported_beside_it_and_shown() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bench capture.csv");
    let mut text = String::from("time_s,current_a\n");
    for i in 0..1000 {
        text.push_str(&format!("{:.3},{}\n", i as f64 * 1e-3, if i < 500 { 0.002 } else { 0.004 }));
    }
    std::fs::write(&csv, text).unwrap();
    let mut harness = window("sim:seed=3");
    wait_for_the_board(&mut harness);
    harness.get_by_label("Power").click();
    harness.run_steps(2);
    assert_eq!(harness.state().view(), View::Power);
    let input = || (eframe::egui::accesskit::Role::TextInput, "Trace");
    harness.get_by_role_and_label(input().0, input().1).click();
    harness.run_steps(2);
    harness.get_by_role_and_label(input().0, input().1).type_text(&csv.display().to_string());
    harness.run_steps(1);
    harness.get_by_label("Open trace").click();
    let started = std::time::Instant::now();
    while harness.state_mut().power().trace().is_none() {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "{:?}", harness.state_mut().power().message());
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let trace = harness.state_mut().power().trace().unwrap();
    assert_eq!(trace.sample_count(0), 1000);
    assert_eq!(trace.path(), dir.path().join("bench capture.btr"));
    let stats = trace.stats(0, 0, 1000).unwrap();
    assert!((stats.mean - 0.003).abs() < 1e-9, "{stats:?}");
}

#[test]
fn a_ppk2_started_from_the_power_view_records_and_shows_current_and_logic_live() {
    use benchtop::sim::ppk2::{Ppk2Options, serve_pty};
    let dir = tempfile::tempdir().unwrap();
    let (port, emulator) = serve_pty(Ppk2Options { vdd_mv: 3300, ..Ppk2Options::default() }).unwrap();
    let mut harness = window("sim:seed=3");
    harness.state_mut().power().record_dir = dir.path().to_path_buf();
    wait_for_the_board(&mut harness);
    harness.get_by_label("Power").click();
    harness.run_steps(2);
    // The port field (typing into fields is covered by the CSV test above); "auto" would look for USB ids.
    harness.get_by_role_and_label(eframe::egui::accesskit::Role::TextInput, "PPK2");
    harness.state_mut().power().ppk2_form.port = port.clone();
    harness.get_by_label("Start PPK2").click();
    let started = std::time::Instant::now();
    loop {
        harness.step();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let power = harness.state_mut().power();
        if power.trace().is_some_and(|t| t.sample_count(0) > 50_000) {
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", power.message());
    }
    let trace = harness.state_mut().power().trace().unwrap();
    let names: Vec<String> = trace.channels().map(|c| c.name.clone()).collect();
    assert_eq!(&names[..3], ["current", "D0", "D1"]);
    assert!(!trace.report().finished, "still recording");
    // Switching the device under test off: the PPK2 then measures nothing flowing.
    harness.get_by_label("Device power off").click();
    harness.run_steps(1);
    std::thread::sleep(std::time::Duration::from_millis(400));
    harness.run_steps(1);
    std::thread::sleep(std::time::Duration::from_millis(300));
    harness.run_steps(2);
    harness.get_by_label("Device power on");
    let trace = harness.state_mut().power().trace().unwrap();
    let n = trace.sample_count(0);
    let tail = trace.stats(0, n - 5_000, n).unwrap();
    assert!(tail.max.abs() < 1e-6, "the last 50 ms read no current: {tail:?}");
    harness.get_by_label("Stop PPK2").click();
    harness.run_steps(2);
    let status = harness.state_mut().power().ppk2().unwrap().status();
    assert!(status.ended && status.failure.is_none(), "{status:?}");
    assert!(status.stats.samples > 50_000);
    drop(emulator);
}
