//! Zombie fencing for exactly-once source connectors (KIP-618), the
//! leader's part, which the operator does for its clusters.
//!
//! For every source connector whose newest task configs came after its
//! newest task-count record, the producers of its previous task generation
//! (transactional ids `<group>-<connector>-0..n`) are fenced, then the
//! task-count record (`tasks-fencing-<name>` → `{"task-count": n}`) is
//! written; workers start the new tasks only once they read it. As Java's
//! `fenceZombieSourceTasks`: nothing to fence for a first start (no record)
//! or for one task before and after (the new task's own producer fences
//! the old one); a fencing overtaken by newer task configs writes nothing
//! and is done again for those.

use std::time::{Duration, Instant};

use rdkafka::ClientConfig;

use super::runtime::RuntimeError;
use crate::connect::ConnectorKind;
use crate::engine::transactions::{fence_producers, transactional_id};
use crate::storage::config_topic::{ConfigRecord, ConfigState};
use crate::storage::topic_log::TopicLog;

/// Whether `name` is configured as a source connector.
fn is_source(config: &ConfigState, name: &str) -> bool {
    config.connectors.get(name).is_some_and(|props| {
        props
            .get("connector.class")
            .and_then(|c| crate::connectors::find(c).ok())
            .is_some_and(|p| p.kind == ConnectorKind::Source)
    })
}

/// Fences what the config topic says must be fenced and writes the
/// task-count records; `config` is the topic as folded so far and is kept
/// up to date. A fencing that fails is logged and retried at the next
/// call; only failing to read or write the config topic is an error.
pub async fn fence_zombies(
    cluster: &str,
    group: &str,
    client: &ClientConfig,
    config_log: &mut TopicLog,
    config: &mut ConfigState,
) -> Result<(), RuntimeError> {
    let pending: Vec<String> = config
        .pending_fencing
        .iter()
        .filter(|name| is_source(config, name))
        .cloned()
        .collect();
    for name in pending {
        let tasks = config.tasks.get(&name).map_or(0, |t| t.len() as u32);
        let generation = config.task_generations.get(&name).copied();
        let previous = config.task_count_records.get(&name).copied();
        if let Some(previous) = previous.filter(|&p| p > 0 && !(p == 1 && tasks == 1)) {
            let ids: Vec<String> = (0..previous as usize)
                .map(|t| transactional_id(group, &name, t))
                .collect();
            let cfg = client.clone();
            let started = Instant::now();
            let fenced = tokio::task::spawn_blocking(move || {
                fence_producers(&cfg, &ids, Duration::from_secs(60))
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()));
            if let Err(message) = fenced {
                // Its tasks keep waiting; other connectors go on.
                let e = RuntimeError::Fencing {
                    connector: name.clone(),
                    message,
                };
                tracing::warn!(cluster, error = %e, "zombie fencing failed; retrying at the next pass");
                continue;
            }
            tracing::info!(cluster, connector = %name, fenced = previous, tasks, took_ms = started.elapsed().as_millis() as u64, "fenced the producers of the connector's previous tasks");
            // Newer task configs meanwhile: this fencing is stale.
            for (k, v) in config_log.read_to_end(Duration::from_secs(30)).await? {
                if let Ok(r) = ConfigRecord::decode(&k, v.as_deref()) {
                    config.apply(r);
                }
            }
            if config.task_generations.get(&name).copied() != generation {
                tracing::info!(cluster, connector = %name, "new task configs during the fencing; fencing again");
                continue;
            }
        }
        let record = ConfigRecord::TaskCount {
            connector: name.clone(),
            tasks,
        };
        let (k, v) = record.encode();
        config_log.send(&k, v.as_deref()).await?;
        config.apply(record);
        tracing::info!(cluster, connector = %name, tasks, "task-count record written; the connector's tasks may start");
    }
    Ok(())
}
