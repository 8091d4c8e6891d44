//! The built-in Single Message Transforms and predicates, the registry that
//! finds them by Java class name or short name, and the chain a connector's
//! `transforms=…` configures.
//!
//! Names follow Java: `org.apache.kafka.connect.transforms.InsertField$Value`
//! (also `InsertField$Value`), predicates under
//! `org.apache.kafka.connect.transforms.predicates.`.

pub mod cast;
mod chain;
pub mod drop_headers;
pub mod extract_field;
pub mod extract_new_record_state;
pub mod filter;
pub mod flatten;
pub mod header_from;
pub mod hoist_field;
pub mod insert_field;
pub mod insert_header;
pub mod mask_field;
pub mod predicates;
pub mod regex_router;
pub mod replace_field;
pub mod set_schema_metadata;
#[cfg(test)]
mod testing;
pub mod timestamp_converter;
pub mod timestamp_router;
pub mod util;
pub mod value_to_key;

pub use chain::{ChainError, TransformChain};

use crate::connect::transform::{Predicate, Transform};

/// One built-in transform: its Java class name, other names, constructor.
pub struct TransformPlugin {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub create: fn() -> Box<dyn Transform>,
}

/// One built-in predicate.
pub struct PredicatePlugin {
    pub class: &'static str,
    pub aliases: &'static [&'static str],
    pub create: fn() -> Box<dyn Predicate>,
}

/// Java's package of the built-in transforms.
pub const PACKAGE: &str = "org.apache.kafka.connect.transforms.";
/// Java's package of the built-in predicates.
pub const PREDICATE_PACKAGE: &str = "org.apache.kafka.connect.transforms.predicates.";

/// Every built-in transform. Each transform module contributes its list.
pub fn transforms() -> Vec<&'static TransformPlugin> {
    let lists: &[&[TransformPlugin]] = &[
        cast::PLUGINS,
        drop_headers::PLUGINS,
        extract_field::PLUGINS,
        extract_new_record_state::PLUGINS,
        filter::PLUGINS,
        flatten::PLUGINS,
        header_from::PLUGINS,
        hoist_field::PLUGINS,
        insert_field::PLUGINS,
        insert_header::PLUGINS,
        mask_field::PLUGINS,
        regex_router::PLUGINS,
        replace_field::PLUGINS,
        set_schema_metadata::PLUGINS,
        timestamp_converter::PLUGINS,
        timestamp_router::PLUGINS,
        value_to_key::PLUGINS,
    ];
    lists.iter().flat_map(|l| l.iter()).collect()
}

/// Every built-in predicate.
pub fn predicates() -> Vec<&'static PredicatePlugin> {
    let lists: &[&[PredicatePlugin]] = &[predicates::PLUGINS];
    lists.iter().flat_map(|l| l.iter()).collect()
}

fn answers_to(class: &str, aliases: &[&str], name: &str) -> bool {
    let name = name.trim();
    class == name || aliases.contains(&name)
}

/// The transform a `transforms.<alias>.type` names.
pub fn find_transform(name: &str) -> Option<&'static TransformPlugin> {
    transforms()
        .into_iter()
        .find(|p| answers_to(p.class, p.aliases, name))
}

/// The predicate a `predicates.<alias>.type` names.
pub fn find_predicate(name: &str) -> Option<&'static PredicatePlugin> {
    predicates()
        .into_iter()
        .find(|p| answers_to(p.class, p.aliases, name))
}
