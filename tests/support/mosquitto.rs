//! A throwaway mosquitto broker for tests: a fresh config file on a free loopback port (and, when asked, a
//! TLS listener on a second one), started by the test, waited for, killed on drop.
//!
//! It runs the Debian `mosquitto` binary (`.ci/run` installs it with `mosquitto-clients`, whose
//! `mosquitto_sub`/`mosquitto_pub` the tests use as independent peers). A missing binary is a panic with the
//! install command, never a silent skip. TLS certificates are made in the test with rcgen: [`TestPki`].
//!
//! Include it with `#[path = "support/mosquitto.rs"] mod mosquitto;`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The mosquitto binary, or a panic that says how to install it.
pub fn mosquitto_bin() -> PathBuf {
    for candidate in ["/usr/sbin/mosquitto", "/usr/bin/mosquitto", "/usr/local/sbin/mosquitto"] {
        if Path::new(candidate).exists() {
            return PathBuf::from(candidate);
        }
    }
    panic!(
        "the MQTT tests need mosquitto: install it with \
         `apt-get update && apt-get install -y --no-install-recommends mosquitto mosquitto-clients` (.ci/run does this)"
    );
}

/// Checks that `mosquitto_sub`/`mosquitto_pub` are installed, or panics with the install command.
pub fn clients() {
    for tool in ["mosquitto_sub", "mosquitto_pub"] {
        let found = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().unwrap().status.success();
        assert!(found, "the MQTT tests need {tool}: `apt-get install -y mosquitto-clients` (.ci/run does this)");
    }
}

/// A free loopback port (free when asked; a test starts its server right away).
pub fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap().local_addr().unwrap().port()
}

/// A CA, a server certificate for 127.0.0.1/localhost signed by it, and an unrelated second CA, as PEM files.
pub struct TestPki {
    /// The folder holding the files.
    pub dir: tempfile::TempDir,
    /// The CA that signed the server's certificate.
    pub ca: PathBuf,
    /// A CA that signed nothing here.
    pub wrong_ca: PathBuf,
    /// The server's certificate.
    pub server_cert: PathBuf,
    /// The server's key.
    pub server_key: PathBuf,
    /// A client certificate signed by the CA.
    pub client_cert: PathBuf,
    /// The client certificate's key.
    pub client_key: PathBuf,
}

impl TestPki {
    /// Makes the certificates.
    pub fn new() -> TestPki {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, SanType};
        let dir = tempfile::tempdir().unwrap();
        let make_ca = |name: &str| {
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.distinguished_name.push(DnType::CommonName, name);
            let cert = params.self_signed(&key).unwrap();
            (params, key, cert)
        };
        let (ca_params, ca_key, ca_cert) = make_ca("Benchtop test CA");
        let (_, _, wrong_cert) = make_ca("Some other CA");
        let server_key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        params.subject_alt_names.push(SanType::IpAddress(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, "localhost");
        let issuer = Issuer::from_params(&ca_params, &ca_key);
        let server_cert = params.signed_by(&server_key, &issuer).unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        client_params.distinguished_name.push(DnType::CommonName, "bench-client");
        let client_cert = client_params.signed_by(&client_key, &issuer).unwrap();
        let write = |name: &str, pem: String| {
            let path = dir.path().join(name);
            fs::write(&path, pem).unwrap();
            path
        };
        TestPki {
            ca: write("ca.pem", ca_cert.pem()),
            wrong_ca: write("wrong-ca.pem", wrong_cert.pem()),
            server_cert: write("server.pem", server_cert.pem()),
            server_key: write("server.key", server_key.serialize_pem()),
            client_cert: write("client.pem", client_cert.pem()),
            client_key: write("client.key", client_key.serialize_pem()),
            dir,
        }
    }
}

/// A running mosquitto of its own.
pub struct Mosquitto {
    child: Option<Child>,
    dir: tempfile::TempDir,
    config: PathBuf,
    /// Plain MQTT port on 127.0.0.1.
    pub port: u16,
    /// TLS port on 127.0.0.1, when started with TLS.
    pub tls_port: Option<u16>,
    /// TLS port that also requires a client certificate signed by the CA, when started with TLS.
    pub client_cert_port: Option<u16>,
}

impl Mosquitto {
    /// Starts a broker with one plain listener.
    pub fn start() -> Mosquitto {
        Mosquitto::start_with(None, None)
    }

    /// Starts a broker with a plain listener, a TLS listener using `pki`'s server certificate, and a TLS
    /// listener that also requires a client certificate.
    pub fn start_tls(pki: &TestPki) -> Mosquitto {
        Mosquitto::start_with(Some(pki), None)
    }

    /// Starts a broker with a plain listener that only lets `user` in with `password`.
    pub fn start_with_password(user: &str, password: &str) -> Mosquitto {
        Mosquitto::start_with(None, Some((user, password)))
    }

    fn start_with(pki: Option<&TestPki>, login: Option<(&str, &str)>) -> Mosquitto {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let anonymous = login.is_none();
        // As root, mosquitto would switch to the `mosquitto` user and could not read the files in our
        // private temporary folder; `user root` keeps it as it is.
        let mut config = format!(
            "user root\npersistence false\nlog_dest stderr\nlog_type error\n\
             listener {port} 127.0.0.1\nallow_anonymous {anonymous}\n"
        );
        if let Some((user, password)) = login {
            let file = dir.path().join("passwords");
            let status = Command::new("mosquitto_passwd")
                .args(["-b", "-c"])
                .arg(&file)
                .args([user, password])
                .status()
                .expect("running mosquitto_passwd (package mosquitto)");
            assert!(status.success());
            config.push_str(&format!("password_file {}\n", file.display()));
        }
        let (mut tls_port, mut client_cert_port) = (None, None);
        if let Some(pki) = pki {
            let files = format!(
                "cafile {}\ncertfile {}\nkeyfile {}\n",
                pki.ca.display(),
                pki.server_cert.display(),
                pki.server_key.display()
            );
            let (plain, with_client) = (free_port(), free_port());
            config.push_str(&format!("listener {plain} 127.0.0.1\n{files}"));
            config.push_str(&format!("listener {with_client} 127.0.0.1\n{files}require_certificate true\n"));
            (tls_port, client_cert_port) = (Some(plain), Some(with_client));
        }
        let config_path = dir.path().join("mosquitto.conf");
        fs::write(&config_path, config).unwrap();
        let mut broker = Mosquitto { child: None, dir, config: config_path, port, tls_port, client_cert_port };
        broker.resume();
        broker
    }

    /// `mqtt://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mqtt://127.0.0.1:{}", self.port)
    }

    /// Kills the broker (as a crash would: no goodbye to the clients).
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and waits until it accepts connections.
    pub fn resume(&mut self) {
        assert!(self.child.is_none(), "the broker is already running");
        let child = Command::new(mosquitto_bin())
            .arg("-c")
            .arg(&self.config)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Its log (a warning about running as root, TLS handshakes the tests fail on purpose) is shown
            // only when it does not start.
            .stderr(fs::File::create(self.dir.path().join("mosquitto.log")).unwrap())
            .spawn()
            .expect("starting mosquitto");
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        for port in std::iter::once(self.port).chain(self.tls_port).chain(self.client_cert_port) {
            while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
                if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                    let log = fs::read_to_string(self.dir.path().join("mosquitto.log")).unwrap_or_default();
                    panic!("mosquitto exited with {status} before listening on port {port}:\n{log}");
                }
                assert!(Instant::now() < deadline, "mosquitto did not listen on port {port} within {START_TIMEOUT:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `mosquitto_sub` running in the background, its output collected line by line.
pub struct Subscriber {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Subscriber {
    /// `mosquitto_sub -p PORT -v -t FILTER` plus `extra` arguments; returns once it is subscribed (it
    /// prints nothing until then, so this waits for the broker to count the subscription via a probe).
    pub fn start(port: u16, filter: &str, extra: &[&str]) -> Subscriber {
        clients();
        let mut child = Command::new("mosquitto_sub")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-v", "-t", filter])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("starting mosquitto_sub");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // mosquitto_sub subscribes within a few milliseconds of starting; there is no signal for it.
        std::thread::sleep(Duration::from_millis(300));
        Subscriber { child, lines }
    }

    /// Lines until `done` says enough or `timeout` passes.
    pub fn collect_until(&self, timeout: Duration, mut done: impl FnMut(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut lines = Vec::new();
        while !done(&lines) {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => lines.push(line),
                Err(_) => break,
            }
        }
        lines
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `mosquitto_pub -p PORT -t TOPIC -m MESSAGE` plus `extra` arguments, waiting for it to finish.
pub fn publish(port: u16, topic: &str, message: &str, extra: &[&str]) {
    publish_with(port, topic, &["-m", message], extra);
}

/// `mosquitto_pub -p PORT -t TOPIC -f FILE`: the file's bytes as the payload.
pub fn publish_file(port: u16, topic: &str, file: &Path) {
    publish_with(port, topic, &["-f", file.to_str().unwrap()], &[]);
}

fn publish_with(port: u16, topic: &str, message: &[&str], extra: &[&str]) {
    clients();
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", topic])
        .args(message)
        .args(extra)
        .status()
        .expect("running mosquitto_pub");
    assert!(status.success(), "mosquitto_pub -t {topic} {message:?} failed");
}
