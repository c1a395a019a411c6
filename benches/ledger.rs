#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]
//! Provisioning ledger throughput: reservations per second, and whole devices (reserve, programmed, verified,
//! commit) per second, on a SQLite file and on a PostgreSQL server started for the run (the tests' harness,
//! so the PostgreSQL binaries must be installed), with fsync on and, as in the tests, off. One station, one connection, committed transactions.
//! Run with `cargo bench --bench ledger`.

#[path = "../tests/support/postgres.rs"]
mod postgres_server;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use benchtop::provision::keys::{AppKey, Eui64};
use benchtop::provision::ledger::{DevEuiSource, Ledger, ReserveRequest};
use benchtop::provision::record::NetworkProfile;
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};

/// A block larger than any run uses, so every reservation gets a fresh DevEUI.
const BLOCK: DevEuiSource = DevEuiSource::Block {
    start: Eui64(0x70B3_D57E_D000_0000u64.to_be_bytes()),
    end: Eui64(0x70B3_D57E_FFFF_FFFFu64.to_be_bytes()),
};

fn request(device_id: u64) -> ReserveRequest {
    ReserveRequest {
        station: "bench".into(),
        operator: "bench".into(),
        device_id,
        dev_eui: BLOCK,
        join_eui: Eui64::from_u64(0x70B3_D57E_D000_0000),
        app_key: AppKey::generate_app_key().unwrap(),
        mqtt: None,
        network: NetworkProfile {
            mac_version: "MAC_V1_0_4".into(),
            phy_version: "RP002_V1_0_3".into(),
            frequency_plan_id: "EU_863_870_TTN".into(),
            tr005_profile_id: "000AF8BE".into(),
        },
    }
}

/// Stations provisioning at once, each with its own connection.
const STATIONS: u64 = 4;

/// Provisions one whole device.
fn provision(ledger: &mut Ledger, device_id: u64) {
    let serial = ledger.reserve(&request(device_id)).unwrap().serial;
    ledger.mark_programmed(serial).unwrap();
    ledger.mark_verified(serial).unwrap();
    ledger.commit(serial).unwrap();
}

fn bench_backend(c: &mut Criterion, backend: &str, url: &str) {
    let mut ledger = Ledger::open(url).unwrap();
    let mut next_device_id = 0u64;
    let mut group = c.benchmark_group(format!("ledger/{backend}"));
    group.throughput(Throughput::Elements(1));
    group.sample_size(20).measurement_time(Duration::from_secs(8));
    group.bench_function("reserve", |b| {
        b.iter_batched(
            || {
                next_device_id += 1;
                request(next_device_id)
            },
            |req| ledger.reserve(&req).unwrap(),
            BatchSize::SmallInput,
        )
    });
    group.bench_function("reserve + programmed + verified + commit", |b| {
        b.iter_batched(
            || {
                next_device_id += 1;
                request(next_device_id)
            },
            |req| {
                let serial = ledger.reserve(&req).unwrap().serial;
                ledger.mark_programmed(serial).unwrap();
                ledger.mark_verified(serial).unwrap();
                ledger.commit(serial).unwrap();
            },
            BatchSize::SmallInput,
        )
    });
    // Whole devices per second over all stations: each station provisions its share on its own thread.
    let mut stations: Vec<Ledger> = (0..STATIONS).map(|_| Ledger::open(url).unwrap()).collect();
    let device_ids = Arc::new(AtomicU64::new(1 << 40));
    group.bench_function("4 stations at once, whole devices", |b| {
        b.iter_custom(|devices| {
            let per_station = devices.div_ceil(STATIONS);
            let started = Instant::now();
            let threads: Vec<_> = stations
                .drain(..)
                .map(|mut station| {
                    let device_ids = Arc::clone(&device_ids);
                    std::thread::spawn(move || {
                        for _ in 0..per_station {
                            provision(&mut station, device_ids.fetch_add(1, Ordering::Relaxed));
                        }
                        station
                    })
                })
                .collect();
            stations = threads.into_iter().map(|t| t.join().unwrap()).collect();
            started.elapsed().mul_f64(devices as f64 / (per_station * STATIONS) as f64)
        })
    });
    group.finish();
}

fn sqlite(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    bench_backend(c, "sqlite", &format!("sqlite:{}", dir.path().join("ledger.db").display()));
}

fn postgres(c: &mut Criterion) {
    let server = postgres_server::PgServer::start_with_fsync(true);
    bench_backend(c, "postgres", &server.url());
}

/// The tests' configuration: the cost of the round trips and the locking alone.
fn postgres_without_fsync(c: &mut Criterion) {
    let server = postgres_server::PgServer::start();
    bench_backend(c, "postgres-fsync-off", &server.url());
}

criterion_group!(benches, sqlite, postgres, postgres_without_fsync);
criterion_main!(benches);
