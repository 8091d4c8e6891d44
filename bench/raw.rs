//! The benchmark's helper and "limit" programs: a minimal librdkafka
//! consumer and producer doing what a FileStream connector does, with no
//! framework around them, plus the small admin/watch tools `bench/run.py`
//! needs. Built as `cargo build --release --example bench_raw`.
//!
//! ```text
//! bench_raw sink     BOOTSTRAP TOPIC GROUP FILE [-X key=value]...
//!     consume TOPIC (group GROUP, from the beginning) and append each value
//!     plus '\n' to FILE through a 1 MiB BufWriter, flushed whenever the
//!     consumer is drained; runs until killed
//! bench_raw source   BOOTSTRAP TOPIC FILE [--exit] [-X key=value]...
//!     produce FILE's lines to TOPIC, flush, then idle until killed (or exit
//!     with --exit: how the benchmark pre-loads its topics)
//! bench_raw watch    BOOTSTRAP TOPIC N
//!     print "<ms since start> <end offset>" every 20 ms until the end
//!     offset of TOPIC (summed over partitions) reaches N
//! bench_raw create   BOOTSTRAP TOPIC PARTITIONS
//! bench_raw delete   BOOTSTRAP TOPIC...
//! ```
//!
//! `-X` sets a librdkafka property (the benchmark passes the same batching
//! and fetch settings it gives both Connect workers).

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::ClientConfig;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn usage() -> ! {
    eprintln!(
        "usage: bench_raw sink BOOTSTRAP TOPIC GROUP FILE [-X k=v]... | \
         source BOOTSTRAP TOPIC FILE [--exit] [-X k=v]... | watch BOOTSTRAP TOPIC N | \
         create BOOTSTRAP TOPIC PARTITIONS | delete BOOTSTRAP TOPIC..."
    );
    std::process::exit(2)
}

/// Splits `-X key=value` pairs and flags off the positional arguments.
fn parse(args: &[String]) -> (Vec<String>, Vec<(String, String)>, Vec<String>) {
    let (mut pos, mut props, mut flags) = (Vec::new(), Vec::new(), Vec::new());
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "-X" {
            let kv = it.next().unwrap_or_else(|| usage());
            let (k, v) = kv.split_once('=').unwrap_or_else(|| usage());
            props.push((k.to_owned(), v.to_owned()));
        } else if a.starts_with("--") {
            flags.push(a.clone());
        } else {
            pos.push(a.clone());
        }
    }
    (pos, props, flags)
}

fn config(bootstrap: &str, props: &[(String, String)]) -> ClientConfig {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap);
    for (k, v) in props {
        cfg.set(k, v);
    }
    cfg
}

fn sink(
    bootstrap: &str,
    topic: &str,
    group: &str,
    file: &str,
    props: &[(String, String)],
) -> Res<()> {
    let mut cfg = config(bootstrap, props);
    cfg.set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "1000");
    let consumer: BaseConsumer = cfg.create()?;
    consumer.subscribe(&[topic])?;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    loop {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(msg)) => {
                out.write_all(msg.payload().unwrap_or_default())?;
                out.write_all(b"\n")?;
            }
            Some(Err(e)) => eprintln!("bench_raw sink: {e}"),
            // Drained: make what was read visible, as a sink's flush would.
            None => out.flush()?,
        }
    }
}

fn source(
    bootstrap: &str,
    topic: &str,
    file: &str,
    props: &[(String, String)],
    exit: bool,
) -> Res<()> {
    let producer: BaseProducer = config(bootstrap, props).create()?;
    let mut lines = BufReader::with_capacity(1 << 20, File::open(file)?);
    let mut line = Vec::with_capacity(4096);
    let mut n = 0u64;
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let mut payload = line.as_slice();
        if payload.last() == Some(&b'\n') {
            payload = &payload[..payload.len() - 1];
        }
        let mut record = BaseRecord::<(), [u8]>::to(topic).payload(payload);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    record = r;
                    producer.poll(Duration::from_millis(2));
                }
                Err((e, _)) => return Err(e.into()),
            }
        }
        n += 1;
        if n.is_multiple_of(1024) {
            producer.poll(Duration::ZERO);
        }
    }
    producer.flush(Duration::from_secs(300))?;
    eprintln!("bench_raw source: {n} records produced to {topic}");
    if exit {
        return Ok(());
    }
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

fn watch(bootstrap: &str, topic: &str, n: i64) -> Res<()> {
    let consumer: BaseConsumer = config(bootstrap, &[]).create()?;
    let started = Instant::now();
    let stdout = std::io::stdout();
    loop {
        let end = match consumer.fetch_metadata(Some(topic), Duration::from_secs(5)) {
            Ok(md) => {
                let mut end = 0;
                for t in md.topics() {
                    for p in t.partitions() {
                        if let Ok((_, high)) =
                            consumer.fetch_watermarks(topic, p.id(), Duration::from_secs(5))
                        {
                            end += high;
                        }
                    }
                }
                end
            }
            Err(_) => 0,
        };
        let mut out = stdout.lock();
        writeln!(out, "{} {end}", started.elapsed().as_millis())?;
        out.flush()?;
        if end >= n {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn admin(bootstrap: &str) -> Res<AdminClient<DefaultClientContext>> {
    Ok(config(bootstrap, &[]).create()?)
}

fn create(bootstrap: &str, topic: &str, partitions: i32) -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin = admin(bootstrap)?;
    let results = rt.block_on(admin.create_topics(
        &[NewTopic::new(topic, partitions, TopicReplication::Fixed(1))],
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))?;
    for r in results {
        if let Err((t, e)) = r {
            if e != RDKafkaErrorCode::TopicAlreadyExists {
                return Err(format!("creating {t}: {e}").into());
            }
        }
    }
    Ok(())
}

fn delete(bootstrap: &str, topics: &[String]) -> Res<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let admin = admin(bootstrap)?;
    let names: Vec<&str> = topics.iter().map(String::as_str).collect();
    let results = rt.block_on(admin.delete_topics(
        &names,
        &AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))),
    ))?;
    for r in results {
        if let Err((t, e)) = r {
            if e != RDKafkaErrorCode::UnknownTopicOrPartition {
                eprintln!("bench_raw delete: {t}: {e}");
            }
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else { usage() };
    let (pos, props, flags) = parse(&args[1..]);
    let p = |i: usize| pos.get(i).map(String::as_str).unwrap_or_else(|| usage());
    let result = match cmd.as_str() {
        "sink" => sink(p(0), p(1), p(2), p(3), &props),
        "source" => source(
            p(0),
            p(1),
            p(2),
            &props,
            flags.iter().any(|f| f == "--exit"),
        ),
        "watch" => watch(p(0), p(1), p(2).parse().unwrap_or_else(|_| usage())),
        "create" => create(p(0), p(1), p(2).parse().unwrap_or_else(|_| usage())),
        "delete" => delete(p(0), &pos[1..]),
        _ => usage(),
    };
    if let Err(e) = result {
        eprintln!("bench_raw {cmd}: {e}");
        std::process::exit(1);
    }
}
