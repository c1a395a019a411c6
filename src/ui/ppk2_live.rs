//! A PPK2 session started from the Power view: a named thread opens the PPK2, records its stream to a `.btr`
//! trace (current, D0–D7), and the view follows that file as it grows. The UI thread only reads the shared
//! status and sets the stop flag; it never touches the port.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use eframe::egui::{self, RichText};

use super::theme;
use crate::io::ppk2::{Ppk2Event, Ppk2Options, Ppk2Stream};
use crate::io::ppk2_trace::Ppk2TraceSink;
use crate::ppk2::{Command, DecodeStats, Mode};

/// What the session thread reports.
#[derive(Debug, Clone, Default)]
pub struct Ppk2Status {
    /// The port, once open.
    pub port: Option<String>,
    /// The decoder's counts.
    pub stats: DecodeStats,
    /// Calibration problems reported at open.
    pub problems: Vec<String>,
    /// Why the session ended early, if it did.
    pub failure: Option<String>,
    /// The session has ended (stopped or failed).
    pub ended: bool,
    /// The device under test is powered (source mode) or connected through (ampere mode).
    pub dut_powered: bool,
}

/// A running PPK2 session.
pub struct Ppk2Live {
    /// The trace being written.
    pub path: PathBuf,
    running: Arc<AtomicBool>,
    status: Arc<Mutex<Ppk2Status>>,
    commands: SyncSender<Command>,
    thread: Option<JoinHandle<()>>,
}

/// The PPK2 form's inputs.
#[derive(Debug, Clone, PartialEq)]
pub struct Ppk2Form {
    /// `auto` or a port path.
    pub port: String,
    /// Source meter (the PPK2 powers the device) rather than ampere meter.
    pub source_mode: bool,
    /// Regulator voltage, mV.
    pub voltage_mv: u16,
    /// Record the spike-filtered current beside the raw one.
    pub spike_filter: bool,
}

impl Default for Ppk2Form {
    fn default() -> Self {
        Self { port: "auto".into(), source_mode: false, voltage_mv: 3300, spike_filter: false }
    }
}

impl Ppk2Form {
    /// The form as one row; true when Start was pressed.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> bool {
        let mut start = false;
        ui.horizontal(|ui| {
            let label = ui.label("PPK2");
            ui.add(egui::TextEdit::singleline(&mut self.port).desired_width(120.0)).labelled_by(label.id);
            ui.checkbox(&mut self.source_mode, "Source meter");
            if self.source_mode {
                ui.add(egui::DragValue::new(&mut self.voltage_mv).range(800..=5000).suffix(" mV"));
            }
            ui.checkbox(&mut self.spike_filter, "Spike filter");
            start = ui.button("Start PPK2").on_hover_text("Record the PPK2 to a .btr trace and show it live").clicked();
        });
        start
    }

    /// Fills the form from a `ppk2:` source's target (`auto` or a path, `?mode=…&voltage_mv=…`).
    pub fn set_from_target(&mut self, target: &str) -> Result<(), String> {
        let options = Ppk2Options::parse(target).map_err(|e| e.to_string())?;
        self.port = options.path.unwrap_or_else(|| "auto".into());
        self.source_mode = options.mode == Mode::Source;
        self.voltage_mv = options.voltage_mv;
        Ok(())
    }

    /// The options the form describes.
    pub fn options(&self) -> Ppk2Options {
        let port = self.port.trim();
        Ppk2Options {
            path: (!port.is_empty() && port != "auto").then(|| port.to_string()),
            mode: if self.source_mode { Mode::Source } else { Mode::Ampere },
            voltage_mv: self.voltage_mv,
        }
    }
}

impl Ppk2Live {
    /// Starts a session writing to `path`.
    pub fn start(options: Ppk2Options, spike_filter: bool, path: PathBuf) -> Result<Self, String> {
        let running = Arc::new(AtomicBool::new(true));
        let status = Arc::new(Mutex::new(Ppk2Status::default()));
        let (commands, command_rx) = sync_channel(8);
        let thread = {
            let (running, status, path) = (running.clone(), status.clone(), path.clone());
            std::thread::Builder::new()
                .name("benchtop-ppk2-session".into())
                .spawn(move || {
                    let result = session(&options, spike_filter, &path, &running, &status, &command_rx);
                    if let Ok(mut status) = status.lock() {
                        status.failure = result.err();
                        status.ended = true;
                    }
                })
                .map_err(|e| format!("could not start the PPK2 session: {e}"))?
        };
        Ok(Self { path, running, status, commands, thread: Some(thread) })
    }

    /// What the session reports now.
    pub fn status(&self) -> Ppk2Status {
        self.status.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Asks the session to stop; the trace is finished by its thread.
    pub fn stop(&mut self) {
        self.running.store(false, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }

    /// One line of status with a Stop button; true when stopped by the user.
    pub fn ui(&mut self, ui: &mut egui::Ui) -> bool {
        let status = self.status();
        let mut stopped = false;
        ui.horizontal(|ui| {
            if status.ended {
                match &status.failure {
                    Some(reason) => ui.colored_label(theme::ERROR, format!("PPK2: {reason}")),
                    None => ui.label(format!("PPK2 stopped; trace in {}", self.path.display())),
                };
                return;
            }
            ui.colored_label(theme::ERROR, "REC");
            ui.label(format!(
                "PPK2 {} · {} samples · {} lost in {} gaps · {} resyncs",
                status.port.as_deref().unwrap_or("opening…"),
                status.stats.samples,
                status.stats.lost_samples,
                status.stats.gaps,
                status.stats.resyncs
            ));
            if status.stats.suspected_unreported_samples > 0 {
                ui.label(
                    RichText::new(format!("~{} more lost (clock)", status.stats.suspected_unreported_samples))
                        .color(theme::PENDING),
                );
            }
            let power = if status.dut_powered { "Device power off" } else { "Device power on" };
            if ui.button(power).on_hover_text("Switch the PPK2's output to the device under test").clicked() {
                let _ = self.commands.try_send(Command::DutPower(!status.dut_powered));
            }
            if ui.button("Stop PPK2").clicked() {
                stopped = true;
            }
        });
        for problem in &status.problems {
            ui.colored_label(theme::PENDING, problem);
        }
        if stopped {
            self.stop();
        }
        stopped
    }
}

impl Drop for Ppk2Live {
    fn drop(&mut self) {
        self.stop();
    }
}

fn session(
    options: &Ppk2Options,
    spike_filter: bool,
    path: &std::path::Path,
    running: &AtomicBool,
    status: &Mutex<Ppk2Status>,
    commands: &Receiver<Command>,
) -> Result<(), String> {
    let mut stream = Ppk2Stream::open(options).map_err(|e| e.to_string())?;
    if let Ok(mut shared) = status.lock() {
        shared.dut_powered = true;
        shared.port = Some(stream.path.clone());
        shared.problems = stream.problems.iter().map(ToString::to_string).collect();
    }
    let mut sink = Ppk2TraceSink::create(path, &stream.metadata, spike_filter).map_err(|e| e.to_string())?;
    let mut failure = None;
    while running.load(Ordering::Relaxed) {
        while let Ok(command) = commands.try_recv() {
            if let Err(error) = stream.send(&command) {
                failure = Some(error.to_string());
            } else if let (Command::DutPower(on), Ok(mut shared)) = (&command, status.lock()) {
                shared.dut_powered = *on;
            }
        }
        match stream.events.recv_timeout(Duration::from_millis(100)) {
            Ok(Ppk2Event::Samples(block)) => {
                if let Err(error) = sink.write(&block) {
                    failure = Some(error.to_string());
                    break;
                }
            }
            Ok(Ppk2Event::Lost(reason)) => {
                failure = Some(format!("the PPK2 went away ({reason}); the trace keeps what came before"));
                break;
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if let Ok(mut shared) = status.lock() {
            shared.stats = stream.stats();
        }
    }
    stream.stop();
    let stats = stream.stats();
    sink.finish(&stats).map_err(|e| e.to_string())?;
    failure.map_or(Ok(()), Err)
}
