//! What a sink record asks of the database: a row to write (key columns and
//! value columns), a key to delete, a table to truncate, or nothing. The
//! primary key comes from `pk.mode` (`primary.key.mode`) as the Java sinks
//! take it; Debezium's sink also reads change events (`op` c/r/u write the
//! `after` row, `d` deletes by the record key, `t` truncates).

use crate::connect::{SchemaBuilder, SchemaRef, SinkRecord, Struct, Value};

use super::config::{Flavor, PkMode, SinkSettings};

/// A column's name, schema and value.
#[derive(Debug, Clone, PartialEq)]
pub struct Cell {
    pub name: String,
    pub schema: SchemaRef,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Write {
        key: Vec<Cell>,
        values: Vec<Cell>,
    },
    Delete {
        key: Vec<Cell>,
    },
    Truncate,
    /// A tombstone with deletes off, or a truncate with truncates off.
    Skip,
}

/// Why a record cannot be written, in words that name the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RowError(pub String);

fn cells(s: &Struct) -> Vec<Cell> {
    s.schema()
        .fields
        .iter()
        .map(|f| Cell {
            name: f.name.clone(),
            schema: f.schema.clone(),
            value: s.get_by_index(f.index).clone(),
        })
        .collect()
}

fn is_envelope(r: &SinkRecord) -> bool {
    r.record
        .value_schema
        .as_ref()
        .and_then(|s| s.name.as_deref())
        .is_some_and(|n| n.ends_with(".Envelope"))
}

/// The action for one record.
pub fn action(settings: &SinkSettings, r: &SinkRecord) -> Result<Action, RowError> {
    let record = &r.record;
    if settings.flavor == Flavor::Debezium && is_envelope(r) {
        let Value::Struct(env) = &record.value else {
            return Err(RowError("a change event without a value".into()));
        };
        return match env.get("op").and_then(Value::as_str) {
            Some("c" | "r" | "u") => match env.get("after") {
                Some(Value::Struct(after)) => write(settings, r, after),
                _ => Err(RowError("a change event without `after`".into())),
            },
            Some("d") if settings.delete_enabled => Ok(Action::Delete {
                key: record_key(settings, r)?,
            }),
            Some("d") => Ok(Action::Skip),
            Some("t") if settings.truncate_enabled => Ok(Action::Truncate),
            Some("t") => Ok(Action::Skip),
            other => Err(RowError(format!("a change event with op {other:?}"))),
        };
    }
    match &record.value {
        Value::Null if settings.delete_enabled => Ok(Action::Delete {
            key: record_key(settings, r)?,
        }),
        Value::Null => Ok(Action::Skip),
        Value::Struct(row) => write(settings, r, row),
        _ if record.value_schema.is_none() => Err(RowError(
            "a record without a value schema (the JDBC sink needs schemas: JsonConverter with schemas.enable=true, Avro, …)"
                .into(),
        )),
        other => Err(RowError(format!(
            "a value that is not a struct ({})",
            crate::transforms::util::type_of(other)
        ))),
    }
}

fn wanted(settings: &SinkSettings, topic: &str, field: &str) -> bool {
    let listed = |list: &[String]| {
        list.iter().any(|e| match e.split_once(':') {
            Some((t, f)) => t == topic && f == field,
            None => e == field,
        })
    };
    (settings.fields_include.is_empty() || listed(&settings.fields_include))
        && !listed(&settings.fields_exclude)
}

fn write(settings: &SinkSettings, r: &SinkRecord, row: &Struct) -> Result<Action, RowError> {
    let topic = &r.record.topic;
    let all = cells(row);
    let key = match settings.pk_mode {
        PkMode::None => Vec::new(),
        PkMode::Kafka => kafka_key(settings, r),
        PkMode::RecordKey => record_key(settings, r)?,
        PkMode::RecordValue => {
            if settings.pk_fields.is_empty() {
                all.clone()
            } else {
                settings
                    .pk_fields
                    .iter()
                    .map(|f| {
                        all.iter().find(|c| &c.name == f).cloned().ok_or_else(|| {
                            RowError(format!("the value has no primary key field {f:?}"))
                        })
                    })
                    .collect::<Result<_, _>>()?
            }
        }
    };
    let values = all
        .into_iter()
        .filter(|c| !key.iter().any(|k| k.name == c.name))
        .filter(|c| wanted(settings, topic, &c.name))
        .collect();
    Ok(Action::Write { key, values })
}

fn kafka_key(settings: &SinkSettings, r: &SinkRecord) -> Vec<Cell> {
    let names = &settings.pk_fields;
    vec![
        Cell {
            name: names[0].clone(),
            schema: SchemaBuilder::string().build(),
            value: Value::from(r.record.topic.as_str()),
        },
        Cell {
            name: names[1].clone(),
            schema: SchemaBuilder::int32().build(),
            value: Value::Int32(r.kafka_partition),
        },
        Cell {
            name: names[2].clone(),
            schema: SchemaBuilder::int64().build(),
            value: Value::Int64(r.kafka_offset),
        },
    ]
}

/// The key columns from the record key: a struct's fields (those named, or
/// all), or a primitive key under its one configured name.
fn record_key(settings: &SinkSettings, r: &SinkRecord) -> Result<Vec<Cell>, RowError> {
    let record = &r.record;
    match &record.key {
        Value::Null => Err(RowError(
            "a record without a key (the primary key comes from it)".into(),
        )),
        Value::Struct(k) => {
            let all = cells(k);
            if settings.pk_fields.is_empty() {
                return Ok(all);
            }
            settings
                .pk_fields
                .iter()
                .map(|f| {
                    all.iter()
                        .find(|c| &c.name == f)
                        .cloned()
                        .ok_or_else(|| RowError(format!("the key has no field {f:?}")))
                })
                .collect()
        }
        primitive => {
            let schema = record.key_schema.clone().ok_or_else(|| {
                RowError("a record key without a schema (the JDBC sink needs schemas)".into())
            })?;
            match settings.pk_fields.as_slice() {
                [name] => Ok(vec![Cell {
                    name: name.clone(),
                    schema,
                    value: primitive.clone(),
                }]),
                _ => Err(RowError(
                    "a primitive key needs exactly one primary key field name".into(),
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::{ConnectRecord, Props};

    fn settings(flavor: Flavor, pairs: &[(&str, &str)]) -> SinkSettings {
        let mut p: Props = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        p.insert("connection.url".into(), "jdbc:postgresql://db/shop".into());
        SinkSettings::parse(flavor, &p).unwrap()
    }

    fn row_schema() -> SchemaRef {
        SchemaBuilder::struct_()
            .field("id", SchemaBuilder::int32().build())
            .field("name", SchemaBuilder::string().optional().build())
            .build()
    }

    fn row(id: i32, name: &str) -> Struct {
        Struct::new(row_schema())
            .put("id", Value::Int32(id))
            .unwrap()
            .put("name", Value::from(name))
            .unwrap()
    }

    fn sink(key: Option<i32>, value: Option<Struct>) -> SinkRecord {
        let mut record = ConnectRecord::new(
            "orders",
            value.as_ref().map(|_| row_schema()),
            value.map_or(Value::Null, Value::Struct),
        );
        if let Some(k) = key {
            record = record.with_key(Some(SchemaBuilder::int32().build()), Value::Int32(k));
        }
        SinkRecord {
            record,
            kafka_partition: 2,
            kafka_offset: 7,
        }
    }

    fn names(cells: &[Cell]) -> Vec<&str> {
        cells.iter().map(|c| c.name.as_str()).collect()
    }

    #[test]
    fn keys_per_pk_mode() {
        let r = sink(Some(1), Some(row(1, "a")));
        let Action::Write { key, values } = action(&settings(Flavor::Confluent, &[]), &r).unwrap()
        else {
            panic!()
        };
        assert!(key.is_empty());
        assert_eq!(names(&values), ["id", "name"]);
        let s = settings(
            Flavor::Confluent,
            &[("pk.mode", "record_value"), ("pk.fields", "id")],
        );
        let Action::Write { key, values } = action(&s, &r).unwrap() else {
            panic!()
        };
        assert_eq!((names(&key), names(&values)), (vec!["id"], vec!["name"]));
        let s = settings(
            Flavor::Confluent,
            &[("pk.mode", "record_key"), ("pk.fields", "order_id")],
        );
        let Action::Write { key, .. } = action(&s, &r).unwrap() else {
            panic!()
        };
        assert_eq!(
            (names(&key), &key[0].value),
            (vec!["order_id"], &Value::Int32(1))
        );
        let s = settings(Flavor::Confluent, &[("pk.mode", "kafka")]);
        let Action::Write { key, values } = action(&s, &r).unwrap() else {
            panic!()
        };
        assert_eq!(key[2].value, Value::Int64(7));
        assert_eq!(names(&values), ["id", "name"]);
    }

    #[test]
    fn tombstones_delete_only_when_enabled() {
        let s = settings(
            Flavor::Confluent,
            &[
                ("pk.mode", "record_key"),
                ("pk.fields", "id"),
                ("delete.enabled", "true"),
            ],
        );
        assert!(matches!(
            action(&s, &sink(Some(1), None)).unwrap(),
            Action::Delete { .. }
        ));
        assert_eq!(
            action(&settings(Flavor::Confluent, &[]), &sink(Some(1), None)).unwrap(),
            Action::Skip
        );
        // The key is needed to delete.
        assert!(action(&s, &sink(None, None))
            .unwrap_err()
            .0
            .contains("without a key"));
    }

    #[test]
    fn bad_records_say_what_is_missing() {
        let s = settings(
            Flavor::Confluent,
            &[("pk.mode", "record_value"), ("pk.fields", "nope")],
        );
        assert!(action(&s, &sink(None, Some(row(1, "a"))))
            .unwrap_err()
            .0
            .contains("\"nope\""));
        let schemaless = SinkRecord {
            record: ConnectRecord::new("t", None, Value::from("text")),
            kafka_partition: 0,
            kafka_offset: 0,
        };
        assert!(action(&settings(Flavor::Confluent, &[]), &schemaless)
            .unwrap_err()
            .0
            .contains("schema"));
    }

    #[test]
    fn whitelists_keep_the_key() {
        let s = settings(
            Flavor::Confluent,
            &[
                ("pk.mode", "record_value"),
                ("pk.fields", "id"),
                ("fields.whitelist", "id"),
            ],
        );
        let Action::Write { key, values } = action(&s, &sink(None, Some(row(1, "a")))).unwrap()
        else {
            panic!()
        };
        assert_eq!((names(&key), values.len()), (vec!["id"], 0));
    }
}
