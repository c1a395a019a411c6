//! The window for kittest tests: opened on a source with an I/O runtime that lives as long as the test
//! process, and stepped until that source is connected (rows that appear on connecting move widgets, so
//! clicks come after it).
//!
//! Include it with `#[path = "support/window.rs"] mod window;`.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use benchtop::ui::BenchtopApp;
use eframe::egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

/// The window on `source` (1400 × 1000 points), connected.
pub fn connected(source: &str) -> Harness<'static, BenchtopApp> {
    let runtime = Box::leak(Box::new(tokio::runtime::Runtime::new().unwrap()));
    let handle = runtime.handle().clone();
    let source = source.to_string();
    let mut harness = Harness::builder()
        .with_size([1400.0, 1000.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, &source));
    let started = Instant::now();
    while harness.state().paused().is_none() {
        assert!(started.elapsed() < Duration::from_secs(10), "the source did not connect");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    harness.run_steps(2);
    harness
}

/// Steps the window until `done` (at most `seconds`, then fails naming `what`), and twice more so that what
/// changed is drawn before the next click.
pub fn step_until(
    harness: &mut Harness<'static, BenchtopApp>,
    what: &str,
    seconds: u64,
    done: impl Fn(&mut Harness<'static, BenchtopApp>) -> bool,
) {
    let started = Instant::now();
    while !done(harness) {
        assert!(started.elapsed() < Duration::from_secs(seconds), "timed out waiting for {what}");
        harness.step();
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run_steps(2);
}

/// Replaces the text of the input labelled `label`.
pub fn type_into(harness: &mut Harness<'static, BenchtopApp>, label: &str, text: &str) {
    harness.get_by_label(label).click();
    harness.run_steps(2);
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.key_press(Key::Backspace);
    harness.get_by_label(label).type_text(text);
    harness.run_steps(2);
}
