//! Leader election through a `coordination.k8s.io/v1` Lease, so that several
//! replicas of `kconnect operator` can run and only one reconciles.
//!
//! The algorithm is client-go's `leaderelection`. Every replica reads the
//! Lease and claims it when it is free, expired or already its own, writing
//! with the `resourceVersion` it read: of two racing writers only one wins,
//! the other gets a conflict and reads again.
//!
//! Expiry is judged on the reader's own monotonic clock: a holder's Lease has
//! expired once the reader has seen it unchanged for `leaseDurationSeconds`.
//! `renewTime` is never compared with local time, so clock skew between nodes
//! does not matter.
//!
//! The holder renews every `renew_every`. It steps down (the receiver turns
//! false) as soon as it sees someone else holding the Lease, or once it has
//! gone `duration - renew_every` without a successful renewal (client-go's
//! renewDeadline: 10 s of a 15 s Lease by default). A standby only takes
//! over after seeing the Lease unchanged for the whole `duration`, so the
//! holder has stopped leading one renewal period before: two replicas never
//! lead at the same time. On stop the holder first turns the receiver false,
//! then clears `holderIdentity`, so a standby takes over at its next poll
//! instead of waiting for the Lease to expire.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ObjectMeta, PostParams};
use kube::Client;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::{sleep_until, timeout, Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// Name of the Lease when none is configured.
pub const DEFAULT_LEASE_NAME: &str = "kconnect-operator";

/// How soon to read the Lease again after losing a write race.
const CONFLICT_RETRY: Duration = Duration::from_millis(100);

/// Where the Lease lives, who this replica is, and the timing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeaseSettings {
    pub namespace: String,
    /// Name of the Lease object (default `kconnect-operator`).
    pub name: String,
    /// This replica's identity, unique among replicas (usually the Pod name).
    pub identity: String,
    /// How long a Lease is valid after its last renewal (default 15 s).
    /// Written to the Lease in whole seconds, rounded up.
    pub duration: Duration,
    /// How often the holder renews and a standby polls (default 5 s).
    /// Must be below `duration`; otherwise a third of `duration` is used.
    /// A holder that has not renewed for `duration - renew_every` stops
    /// leading, leaving this much margin before a standby may take over.
    pub renew_every: Duration,
}

impl LeaseSettings {
    pub fn new(namespace: impl Into<String>, identity: impl Into<String>) -> Self {
        LeaseSettings {
            namespace: namespace.into(),
            name: DEFAULT_LEASE_NAME.to_owned(),
            identity: identity.into(),
            duration: Duration::from_secs(15),
            renew_every: Duration::from_secs(5),
        }
    }

    /// The settings with a duration of at least 1 s and a renewal period
    /// below it.
    fn normalized(mut self) -> Self {
        self.duration = self.duration.max(Duration::from_secs(1));
        if self.renew_every.is_zero() || self.renew_every >= self.duration {
            self.renew_every = self.duration / 3;
        }
        self
    }

    /// `leaseDurationSeconds`: the duration in whole seconds, rounded up.
    fn lease_seconds(&self) -> i32 {
        let secs = self.duration.as_secs() + u64::from(self.duration.subsec_nanos() > 0);
        i32::try_from(secs).unwrap_or(i32::MAX)
    }
}

/// Spawns the election loop. The receiver is true while this process holds
/// the Lease; it turns false when the Lease is lost, when `stop` is
/// cancelled, and when the task ends for any reason (also `abort`).
///
/// The loop stops when `stop` is cancelled or every receiver is dropped,
/// and then releases the Lease if it holds it, so that a standby takes over
/// at once. API errors are logged and retried; they never end the loop.
pub fn spawn(
    client: Client,
    settings: LeaseSettings,
    stop: CancellationToken,
) -> (watch::Receiver<bool>, JoinHandle<()>) {
    let settings = settings.normalized();
    let (tx, rx) = watch::channel(false);
    let elector = Elector {
        api: Api::namespaced(client, &settings.namespace),
        lease: format!("{}/{}", settings.namespace, settings.name),
        settings,
        observed: None,
    };
    (rx, tokio::spawn(elector.run(Leadership(tx), stop)))
}

/// The sending side of the receiver; it turns false when dropped, so a
/// panicking or aborted task never leaves a stale `true` behind.
struct Leadership(watch::Sender<bool>);

impl Leadership {
    fn set(&self, leading: bool) {
        self.0.send_if_modified(|current| {
            let changed = *current != leading;
            *current = leading;
            changed
        });
    }
}

impl Drop for Leadership {
    fn drop(&mut self) {
        self.set(false);
    }
}

/// What one attempt to acquire or renew found.
#[derive(Debug)]
enum Outcome {
    /// This replica holds the Lease (created, acquired or renewed).
    Held,
    /// Another replica holds it and it has not expired.
    HeldBy(String),
    /// The Lease changed between read and write: read it again.
    Conflict,
}

struct Elector {
    api: Api<Lease>,
    /// `namespace/name`, for logs.
    lease: String,
    settings: LeaseSettings,
    /// `resourceVersion` of the Lease as last read, and when that version
    /// was first seen: the start of its expiry on this replica's clock.
    observed: Option<(String, Instant)>,
}

impl Elector {
    async fn run(mut self, leadership: Leadership, stop: CancellationToken) {
        let period = self.settings.renew_every;
        // A holder that has not renewed for this long stops leading: one
        // period before a standby may take over (client-go's renewDeadline).
        let renew_deadline = self.settings.duration - period;
        // Start of the last successful claim while leading.
        let mut renewed_at: Option<Instant> = None;
        loop {
            let started = Instant::now();
            if renewed_at.is_some_and(|at| started >= at + renew_deadline) {
                warn!(
                    lease = %self.lease, identity = %self.settings.identity,
                    ?renew_deadline, "could not renew the lease in time: no longer leading"
                );
                renewed_at = None;
                leadership.set(false);
            }
            // A holder bounds each attempt by its deadline, so a hanging API
            // server cannot keep it leading.
            let limit = renewed_at.map_or(period, |at| {
                (at + renew_deadline)
                    .saturating_duration_since(started)
                    .min(period)
            });
            let attempt = tokio::select! {
                _ = stop.cancelled() => break,
                _ = leadership.0.closed() => break,
                attempt = timeout(limit, self.try_acquire_or_renew()) => attempt,
            };
            let mut next = started + period;
            let renewed = matches!(attempt, Ok(Ok(Outcome::Held)));
            match attempt {
                Ok(Ok(Outcome::Held)) => {
                    if renewed_at.is_none() {
                        info!(
                            lease = %self.lease, identity = %self.settings.identity,
                            "acquired the lease: leading"
                        );
                    }
                    renewed_at = Some(started);
                    leadership.set(true);
                }
                Ok(Ok(Outcome::HeldBy(holder))) => {
                    if renewed_at.take().is_some() {
                        warn!(
                            lease = %self.lease, identity = %self.settings.identity, %holder,
                            "the lease is held by another replica: no longer leading"
                        );
                    } else {
                        debug!(
                            lease = %self.lease, identity = %self.settings.identity, %holder,
                            "standing by"
                        );
                    }
                    leadership.set(false);
                }
                Ok(Ok(Outcome::Conflict)) => {
                    debug!(
                        lease = %self.lease, identity = %self.settings.identity,
                        "the lease changed while claiming it; reading it again"
                    );
                    next = Instant::now() + CONFLICT_RETRY.min(period);
                }
                Ok(Err(error)) => {
                    warn!(
                        lease = %self.lease, identity = %self.settings.identity, %error,
                        "lease request failed; retrying"
                    );
                }
                Err(_) => {
                    warn!(
                        lease = %self.lease, identity = %self.settings.identity, timeout = ?limit,
                        "lease request timed out; retrying"
                    );
                }
            }
            if let Some(at) = renewed_at {
                // A holder whose renewal failed tries again sooner.
                if !renewed {
                    next = next.min(started + period / 2);
                }
                next = next.min(at + renew_deadline);
            }
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = leadership.0.closed() => break,
                _ = sleep_until(next) => {}
            }
        }
        // Stop leading before letting a standby in.
        leadership.set(false);
        let (lease, identity) = (&self.lease, &self.settings.identity);
        match timeout(period, self.release()).await {
            Ok(Ok(true)) => info!(%lease, %identity, "released the lease"),
            Ok(Ok(false)) => debug!(%lease, %identity, "stopped; the lease was not ours"),
            Ok(Err(error)) => warn!(
                %lease, %identity, %error,
                "could not release the lease; it expires on its own"
            ),
            Err(_) => warn!(
                %lease, %identity,
                "releasing the lease timed out; it expires on its own"
            ),
        }
    }

    /// Reads the Lease once and claims it if it is missing, free, expired
    /// or already ours.
    async fn try_acquire_or_renew(&mut self) -> Result<Outcome, kube::Error> {
        let name = &self.settings.name;
        let identity = &self.settings.identity;
        let seconds = self.settings.lease_seconds();
        let Some(mut lease) = self.api.get_opt(name).await? else {
            let lease = Lease {
                metadata: ObjectMeta {
                    name: Some(name.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(claim(None, identity, seconds, Timestamp::now())),
            };
            return written(self.api.create(&PostParams::default(), &lease).await);
        };
        // Taken after the read, so never before the version read was written.
        let now = Instant::now();
        let version = lease.metadata.resource_version.clone().unwrap_or_default();
        let first_seen = match &self.observed {
            Some((seen, at)) if *seen == version => *at,
            _ => now,
        };
        self.observed = Some((version, first_seen));
        let spec = lease.spec.take().unwrap_or_default();
        if let Some(holder) = holder(&spec).filter(|h| h != identity) {
            let valid_for = spec
                .lease_duration_seconds
                .map_or(self.settings.duration, |s| {
                    Duration::from_secs(u64::try_from(s).unwrap_or(0))
                });
            if now < first_seen + valid_for {
                return Ok(Outcome::HeldBy(holder.to_owned()));
            }
            info!(
                lease = %self.lease, %identity, %holder,
                "the lease has expired; taking it over"
            );
        }
        // `lease` still carries the resourceVersion read above: the write
        // fails with a conflict if anyone wrote in between.
        lease.spec = Some(claim(Some(&spec), identity, seconds, Timestamp::now()));
        written(self.api.replace(name, &PostParams::default(), &lease).await)
    }

    /// Clears the holder if it is this replica; true if it was released.
    async fn release(&self) -> Result<bool, kube::Error> {
        let name = &self.settings.name;
        // A conflict means the Lease changed under us: read it again.
        for _ in 0..3 {
            let Some(mut lease) = self.api.get_opt(name).await? else {
                return Ok(false);
            };
            let spec = lease.spec.take().unwrap_or_default();
            if holder(&spec) != Some(self.settings.identity.as_str()) {
                return Ok(false);
            }
            lease.spec = Some(released(&spec, Timestamp::now()));
            match self.api.replace(name, &PostParams::default(), &lease).await {
                Ok(_) => return Ok(true),
                Err(kube::Error::Api(status)) if status.is_conflict() => continue,
                Err(error) => return Err(error),
            }
        }
        Ok(false)
    }
}

/// The outcome of a create or replace: a conflict, or AlreadyExists when
/// another replica created the Lease first, is a lost race, not an error.
fn written(result: Result<Lease, kube::Error>) -> Result<Outcome, kube::Error> {
    match result {
        Ok(_) => Ok(Outcome::Held),
        Err(kube::Error::Api(status)) if status.is_conflict() || status.is_already_exists() => {
            Ok(Outcome::Conflict)
        }
        Err(error) => Err(error),
    }
}

/// The holder of a Lease; an empty identity means none.
fn holder(spec: &LeaseSpec) -> Option<&str> {
    spec.holder_identity.as_deref().filter(|h| !h.is_empty())
}

/// The spec after `identity` claims the Lease: a renewal keeps
/// `acquireTime` and `leaseTransitions`; a change of holder sets
/// `acquireTime` and counts a transition. Other fields are kept.
fn claim(current: Option<&LeaseSpec>, identity: &str, seconds: i32, now: Timestamp) -> LeaseSpec {
    let current = current.cloned().unwrap_or_default();
    let renewing = holder(&current) == Some(identity);
    let transitions = current.lease_transitions.unwrap_or(0);
    let (acquire_time, lease_transitions) = match (&current.acquire_time, renewing) {
        (Some(acquired), true) => (acquired.clone(), transitions),
        (None, true) => (MicroTime(now), transitions),
        // A brand-new Lease (no renewTime yet) counts no transition.
        (_, false) if current.renew_time.is_none() => (MicroTime(now), transitions),
        (_, false) => (MicroTime(now), transitions.saturating_add(1)),
    };
    LeaseSpec {
        holder_identity: Some(identity.to_owned()),
        lease_duration_seconds: Some(seconds),
        acquire_time: Some(acquire_time),
        renew_time: Some(MicroTime(now)),
        lease_transitions: Some(lease_transitions),
        ..current
    }
}

/// The spec after its holder lets go: no holder, as client-go releases.
fn released(current: &LeaseSpec, now: Timestamp) -> LeaseSpec {
    LeaseSpec {
        holder_identity: None,
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        ..current.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).expect("valid timestamp")
    }

    #[test]
    fn defaults() {
        let s = LeaseSettings::new("ns", "pod-0");
        assert_eq!(s.name, "kconnect-operator");
        assert_eq!(s.duration, Duration::from_secs(15));
        assert_eq!(s.renew_every, Duration::from_secs(5));
        assert_eq!(s.clone().normalized(), s);
        assert_eq!(s.lease_seconds(), 15);
    }

    #[test]
    fn normalized_keeps_renewal_below_duration() {
        let s = LeaseSettings {
            duration: Duration::from_millis(2500),
            renew_every: Duration::from_secs(3),
            ..LeaseSettings::new("ns", "pod-0")
        }
        .normalized();
        assert!(s.renew_every < s.duration);
        assert_eq!(s.lease_seconds(), 3, "rounded up");
        let s = LeaseSettings {
            duration: Duration::ZERO,
            renew_every: Duration::ZERO,
            ..LeaseSettings::new("ns", "pod-0")
        }
        .normalized();
        assert_eq!(s.duration, Duration::from_secs(1));
        assert!(!s.renew_every.is_zero() && s.renew_every < s.duration);
    }

    #[test]
    fn creating_counts_no_transition() {
        let spec = claim(None, "a", 15, at(0));
        assert_eq!(spec.holder_identity.as_deref(), Some("a"));
        assert_eq!(spec.lease_duration_seconds, Some(15));
        assert_eq!(spec.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(spec.renew_time, Some(MicroTime(at(0))));
        assert_eq!(spec.lease_transitions, Some(0));
    }

    #[test]
    fn renewing_keeps_acquire_time_and_transitions() {
        let first = claim(None, "a", 15, at(0));
        let renewed = claim(Some(&first), "a", 15, at(5));
        assert_eq!(renewed.acquire_time, Some(MicroTime(at(0))));
        assert_eq!(renewed.renew_time, Some(MicroTime(at(5))));
        assert_eq!(renewed.lease_transitions, Some(0));
    }

    #[test]
    fn taking_over_counts_a_transition() {
        let first = claim(None, "a", 15, at(0));
        let taken = claim(Some(&first), "b", 15, at(20));
        assert_eq!(taken.holder_identity.as_deref(), Some("b"));
        assert_eq!(taken.acquire_time, Some(MicroTime(at(20))));
        assert_eq!(taken.lease_transitions, Some(1));
        // After a release too: the holder changed from "a" to "b".
        let freed = released(&first, at(3));
        assert_eq!(holder(&freed), None);
        assert_eq!(freed.lease_transitions, Some(0));
        let taken = claim(Some(&freed), "b", 15, at(4));
        assert_eq!(taken.lease_transitions, Some(1));
        assert_eq!(taken.lease_duration_seconds, Some(15));
    }

    #[test]
    fn losing_a_create_or_replace_race_is_no_error() {
        let api_error = |reason: &str, code: u16| {
            Err(kube::Error::Api(
                kube::core::Status::failure("test", reason)
                    .with_code(code)
                    .boxed(),
            ))
        };
        let outcome = written(api_error("AlreadyExists", 409));
        assert!(matches!(outcome, Ok(Outcome::Conflict)), "{outcome:?}");
        let outcome = written(api_error("Conflict", 409));
        assert!(matches!(outcome, Ok(Outcome::Conflict)), "{outcome:?}");
        let outcome = written(api_error("InternalError", 500));
        assert!(outcome.is_err(), "{outcome:?}");
    }

    #[test]
    fn an_empty_holder_is_no_holder() {
        let spec = LeaseSpec {
            holder_identity: Some(String::new()),
            ..LeaseSpec::default()
        };
        assert_eq!(holder(&spec), None);
    }

    #[test]
    fn claiming_keeps_fields_it_does_not_own() {
        let current = LeaseSpec {
            strategy: Some("OldestEmulationVersion".to_owned()),
            ..claim(None, "a", 15, at(0))
        };
        let renewed = claim(Some(&current), "a", 15, at(5));
        assert_eq!(renewed.strategy.as_deref(), Some("OldestEmulationVersion"));
    }
}
