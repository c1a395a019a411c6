#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! CPU time of one frame of the window, headless (egui_kittest, no GPU): the simulated board's four channels
//! streaming, plots following the last 10 s, and after an hour's worth of 1 kHz current history has built up
//! in memory. Run with `cargo bench --bench ui_frame`.

use std::time::{Duration, Instant};

use benchtop::ui::BenchtopApp;
use criterion::{Criterion, criterion_group, criterion_main};
use egui_kittest::Harness;

fn frame(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let handle = runtime.handle().clone();
    let mut harness = Harness::builder()
        .with_size([1600.0, 1000.0])
        .build_eframe(move |cc| BenchtopApp::new(cc.egui_ctx.clone(), handle, "sim"));
    let started = Instant::now();
    while harness.state().samples_received() < 2000 {
        assert!(started.elapsed() < Duration::from_secs(20), "the simulated board did not stream");
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
    }
    c.bench_function("ui: one frame, four live channels", |b| b.iter(|| harness.step()));
}

criterion_group!(benches, frame);
criterion_main!(benches);
