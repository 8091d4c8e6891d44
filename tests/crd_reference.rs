//! docs/crd-reference.md is generated from the CRD schemas; this test fails
//! while it is stale. `KCONNECT_UPDATE_DOCS=1 cargo test --test
//! crd_reference` rewrites it.

use std::path::Path;

#[test]
fn crd_reference_matches_the_types() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/crd-reference.md");
    let generated = kconnect::api::reference::markdown();
    if std::env::var_os("KCONNECT_UPDATE_DOCS").is_some() {
        std::fs::create_dir_all(path.parent().expect("docs folder")).expect("creating docs/");
        std::fs::write(&path, &generated).expect("writing docs/crd-reference.md");
    }
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        current == generated,
        "docs/crd-reference.md is stale: run `KCONNECT_UPDATE_DOCS=1 cargo test --test crd_reference`"
    );
    for needle in [
        "spec.tasksMax",
        "spec.autoRestart.maxRestarts",
        "status.tasks[].restartCount",
        "spec.replicas",
        "status.labelSelector",
    ] {
        assert!(
            generated.contains(needle),
            "the reference documents {needle}"
        );
    }
}
