#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
//! Throughput of the PPK2 decoder: stream words in, converted samples with flags out, read as the reader thread
//! reads (64 KiB at a time). Once clean, once with 0.01 % of the bytes dropped at random, which forces a
//! resynchronisation every ~2,500 words. Run with `cargo bench --bench ppk2_decode`.

use std::hint::black_box;

use benchtop::ppk2::{Block, Converter, Decoder, parse_metadata};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64;

const WORDS: usize = 1_000_000;
const READ_BYTES: usize = 64 * 1024;

const METADATA: &str = "Calibrated: 0\nR0: 1003.3506\nR1: 101.5865\nR2: 10.3027\nR3: 0.9636\nR4: 0.0564\n\
    GS0: 0.0000\nGS1: 112.7890\nGS2: 18.0115\nGS3: 2.4217\nGS4: 0.0729\nGI0: 1.0000\nGI1: 0.9695\nGI2: 0.9609\n\
    GI3: 0.9519\nGI4: 0.9582\nO0: 112.9420\nO1: 75.4627\nO2: 64.6020\nO3: 50.4983\nO4: 87.2177\nVDD: 3000\n\
    HW: 9173\nmode: 2\nS0: 0.000000048\nS1: 0.000000596\nS2: 0.000005281\nS3: 0.000062577\nS4: 0.002940743\n\
    I0: -0.000000104\nI1: -0.000001443\nI2: 0.000036439\nI3: -0.000374119\nI4: -0.009388455\n\
    UG0: 1.00\nUG1: 1.00\nUG2: 1.00\nUG3: 1.00\nUG4: 1.00\nIA: 56\nEND\n";

/// `WORDS` words of a plausible stream: mostly range 1-3 with noise, counter in sequence, a toggling line.
fn stream() -> Vec<u8> {
    let mut rng = Pcg64::seed_from_u64(1);
    let mut bytes = Vec::with_capacity(4 * WORDS);
    for k in 0..WORDS {
        let range: u32 = rng.random_range(0..5);
        let adc: u32 = 2000 + rng.random_range(0..4000);
        let logic = u32::from((k / 500) % 2 == 0);
        let word = adc | (range << 14) | (((k & 0x3F) as u32) << 18) | (logic << 24);
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// The stream with each byte dropped with probability `rate`.
fn with_byte_loss(bytes: &[u8], rate: f64) -> Vec<u8> {
    let mut rng = Pcg64::seed_from_u64(2);
    bytes.iter().copied().filter(|_| !rng.random_bool(rate)).collect()
}

fn decode_all(converter: &Converter, bytes: &[u8], block: &mut Block) -> usize {
    let mut decoder = Decoder::new(converter.clone());
    block.clear();
    for read in bytes.chunks(READ_BYTES) {
        decoder.push(black_box(read), block);
    }
    decoder.flush(block);
    block.len()
}

fn decode(c: &mut Criterion) {
    let metadata = parse_metadata(METADATA.as_bytes()).unwrap();
    let converter = Converter::new(&metadata.calibration, metadata.vdd_mv);
    let clean = stream();
    let lossy = with_byte_loss(&clean, 1e-4);
    let mut block = Block::new();
    let mut decoder = Decoder::new(converter.clone());
    decoder.push(&lossy, &mut block);
    let stats = decoder.stats();
    println!(
        "0.01 % loss: {} bytes dropped, {} resynchronisations, {} samples lost",
        clean.len() - lossy.len(),
        stats.resyncs,
        stats.lost_samples
    );
    assert!(stats.resyncs > 300, "{stats:?}");
    let mut group = c.benchmark_group("ppk2_decode");
    group.throughput(Throughput::Elements(WORDS as u64));
    group.bench_function("1 M words, no loss", |b| {
        b.iter(|| assert_eq!(decode_all(&converter, &clean, &mut block), WORDS));
    });
    group.bench_function("1 M words, 0.01 % of bytes lost", |b| {
        // Two drops a few words apart can shift the count by a gap the counter aliases; the length is not the point.
        b.iter(|| black_box(decode_all(&converter, &lossy, &mut block)));
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
