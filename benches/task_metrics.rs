//! What the task loops pay for their metrics per batch: a source batch
//! (poll, send, acknowledgement) and a sink batch (read, put), each with the
//! clock readings the loops take.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use kconnect::connect::ConnectorKind;
use kconnect::engine::metrics::TaskMetrics;
use kconnect::engine::task::TaskId;
use kconnect::metrics::ticks_us;

fn id(task: usize) -> TaskId {
    TaskId {
        connector: "bench".into(),
        task,
    }
}

fn bench_task_metrics(c: &mut Criterion) {
    let mut group = c.benchmark_group("task_metrics_per_batch");
    let source = TaskMetrics::detached(&id(0), ConnectorKind::Source);
    group.bench_function("source", |b| {
        b.iter(|| {
            let t0 = ticks_us();
            let now = ticks_us();
            source.record_poll(black_box(100), now - t0, now);
            source.record_sent(black_box(100), now);
            source.record_written(black_box(100), 100);
        })
    });
    let sink = TaskMetrics::detached(&id(1), ConnectorKind::Sink);
    group.bench_function("sink", |b| {
        b.iter(|| {
            let now = ticks_us();
            sink.record_read(black_box(100), now);
            let t0 = ticks_us();
            let now = ticks_us();
            sink.record_put(black_box(100), now - t0, now);
        })
    });
    group.finish();
}

criterion_group!(benches, bench_task_metrics);
criterion_main!(benches);
