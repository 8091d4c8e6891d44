//! The key of a ConnectCluster in the operator: its runtime's map key, the
//! labels of its metrics. A leaf, so that `runtime` and `metrics` can both
//! use it without importing each other.

/// Namespace and name of a ConnectCluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClusterKey {
    pub namespace: String,
    pub name: String,
}

impl std::fmt::Display for ClusterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}
