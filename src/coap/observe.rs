//! Observe (RFC 7641): a GET with Observe=0 registers interest, and the server pushes a notification, under
//! the same token, whenever the resource changes.
//!
//! An [`Observation`] keeps the registration alive and hands over notifications in order:
//! * a notification older than the newest delivered one is dropped (the freshness rule of §3.4);
//! * a jump in the Observe number counts the notifications in between as lost (servers that number
//!   consecutively, as most do; a server that skips numbers on purpose overcounts);
//! * a notification whose body spans blocks is completed with GETs for the remaining blocks (RFC 7959 §2.6);
//! * when Max-Age passes without a notification, or the server ends the observation, the observation
//!   registers again under the same token (§3.3.1), with a growing pause while the server does not answer;
//! * [`Observation::cancel`] deregisters with a GET carrying Observe=1 (§3.6); an observation dropped without
//!   it is forgotten by the server at its next notification, which the client answers with RST.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use coap_lite::{CoapOption, Packet};

use super::CoapError;
use super::client::{CoapClient, Incoming, Route};
use super::message::{self, Method, Response};
use super::url::CoapUrl;

/// Extra wait past Max-Age before registering again (for a server whose clock runs a little slow).
const MAX_AGE_GRACE: Duration = Duration::from_secs(2);
/// Longest pause between registrations while the server does not answer.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(30);
/// Observe numbers are 24 bits.
const SEQUENCE_MODULUS: u32 = 1 << 24;

/// What an observation reports.
#[derive(Debug, Clone, PartialEq)]
pub enum ObserveEvent {
    /// A fresh representation (the registration's response, or a notification).
    Notification {
        /// The response, its payload complete.
        response: Response,
        /// Notifications missing just before this one (by the Observe numbers).
        lost_before: u32,
        /// When it arrived.
        at: Instant,
    },
    /// The observation registered again, and why.
    Reregistered(String),
    /// Something went wrong; the observation goes on trying.
    Problem(String),
}

/// A registered observation of one resource.
pub struct Observation {
    client: CoapClient,
    url: CoapUrl,
    route: Route,
    /// The newest Observe number delivered and when.
    newest: Option<(u32, Instant)>,
    /// When the next notification is due at the latest (Max-Age of the last one).
    due: Instant,
    /// Whether the server is observing now (false after it ended the observation or stopped answering).
    registered: bool,
    retry_pause: Duration,
    pending: Option<ObserveEvent>,
    observable: bool,
}

impl Observation {
    /// Registers with the server of `url` (a GET with Observe=0) and waits for its first response. A resource
    /// that answers without Observe is not observable: the observation then delivers that one response, and
    /// [`Observation::observable`] is false.
    pub async fn register(client: &CoapClient, url: &CoapUrl) -> Result<Observation, CoapError> {
        let route = client.route();
        let mut observation = Observation {
            client: client.clone(),
            url: url.clone(),
            route,
            newest: None,
            due: Instant::now(),
            registered: false,
            retry_pause: Duration::from_secs(1),
            pending: None,
            observable: true,
        };
        let first = observation.send_registration().await?;
        if !message::Response::from_packet(&first).is_success() {
            return Err(CoapError::Status { code: message::raw_code(&first), payload: first.payload.clone() });
        }
        observation.observable = message::uint_option(&first, CoapOption::Observe).is_some();
        let event = observation.accept(first, true).await;
        observation.pending = event;
        Ok(observation)
    }

    /// Whether the server accepted the registration.
    pub fn observable(&self) -> bool {
        self.observable
    }

    /// The next event; waits as long as it takes (the observation re-registers on its own).
    pub async fn next(&mut self) -> ObserveEvent {
        if let Some(event) = self.pending.take() {
            return event;
        }
        loop {
            if !self.observable {
                // Nothing will come; the caller polls instead.
                std::future::pending::<()>().await;
            }
            if !self.registered {
                match self.reregister().await {
                    Ok(event) => return event,
                    Err(problem) => return problem,
                }
            }
            let due = tokio::time::Instant::from_std(self.due + MAX_AGE_GRACE);
            match tokio::time::timeout_at(due, self.route.rx.recv()).await {
                Err(_) => {
                    self.registered = false;
                    return ObserveEvent::Problem(format!(
                        "no notification from {} within Max-Age; registering again",
                        self.url.address()
                    ));
                }
                Ok(None) => return ObserveEvent::Problem("the client closed".into()),
                Ok(Some(Incoming::Response(packet))) => {
                    if let Some(event) = self.accept(packet, false).await {
                        return event;
                    }
                }
                Ok(Some(Incoming::Unreachable(reason))) => {
                    self.registered = false;
                    return ObserveEvent::Problem(format!(
                        "{} is not reachable ({reason}); registering again when it is",
                        self.url.address()
                    ));
                }
                // ACKs and RSTs of earlier exchanges on this token (a late retransmission's ACK).
                Ok(Some(Incoming::Ack(_) | Incoming::Reset)) => {}
            }
        }
    }

    /// Deregisters (GET with Observe=1), waiting for the server's answer at most `patience`.
    pub async fn cancel(mut self, patience: Duration) -> Result<(), CoapError> {
        if !self.observable {
            return Ok(());
        }
        let mut packet = message::request(Method::Get, &self.url, self.url.confirmable);
        message::set_uint_option(&mut packet, CoapOption::Observe, 1);
        match tokio::time::timeout(patience, self.client.transmit(&mut self.route, packet)).await {
            Ok(result) => result.map(|_| ()),
            Err(_) => Err(CoapError::Timeout {
                address: self.url.address(),
                attempts: 1,
                waited_s: patience.as_secs_f64(),
                problem: Some("the deregistration was not answered".into()),
            }),
        }
    }

    async fn send_registration(&mut self) -> Result<Packet, CoapError> {
        let mut packet = message::request(Method::Get, &self.url, self.url.confirmable);
        message::set_uint_option(&mut packet, CoapOption::Observe, 0);
        if let Some(size) = self.url.block_size {
            message::set_block(&mut packet, CoapOption::Block2, 0, false, size).map_err(CoapError::Protocol)?;
        }
        self.client.transmit(&mut self.route, packet).await
    }

    /// Registers again; the response is the first fresh notification.
    async fn reregister(&mut self) -> Result<ObserveEvent, ObserveEvent> {
        match self.send_registration().await {
            Ok(first) if message::raw_code(&first) >> 5 == 2 => {
                self.client.stats().reregistrations.fetch_add(1, Ordering::Relaxed);
                self.retry_pause = Duration::from_secs(1);
                self.observable = message::uint_option(&first, CoapOption::Observe).is_some();
                let event = self.accept(first, true).await;
                self.pending = event;
                Ok(ObserveEvent::Reregistered(format!("registered again with {}", self.url.address())))
            }
            Ok(answer) => {
                let pause = self.pause().await;
                Err(ObserveEvent::Problem(format!(
                    "the server answered the registration with {}; trying again in {:.0} s",
                    message::code_text(message::raw_code(&answer)),
                    pause.as_secs_f64()
                )))
            }
            Err(error) => {
                let pause = self.pause().await;
                Err(ObserveEvent::Problem(format!("{error}; registering again in {:.0} s", pause.as_secs_f64())))
            }
        }
    }

    async fn pause(&mut self) -> Duration {
        let pause = self.retry_pause;
        tokio::time::sleep(pause).await;
        self.retry_pause = (self.retry_pause * 2).min(MAX_RETRY_PAUSE);
        pause
    }

    /// Takes a response on our token: drops a stale one, counts gaps, completes blocks. `registration` marks
    /// the answer to a registration, which is always fresh and restarts the numbering.
    async fn accept(&mut self, packet: Packet, registration: bool) -> Option<ObserveEvent> {
        let now = Instant::now();
        let code = message::raw_code(&packet);
        let sequence = message::uint_option(&packet, CoapOption::Observe);
        let Some(sequence) = sequence else {
            // A response without Observe ends the observation (RFC 7641 §3.2).
            self.registered = false;
            if registration || code >> 5 == 2 {
                let response = Response::from_packet(&packet);
                return Some(ObserveEvent::Notification { response, lost_before: 0, at: now });
            }
            return Some(ObserveEvent::Problem(format!(
                "the server ended the observation with {}; registering again",
                message::code_text(code)
            )));
        };
        let mut lost_before = 0;
        if !registration && let Some((newest, at)) = self.newest {
            if !is_fresh(newest, sequence, now.duration_since(at)) {
                self.client.stats().stale_notifications.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            lost_before = sequence.wrapping_sub(newest).wrapping_sub(1) % SEQUENCE_MODULUS;
            if lost_before > 1024 {
                lost_before = 0; // a restarted numbering, not a loss
            }
            self.client.stats().lost_notifications.fetch_add(u64::from(lost_before), Ordering::Relaxed);
        }
        self.newest = Some((sequence, now));
        self.registered = code >> 5 == 2;
        let mut response = Response::from_packet(&packet);
        self.due = now + Duration::from_secs(u64::from(response.max_age_s));
        if message::block(&packet, CoapOption::Block2).is_some_and(|b| b.more) {
            match self.client.rest_of_blocks(&self.url, &packet).await {
                Ok(body) => response.payload = body,
                Err(error) => {
                    return Some(ObserveEvent::Problem(format!("could not read the rest of a notification: {error}")));
                }
            }
        }
        Some(ObserveEvent::Notification { response, lost_before, at: now })
    }
}

/// RFC 7641 §3.4: whether notification `v2` is newer than `v1`, received `elapsed` after it.
pub fn is_fresh(v1: u32, v2: u32, elapsed: Duration) -> bool {
    const HALF: u32 = 1 << 23;
    (v1 < v2 && v2 - v1 < HALF) || (v1 > v2 && v1 - v2 > HALF) || elapsed > Duration::from_secs(128)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freshness_follows_the_rfc() {
        let soon = Duration::from_secs(1);
        assert!(is_fresh(5, 6, soon));
        assert!(!is_fresh(6, 5, soon), "an older notification is stale");
        assert!(!is_fresh(6, 6, soon), "a repeat is stale");
        assert!(is_fresh((1 << 24) - 1, 0, soon), "the 24-bit number wraps");
        assert!(is_fresh(6, 5, Duration::from_secs(129)), "after 128 s anything is fresh");
    }
}
