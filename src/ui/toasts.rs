//! Toasts: short messages in the top-right corner that say what happened and what to do, gone after a few
//! seconds or on a click. Bounded: the oldest goes when too many pile up.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use eframe::egui::{self, RichText};

use super::theme;

/// How long a toast stays.
const SHOWN_FOR: Duration = Duration::from_secs(8);
/// Most toasts at once.
const MOST: usize = 5;

/// How serious a toast is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Something to know.
    Info,
    /// Something failed.
    Error,
}

/// The toasts on screen.
#[derive(Debug, Default)]
pub struct Toasts {
    items: VecDeque<(Level, String, Instant)>,
}

impl Toasts {
    /// Shows a message.
    pub fn push(&mut self, level: Level, text: impl Into<String>) {
        if self.items.len() == MOST {
            self.items.pop_front();
        }
        self.items.push_back((level, text.into(), Instant::now() + SHOWN_FOR));
    }

    /// The messages on screen, oldest first.
    pub fn texts(&self) -> impl Iterator<Item = &str> {
        self.items.iter().map(|(_, text, _)| text.as_str())
    }

    /// Draws the toasts and drops expired or clicked ones.
    pub fn ui(&mut self, ctx: &egui::Context) {
        let now = Instant::now();
        self.items.retain(|(_, _, until)| *until > now);
        if self.items.is_empty() {
            return;
        }
        let mut dismissed = None;
        egui::Area::new(egui::Id::unique("benchtop-toasts"))
            .anchor(egui::Align2::RIGHT_TOP, [-12.0, 40.0])
            .order(egui::Order::Foreground)
            .show(ctx, |ui| {
                for (i, (level, text, _)) in self.items.iter().enumerate() {
                    let color = if *level == Level::Error { theme::ERROR } else { theme::OK };
                    let frame = egui::Frame::popup(ui.style()).stroke(egui::Stroke::new(1.0, color));
                    let response = frame
                        .show(ui, |ui| {
                            ui.set_max_width(360.0);
                            ui.label(RichText::new(text).color(ui.visuals().strong_text_color()));
                        })
                        .response
                        .interact(egui::Sense::click());
                    if response.clicked() {
                        dismissed = Some(i);
                    }
                }
            });
        if let Some(i) = dismissed {
            self.items.remove(i);
        }
        ctx.request_repaint_after(Duration::from_millis(250));
    }
}
