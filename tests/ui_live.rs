#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The window driven headless through egui_kittest: it connects to the simulated board, shows its channels by
//! name, and pauses and resumes from the button and the space bar.

use std::time::{Duration, Instant};

use benchtop::ui::BenchtopApp;
use benchtop::ui::devices::DeviceState;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// Steps the window in real time until `done` holds, or fails after `limit`.
fn step_until(
    harness: &mut Harness<'_, BenchtopApp>,
    limit: Duration,
    done: impl Fn(&Harness<'_, BenchtopApp>) -> bool,
) {
    let started = Instant::now();
    while !done(harness) {
        assert!(started.elapsed() < limit, "condition not reached within {limit:?}");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_simulated_board_appears_with_named_moving_plots_and_pauses() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let mut harness = Harness::builder()
        .with_size([1200.0, 800.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, "sim:seed=31"));

    step_until(&mut harness, Duration::from_secs(10), |h| h.state().paused().is_some());
    for name in ["temperature", "humidity", "battery", "current"] {
        harness.get_by_label(name);
    }
    // Data is flowing into the plots.
    let before = harness.state().samples_received();
    step_until(&mut harness, Duration::from_secs(5), |h| h.state().samples_received() > before + 1000);

    harness.get_by_label("Pause").click();
    harness.run_steps(2);
    assert_eq!(harness.state().paused(), Some(true));
    harness.get_by_label("Resume");

    harness.key_press(eframe::egui::Key::Space);
    harness.run_steps(2);
    assert_eq!(harness.state().paused(), Some(false));
    harness.get_by_label("Pause");

    // An XY plot of two channels.
    harness.get_by_label("XY").click();
    harness.run_steps(2);
    harness.get_by_label("humidity vs temperature").click();
    harness.run_steps(2);
    assert_eq!(harness.state().plot_state().unwrap().xy, Some((0, 1)));
}

#[test]
fn a_source_that_cannot_open_says_so() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let mut harness = Harness::builder()
        .with_size([1000.0, 600.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, "serial:/dev/benchtop-nowhere"));
    step_until(&mut harness, Duration::from_secs(5), |h| {
        h.query_all_by_label_contains("could not open serial port /dev/benchtop-nowhere").next().is_some()
    });
    assert_eq!(harness.state().paused(), None);
    // Also as a toast, which says what to do.
    let toast: Vec<&str> = harness.state().toasts().collect();
    assert_eq!(toast.len(), 1);
    assert!(toast[0].contains("Check that the board is plugged in"), "{toast:?}");
}

#[test]
fn the_theme_switches_and_sources_are_remembered() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let mut harness = Harness::builder()
        .with_size([1200.0, 800.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, "sim:seed=33"));
    harness.run_steps(2);
    assert_eq!(harness.state().settings().recent_sources, ["sim:seed=33"]);
    assert!(!harness.state().settings().light_theme);
    harness.get_by_label("Light theme").click();
    harness.run_steps(2);
    assert!(harness.state().settings().light_theme);
    assert_eq!(harness.ctx.theme(), eframe::egui::Theme::Light);
    harness.get_by_label("Dark theme");
}

#[test]
fn disconnect_then_connect_another_board() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let mut harness = Harness::builder()
        .with_size([1400.0, 900.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, "sim:seed=32"));
    step_until(&mut harness, Duration::from_secs(10), |h| h.state().samples_received() > 100);

    harness.get_by_label("Disconnect").click();
    step_until(&mut harness, Duration::from_secs(5), |h| h.state().devices()[0].state == DeviceState::Closed);
    harness.get_by_label("Remove");
    // The data received before disconnecting stays on screen.
    assert!(harness.state().samples_received() > 0);

    harness.get_by_label("Add a simulated board").click();
    step_until(&mut harness, Duration::from_secs(10), |h| {
        h.state().devices().len() == 2 && h.state().devices()[1].state == DeviceState::Connected
    });
    let before = harness.state().samples_received();
    step_until(&mut harness, Duration::from_secs(5), |h| h.state().samples_received() > before + 100);
    // Two devices listed, the new one selected and streaming, the old one still there to look at.
    assert_eq!(harness.state().devices()[0].state, DeviceState::Closed);
}

#[test]
fn a_recording_opens_for_viewing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.csv");
    let mut rows = String::from("time_s,channel,value,unit\n");
    for i in 0..500 {
        rows.push_str(&format!("{},pressure,{},hPa\n", i as f64 * 0.1, 1000 + i % 7));
    }
    std::fs::write(&path, rows).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let source = format!("file:{}", path.display());
    let mut harness = Harness::builder()
        .with_size([1200.0, 800.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, &source));
    step_until(&mut harness, Duration::from_secs(5), |h| h.state().devices()[0].state == DeviceState::File);
    harness.run_steps(2);
    assert_eq!(harness.state().samples_received(), 500);
    harness.get_by_label("pressure");
}
