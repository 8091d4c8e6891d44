//! The JDBC sink benchmark's PostgreSQL tools and "limit" programs: what
//! the database itself does with the same rows when nothing but a minimal
//! program stands between a file and the table. Built as
//! `cargo build --release --example bench_pg`.
//!
//! ```text
//! bench_pg watch  CONN TABLE N
//!     print "<ms since start> <max(id) + 1>" every 20 ms until it reaches N
//!     (rows land in id order: one partition, one task, one transaction
//!     after another)
//! bench_pg load   copy-upsert|insert CONN TABLE FILE BATCH
//!     read FILE's JsonConverter envelopes (the rows the sinks consume) and
//!     write them BATCH rows per transaction: binary COPY into a temporary
//!     staging table plus one INSERT … SELECT … ON CONFLICT (id) DO UPDATE
//!     (copy-upsert), or multi-row INSERT … VALUES statements of 1000 rows
//!     (insert)
//! ```
//!
//! CONN is a libpq key=value string. The table is the benchmark's:
//! `id bigint PRIMARY KEY, account int, amount double precision, status
//! text, note text, created timestamp(6)`.

use std::io::BufRead;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, NoTls};

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn usage() -> ! {
    eprintln!("usage: bench_pg watch CONN TABLE N | load copy-upsert|insert CONN TABLE FILE BATCH");
    std::process::exit(2)
}

async fn connect(conn: &str) -> Res<Client> {
    let (client, connection) = tokio_postgres::connect(conn, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            eprintln!("bench_pg: connection: {e}");
        }
    });
    Ok(client)
}

async fn watch(conn: &str, table: &str, n: i64) -> Res<()> {
    let client = connect(conn).await?;
    let sql = format!("SELECT coalesce(max(id), -1) + 1 FROM {table}");
    let start = Instant::now();
    loop {
        // The table may not exist before the sink creates it.
        let done: i64 = match client.query_one(sql.as_str(), &[]).await {
            Ok(row) => row.get(0),
            Err(_) => 0,
        };
        println!("{} {done}", start.elapsed().as_millis());
        if done >= n {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

struct Row {
    id: i64,
    account: i32,
    amount: f64,
    status: String,
    note: String,
    created: SystemTime,
}

fn rows(file: &str) -> Res<Vec<Row>> {
    let reader = std::io::BufReader::new(std::fs::File::open(file)?);
    let mut out = Vec::new();
    for line in reader.lines() {
        let line = line?;
        let v: serde_json::Value = serde_json::from_str(&line)?;
        let p = &v["payload"];
        let ms = p["created"].as_i64().ok_or("created")?;
        out.push(Row {
            id: p["id"].as_i64().ok_or("id")?,
            account: i32::try_from(p["account"].as_i64().ok_or("account")?)?,
            amount: p["amount"].as_f64().ok_or("amount")?,
            status: p["status"].as_str().ok_or("status")?.to_owned(),
            note: p["note"].as_str().ok_or("note")?.to_owned(),
            created: UNIX_EPOCH + Duration::from_millis(u64::try_from(ms)?),
        });
    }
    Ok(out)
}

const COLUMNS: &str = "id, account, amount, status, note, created";

async fn copy_upsert(client: &mut Client, table: &str, chunk: &[Row]) -> Res<()> {
    let tx = client.transaction().await?;
    let sink = tx
        .copy_in(&format!("COPY staging ({COLUMNS}) FROM STDIN BINARY"))
        .await?;
    let types = [
        Type::INT8,
        Type::INT4,
        Type::FLOAT8,
        Type::TEXT,
        Type::TEXT,
        Type::TIMESTAMP,
    ];
    let writer = BinaryCopyInWriter::new(sink, &types);
    futures::pin_mut!(writer);
    for r in chunk {
        writer
            .as_mut()
            .write(&[&r.id, &r.account, &r.amount, &r.status, &r.note, &r.created])
            .await?;
    }
    writer.finish().await?;
    tx.execute(
        &format!(
            "INSERT INTO {table} ({COLUMNS}) SELECT {COLUMNS} FROM staging ON CONFLICT (id) DO UPDATE SET \
             account = EXCLUDED.account, amount = EXCLUDED.amount, status = EXCLUDED.status, \
             note = EXCLUDED.note, created = EXCLUDED.created"
        ),
        &[],
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

async fn insert(client: &mut Client, table: &str, chunk: &[Row]) -> Res<()> {
    let tx = client.transaction().await?;
    for part in chunk.chunks(1000) {
        let mut sql = format!("INSERT INTO {table} ({COLUMNS}) VALUES ");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(part.len() * 6);
        for (i, r) in part.iter().enumerate() {
            let b = i * 6;
            if i > 0 {
                sql.push(',');
            }
            sql.push_str(&format!(
                "(${},${},${},${},${},${})",
                b + 1,
                b + 2,
                b + 3,
                b + 4,
                b + 5,
                b + 6
            ));
            params.extend([
                &r.id as &(dyn ToSql + Sync),
                &r.account,
                &r.amount,
                &r.status,
                &r.note,
                &r.created,
            ]);
        }
        tx.execute(sql.as_str(), &params).await?;
    }
    tx.commit().await?;
    Ok(())
}

async fn load(mode: &str, conn: &str, table: &str, file: &str, batch: usize) -> Res<()> {
    let rows = rows(file)?;
    let mut client = connect(conn).await?;
    if mode == "copy-upsert" {
        client
            .batch_execute(&format!(
                "CREATE TEMPORARY TABLE staging (LIKE {table}) ON COMMIT DELETE ROWS"
            ))
            .await?;
    }
    for chunk in rows.chunks(batch.max(1)) {
        match mode {
            "copy-upsert" => copy_upsert(&mut client, table, chunk).await?,
            "insert" => insert(&mut client, table, chunk).await?,
            _ => usage(),
        }
    }
    Ok(())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let p = |i: usize| args.get(i).map(String::as_str).unwrap_or_else(|| usage());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async {
        match p(0) {
            "watch" => watch(p(1), p(2), p(3).parse().unwrap_or_else(|_| usage())).await,
            "load" => {
                load(
                    p(1),
                    p(2),
                    p(3),
                    p(4),
                    p(5).parse().unwrap_or_else(|_| usage()),
                )
                .await
            }
            _ => usage(),
        }
    });
    if let Err(e) = result {
        eprintln!("bench_pg: {e}");
        std::process::exit(1);
    }
}
