//! The `kconnect` binary.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

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
    /// in the worker config, an embedded in-memory Kafka is used.
    Standalone {
        /// Worker configuration (bootstrap.servers, converters, offset.storage.file.filename …).
        worker_config: PathBuf,
        /// One file per connector.
        #[arg(required = true)]
        connector_configs: Vec<PathBuf>,
    },
}

fn init_logging(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_json);
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
