//! Placeholder: filled in by the transform's implementation.

use super::TransformPlugin;

pub const PLUGINS: &[TransformPlugin] = &[];
