//! A device session: a link, postcard-rpc's `HostClient` on the Benchtop wire, the handshake, requests with
//! timeouts and retries, and telemetry on bounded channels.
//!
//! Every request is safe to repeat (staging replaces a group, a commit names the digest it commits and
//! answers again if already done), so a request whose answer is lost is simply sent again. Telemetry that
//! the consumer does not take in time is dropped and counted, never queued without bound.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use firmware_protocol::postcard_rpc::{Endpoint, Topic};
use firmware_protocol::*;
use postcard_rpc::header::VarSeqKind;
use postcard_rpc::host_client::{HostClient, HostErr};
use serde::Serialize;
use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::sync::mpsc;

use super::capture::{FrameListener, FrameTap};
use super::link::{Link, LinkCloser, LinkError, LinkStats};
use super::wire::{FramedRx, FramedTx, TokioSpawn};
use crate::model::source::Source;

/// How patient a session is.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    /// How long to wait for each answer.
    pub timeout: Duration,
    /// How many times to send a request before giving up.
    pub attempts: u32,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self { timeout: Duration::from_millis(1000), attempts: 3 }
    }
}

/// What went wrong talking to a device.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The link did not open.
    #[error(transparent)]
    Link(#[from] LinkError),
    /// An MQTT source could not connect or subscribe.
    #[error(transparent)]
    Mqtt(#[from] crate::mqtt::MqttError),
    /// A CoAP source failed.
    #[error(transparent)]
    Coap(#[from] crate::coap::CoapError),
    /// No answer.
    #[error(
        "the device did not answer {endpoint} ({attempts} attempts, {timeout_ms} ms each). Check the cable, the baud rate, and that the board runs Benchtop-protocol firmware"
    )]
    Timeout {
        /// The endpoint's path.
        endpoint: &'static str,
        /// Attempts made.
        attempts: u32,
        /// Wait per attempt.
        timeout_ms: u64,
    },
    /// The link closed (unplugged, reset, connection dropped).
    #[error("the connection to the device closed; it may have been unplugged or reset")]
    Closed,
    /// The device refused the request.
    #[error("{0}")]
    Device(DeviceError),
    /// The device does not know the request, or could not decode it: usually a protocol version mismatch.
    #[error("the device rejected {endpoint}: {error}. Its firmware may speak another protocol version")]
    Wire {
        /// The endpoint's path.
        endpoint: &'static str,
        /// What it said.
        error: WireError,
    },
    /// The answer did not decode.
    #[error("the device's answer to {endpoint} did not decode: {reason}")]
    BadResponse {
        /// The endpoint's path.
        endpoint: &'static str,
        /// Why.
        reason: String,
    },
    /// The device speaks another protocol version.
    #[error("the device speaks protocol version {device}, this Benchtop speaks {host}; update one of them")]
    ProtocolMismatch {
        /// The device's version.
        device: u16,
        /// Ours.
        host: u16,
    },
}

/// One telemetry message, stamped with the host time it arrived.
#[derive(Debug, Clone)]
pub enum Telemetry {
    /// A batch of one channel's samples.
    Samples {
        /// When the frame reached the host.
        received_at: Instant,
        /// The batch.
        batch: SampleBatch,
    },
    /// A batch of high-rate current samples.
    Current {
        /// When the frame reached the host.
        received_at: Instant,
        /// The batch.
        batch: CurrentBatch,
    },
    /// A log line.
    Log {
        /// When the frame reached the host.
        received_at: Instant,
        /// The line.
        line: LogLine,
    },
    /// A line from a text board, with the values read from it.
    Text {
        /// When the line's end reached the host.
        received_at: Instant,
        /// The line, without its ending.
        line: String,
        /// Channel name and value, in the line's order.
        values: Vec<(String, f64)>,
    },
}

/// Telemetry of one session, on a bounded channel; overflow is counted in [`LinkStats::dropped_messages`].
pub struct TelemetryStream {
    /// The messages.
    pub rx: mpsc::Receiver<Telemetry>,
}

/// An open session with a device.
pub struct Session {
    client: HostClient<WireError>,
    info: DeviceInfo,
    stats: Arc<LinkStats>,
    options: SessionOptions,
    tap: FrameTap,
    /// Dropping it ends the link's threads.
    _closer: LinkCloser,
}

impl Session {
    /// Opens the source's link and reads the device's description. Must run inside the tokio runtime.
    pub async fn open(source: &Source, options: SessionOptions) -> Result<Session, SessionError> {
        let link = Link::open(source).await?;
        Self::over(link, options).await
    }

    /// A session over an open link.
    pub async fn over(link: Link, options: SessionOptions) -> Result<Session, SessionError> {
        Self::over_with(link, Vec::new(), options).await
    }

    /// A session over an open link, of which `pending` chunks were already read (while probing it).
    pub async fn over_with(
        link: Link,
        pending: Vec<Vec<u8>>,
        options: SessionOptions,
    ) -> Result<Session, SessionError> {
        let Link { incoming, outgoing, stats, closer } = link;
        let tap = FrameTap::default();
        let client = HostClient::new_with_wire(
            FramedTx::new(outgoing).with_tap(tap.clone()),
            FramedRx::with_pending(incoming, pending, stats.clone()).with_tap(tap.clone()),
            TokioSpawn,
            VarSeqKind::Seq2,
            ERROR_PATH,
            LINK_OUTGOING_DEPTH,
        );
        let info = send::<DeviceInfoEndpoint>(&client, options, &()).await?;
        if info.protocol_version != PROTOCOL_VERSION {
            return Err(SessionError::ProtocolMismatch { device: info.protocol_version, host: PROTOCOL_VERSION });
        }
        Ok(Session { client, info, stats, options, tap, _closer: closer })
    }

    /// The postcard-rpc client underneath, for requests this session has no method for.
    pub fn client(&self) -> &HostClient<WireError> {
        &self.client
    }

    /// What the device said about itself on connect.
    pub fn info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The link's counters.
    pub fn stats(&self) -> &Arc<LinkStats> {
        &self.stats
    }

    /// Copies of the frames sent and received from now on (for the payload inspector); bounded, see
    /// [`FrameListener`].
    pub fn frames(&self) -> FrameListener {
        self.tap.listen()
    }

    /// Whether the link is still up.
    pub fn connected(&self) -> bool {
        !self.client.is_closed()
    }

    /// Sends a request and waits for its answer, retrying on timeout.
    pub async fn request<E>(&self, request: &E::Request) -> Result<E::Response, SessionError>
    where
        E: Endpoint,
        E::Request: Serialize + postcard_schema::Schema,
        E::Response: DeserializeOwned + postcard_schema::Schema,
    {
        send::<E>(&self.client, self.options, request).await
    }

    /// Sends a request whose answer is `Result<T, DeviceError>` and flattens the device's refusal.
    pub async fn call<E, T>(&self, request: &E::Request) -> Result<T, SessionError>
    where
        E: Endpoint<Response = Result<T, DeviceError>>,
        E::Request: Serialize + postcard_schema::Schema,
        E::Response: DeserializeOwned + postcard_schema::Schema,
    {
        self.request::<E>(request).await?.map_err(SessionError::Device)
    }

    /// Round-trip check; returns the time it took.
    pub async fn ping(&self) -> Result<Duration, SessionError> {
        let started = Instant::now();
        let nonce = started.elapsed().subsec_nanos();
        let echoed = self.request::<PingEndpoint>(&nonce).await?;
        if echoed != nonce {
            return Err(SessionError::BadResponse {
                endpoint: PingEndpoint::PATH,
                reason: "ping echoed another value".into(),
            });
        }
        Ok(started.elapsed())
    }

    /// The committed configuration, secrets as check values.
    pub async fn read_config(&self) -> Result<ConfigView, SessionError> {
        self.request::<ConfigReadEndpoint>(&()).await
    }

    /// Stages one group of settings.
    pub async fn stage(&self, item: &ConfigItem) -> Result<(), SessionError> {
        self.call::<ConfigStageEndpoint, _>(item).await
    }

    /// The staged configuration, secrets as check values.
    pub async fn check(&self) -> Result<ConfigView, SessionError> {
        self.call::<ConfigCheckEndpoint, _>(&()).await
    }

    /// Commits the staged configuration that has `digest`.
    pub async fn commit(&self, digest: ConfigDigest) -> Result<CommitReceipt, SessionError> {
        self.call::<ConfigCommitEndpoint, _>(&CommitRequest { digest }).await
    }

    /// Drops the staged configuration.
    pub async fn discard(&self) -> Result<(), SessionError> {
        self.call::<ConfigDiscardEndpoint, _>(&()).await
    }

    /// Turns streaming on or off now, without touching the stored configuration.
    pub async fn set_streaming(&self, streaming: StreamingConfig) -> Result<(), SessionError> {
        self.call::<StreamingSetEndpoint, _>(&streaming).await
    }

    /// Asks the board to blink.
    pub async fn identify(&self, duration_ms: u16) -> Result<(), SessionError> {
        self.call::<IdentifyEndpoint, _>(&IdentifyRequest { duration_ms }).await
    }

    /// Asks the board to reboot.
    pub async fn reboot(&self) -> Result<(), SessionError> {
        self.call::<RebootEndpoint, _>(&()).await
    }

    /// The device's schema report: every endpoint and topic with its types.
    pub async fn schema_report(&self) -> Result<postcard_rpc::host_client::SchemaReport, SessionError> {
        tokio::time::timeout(self.options.timeout * self.options.attempts.max(1), self.client.get_schema_report())
            .await
            .map_err(|_| SessionError::Timeout {
                endpoint: GetAllSchemasEndpoint::PATH,
                attempts: 1,
                timeout_ms: self.options.timeout.as_millis() as u64,
            })?
            .map_err(|e| SessionError::BadResponse { endpoint: GetAllSchemasEndpoint::PATH, reason: format!("{e:?}") })
    }

    /// Subscribes to all telemetry; at most `capacity` messages wait in the channel.
    pub async fn telemetry(&self, capacity: usize) -> Result<TelemetryStream, SessionError> {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        self.forward::<SampleBatchTopic>(tx.clone(), |received_at, batch| Telemetry::Samples { received_at, batch })
            .await?;
        self.forward::<CurrentBatchTopic>(tx.clone(), |received_at, batch| Telemetry::Current { received_at, batch })
            .await?;
        self.forward::<LogTopic>(tx, |received_at, line| Telemetry::Log { received_at, line }).await?;
        Ok(TelemetryStream { rx })
    }

    async fn forward<T>(
        &self,
        tx: mpsc::Sender<Telemetry>,
        wrap: fn(Instant, T::Message) -> Telemetry,
    ) -> Result<(), SessionError>
    where
        T: Topic,
        T::Message: DeserializeOwned + Send + 'static + Sized,
    {
        let mut subscription =
            self.client.subscribe_multi::<T>(TOPIC_QUEUE_DEPTH).await.map_err(|_| SessionError::Closed)?;
        let stats = self.stats.clone();
        tokio::spawn(async move {
            loop {
                match subscription.recv().await {
                    Ok(message) => match tx.try_send(wrap(Instant::now(), message)) {
                        Ok(()) => {}
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            stats.dropped_messages.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => break,
                    },
                    Err(postcard_rpc::host_client::MultiSubRxError::Lagged(n)) => {
                        stats.dropped_messages.fetch_add(n, Ordering::Relaxed);
                    }
                    Err(postcard_rpc::host_client::MultiSubRxError::IoClosed) => break,
                }
            }
        });
        Ok(())
    }

    /// Closes the session and its link.
    pub fn close(&self) {
        self.client.close();
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.client.close();
    }
}

/// Frames waiting to be written to the link.
const LINK_OUTGOING_DEPTH: usize = 64;
/// Messages postcard-rpc buffers per topic before the forwarding task takes them.
const TOPIC_QUEUE_DEPTH: usize = 256;

/// Sends a request and waits for its answer, sending it again after each timeout.
async fn send<E>(
    client: &HostClient<WireError>,
    options: SessionOptions,
    request: &E::Request,
) -> Result<E::Response, SessionError>
where
    E: Endpoint,
    E::Request: Serialize + postcard_schema::Schema,
    E::Response: DeserializeOwned + postcard_schema::Schema,
{
    let attempts = options.attempts.max(1);
    for _ in 0..attempts {
        match tokio::time::timeout(options.timeout, client.send_resp::<E>(request)).await {
            Err(_elapsed) => continue,
            Ok(Ok(response)) => return Ok(response),
            Ok(Err(HostErr::Closed)) => return Err(SessionError::Closed),
            Ok(Err(HostErr::Wire(error))) => {
                return Err(SessionError::Wire { endpoint: E::PATH, error });
            }
            Ok(Err(HostErr::Postcard(e))) => {
                return Err(SessionError::BadResponse { endpoint: E::PATH, reason: e.to_string() });
            }
            Ok(Err(HostErr::BadResponse)) => {
                return Err(SessionError::BadResponse { endpoint: E::PATH, reason: "unexpected answer".into() });
            }
        }
    }
    Err(SessionError::Timeout { endpoint: E::PATH, attempts, timeout_ms: options.timeout.as_millis() as u64 })
}
