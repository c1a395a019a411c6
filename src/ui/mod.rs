//! The window (egui only): panels read the app's state and send commands; no I/O happens here.

pub mod app;
pub mod ble_explore;
pub mod ble_scan;
pub mod budget;
pub mod coap_panel;
pub mod connections;
pub mod console;
pub mod devices;
pub mod inspector;
pub mod mqtt_bridge;
pub mod plot;
pub mod power;
pub mod ppk2_live;
pub mod provision;
pub mod provision_bench;
pub mod settings;
pub mod theme;
pub mod toasts;

pub use app::BenchtopApp;

/// Opens the window, connected to `source` and on `view` when given, and runs until it closes.
pub fn run(runtime: tokio::runtime::Handle, source: &str, view: Option<app::View>) -> anyhow::Result<()> {
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
        Box::new(move |cc| {
            let settings = cc.storage.and_then(|s| eframe::get_value(s, eframe::APP_KEY)).unwrap_or_default();
            let mut app = BenchtopApp::with_settings(cc.egui_ctx.clone(), runtime, &source, settings);
            if let Some(view) = view {
                app.set_view(view);
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| anyhow::anyhow!("could not open the window: {e}"))
}
