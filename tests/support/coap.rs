//! A real CoAP server for the tests (aiocoap, tests/support/coap_server.py) on 127.0.0.1, and a UDP relay
//! between a client and it that can drop chosen datagrams (a lost notification, a lost request).
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

/// The aiocoap server, with its stdout lines collected.
pub struct Server {
    child: Child,
    _stdin: ChildStdin,
    pub port: u16,
    lines: Arc<Mutex<Vec<String>>>,
}

/// A UDP port that was free a moment ago.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts the server on `port` with extra arguments (`--start 50`, `--max-age 1` …).
    pub fn start(port: u16, args: &[&str]) -> Server {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/coap_server.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(["--port", &port.to_string()])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("python3 runs (pip install aiocoap cbor2; scripts/test.sh installs them)");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = mpsc::channel();
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line == "ready" {
                    let _ = ready_tx.send(());
                }
                collected.lock().unwrap().push(line);
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(20)).expect("the CoAP server did not start (is aiocoap installed?)");
        Server { child, _stdin: stdin, port, lines }
    }

    /// `coap://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("coap://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until the server printed `line`.
    pub fn wait_for_line(&self, line: &str, timeout: Duration) -> bool {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if self.lines.lock().unwrap().iter().any(|l| l == line) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// What it printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Kills it at once (no deregistration, no goodbye): a server that crashed or lost power.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Which way a relayed datagram goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Way {
    ToServer,
    ToClient,
}

/// A relayed datagram: which way, its bytes, and whether it was dropped.
pub type Relayed = (Way, Vec<u8>, bool);

/// Decides whether to drop a datagram (true = drop).
pub type DropRule = Box<dyn FnMut(Way, &[u8]) -> bool + Send>;

/// A UDP relay for one client: clients talk to [`Relay::port`], the relay talks to the server.
pub struct Relay {
    pub port: u16,
    stop: Arc<AtomicBool>,
    /// Every datagram seen, with whether it was dropped.
    pub seen: Arc<Mutex<Vec<Relayed>>>,
}

impl Relay {
    pub fn start(server_port: u16, rule: DropRule) -> Relay {
        let front = UdpSocket::bind("127.0.0.1:0").unwrap();
        let back = UdpSocket::bind("127.0.0.1:0").unwrap();
        back.connect(("127.0.0.1", server_port)).unwrap();
        front.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        back.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
        let port = front.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (stop2, seen2) = (stop.clone(), seen.clone());
        std::thread::spawn(move || {
            let mut rule = rule;
            let mut client: Option<SocketAddr> = None;
            let mut buffer = [0u8; 65_536];
            while !stop2.load(Ordering::Relaxed) {
                if let Ok((len, from)) = front.recv_from(&mut buffer) {
                    client = Some(from);
                    let dropped = rule(Way::ToServer, &buffer[..len]);
                    seen2.lock().unwrap().push((Way::ToServer, buffer[..len].to_vec(), dropped));
                    if !dropped {
                        let _ = back.send(&buffer[..len]);
                    }
                }
                if let Ok(len) = back.recv(&mut buffer)
                    && let Some(client) = client
                {
                    let dropped = rule(Way::ToClient, &buffer[..len]);
                    seen2.lock().unwrap().push((Way::ToClient, buffer[..len].to_vec(), dropped));
                    if !dropped {
                        let _ = front.send_to(&buffer[..len], client);
                    }
                }
            }
        });
        Relay { port, stop, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("coap://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// The Observe number of a datagram, if it carries one (option 6), read without our own code.
pub fn observe_number(datagram: &[u8]) -> Option<u32> {
    let packet = coap_lite::Packet::from_bytes(datagram).ok()?;
    let bytes = packet.get_first_option(coap_lite::CoapOption::Observe)?;
    Some(bytes.iter().fold(0u32, |v, &b| (v << 8) | u32::from(b)))
}
