//! MQTT: bridge a board's telemetry to a broker, read a broker's topics as a source, and run a small broker
//! on the bench.
//!
//! * [`url`] — a broker and its options in one string (`mqtt://…`, `mqtts://…`); passwords never printed.
//! * [`client`] — a connection that stays up: backoff, resubscription, a bounded outbox with counted drops.
//! * [`tls`] — rustls (ring provider) with verification always on.
//! * [`decode`] — payloads to values (number text, a JSON path, an inspector layout), status topics, alerts.
//! * [`bridge`] — a board's samples published as topics, with `online`/`offline` status and a last will.
//! * [`source`] — a subscription opened as a board, so the Live view plots one channel per topic.
//! * [`broker`] — rumqttd embedded, on 127.0.0.1 unless asked otherwise.
//!
//! Nothing here waits on the network on behalf of a caller that must not wait: publishing is a `try_send`,
//! received messages are dropped (and counted) when their consumer falls behind.

pub mod bridge;
pub mod broker;
pub mod client;
pub mod decode;
pub mod source;
pub mod tls;
pub mod url;

pub use bridge::{Bridge, BridgeOptions, BridgeStats, PayloadFormat};
pub use client::{ClientOptions, MqttClient, MqttEvent, MqttStats, MqttStatsSnapshot};
pub use source::MqttBoard;
pub use url::{MqttUrl, MqttVersion, Qos};

use thiserror::Error;

/// Why a connection to a broker failed, as a sentence that says what to do; the broker's address comes last.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum MqttError {
    /// Nothing listens at the address.
    #[error(
        "the broker refused the connection: is it running, and on this port? (`benchtop broker --listen {address}` starts one) — {address}"
    )]
    Refused {
        /// `host:port`.
        address: String,
    },
    /// The network did not get through.
    #[error("could not reach the broker ({reason}); check the host name and the network — {address}")]
    Unreachable {
        /// `host:port`.
        address: String,
        /// What the system said.
        reason: String,
    },
    /// The broker did not answer CONNECT in time.
    #[error("the broker did not answer within {secs} s; check the address, and mqtts:// for a TLS port — {address}")]
    Timeout {
        /// `host:port`.
        address: String,
        /// How long we waited.
        secs: u64,
    },
    /// Wrong user name or password, or not allowed.
    #[error(
        "the broker refused the user name or password; check --user and --password (or user:password@ in the URL) — {address}"
    )]
    NotAuthorized {
        /// `host:port`.
        address: String,
    },
    /// Another CONNACK refusal.
    #[error("the broker refused the connection ({code}) — {address}")]
    Rejected {
        /// `host:port`.
        address: String,
        /// The return code.
        code: String,
    },
    /// The TLS handshake failed: usually an untrusted certificate or a host name it does not name.
    #[error(
        "TLS with the broker failed: {reason}. Give the CA that signed the broker's certificate with ?ca=FILE.pem (or --ca), and use the host name the certificate names — {address}"
    )]
    Tls {
        /// `host:port`.
        address: String,
        /// rustls's reason.
        reason: String,
    },
    /// A file named in the URL (a certificate, a key, a layout) could not be used.
    #[error("{0}")]
    Setup(String),
    /// Anything else the client reported.
    #[error("the MQTT connection failed: {reason} — {address}")]
    Protocol {
        /// `host:port`.
        address: String,
        /// What happened.
        reason: String,
    },
}
