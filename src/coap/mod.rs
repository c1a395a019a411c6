//! CoAP (RFC 7252): read a constrained device's resources as a live source, discover them, and write to them.
//!
//! * [`url`] — `coap://HOST[:PORT]/PATH?…`: the resource, its Uri-Query, and how Benchtop reads it.
//! * [`transmission`] — the RFC's retransmission parameters and backoff schedule.
//! * [`message`] — requests, responses, codes and Content-Formats by name, one-line datagram summaries.
//! * [`client`] — one UDP endpoint: CON/NON, ACK/RST, duplicates, separate responses, block-wise transfer.
//! * [`observe`] — Observe (RFC 7641): register, order notifications, count gaps, re-register, deregister.
//! * [`discovery`] — `/.well-known/core` read as a resource list (RFC 6690 link format).
//! * [`decode`] — payloads to values: number text, JSON, CBOR, SenML, or an inspector layout.
//! * [`source`] — a resource opened as a board, so the Live view and `benchtop record` plot it.

pub mod client;
pub mod decode;
pub mod discovery;
pub mod message;
pub mod observe;
pub mod source;
pub mod transmission;
pub mod url;

pub use client::{CoapClient, CoapStats, CoapStatsSnapshot};
pub use message::{Method, Response};
pub use observe::{Observation, ObserveEvent};
pub use source::CoapBoard;
pub use url::CoapUrl;

use thiserror::Error;

/// Why a CoAP exchange failed, as a sentence that says what to do.
#[derive(Debug, Error, Clone, PartialEq)]
pub enum CoapError {
    /// The network said nothing listens there.
    #[error(
        "nothing answers CoAP at {address} ({reason}); is the server running, and on this port (CoAP's default is 5683)?"
    )]
    Unreachable {
        /// `host:port`.
        address: String,
        /// What the system said.
        reason: String,
    },
    /// No ACK or response after every retransmission.
    #[error(
        "no answer from {address} after {attempts} transmissions over {waited_s:.1} s{}; check the address and that the server is up",
        problem.as_ref().map(|p| format!(" ({p})")).unwrap_or_default()
    )]
    Timeout {
        /// `host:port`.
        address: String,
        /// Transmissions made.
        attempts: u32,
        /// Time waited.
        waited_s: f64,
        /// The last thing that went wrong on the way (a datagram that was not CoAP …).
        problem: Option<String>,
    },
    /// The server answered our message with RST.
    #[error("the server at {address} reset the request (RST): it could not process it")]
    Reset {
        /// `host:port`.
        address: String,
    },
    /// The server answered with an error code.
    #[error("the server answered {}{}", message::code_text(*code), status_detail(payload))]
    Status {
        /// The code.
        code: u8,
        /// Its diagnostic payload.
        payload: Vec<u8>,
    },
    /// The exchange broke the protocol.
    #[error("{0}")]
    Protocol(String),
    /// The socket failed.
    #[error("{0}")]
    Io(String),
}

fn status_detail(payload: &[u8]) -> String {
    match crate::inspect::coap::printable_text(payload) {
        Some(text) if !text.trim().is_empty() => format!(": {}", text.trim()),
        _ => String::new(),
    }
}
