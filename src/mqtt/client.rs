//! One connection to a broker that stays up: rumqttc's event loop (MQTT 3.1.1 or 5) on a tokio task, with
//! reconnects after an exponential backoff, the subscriptions sent again on every connection, and a bounded
//! outbox.
//!
//! The first connection is awaited by [`MqttClient::connect`], so a refused connection, a wrong password or a
//! TLS failure is an error the caller can show; after that the task reconnects on its own and reports each
//! loss and return as an [`MqttEvent`]. Publishing never waits: [`MqttClient::publish`] puts the message in
//! the outbox (rumqttc's bounded request channel) or, when it is full — the broker is away or slower than the
//! messages — drops it and counts the drop in [`MqttStats`]. Received messages go out on a bounded channel;
//! those the consumer does not take in time are dropped and counted too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use tokio::sync::{mpsc, oneshot};

use super::MqttError;
use super::url::{MqttUrl, MqttVersion, Qos};

/// A message the broker is to publish for us when we vanish without saying goodbye.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastWill {
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS.
    pub qos: Qos,
    /// Whether the broker keeps it as the topic's retained message.
    pub retain: bool,
}

/// Delays between reconnection attempts: `initial`, doubled after each failure up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// First delay.
    pub initial: Duration,
    /// Longest delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self { initial: Duration::from_millis(250), max: Duration::from_secs(10) }
    }
}

impl Backoff {
    /// The delay after `failures` failed attempts in a row (1 for the first).
    pub fn delay(&self, failures: u32) -> Duration {
        let factor = 1u32.checked_shl(failures.saturating_sub(1).min(16)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }
}

/// How to connect, beyond the URL.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Broker, credentials, TLS, version, session, packet size.
    pub url: MqttUrl,
    /// Client id when the URL gives none.
    pub default_client_id: String,
    /// Last will.
    pub last_will: Option<LastWill>,
    /// Subscriptions, sent on every connection.
    pub subscriptions: Vec<(String, Qos)>,
    /// Messages the outbox holds before publishing drops them.
    pub outbox_capacity: usize,
    /// Received messages queued for the consumer before they are dropped.
    pub inbox_capacity: usize,
    /// Reconnection delays.
    pub backoff: Backoff,
    /// Keep-alive interval.
    pub keep_alive: Duration,
    /// Longest wait for the first connection.
    pub connect_timeout: Duration,
}

impl ClientOptions {
    /// Options for `url` with defaults: outbox and inbox of 1024, keep-alive 15 s, 10 s to connect.
    pub fn new(url: MqttUrl, default_client_id: impl Into<String>) -> Self {
        Self {
            url,
            default_client_id: default_client_id.into(),
            last_will: None,
            subscriptions: Vec::new(),
            outbox_capacity: 1024,
            inbox_capacity: 1024,
            backoff: Backoff::default(),
            keep_alive: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(10),
        }
    }
}

/// A message received from the broker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// When it reached the host.
    pub received_at: std::time::Instant,
    /// Topic.
    pub topic: String,
    /// Payload.
    pub payload: Vec<u8>,
    /// QoS it was delivered with.
    pub qos: Qos,
    /// Whether it is a retained message (sent on subscribing).
    pub retain: bool,
    /// The PUBLISH packet, encoded again from the decoded packet: rumqttc does not hand over the bytes as
    /// received. For 3.1.1 the bytes are identical; for MQTT 5 the properties may be in another order.
    pub packet: Vec<u8>,
}

/// What the connection task reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MqttEvent {
    /// Connected (again); the subscriptions have been sent.
    Connected {
        /// Whether the broker kept our session from before (`clean=false`).
        session_present: bool,
    },
    /// The connection was lost; the task tries again after `retry_in`.
    Disconnected {
        /// What happened, in a sentence.
        reason: String,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// A message arrived.
    Message(Message),
}

/// Counters of a connection, shared with whoever shows them.
#[derive(Debug, Default)]
pub struct MqttStats {
    /// Whether the client is connected right now.
    pub connected: AtomicBool,
    /// Successful connections (the first one included).
    pub connections: AtomicU64,
    /// PUBLISH packets written to the broker.
    pub published: AtomicU64,
    /// Messages dropped because the outbox was full.
    pub outbox_dropped: AtomicU64,
    /// Messages received.
    pub received: AtomicU64,
    /// Received messages dropped because the consumer was behind.
    pub inbox_dropped: AtomicU64,
}

/// A snapshot of [`MqttStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MqttStatsSnapshot {
    /// Connected right now.
    pub connected: bool,
    /// Successful connections.
    pub connections: u64,
    /// PUBLISH packets written.
    pub published: u64,
    /// Dropped: outbox full.
    pub outbox_dropped: u64,
    /// Received.
    pub received: u64,
    /// Dropped: consumer behind.
    pub inbox_dropped: u64,
}

impl MqttStats {
    /// The counters now.
    pub fn snapshot(&self) -> MqttStatsSnapshot {
        MqttStatsSnapshot {
            connected: self.connected.load(Ordering::Relaxed),
            connections: self.connections.load(Ordering::Relaxed),
            published: self.published.load(Ordering::Relaxed),
            outbox_dropped: self.outbox_dropped.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            inbox_dropped: self.inbox_dropped.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone)]
enum Handle {
    V4(rumqttc::AsyncClient),
    V5(rumqttc::v5::AsyncClient),
}

/// A connection to a broker. Dropping it ends the connection task without a DISCONNECT (the broker then
/// publishes the last will); [`MqttClient::disconnect`] ends it cleanly.
pub struct MqttClient {
    handle: Handle,
    stats: Arc<MqttStats>,
    stopping: Arc<AtomicBool>,
    task: Option<tokio::task::JoinHandle<()>>,
    address: String,
}

impl Drop for MqttClient {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl MqttClient {
    /// Connects, waiting for the broker's answer to the first CONNECT; then keeps the connection up on a
    /// task. Must run inside the tokio runtime.
    pub async fn connect(options: ClientOptions) -> Result<(MqttClient, mpsc::Receiver<MqttEvent>), MqttError> {
        let address = options.url.address();
        let (handle, event_loop) = build(&options)?;
        let stats = Arc::new(MqttStats::default());
        let stopping = Arc::new(AtomicBool::new(false));
        let (events_tx, events_rx) = mpsc::channel(options.inbox_capacity.max(1));
        let (first_tx, first_rx) = oneshot::channel();
        let driver = Driver {
            event_loop,
            handle: handle.clone(),
            subscriptions: options.subscriptions.clone(),
            stats: stats.clone(),
            stopping: stopping.clone(),
            events: events_tx,
            backoff: options.backoff,
            address: address.clone(),
        };
        let task = tokio::spawn(driver.run(first_tx));
        let client = MqttClient { handle, stats, stopping, task: Some(task), address: address.clone() };
        match tokio::time::timeout(options.connect_timeout, first_rx).await {
            Ok(Ok(Ok(()))) => Ok((client, events_rx)),
            Ok(Ok(Err(error))) => Err(error),
            Ok(Err(_)) => Err(MqttError::Protocol { address, reason: "the connection task ended".into() }),
            Err(_) => Err(MqttError::Timeout { address, secs: options.connect_timeout.as_secs() }),
        }
    }

    /// Puts a message in the outbox without waiting; false (and a counted drop) when the outbox is full.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, qos: Qos, retain: bool) -> bool {
        self.publisher().publish(topic, payload, qos, retain)
    }

    /// A cheap handle that publishes through this connection's outbox (for another task).
    pub fn publisher(&self) -> Publisher {
        Publisher { handle: self.handle.clone(), stats: self.stats.clone() }
    }

    /// The connection's counters.
    pub fn stats(&self) -> &Arc<MqttStats> {
        &self.stats
    }

    /// The broker's `host:port`.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends DISCONNECT after what is already in the outbox, and waits up to `timeout` for it to be written;
    /// the broker then discards the last will.
    pub async fn disconnect(mut self, timeout: Duration) {
        self.stopping.store(true, Ordering::Relaxed);
        let requested = match &self.handle {
            Handle::V4(client) => client.try_disconnect().is_ok(),
            Handle::V5(client) => client.try_disconnect().is_ok(),
        };
        if let Some(mut task) = self.task.take() {
            if requested && tokio::time::timeout(timeout, &mut task).await.is_ok() {
                return;
            }
            task.abort();
        }
    }
}

/// Publishes through a connection's outbox; cloned freely, it ends nothing when dropped.
#[derive(Clone)]
pub struct Publisher {
    handle: Handle,
    stats: Arc<MqttStats>,
}

impl Publisher {
    /// Puts a message in the outbox without waiting; false (and a counted drop) when the outbox is full.
    pub fn publish(&self, topic: &str, payload: Vec<u8>, qos: Qos, retain: bool) -> bool {
        let sent = match &self.handle {
            Handle::V4(client) => client.try_publish(topic, qos_v4(qos), retain, payload).is_ok(),
            Handle::V5(client) => client.try_publish(topic, qos_v5(qos), retain, payload).is_ok(),
        };
        if !sent {
            self.stats.outbox_dropped.fetch_add(1, Ordering::Relaxed);
        }
        sent
    }
}

fn qos_v4(qos: Qos) -> rumqttc::QoS {
    match qos {
        Qos::AtMostOnce => rumqttc::QoS::AtMostOnce,
        Qos::AtLeastOnce => rumqttc::QoS::AtLeastOnce,
        Qos::ExactlyOnce => rumqttc::QoS::ExactlyOnce,
    }
}

fn qos_v5(qos: Qos) -> rumqttc::v5::mqttbytes::QoS {
    use rumqttc::v5::mqttbytes::QoS;
    match qos {
        Qos::AtMostOnce => QoS::AtMostOnce,
        Qos::AtLeastOnce => QoS::AtLeastOnce,
        Qos::ExactlyOnce => QoS::ExactlyOnce,
    }
}

fn qos_from_level(level: u8) -> Qos {
    Qos::from_level(level).unwrap_or_default()
}

enum EventLoop {
    V4(Box<rumqttc::EventLoop>),
    V5(Box<rumqttc::v5::EventLoop>),
}

/// The events of either protocol version that the driver acts on.
enum Polled {
    ConnAck { session_present: bool },
    Publish(Message),
    SentPublish,
    SentDisconnect,
    Other,
    Failed(MqttError),
}

fn build(options: &ClientOptions) -> Result<(Handle, EventLoop), MqttError> {
    let url = &options.url;
    let client_id = url.client_id.clone().unwrap_or_else(|| options.default_client_id.clone());
    let transport = if url.tls {
        rumqttc::Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(super::tls::client_config(url)?))
    } else {
        rumqttc::Transport::tcp()
    };
    let capacity = options.outbox_capacity.max(1);
    let connect_timeout_secs = options.connect_timeout.as_secs().max(1);
    match url.version {
        MqttVersion::V3_1_1 => {
            let mut mqtt = rumqttc::MqttOptions::new(client_id, url.host.clone(), url.port());
            mqtt.set_keep_alive(options.keep_alive)
                .set_clean_session(url.clean_session)
                .set_max_packet_size(url.max_packet_bytes, url.max_packet_bytes)
                .set_transport(transport);
            if let Some(user) = &url.user {
                mqtt.set_credentials(
                    user.clone(),
                    url.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default(),
                );
            }
            if let Some(will) = &options.last_will {
                mqtt.set_last_will(rumqttc::LastWill::new(
                    &will.topic,
                    will.payload.clone(),
                    qos_v4(will.qos),
                    will.retain,
                ));
            }
            let (client, mut event_loop) = rumqttc::AsyncClient::new(mqtt, capacity);
            event_loop.network_options.set_connection_timeout(connect_timeout_secs);
            Ok((Handle::V4(client), EventLoop::V4(Box::new(event_loop))))
        }
        MqttVersion::V5 => {
            let mut mqtt = rumqttc::v5::MqttOptions::new(client_id, url.host.clone(), url.port());
            let max = u32::try_from(url.max_packet_bytes).unwrap_or(u32::MAX);
            mqtt.set_keep_alive(options.keep_alive)
                .set_clean_start(url.clean_session)
                .set_max_packet_size(Some(max))
                .set_connection_timeout(connect_timeout_secs)
                .set_transport(transport);
            if !url.clean_session {
                // MQTT 5 ends a session with the connection unless told to keep it.
                mqtt.set_session_expiry_interval(Some(u32::MAX));
            }
            if let Some(user) = &url.user {
                mqtt.set_credentials(
                    user.clone(),
                    url.password.as_ref().map(|p| p.expose().to_string()).unwrap_or_default(),
                );
            }
            if let Some(will) = &options.last_will {
                mqtt.set_last_will(rumqttc::v5::mqttbytes::v5::LastWill::new(
                    &will.topic,
                    will.payload.clone(),
                    qos_v5(will.qos),
                    will.retain,
                    None,
                ));
            }
            let (client, event_loop) = rumqttc::v5::AsyncClient::new(mqtt, capacity);
            Ok((Handle::V5(client), EventLoop::V5(Box::new(event_loop))))
        }
    }
}

impl EventLoop {
    async fn poll(&mut self, address: &str) -> Polled {
        match self {
            EventLoop::V4(event_loop) => {
                use rumqttc::{Event, Outgoing, Packet};
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        Polled::ConnAck { session_present: ack.session_present }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let mut packet = BytesMut::new();
                        let _ = publish.write(&mut packet);
                        Polled::Publish(Message {
                            received_at: std::time::Instant::now(),
                            topic: publish.topic.clone(),
                            payload: publish.payload.to_vec(),
                            qos: qos_from_level(publish.qos as u8),
                            retain: publish.retain,
                            packet: packet.to_vec(),
                        })
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => Polled::SentPublish,
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => Polled::SentDisconnect,
                    Ok(_) => Polled::Other,
                    Err(error) => Polled::Failed(classify_v4(error, address)),
                }
            }
            EventLoop::V5(event_loop) => {
                use rumqttc::Outgoing;
                use rumqttc::v5::Event;
                use rumqttc::v5::mqttbytes::v5::Packet;
                match event_loop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(ack))) => {
                        Polled::ConnAck { session_present: ack.session_present }
                    }
                    Ok(Event::Incoming(Packet::Publish(publish))) => {
                        let mut packet = BytesMut::new();
                        let _ = publish.write(&mut packet);
                        Polled::Publish(Message {
                            received_at: std::time::Instant::now(),
                            topic: String::from_utf8_lossy(&publish.topic).into_owned(),
                            payload: publish.payload.to_vec(),
                            qos: qos_from_level(publish.qos as u8),
                            retain: publish.retain,
                            packet: packet.to_vec(),
                        })
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(_))) => Polled::SentPublish,
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => Polled::SentDisconnect,
                    Ok(_) => Polled::Other,
                    Err(error) => Polled::Failed(classify_v5(error, address)),
                }
            }
        }
    }
}

struct Driver {
    event_loop: EventLoop,
    handle: Handle,
    subscriptions: Vec<(String, Qos)>,
    stats: Arc<MqttStats>,
    stopping: Arc<AtomicBool>,
    events: mpsc::Sender<MqttEvent>,
    backoff: Backoff,
    address: String,
}

impl Driver {
    async fn run(mut self, first: oneshot::Sender<Result<(), MqttError>>) {
        let mut first = Some(first);
        let mut failures = 0u32;
        loop {
            match self.event_loop.poll(&self.address).await {
                Polled::ConnAck { session_present } => {
                    failures = 0;
                    self.stats.connected.store(true, Ordering::Relaxed);
                    self.stats.connections.fetch_add(1, Ordering::Relaxed);
                    if !session_present {
                        self.subscribe();
                    }
                    if let Some(first) = first.take() {
                        let _ = first.send(Ok(()));
                    }
                    tracing::info!("connected to the MQTT broker at {}", self.address);
                    let _ = self.events.send(MqttEvent::Connected { session_present }).await;
                }
                Polled::Publish(message) => {
                    self.stats.received.fetch_add(1, Ordering::Relaxed);
                    if let Err(mpsc::error::TrySendError::Full(_)) = self.events.try_send(MqttEvent::Message(message)) {
                        self.stats.inbox_dropped.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Polled::SentPublish => {
                    self.stats.published.fetch_add(1, Ordering::Relaxed);
                }
                Polled::SentDisconnect => {
                    self.stats.connected.store(false, Ordering::Relaxed);
                    return;
                }
                Polled::Other => {}
                Polled::Failed(error) => {
                    self.stats.connected.store(false, Ordering::Relaxed);
                    if let Some(first) = first.take() {
                        let _ = first.send(Err(error));
                        return;
                    }
                    if self.stopping.load(Ordering::Relaxed) {
                        return;
                    }
                    failures += 1;
                    let retry_in = self.backoff.delay(failures);
                    tracing::warn!("{error}; trying again in {} ms", retry_in.as_millis());
                    let _ = self.events.try_send(MqttEvent::Disconnected { reason: error.to_string(), retry_in });
                    tokio::time::sleep(retry_in).await;
                }
            }
        }
    }

    fn subscribe(&self) {
        for (filter, qos) in &self.subscriptions {
            let sent = match &self.handle {
                Handle::V4(client) => client.try_subscribe(filter.clone(), qos_v4(*qos)).is_ok(),
                Handle::V5(client) => client.try_subscribe(filter.clone(), qos_v5(*qos)).is_ok(),
            };
            if !sent {
                tracing::warn!("could not subscribe to {filter}: the outbox is full");
            }
        }
    }
}

fn classify_io(error: &std::io::Error, address: &str) -> MqttError {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => MqttError::Refused { address: address.to_string() },
        _ => MqttError::Unreachable { address: address.to_string(), reason: error.to_string() },
    }
}

fn classify_v4(error: rumqttc::ConnectionError, address: &str) -> MqttError {
    use rumqttc::{ConnectReturnCode, ConnectionError};
    let address_owned = address.to_string();
    match error {
        ConnectionError::Io(e) => classify_io(&e, address),
        ConnectionError::Tls(e) => MqttError::Tls { address: address_owned, reason: tls_reason(&e) },
        ConnectionError::NetworkTimeout | ConnectionError::FlushTimeout => {
            MqttError::Unreachable { address: address_owned, reason: "the network timed out".into() }
        }
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => MqttError::NotAuthorized { address: address_owned },
        ConnectionError::ConnectionRefused(code) => {
            MqttError::Rejected { address: address_owned, code: format!("{code:?}") }
        }
        other => MqttError::Protocol { address: address_owned, reason: other.to_string() },
    }
}

fn classify_v5(error: rumqttc::v5::ConnectionError, address: &str) -> MqttError {
    use rumqttc::v5::ConnectionError;
    use rumqttc::v5::mqttbytes::v5::ConnectReturnCode;
    let address_owned = address.to_string();
    match error {
        ConnectionError::Io(e) => classify_io(&e, address),
        ConnectionError::Tls(e) => MqttError::Tls { address: address_owned, reason: tls_reason(&e) },
        ConnectionError::Timeout(_) => {
            MqttError::Unreachable { address: address_owned, reason: "the network timed out".into() }
        }
        ConnectionError::ConnectionRefused(
            ConnectReturnCode::BadUserNamePassword | ConnectReturnCode::NotAuthorized,
        ) => MqttError::NotAuthorized { address: address_owned },
        ConnectionError::ConnectionRefused(code) => {
            MqttError::Rejected { address: address_owned, code: format!("{code:?}") }
        }
        other => MqttError::Protocol { address: address_owned, reason: other.to_string() },
    }
}

/// The innermost reason of a TLS failure (rustls's own words, e.g. "invalid peer certificate: UnknownIssuer").
fn tls_reason(error: &rumqttc::TlsError) -> String {
    match error {
        rumqttc::TlsError::Io(io) => match io.get_ref() {
            Some(inner) => inner.to_string(),
            None => io.to_string(),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_its_ceiling() {
        let backoff = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(1) };
        let delays: Vec<_> = (1..=6).map(|n| backoff.delay(n).as_millis()).collect();
        assert_eq!(delays, [100, 200, 400, 800, 1000, 1000]);
        assert_eq!(backoff.delay(1000), Duration::from_secs(1));
    }
}
