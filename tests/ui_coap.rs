#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! The CoAP section of the devices panel, driven headless through egui_kittest against a real aiocoap server
//! (tests/support/coap_server.py): discovery lists the resources, Observe opens one as the window's source and
//! its values are plotted, and the write form PUTs to /config and shows the server's answer. A server that is
//! not there is a sentence in the panel.

#[path = "support/coap.rs"]
mod coap;
#[path = "support/window.rs"]
mod window;

use std::time::Duration;

use benchtop::ui::BenchtopApp;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

fn discover(harness: &mut Harness<'static, BenchtopApp>, server: &str) {
    window::type_into(harness, "Server", server);
    assert_eq!(harness.state_mut().coap_panel().server, server);
    harness.get_by_label("Discover").click();
    harness.run_steps(2);
    window::step_until(harness, "the discovery to end", 20, |h| !h.state_mut().coap_panel().discovering());
}

#[test]
fn discover_observe_and_write_to_a_coap_server() {
    let server = coap::Server::start(coap::free_udp_port(), &[]);
    let mut harness = window::connected("sim:seed=6");
    discover(&mut harness, &format!("coap://127.0.0.1:{}", server.port));
    let discovered = harness.state_mut().coap_panel().discovered().expect("a resource list");
    let temperature = discovered.resources.iter().find(|r| r.path == "/temperature").expect("/temperature listed");
    assert!(temperature.observable, "{temperature:?}");
    assert!(discovered.resources.iter().any(|r| r.path == "/config" && !r.observable));
    harness.get_by_label("/temperature");
    // Observable resources get Observe, the others Read.
    assert_eq!(harness.query_all_by_label("Observe").count(), 3, "/temperature, /humidity and /chunked");
    assert!(harness.query_all_by_label("Read").count() >= 3, "/senml, /large, /config");

    // The first Observe is /temperature's (the server lists it before /humidity).
    harness.query_all_by_label("Observe").next().unwrap().click();
    harness.run_steps(2);
    let source = format!("coap://127.0.0.1:{}/temperature", server.port);
    assert!(server.wait_for_line("observers /temperature 1", Duration::from_secs(10)), "{:?}", server.lines());
    window::step_until(&mut harness, "plotted /temperature values", 15, |h| {
        h.state().devices().iter().any(|d| {
            d.source == source
                && d.live.as_ref().is_some_and(|live| {
                    live.channels.iter().any(|c| c.name == "/temperature" && c.series.samples_total() >= 2)
                })
        })
    });
    let plotted = harness.state().devices().iter().find(|d| d.source == source).unwrap();
    let channel = plotted.live.as_ref().unwrap().channels.iter().find(|c| c.name == "/temperature").unwrap();
    let (_, value) = channel.series.last().unwrap();
    assert!((20.0..40.0).contains(&value), "the server counts up from 20.0 by 0.1: {value}");

    // The write form: PUT interval=30 to /config as text.
    window::type_into(&mut harness, "Path", "/config");
    window::type_into(&mut harness, "Payload", "interval=30");
    harness.get_by_label("PUT").click();
    harness.run_steps(2);
    harness.get_by_label("Send request").click();
    harness.run_steps(2);
    window::step_until(&mut harness, "the answer to the PUT", 15, |h| h.state_mut().coap_panel().answer().is_some());
    let answer = harness.state_mut().coap_panel().answer().unwrap().expect("a 2.xx answer");
    assert_eq!(answer.code, "2.04 Changed");
    harness.get_by_label("2.04 Changed");
    assert!(server.wait_for_line("put /config 11", Duration::from_secs(5)), "{:?}", server.lines());

    // A resource that is not there is a sentence, not a panic.
    window::type_into(&mut harness, "Path", "/nothing-here");
    harness.get_by_label("Send request").click();
    harness.run_steps(2);
    window::step_until(&mut harness, "the answer to the second PUT", 15, |h| {
        matches!(h.state_mut().coap_panel().answer(), Some(Err(_)))
    });
    let refusal = harness.state_mut().coap_panel().answer().unwrap().unwrap_err();
    assert!(refusal.starts_with("the server answered 4.04 Not Found"), "{refusal}");
    harness.get_by_label(&refusal);
}

#[test]
fn discovering_where_nothing_listens_says_so() {
    let port = coap::free_udp_port();
    let mut harness = window::connected("sim:seed=7");
    discover(&mut harness, &format!("coap://127.0.0.1:{port}"));
    let sentence = harness.state_mut().coap_panel().discovery_error().expect("an error");
    assert!(sentence.starts_with("nothing answers CoAP at 127.0.0.1:"), "{sentence}");
    assert!(sentence.contains(&port.to_string()), "{sentence}");
    harness.get_by_label(&sentence);
    // The window goes on: the simulated board is still plotted.
    assert!(harness.state().paused().is_some());
}
