//! The sampled statistics behind Connect's rates, averages and maxima, and
//! the clocks they read. A leaf: it knows nothing of kconnect, so the
//! collectors that use it and the exposition never import each other
//! through it.
//!
//! Java's rates, averages and maxima are sampled over a window (two 30 s
//! samples by default). Here they are computed over the last 30 seconds, in
//! one-second slots: a [`Window`] counts per slot, and a rate is the count of
//! the slots inside the window divided by the time they cover (at least one
//! second, at most since the metric was created). Recording is a few atomic
//! operations per batch, never a lock or an allocation.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// Length of one slot of a sampled window.
pub const SLOT: Duration = Duration::from_secs(1);
/// Slots in a window: rates and averages cover the last 30 seconds.
pub const SLOTS: usize = 30;
const SLOT_US: u64 = SLOT.as_micros() as u64;

/// Microseconds on a monotonic clock that starts with the process: the time
/// base of every window.
pub fn ticks_us() -> u64 {
    static START: LazyLock<Instant> = LazyLock::new(Instant::now);
    START.elapsed().as_micros() as u64
}

/// Milliseconds since the Unix epoch (Java's `last-error-timestamp`).
pub fn epoch_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The first slot inside the window that ends at `now_us`.
fn first_slot(now_us: u64) -> u64 {
    (now_us / SLOT_US).saturating_sub(SLOTS as u64 - 1)
}

/// Microseconds the window ending at `now_us` covers for something created
/// at `created_us`: from the window's first slot (or the creation, if later)
/// to now, and at least one second so a fresh metric does not spike.
fn covered_us(created_us: u64, now_us: u64) -> u64 {
    let start = (first_slot(now_us) * SLOT_US).max(created_us);
    now_us.saturating_sub(start).max(SLOT_US)
}

const TAG_BITS: u32 = 24;
const COUNT_BITS: u32 = 64 - TAG_BITS;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;
const TAG_MASK: u64 = (1 << TAG_BITS) - 1;

/// Events counted per one-second slot over the last 30 seconds. Each slot
/// is one atomic word holding the slot's tag and its count, so any number
/// of threads may add without a lock and a reader never sees a slot
/// half-reset.
#[derive(Debug)]
pub struct Window {
    slots: [AtomicU64; SLOTS],
}

impl Default for Window {
    fn default() -> Self {
        Window {
            slots: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl Window {
    /// Adds `n` events at `now_us` ([`ticks_us`]).
    pub fn add(&self, n: u64, now_us: u64) {
        let slot = now_us / SLOT_US;
        let tag = slot & TAG_MASK;
        let cell = &self.slots[(slot % SLOTS as u64) as usize];
        let mut current = cell.load(Ordering::Relaxed);
        loop {
            let next = if current >> COUNT_BITS == tag {
                (tag << COUNT_BITS) | ((current & COUNT_MASK).saturating_add(n) & COUNT_MASK)
            } else {
                (tag << COUNT_BITS) | (n & COUNT_MASK)
            };
            match cell.compare_exchange_weak(current, next, Ordering::Relaxed, Ordering::Relaxed) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Events in the window ending at `now_us`.
    pub fn sum(&self, now_us: u64) -> u64 {
        let last = now_us / SLOT_US;
        (first_slot(now_us)..=last)
            .map(|slot| {
                let v = self.slots[(slot % SLOTS as u64) as usize].load(Ordering::Relaxed);
                if v >> COUNT_BITS == slot & TAG_MASK {
                    v & COUNT_MASK
                } else {
                    0
                }
            })
            .sum()
    }
}

/// A cumulative count and its per-second rate over the window: Java's
/// `CumulativeSum` + `Rate` pair (`…-total`, `…-rate`).
#[derive(Debug)]
pub struct Meter {
    total: AtomicU64,
    window: Window,
    created_us: u64,
}

impl Default for Meter {
    fn default() -> Self {
        Meter {
            total: AtomicU64::new(0),
            window: Window::default(),
            created_us: ticks_us(),
        }
    }
}

impl Meter {
    /// Counts `n` events at `now_us`.
    pub fn mark(&self, n: u64, now_us: u64) {
        self.total.fetch_add(n, Ordering::Relaxed);
        self.window.add(n, now_us);
    }

    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Events per second over the window ending at `now_us`.
    pub fn rate(&self, now_us: u64) -> f64 {
        let covered = covered_us(self.created_us, now_us);
        self.window.sum(now_us) as f64 * 1e6 / covered as f64
    }
}

/// One slot of a [`Stat`]. `stamp` is the slot number plus one (0: empty).
#[derive(Debug, Default)]
struct StatSlot {
    stamp: AtomicU64,
    count: AtomicU64,
    sum: AtomicU64,
    max: AtomicU64,
    /// Stored as `u64::MAX - min`, so a fresh slot (0) means none.
    min_inverted: AtomicU64,
}

/// Count, sum and maximum of recorded values per slot over the window:
/// Java's sampled `Avg` and `Max`. Meant for one recording thread (the
/// task's loop); a concurrent recorder at a slot boundary may lose a value
/// from the window, never corrupt it.
#[derive(Debug)]
pub struct Stat {
    slots: [StatSlot; SLOTS],
}

impl Default for Stat {
    fn default() -> Self {
        Stat {
            slots: std::array::from_fn(|_| StatSlot::default()),
        }
    }
}

impl Stat {
    /// Records one value at `now_us`.
    pub fn record(&self, value: u64, now_us: u64) {
        let slot = now_us / SLOT_US;
        let cell = &self.slots[(slot % SLOTS as u64) as usize];
        let stamp = slot + 1;
        if cell.stamp.load(Ordering::Acquire) != stamp {
            cell.stamp.store(0, Ordering::Release);
            cell.count.store(0, Ordering::Relaxed);
            cell.sum.store(0, Ordering::Relaxed);
            cell.max.store(0, Ordering::Relaxed);
            cell.min_inverted.store(0, Ordering::Relaxed);
            cell.stamp.store(stamp, Ordering::Release);
        }
        cell.count.fetch_add(1, Ordering::Relaxed);
        cell.sum.fetch_add(value, Ordering::Relaxed);
        cell.max.fetch_max(value, Ordering::Relaxed);
        cell.min_inverted
            .fetch_max(u64::MAX - value, Ordering::Relaxed);
    }

    /// Smallest value in the window; NaN when there are none (as Java's
    /// `Min`).
    pub fn min(&self, now_us: u64) -> f64 {
        let last = now_us / SLOT_US;
        let mut inverted = None;
        for slot in first_slot(now_us)..=last {
            let cell = &self.slots[(slot % SLOTS as u64) as usize];
            if cell.stamp.load(Ordering::Acquire) == slot + 1
                && cell.count.load(Ordering::Relaxed) > 0
            {
                let v = cell.min_inverted.load(Ordering::Relaxed);
                inverted = Some(inverted.map_or(v, |m: u64| m.max(v)));
            }
        }
        inverted.map_or(f64::NAN, |v| (u64::MAX - v) as f64)
    }

    /// `(count, sum, max)` over the window ending at `now_us`.
    fn totals(&self, now_us: u64) -> (u64, u64, u64) {
        let last = now_us / SLOT_US;
        let mut totals = (0, 0, 0);
        for slot in first_slot(now_us)..=last {
            let cell = &self.slots[(slot % SLOTS as u64) as usize];
            if cell.stamp.load(Ordering::Acquire) == slot + 1 {
                totals.0 += cell.count.load(Ordering::Relaxed);
                totals.1 += cell.sum.load(Ordering::Relaxed);
                totals.2 = totals.2.max(cell.max.load(Ordering::Relaxed));
            }
        }
        totals
    }

    /// Mean of the values in the window; NaN when there are none (as Java's
    /// `Avg`).
    pub fn avg(&self, now_us: u64) -> f64 {
        match self.totals(now_us) {
            (0, _, _) => f64::NAN,
            (count, sum, _) => sum as f64 / count as f64,
        }
    }

    /// Largest value in the window; NaN when there are none (as Java's
    /// `Max`).
    pub fn max(&self, now_us: u64) -> f64 {
        match self.totals(now_us) {
            (0, _, _) => f64::NAN,
            (_, _, max) => max as f64,
        }
    }
}

/// Outcomes of an operation over the window: Java's
/// `Frequencies.forBooleanValues`, whose "percentages" are fractions
/// between 0 and 1 (0 when nothing happened in the window).
#[derive(Debug, Default)]
pub struct Outcomes {
    ok: Window,
    failed: Window,
}

impl Outcomes {
    pub fn record(&self, ok: bool, now_us: u64) {
        if ok {
            self.ok.add(1, now_us);
        } else {
            self.failed.add(1, now_us);
        }
    }

    /// Fraction of successes in the window.
    pub fn success(&self, now_us: u64) -> f64 {
        let (ok, failed) = (self.ok.sum(now_us), self.failed.sum(now_us));
        if ok + failed == 0 {
            0.0
        } else {
            ok as f64 / (ok + failed) as f64
        }
    }

    /// Fraction of failures in the window.
    pub fn failure(&self, now_us: u64) -> f64 {
        let (ok, failed) = (self.ok.sum(now_us), self.failed.sum(now_us));
        if ok + failed == 0 {
            0.0
        } else {
            failed as f64 / (ok + failed) as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = SLOT_US;

    #[test]
    fn window_counts_the_last_thirty_slots_only() {
        let w = Window::default();
        w.add(5, 0);
        w.add(7, S / 2);
        assert_eq!(w.sum(S - 1), 12);
        w.add(1, 10 * S);
        assert_eq!(w.sum(10 * S), 13);
        // Slot 0 leaves the window once slot 30 starts.
        assert_eq!(w.sum(29 * S), 13);
        assert_eq!(w.sum(30 * S), 1);
        // A slot reused 30 s later starts from zero.
        w.add(2, 30 * S);
        assert_eq!(w.sum(30 * S), 3);
        assert_eq!(w.sum(100 * S), 0);
    }

    #[test]
    fn window_is_exact_under_concurrent_adds() {
        let w = std::sync::Arc::new(Window::default());
        let now = 5 * S;
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let w = w.clone();
                std::thread::spawn(move || {
                    for _ in 0..10_000 {
                        w.add(1, now);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(w.sum(now), 40_000);
    }

    #[test]
    fn meter_rate_is_per_second_over_the_covered_time() {
        let m = Meter {
            created_us: 0,
            ..Meter::default()
        };
        // 100 events per second for 60 s: the window holds the last 30.
        for s in 0..60 {
            m.mark(100, s * S + 1);
        }
        assert_eq!(m.total(), 6000);
        let rate = m.rate(60 * S - 1);
        assert!((rate - 100.0).abs() < 5.0, "{rate}");
        // A fresh meter divides by its age (at least a second), not 30 s.
        let fresh = Meter {
            created_us: 100 * S,
            ..Meter::default()
        };
        fresh.mark(50, 100 * S + S / 10);
        assert_eq!(fresh.rate(100 * S + S / 2), 50.0);
        fresh.mark(50, 101 * S + S / 10);
        assert_eq!(fresh.rate(102 * S), 50.0);
        // Idle for longer than the window: zero.
        assert_eq!(fresh.rate(200 * S), 0.0);
    }

    #[test]
    fn stat_gives_avg_and_max_in_the_window_nan_without_values() {
        let s = Stat::default();
        assert!(s.avg(0).is_nan() && s.max(0).is_nan());
        s.record(10, S);
        s.record(30, 2 * S);
        s.record(20, 3 * S);
        assert_eq!(s.avg(3 * S), 20.0);
        assert_eq!(s.max(3 * S), 30.0);
        // The 10 at slot 1 leaves the window first.
        assert_eq!(s.avg(31 * S), 25.0);
        assert!(s.max(40 * S).is_nan());
    }

    #[test]
    fn outcomes_are_fractions_as_java_frequencies() {
        let o = Outcomes::default();
        assert_eq!(o.success(0), 0.0);
        o.record(true, 0);
        o.record(true, 0);
        o.record(true, 0);
        o.record(false, 0);
        assert_eq!(o.success(0), 0.75);
        assert_eq!(o.failure(0), 0.25);
    }
}
