//! Leader election through a real Lease on the test kube-apiserver: one
//! leader at a time; a fast handover when the leader stops (it releases the
//! Lease); a takeover after expiry when the leader dies without releasing;
//! a leader cut off from the API server steps down before a standby leads.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use kconnect::operator::leader::{self, LeaseSettings};
use kube::api::Api;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::Client;
use support::k8s;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

const DURATION: Duration = Duration::from_secs(3);
const RENEW: Duration = Duration::from_secs(1);

/// One elector as a replica of the operator would run it.
struct Replica {
    identity: String,
    leading: watch::Receiver<bool>,
    task: JoinHandle<()>,
    stop: CancellationToken,
}

impl Replica {
    fn is_leading(&self) -> bool {
        *self.leading.borrow()
    }
}

/// Every replica's receiver, polled every millisecond by a watchdog that
/// records each moment at which more than one replica says it leads.
#[derive(Clone, Default)]
struct Replicas(Arc<Mutex<Vec<Receiver>>>);

/// A replica's identity and a clone of its receiver.
type Receiver = (String, watch::Receiver<bool>);

impl Replicas {
    fn start(&self, client: &Client, namespace: &str, identity: &str) -> Replica {
        // The electors' logs, in the test's captured output (RUST_LOG filters).
        let _ = tracing_subscriber::fmt()
            .with_env_filter(
                tracing_subscriber::EnvFilter::try_from_default_env()
                    .unwrap_or_else(|_| "kconnect=info".into()),
            )
            .with_test_writer()
            .try_init();
        let settings = LeaseSettings {
            duration: DURATION,
            renew_every: RENEW,
            ..LeaseSettings::new(namespace, identity)
        };
        let stop = CancellationToken::new();
        let (leading, task) = leader::spawn(client.clone(), settings, stop.clone());
        self.0
            .lock()
            .expect("replicas lock")
            .push((identity.to_owned(), leading.clone()));
        Replica {
            identity: identity.to_owned(),
            leading,
            task,
            stop,
        }
    }

    /// The identities whose receiver is true right now.
    fn leaders(&self) -> Vec<String> {
        self.0
            .lock()
            .expect("replicas lock")
            .iter()
            .filter(|(_, rx)| *rx.borrow())
            .map(|(id, _)| id.clone())
            .collect()
    }

    /// Polls until `done` is cancelled; returns the number of polls and the
    /// moments (leader sets) with more than one leader.
    fn watchdog(&self, done: CancellationToken) -> JoinHandle<(u64, Vec<Vec<String>>)> {
        let replicas = self.clone();
        tokio::spawn(async move {
            let (mut polls, mut overlaps) = (0, Vec::new());
            while !done.is_cancelled() {
                let leaders = replicas.leaders();
                if leaders.len() > 1 {
                    overlaps.push(leaders);
                }
                polls += 1;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            (polls, overlaps)
        })
    }

    /// Waits until `identity` is the one leader.
    async fn wait_for_leader(&self, identity: &str, within: Duration) {
        let start = Instant::now();
        loop {
            if self.leaders() == [identity] {
                return;
            }
            assert!(
                start.elapsed() < within,
                "{identity} did not lead within {within:?}; leaders: {:?}",
                self.leaders()
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
}

async fn lease_spec(leases: &Api<Lease>) -> LeaseSpec {
    leases
        .get(leader::DEFAULT_LEASE_NAME)
        .await
        .expect("reading the lease")
        .spec
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_leader_at_a_time_a_released_lease_hands_over_at_once_an_abandoned_one_on_expiry() {
    let client = k8s::client().await;
    let ns = k8s::namespace(&client, "lease").await;
    let leases: Api<Lease> = Api::namespaced(client.clone(), &ns);
    let replicas = Replicas::default();
    let done = CancellationToken::new();
    let watchdog = replicas.watchdog(done.clone());

    // Two replicas racing for a Lease that does not exist yet: one leads.
    let start = Instant::now();
    let a = replicas.start(&client, &ns, "replica-a");
    let b = replicas.start(&client, &ns, "replica-b");
    let (first, second) = loop {
        match replicas.leaders().as_slice() {
            [] => {}
            [one] if *one == a.identity => break (a, b),
            [_] => break (b, a),
            both => panic!("two leaders: {both:?}"),
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "no replica leads after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    println!(
        "{} leads after {:?}; {} stands by",
        first.identity,
        start.elapsed(),
        second.identity
    );
    let spec = lease_spec(&leases).await;
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(first.identity.as_str())
    );
    assert_eq!(spec.lease_duration_seconds, Some(3));
    assert_eq!(spec.lease_transitions, Some(0));

    // The leader keeps the Lease across renewals; the standby stays out.
    let acquired = spec.acquire_time;
    let renewed = spec.renew_time;
    tokio::time::sleep(DURATION - RENEW / 2).await;
    assert_eq!(replicas.leaders(), [first.identity.as_str()]);
    let spec = lease_spec(&leases).await;
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(first.identity.as_str())
    );
    assert_eq!(spec.acquire_time, acquired, "a renewal keeps acquireTime");
    assert_ne!(spec.renew_time, renewed, "renewed since");

    // Stopping the leader releases the Lease: the standby leads at its next
    // poll, well before the Lease would have expired.
    let stopped = Instant::now();
    first.stop.cancel();
    replicas
        .wait_for_leader(&second.identity, Duration::from_secs(2))
        .await;
    let handover = stopped.elapsed();
    println!(
        "released lease: {} leads {handover:?} after {} stopped",
        second.identity, first.identity
    );
    assert!(!first.is_leading());
    tokio::time::timeout(Duration::from_secs(5), first.task)
        .await
        .expect("the stopped elector ends")
        .expect("the elector task does not panic");
    let spec = lease_spec(&leases).await;
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(second.identity.as_str())
    );
    assert_eq!(spec.lease_transitions, Some(1));

    // A new standby; then the leader dies without releasing (its task is
    // aborted): the standby waits for the Lease to expire, then leads.
    let third = replicas.start(&client, &ns, "replica-c");
    tokio::time::sleep(RENEW + RENEW / 2).await;
    assert_eq!(replicas.leaders(), [second.identity.as_str()]);
    assert!(!third.is_leading());
    let aborted = Instant::now();
    second.task.abort();
    let ended = second.task.await;
    assert!(
        ended.is_err_and(|e| e.is_cancelled()),
        "the aborted elector task is cancelled"
    );
    assert!(
        !*second.leading.borrow(),
        "an aborted elector's receiver turns false"
    );
    let slack = Duration::from_millis(1500);
    replicas
        .wait_for_leader(&third.identity, DURATION + RENEW + slack)
        .await;
    let takeover = aborted.elapsed();
    println!(
        "abandoned lease: {} leads {takeover:?} after {} was aborted (lease {DURATION:?})",
        third.identity, second.identity
    );
    // The last renewal was at most RENEW before the abort, so the Lease
    // cannot have expired before DURATION - RENEW.
    assert!(
        takeover >= DURATION - RENEW - Duration::from_millis(100),
        "took over a lease that had not expired: after {takeover:?}"
    );
    let spec = lease_spec(&leases).await;
    assert_eq!(
        spec.holder_identity.as_deref(),
        Some(third.identity.as_str())
    );
    assert_eq!(spec.lease_transitions, Some(2));

    // The last leader stops too: the Lease is left free.
    third.stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), third.task)
        .await
        .expect("the stopped elector ends")
        .expect("the elector task does not panic");
    assert!(replicas.leaders().is_empty());
    assert_eq!(lease_spec(&leases).await.holder_identity, None);

    done.cancel();
    let (polls, overlaps) = watchdog.await.expect("watchdog");
    println!("watchdog: {polls} polls of every receiver");
    assert!(polls > 500, "the watchdog polled only {polls} times");
    assert!(
        overlaps.is_empty(),
        "more than one leader at {} moments, first {:?}",
        overlaps.len(),
        overlaps.first()
    );
}

/// A TCP forwarder to the API server that can be cut like a network
/// partition: after `cut`, nothing is forwarded any more and connections
/// stay open, so requests hang until the client gives up.
struct Partitionable {
    port: u16,
    cut: CancellationToken,
}

impl Partitionable {
    async fn start(upstream: String) -> Partitionable {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the forwarder");
        let port = listener.local_addr().expect("forwarder address").port();
        let cut = CancellationToken::new();
        let cut_off = cut.clone();
        tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                if cut_off.is_cancelled() {
                    held.push(inbound);
                    continue;
                }
                let (cut_off, upstream) = (cut_off.clone(), upstream.clone());
                tokio::spawn(async move {
                    let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        // Keep both sockets open, silent, until the test ends.
                        _ = cut_off.cancelled() => std::future::pending::<()>().await,
                    }
                });
            }
        });
        Partitionable { port, cut }
    }
}

/// A client for the test API server that goes through `proxy`.
async fn client_through(proxy: &Partitionable) -> Client {
    let mut kc = Kubeconfig::read_from(k8s::kubeconfig()).expect("reading the test kubeconfig");
    for named in &mut kc.clusters {
        if let Some(cluster) = named.cluster.as_mut() {
            cluster.server = Some(format!("https://127.0.0.1:{}", proxy.port));
        }
    }
    kconnect::install_crypto_provider();
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("building a client config");
    Client::try_from(config).expect("building a kube client")
}

/// `host:port` of the test API server.
fn apiserver_address() -> String {
    let kc = Kubeconfig::read_from(k8s::kubeconfig()).expect("reading the test kubeconfig");
    let server = kc
        .clusters
        .iter()
        .find_map(|c| c.cluster.as_ref()?.server.clone())
        .expect("a server in the test kubeconfig");
    server
        .trim_start_matches("https://")
        .trim_end_matches('/')
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_cut_off_from_the_api_server_steps_down_before_a_standby_leads() {
    let client = k8s::client().await;
    let ns = k8s::namespace(&client, "lease-cut").await;
    let replicas = Replicas::default();
    let done = CancellationToken::new();
    let watchdog = replicas.watchdog(done.clone());

    // `a` reaches the API server through a forwarder that can be cut.
    let proxy = Partitionable::start(apiserver_address()).await;
    let a = replicas.start(&client_through(&proxy).await, &ns, "replica-a");
    replicas
        .wait_for_leader(&a.identity, Duration::from_secs(5))
        .await;
    let b = replicas.start(&client, &ns, "replica-b");
    tokio::time::sleep(RENEW + RENEW / 2).await;
    assert_eq!(replicas.leaders(), [a.identity.as_str()]);

    // Partition: `a`'s renewals hang. It must stop leading within
    // DURATION - RENEW of its last renewal (at most RENEW before the cut);
    // `b` leads only once the Lease has expired, a margin later.
    let cut = Instant::now();
    proxy.cut.cancel();
    while a.is_leading() {
        assert!(
            cut.elapsed() < DURATION - RENEW + Duration::from_millis(300),
            "the cut-off leader still leads after {:?}",
            cut.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stepped_down = cut.elapsed();
    replicas
        .wait_for_leader(&b.identity, DURATION + RENEW + Duration::from_millis(1500))
        .await;
    let took_over = cut.elapsed();
    println!(
        "partition: {} stepped down {stepped_down:?} after the cut, {} led {took_over:?} after it",
        a.identity, b.identity
    );
    assert!(
        stepped_down >= DURATION - 2 * RENEW - Duration::from_millis(100),
        "stepped down before a renewal could have failed: {stepped_down:?}"
    );
    assert!(
        took_over - stepped_down >= RENEW / 2,
        "too small a margin between step-down and takeover"
    );

    // Stopping the cut-off replica does not hang on its release.
    let stopping = Instant::now();
    a.stop.cancel();
    tokio::time::timeout(RENEW + Duration::from_secs(1), a.task)
        .await
        .expect("a cut-off elector stops within its request timeout")
        .expect("the elector task does not panic");
    println!("the cut-off replica stopped in {:?}", stopping.elapsed());
    assert_eq!(replicas.leaders(), [b.identity.as_str()]);

    b.stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), b.task)
        .await
        .expect("the stopped elector ends")
        .expect("the elector task does not panic");
    done.cancel();
    let (polls, overlaps) = watchdog.await.expect("watchdog");
    assert!(polls > 500, "the watchdog polled only {polls} times");
    assert!(
        overlaps.is_empty(),
        "more than one leader at {} moments, first {:?}",
        overlaps.len(),
        overlaps.first()
    );
}
