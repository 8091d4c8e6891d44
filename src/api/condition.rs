//! The standard Kubernetes condition, as in `metav1.Condition`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Condition type that summarises a resource: `True` when everything it asks
/// for is in place and healthy.
pub const READY: &str = "Ready";

/// One aspect of a resource's current state, in the shape of the standard
/// Kubernetes condition (metav1.Condition), so that `kubectl wait
/// --for=condition=Ready` and generic tooling understand it.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Type of the condition in CamelCase, e.g. Ready.
    #[serde(rename = "type")]
    #[schemars(length(min = 1, max = 316))]
    pub type_: String,
    /// Status of the condition: True, False or Unknown.
    pub status: ConditionStatus,
    /// The metadata.generation of the resource this condition was computed
    /// from. If it is older than metadata.generation, the condition is out of
    /// date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub observed_generation: Option<i64>,
    /// When the condition last changed its status.
    pub last_transition_time: Time,
    /// Why the condition has its status, as a CamelCase word for machines
    /// (e.g. AllTasksRunning, TaskFailed, InvalidConfig).
    #[schemars(
        length(min = 1, max = 1024),
        regex(pattern = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$")
    )]
    pub reason: String,
    /// A human-readable explanation, e.g. which configuration key is invalid
    /// or which task failed. May be empty.
    #[schemars(length(max = 32768))]
    pub message: String,
}

/// Status of a condition.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl From<bool> for ConditionStatus {
    fn from(ok: bool) -> Self {
        if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        }
    }
}

impl Condition {
    /// A condition that changes now (`lastTransitionTime` = now).
    pub fn new(
        type_: &str,
        status: impl Into<ConditionStatus>,
        reason: &str,
        message: impl Into<String>,
        observed_generation: Option<i64>,
    ) -> Condition {
        Condition {
            type_: type_.to_owned(),
            status: status.into(),
            observed_generation,
            last_transition_time: Time(k8s_openapi::jiff::Timestamp::now()),
            reason: reason.to_owned(),
            message: message.into(),
        }
    }

    /// True if this condition's status is `True`.
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

/// The condition of the given type, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// Sets `new` in `conditions`, replacing the condition of the same type.
/// Like apimachinery's `SetStatusCondition`, `lastTransitionTime` is kept from
/// the previous condition when the status did not change, so it tells when
/// the status last flipped rather than when the operator last looked.
/// Returns whether anything changed.
pub fn set(conditions: &mut Vec<Condition>, mut new: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(old) => {
            if old.status == new.status {
                new.last_transition_time = old.last_transition_time.clone();
            }
            let changed = *old != new;
            *old = new;
            changed
        }
        None => {
            conditions.push(new);
            true
        }
    }
}
