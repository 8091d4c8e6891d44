//! The worker's heartbeat (`status-worker-<id>` in the status topic),
//! written by its own task.
//!
//! The sync loop can be busy for a long time: starting tasks, re-reading
//! offsets (up to 30 s), waiting for status writes on a loaded broker. A
//! heartbeat written by that loop stopped with it, and the operator then took
//! a live worker for lost and moved its tasks (seen under CI load: a sync
//! ready every 200 ms won every `biased` select and starved the beat). As
//! with Java's heartbeat thread, liveness here means "the process runs and
//! reaches Kafka"; whether the loop keeps up is the readiness probe's job
//! (`GET /health`).
//!
//! What the heartbeat reports besides liveness — the generation acted on
//! and the tasks still running or stopping — comes from a [`Snapshot`] the
//! loop publishes once it has acted (after a sync, after a task ended), so a
//! generation is never reported before the tasks it took away were asked to
//! stop. A changed snapshot is written at once, so the operator hands moving
//! tasks on without waiting for the next beat.

use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use super::now_ms;
use crate::storage::status_topic::{Heartbeat, StatusRecord};
use crate::storage::topic_log::TopicWriter;

/// What the worker has done, as of its loop's last action.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The newest assignment generation the worker acted on.
    pub generation: u64,
    /// Tasks whose run has not ended, including those asked to stop.
    pub tasks: u32,
    /// Of those, the tasks asked to stop that are still committing.
    pub stopping: u32,
}

impl Snapshot {
    /// The heartbeat saying this, stamped now.
    pub fn beat(&self) -> Heartbeat {
        Heartbeat {
            timestamp: now_ms(),
            generation: self.generation,
            tasks: self.tasks,
            stopping: self.stopping,
        }
    }
}

/// The running heartbeat task.
pub struct Heartbeats {
    snapshot: watch::Sender<Snapshot>,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Heartbeats {
    /// Starts writing a heartbeat every `every`, and whenever the snapshot
    /// changes.
    pub fn spawn(worker: String, log: TopicWriter, every: Duration) -> Heartbeats {
        let (snapshot, mut changes) = watch::channel(Snapshot::default());
        let stop = CancellationToken::new();
        let stopped = stop.clone();
        let task = tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            // After a stall, one beat, not a burst of them.
            tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = stopped.cancelled() => return,
                    _ = tick.tick() => {}
                    changed = changes.changed() => {
                        if changed.is_err() {
                            return; // the worker is gone
                        }
                    }
                }
                let beat = changes.borrow_and_update().beat();
                write(&log, &worker, beat).await;
            }
        });
        Heartbeats {
            snapshot,
            stop,
            task,
        }
    }

    /// Publishes what the worker has done; written at once if it changed.
    pub fn publish(&self, snapshot: Snapshot) {
        self.snapshot.send_if_modified(|s| {
            let changed = *s != snapshot;
            *s = snapshot;
            changed
        });
    }

    /// Stops the task and waits for a write in flight, so nothing it sends
    /// can land after what the caller writes next (the last heartbeat and
    /// its removal).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

/// Writes one heartbeat; a failure is logged (the next beat retries).
pub async fn write(log: &TopicWriter, worker: &str, beat: Heartbeat) {
    let (k, v) = StatusRecord::Worker {
        id: worker.to_owned(),
        heartbeat: Some(beat),
    }
    .encode();
    if let Err(e) = log.send(&k, v.as_deref()).await {
        tracing::warn!(worker, error = %e, "heartbeat failed");
    }
}

/// Removes the heartbeat: the operator takes the worker as gone at once.
pub async fn remove(log: &TopicWriter, worker: &str) {
    let (k, _) = StatusRecord::Worker {
        id: worker.to_owned(),
        heartbeat: None,
    }
    .encode();
    if let Err(e) = log.send(&k, None).await {
        tracing::warn!(worker, error = %e, "removing the heartbeat failed");
    }
}
