//! The `kconnect` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

/// jemalloc, as Vector and linkerd2-proxy ship: a source task allocates a
/// few small objects per record, and glibc's malloc spent a quarter of the
/// task's CPU on them and on consolidating freed batches (bench/results).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings for this process: one arena. Its default of four
/// per core spreads a worker's few busy threads over arenas that each keep
/// memory of their own; one arena holds peak RSS ~4 MiB lower at the same
/// throughput. `_RJEM_MALLOC_CONF` in the environment still overrides it.
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_CONF: JemallocConf = JemallocConf(c"narenas:1".as_ptr());

/// jemalloc reads `malloc_conf` as a `const char *`.
#[repr(transparent)]
struct JemallocConf(*const std::ffi::c_char);
// SAFETY: it points at an immutable, 'static C string.
unsafe impl Sync for JemallocConf {}

#[derive(Parser)]
#[command(name = "kconnect", version, about = "Kafka Connect rebuilt in Rust")]
struct Cli {
    /// Log as JSON lines instead of text.
    #[arg(long, global = true, env = "KCONNECT_LOG_JSON")]
    log_json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run connectors in one process, like Kafka's connect-standalone.sh.
    ///
    /// Files may be Java .properties, YAML or JSON. Without bootstrap.servers
    /// in the worker config, an embedded in-memory Kafka is used. Connect's
    /// REST API serves on `listeners` (default http://:8083).
    Standalone {
        /// Worker configuration (bootstrap.servers, converters, offset.storage.file.filename …).
        worker_config: PathBuf,
        /// One file per connector (none: create them through the REST API).
        connector_configs: Vec<PathBuf>,
    },
    /// Run a distributed-mode worker (what the operator's worker Pods run).
    ///
    /// Connector configs, assignments and statuses travel through the
    /// config and status topics; the worker needs no Kubernetes access.
    /// Connect's REST API serves reads on `listeners` (default
    /// http://$POD_IP:8083); changes are refused with 409 unless the
    /// worker config sets kconnect.rest.writes=true.
    Worker {
        /// Worker configuration: bootstrap.servers, group.id and the three
        /// storage topics, converters, producer.*/consumer.* settings.
        /// Without a file, the properties text in $KCONNECT_WORKER_CONFIG
        /// (how the operator's Pods pass it).
        worker_config: Option<PathBuf>,
        /// This worker's name in assignments (the Pod name).
        #[arg(long, env = "POD_NAME")]
        worker_id: String,
        /// Where to serve GET /health for readiness probes.
        #[arg(long, env = "KCONNECT_HEALTH_LISTEN", default_value = "0.0.0.0:8084")]
        health_listen: std::net::SocketAddr,
    },
    /// Run the operator: reconcile ConnectCluster and Connector resources.
    ///
    /// Two or more replicas may run: they elect a leader through a Lease,
    /// and only the leader reconciles.
    Operator {
        /// Namespaces to watch (repeat or separate with commas); all when
        /// not given.
        #[arg(long = "namespace", env = "KCONNECT_NAMESPACES", value_delimiter = ',')]
        namespaces: Vec<String>,
        /// Image of worker Pods whose ConnectCluster sets none.
        #[arg(long, env = "KCONNECT_WORKER_IMAGE", default_value = concat!("ghcr.io/kconnect/kconnect:", env!("CARGO_PKG_VERSION")))]
        worker_image: String,
        /// This replica's name in the Lease and in Events.
        #[arg(long, env = "POD_NAME")]
        identity: Option<String>,
        /// Namespace of the leader-election Lease (the operator's own).
        #[arg(long, env = "POD_NAMESPACE", default_value = "default")]
        lease_namespace: String,
        /// Name of the leader-election Lease.
        #[arg(long, default_value = "kconnect-operator")]
        lease_name: String,
        /// How often each cluster's topics are read, in milliseconds.
        #[arg(long, default_value_t = 250)]
        sync_interval_ms: u64,
        /// A worker whose heartbeat is older than this is lost, in milliseconds.
        #[arg(long, default_value_t = 10_000)]
        heartbeat_timeout_ms: u64,
        /// First wait before restarting a failed task, in milliseconds
        /// (doubles per restart, up to 5 minutes).
        #[arg(long, default_value_t = 2_000)]
        restart_backoff_ms: u64,
        /// Whether ConnectClusters that do not say get a NetworkPolicy
        /// admitting only their workers, the operator and the listed peers
        /// to the REST port (spec.restApi.networkPolicy.enabled).
        #[arg(long, env = "KCONNECT_NETWORK_POLICIES", default_value_t = true, action = clap::ArgAction::Set)]
        network_policies: bool,
        /// Labels of the operator's own Pods, as key=value pairs separated by
        /// commas: the NetworkPolicies admit Pods with these labels in any
        /// namespace.
        #[arg(
            long,
            env = "KCONNECT_OPERATOR_POD_LABELS",
            default_value = "app.kubernetes.io/name=kconnect,app.kubernetes.io/component=operator"
        )]
        operator_pod_labels: String,
    },
    /// Print the CustomResourceDefinitions (ConnectCluster, Connector) as YAML.
    Crd {
        /// Write one file per CRD into this directory instead of printing.
        #[arg(long)]
        output_dir: Option<PathBuf>,
    },
}

/// The environment variable the operator's worker Pods carry their
/// configuration in.
const WORKER_CONFIG_ENV: &str = "KCONNECT_WORKER_CONFIG";

fn init_logging(json: bool) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    use tracing_subscriber::{fmt, reload, Registry};

    let directives = std::env::var(EnvFilter::DEFAULT_ENV)
        .ok()
        .filter(|d| EnvFilter::try_new(d).is_ok())
        .unwrap_or_else(|| "info".to_owned());
    let (filter, handle) = reload::Layer::<EnvFilter, Registry>::new(EnvFilter::new(&directives));
    // Colours only on a terminal: Pod logs and files stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let registry = tracing_subscriber::registry().with(filter);
    if json {
        registry
            .with(fmt::layer().json().with_writer(std::io::stderr))
            .init();
    } else {
        registry
            .with(fmt::layer().with_writer(std::io::stderr).with_ansi(ansi))
            .init();
    }
    // GET/PUT /admin/loggers change the filter at runtime.
    kconnect::rest::logging::install(&directives, move |new| {
        let filter = EnvFilter::try_new(new).map_err(|e| e.to_string())?;
        handle.reload(filter).map_err(|e| e.to_string())
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
    kconnect::install_crypto_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(run(cli.command));
    // Don't wait for blocking reads that can't be cancelled (a stdin source
    // blocks in read(2) until the next line): everything was flushed and
    // committed before `run` returned.
    runtime.shutdown_background();
    code
}

async fn run(command: Command) -> ExitCode {
    match command {
        Command::Crd { output_dir: None } => {
            print!("{}", kconnect::api::crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Crd {
            output_dir: Some(dir),
        } => match kconnect::api::write_crd_files(&dir) {
            Ok(paths) => {
                for path in paths {
                    eprintln!("wrote {}", path.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: writing CRDs to {}: {e}", dir.display());
                ExitCode::FAILURE
            }
        },
        Command::Worker {
            worker_config,
            worker_id,
            health_listen,
        } => match run_worker(worker_config.as_deref(), &worker_id, health_listen).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Operator {
            namespaces,
            worker_image,
            identity,
            lease_namespace,
            lease_name,
            sync_interval_ms,
            heartbeat_timeout_ms,
            restart_backoff_ms,
            network_policies,
            operator_pod_labels,
        } => {
            let operator_pod_labels =
                match kconnect::operator::network_policy::parse_labels(&operator_pod_labels) {
                    Ok(labels) => labels,
                    Err(e) => {
                        eprintln!("error: --operator-pod-labels: {e}");
                        return ExitCode::FAILURE;
                    }
                };
            let client = match kube::Client::try_default().await {
                Ok(c) => c,
                Err(e) => {
                    eprintln!("error: connecting to the Kubernetes API: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let identity = identity.unwrap_or_else(|| {
                format!(
                    "{}-{}",
                    std::env::var("HOSTNAME").unwrap_or_else(|_| "kconnect-operator".into()),
                    std::process::id()
                )
            });
            let timings = kconnect::operator::Timings {
                sync_interval: std::time::Duration::from_millis(sync_interval_ms.max(10)),
                heartbeat_timeout: std::time::Duration::from_millis(heartbeat_timeout_ms.max(100)),
                restart_backoff: std::time::Duration::from_millis(restart_backoff_ms.max(10)),
                ..Default::default()
            };
            let config = kconnect::operator::OperatorConfig {
                namespaces: namespaces.into_iter().filter(|n| !n.is_empty()).collect(),
                worker_image,
                identity,
                lease_namespace,
                lease_name,
                timings,
                network_policies,
                operator_pod_labels,
            };
            let stop = tokio_util::sync::CancellationToken::new();
            let on_signal = stop.clone();
            tokio::spawn(async move {
                if let Err(e) = kconnect::standalone::wait_for_signal().await {
                    tracing::error!("{e}");
                }
                on_signal.cancel();
            });
            kconnect::operator::run(client, config, stop).await;
            ExitCode::SUCCESS
        }
        Command::Standalone {
            worker_config,
            connector_configs,
        } => match kconnect::standalone::run(&worker_config, &connector_configs).await {
            Ok(states) => {
                for (task, state) in states {
                    tracing::info!(task = %task, state = ?state, "final task state");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                tracing::error!("{e}");
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}

async fn run_worker(
    file: Option<&std::path::Path>,
    worker_id: &str,
    health: std::net::SocketAddr,
) -> Result<(), Box<dyn std::error::Error>> {
    let props = match file {
        Some(file) => kconnect::standalone::read_props(file)?,
        None => {
            let text = std::env::var(WORKER_CONFIG_ENV)
                .map_err(|_| format!("no worker config: give a file or set {WORKER_CONFIG_ENV}"))?;
            kconnect::standalone::parse_properties(&text)?
        }
    };
    // Kafka down or refusing the credentials: retry with backoff rather
    // than exit into a crash loop (the Pod stays unready meanwhile).
    let mut wait = std::time::Duration::from_secs(1);
    let worker = loop {
        match kconnect::distributed::DistributedWorker::connect(&props, worker_id).await {
            Ok(worker) => break worker,
            Err(e) if e.is_retryable() => {
                tracing::error!(worker = %worker_id, error = %e, retry_in = ?wait, "cannot reach the internal topics");
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = kconnect::standalone::wait_for_signal() => return Ok(()),
                }
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => return Err(e.into()),
        }
    };
    let stop = tokio_util::sync::CancellationToken::new();
    worker.serve_health(health, stop.clone()).await?;
    // Connect's REST API on `listeners` (reads; writes per kconnect.rest.writes).
    worker.serve_rest(stop.clone()).await?;
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if let Err(e) = kconnect::standalone::wait_for_signal().await {
            tracing::error!("{e}");
        }
        on_signal.cancel();
    });
    worker.run(stop).await?;
    Ok(())
}
