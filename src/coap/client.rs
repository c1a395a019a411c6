//! A CoAP client endpoint on one UDP socket, talking to one server: the message layer (RFC 7252 §4: CON
//! retransmission with the RFC's backoff, ACK and RST, duplicate detection, separate responses) and the
//! request layer (tokens, block-wise transfer in both directions, RFC 7959).
//!
//! One task reads the socket and routes each datagram: an ACK or RST by its message id to the exchange that
//! sent it, a response by its token to whoever waits on that token (an exchange, or an observation that stays
//! registered). A confirmable response is acknowledged at once; a response nobody waits for is answered with
//! RST, which tells a server to drop an observation we no longer hold. A datagram that is not CoAP is counted,
//! kept as the last problem for error messages, and otherwise ignored (RFC 7252 §4.2). Every datagram, sent
//! or received, is offered to a [`FrameTap`] for the inspector.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use coap_lite::{CoapOption, MessageClass, MessageType, Packet};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::CoapError;
use super::message::{self, Method, Response};
use super::transmission::{self, NON_TIMEOUT, SEPARATE_RESPONSE_TIMEOUT};
use super::url::CoapUrl;
use crate::io::capture::{Direction, FrameListener, FrameTap};

/// The block size used when the URL does not ask for one (the RFC's preferred 1024-byte payloads).
pub const DEFAULT_BLOCK_SIZE: usize = 1024;
/// Largest body assembled from blocks.
pub const MAX_BODY_BYTES: usize = 4 << 20;
/// Confirmable message ids remembered for duplicate detection.
const RECENT_IDS: usize = 64;

/// Counters of one client endpoint.
#[derive(Debug, Default)]
pub struct CoapStats {
    /// Datagrams sent (retransmissions included).
    pub sent: AtomicU64,
    /// Datagrams received (CoAP or not).
    pub received: AtomicU64,
    /// CON messages sent again because no ACK came in time.
    pub retransmissions: AtomicU64,
    /// Datagrams that were not CoAP.
    pub malformed: AtomicU64,
    /// Duplicate CON messages (acknowledged again, not delivered twice).
    pub duplicates: AtomicU64,
    /// Notifications missing from an observation, by the gaps in their Observe numbers.
    pub lost_notifications: AtomicU64,
    /// Notifications older than one already delivered, discarded (RFC 7641 §3.4).
    pub stale_notifications: AtomicU64,
    /// Times an observation registered again (Max-Age passed in silence, or the server ended it).
    pub reregistrations: AtomicU64,
}

/// A plain copy of [`CoapStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CoapStatsSnapshot {
    /// See [`CoapStats::sent`].
    pub sent: u64,
    /// See [`CoapStats::received`].
    pub received: u64,
    /// See [`CoapStats::retransmissions`].
    pub retransmissions: u64,
    /// See [`CoapStats::malformed`].
    pub malformed: u64,
    /// See [`CoapStats::duplicates`].
    pub duplicates: u64,
    /// See [`CoapStats::lost_notifications`].
    pub lost_notifications: u64,
    /// See [`CoapStats::stale_notifications`].
    pub stale_notifications: u64,
    /// See [`CoapStats::reregistrations`].
    pub reregistrations: u64,
}

impl CoapStats {
    /// The counters now.
    pub fn snapshot(&self) -> CoapStatsSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CoapStatsSnapshot {
            sent: get(&self.sent),
            received: get(&self.received),
            retransmissions: get(&self.retransmissions),
            malformed: get(&self.malformed),
            duplicates: get(&self.duplicates),
            lost_notifications: get(&self.lost_notifications),
            stale_notifications: get(&self.stale_notifications),
            reregistrations: get(&self.reregistrations),
        }
    }
}

/// What the reader hands to whoever waits on a token.
#[derive(Debug)]
pub(crate) enum Incoming {
    /// An ACK for a message we sent (empty, or with a piggybacked response).
    Ack(Packet),
    /// The server reset a message we sent.
    Reset,
    /// A CON or NON response carrying our token.
    Response(Packet),
    /// The network said the server's port is closed.
    Unreachable(String),
}

#[derive(Default)]
struct Routes {
    by_token: HashMap<Vec<u8>, mpsc::UnboundedSender<Incoming>>,
    by_mid: HashMap<u16, Vec<u8>>,
    recent_con: VecDeque<u16>,
    last_problem: Option<String>,
}

struct Shared {
    socket: UdpSocket,
    peer: SocketAddr,
    url: CoapUrl,
    next_mid: AtomicU16,
    routes: Mutex<Routes>,
    tap: FrameTap,
    stats: Arc<CoapStats>,
    /// Each datagram that was not CoAP, as a sentence, for whoever shows problems as they happen.
    problems: tokio::sync::broadcast::Sender<String>,
}

/// A client endpoint talking to the server of one URL. Cheap to clone; the socket closes with the last clone.
#[derive(Clone)]
pub struct CoapClient {
    shared: Arc<Shared>,
    _reader: Arc<ReaderTask>,
}

struct ReaderTask(tokio::task::JoinHandle<()>);

impl Drop for ReaderTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A token's mailbox: responses (and ACKs of our messages) for it, until dropped.
pub(crate) struct Route {
    pub(crate) token: Vec<u8>,
    pub(crate) rx: mpsc::UnboundedReceiver<Incoming>,
    shared: Arc<Shared>,
}

impl Drop for Route {
    fn drop(&mut self) {
        if let Ok(mut routes) = self.shared.routes.lock() {
            routes.by_token.remove(&self.token);
            let token = &self.token;
            routes.by_mid.retain(|_, t| t != token);
        }
    }
}

impl CoapClient {
    /// Opens a socket towards the server of `url` (resolving its host name). Must run inside the tokio
    /// runtime.
    pub async fn connect(url: &CoapUrl) -> Result<CoapClient, CoapError> {
        let address = url.address();
        let peer = tokio::net::lookup_host(&address)
            .await
            .map_err(|e| CoapError::Unreachable { address: address.clone(), reason: e.to_string() })?
            .next()
            .ok_or_else(|| CoapError::Unreachable { address: address.clone(), reason: "no address found".into() })?;
        let local = if peer.is_ipv6() {
            SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))
        } else {
            SocketAddr::from((std::net::Ipv4Addr::UNSPECIFIED, 0))
        };
        let socket =
            UdpSocket::bind(local).await.map_err(|e| CoapError::Io(format!("could not open a UDP socket: {e}")))?;
        socket
            .connect(peer)
            .await
            .map_err(|e| CoapError::Unreachable { address: address.clone(), reason: e.to_string() })?;
        let mut first_mid = [0u8; 2];
        let _ = getrandom::fill(&mut first_mid);
        let shared = Arc::new(Shared {
            socket,
            peer,
            url: url.clone(),
            next_mid: AtomicU16::new(u16::from_le_bytes(first_mid)),
            routes: Mutex::new(Routes::default()),
            tap: FrameTap::default(),
            stats: Arc::new(CoapStats::default()),
            problems: tokio::sync::broadcast::channel(16).0,
        });
        let reader = ReaderTask(tokio::spawn(read_loop(shared.clone())));
        Ok(CoapClient { shared, _reader: Arc::new(reader) })
    }

    /// The URL this client was opened for.
    pub fn url(&self) -> &CoapUrl {
        &self.shared.url
    }

    /// The endpoint's counters.
    pub fn stats(&self) -> &Arc<CoapStats> {
        &self.shared.stats
    }

    /// Copies of every datagram from now on, both ways, for the inspector's capture list.
    pub fn datagrams(&self) -> FrameListener {
        self.shared.tap.listen()
    }

    /// Each datagram that is not CoAP from now on, as a sentence (a listener that falls behind skips some).
    pub fn problems(&self) -> tokio::sync::broadcast::Receiver<String> {
        self.shared.problems.subscribe()
    }

    /// The last datagram that was not CoAP, and why, if any came.
    pub fn last_problem(&self) -> Option<String> {
        self.shared.routes.lock().ok().and_then(|r| r.last_problem.clone())
    }

    /// GET `url` whole (following Block2 to the end).
    pub async fn get(&self, url: &CoapUrl) -> Result<Response, CoapError> {
        self.request(Method::Get, url, &[], None).await
    }

    /// Sends `method` to `url` with `payload` (in Block1 blocks when it does not fit one), and reads the whole
    /// response (in Block2 blocks when it is large).
    pub async fn request(
        &self,
        method: Method,
        url: &CoapUrl,
        payload: &[u8],
        content_format: Option<u16>,
    ) -> Result<Response, CoapError> {
        let block_size = url.block_size.unwrap_or(DEFAULT_BLOCK_SIZE);
        let build = |block1: Option<(usize, bool, usize)>,
                     block2: Option<(usize, usize)>|
         -> Result<Packet, CoapError> {
            let mut packet = message::request(method, url, url.confirmable);
            if let Some(format) = content_format {
                message::set_uint_option(&mut packet, CoapOption::ContentFormat, u32::from(format));
            }
            if let Some((num, more, size)) = block1 {
                message::set_block(&mut packet, CoapOption::Block1, num, more, size).map_err(CoapError::Protocol)?;
                if num == 0 {
                    message::set_uint_option(&mut packet, CoapOption::Size1, payload.len() as u32);
                }
            }
            if let Some((num, size)) = block2 {
                message::set_block(&mut packet, CoapOption::Block2, num, false, size).map_err(CoapError::Protocol)?;
            }
            Ok(packet)
        };
        // Block1: the request body in blocks, each acknowledged with 2.31 Continue until the last.
        let mut first = if payload.len() > block_size {
            let mut size = block_size;
            let mut offset = 0;
            loop {
                let num = offset / size;
                let end = (offset + size).min(payload.len());
                let more = end < payload.len();
                let mut packet = build(Some((num, more, size)), None)?;
                packet.payload = payload[offset..end].to_vec();
                let reply = self.exchange(packet).await?;
                if !more || message::raw_code(&reply) >> 5 != 2 {
                    break reply;
                }
                // The server may ask for smaller blocks (RFC 7959 §2.3).
                if let Some(asked) = message::block(&reply, CoapOption::Block1) {
                    let asked_size = 1usize << (asked.size_exponent + 4);
                    if asked_size < size {
                        size = asked_size;
                    }
                }
                offset = end;
            }
        } else {
            let mut packet = build(None, url.block_size.filter(|_| method == Method::Get).map(|s| (0, s)))?;
            packet.payload = payload.to_vec();
            self.exchange(packet).await?
        };
        // Block2: fetch the rest of a large response.
        let mut response = Response::from_packet(&first);
        while let Some(block2) = message::block(&first, CoapOption::Block2).filter(|b| b.more) {
            if message::raw_code(&first) >> 5 != 2 {
                break;
            }
            let size = 1usize << (block2.size_exponent + 4);
            let next = usize::from(block2.num) + 1;
            if response.payload.len() + size > MAX_BODY_BYTES {
                return Err(CoapError::Protocol(format!("the response is larger than {} MiB", MAX_BODY_BYTES >> 20)));
            }
            let packet = build_get_block(url, next, size)?;
            first = self.exchange(packet).await?;
            let got = message::block(&first, CoapOption::Block2);
            if message::raw_code(&first) >> 5 != 2 {
                return Err(CoapError::Status { code: message::raw_code(&first), payload: first.payload.clone() });
            }
            if got.as_ref().map(|b| usize::from(b.num)) != Some(next) {
                return Err(CoapError::Protocol(format!(
                    "asked for block {next} and the server sent {}",
                    got.map_or("no block".to_string(), |b| format!("block {}", b.num))
                )));
            }
            let etag = first.get_first_option(CoapOption::ETag).cloned();
            if response.etag.is_some() && etag != response.etag {
                return Err(CoapError::Protocol(
                    "the resource changed while its blocks were read (its ETag changed); read it again".into(),
                ));
            }
            response.payload.extend_from_slice(&first.payload);
        }
        Ok(response)
    }

    /// Fetches blocks `from_block` onwards of a resource whose first block(s) came in a notification.
    pub(crate) async fn rest_of_blocks(&self, url: &CoapUrl, first: &Packet) -> Result<Vec<u8>, CoapError> {
        let mut body = first.payload.clone();
        let etag = first.get_first_option(CoapOption::ETag).cloned();
        let mut last = message::block(first, CoapOption::Block2);
        while let Some(block) = last.filter(|b| b.more) {
            let size = 1usize << (block.size_exponent + 4);
            let packet = build_get_block(url, usize::from(block.num) + 1, size)?;
            let reply = self.exchange(packet).await?;
            if message::raw_code(&reply) >> 5 != 2 {
                return Err(CoapError::Status { code: message::raw_code(&reply), payload: reply.payload.clone() });
            }
            if etag.is_some() && reply.get_first_option(CoapOption::ETag) != etag.as_ref() {
                return Err(CoapError::Protocol(
                    "the resource changed while the blocks of a notification were read (its ETag changed)".into(),
                ));
            }
            body.extend_from_slice(&reply.payload);
            if body.len() > MAX_BODY_BYTES {
                return Err(CoapError::Protocol(format!("the response is larger than {} MiB", MAX_BODY_BYTES >> 20)));
            }
            last = message::block(&reply, CoapOption::Block2);
        }
        Ok(body)
    }

    /// Sends `packet` under a fresh token and returns the response.
    pub(crate) async fn exchange(&self, packet: Packet) -> Result<Packet, CoapError> {
        let mut route = self.route();
        self.transmit(&mut route, packet).await
    }

    /// A new token and its mailbox.
    pub(crate) fn route(&self) -> Route {
        let mut token = vec![0u8; 4];
        let _ = getrandom::fill(&mut token);
        let (tx, rx) = mpsc::unbounded_channel();
        if let Ok(mut routes) = self.shared.routes.lock() {
            routes.by_token.insert(token.clone(), tx);
        }
        Route { token, rx, shared: self.shared.clone() }
    }

    /// Sends `packet` with `route`'s token (a CON one retransmitted as RFC 7252 §4.2 says) and waits for its
    /// response: piggybacked on the ACK, or separate after an empty ACK.
    pub(crate) async fn transmit(&self, route: &mut Route, mut packet: Packet) -> Result<Packet, CoapError> {
        let mid = self.shared.next_mid.fetch_add(1, Ordering::Relaxed);
        packet.header.message_id = mid;
        packet.set_token(route.token.clone());
        let confirmable = packet.header.get_type() == MessageType::Confirmable;
        let bytes = packet.to_bytes_unlimited().map_err(|e| CoapError::Protocol(format!("could not encode: {e}")))?;
        if let Ok(mut routes) = self.shared.routes.lock() {
            routes.by_mid.insert(mid, route.token.clone());
        }
        let result = self.transmit_as(route, mid, confirmable, &bytes).await;
        if let Ok(mut routes) = self.shared.routes.lock() {
            routes.by_mid.remove(&mid);
        }
        result
    }

    async fn transmit_as(
        &self,
        route: &mut Route,
        mid: u16,
        confirmable: bool,
        bytes: &[u8],
    ) -> Result<Packet, CoapError> {
        let address = self.shared.url.address();
        let waits = if confirmable {
            transmission::schedule(self.shared.url.ack_timeout, transmission::random_unit())
        } else {
            vec![NON_TIMEOUT.max(self.shared.url.ack_timeout * 4)]
        };
        let mut waited = Duration::ZERO;
        for (attempt, wait) in waits.iter().enumerate() {
            if attempt > 0 {
                self.shared.stats.retransmissions.fetch_add(1, Ordering::Relaxed);
            }
            self.send_raw(bytes).await?;
            let deadline = tokio::time::Instant::now() + *wait;
            loop {
                match tokio::time::timeout_at(deadline, route.rx.recv()).await {
                    Err(_) => break,
                    Ok(None) => return Err(CoapError::Io("the client closed".into())),
                    Ok(Some(Incoming::Ack(ack))) if ack.header.message_id == mid => {
                        if ack.header.code != MessageClass::Empty {
                            return Ok(ack);
                        }
                        return self.separate_response(route, &address).await;
                    }
                    Ok(Some(Incoming::Ack(_))) => {}
                    Ok(Some(Incoming::Reset)) => return Err(CoapError::Reset { address }),
                    Ok(Some(Incoming::Response(response))) => return Ok(response),
                    Ok(Some(Incoming::Unreachable(reason))) => return Err(CoapError::Unreachable { address, reason }),
                }
            }
            waited += *wait;
        }
        Err(CoapError::Timeout {
            address,
            attempts: waits.len() as u32,
            waited_s: waited.as_secs_f64(),
            problem: self.last_problem(),
        })
    }

    async fn separate_response(&self, route: &mut Route, address: &str) -> Result<Packet, CoapError> {
        let deadline = tokio::time::Instant::now() + SEPARATE_RESPONSE_TIMEOUT;
        loop {
            match tokio::time::timeout_at(deadline, route.rx.recv()).await {
                Err(_) => {
                    return Err(CoapError::Timeout {
                        address: address.to_string(),
                        attempts: 1,
                        waited_s: SEPARATE_RESPONSE_TIMEOUT.as_secs_f64(),
                        problem: Some("the server acknowledged the request but never sent the response".into()),
                    });
                }
                Ok(None) => return Err(CoapError::Io("the client closed".into())),
                Ok(Some(Incoming::Response(response))) => return Ok(response),
                Ok(Some(Incoming::Reset)) => return Err(CoapError::Reset { address: address.to_string() }),
                Ok(Some(Incoming::Unreachable(reason))) => {
                    return Err(CoapError::Unreachable { address: address.to_string(), reason });
                }
                Ok(Some(Incoming::Ack(_))) => {}
            }
        }
    }

    /// Sends a message that needs no answer (a deregistration's NON, an ACK, an RST).
    pub(crate) async fn send_raw(&self, bytes: &[u8]) -> Result<(), CoapError> {
        send(&self.shared, bytes).await
    }
}

fn build_get_block(url: &CoapUrl, num: usize, size: usize) -> Result<Packet, CoapError> {
    let mut packet = message::request(Method::Get, url, url.confirmable);
    message::set_block(&mut packet, CoapOption::Block2, num, false, size).map_err(CoapError::Protocol)?;
    Ok(packet)
}

async fn send(shared: &Shared, bytes: &[u8]) -> Result<(), CoapError> {
    shared.tap.coap(Direction::ToDevice, bytes);
    shared.stats.sent.fetch_add(1, Ordering::Relaxed);
    match shared.socket.send(bytes).await {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
            Err(CoapError::Unreachable { address: shared.url.address(), reason: e.to_string() })
        }
        Err(e) => Err(CoapError::Io(format!("could not send to {}: {e}", shared.url.address()))),
    }
}

async fn read_loop(shared: Arc<Shared>) {
    let mut buffer = vec![0u8; 65_536];
    loop {
        let len = match shared.socket.recv(&mut buffer).await {
            Ok(len) => len,
            Err(e) => {
                // A connected UDP socket reports the ICMP "port unreachable" of an earlier send here.
                let reason = e.to_string();
                if let Ok(routes) = shared.routes.lock() {
                    for tx in routes.by_token.values() {
                        let _ = tx.send(Incoming::Unreachable(reason.clone()));
                    }
                }
                if e.kind() != std::io::ErrorKind::ConnectionRefused {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let datagram = &buffer[..len];
        shared.stats.received.fetch_add(1, Ordering::Relaxed);
        shared.tap.coap(Direction::FromDevice, datagram);
        let packet = match Packet::from_bytes(datagram) {
            Ok(packet) if datagram[0] >> 6 == 1 => packet,
            result => {
                let reason = match result {
                    Err(error) => message::malformed_reason(datagram, &error),
                    Ok(_) => message::malformed_reason(datagram, &coap_lite::error::MessageError::InvalidHeader),
                };
                shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("ignored a datagram from {} that is not CoAP: {reason}", shared.peer);
                let problem = format!("the server sent a datagram that is not CoAP: {reason}");
                if let Ok(mut routes) = shared.routes.lock() {
                    routes.last_problem = Some(problem.clone());
                }
                let _ = shared.problems.send(problem);
                continue;
            }
        };
        if let Some(reply) = route(&shared, packet) {
            let _ = send(&shared, &reply).await;
        }
    }
}

/// Routes one received message; returns an ACK or RST to send back, if any.
fn route(shared: &Shared, packet: Packet) -> Option<Vec<u8>> {
    let mid = packet.header.message_id;
    let kind = packet.header.get_type();
    let reply = |kind: MessageType| {
        let mut answer = Packet::new();
        answer.header.set_type(kind);
        answer.header.message_id = mid;
        answer.to_bytes().ok()
    };
    let mut routes = shared.routes.lock().ok()?;
    match kind {
        MessageType::Acknowledgement | MessageType::Reset => {
            let token = routes.by_mid.remove(&mid)?;
            let tx = routes.by_token.get(&token)?;
            let _ = tx.send(if kind == MessageType::Reset { Incoming::Reset } else { Incoming::Ack(packet) });
            None
        }
        MessageType::Confirmable | MessageType::NonConfirmable => {
            let confirmable = kind == MessageType::Confirmable;
            if !matches!(packet.header.code, MessageClass::Response(_)) {
                // A ping (empty CON) or a request: this endpoint serves nothing.
                return confirmable.then(|| reply(MessageType::Reset)).flatten();
            }
            if confirmable {
                if routes.recent_con.contains(&mid) {
                    shared.stats.duplicates.fetch_add(1, Ordering::Relaxed);
                    return reply(MessageType::Acknowledgement);
                }
                routes.recent_con.push_back(mid);
                if routes.recent_con.len() > RECENT_IDS {
                    routes.recent_con.pop_front();
                }
            }
            match routes.by_token.get(packet.get_token()) {
                Some(tx) if tx.send(Incoming::Response(packet)).is_ok() => {
                    confirmable.then(|| reply(MessageType::Acknowledgement)).flatten()
                }
                // Nobody waits for this token (an observation we dropped): reset, so the server forgets it.
                _ => reply(MessageType::Reset),
            }
        }
    }
}
