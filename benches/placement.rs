//! Placement benchmark: 10 000 tasks (500 connectors × 20 tasks) on 100
//! workers, (a) from scratch, (b) after one worker is lost, (c) after one
//! worker joins.

use std::collections::{BTreeMap, BTreeSet};
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use kconnect::placement::{place, Assignment, WorkerId};

const WORKERS: usize = 100;
const CONNECTORS: usize = 500;
const TASKS_EACH: u32 = 20;

fn worker(i: usize) -> WorkerId {
    WorkerId(format!("main-worker-{i}"))
}

fn bench_placement(c: &mut Criterion) {
    let live: BTreeSet<WorkerId> = (0..WORKERS).map(worker).collect();
    let connectors: BTreeMap<String, u32> = (0..CONNECTORS)
        .map(|i| (format!("connector-{i:03}"), TASKS_EACH))
        .collect();
    let settled: Assignment = place(&live, &connectors, None);

    let mut lost = live.clone();
    lost.remove(&worker(42));
    let mut joined = live.clone();
    joined.insert(worker(WORKERS));

    let mut group = c.benchmark_group("placement_10k_tasks_100_workers");
    group
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    group.bench_function("from_scratch", |b| {
        b.iter(|| place(black_box(&live), black_box(&connectors), None))
    });
    group.bench_function("worker_lost", |b| {
        b.iter(|| place(black_box(&lost), black_box(&connectors), Some(&settled)))
    });
    group.bench_function("worker_joined", |b| {
        b.iter(|| place(black_box(&joined), black_box(&connectors), Some(&settled)))
    });
    group.bench_function("unchanged", |b| {
        b.iter(|| place(black_box(&live), black_box(&connectors), Some(&settled)))
    });
    group.finish();
}

criterion_group!(benches, bench_placement);
criterion_main!(benches);
