//! The window (egui only): panels read the app's state and send commands; no I/O happens here.

pub mod app;
pub mod connections;
pub mod console;
pub mod devices;
pub mod plot;
pub mod theme;

pub use app::BenchtopApp;

/// Opens the window, connected to `source`, and runs until it closes.
pub fn run(runtime: tokio::runtime::Handle, source: &str) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: eframe::egui::ViewportBuilder::default()
            .with_title("Benchtop")
            .with_inner_size([1100.0, 700.0])
            .with_min_inner_size([640.0, 400.0]),
        ..Default::default()
    };
    let source = source.to_string();
    eframe::run_native(
        "Benchtop",
        options,
        Box::new(move |cc| Ok(Box::new(BenchtopApp::new(cc.egui_ctx.clone(), runtime, &source)))),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
