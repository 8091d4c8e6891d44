//! Placement benchmark (filled in with the placement module).
fn main() {}
