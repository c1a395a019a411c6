#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Throughput of the wire path a 100 kS/s–1 MS/s current stream takes: framing and decoding current
//! batches, and the simulated board producing them. Run with `cargo bench --bench framing`.

use std::hint::black_box;

use benchtop::sim::{SimBoard, SimOptions};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use firmware_protocol::firmware::FrameWriter;
use firmware_protocol::telemetry::CURRENT_BATCH_MAX_SAMPLES;
use firmware_protocol::{CurrentBatch, CurrentBatchTopic, FrameDecoder};

/// One second of 100 kS/s current as frames on the wire.
fn one_second_of_frames() -> (Vec<u8>, usize) {
    let mut writer = FrameWriter::new();
    let mut stream = Vec::new();
    let batches = 100_000 / CURRENT_BATCH_MAX_SAMPLES;
    for i in 0..batches {
        let values = (0..CURRENT_BATCH_MAX_SAMPLES).map(|k| 10_000 + ((i * 31 + k * 7) % 120_000_000) as u32);
        let batch = CurrentBatch {
            channel_id: 3,
            first_sample_time_us: (i * CURRENT_BATCH_MAX_SAMPLES * 10) as u64,
            sample_period_ns: 10_000,
            dropped_before: 0,
            values: values.collect(),
        };
        stream.extend_from_slice(writer.topic::<CurrentBatchTopic>(&batch).unwrap());
    }
    (stream, batches)
}

fn decode(c: &mut Criterion) {
    let (stream, batches) = one_second_of_frames();
    let mut group = c.benchmark_group("framing");
    group.throughput(Throughput::Bytes(stream.len() as u64));
    group.bench_function("decode 1 s of 100 kS/s current (frames + CRC)", |b| {
        b.iter(|| {
            let mut decoder: FrameDecoder = FrameDecoder::new();
            let mut frames = 0;
            for chunk in stream.chunks(4096) {
                decoder.feed(black_box(chunk), |payload| {
                    frames += 1;
                    black_box(payload);
                });
            }
            assert_eq!(frames, batches);
        })
    });
    group.bench_function("decode and deserialize 1 s of 100 kS/s current", |b| {
        b.iter(|| {
            let mut decoder: FrameDecoder = FrameDecoder::new();
            let mut samples = 0;
            decoder.feed(black_box(&stream), |payload| {
                let (_, body) = postcard_rpc::header::VarHeader::take_from_slice(payload).unwrap();
                let batch: CurrentBatch = postcard::from_bytes(body).unwrap();
                samples += batch.values.len();
            });
            assert_eq!(samples, batches * CURRENT_BATCH_MAX_SAMPLES);
        })
    });
    group.finish();
}

fn simulate(c: &mut Criterion) {
    let mut group = c.benchmark_group("sim");
    group.throughput(Throughput::Elements(100_000));
    group.bench_function("simulated board: 1 s at 100 kS/s current", |b| {
        b.iter(|| {
            let mut board = SimBoard::new(SimOptions::default(), 0);
            let mut host = FrameWriter::new();
            let streaming = firmware_protocol::StreamingConfig { enabled: true, current_rate_hz: 100_000 };
            let key = <firmware_protocol::StreamingSetEndpoint as postcard_rpc::Endpoint>::REQ_KEY;
            board.receive(host.topic_raw(key, &streaming).unwrap(), 0);
            let mut out = Vec::new();
            for ms in (0..1000).step_by(10) {
                board.poll(ms * 1000, &mut out);
            }
            black_box(out.len())
        })
    });
    group.finish();
}

/// The live path per frame: COBS/CRC decode, header, postcard, placement on the timeline, into the series.
fn ingest(c: &mut Criterion) {
    use benchtop::model::live::LiveDevice;
    use benchtop::model::series::SeriesLimits;
    use firmware_protocol::{SampleBatch, SampleBatchTopic};

    let board = SimBoard::new(SimOptions::default(), 0);
    let info = board.device_info();
    let mut writer = FrameWriter::new();
    let frames = 10_000;
    let mut stream = Vec::new();
    for i in 0..frames {
        let batch = SampleBatch {
            channel_id: (i % 3) as u8,
            first_sample_time_us: (i / 3) as u64 * 400_000,
            sample_period_us: 100_000,
            values: [2200 + (i % 50), 2201, 2202, 2203].into_iter().collect(),
        };
        stream.extend_from_slice(writer.topic::<SampleBatchTopic>(&batch).unwrap());
    }
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Elements(frames as u64));
    group.bench_function("protocol frames decoded and ingested (4-sample batches)", |b| {
        b.iter(|| {
            let mut device = LiveDevice::new(info.clone(), SeriesLimits::default());
            let mut decoder: FrameDecoder = FrameDecoder::new();
            decoder.feed(black_box(&stream), |payload| {
                let (_, body) = postcard_rpc::header::VarHeader::take_from_slice(payload).unwrap();
                let batch: SampleBatch = postcard::from_bytes(body).unwrap();
                device.ingest_samples(&batch, 1.0);
            });
            black_box(device.newest_s())
        })
    });
    group.finish();
}

criterion_group!(benches, decode, simulate, ingest);
criterion_main!(benches);
