//! The checked-in JSON Schema files must match the ones generated from the Rust types.
//!
//! Run `UPDATE_SCHEMAS=1 cargo test -p wp-schemas` to regenerate them after changing a type.

use std::{fs, path::PathBuf};

use wp_schemas::sections::{Section, section_json_schema};

const REGENERATE: &str = "run `UPDATE_SCHEMAS=1 cargo test -p wp-schemas` to regenerate";

fn schema_path(section: Section) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("json/sections")
        .join(format!("{section}.schema.json"))
}

fn render(section: Section) -> String {
    let mut text = serde_json::to_string_pretty(&section_json_schema(section))
        .expect("a schema always serializes");
    text.push('\n');
    text
}

#[test]
fn section_schema_files_are_up_to_date() {
    let update = std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for section in Section::ALL {
        let path = schema_path(section);
        let expected = render(section);
        if update {
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &expected)
                .unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        } else if fs::read_to_string(&path).ok().as_deref() != Some(expected.as_str()) {
            stale.push(path.display().to_string());
        }
    }
    assert!(
        stale.is_empty(),
        "JSON Schema files are missing or out of date: {}; {REGENERATE}",
        stale.join(", ")
    );
}

#[test]
fn examples_are_objects_with_only_schema_properties() {
    // A cheap cross-check between examples and schemas that needs no validator crate.
    for section in Section::ALL {
        let schema = section_json_schema(section);
        let properties = schema["properties"].as_object().unwrap();
        let example = wp_schemas::sections::example_body(section);
        for key in example.as_object().unwrap().keys() {
            assert!(
                properties.contains_key(key),
                "{section}: `{key}` not in schema"
            );
        }
        for required in schema["required"].as_array().unwrap() {
            let required = required.as_str().unwrap();
            assert!(
                example.get(required).is_some(),
                "{section}: `{required}` missing"
            );
        }
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{section}"
        );
        assert_eq!(schema["additionalProperties"], false, "{section}");
    }
}

/// The export bundle's schema (`docs/BUNDLE.md`), generated from `wp_schemas::bundle::Bundle`.
#[test]
fn bundle_schema_file_is_up_to_date() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json/bundle.schema.json");
    let schema = schemars::schema_for!(wp_schemas::bundle::Bundle);
    let mut expected = serde_json::to_string_pretty(&schema).expect("a schema serializes");
    expected.push('\n');
    if std::env::var("UPDATE_SCHEMAS").is_ok_and(|v| v == "1") {
        fs::write(&path, &expected).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    } else {
        assert_eq!(
            fs::read_to_string(&path).ok().as_deref(),
            Some(expected.as_str()),
            "{} is missing or out of date; {REGENERATE}",
            path.display()
        );
    }
}

/// The committed sample bundles (`tests/fixtures/bundle-v2.json`, and the first format's
/// `bundle-v1.json`) are valid under the published schema, which an outside verifier may start
/// from.
#[test]
fn the_sample_bundle_matches_the_bundle_schema() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let read = |path: PathBuf| -> serde_json::Value {
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap()
    };
    let schema = read(dir.join("json/bundle.schema.json"));
    let validator = jsonschema::validator_for(&schema).expect("a valid schema");
    for name in ["bundle-v2.json", "bundle-v1.json"] {
        let sample = read(dir.join("../tests/fixtures").join(name));
        let errors: Vec<String> = validator
            .iter_errors(&sample)
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{name}: {errors:#?}");
    }
}
