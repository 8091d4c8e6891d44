//! Built-in connectors, compiled in, and the registry that finds one by
//! Java class name, short name or alias.

#[cfg(test)]
mod compliance;
pub mod datagen;
pub mod file;
pub mod jdbc_sink;
pub mod postgres_cdc;

use crate::connect::{ConnectorKind, SinkConnector, SourceConnector};

/// A connector instance of either kind.
pub enum AnyConnector {
    Source(Box<dyn SourceConnector>),
    Sink(Box<dyn SinkConnector>),
}

impl AnyConnector {
    pub fn kind(&self) -> ConnectorKind {
        match self {
            AnyConnector::Source(_) => ConnectorKind::Source,
            AnyConnector::Sink(_) => ConnectorKind::Sink,
        }
    }

    pub fn as_connector(&self) -> &dyn crate::connect::Connector {
        match self {
            AnyConnector::Source(c) => c.as_ref(),
            AnyConnector::Sink(c) => c.as_ref(),
        }
    }

    pub fn as_connector_mut(&mut self) -> &mut dyn crate::connect::Connector {
        match self {
            AnyConnector::Source(c) => c.as_mut(),
            AnyConnector::Sink(c) => c.as_mut(),
        }
    }
}

/// One built-in plugin: its canonical (Java) class name, the other names it
/// answers to, its task class and its constructor.
pub struct Plugin {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    /// The Java class of its tasks, written as `task.class` into every task
    /// config as Java's Worker does: Java Connect reading the config topic
    /// later fails a task config without it.
    pub task_class: &'static str,
    pub kind: ConnectorKind,
    pub create: fn() -> AnyConnector,
}

impl Plugin {
    fn answers_to(&self, name: &str) -> bool {
        self.class == name || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(name))
    }
}

/// Every built-in connector.
pub fn plugins() -> &'static [Plugin] {
    &[
        Plugin {
            class: "org.apache.kafka.connect.file.FileStreamSourceConnector",
            aliases: &["FileStreamSourceConnector", "FileStreamSource"],
            task_class: "org.apache.kafka.connect.file.FileStreamSourceTask",
            kind: ConnectorKind::Source,
            create: || AnyConnector::Source(Box::<file::FileStreamSourceConnector>::default()),
        },
        Plugin {
            class: "org.apache.kafka.connect.file.FileStreamSinkConnector",
            aliases: &["FileStreamSinkConnector", "FileStreamSink"],
            task_class: "org.apache.kafka.connect.file.FileStreamSinkTask",
            kind: ConnectorKind::Sink,
            create: || AnyConnector::Sink(Box::<file::FileStreamSinkConnector>::default()),
        },
        Plugin {
            class: postgres_cdc::CLASS,
            aliases: &["PostgresConnector", "PostgresCdc"],
            task_class: postgres_cdc::TASK_CLASS,
            kind: ConnectorKind::Source,
            create: || AnyConnector::Source(Box::<postgres_cdc::PostgresConnector>::default()),
        },
        Plugin {
            class: jdbc_sink::CONFLUENT_CLASS,
            aliases: &["JdbcSinkConnector", "JdbcSink"],
            task_class: jdbc_sink::CONFLUENT_TASK_CLASS,
            kind: ConnectorKind::Sink,
            create: || AnyConnector::Sink(Box::new(jdbc_sink::JdbcSinkConnector::confluent())),
        },
        Plugin {
            class: jdbc_sink::DEBEZIUM_CLASS,
            aliases: &[],
            task_class: jdbc_sink::DEBEZIUM_TASK_CLASS,
            kind: ConnectorKind::Sink,
            create: || AnyConnector::Sink(Box::new(jdbc_sink::JdbcSinkConnector::debezium())),
        },
        Plugin {
            class: "dev.kconnect.connectors.DatagenConnector",
            aliases: &["DatagenConnector", "Datagen", "datagen"],
            task_class: "dev.kconnect.connectors.DatagenTask",
            kind: ConnectorKind::Source,
            create: || AnyConnector::Source(Box::<datagen::DatagenConnector>::default()),
        },
    ]
}

/// Finds a plugin by class name or alias; the error lists what exists.
pub fn find(name: &str) -> Result<&'static Plugin, String> {
    let name = name.trim();
    plugins().iter().find(|p| p.answers_to(name)).ok_or_else(|| {
        let known: Vec<String> = plugins()
            .iter()
            .map(|p| format!("{} ({})", p.class, p.aliases.join(", ")))
            .collect();
        format!(
            "Failed to find any class that implements Connector and which name matches {name}; available connectors are: {}",
            known.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_class_names_and_short_names_resolve() {
        for name in [
            "org.apache.kafka.connect.file.FileStreamSinkConnector",
            "FileStreamSink",
            "FileStreamSinkConnector",
        ] {
            assert_eq!(find(name).unwrap().kind, ConnectorKind::Sink, "{name}");
        }
        assert_eq!(
            find("FileStreamSource").unwrap().kind,
            ConnectorKind::Source
        );
        assert_eq!(find("datagen").unwrap().kind, ConnectorKind::Source);
    }

    #[test]
    fn unknown_class_lists_available() {
        let err = find("com.acme.Nope").err().unwrap();
        assert!(err.contains("com.acme.Nope"));
        assert!(err.contains("FileStreamSinkConnector"));
        assert!(err.contains("DatagenConnector"));
    }
}
