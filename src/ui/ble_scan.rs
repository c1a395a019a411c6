//! The Bluetooth section of the devices panel: scan for BLE devices, see each one's signal, services and
//! manufacturer data as advertisements arrive, and open one as a source (`ble:ID`) or explore its GATT
//! database ([`super::ble_explore`]).
//!
//! The scan runs on the I/O runtime and hands each update over a watch channel, so the window never waits on
//! the Bluetooth stack. A missing adapter, an adapter switched off or a system without BlueZ is shown as the
//! sentence the stack's error gives, with what to do.

use std::time::Duration;

use eframe::egui::{self, RichText, TextEdit};
use tokio::sync::watch;

use super::theme;
use crate::ble::central::{adapter, scan_with};
use crate::ble::names::{self, AttributeKind};
use crate::ble::scan::{ScanSort, ScanTable, ScannedDevice};

/// How long one scan listens.
pub const SCAN_DURATION: Duration = Duration::from_secs(10);

/// What a scan has reported.
#[derive(Clone, Default)]
enum Progress {
    /// Not started.
    #[default]
    Idle,
    /// Running: the devices so far.
    Running(ScanTable),
    /// Finished.
    Done(ScanTable),
    /// The stack refused.
    Failed(String),
}

/// What the user picked in the scan list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanAction {
    /// Open the device as a source (`ble:ID`).
    Open(String),
    /// Explore the device's GATT database.
    Explore {
        /// Its platform id.
        device_id: String,
        /// Its name, or its address.
        title: String,
    },
}

/// The scan list, its filter and sort.
#[derive(Default)]
pub struct BleScan {
    progress: Option<watch::Receiver<Progress>>,
    /// Only devices whose name, address or id contains this.
    pub filter: String,
    /// Order of the list.
    pub sort: ScanSort,
}

impl BleScan {
    /// Starts a scan on `runtime` (a scan already running goes on).
    pub fn start(&mut self, runtime: &tokio::runtime::Handle, repaint: egui::Context) {
        if self.running() {
            return;
        }
        let (tx, rx) = watch::channel(Progress::Running(ScanTable::default()));
        runtime.spawn(async move {
            let result = match adapter().await {
                Ok(adapter) => {
                    let updates = tx.clone();
                    let wake = repaint.clone();
                    scan_with(&adapter, SCAN_DURATION, move |table| {
                        let _ = updates.send(Progress::Running(table.clone()));
                        wake.request_repaint();
                    })
                    .await
                }
                Err(error) => Err(error),
            };
            let _ = tx.send(match result {
                Ok(table) => Progress::Done(table),
                Err(error) => Progress::Failed(error.to_string()),
            });
            repaint.request_repaint();
        });
        self.progress = Some(rx);
    }

    fn current(&self) -> Progress {
        self.progress.as_ref().map(|rx| rx.borrow().clone()).unwrap_or_default()
    }

    /// Whether a scan is listening now.
    pub fn running(&self) -> bool {
        matches!(self.current(), Progress::Running(_))
    }

    /// The stack's refusal, if the last scan failed.
    pub fn error(&self) -> Option<String> {
        match self.current() {
            Progress::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// What the scans so far saw of the device `device_id`.
    pub fn device(&self, device_id: &str) -> Option<ScannedDevice> {
        match &*self.progress.as_ref()?.borrow() {
            Progress::Running(table) | Progress::Done(table) => table.get(device_id).cloned(),
            Progress::Idle | Progress::Failed(_) => None,
        }
    }

    /// The section; returns what the user picked.
    pub fn ui(&mut self, ui: &mut egui::Ui, runtime: &tokio::runtime::Handle) -> Option<ScanAction> {
        ui.strong("Bluetooth LE");
        let progress = self.current();
        ui.horizontal(|ui| {
            let running = matches!(progress, Progress::Running(_));
            if ui.add_enabled(!running, egui::Button::new("Scan")).on_hover_text("Listen for 10 s").clicked() {
                self.start(runtime, ui.ctx().clone());
            }
            if running {
                ui.spinner();
            }
            let label = ui.label("Filter");
            ui.add(TextEdit::singleline(&mut self.filter).desired_width(80.0)).labelled_by(label.id);
        });
        let table = match &progress {
            Progress::Idle => return None,
            Progress::Failed(reason) => {
                ui.colored_label(theme::ERROR, reason);
                return None;
            }
            Progress::Running(table) | Progress::Done(table) => table,
        };
        ui.horizontal(|ui| {
            ui.label(RichText::new("Sort").color(theme::MUTED));
            ui.selectable_value(&mut self.sort, ScanSort::Signal, "signal");
            ui.selectable_value(&mut self.sort, ScanSort::Name, "name");
            ui.selectable_value(&mut self.sort, ScanSort::LastSeen, "last seen");
        });
        let devices = table.sorted(self.sort, self.filter.trim());
        if devices.is_empty() {
            ui.label(RichText::new("No device seen yet").color(theme::MUTED));
            return None;
        }
        let mut action = None;
        for device in devices {
            ui.horizontal(|ui| {
                let name = device.name.clone().unwrap_or_else(|| "(unnamed)".into());
                let rssi = device.rssi_last_dbm().map_or("-".into(), |dbm| format!("{dbm} dBm"));
                let mut hover = format!("{}\n{} advertisements", device.address, device.advertisements);
                if let (Some(min), Some(max)) = (device.rssi_min_dbm, device.rssi_max_dbm) {
                    hover.push_str(&format!("\nRSSI {min}..{max} dBm"));
                }
                for uuid in &device.services {
                    hover.push_str(&format!("\nservice {}", names::label(AttributeKind::Service, *uuid)));
                }
                for (company, data) in &device.manufacturer_data {
                    let who = names::company_name(*company).unwrap_or("unknown company");
                    hover.push_str(&format!("\n{who} (0x{company:04X}): {}", crate::ble::scan::hex(data)));
                }
                if ui
                    .button("Open")
                    .on_hover_text(
                        "Connect; a Benchtop board speaks its protocol, any other sensor's notifications are plotted",
                    )
                    .clicked()
                {
                    action = Some(ScanAction::Open(format!("ble:{}", device.id)));
                }
                if ui
                    .button("Explore")
                    .on_hover_text("Connect and show its services, read, write and subscribe")
                    .clicked()
                {
                    let title = device.name.clone().unwrap_or_else(|| device.address.clone());
                    action = Some(ScanAction::Explore { device_id: device.id.clone(), title });
                }
                let tag = if device.is_benchtop() { " · Benchtop" } else { "" };
                ui.label(format!("{name}{tag}")).on_hover_text(hover);
                ui.label(RichText::new(rssi).color(theme::MUTED));
            });
        }
        action
    }
}
