//! `Filter`: drops every record it is applied to, like
//! `org.apache.kafka.connect.transforms.Filter`. Meant to be used with a
//! predicate (`transforms.<alias>.predicate`), so that only the records the
//! predicate selects (or, with `negate=true`, does not select) are dropped.

use super::TransformPlugin;
use crate::connect::config::{ConfigDef, Props};
use crate::connect::transform::{Transform, TransformError};
use crate::connect::{ConnectError, ConnectRecord};

pub const PLUGINS: &[TransformPlugin] = &[TransformPlugin {
    class: "org.apache.kafka.connect.transforms.Filter",
    aliases: &["Filter"],
    create: || Box::new(Filter),
}];

/// Drops all records, filtering them from subsequent transformations in the
/// chain. Has no configuration of its own.
#[derive(Debug, Default)]
pub struct Filter;

impl Transform for Filter {
    fn config_def(&self) -> ConfigDef {
        ConfigDef::new()
    }

    fn configure(&mut self, _props: &Props) -> Result<(), ConnectError> {
        Ok(())
    }

    fn apply(&self, _record: ConnectRecord) -> Result<Option<ConnectRecord>, TransformError> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::connect::config::props_of;
    use crate::connect::Value;
    use crate::transforms::TransformChain;

    #[test]
    fn drops_every_record() {
        let mut f = Filter;
        f.configure(&props_of(&[])).unwrap();
        let r = ConnectRecord::new("t", None, Value::from("x"));
        assert_eq!(f.apply(r).unwrap(), None);
    }

    #[test]
    fn with_a_predicate_drops_only_what_the_predicate_selects() {
        let chain = TransformChain::from_props(&props_of(&[
            ("transforms", "drop"),
            ("transforms.drop.type", "Filter"),
            ("transforms.drop.predicate", "isFoo"),
            ("predicates", "isFoo"),
            ("predicates.isFoo.type", "TopicNameMatches"),
            ("predicates.isFoo.pattern", "foo.*"),
        ]))
        .unwrap();
        let foo = ConnectRecord::new("foo-1", None, Value::from("x"));
        let bar = ConnectRecord::new("bar-1", None, Value::from("x"));
        assert_eq!(chain.apply(foo).unwrap(), None);
        assert_eq!(chain.apply(bar.clone()).unwrap(), Some(bar));

        let negated = TransformChain::from_props(&props_of(&[
            ("transforms", "keep"),
            (
                "transforms.keep.type",
                "org.apache.kafka.connect.transforms.Filter",
            ),
            ("transforms.keep.predicate", "isFoo"),
            ("transforms.keep.negate", "true"),
            ("predicates", "isFoo"),
            ("predicates.isFoo.type", "TopicNameMatches"),
            ("predicates.isFoo.pattern", "foo.*"),
        ]))
        .unwrap();
        let foo = ConnectRecord::new("foo-1", None, Value::from("x"));
        let bar = ConnectRecord::new("bar-1", None, Value::from("x"));
        assert_eq!(negated.apply(foo.clone()).unwrap(), Some(foo));
        assert_eq!(negated.apply(bar).unwrap(), None);
    }
}
