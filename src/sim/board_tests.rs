//! Unit tests of the simulated board, driven by a fake clock: determinism, storage across reboots, the
//! current waveform and protocol errors.

use firmware_protocol::postcard_rpc::{Endpoint, Topic};

use super::*;

/// Runs a board for `millis` of its clock, polling every millisecond, and returns every byte it sent.
fn run(board: &mut SimBoard, from_us: u64, millis: u64) -> Vec<u8> {
    let mut out = Vec::new();
    for ms in 0..millis {
        board.poll(from_us + ms * 1000, &mut out);
    }
    out
}

fn request<E: Endpoint>(request: &E::Request) -> Vec<u8>
where
    E::Request: serde::Serialize,
{
    FrameWriter::new().topic_raw(E::REQ_KEY, request).map(<[u8]>::to_vec).unwrap_or_default()
}

fn responses<E: Endpoint>(bytes: &[u8]) -> Vec<E::Response>
where
    E::Response: serde::de::DeserializeOwned,
{
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut found = Vec::new();
    decoder.feed(bytes, |payload| {
        if let Some(frame) = Request::parse(payload)
            && frame.header.key == postcard_rpc::header::VarKey::Key8(E::RESP_KEY)
            && let Ok(response) = postcard::from_bytes(frame.body)
        {
            found.push(response);
        }
    });
    found
}

#[test]
fn the_same_seed_and_inputs_give_the_same_bytes() {
    let options = SimOptions { seed: 9, faults: Faults::parse("corrupt=0.1,drop-bytes=0.01").unwrap() };
    let mut a = SimBoard::new(options.clone(), 0);
    let mut b = SimBoard::new(options, 0);
    let ping = request::<PingEndpoint>(&7);
    a.receive(&ping, 100);
    b.receive(&ping, 100);
    let (out_a, out_b) = (run(&mut a, 0, 500), run(&mut b, 0, 500));
    assert!(out_a.len() > 1000);
    assert_eq!(out_a, out_b);

    let mut c = SimBoard::new(SimOptions { seed: 10, ..Default::default() }, 0);
    assert_ne!(c.device_id(), a.device_id());
    assert_ne!(run(&mut c, 0, 500), out_a);
}

#[test]
fn a_committed_configuration_survives_a_reboot_and_a_staged_one_does_not() {
    let mut board = SimBoard::new(SimOptions::default(), 0);
    board.receive(&request::<ConfigStageEndpoint>(&ConfigItem::Reporting(ReportingConfig { interval_secs: 120 })), 0);
    let digest = board.staged.as_ref().map(Config::digest).unwrap_or_default();
    board.receive(&request::<ConfigCommitEndpoint>(&CommitRequest { digest }), 0);
    board.receive(&request::<ConfigStageEndpoint>(&ConfigItem::Reporting(ReportingConfig { interval_secs: 7 })), 0);
    board.receive(&request::<RebootEndpoint>(&()), 0);
    let out = run(&mut board, 1000, 10);
    assert_eq!(responses::<RebootEndpoint>(&out), vec![Ok(())], "the reboot is acknowledged before it happens");
    assert_eq!(board.counters().resets, 1);

    board.receive(&request::<ConfigReadEndpoint>(&()), 20_000);
    let out = run(&mut board, 20_000, 2);
    let views = responses::<ConfigReadEndpoint>(&out);
    assert_eq!(views.len(), 1);
    assert_eq!((views[0].generation, views[0].reporting.interval_secs), (1, 120));
    board.receive(&request::<ConfigCheckEndpoint>(&()), 30_000);
    let out = run(&mut board, 30_000, 2);
    assert_eq!(responses::<ConfigCheckEndpoint>(&out), vec![Err(DeviceError::NothingStaged)]);
}

#[test]
fn the_current_waveform_follows_the_reporting_interval() {
    let mean_current_na = |interval_secs: u32| {
        let mut board = SimBoard::new(SimOptions::default(), 0);
        board.config.reporting.interval_secs = interval_secs;
        let out = run(&mut board, 0, 10_000);
        let mut decoder: FrameDecoder = FrameDecoder::new();
        let (mut sum, mut count) = (0f64, 0usize);
        decoder.feed(&out, |payload| {
            if let Some(frame) = Request::parse(payload)
                && frame.header.key == postcard_rpc::header::VarKey::Key8(CurrentBatchTopic::TOPIC_KEY)
                && let Ok(batch) = postcard::from_bytes::<CurrentBatch>(frame.body)
            {
                sum += batch.values.iter().map(|&v| f64::from(v)).sum::<f64>();
                count += batch.values.len();
            }
        });
        assert!(count > 9_000, "{count} samples in 10 s at 1 kHz");
        sum / count as f64
    };
    let every_2_s = mean_current_na(2);
    let every_10_s = mean_current_na(10);
    // Roughly 5 µA·s of active charge per cycle: five times the cycles, about five times the mean.
    assert!(every_2_s > 3.0 * every_10_s, "{every_2_s} nA vs {every_10_s} nA");
}

#[test]
fn unknown_requests_get_the_standard_wire_error() {
    let mut board = SimBoard::new(SimOptions::default(), 0);
    let unknown = FrameWriter::new()
        .topic_raw(postcard_rpc::Key::for_path::<u32>("no/such"), &1u32)
        .map(<[u8]>::to_vec)
        .unwrap_or_default();
    board.receive(&unknown, 0);
    let out = run(&mut board, 0, 1);
    let mut decoder: FrameDecoder = FrameDecoder::new();
    let mut errors = Vec::new();
    decoder.feed(&out, |payload| {
        if let Some(frame) = Request::parse(payload)
            && frame.header.key == postcard_rpc::header::VarKey::Key8(ERROR_KEY)
        {
            errors.push(postcard::from_bytes::<WireError>(frame.body).ok());
        }
    });
    assert_eq!(errors, vec![Some(WireError::UnknownKey)]);
}
