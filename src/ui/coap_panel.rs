//! The CoAP section of the devices panel: discover a server's resources (`/.well-known/core`), open one as
//! the window's source (observed, or read every few seconds), and write to a resource (PUT or POST with a
//! Content-Format) to see the server's answer.
//!
//! Discovery and writes run on the I/O runtime and hand their one result over a watch channel, so the window
//! never waits on the network; a server that is not there, a bad URL or an error code (4.04) is shown as the
//! sentence [`CoapError`] gives, never a panic. Opening a resource goes through the same path as any other
//! source (`coap://HOST:PORT/PATH`); this section holds no connection of its own between exchanges.

use std::time::Duration;

use eframe::egui::{self, RichText, TextEdit};
use tokio::sync::watch;

use super::theme;
use crate::coap::discovery::{Resource, WELL_KNOWN_CORE, discover};
use crate::coap::message::content_format_number;
use crate::coap::{CoapClient, CoapError, CoapUrl, Method};

/// How often "Read" polls a resource that is not observable.
pub const READ_INTERVAL: Duration = Duration::from_secs(2);

/// The Content-Formats the write form offers, by the names [`content_format_number`] reads.
pub const CONTENT_FORMATS: [&str; 7] = ["text", "json", "cbor", "senml+json", "senml+cbor", "link", "octets"];

/// Where an exchange (a discovery or a write) stands.
#[derive(Debug, Clone, Default, PartialEq)]
enum Exchange<T> {
    /// Not started.
    #[default]
    Idle,
    /// Waiting for the server.
    Running,
    /// The server answered.
    Done(T),
    /// It failed, as a sentence.
    Failed(String),
}

/// A server's resource list.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovered {
    /// The server, as discovered (its path is the well-known one's, its query empty).
    pub server: CoapUrl,
    /// Its resources, in the server's order.
    pub resources: Vec<Resource>,
    /// Links that could not be read.
    pub problems: Vec<String>,
}

/// A write's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// `2.04 Changed`.
    pub code: String,
    /// The payload as text (or hex); empty when there was none.
    pub payload: String,
}

/// The write form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteForm {
    /// The resource path (`/config`).
    pub path: String,
    /// PUT or POST.
    pub method: Method,
    /// A name from [`CONTENT_FORMATS`] (or a number).
    pub content_format: String,
    /// Text, or hex for the binary Content-Formats (CBOR, SenML CBOR, octets).
    pub payload: String,
}

impl Default for WriteForm {
    fn default() -> Self {
        Self { path: String::new(), method: Method::Put, content_format: "text".into(), payload: String::new() }
    }
}

/// A write ready to send: where, how, and the bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteRequest {
    /// The resource.
    pub url: CoapUrl,
    /// PUT or POST.
    pub method: Method,
    /// The Content-Format number.
    pub content_format: u16,
    /// The payload bytes.
    pub payload: Vec<u8>,
}

impl WriteForm {
    /// Whether this form's Content-Format is binary, so its payload is typed as hex.
    pub fn hex_payload(&self) -> bool {
        matches!(content_format_number(self.content_format.trim()), Ok(42 | 60 | 112))
    }

    /// The request this form describes towards `server`, or why it cannot be sent (nothing is sent then).
    pub fn request(&self, server: &str) -> Result<WriteRequest, String> {
        let server = CoapUrl::parse(server.trim()).map_err(|e| e.to_string())?;
        let path = self.path.trim();
        if path.is_empty() || path == "/" {
            return Err("write to a resource: type its path, e.g. /config".into());
        }
        let content_format = content_format_number(self.content_format.trim())?;
        let payload = if self.hex_payload() {
            crate::inspect::input::parse_hex_text(&self.payload)
                .map_err(|reason| format!("the payload is not hex ({reason}); nothing was sent"))?
        } else {
            self.payload.clone().into_bytes()
        };
        Ok(WriteRequest { url: server.with_path(path), method: self.method, content_format, payload })
    }
}

/// The source that opens `resource` of `server`: observed when it says it is observable (or `observe` is
/// asked for), otherwise read every [`READ_INTERVAL`]. `None` for a link to something that is not CoAP.
pub fn resource_source(server: &CoapUrl, resource: &Resource, observe: bool) -> Option<String> {
    let mut url = if resource.path.contains("://") {
        CoapUrl::parse(&resource.path).ok()?
    } else {
        server.with_path(&resource.path)
    };
    if !observe {
        url.observe = false;
        url.poll = Some(READ_INTERVAL);
    }
    Some(url.to_string())
}

/// The CoAP section: the server, its resources, and the write form.
pub struct CoapPanel {
    /// The server to discover and write to (`coap://127.0.0.1`, the default port is 5683).
    pub server: String,
    /// The write form.
    pub write: WriteForm,
    discovery: Option<watch::Receiver<Exchange<Discovered>>>,
    answer: Option<watch::Receiver<Exchange<Answer>>>,
}

impl Default for CoapPanel {
    fn default() -> Self {
        Self { server: "coap://127.0.0.1".into(), write: WriteForm::default(), discovery: None, answer: None }
    }
}

/// Runs `work` on `runtime` and hands its result over a watch channel, waking the window when it is in.
fn spawn_exchange<T, F>(
    runtime: &tokio::runtime::Handle,
    repaint: egui::Context,
    work: F,
) -> watch::Receiver<Exchange<T>>
where
    T: Send + Sync + 'static,
    F: Future<Output = Result<T, CoapError>> + Send + 'static,
{
    let (tx, rx) = watch::channel(Exchange::Running);
    runtime.spawn(async move {
        let _ = tx.send(match work.await {
            Ok(value) => Exchange::Done(value),
            Err(error) => Exchange::Failed(error.to_string()),
        });
        repaint.request_repaint();
    });
    rx
}

impl CoapPanel {
    /// Reads the server's resource list on `runtime` (a discovery already running goes on).
    pub fn discover(&mut self, runtime: &tokio::runtime::Handle, repaint: egui::Context) {
        if self.discovering() {
            return;
        }
        let server = match CoapUrl::parse(self.server.trim()) {
            Ok(url) => url,
            Err(error) => {
                self.discovery = Some(watch::channel(Exchange::Failed(error.to_string())).1);
                return;
            }
        };
        self.discovery = Some(spawn_exchange(runtime, repaint, async move {
            let client = CoapClient::connect(&server).await?;
            let (resources, problems) = discover(&client, &server).await?;
            Ok(Discovered { server: server.with_path("/"), resources, problems })
        }));
    }

    /// Sends the write form's request on `runtime` (a write already waiting goes on).
    pub fn send(&mut self, runtime: &tokio::runtime::Handle, repaint: egui::Context) {
        if self.sending() {
            return;
        }
        let request = match self.write.request(&self.server) {
            Ok(request) => request,
            Err(reason) => {
                self.answer = Some(watch::channel(Exchange::Failed(reason)).1);
                return;
            }
        };
        self.answer = Some(spawn_exchange(runtime, repaint, async move {
            let client = CoapClient::connect(&request.url).await?;
            let response =
                client.request(request.method, &request.url, &request.payload, Some(request.content_format)).await?;
            if !response.is_success() {
                return Err(CoapError::Status { code: response.code, payload: response.payload });
            }
            Ok(Answer { code: response.code_text(), payload: response.payload_text() })
        }));
    }

    fn discovery_state(&self) -> Exchange<Discovered> {
        self.discovery.as_ref().map(|rx| rx.borrow().clone()).unwrap_or_default()
    }

    fn answer_state(&self) -> Exchange<Answer> {
        self.answer.as_ref().map(|rx| rx.borrow().clone()).unwrap_or_default()
    }

    /// Whether a discovery is waiting for the server.
    pub fn discovering(&self) -> bool {
        matches!(self.discovery_state(), Exchange::Running)
    }

    /// Whether a write is waiting for the server.
    pub fn sending(&self) -> bool {
        matches!(self.answer_state(), Exchange::Running)
    }

    /// The last discovery's resource list, once it is in.
    pub fn discovered(&self) -> Option<Discovered> {
        match self.discovery_state() {
            Exchange::Done(discovered) => Some(discovered),
            _ => None,
        }
    }

    /// Why the last discovery failed, if it did.
    pub fn discovery_error(&self) -> Option<String> {
        match self.discovery_state() {
            Exchange::Failed(reason) => Some(reason),
            _ => None,
        }
    }

    /// The last write's answer: the code and payload, or why it failed. `None` before one, and while waiting.
    pub fn answer(&self) -> Option<Result<Answer, String>> {
        match self.answer_state() {
            Exchange::Done(answer) => Some(Ok(answer)),
            Exchange::Failed(reason) => Some(Err(reason)),
            Exchange::Idle | Exchange::Running => None,
        }
    }

    /// The section; returns the source to open when the user picks a resource.
    pub fn ui(&mut self, ui: &mut egui::Ui, runtime: &tokio::runtime::Handle) -> Option<String> {
        ui.strong("CoAP");
        ui.horizontal(|ui| {
            let label = ui.label("Server");
            ui.add(TextEdit::singleline(&mut self.server).desired_width(170.0)).labelled_by(label.id);
            let discovering = self.discovering();
            if ui
                .add_enabled(!discovering, egui::Button::new("Discover"))
                .on_hover_text("Read the server's resource list (/.well-known/core)")
                .clicked()
            {
                self.discover(runtime, ui.ctx().clone());
            }
            if discovering {
                ui.spinner();
            }
        });
        let open = self.resources_ui(ui);
        self.write_ui(ui, runtime);
        open
    }

    fn resources_ui(&mut self, ui: &mut egui::Ui) -> Option<String> {
        let discovered = match self.discovery_state() {
            Exchange::Idle | Exchange::Running => return None,
            Exchange::Failed(reason) => {
                ui.colored_label(theme::ERROR, reason);
                return None;
            }
            Exchange::Done(discovered) => discovered,
        };
        if discovered.resources.is_empty() {
            ui.label(RichText::new("The server lists no resources").color(theme::MUTED));
        }
        let mut open = None;
        // The list itself is not a resource to plot.
        for resource in discovered.resources.iter().filter(|r| r.path != WELL_KNOWN_CORE) {
            ui.horizontal(|ui| {
                let (button, hover) = if resource.observable {
                    ("Observe", "Open it as the source; the server sends each change")
                } else {
                    ("Read", "Open it as the source, read every 2 s")
                };
                match resource_source(&discovered.server, resource, resource.observable) {
                    Some(source) => {
                        if ui.button(button).on_hover_text(hover).clicked() {
                            open = Some(source);
                        }
                    }
                    None => {
                        ui.add_enabled(false, egui::Button::new(button)).on_disabled_hover_text("Not a CoAP link");
                    }
                }
                // Truncated, so that a long link (aiocoap lists its own web page) does not widen the panel.
                ui.add(egui::Label::new(&resource.path).truncate());
                let description = resource.describe();
                if !description.is_empty() {
                    ui.add(egui::Label::new(RichText::new(description).color(theme::MUTED)).truncate());
                }
            });
        }
        for problem in &discovered.problems {
            ui.label(RichText::new(problem).color(theme::MUTED));
        }
        open
    }

    fn write_ui(&mut self, ui: &mut egui::Ui, runtime: &tokio::runtime::Handle) {
        ui.label(RichText::new("Write to a resource").color(theme::MUTED));
        ui.horizontal(|ui| {
            let label = ui.label("Path");
            ui.add(TextEdit::singleline(&mut self.write.path).hint_text("/config").desired_width(90.0))
                .labelled_by(label.id);
            ui.selectable_value(&mut self.write.method, Method::Put, "PUT");
            ui.selectable_value(&mut self.write.method, Method::Post, "POST");
        });
        ui.horizontal(|ui| {
            let label = ui.label("Content-Format");
            egui::ComboBox::from_id_salt("coap-content-format")
                .selected_text(self.write.content_format.as_str())
                .show_ui(ui, |ui| {
                    for name in CONTENT_FORMATS {
                        ui.selectable_value(&mut self.write.content_format, name.to_string(), name);
                    }
                })
                .response
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            let label = ui.label("Payload");
            let hint = if self.write.hex_payload() { "hex: a1 61 69 18 1e" } else { "interval=30" };
            ui.add(TextEdit::singleline(&mut self.write.payload).hint_text(hint).desired_width(150.0))
                .labelled_by(label.id);
        });
        ui.horizontal(|ui| {
            let sending = self.sending();
            if ui.add_enabled(!sending, egui::Button::new("Send request")).clicked() {
                self.send(runtime, ui.ctx().clone());
            }
            if sending {
                ui.spinner();
            }
        });
        match self.answer() {
            Some(Ok(answer)) => {
                ui.colored_label(theme::OK, answer.code);
                if !answer.payload.is_empty() {
                    ui.label(RichText::new(answer.payload).monospace());
                }
            }
            Some(Err(reason)) => {
                ui.colored_label(theme::ERROR, reason);
            }
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resource(path: &str, observable: bool) -> Resource {
        Resource {
            path: path.into(),
            resource_types: vec![],
            interfaces: vec![],
            content_formats: vec![],
            observable,
            size_bytes: None,
            title: None,
        }
    }

    #[test]
    fn a_resource_opens_observed_or_read_every_two_seconds() {
        let server = CoapUrl::parse("coap://127.0.0.1:5700/.well-known/core").unwrap().with_path("/");
        let temperature = resource("/temperature", true);
        assert_eq!(resource_source(&server, &temperature, true).unwrap(), "coap://127.0.0.1:5700/temperature");
        assert_eq!(
            resource_source(&server, &resource("/config", false), false).unwrap(),
            "coap://127.0.0.1:5700/config?observe=off&poll=2s"
        );
        let elsewhere = resource("coap://10.0.0.2/sensors/t", true);
        assert_eq!(resource_source(&server, &elsewhere, true).unwrap(), "coap://10.0.0.2/sensors/t");
        assert_eq!(resource_source(&server, &resource("http://example.com/x", false), false), None);
    }

    #[test]
    fn the_write_form_says_what_is_wrong_before_anything_is_sent() {
        let mut form = WriteForm { path: "/config".into(), payload: "interval=30".into(), ..WriteForm::default() };
        let request = form.request("coap://127.0.0.1:5700").unwrap();
        assert_eq!(request.url.to_string(), "coap://127.0.0.1:5700/config");
        assert_eq!((request.method, request.content_format), (Method::Put, 0));
        assert_eq!(request.payload, b"interval=30");

        form.content_format = "cbor".into();
        form.payload = "a1 61 69 18 1e".into();
        assert_eq!(form.request("coap://127.0.0.1").unwrap().payload, [0xa1, 0x61, 0x69, 0x18, 0x1e]);
        form.payload = "a1 6".into();
        assert!(form.request("coap://127.0.0.1").unwrap_err().contains("odd number of hex digits (3)"));
        form.payload = "zz".into();
        assert!(form.request("coap://127.0.0.1").unwrap_err().contains("not hex"));

        form.content_format = "yaml".into();
        assert!(form.request("coap://127.0.0.1").unwrap_err().contains("is not a Content-Format"));
        form.path = " ".into();
        assert!(form.request("coap://127.0.0.1").unwrap_err().contains("type its path"));
        assert!(form.request("http://127.0.0.1").unwrap_err().starts_with("bad CoAP URL"));
    }
}
