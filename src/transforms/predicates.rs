//! Placeholder: the built-in predicates (TopicNameMatches, HasHeaderKey,
//! RecordIsTombstone).

use super::PredicatePlugin;

pub const PLUGINS: &[PredicatePlugin] = &[];
