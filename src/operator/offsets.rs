//! A Connector's offsets through its annotations, like Strimzi's
//! `strimzi.io/connector-offsets`: `list` reads them into
//! `status.offsets`, `alter` applies the KIP-875 body of
//! `kconnect.dev/alter-offsets`, `reset` removes them all. A sink's offsets
//! are its consumer group's (`connect-<name>`), a source's are records of
//! the cluster's offset topic, exactly where the workers read them. Alter
//! and reset need the connector STOPPED with no task left running, as in
//! Connect.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::connector::{ALTER_OFFSETS_ANNOTATION, OFFSETS_ANNOTATION};
use crate::api::Connector;
use crate::connect::{ConnectorKind, OffsetMap, Props, TopicPartition};
use crate::engine::connector_config::{offsets_request_allowed, OffsetChanges};
use crate::rest::entities::{ConnectorOffset, ConnectorOffsets};
use crate::rest::{offsets_modified, sink_offsets};
use crate::storage::offsets::{offset_key, parse_offset_key};
use crate::storage::topic_log::TopicLog;
use kube::ResourceExt;

/// What the annotations ask for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    List,
    Alter(Vec<ConnectorOffset>),
    Reset,
}

impl Request {
    pub fn name(&self) -> &'static str {
        match self {
            Request::List => "list",
            Request::Alter(_) => "alter",
            Request::Reset => "reset",
        }
    }

    /// Whether it changes offsets (and so needs the connector stopped).
    pub fn modifies(&self) -> bool {
        !matches!(self, Request::List)
    }
}

/// The request of a Connector's annotations, if any; an error names the
/// annotation that cannot be understood.
pub fn request_of(conn: &Connector) -> Option<Result<Request, String>> {
    let annotations = conn.annotations();
    let op = annotations.get(OFFSETS_ANNOTATION)?;
    Some(match op.trim() {
        "list" => Ok(Request::List),
        "reset" => Ok(Request::Reset),
        "alter" => match annotations.get(ALTER_OFFSETS_ANNOTATION) {
            None => Err(format!(
                "{OFFSETS_ANNOTATION}: alter needs the offsets in the {ALTER_OFFSETS_ANNOTATION} annotation"
            )),
            Some(body) => serde_json::from_str::<ConnectorOffsets>(body)
                .map(|o| Request::Alter(o.offsets))
                .map_err(|e| {
                    format!("{ALTER_OFFSETS_ANNOTATION}: not a Connect offsets body ({{\"offsets\": [{{\"partition\": {{…}}, \"offset\": {{…}}}}]}}): {e}")
                }),
        },
        other => Err(format!(
            "{OFFSETS_ANNOTATION}: {other:?} is not list, alter or reset"
        )),
    })
}

/// Where a connector's offsets live.
pub struct Target<'a> {
    pub name: &'a str,
    pub kind: ConnectorKind,
    /// The connector's config (for a sink's consumer settings and topics).
    pub props: &'a Props,
    pub bootstrap: &'a str,
    /// The cluster's worker config (client security settings).
    pub worker: &'a Props,
    pub offset_topic: &'a str,
}

/// Carries out `request`: the listed offsets (for list) and Connect's
/// message, or why it failed.
pub async fn carry_out(
    request: &Request,
    target: &Target<'_>,
) -> Result<(Vec<ConnectorOffset>, String), String> {
    match target.kind {
        ConnectorKind::Sink => sink(request, target).await,
        ConnectorKind::Source => source(request, target).await,
    }
}

async fn sink(request: &Request, t: &Target<'_>) -> Result<(Vec<ConnectorOffset>, String), String> {
    let cfg = sink_offsets::client_config(t.bootstrap, t.worker, t.props, t.name)
        .map_err(|e| e.message)?;
    let group = sink_offsets::group(t.name);
    let changes = match request {
        Request::List => None,
        Request::Alter(offsets) => Some(sink_offsets::parse(offsets).map_err(|e| e.message)?),
        Request::Reset => {
            let (cfg, props) = (cfg.clone(), t.props.clone());
            let committed = blocking(move || sink_offsets::read(&cfg, &props)).await?;
            let all = sink_offsets::parse(&committed).map_err(|e| e.message)?;
            Some(all.into_iter().map(|(tp, _)| (tp, None)).collect())
        }
    };
    if let Some(changes) = &changes {
        let hook: Vec<_> = changes
            .iter()
            .map(|((topic, partition), offset)| {
                (TopicPartition::new(topic.clone(), *partition), *offset)
            })
            .collect();
        connector_says(t, &OffsetChanges::Sink(&hook)).await?;
    }
    let props = t.props.clone();
    let request = request.clone();
    blocking(move || match request {
        Request::List => Ok((sink_offsets::read(&cfg, &props)?, "listed".to_owned())),
        Request::Alter(_) => {
            sink_offsets::alter(&cfg, &props, &group, changes.unwrap_or_default())?;
            Ok((Vec::new(), offsets_modified(false).message))
        }
        Request::Reset => {
            sink_offsets::reset(&cfg, &group)?;
            Ok((Vec::new(), offsets_modified(true).message))
        }
    })
    .await
}

/// Runs blocking Kafka admin work off the async runtime.
async fn blocking<R: Send + 'static>(
    f: impl FnOnce() -> Result<R, crate::rest::RestError> + Send + 'static,
) -> Result<R, String> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| format!("offsets task failed: {e}"))?
        .map_err(|e| e.message)
}

/// The connector's KIP-875 hook before offsets are written, as in Java;
/// its error fails the request. It runs here, in the operator, with the
/// config as the Connector resource holds it: config-provider variables
/// stay unresolved, since the operator never holds the secrets.
async fn connector_says(t: &Target<'_>, changes: &OffsetChanges<'_>) -> Result<(), String> {
    offsets_request_allowed(t.name, t.props, changes).await
}

async fn source(
    request: &Request,
    t: &Target<'_>,
) -> Result<(Vec<ConnectorOffset>, String), String> {
    let mut log = TopicLog::open(t.bootstrap, t.offset_topic, &Props::new())
        .map_err(|e| format!("opening the offset topic {}: {e}", t.offset_topic))?;
    let records = log
        .read_to_stable_end(Duration::from_secs(30))
        .await
        .map_err(|e| format!("reading the offset topic {}: {e}", t.offset_topic))?;
    let current = connector_offsets(records, t.name);
    let changes: Vec<(OffsetMap, Option<OffsetMap>)> = match request {
        Request::List => {
            let listed = current
                .into_iter()
                .map(|(partition, offset)| ConnectorOffset {
                    partition,
                    offset: Some(offset),
                })
                .collect();
            return Ok((listed, "listed".to_owned()));
        }
        Request::Alter(offsets) => {
            if offsets.is_empty() {
                return Err("The offsets to alter must not be empty".to_owned());
            }
            if offsets.iter().any(|o| o.partition.is_empty()) {
                return Err("Source partitions may not be null or empty".to_owned());
            }
            offsets
                .iter()
                .map(|o| (o.partition.clone(), o.offset.clone()))
                .collect()
        }
        Request::Reset => current.into_iter().map(|(p, _)| (p, None)).collect(),
    };
    connector_says(t, &OffsetChanges::Source(&changes)).await?;
    for (partition, offset) in &changes {
        let value = offset.as_ref().map(|v| {
            serde_json::Value::Object(v.clone())
                .to_string()
                .into_bytes()
        });
        log.send(&offset_key(t.name, partition), value.as_deref())
            .await
            .map_err(|e| format!("writing to the offset topic {}: {e}", t.offset_topic))?;
    }
    let reset = matches!(request, Request::Reset);
    Ok((Vec::new(), offsets_modified(reset).message))
}

/// The offsets of connector `name` among offset-topic records (the newest
/// record per key wins; a null value removes).
pub fn connector_offsets(
    records: Vec<(String, Option<Vec<u8>>)>,
    name: &str,
) -> Vec<(OffsetMap, OffsetMap)> {
    let mut folded: BTreeMap<String, Option<(OffsetMap, OffsetMap)>> = BTreeMap::new();
    for (key, value) in records {
        let Some((connector, partition)) = parse_offset_key(&key) else {
            continue;
        };
        if connector != name {
            continue;
        }
        let offset = value.and_then(|v| match serde_json::from_slice(&v) {
            Ok(serde_json::Value::Object(o)) => Some(o),
            _ => None,
        });
        // Keys that differ only in spacing name one partition.
        folded.insert(
            offset_key(&connector, &partition),
            offset.map(|o| (partition, o)),
        );
    }
    folded.into_values().flatten().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: serde_json::Value) -> OffsetMap {
        v.as_object().expect("object").clone()
    }

    #[test]
    fn the_newest_record_per_partition_wins_and_null_removes() {
        let rec = |k: serde_json::Value, v: Option<serde_json::Value>| {
            (k.to_string(), v.map(|v| v.to_string().into_bytes()))
        };
        let records = vec![
            rec(json!(["a", {"file": "x"}]), Some(json!({"position": 1}))),
            rec(json!(["a", {"file": "y"}]), Some(json!({"position": 5}))),
            rec(json!(["b", {"file": "x"}]), Some(json!({"position": 9}))),
            rec(json!(["a", {"file": "x"}]), Some(json!({"position": 2}))),
            rec(json!(["a", {"file": "y"}]), None),
            ("not json".to_owned(), Some(b"{}".to_vec())),
        ];
        let offsets = connector_offsets(records, "a");
        assert_eq!(
            offsets,
            vec![(map(json!({"file": "x"})), map(json!({"position": 2})))]
        );
    }

    fn connector(annotations: &[(&str, &str)]) -> Connector {
        let mut c: Connector = serde_json::from_value(json!({
            "apiVersion": "kconnect.dev/v1alpha1", "kind": "Connector",
            "metadata": {"name": "c"}, "spec": {"class": "datagen"},
        }))
        .expect("connector");
        for (k, v) in annotations {
            c.annotations_mut().insert(k.to_string(), v.to_string());
        }
        c
    }

    #[test]
    fn annotations_are_read_and_bad_ones_named() {
        assert_eq!(request_of(&connector(&[])), None);
        assert_eq!(
            request_of(&connector(&[(OFFSETS_ANNOTATION, "list")])),
            Some(Ok(Request::List))
        );
        assert_eq!(
            request_of(&connector(&[(OFFSETS_ANNOTATION, "reset")])),
            Some(Ok(Request::Reset))
        );
        let alter = request_of(&connector(&[
            (OFFSETS_ANNOTATION, "alter"),
            (
                ALTER_OFFSETS_ANNOTATION,
                r#"{"offsets": [{"partition": {"file": "x"}, "offset": {"position": 3}}]}"#,
            ),
        ]));
        let Some(Ok(Request::Alter(offsets))) = alter else {
            panic!("{alter:?}")
        };
        assert_eq!(offsets[0].offset, Some(map(json!({"position": 3}))));
        for bad in [
            vec![(OFFSETS_ANNOTATION, "alter")],
            vec![
                (OFFSETS_ANNOTATION, "alter"),
                (ALTER_OFFSETS_ANNOTATION, "[1]"),
            ],
            vec![(OFFSETS_ANNOTATION, "rewind")],
        ] {
            let e = request_of(&connector(&bad))
                .expect("a request")
                .expect_err("bad");
            assert!(e.starts_with("kconnect.dev/"), "{e}");
        }
    }
}
