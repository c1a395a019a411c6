//! The console: a device's log or text lines with receive times, as text or hex, filtered by a search; and
//! for text boards a line to send (text with a chosen line ending, or hex bytes) with a command history.

use std::collections::VecDeque;

use eframe::egui::{self, RichText};

use super::plot::format_time;
use super::theme;

/// Commands remembered.
const HISTORY_KEPT: usize = 100;

/// Line endings offered when sending text.
pub const LINE_ENDINGS: [(&str, &str); 4] = [("\n", "LF"), ("\r\n", "CR LF"), ("\r", "CR"), ("", "none")];

/// The console's inputs, kept between frames.
#[derive(Debug, Clone, Default)]
pub struct ConsoleState {
    /// What is being typed.
    pub input: String,
    /// Send the input as hex bytes rather than text.
    pub send_hex: bool,
    /// Show lines as hex bytes.
    pub show_hex: bool,
    /// Only lines containing this (case-insensitive).
    pub search: String,
    /// Index into [`LINE_ENDINGS`].
    pub line_ending: usize,
    /// Sent commands, newest last.
    pub history: VecDeque<String>,
    /// Position while recalling history with the arrow keys.
    recall: Option<usize>,
}

/// Why typed hex could not be sent.
#[derive(Debug, PartialEq, Eq)]
pub struct HexError(pub String);

/// Parses `01 02 ff`, `0102ff` or `0x01,0x02`: pairs of hex digits, separators ignored.
pub fn parse_hex(text: &str) -> Result<Vec<u8>, HexError> {
    crate::inspect::input::parse_hex_text(text).map_err(HexError)
}

impl ConsoleState {
    /// The bytes the input stands for, and remembers it; an error says what to fix.
    pub fn take_input(&mut self) -> Result<Vec<u8>, HexError> {
        let bytes = if self.send_hex {
            parse_hex(&self.input)?
        } else {
            let ending = LINE_ENDINGS.get(self.line_ending).map_or("\n", |(e, _)| *e);
            format!("{}{ending}", self.input).into_bytes()
        };
        if self.history.back() != Some(&self.input) {
            if self.history.len() == HISTORY_KEPT {
                self.history.pop_front();
            }
            self.history.push_back(std::mem::take(&mut self.input));
        } else {
            self.input.clear();
        }
        self.recall = None;
        Ok(bytes)
    }

    /// Steps through the history: `back` for older.
    pub fn recall(&mut self, back: bool) {
        if self.history.is_empty() {
            return;
        }
        let last = self.history.len() - 1;
        let next = match (self.recall, back) {
            (None, true) => Some(last),
            (None, false) => None,
            (Some(i), true) => Some(i.saturating_sub(1)),
            (Some(i), false) if i < last => Some(i + 1),
            (Some(_), false) => None,
        };
        self.recall = next;
        self.input = next.and_then(|i| self.history.get(i).cloned()).unwrap_or_default();
    }
}

/// What the user asked of the console.
#[derive(Debug, PartialEq, Eq)]
pub enum ConsoleAction {
    /// Send these bytes (or show why the input is not sendable).
    Send(Result<Vec<u8>, HexError>),
    /// Open this line in the inspector: `(label, payload)`.
    Inspect(String, Vec<u8>),
}

/// The payload a console line carries: the bytes a hex line spells out (after an optional `label:`), else the
/// line's own bytes.
pub fn line_payload(text: &str) -> Vec<u8> {
    let body = text.rsplit_once(':').map_or(text, |(_, rest)| rest).trim();
    match parse_hex(body) {
        Ok(bytes) if body.len() >= 2 => bytes,
        _ => text.as_bytes().to_vec(),
    }
}

/// Draws the console for `lines`; returns bytes to send (only offered when `can_send`) or a line to inspect.
pub fn console_ui(
    ui: &mut egui::Ui,
    state: &mut ConsoleState,
    lines: &VecDeque<(f64, String)>,
    can_send: bool,
) -> Option<ConsoleAction> {
    let mut sent = None;
    ui.horizontal(|ui| {
        ui.label(RichText::new("Console").strong());
        ui.checkbox(&mut state.show_hex, "Hex");
        ui.add(egui::TextEdit::singleline(&mut state.search).hint_text("search").desired_width(140.0))
            .labelled_by(ui.label("Find").id);
        if can_send {
            ui.separator();
            let input = ui
                .add(egui::TextEdit::singleline(&mut state.input).hint_text("command").desired_width(220.0))
                .labelled_by(ui.label("Send").id);
            if input.has_focus() {
                if ui.input(|i| i.key_pressed(egui::Key::ArrowUp)) {
                    state.recall(true);
                } else if ui.input(|i| i.key_pressed(egui::Key::ArrowDown)) {
                    state.recall(false);
                }
            }
            ui.checkbox(&mut state.send_hex, "as hex");
            if !state.send_hex {
                egui::ComboBox::from_label("Ending")
                    .selected_text(LINE_ENDINGS[state.line_ending.min(LINE_ENDINGS.len() - 1)].1)
                    .show_ui(ui, |ui| {
                        for (i, (_, name)) in LINE_ENDINGS.iter().enumerate() {
                            ui.selectable_value(&mut state.line_ending, i, *name);
                        }
                    });
            }
            let entered = input.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
            if (ui.button("Send").clicked() || entered) && !(state.input.is_empty() && state.send_hex) {
                sent = Some(ConsoleAction::Send(state.take_input()));
            }
        }
    });
    let needle = state.search.to_lowercase();
    egui::ScrollArea::vertical().stick_to_bottom(true).auto_shrink(false).show(ui, |ui| {
        for (t_s, text) in lines.iter().filter(|(_, text)| needle.is_empty() || text.to_lowercase().contains(&needle)) {
            let body = if state.show_hex {
                text.bytes().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
            } else {
                text.clone()
            };
            ui.horizontal(|ui| {
                ui.label(RichText::new(format!("{:>10}", format_time(*t_s))).monospace().color(theme::MUTED));
                let line = ui.add(egui::Label::new(RichText::new(body).monospace()).sense(egui::Sense::click()));
                if line.on_hover_text("Click to open this line in the inspector").clicked() {
                    sent = Some(ConsoleAction::Inspect(format!("console {}", format_time(*t_s)), line_payload(text)));
                }
            });
        }
    });
    sent
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_input_is_forgiving_about_separators_and_strict_about_digits() {
        assert_eq!(parse_hex("01 02 ff"), Ok(vec![1, 2, 255]));
        assert_eq!(parse_hex("0x01,0x02"), Ok(vec![1, 2]));
        assert_eq!(parse_hex("DEADbeef"), Ok(vec![0xde, 0xad, 0xbe, 0xef]));
        assert!(parse_hex("0g").is_err());
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("  ").is_err());
    }

    #[test]
    fn a_hex_line_gives_its_bytes_and_any_other_line_its_text() {
        assert_eq!(line_payload("rx: 01 67 01 10"), vec![0x01, 0x67, 0x01, 0x10]);
        assert_eq!(line_payload("0167"), vec![0x01, 0x67]);
        assert_eq!(line_payload("temp:22.5"), b"temp:22.5".to_vec());
        assert_eq!(line_payload("hello"), b"hello".to_vec());
    }

    #[test]
    fn sending_adds_the_ending_and_remembers_the_command() {
        let mut console = ConsoleState { line_ending: 1, ..Default::default() };
        console.input = "AT+RATE=10".into();
        assert_eq!(console.take_input(), Ok(b"AT+RATE=10\r\n".to_vec()));
        console.input = "AT".into();
        console.take_input().unwrap();
        console.recall(true);
        assert_eq!(console.input, "AT");
        console.recall(true);
        assert_eq!(console.input, "AT+RATE=10");
        console.recall(false);
        assert_eq!(console.input, "AT");
        console.recall(false);
        assert_eq!(console.input, "");
        // A bad hex input stays in the field to be fixed.
        console.send_hex = true;
        console.input = "0z".into();
        assert!(console.take_input().is_err());
        assert_eq!(console.input, "0z");
    }
}
