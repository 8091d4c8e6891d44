//! Task placement: a pure function from live workers, connectors and the
//! previous assignment to a new assignment.
//!
//! The operator calls [`place`] whenever the set of live workers, the set of
//! connectors or a connector's task count changes, and writes the result to
//! the status topic as the `status-assignment-<group>` record:
//!
//! ```json
//! {"generation": 7, "workers": {"w-0": {"connectors": ["datagen"], "tasks": ["datagen-0", "sink-1"]}}}
//! ```
//!
//! Every live worker appears in `workers`, also with nothing to run, so a
//! worker can tell "I have nothing" from "I am not in this generation".
//!
//! # Units of placement
//!
//! As in Java Connect, a connector instance is a unit of placement (the worker
//! that runs it computes the task configs), and so is each of its tasks
//! `<connector>-<n>`, `n` in `0..task_count`. Connector instances and tasks
//! are placed as two independent problems with the same algorithm: balance
//! is counted separately for each.
//!
//! # Laws (checked by the property tests below)
//!
//! 1. **Complete and exact**: with at least one live worker, every connector
//!    and every task `0..count` of every connector is assigned to exactly one
//!    live worker; nothing is assigned to a dead worker, nor any unknown
//!    connector or task (a task beyond a shrunk task count is dropped). With
//!    no live worker nothing is placed and `workers` is empty.
//! 2. **Balanced**: per-worker task counts differ by at most one; so do the
//!    per-worker connector counts.
//! 3. **Sticky**: a unit whose previous worker is still live stays there
//!    unless balance strictly requires moving it; a worker never both loses
//!    and gains units, and is never stripped below the floor target.
//! 4. **Minimal**: the number of units that move (previous worker live and
//!    different) is the least that any balanced assignment needs, so on churn
//!    only the lost worker's units plus what balance strictly requires move.
//! 5. **Deterministic**: the result is a function of the inputs only (not of
//!    the order in which a deserialized previous assignment lists tasks);
//!    and placing again with the result as previous changes nothing
//!    (idempotent, the generation stays).
//!
//! # Algorithm
//!
//! With `N` units and `W` live workers, `q = N / W`, `r = N % W`:
//!
//! 1. *Keep*: each unit whose previous worker is live and that still exists
//!    is kept there (`kept[w]`). If a corrupt previous assignment lists a
//!    unit under several live workers, the first in worker-id order keeps it.
//! 2. *Targets*: `r` workers get target `q + 1`, the rest `q`. The `q + 1`
//!    slots go to the workers with the most kept units (ties: lower worker
//!    id). This choice minimises `Σ max(0, kept[w] - target[w])`, the number
//!    of moves: an extra slot saves a move exactly when the worker has more
//!    than `q` kept units, so the extra slots are best spent on the largest.
//! 3. *Strip*: a worker above its target gives up its excess; the
//!    highest-numbered tasks go first (ties: connector name, last first), and
//!    for connector instances the last names go first.
//! 4. *Fill*: the pool (stripped units plus units without a live previous
//!    worker) is handed out in sorted order (connector name, then task
//!    number) to the least-loaded worker that is below its target (ties:
//!    lower worker id). From scratch this is round robin, which spreads each
//!    connector's tasks over the workers.
//!
//! Only workers with excess give and only workers below target receive, so
//! the moves are exactly the lower bound of step 2. Cost: `O(N log N + W log
//! W)` time (sorting the pool and the stripped workers' units; the previous
//! assignment is read through a hash index, and the fill walks load levels
//! in `O(N + W)`) and `O(N + W)` memory. 10 000 tasks on 100 workers take
//! about 0.5 ms from scratch and 0.7 ms for a rebalance, mostly allocating
//! the 10 000 task ids (see `benches/placement.rs`).
//!
//! # Generation
//!
//! The first assignment (no previous) has generation 1. Afterwards the
//! generation is bumped by one exactly when the worker map differs from the
//! previous one (compared with each worker's task list sorted), and is left
//! unchanged otherwise: a worker runs the tasks of the newest generation it
//! has seen, so re-publishing identical content under a new number would only
//! add records and wake every worker for nothing. The operator can therefore
//! skip writing the record when `new.generation == previous.generation`. A
//! previous generation of `u64::MAX` saturates (unreachable in practice).

use std::borrow::Borrow;
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The name of a connector (the `Connector` CR's name, or the REST name).
pub type ConnectorName = String;

/// A worker's identity: its pod name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(pub String);

impl WorkerId {
    pub fn new(id: impl Into<String>) -> Self {
        WorkerId(id.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<String> for WorkerId {
    fn from(id: String) -> Self {
        WorkerId(id)
    }
}

impl From<&str> for WorkerId {
    fn from(id: &str) -> Self {
        WorkerId(id.to_owned())
    }
}

impl Borrow<str> for WorkerId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for WorkerId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// A task of a connector, written `<connector>-<n>` (as in the
/// `task-<connector>-<n>` and `status-task-<connector>-<n>` keys).
///
/// Ordered by connector name, then task number (numerically).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId {
    pub connector: ConnectorName,
    pub task: u32,
}

impl TaskId {
    pub fn new(connector: impl Into<ConnectorName>, task: u32) -> Self {
        TaskId {
            connector: connector.into(),
            task,
        }
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.connector, self.task)
    }
}

/// Why a string is not a `<connector>-<n>` task id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseTaskIdError {
    #[error("task id {0:?} has no '-' before the task number")]
    MissingSeparator(String),
    #[error("task id {0:?} has an empty connector name")]
    EmptyConnector(String),
    #[error("task id {0:?}: the part after the last '-' is not a task number (decimal, no sign, no leading zero, at most {max})", max = u32::MAX)]
    InvalidTaskNumber(String),
}

impl FromStr for TaskId {
    type Err = ParseTaskIdError;

    /// Splits at the LAST '-': connector names may themselves contain '-'.
    /// Only the canonical form [`TaskId`]'s `Display` writes is accepted, so
    /// that parsing and printing round-trip.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (connector, number) = s
            .rsplit_once('-')
            .ok_or_else(|| ParseTaskIdError::MissingSeparator(s.to_owned()))?;
        if connector.is_empty() {
            return Err(ParseTaskIdError::EmptyConnector(s.to_owned()));
        }
        let canonical = !number.is_empty()
            && number.bytes().all(|b| b.is_ascii_digit())
            && (number == "0" || !number.starts_with('0'));
        let task = canonical
            .then(|| number.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| ParseTaskIdError::InvalidTaskNumber(s.to_owned()))?;
        Ok(TaskId {
            connector: connector.to_owned(),
            task,
        })
    }
}

impl Serialize for TaskId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// What one worker runs in a generation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct WorkerAssignment {
    /// Connector instances this worker runs.
    #[serde(default)]
    pub connectors: BTreeSet<ConnectorName>,
    /// Tasks this worker runs, sorted ([`place`] always sorts them; a record
    /// read back from the topic is taken in any order).
    #[serde(default)]
    pub tasks: Vec<TaskId>,
}

/// The `status-assignment-<group>` record: which worker runs what, in a
/// generation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Assignment {
    pub generation: u64,
    #[serde(default)]
    pub workers: BTreeMap<WorkerId, WorkerAssignment>,
}

impl Assignment {
    /// The worker a task is assigned to (linear scan; for diagnostics).
    pub fn worker_of_task(&self, task: &TaskId) -> Option<&WorkerId> {
        self.workers
            .iter()
            .find(|(_, a)| a.tasks.contains(task))
            .map(|(w, _)| w)
    }

    /// The worker a connector instance is assigned to.
    pub fn worker_of_connector(&self, connector: &str) -> Option<&WorkerId> {
        self.workers
            .iter()
            .find(|(_, a)| a.connectors.contains(connector))
            .map(|(w, _)| w)
    }
}

/// The `status-assignment-<group>` record the operator writes and every
/// worker reads: the placement plus restart requests.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    #[serde(flatten)]
    pub assignment: Assignment,
    /// Restart requests: task id (`<connector>-<n>`), or
    /// [`connector_restart_key`] for a connector, → how many times the
    /// operator has asked for it to be restarted (only ever grows). A
    /// FAILED task stays down until this count grows past the one it failed
    /// at; a running task or connector restarts when it grows past the one
    /// it started at.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub restarts: BTreeMap<String, u32>,
}

impl AssignmentRecord {
    /// Restarts asked for task `task` of `connector`.
    pub fn task_restarts(&self, connector: &str, task: u32) -> u32 {
        self.restarts
            .get(&TaskId::new(connector, task).to_string())
            .copied()
            .unwrap_or(0)
    }

    /// Restarts asked for connector `name`'s instance.
    pub fn connector_restarts(&self, name: &str) -> u32 {
        self.restarts
            .get(&connector_restart_key(name))
            .copied()
            .unwrap_or(0)
    }
}

/// The key of a connector's restart count in [`AssignmentRecord::restarts`]
/// (task ids are `<connector>-<n>`; Kubernetes names cannot hold a colon).
pub fn connector_restart_key(name: &str) -> String {
    format!("connector:{name}")
}

/// Places every connector instance and every task on the live workers.
///
/// `connectors` maps each connector to its current task count (from its
/// `commit-<name>` record; 0 before its first task configs exist). Time and
/// memory grow with the total task count, so the caller bounds each count
/// (by the connector's `tasksMax`) before it gets here. See the module
/// documentation for the laws, the algorithm and the generation rule.
pub fn place(
    live_workers: &BTreeSet<WorkerId>,
    connectors: &BTreeMap<ConnectorName, u32>,
    previous: Option<&Assignment>,
) -> Assignment {
    let workers: Vec<&WorkerId> = live_workers.iter().collect();
    let conns: Vec<(&str, u32)> = connectors
        .iter()
        .map(|(name, count)| (name.as_str(), *count))
        .collect();

    let mut placed: Vec<WorkerAssignment> = vec![WorkerAssignment::default(); workers.len()];
    // Whether every unit stayed where it was, and how many (connectors,
    // tasks) were placed: together with the worker set, this tells whether
    // anything changed without comparing the whole assignment.
    let mut all_stayed = true;
    let mut units = (0usize, 0usize);
    if !workers.is_empty() {
        // Global task index: tasks of connector `ci` are base[ci]..base[ci]+count.
        let mut base = Vec::with_capacity(conns.len());
        let mut total = 0usize;
        for (_, count) in &conns {
            base.push(total);
            total += *count as usize;
        }

        // Previous live owner of each connector and each task.
        let mut conn_prev: Vec<Option<usize>> = vec![None; conns.len()];
        let mut task_prev: Vec<Option<usize>> = vec![None; total];
        if let Some(prev) = previous {
            let index: HashMap<&str, usize, BuildHasherDefault<Fnv1a>> = conns
                .iter()
                .enumerate()
                .map(|(ci, (name, _))| (*name, ci))
                .collect();
            let find_conn = |name: &str| index.get(name).copied();
            for (worker, wa) in &prev.workers {
                let Ok(w) = workers.binary_search(&worker) else {
                    continue; // dead worker: its units are placed afresh
                };
                for name in &wa.connectors {
                    if let Some(ci) = find_conn(name) {
                        conn_prev[ci].get_or_insert(w);
                    }
                }
                for t in &wa.tasks {
                    if let Some(ci) = find_conn(&t.connector) {
                        if t.task < conns[ci].1 {
                            task_prev[base[ci] + t.task as usize].get_or_insert(w);
                        }
                    }
                }
            }
        }

        // Connector instances: the last names are stripped first.
        let (conn_owner, conns_stayed) = place_units(workers.len(), &conn_prev, |ci| ci);
        for (ci, w) in conn_owner.into_iter().enumerate() {
            placed[w].connectors.insert(conns[ci].0.to_owned());
        }

        // Tasks: the highest-numbered are stripped first. Owner of the task
        // at global index i: find its connector by walking in order.
        let mut task_conn = Vec::with_capacity(total);
        for (ci, (_, count)) in conns.iter().enumerate() {
            task_conn.extend(std::iter::repeat_n(ci, *count as usize));
        }
        let (task_owner, tasks_stayed) = place_units(workers.len(), &task_prev, |i| {
            let ci = task_conn[i];
            (i - base[ci], ci)
        });
        for (i, w) in task_owner.into_iter().enumerate() {
            let ci = task_conn[i];
            placed[w].tasks.push(TaskId {
                connector: conns[ci].0.to_owned(),
                task: (i - base[ci]) as u32,
            });
        }
        all_stayed = conns_stayed && tasks_stayed;
        units = (conns.len(), total);
    }

    let workers: BTreeMap<WorkerId, WorkerAssignment> =
        workers.into_iter().cloned().zip(placed).collect();
    let generation = match previous {
        None => 1,
        Some(prev) => {
            // Unchanged iff the previous record lists exactly the live
            // workers, each unit stayed with the worker that claimed it
            // there, and it holds no other entries (dead connectors or
            // tasks, duplicates): then each worker's lists are equal as
            // multisets, i.e. equal once sorted.
            let listed = prev.workers.values().fold((0, 0), |(c, t), wa| {
                (c + wa.connectors.len(), t + wa.tasks.len())
            });
            let unchanged =
                all_stayed && listed == units && prev.workers.keys().eq(live_workers.iter());
            if unchanged {
                prev.generation
            } else {
                prev.generation.saturating_add(1)
            }
        }
    };
    Assignment {
        generation,
        workers,
    }
}

/// FNV-1a: a fast hash for the short connector names (names come from the
/// cluster's own CRs, so hash flooding is no concern).
struct Fnv1a(u64);

impl Default for Fnv1a {
    fn default() -> Self {
        Fnv1a(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv1a {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

/// The sticky, balanced, minimal placement of `prev.len()` units on
/// `n > 0` workers. `prev[i]` is unit i's previous (live) worker; units are
/// indexed in fill order; the unit with the largest `strip_key` is stripped
/// first from a worker above its target. Returns each unit's worker, and
/// whether every unit stayed on its previous worker.
fn place_units<K: Ord>(
    n: usize,
    prev: &[Option<usize>],
    strip_key: impl Fn(usize) -> K,
) -> (Vec<usize>, bool) {
    let total = prev.len();
    let mut kept: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, p) in prev.iter().enumerate() {
        if let Some(w) = *p {
            kept[w].push(i);
        }
    }

    // Targets: the ceiling slots go to the workers that keep the most.
    let (q, r) = (total / n, total % n);
    let mut by_kept: Vec<usize> = (0..n).collect();
    by_kept.sort_unstable_by_key(|&w| (Reverse(kept[w].len()), w));
    let mut target = vec![q; n];
    for &w in &by_kept[..r] {
        target[w] += 1;
    }

    // Keep up to the target, strip the rest into the pool.
    let mut owner = vec![usize::MAX; total];
    let mut load = vec![0usize; n];
    let mut pool: Vec<usize> = Vec::new();
    for (w, list) in kept.iter_mut().enumerate() {
        if list.len() > target[w] {
            list.sort_unstable_by_key(|&i| Reverse(strip_key(i)));
            let excess = list.len() - target[w];
            pool.extend(list.drain(..excess));
        }
        for &i in list.iter() {
            owner[i] = w;
        }
        load[w] = list.len();
    }
    pool.extend(
        prev.iter()
            .enumerate()
            .filter(|(_, p)| p.is_none())
            .map(|(i, _)| i),
    );
    pool.sort_unstable();

    // Fill: least-loaded worker below its target, lower id on ties. Loads
    // only grow by one, so instead of a heap this walks load levels: the
    // workers at level l (ids ascending) each take one unit and, if still
    // below target, move on to level l + 1. O(N + W) overall.
    let stayed = pool.is_empty();
    let mut at_level: Vec<Vec<usize>> = vec![Vec::new(); q + 1];
    for w in 0..n {
        if load[w] < target[w] {
            at_level[load[w]].push(w); // load < target <= q + 1
        }
    }
    let mut pool = pool.into_iter().peekable();
    let mut carried: Vec<usize> = Vec::new();
    for level in at_level {
        if pool.peek().is_none() {
            break;
        }
        let current = merge_sorted(&carried, &level);
        carried.clear();
        for w in current {
            let Some(i) = pool.next() else { break };
            owner[i] = w;
            load[w] += 1;
            if load[w] < target[w] {
                carried.push(w);
            }
        }
    }
    // Σ target = total and every kept unit fits its target, so the pool is
    // exactly as large as the free slots and is used up here.
    debug_assert!(pool.next().is_none() && owner.iter().all(|&w| w < n));
    (owner, stayed)
}

/// Merges two ascending, disjoint lists.
fn merge_sorted(a: &[usize], b: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i] < b[j] {
            out.push(a[i]);
            i += 1;
        } else {
            out.push(b[j]);
            j += 1;
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn workers(ids: &[&str]) -> BTreeSet<WorkerId> {
        ids.iter().map(|w| WorkerId::from(*w)).collect()
    }

    fn conns(list: &[(&str, u32)]) -> BTreeMap<ConnectorName, u32> {
        list.iter().map(|(n, c)| (n.to_string(), *c)).collect()
    }

    /// task → worker
    fn task_owners(a: &Assignment) -> BTreeMap<TaskId, WorkerId> {
        let mut m = BTreeMap::new();
        for (w, wa) in &a.workers {
            for t in &wa.tasks {
                assert!(m.insert(t.clone(), w.clone()).is_none(), "{t} twice");
            }
        }
        m
    }

    fn conn_owners(a: &Assignment) -> BTreeMap<ConnectorName, WorkerId> {
        let mut m = BTreeMap::new();
        for (w, wa) in &a.workers {
            for c in &wa.connectors {
                assert!(m.insert(c.clone(), w.clone()).is_none(), "{c} twice");
            }
        }
        m
    }

    fn task_counts(a: &Assignment) -> Vec<usize> {
        a.workers.values().map(|wa| wa.tasks.len()).collect()
    }

    /// Tasks whose previous worker is live in `next` and differs.
    fn moved_tasks(prev: &Assignment, next: &Assignment) -> usize {
        let before = task_owners(prev);
        task_owners(next)
            .iter()
            .filter(|(t, w)| {
                before
                    .get(*t)
                    .is_some_and(|pw| pw != *w && next.workers.contains_key(pw))
            })
            .count()
    }

    /// Whether two worker maps hold the same content, each task list compared
    /// sorted (a previous record read from the topic may list tasks in any
    /// order).
    fn same_workers(
        prev: &BTreeMap<WorkerId, WorkerAssignment>,
        next: &BTreeMap<WorkerId, WorkerAssignment>,
    ) -> bool {
        prev.len() == next.len()
            && prev.iter().zip(next).all(|((pw, pa), (nw, na))| {
                pw == nw
                    && pa.connectors == na.connectors
                    && pa.tasks.len() == na.tasks.len()
                    && if pa.tasks.is_sorted() {
                        pa.tasks == na.tasks
                    } else {
                        let mut sorted = pa.tasks.clone();
                        sorted.sort_unstable();
                        sorted == na.tasks
                    }
            })
    }

    // ---- TaskId and the record format ----

    #[test]
    fn task_id_parses_at_the_last_dash() {
        assert_eq!("datagen-3".parse::<TaskId>(), Ok(TaskId::new("datagen", 3)));
        assert_eq!(
            "my-sink-conn-12".parse::<TaskId>(),
            Ok(TaskId::new("my-sink-conn", 12))
        );
        assert_eq!("a--0".parse::<TaskId>(), Ok(TaskId::new("a-", 0)));
        assert_eq!(
            "x-4294967295".parse::<TaskId>(),
            Ok(TaskId::new("x", u32::MAX))
        );
        assert_eq!(TaskId::new("my-sink", 7).to_string(), "my-sink-7");
    }

    #[test]
    fn task_id_rejects_malformed() {
        use ParseTaskIdError::*;
        let cases = [
            ("nodash", MissingSeparator("nodash".into())),
            ("", MissingSeparator(String::new())),
            ("-3", EmptyConnector("-3".into())),
            ("a-", InvalidTaskNumber("a-".into())),
            ("a-x", InvalidTaskNumber("a-x".into())),
            ("a-+3", InvalidTaskNumber("a-+3".into())),
            ("a-03", InvalidTaskNumber("a-03".into())),
            ("a-1.5", InvalidTaskNumber("a-1.5".into())),
            ("a-4294967296", InvalidTaskNumber("a-4294967296".into())),
            ("a-3-", InvalidTaskNumber("a-3-".into())),
        ];
        for (s, e) in cases {
            assert_eq!(s.parse::<TaskId>(), Err(e), "{s:?}");
        }
    }

    #[test]
    fn task_ids_sort_numerically() {
        let mut v = vec![
            TaskId::new("a", 10),
            TaskId::new("a", 2),
            TaskId::new("a-b", 0),
        ];
        v.sort();
        assert_eq!(
            v,
            vec![
                TaskId::new("a", 2),
                TaskId::new("a", 10),
                TaskId::new("a-b", 0)
            ]
        );
    }

    #[test]
    fn json_has_the_record_shape() {
        let a = place(
            &workers(&["w-0", "w-1"]),
            &conns(&[("datagen", 2), ("file-sink", 1)]),
            None,
        );
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(
            json,
            r#"{"generation":1,"workers":{"w-0":{"connectors":["datagen"],"tasks":["datagen-0","file-sink-0"]},"w-1":{"connectors":["file-sink"],"tasks":["datagen-1"]}}}"#
        );
        let back: Assignment = serde_json::from_str(&json).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn json_reading_is_lenient_but_checks_task_ids() {
        let a: Assignment = serde_json::from_str(
            r#"{"generation":3,"workers":{"w":{"tasks":["s-1","s-0"]},"v":{}},"extra":1}"#,
        )
        .unwrap();
        assert_eq!(a.generation, 3);
        assert_eq!(a.workers[&WorkerId::from("w")].tasks.len(), 2);
        assert!(a.workers[&WorkerId::from("v")].connectors.is_empty());

        let bad = serde_json::from_str::<Assignment>(
            r#"{"generation":3,"workers":{"w":{"tasks":["no_number"]}}}"#,
        );
        assert!(bad.unwrap_err().to_string().contains("no_number"));
        assert!(serde_json::from_str::<Assignment>(r#"{"workers":{}}"#).is_err());
    }

    // ---- The issue's scenarios ----

    fn three_workers_two_connectors() -> Assignment {
        place(
            &workers(&["w-0", "w-1", "w-2"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            None,
        )
    }

    #[test]
    fn from_scratch_spreads_every_connector() {
        let a = three_workers_two_connectors();
        assert_eq!(a.generation, 1);
        for wa in a.workers.values() {
            assert_eq!(wa.tasks.len(), 4);
            for c in ["datagen", "sink"] {
                assert_eq!(wa.tasks.iter().filter(|t| t.connector == c).count(), 2);
            }
            assert!(wa.tasks.is_sorted());
        }
        let mut instances: Vec<usize> = a.workers.values().map(|w| w.connectors.len()).collect();
        instances.sort();
        assert_eq!(instances, vec![0, 1, 1]);
    }

    #[test]
    fn losing_a_worker_moves_only_its_tasks() {
        let a = three_workers_two_connectors();
        let lost = WorkerId::from("w-1");
        let b = place(
            &workers(&["w-0", "w-2"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&a),
        );
        assert_eq!(b.generation, 2);
        assert_eq!(task_counts(&b), vec![6, 6]);
        assert_eq!(moved_tasks(&a, &b), 0);
        for (w, wa) in &b.workers {
            // Everything the survivor had, it still has.
            for t in &a.workers[w].tasks {
                assert!(wa.tasks.contains(t), "{t} left {w}");
            }
            for c in &a.workers[w].connectors {
                assert!(wa.connectors.contains(c));
            }
        }
        // The lost worker's tasks are split between the survivors.
        for t in &a.workers[&lost].tasks {
            assert!(b.worker_of_task(t).is_some());
        }
        assert_eq!(conn_owners(&b).len(), 2);
    }

    #[test]
    fn a_new_worker_gets_its_share_with_minimal_moves() {
        let a = three_workers_two_connectors();
        let b = place(
            &workers(&["w-0", "w-1", "w-2", "w-3"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&a),
        );
        assert_eq!(b.generation, 2);
        assert_eq!(task_counts(&b), vec![3, 3, 3, 3]);
        // Each old worker gives up exactly one task: 3 moves, all to w-3.
        assert_eq!(moved_tasks(&a, &b), 3);
        for w in ["w-0", "w-1", "w-2"] {
            let w = WorkerId::from(w);
            let kept = b.workers[&w]
                .tasks
                .iter()
                .filter(|t| a.workers[&w].tasks.contains(t))
                .count();
            assert_eq!(kept, 3);
        }
        // Connector instances: 2 on 4 workers; nobody needs to move.
        assert_eq!(
            conn_owners(&a),
            conn_owners(&b),
            "connector instances stay put"
        );
    }

    #[test]
    fn scaling_down_to_two_workers() {
        let a = three_workers_two_connectors();
        let four = place(
            &workers(&["w-0", "w-1", "w-2", "w-3"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&a),
        );
        // 3 → 2: only w-2's tasks move.
        let b = place(
            &workers(&["w-0", "w-1"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&a),
        );
        assert_eq!(task_counts(&b), vec![6, 6]);
        assert_eq!(moved_tasks(&a, &b), 0);
        // 4 → 2: the two leavers' tasks move, nothing else.
        let c = place(
            &workers(&["w-0", "w-1"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&four),
        );
        assert_eq!(task_counts(&c), vec![6, 6]);
        assert_eq!(moved_tasks(&four, &c), 0);
        assert_eq!(c.generation, four.generation + 1);
    }

    #[test]
    fn shrinking_a_connector_drops_its_high_tasks_and_rebalances_minimally() {
        let a = three_workers_two_connectors();
        let b = place(
            &workers(&["w-0", "w-1", "w-2"]),
            &conns(&[("datagen", 3), ("sink", 6)]),
            Some(&a),
        );
        assert_eq!(task_owners(&b).len(), 9);
        assert!(task_owners(&b)
            .keys()
            .all(|t| t.connector != "datagen" || t.task < 3));
        assert_eq!(task_counts(&b), vec![3, 3, 3]);
        // Round robin left 3 tasks on each worker after the drop: no move.
        assert_eq!(moved_tasks(&a, &b), 0);
    }

    #[test]
    fn deleting_a_connector_and_no_change() {
        let a = three_workers_two_connectors();
        let same = place(
            &workers(&["w-0", "w-1", "w-2"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&a),
        );
        assert_eq!(same, a, "nothing changed: same content, same generation");

        let b = place(
            &workers(&["w-0", "w-1", "w-2"]),
            &conns(&[("sink", 6)]),
            Some(&a),
        );
        assert_eq!(b.generation, 2);
        assert!(b.worker_of_connector("datagen").is_none());
        assert!(b.worker_of_connector("sink").is_some());
        assert_eq!(task_counts(&b), vec![2, 2, 2]);
        assert_eq!(moved_tasks(&a, &b), 0);
    }

    #[test]
    fn no_live_workers_places_nothing() {
        let a = three_workers_two_connectors();
        let b = place(&BTreeSet::new(), &conns(&[("datagen", 6)]), Some(&a));
        assert!(b.workers.is_empty());
        assert_eq!(b.generation, 2);
        let c = place(&BTreeSet::new(), &conns(&[("datagen", 6)]), Some(&b));
        assert_eq!(c, b);
        let fresh = place(&BTreeSet::new(), &BTreeMap::new(), None);
        assert_eq!(fresh.generation, 1);
        assert!(fresh.workers.is_empty());
    }

    #[test]
    fn idle_workers_are_listed() {
        let a = place(&workers(&["a", "b"]), &BTreeMap::new(), None);
        assert_eq!(a.workers.len(), 2);
        assert!(a
            .workers
            .values()
            .all(|w| w.connectors.is_empty() && w.tasks.is_empty()));
    }

    #[test]
    fn unsorted_previous_from_the_topic_is_not_a_change() {
        let a = three_workers_two_connectors();
        let mut shuffled = a.clone();
        for wa in shuffled.workers.values_mut() {
            wa.tasks.reverse();
        }
        let json = serde_json::to_string(&shuffled).unwrap();
        let read: Assignment = serde_json::from_str(&json).unwrap();
        let b = place(
            &workers(&["w-0", "w-1", "w-2"]),
            &conns(&[("datagen", 6), ("sink", 6)]),
            Some(&read),
        );
        assert_eq!(b, a);
    }

    #[test]
    fn duplicate_claims_keep_the_first_live_worker() {
        let prev: Assignment = serde_json::from_str(
            r#"{"generation":5,"workers":{
                "a":{"connectors":["c"],"tasks":["c-0","c-0"]},
                "b":{"connectors":["c"],"tasks":["c-0","c-1"]},
                "z":{"tasks":["c-1"]}}}"#,
        )
        .unwrap();
        let b = place(&workers(&["a", "b"]), &conns(&[("c", 2)]), Some(&prev));
        assert_eq!(b.generation, 6);
        assert_eq!(
            b.workers[&WorkerId::from("a")].tasks,
            vec![TaskId::new("c", 0)]
        );
        assert_eq!(
            b.workers[&WorkerId::from("b")].tasks,
            vec![TaskId::new("c", 1)]
        );
        assert_eq!(b.worker_of_connector("c"), Some(&WorkerId::from("a")));
    }

    // ---- Properties ----

    const WORKER_POOL: usize = 25;
    const CONNECTOR_POOL: usize = 40;

    fn worker_name(i: usize) -> WorkerId {
        WorkerId(format!("kc-worker-{i}"))
    }

    /// Every other name has a '-' followed by digits, to exercise the parser.
    fn connector_name(i: usize) -> String {
        if i.is_multiple_of(2) {
            format!("conn{i}")
        } else {
            format!("pg-{i}-sink")
        }
    }

    /// Previous state of one connector (live or deleted): its instance's
    /// worker and each task's worker, from the pool that includes dead ones.
    type PrevConnector = (usize, Option<usize>, Vec<Option<usize>>);

    #[derive(Debug, Clone)]
    struct Case {
        live: BTreeSet<WorkerId>,
        connectors: BTreeMap<ConnectorName, u32>,
        previous: Option<Assignment>,
        /// Ground truth from the generator: unit → previous worker (any,
        /// live or dead), independent of the implementation's reading.
        prev_tasks: BTreeMap<TaskId, WorkerId>,
        prev_conns: BTreeMap<ConnectorName, WorkerId>,
    }

    fn case() -> impl Strategy<Value = Case> {
        let live = proptest::collection::btree_set(0..WORKER_POOL, 0..=20);
        let connectors = proptest::collection::btree_map(0..CONNECTOR_POOL, 0..=16u32, 0..=30);
        let prev_conn = (
            0..CONNECTOR_POOL,
            proptest::option::of(0..WORKER_POOL),
            proptest::collection::vec(proptest::option::of(0..WORKER_POOL), 0..=20),
        );
        let previous = proptest::option::of((
            0..1_000u64,
            proptest::collection::vec(prev_conn, 0..=CONNECTOR_POOL),
            // Workers listed with nothing assigned.
            proptest::collection::btree_set(0..WORKER_POOL, 0..=5),
        ));
        (live, connectors, previous).prop_map(|(live, connectors, previous)| {
            let live: BTreeSet<WorkerId> = live.into_iter().map(worker_name).collect();
            let connectors: BTreeMap<ConnectorName, u32> = connectors
                .into_iter()
                .map(|(i, n)| (connector_name(i), n))
                .collect();
            let mut prev_tasks = BTreeMap::new();
            let mut prev_conns = BTreeMap::new();
            let previous = previous.map(|(generation, list, idle)| {
                let mut a = Assignment {
                    generation,
                    workers: BTreeMap::new(),
                };
                for w in idle {
                    a.workers.entry(worker_name(w)).or_default();
                }
                let mut seen = BTreeSet::new();
                for (ci, owner, tasks) in list as Vec<PrevConnector> {
                    if !seen.insert(ci) {
                        continue;
                    }
                    let name = connector_name(ci);
                    if let Some(w) = owner {
                        let w = worker_name(w);
                        a.workers
                            .entry(w.clone())
                            .or_default()
                            .connectors
                            .insert(name.clone());
                        prev_conns.insert(name.clone(), w);
                    }
                    for (n, owner) in tasks.into_iter().enumerate() {
                        if let Some(w) = owner {
                            let w = worker_name(w);
                            let t = TaskId::new(name.clone(), n as u32);
                            a.workers
                                .entry(w.clone())
                                .or_default()
                                .tasks
                                .push(t.clone());
                            prev_tasks.insert(t, w);
                        }
                    }
                }
                a
            });
            Case {
                live,
                connectors,
                previous,
                prev_tasks,
                prev_conns,
            }
        })
    }

    /// Laws 2–4 for one kind of unit, `prev` and `next` mapping unit → worker.
    fn check_sticky_balanced_minimal<U: Ord + fmt::Debug>(
        kind: &str,
        live: &BTreeSet<WorkerId>,
        prev: &BTreeMap<U, WorkerId>,
        next: &BTreeMap<U, WorkerId>,
    ) -> Result<(), TestCaseError> {
        let n = live.len();
        let total = next.len();
        let (q, r) = (total / n, total % n);
        let mut count: BTreeMap<&WorkerId, usize> = live.iter().map(|w| (w, 0)).collect();
        let mut kept: BTreeMap<&WorkerId, usize> = live.iter().map(|w| (w, 0)).collect();
        let mut lost: BTreeMap<&WorkerId, usize> = live.iter().map(|w| (w, 0)).collect();
        let mut gained: BTreeMap<&WorkerId, usize> = live.iter().map(|w| (w, 0)).collect();
        let mut moved = 0;
        for (u, w) in next {
            *count.get_mut(w).expect("assigned to a live worker") += 1;
            match prev.get(u) {
                Some(pw) if live.contains(pw) => {
                    *kept.get_mut(pw).unwrap() += 1;
                    if pw != w {
                        moved += 1;
                        *lost.get_mut(pw).unwrap() += 1;
                        *gained.get_mut(w).unwrap() += 1;
                    }
                }
                _ => *gained.get_mut(w).unwrap() += 1,
            }
        }
        // 2. Balanced.
        let (lo, hi) = (
            *count.values().min().unwrap(),
            *count.values().max().unwrap(),
        );
        prop_assert!(hi - lo <= 1, "{kind}: unbalanced {count:?}");
        prop_assert!(count.values().all(|&c| c == q || c == q + 1));
        prop_assert_eq!(count.values().filter(|&&c| c == q + 1).count(), r);

        // 3. Sticky: a worker loses units only down to a balanced count, and
        // then gains none; one that kept at most the floor loses none.
        for w in live {
            if lost[w] > 0 {
                prop_assert_eq!(gained[w], 0, "{}: {} lost and gained", kind, w);
                prop_assert!(count[w] >= q && count[w] <= q + 1);
                prop_assert!(kept[w] > count[w]);
            }
            if kept[w] <= q {
                prop_assert_eq!(lost[w], 0, "{}: {} stripped below the floor", kind, w);
            }
        }

        // 4. Minimal: the lower bound over every choice of which workers get
        // the r ceiling slots is reached by giving them to those that kept
        // the most.
        let mut kept_desc: Vec<usize> = kept.values().copied().collect();
        kept_desc.sort_unstable_by(|a, b| b.cmp(a));
        let bound: usize = kept_desc
            .iter()
            .enumerate()
            .map(|(i, &k)| k.saturating_sub(if i < r { q + 1 } else { q }))
            .sum();
        prop_assert_eq!(moved, bound, "{}: moved more than balance requires", kind);
        Ok(())
    }

    fn check_laws(c: &Case, a: &Assignment) -> Result<(), TestCaseError> {
        // Live workers exactly, each listed.
        prop_assert!(a.workers.keys().eq(c.live.iter()));
        for wa in a.workers.values() {
            prop_assert!(wa.tasks.is_sorted());
        }
        let tasks = task_owners(a);
        let conns = conn_owners(a);
        if c.live.is_empty() {
            prop_assert!(tasks.is_empty() && conns.is_empty());
            return Ok(());
        }
        // 1. Complete and exact.
        let expected: BTreeSet<TaskId> = c
            .connectors
            .iter()
            .flat_map(|(name, n)| (0..*n).map(move |t| TaskId::new(name.clone(), t)))
            .collect();
        prop_assert!(
            tasks.keys().eq(expected.iter()),
            "tasks not exactly the expected set"
        );
        prop_assert!(conns.keys().eq(c.connectors.keys()));

        check_sticky_balanced_minimal("tasks", &c.live, &c.prev_tasks, &tasks)?;
        check_sticky_balanced_minimal("connectors", &c.live, &c.prev_conns, &conns)?;
        Ok(())
    }

    proptest! {
        // 512 cases by default; PROPTEST_CASES overrides it for a longer run.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ))]

        #[test]
        fn prop_laws(c in case()) {
            let a = place(&c.live, &c.connectors, c.previous.as_ref());
            check_laws(&c, &a)?;

            // Generation.
            match &c.previous {
                None => prop_assert_eq!(a.generation, 1),
                Some(p) => {
                    let changed = !same_workers(&p.workers, &a.workers);
                    prop_assert_eq!(a.generation, p.generation + u64::from(changed));
                }
            }

            // 5. Deterministic, also for a previous read back from JSON with
            // its task lists in another order.
            let again = place(&c.live, &c.connectors, c.previous.as_ref());
            prop_assert_eq!(&again, &a);
            if let Some(p) = &c.previous {
                let mut p = p.clone();
                for wa in p.workers.values_mut() {
                    wa.tasks.reverse();
                }
                let json = serde_json::to_string(&p).unwrap();
                let read: Assignment = serde_json::from_str(&json).unwrap();
                let from_json = place(&c.live, &c.connectors, Some(&read));
                prop_assert_eq!(&from_json, &a);
            }

            // Idempotent: placing again keeps everything, generation included.
            let fixpoint = place(&c.live, &c.connectors, Some(&a));
            prop_assert_eq!(&fixpoint, &a);
        }

        /// The generation moves exactly when the content does: a settled
        /// assignment, edited the ways a record can go stale or wrong, is
        /// placed again; the generation is bumped iff the new worker map
        /// differs from the edited record (compared with sorted task lists).
        #[test]
        fn prop_generation_tracks_content(
            c in case(),
            edits in proptest::collection::vec((0..6u8, 0..WORKER_POOL, 0..CONNECTOR_POOL, 0..20u32), 0..=4),
        ) {
            let settled = place(&c.live, &c.connectors, c.previous.as_ref());
            let mut edited = settled.clone();
            for (kind, w, ci, t) in edits {
                let live: Vec<&WorkerId> = edited.workers.keys().collect();
                let target = if live.is_empty() { worker_name(w) } else { live[w % live.len()].clone() };
                let wa = edited.workers.entry(target).or_default();
                match kind {
                    // Lose a task, or a connector instance.
                    0 => { if !wa.tasks.is_empty() { let k = t as usize % wa.tasks.len(); wa.tasks.remove(k); } }
                    1 => { let first = wa.connectors.iter().next().cloned(); if let Some(n) = first { wa.connectors.remove(&n); } }
                    // A stale or duplicate entry (maybe deleted connector, maybe beyond the count).
                    2 => wa.tasks.push(TaskId::new(connector_name(ci), t)),
                    3 => { wa.connectors.insert(connector_name(ci)); }
                    // A dead worker's entry.
                    4 => { edited.workers.entry(worker_name(w + WORKER_POOL)).or_default(); }
                    // Another order.
                    _ => wa.tasks.reverse(),
                }
            }
            let next = place(&c.live, &c.connectors, Some(&edited));
            let changed = !same_workers(&edited.workers, &next.workers);
            prop_assert_eq!(next.generation, edited.generation + u64::from(changed));
        }

        /// A corrupt previous record (a task or connector under several
        /// workers, or twice under one) still yields a complete, exact,
        /// balanced assignment.
        #[test]
        fn prop_corrupt_previous_is_survived(
            c in case(),
            dups in proptest::collection::vec(
                (0..WORKER_POOL, 0..CONNECTOR_POOL, 0..20u32), 0..=30),
        ) {
            let mut prev = c.previous.clone().unwrap_or_default();
            for (w, ci, t) in dups {
                let wa = prev.workers.entry(worker_name(w)).or_default();
                wa.tasks.push(TaskId::new(connector_name(ci), t));
                wa.connectors.insert(connector_name(ci));
            }
            let a = place(&c.live, &c.connectors, Some(&prev));
            // Laws 1 and 2 (which worker "previously had" a unit is
            // ambiguous here, so stickiness is not checked).
            let tasks = task_owners(&a);
            let conns = conn_owners(&a);
            if !c.live.is_empty() {
                let expected: usize = c.connectors.values().map(|n| *n as usize).sum();
                prop_assert_eq!(tasks.len(), expected);
                prop_assert!(tasks.keys().all(|t| c.connectors.get(&t.connector).is_some_and(|n| t.task < *n)));
                prop_assert!(conns.keys().eq(c.connectors.keys()));
                let spread = |v: Vec<usize>| v.iter().max().unwrap() - v.iter().min().unwrap();
                prop_assert!(spread(task_counts(&a)) <= 1);
                prop_assert!(spread(a.workers.values().map(|w| w.connectors.len()).collect()) <= 1);
            }
            prop_assert_eq!(place(&c.live, &c.connectors, Some(&a)), a);
        }

        #[test]
        fn prop_task_id_round_trips(name in "[a-z0-9.-]{0,12}", n in any::<u32>()) {
            let t = TaskId::new(name.clone(), n);
            let s = t.to_string();
            if name.is_empty() {
                prop_assert!(s.parse::<TaskId>().is_err());
            } else {
                prop_assert_eq!(s.parse::<TaskId>(), Ok(t.clone()));
                let json = serde_json::to_string(&t).unwrap();
                prop_assert_eq!(serde_json::from_str::<TaskId>(&json).unwrap(), t);
            }
        }

        #[test]
        fn prop_task_id_parse_never_panics(s in "\\PC{0,24}") {
            if let Ok(t) = s.parse::<TaskId>() {
                prop_assert_eq!(t.to_string(), s);
            }
        }
    }
}
