#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! CoAP against a real server (aiocoap on 127.0.0.1, started here): GET of every payload kind, block-wise both
//! ways, discovery, Observe with several notifications and a clean deregistration, a lost notification, a
//! server restart mid-observation, CON retransmission, a malformed datagram, and the CLI including the
//! "Done when" check: `benchtop record coap://…/temperature` records the notifications of a changing resource.

#[path = "support/coap.rs"]
mod coap;

use std::net::UdpSocket;
use std::process::Command;
use std::time::{Duration, Instant};

use benchtop::coap::message::summary;
use benchtop::coap::{CoapBoard, CoapClient, CoapError, CoapUrl, Method, Observation, ObserveEvent};
use benchtop::io::Telemetry;
use coap::{Relay, Server, Way};

const BIN: &str = env!("CARGO_BIN_EXE_benchtop");

fn url(text: &str) -> CoapUrl {
    CoapUrl::parse(text).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The summaries of every datagram the client sent and received so far.
fn summaries(listener: &mut benchtop::io::capture::FrameListener) -> Vec<String> {
    listener
        .drain(usize::MAX)
        .iter()
        .map(|frame| format!("{} {}", frame.direction.verb(), summary(&frame.bytes)))
        .collect()
}

#[test]
fn get_reads_text_json_senml_and_a_large_body_in_blocks() {
    let server = Server::start(coap::free_udp_port(), &[]);
    runtime().block_on(async {
        let client = CoapClient::connect(&url(&server.url("/temperature"))).await.unwrap();
        let mut datagrams = client.datagrams();

        let temperature = client.get(&url(&server.url("/temperature"))).await.unwrap();
        assert_eq!(temperature.code_text(), "2.05 Content");
        let value: f64 = temperature.payload_text().parse().unwrap();
        assert!((20.0..100.0).contains(&value), "{value}");

        let humidity = client.get(&url(&server.url("/humidity"))).await.unwrap();
        assert_eq!(humidity.content_format, Some(50));
        assert!(humidity.payload_text().contains("%RH"));

        let senml = client.get(&url(&server.url("/senml"))).await.unwrap();
        assert_eq!(senml.content_format, Some(112));
        let decoding = benchtop::coap::decode::payload_decoding(&url(&server.url("/senml"))).unwrap();
        match benchtop::coap::decode::read(&decoding, "/senml", senml.content_format, &senml.payload) {
            benchtop::mqtt::decode::Reading::Values(values) => {
                assert_eq!(values, [("/senml/dev1/temp".to_string(), 21.5), ("/senml/dev1/hum".to_string(), 40.0)])
            }
            other => panic!("{other:?}"),
        }

        // 3000 bytes do not fit one message: the server sends Block2 and the client follows it to the end.
        let large = client.get(&url(&server.url("/large"))).await.unwrap();
        assert_eq!(large.payload.len(), 3000);
        assert!(large.payload.starts_with(b"0123456789abcdefghijklmnopqrstuvwxyz\n"));
        // Asking for small blocks: 3000 / 256 → 12 blocks.
        let small = client.get(&url(&server.url("/large?block=256"))).await.unwrap();
        assert_eq!(small.payload, large.payload);
        let seen = summaries(&mut datagrams);
        let block_requests =
            seen.iter().filter(|s| s.starts_with("sent CON GET /large") && s.contains("block2=")).count();
        assert!(block_requests >= 2 + 12, "block-wise GETs: {seen:#?}");
        assert!(seen.iter().any(|s| s.starts_with("received ACK 2.05 Content block2=11/256 (184 B)")), "{seen:#?}");

        // Non-confirmable: no ACK, the response comes as its own NON message.
        let non = client.get(&url(&server.url("/config?type=non"))).await.unwrap();
        assert_eq!(non.payload, b"interval=60");
        let seen = summaries(&mut datagrams);
        assert!(seen.iter().any(|s| s.starts_with("sent NON GET /config")), "{seen:#?}");
        assert!(seen.iter().any(|s| s.starts_with("received NON 2.05 Content")), "{seen:#?}");

        let missing = client.get(&url(&server.url("/nothing"))).await.unwrap();
        assert_eq!(missing.code_text(), "4.04 Not Found");
        assert!(!missing.is_success());
    });
}

#[test]
fn put_and_post_write_including_a_body_in_blocks() {
    let server = Server::start(coap::free_udp_port(), &[]);
    runtime().block_on(async {
        let config = url(&server.url("/config"));
        let client = CoapClient::connect(&config).await.unwrap();
        let changed = client.request(Method::Put, &config, b"interval=30", Some(0)).await.unwrap();
        assert_eq!(changed.code_text(), "2.04 Changed");
        assert_eq!(client.get(&config).await.unwrap().payload, b"interval=30");
        let created = client.request(Method::Post, &config, b";adr=on", Some(0)).await.unwrap();
        assert_eq!(created.code_text(), "2.01 Created");
        assert_eq!(client.get(&config).await.unwrap().payload, b"interval=30;adr=on");

        // 2500 bytes go as Block1 blocks of 1024; the server reassembles them.
        let mut datagrams = client.datagrams();
        let big: Vec<u8> = (0..2500).map(|i| b'a' + (i % 26) as u8).collect();
        let done = client.request(Method::Put, &config, &big, Some(0)).await.unwrap();
        assert_eq!(done.code_text(), "2.04 Changed");
        assert!(server.wait_for_line("put /config 2500", Duration::from_secs(5)), "{:?}", server.lines());
        let seen = summaries(&mut datagrams);
        assert_eq!(seen.iter().filter(|s| s.starts_with("sent CON PUT /config block1=")).count(), 3, "{seen:#?}");
        assert_eq!(client.get(&config).await.unwrap().payload, big);
    });
}

#[test]
fn discovery_lists_the_resources_with_their_attributes() {
    let server = Server::start(coap::free_udp_port(), &[]);
    runtime().block_on(async {
        let root = url(&server.url(""));
        let client = CoapClient::connect(&root).await.unwrap();
        let (resources, problems) = benchtop::coap::discovery::discover(&client, &root).await.unwrap();
        assert!(problems.is_empty(), "{problems:?}");
        let temperature = resources.iter().find(|r| r.path == "/temperature").unwrap();
        assert!(temperature.observable);
        assert_eq!(temperature.resource_types, ["temperature-c"]);
        for path in ["/humidity", "/senml", "/large", "/config"] {
            assert!(resources.iter().any(|r| r.path == path), "{path} missing from {resources:?}");
        }
        assert!(!resources.iter().find(|r| r.path == "/config").unwrap().observable);
    });
}

#[test]
fn observe_delivers_notifications_in_order_and_deregisters() {
    let server = Server::start(coap::free_udp_port(), &["--period", "0.1"]);
    runtime().block_on(async {
        let temperature = url(&server.url("/temperature"));
        let client = CoapClient::connect(&temperature).await.unwrap();
        let mut observation = Observation::register(&client, &temperature).await.unwrap();
        assert!(observation.observable());
        assert!(server.wait_for_line("observers /temperature 1", Duration::from_secs(5)));
        let mut values = Vec::new();
        let mut sequence = Vec::new();
        while values.len() < 8 {
            match tokio::time::timeout(Duration::from_secs(5), observation.next()).await.unwrap() {
                ObserveEvent::Notification { response, lost_before, .. } => {
                    assert_eq!(lost_before, 0);
                    sequence.push(response.observe.unwrap());
                    values.push(response.payload_text().parse::<f64>().unwrap());
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        assert!(sequence.windows(2).all(|w| w[1] == w[0] + 1), "Observe numbers {sequence:?}");
        assert!(values.windows(2).all(|w| w[1] > w[0]), "the value changes every notification: {values:?}");
        observation.cancel(Duration::from_secs(3)).await.unwrap();
        assert!(server.wait_for_line("observers /temperature 0", Duration::from_secs(5)), "{:?}", server.lines());
        assert_eq!(client.stats().snapshot().lost_notifications, 0);
    });
}

#[test]
fn a_notification_larger_than_a_block_is_completed_with_gets() {
    let server = Server::start(coap::free_udp_port(), &[]);
    runtime().block_on(async {
        let chunked = url(&server.url("/chunked"));
        let client = CoapClient::connect(&chunked).await.unwrap();
        let mut datagrams = client.datagrams();
        let mut observation = Observation::register(&client, &chunked).await.unwrap();
        let mut bodies = Vec::new();
        while bodies.len() < 3 {
            match tokio::time::timeout(Duration::from_secs(5), observation.next()).await.unwrap() {
                ObserveEvent::Notification { response, .. } => bodies.push(response.payload_text()),
                other => panic!("unexpected {other:?}"),
            }
        }
        for body in &bodies {
            // 300 bytes of one version: every block of a notification comes from the same reading.
            assert_eq!(body.len(), 300, "{body}");
            let first = body.split("; ").next().unwrap();
            assert!(
                body.split("; ").filter(|part| !part.is_empty()).all(|part| first.starts_with(part) || part == first),
                "{body}"
            );
        }
        assert_ne!(bodies[0], bodies[2], "the resource changes");
        let seen = summaries(&mut datagrams);
        assert!(
            seen.iter().any(|s| s.starts_with("received NON 2.05 Content obs=") && s.contains("block2=0+/64")),
            "{seen:#?}"
        );
        assert!(seen.iter().any(|s| s.starts_with("sent CON GET /chunked block2=4/64")), "{seen:#?}");
        observation.cancel(Duration::from_secs(3)).await.unwrap();
    });
}

#[test]
fn a_lost_notification_is_counted_and_the_observation_goes_on() {
    let server = Server::start(coap::free_udp_port(), &["--period", "0.1"]);
    // The relay drops the notification numbered 3 on its way to the client (NON: nobody resends it).
    let relay = Relay::start(
        server.port,
        Box::new(|way, datagram| way == Way::ToClient && coap::observe_number(datagram) == Some(3)),
    );
    runtime().block_on(async {
        let temperature = url(&relay.url("/temperature"));
        let (board, mut telemetry) = CoapBoard::open(&temperature, 1024).await.unwrap();
        let mut values = 0;
        let mut lost_lines = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while values < 8 && Instant::now() < deadline {
            match tokio::time::timeout(Duration::from_secs(5), telemetry.rx.recv()).await.unwrap().unwrap() {
                Telemetry::Text { values: read, .. } => {
                    assert_eq!(read.len(), 1);
                    assert_eq!(read[0].0, "/temperature");
                    values += 1;
                }
                Telemetry::Log { line, .. } => lost_lines.push(line.text.to_string()),
                _ => {}
            }
        }
        assert_eq!(values, 8);
        // The capture list gets every datagram from the registration on.
        let seen = summaries(&mut board.frames());
        assert!(seen[0].starts_with("sent CON GET /temperature obs=0"), "{seen:#?}");
        assert!(seen[1].starts_with("received ACK 2.05 Content obs=0"), "{seen:#?}");
        assert_eq!(board.coap_stats().snapshot().lost_notifications, 1);
        assert!(
            lost_lines.iter().any(|l| l == "1 notification of /temperature lost (the Observe numbers skip)"),
            "{lost_lines:?}"
        );
        assert!(
            relay.seen.lock().unwrap().iter().any(|(_, d, dropped)| *dropped && coap::observe_number(d) == Some(3))
        );
        board.stop().await;
    });
    assert!(server.wait_for_line("observers /temperature 0", Duration::from_secs(5)), "{:?}", server.lines());
}

#[test]
fn an_observation_survives_a_server_restart() {
    let port = coap::free_udp_port();
    let server = Server::start(port, &["--period", "0.1", "--max-age", "1"]);
    runtime().block_on(async {
        let temperature = url(&format!("coap://127.0.0.1:{port}/temperature?ack_timeout=200ms"));
        let (board, mut telemetry) = CoapBoard::open(&temperature, 1024).await.unwrap();
        let mut next_value = async || loop {
            match tokio::time::timeout(Duration::from_secs(20), telemetry.rx.recv()).await.unwrap().unwrap() {
                Telemetry::Text { values, .. } => return values[0].1,
                _ => continue,
            }
        };
        let before = next_value().await;
        assert!(before < 40.0, "{before}");
        // The server dies without a word and comes back on the same port, counting from 50.
        server.kill();
        tokio::time::sleep(Duration::from_millis(500)).await;
        let restarted = Server::start(port, &["--period", "0.1", "--max-age", "1", "--start", "50"]);
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut after = before;
        while after < 50.0 {
            assert!(Instant::now() < deadline, "no notification from the restarted server");
            after = next_value().await;
        }
        assert!(restarted.wait_for_line("observers /temperature 1", Duration::from_secs(5)));
        assert!(board.coap_stats().snapshot().reregistrations >= 1);
        board.stop().await;
        assert!(restarted.wait_for_line("observers /temperature 0", Duration::from_secs(5)), "{:?}", restarted.lines());
    });
}

#[test]
fn a_confirmable_request_is_retransmitted_with_the_same_message_id() {
    let server = Server::start(coap::free_udp_port(), &[]);
    let mut dropped = 0;
    // The first two transmissions of the request are lost.
    let relay = Relay::start(
        server.port,
        Box::new(move |way, _| {
            if way == Way::ToServer && dropped < 2 {
                dropped += 1;
                return true;
            }
            false
        }),
    );
    runtime().block_on(async {
        let config = url(&relay.url("/config?ack_timeout=100ms"));
        let client = CoapClient::connect(&config).await.unwrap();
        let started = Instant::now();
        let response = client.get(&config).await.unwrap();
        assert_eq!(response.payload, b"interval=60");
        // Waits of 100–150 ms, then 200–300 ms before the third transmission.
        assert!(started.elapsed() >= Duration::from_millis(300), "{:?}", started.elapsed());
        assert_eq!(client.stats().snapshot().retransmissions, 2);
    });
    let seen = relay.seen.lock().unwrap();
    let requests: Vec<u16> = seen
        .iter()
        .filter(|(way, _, _)| *way == Way::ToServer)
        .map(|(_, d, _)| u16::from_be_bytes([d[2], d[3]]))
        .collect();
    assert_eq!(requests.len(), 3);
    assert!(requests.iter().all(|mid| *mid == requests[0]), "one message id for all transmissions: {requests:?}");
}

#[test]
fn nothing_listening_and_a_server_that_never_answers_give_clear_errors() {
    runtime().block_on(async {
        // Nothing on the port: the network says so and the request fails at once.
        let closed = url(&format!("coap://127.0.0.1:{}/temperature", coap::free_udp_port()));
        let client = CoapClient::connect(&closed).await.unwrap();
        let started = Instant::now();
        let error = client.get(&closed).await.unwrap_err();
        assert!(matches!(error, CoapError::Unreachable { .. }), "{error}");
        assert!(error.to_string().starts_with("nothing answers CoAP at 127.0.0.1:"), "{error}");
        assert!(started.elapsed() < Duration::from_secs(2));

        // A socket that reads and never answers: every retransmission, then a timeout naming the attempts.
        let silent = UdpSocket::bind("127.0.0.1:0").unwrap();
        let quiet = url(&format!("coap://127.0.0.1:{}/t?ack_timeout=20ms", silent.local_addr().unwrap().port()));
        let client = CoapClient::connect(&quiet).await.unwrap();
        let error = client.get(&quiet).await.unwrap_err();
        assert!(error.to_string().starts_with("no answer from 127.0.0.1:"), "{error}");
        assert!(error.to_string().contains("after 5 transmissions"), "{error}");
    });
}

#[test]
fn a_malformed_datagram_is_reported_and_nothing_breaks() {
    // A "server" that answers every request with bytes that are not CoAP, then, once, with a real response.
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = socket.local_addr().unwrap().port();
    let answering = std::thread::spawn(move || {
        let mut buffer = [0u8; 2048];
        socket.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        // Until the test stops asking.
        while let Ok((len, from)) = socket.recv_from(&mut buffer) {
            let request = coap_lite::Packet::from_bytes(&buffer[..len]).unwrap();
            // Version 0 and a token length of 12: not CoAP.
            socket.send_to(&[0x0c, 0x45, 0x00, 0x01, 0xde, 0xad], from).unwrap();
            if request.get_first_option(coap_lite::CoapOption::UriPath).map(Vec::as_slice) == Some(b"good") {
                let mut reply = coap_lite::Packet::new();
                reply.header.set_type(coap_lite::MessageType::Acknowledgement);
                reply.header.message_id = request.header.message_id;
                reply.header.code = coap_lite::MessageClass::Response(coap_lite::ResponseType::Content);
                reply.set_token(request.get_token().to_vec());
                reply.payload = b"7".to_vec();
                socket.send_to(&reply.to_bytes().unwrap(), from).unwrap();
            }
        }
    });
    runtime().block_on(async {
        let bad = url(&format!("coap://127.0.0.1:{port}/bad?ack_timeout=20ms"));
        let client = CoapClient::connect(&bad).await.unwrap();
        let error = client.get(&bad).await.unwrap_err();
        let text = error.to_string();
        assert!(text.contains("the server sent a datagram that is not CoAP: version 0 where CoAP has 1"), "{text}");
        assert!(client.stats().snapshot().malformed >= 1);
        // The same client goes on: a good answer after a bad datagram is read.
        let good = client.get(&url(&format!("coap://127.0.0.1:{port}/good?ack_timeout=20ms"))).await.unwrap();
        assert_eq!(good.payload, b"7");

        // As a source: the value is plotted and the bad datagram is a log line, not a crash.
        let source = url(&format!("coap://127.0.0.1:{port}/good?observe=off&ack_timeout=20ms"));
        let (_board, mut telemetry) = CoapBoard::open(&source, 64).await.unwrap();
        let (mut value, mut logged) = (None, None);
        while value.is_none() || logged.is_none() {
            match tokio::time::timeout(Duration::from_secs(5), telemetry.rx.recv()).await.unwrap().unwrap() {
                Telemetry::Text { values, .. } => value = Some(values[0].clone()),
                Telemetry::Log { line, .. } => logged = Some(line.text.to_string()),
                _ => {}
            }
        }
        assert_eq!(value, Some(("/good".to_string(), 7.0)));
        assert!(logged.unwrap().starts_with("the server sent a datagram that is not CoAP"));
    });
    answering.join().unwrap();
}

#[test]
fn the_cli_gets_puts_discovers_and_records_an_observed_resource() {
    let server = Server::start(coap::free_udp_port(), &["--period", "0.1"]);
    let run = |args: &[&str]| {
        let output = Command::new(BIN).args(args).output().unwrap();
        (output.status.code(), String::from_utf8(output.stdout).unwrap(), String::from_utf8(output.stderr).unwrap())
    };

    let (code, out, err) = run(&["coap", "get", &server.url("/humidity"), "--json"]);
    assert_eq!(code, Some(0), "{err}");
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(json["code"], "2.05 Content");
    assert_eq!(json["values"][0]["resource"], "/humidity");

    let (code, out, err) = run(&["coap", "put", &server.url("/config"), "--payload", "interval=15"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.starts_with("2.04 Changed"), "{out}");
    let (_, out, _) = run(&["coap", "get", &server.url("/config")]);
    assert!(out.contains("interval=15"), "{out}");
    let (code, _, err) = run(&["coap", "put", &server.url("/config"), "--payload", "0g", "--hex"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("nothing was sent"), "{err}");

    let (code, out, _) = run(&["coap", "get", &server.url("/nothing")]);
    assert_eq!(code, Some(1));
    assert!(out.starts_with("4.04 Not Found"), "{out}");

    let (code, out, err) = run(&["coap", "discover", &server.url("")]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.lines().any(|l| l.starts_with("/temperature") && l.contains("observable · rt=temperature-c")), "{out}");

    // Done when: `benchtop record coap://…/temperature` records the notifications of a changing resource.
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("temperature.csv");
    let (code, out, err) = run(&[
        "record",
        &server.url("/temperature"),
        "--duration",
        "2s",
        "--out",
        csv_path.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let summary: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    let text = std::fs::read_to_string(&csv_path).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("time,resource,value"));
    let rows: Vec<(String, String, f64)> = lines
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            (fields[0].to_string(), fields[1].to_string(), fields[2].parse().unwrap())
        })
        .collect();
    assert!(rows.len() >= 10, "2 s of notifications every 0.1 s: {} rows", rows.len());
    assert_eq!(summary["rows"], rows.len());
    assert!(rows.iter().all(|(time, resource, _)| time.ends_with('Z') && resource == "/temperature"));
    assert!(rows.windows(2).all(|w| w[1].2 > w[0].2), "the resource changes with every notification");
    // The observation was deregistered when the recording ended.
    assert!(server.wait_for_line("observers /temperature 0", Duration::from_secs(5)), "{:?}", server.lines());
}
