//! The CRD reference (docs/crd-reference.md), generated from the same
//! schemas the apiserver enforces, so the documentation cannot drift from
//! the types (tests/crd_reference.rs fails when the file is stale).

use serde_json::Value;

/// Fields whose schema is a Kubernetes core type: documented by Kubernetes,
/// listed here without their (long) insides.
const KUBERNETES_TYPES: &[(&str, &str)] = &[
    ("resources", "ResourceRequirements"),
    ("env", "EnvVar"),
    ("affinity", "Affinity"),
    ("tolerations", "Toleration"),
    ("imagePullSecrets", "LocalObjectReference"),
];

/// Markdown reference of every kconnect CRD: one table per resource with
/// every field of `spec` and `status`.
pub fn markdown() -> String {
    let mut out = String::from(
        "# CRD reference\n\n\
         Generated from the Rust types in `src/api/` (the same schemas the \
         apiserver enforces). Do not edit by hand: run \
         `KCONNECT_UPDATE_DOCS=1 cargo test --test crd_reference`.\n",
    );
    for crd in super::crds() {
        let crd = serde_json::to_value(&crd).unwrap_or_default();
        let kind = crd["spec"]["names"]["kind"].as_str().unwrap_or_default();
        let group = crd["spec"]["group"].as_str().unwrap_or_default();
        let short: Vec<&str> = crd["spec"]["names"]["shortNames"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        for version in crd["spec"]["versions"].as_array().into_iter().flatten() {
            let name = version["name"].as_str().unwrap_or_default();
            let schema = &version["schema"]["openAPIV3Schema"];
            out.push_str(&format!(
                "\n## {kind} ({group}/{name})\n\nShort names: {}.\n\n{}\n",
                short.join(", "),
                one_line(schema["description"].as_str().unwrap_or_default())
            ));
            for part in ["spec", "status"] {
                let node = &schema["properties"][part];
                if node.is_null() {
                    continue;
                }
                out.push_str(&format!(
                    "\n### `{part}`\n\n| Field | Type | Default | Description |\n|---|---|---|---|\n"
                ));
                walk(node, part, &mut out);
            }
        }
    }
    out
}

fn one_line(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "\\|")
}

/// The type of a schema node, with its limits.
fn type_of(node: &Value) -> String {
    let mut t = match node["type"].as_str() {
        Some("array") => format!("[]{}", type_of(&node["items"])),
        Some("object") if node["additionalProperties"].is_object() => {
            format!("map[string]{}", type_of(&node["additionalProperties"]))
        }
        Some(t) => t.to_owned(),
        None if node["x-kubernetes-int-or-string"] == Value::Bool(true) => "int-or-string".into(),
        None => "object".into(),
    };
    if let Some(values) = node["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|v| format!("`{}`", v.as_str().unwrap_or_default()))
            .collect();
        t.push_str(&format!(" ({})", values.join(", ")));
    }
    for (key, sign) in [
        ("minimum", "≥"),
        ("maximum", "≤"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
    ] {
        if let Some(n) = node[key].as_i64() {
            t.push_str(&format!(", {sign} {n}"));
        }
    }
    if let Some(p) = node["pattern"].as_str() {
        t.push_str(&format!(", pattern `{p}`"));
    }
    t
}

fn walk(node: &Value, path: &str, out: &mut String) {
    let Some(props) = node["properties"].as_object() else {
        return;
    };
    let required: Vec<&str> = node["required"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, child) in props {
        let field = format!("{path}.{name}");
        let kubernetes = KUBERNETES_TYPES.iter().find(|(k, _)| k == name);
        let mut ty = match kubernetes {
            Some((_, kind)) => format!("Kubernetes {kind}"),
            None => type_of(child),
        };
        if required.contains(&name.as_str()) {
            ty.push_str(", required");
        }
        let default = match &child["default"] {
            Value::Null => String::new(),
            v => format!("`{v}`"),
        };
        out.push_str(&format!(
            "| `{field}` | {} | {default} | {} |\n",
            ty.replace('|', "\\|"),
            one_line(child["description"].as_str().unwrap_or_default())
        ));
        if kubernetes.is_some() {
            continue;
        }
        walk(child, &field, out);
        let items = &child["items"];
        if items["properties"].is_object() {
            walk(items, &format!("{field}[]"), out);
        }
        if child["additionalProperties"]["properties"].is_object() {
            walk(&child["additionalProperties"], &format!("{field}.*"), out);
        }
    }
}
