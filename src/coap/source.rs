//! A CoAP resource opened as a board: each representation the server sends becomes telemetry, so the Live
//! view, the recorder and `benchtop record` treat it like a text board whose channels are the resource (or
//! `resource/field` for JSON, CBOR, SenML and layouts).
//!
//! By default the resource is observed; with `?observe=off` it is read once, or every `?poll=` interval, and a
//! resource that turns out not to be observable is polled when `poll` is set. Re-registrations, lost
//! notifications, unreadable payloads and an unreachable server become log lines, not values. Every datagram
//! both ways is offered to the Inspect tab's capture list. Dropping the board deregisters the observation
//! (in the background); [`CoapBoard::stop`] does it and waits.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use firmware_protocol::{Capabilities, DeviceInfo, FirmwareVersion, LogLevel};
use tokio::sync::oneshot;

use super::client::{CoapClient, CoapStats};
use super::decode::{payload_decoding, read};
use super::message::Response;
use super::observe::{Observation, ObserveEvent};
use super::url::CoapUrl;
use super::{CoapError, message};
use crate::io::capture::FrameListener;
use crate::io::feed::Feed;
use crate::io::link::LinkStats;
use crate::io::session::{Telemetry, TelemetryStream};
use crate::mqtt::decode::{PayloadDecoding, Reading};

/// How long closing waits for the server to confirm the deregistration.
pub const DEREGISTER_PATIENCE: Duration = Duration::from_secs(3);

/// An open CoAP resource.
pub struct CoapBoard {
    info: DeviceInfo,
    stats: Arc<LinkStats>,
    client: CoapClient,
    /// Listening since before the first exchange, so that the registration shows in the capture list too.
    first_frames: std::sync::Mutex<Option<FrameListener>>,
    stop: Option<oneshot::Sender<oneshot::Sender<()>>>,
}

impl CoapBoard {
    /// Connects to the server in `url` and starts observing (or reading) its resource; telemetry goes on a
    /// channel of `capacity` messages (a full channel drops and counts). The first exchange happens here, so a
    /// server that does not answer, or answers with an error, fails the open. Must run inside the tokio
    /// runtime.
    pub async fn open(url: &CoapUrl, capacity: usize) -> Result<(CoapBoard, TelemetryStream), CoapError> {
        let decoding = payload_decoding(url).map_err(CoapError::Protocol)?;
        let client = CoapClient::connect(url).await?;
        // Listening before the first exchange, so that a bad datagram in answer to it is shown too, and the
        // registration is in the capture list.
        let problems = client.problems();
        let first_frames = std::sync::Mutex::new(Some(client.datagrams()));
        let (first, observation) = if url.observe {
            let observation = Observation::register(&client, url).await?;
            (None, Some(observation))
        } else {
            let response = client.get(url).await?;
            if !response.is_success() {
                return Err(CoapError::Status { code: response.code, payload: response.payload });
            }
            (Some(response), None)
        };
        let source = url.to_string();
        let info = DeviceInfo {
            protocol_version: 0,
            device_id: crate::io::board::fnv1a(source.as_bytes()),
            firmware_version: FirmwareVersion { major: 0, minor: 0, patch: 0 },
            hardware_revision: heapless::String::try_from("coap").unwrap_or_default(),
            capabilities: Capabilities::empty(),
            channels: heapless::Vec::new(),
        };
        let stats = Arc::new(LinkStats::default());
        let (feed, telemetry) = Feed::new(capacity, stats.clone());
        let (stop_tx, stop_rx) = oneshot::channel();
        let reader = Reader {
            client: client.clone(),
            url: url.clone(),
            resource: url.resource(),
            decoding,
            feed,
            unreadable_reported: HashSet::new(),
        };
        tokio::spawn(reader.run(first, observation, problems, stop_rx));
        Ok((CoapBoard { info, stats, client, first_frames, stop: Some(stop_tx) }, telemetry))
    }

    /// A description with no channels: channels are named by the resource as values arrive.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// Counters in the terms of a link: representations received as frames, payload bytes, dropped telemetry.
    pub fn stats(&self) -> &Arc<LinkStats> {
        &self.stats
    }

    /// The endpoint's CoAP counters (retransmissions, lost notifications, re-registrations …).
    pub fn coap_stats(&self) -> &Arc<CoapStats> {
        self.client.stats()
    }

    /// Copies of every datagram both ways (decode them with the inspector's `coap` format): the first call gets
    /// them from before the first exchange (the registration and its answer), later calls from now on.
    pub fn frames(&self) -> FrameListener {
        let first = self.first_frames.lock().ok().and_then(|mut first| first.take());
        first.unwrap_or_else(|| self.client.datagrams())
    }

    /// Stops reading and deregisters the observation, waiting for the server's answer (a few seconds at most).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let (done_tx, done_rx) = oneshot::channel();
            if stop.send(done_tx).is_ok() {
                let _ = tokio::time::timeout(DEREGISTER_PATIENCE + Duration::from_secs(1), done_rx).await;
            }
        }
    }
}

impl Drop for CoapBoard {
    fn drop(&mut self) {
        // Deregisters in the background.
        if let Some(stop) = self.stop.take() {
            let (done_tx, _) = oneshot::channel();
            let _ = stop.send(done_tx);
        }
    }
}

/// What woke the reader.
enum Step {
    /// The board was stopped (and who waits for the deregistration).
    Stop(Option<oneshot::Sender<()>>),
    /// An observation event, or `None` for a poll tick.
    Event(Option<ObserveEvent>),
    /// A datagram that was not CoAP (`None`: some were skipped).
    Problem(Option<String>),
}

/// The next observation event, or `None` when the poll interval ticks.
async fn next_event(
    observation: &mut Option<Observation>,
    poll: &mut Option<tokio::time::Interval>,
) -> Option<ObserveEvent> {
    match (observation, poll) {
        (_, Some(interval)) => {
            interval.tick().await;
            None
        }
        (Some(observation), None) => Some(observation.next().await),
        (None, None) => std::future::pending().await,
    }
}

struct Reader {
    client: CoapClient,
    url: CoapUrl,
    resource: String,
    decoding: PayloadDecoding,
    feed: Feed,
    unreadable_reported: HashSet<String>,
}

impl Reader {
    async fn run(
        mut self,
        first: Option<Response>,
        mut observation: Option<Observation>,
        mut problems: tokio::sync::broadcast::Receiver<String>,
        mut stop: oneshot::Receiver<oneshot::Sender<()>>,
    ) {
        if let Some(response) = first
            && !self.representation(&response, Instant::now(), 0)
        {
            return;
        }
        if let Some(observed) = &observation
            && !observed.observable()
        {
            let hint = match self.url.poll {
                Some(poll) => format!("reading it every {}", humantime::format_duration(poll)),
                None => "add ?poll=2s to the URL to read it again and again".to_string(),
            };
            if !self.feed.log(LogLevel::Warn, &format!("{} is not observable; {hint}", self.resource)) {
                return;
            }
        }
        let polling = self.url.poll.filter(|_| observation.as_ref().is_none_or(|o| !o.observable()));
        let mut poll = polling.map(|every| {
            let mut interval = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval
        });
        loop {
            let step = tokio::select! {
                done = &mut stop => Step::Stop(done.ok()),
                event = next_event(&mut observation, &mut poll) => Step::Event(event),
                problem = problems.recv() => Step::Problem(problem.ok()),
            };
            let alive = match step {
                Step::Stop(done) => {
                    if let Some(observation) = observation.take() {
                        let _ = observation.cancel(DEREGISTER_PATIENCE).await;
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                    return;
                }
                Step::Event(Some(ObserveEvent::Notification { response, lost_before, at })) => {
                    self.representation(&response, at, lost_before)
                }
                Step::Event(Some(ObserveEvent::Reregistered(text))) => self.feed.log(LogLevel::Info, &text),
                Step::Event(Some(ObserveEvent::Problem(text))) => self.feed.log(LogLevel::Warn, &text),
                Step::Problem(Some(problem)) => self.feed.log(LogLevel::Warn, &problem),
                Step::Problem(None) => true,
                Step::Event(None) => match self.client.get(&self.url).await {
                    Ok(response) => self.representation(&response, Instant::now(), 0),
                    Err(error) => self.feed.log(LogLevel::Warn, &error.to_string()),
                },
            };
            if !alive {
                if let Some(observation) = observation.take() {
                    let _ = observation.cancel(DEREGISTER_PATIENCE).await;
                }
                return;
            }
        }
    }

    /// Turns a representation into telemetry; false once nobody listens.
    fn representation(&mut self, response: &Response, received_at: Instant, lost_before: u32) -> bool {
        self.feed.stats().frames_rx.fetch_add(1, Ordering::Relaxed);
        self.feed.stats().bytes_rx.fetch_add(response.payload.len() as u64, Ordering::Relaxed);
        if lost_before > 0 {
            let what = if lost_before == 1 { "notification" } else { "notifications" };
            let text = format!("{lost_before} {what} of {} lost (the Observe numbers skip)", self.resource);
            if !self.feed.log(LogLevel::Warn, &text) {
                return false;
            }
        }
        if !response.is_success() {
            return self
                .feed
                .log(LogLevel::Warn, &format!("{} answered {}", self.resource, message::code_text(response.code)));
        }
        match read(&self.decoding, &self.resource, response.content_format, &response.payload) {
            Reading::Values(values) => {
                let line = format!("{} {}", self.resource, response.payload_text());
                self.feed.send(Telemetry::Text { received_at, line, values })
            }
            Reading::Status { .. } => true,
            Reading::Unreadable(reason) => {
                if self.unreadable_reported.insert(reason.clone()) && self.unreadable_reported.len() < 64 {
                    tracing::warn!("{reason}");
                    self.feed.log(LogLevel::Warn, &reason)
                } else {
                    true
                }
            }
        }
    }
}
