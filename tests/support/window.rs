//! The window for kittest tests: opened on a source with an I/O runtime that lives as long as the test
//! process, and stepped until that source is connected (rows that appear on connecting move widgets, so
//! clicks come after it).
//!
//! Include it with `#[path = "support/window.rs"] mod window;`.

use std::time::{Duration, Instant};

use benchtop::ui::BenchtopApp;
use egui_kittest::Harness;

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
