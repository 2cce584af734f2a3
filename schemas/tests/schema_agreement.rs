//! The published section schemas say exactly what the server accepts.
//!
//! Bodies are generated from the checked-in JSON Schema files themselves (valid values, values
//! at and past every limit, every kind of blank and control character, loose dates, wrong types,
//! missing and unknown members) and judged twice: by a standard JSON Schema 2020-12 validator
//! (the `jsonschema` crate, with `format` checked) and by [`parse_body`], the function the
//! server runs on every submitted body. The two verdicts must agree in both directions.
//!
//! One rule cannot be written in JSON Schema and is exempt in one direction only: a date that
//! must not be before another date of the same body (`review_date` after `start_date`,
//! `period_to` after `period_from`). The schema's descriptions say so.

use std::path::PathBuf;
use std::sync::LazyLock;

use proptest::prelude::*;
use proptest::strategy::Union;
use serde_json::{Map, Value, json};
use wp_schemas::sections::{Section, parse_body};
use wp_schemas::text::{LINE_PATTERN, TEXT_PATTERN, is_blank, is_refused_control, refusal};

fn schema_file(section: Section) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("json/sections")
        .join(format!("{section}.schema.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("a schema file is JSON")
}

/// Strings that probe the text rule: every kind of blank, control characters, the BOM, lengths
/// at and past the limit (in characters, not bytes).
fn text_values(max: usize) -> BoxedStrategy<Value> {
    let tricky: Vec<String> = [
        "",
        " ",
        "\t",
        "\n",
        "\r\n",
        "\u{0B}",
        "\u{0C}",
        "\u{85}",
        "\u{A0}",
        "\u{1680}",
        "\u{2000}",
        "\u{200A}",
        "\u{200B}",
        "\u{2028}",
        "\u{2029}",
        "\u{202F}",
        "\u{205F}",
        "\u{3000}",
        "\u{FEFF}",
        "\u{180E}",
        "\u{0}",
        "a\u{0}b",
        "\u{7}",
        "x\u{85}",
        "\u{9F}",
        "\u{7F}",
        "\u{FEFF}x",
        " a ",
        "line one\nline two",
        "tab\there",
        "é",
        "🙂",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([
        "a".repeat(max),
        "a".repeat(max + 1),
        "é".repeat(max),
        "🙂".repeat(max + 1),
    ])
    .collect();
    prop_oneof![
        6 => "[A-Za-z][A-Za-z .,]{0,30}".prop_map(Value::String),
        3 => proptest::sample::select(tricky).prop_map(Value::String),
        2 => any::<char>().prop_map(|c| Value::String(c.to_string())),
        2 => ("[a-z]{0,2}", any::<char>(), "[a-z ]{0,2}")
            .prop_map(|(a, c, b)| Value::String(format!("{a}{c}{b}"))),
        1 => any::<String>().prop_map(Value::String),
    ]
    .boxed()
}

/// RFC 3339 full-dates, and near misses: no zero padding, impossible days, other separators,
/// times appended, signs and spaces.
fn date_values() -> BoxedStrategy<Value> {
    let near_misses: Vec<&str> = vec![
        "2026-1-5",
        "2026-01-5",
        "2026-1-05",
        "2026-02-30",
        "2023-02-29",
        "2024-02-29",
        "2026-13-01",
        "2026-00-10",
        "2026-01-00",
        "20260105",
        "2026/01/05",
        "2026-01-05T00:00:00Z",
        " 2026-01-05",
        "2026-01-05 ",
        "+2026-01-05",
        "-2026-01-05",
        "02026-01-05",
        "0000-01-01",
        "9999-12-31",
        "2026-01-05\n",
        "",
        "today",
    ];
    prop_oneof![
        8 => (1900u32..2100, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}"))),
        2 => (0u32..10000, 0u32..14, 0u32..33)
            .prop_map(|(y, m, d)| json!(format!("{y:04}-{m:02}-{d:02}"))),
        1 => (1900u32..2100, 1u32..=12, 1u32..=28)
            .prop_map(|(y, m, d)| json!(format!("{y}-{m}-{d}"))),
        2 => proptest::sample::select(near_misses).prop_map(|s| json!(s)),
    ]
    .boxed()
}

/// A value of the wrong JSON type, whatever was expected.
fn wrong_type() -> BoxedStrategy<Value> {
    prop_oneof![
        Just(json!(42)),
        Just(json!(1.5)),
        Just(json!(true)),
        Just(json!({})),
        Just(json!([])),
        Just(json!("text")),
        Just(Value::Null),
    ]
    .boxed()
}

fn resolve<'a>(schema: &'a Value, root: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.trim_start_matches("#/$defs/");
            &root["$defs"][name]
        }
        None => schema,
    }
}

/// Values for one schema node: mostly what it describes, sometimes just outside it.
fn values_for(schema: &Value, root: &Value) -> BoxedStrategy<Value> {
    let schema = resolve(schema, root);
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let mut options: Vec<BoxedStrategy<Value>> =
            branches.iter().map(|b| values_for(b, root)).collect();
        options.push(wrong_type());
        return Union::new(options).boxed();
    }
    if let Some(values) = schema.get("enum").and_then(Value::as_array) {
        let mut values = values.clone();
        values.push(json!("not_one_of_them"));
        values.push(json!("Requested"));
        return proptest::sample::select(values).boxed();
    }
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => vec![],
    };
    let mut options: Vec<(u32, BoxedStrategy<Value>)> = vec![(1, wrong_type())];
    for kind in types {
        let strategy = match kind {
            "null" => Just(Value::Null).boxed(),
            "boolean" => any::<bool>().prop_map(Value::Bool).boxed(),
            "string" if schema.get("format").and_then(Value::as_str) == Some("date") => {
                date_values()
            }
            "string" => {
                let max = schema["maxLength"].as_u64().unwrap_or(200) as usize;
                text_values(max)
            }
            "array" => {
                let items = values_for(&schema["items"], root);
                let max = schema["maxItems"].as_u64().unwrap_or(50) as usize;
                prop_oneof![
                    6 => proptest::collection::vec(items.clone(), 0..4),
                    1 => proptest::collection::vec(items, max + 1..max + 2),
                ]
                .prop_map(Value::Array)
                .boxed()
            }
            "object" => object_values(schema, root),
            other => panic!("the generator does not know type {other}"),
        };
        options.push((8, strategy));
    }
    Union::new_weighted(options).boxed()
}

/// Objects with each member present or absent (required ones mostly present), now and then an
/// unknown member.
fn object_values(schema: &Value, root: &Value) -> BoxedStrategy<Value> {
    let required: Vec<&str> = schema["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let members: Vec<BoxedStrategy<Option<(String, Value)>>> = schema["properties"]
        .as_object()
        .expect("an object schema lists its properties")
        .iter()
        .map(|(name, member)| {
            let present = if required.contains(&name.as_str()) {
                0.97
            } else {
                0.5
            };
            let name = name.clone();
            proptest::option::weighted(present, values_for(member, root))
                .prop_map(move |v| v.map(|v| (name.clone(), v)))
                .boxed()
        })
        .collect();
    let unknown = proptest::option::weighted(0.05, Just(("colour".to_owned(), json!("blue"))));
    (members, unknown)
        .prop_map(|(members, unknown)| {
            let map: Map<String, Value> = members.into_iter().flatten().chain(unknown).collect();
            Value::Object(map)
        })
        .boxed()
}

struct Judge {
    section: Section,
    validator: jsonschema::Validator,
}

static JUDGES: LazyLock<Vec<Judge>> = LazyLock::new(|| {
    Section::ALL
        .into_iter()
        .map(|section| Judge {
            section,
            validator: jsonschema::options()
                .should_validate_formats(true)
                .build(&schema_file(section))
                .expect("the schema compiles"),
        })
        .collect()
});

fn agree(section: Section, body: &Value) -> Result<(), TestCaseError> {
    let judge = JUDGES.iter().find(|j| j.section == section).unwrap();
    let schema_says = judge.validator.is_valid(body);
    let server_says = parse_body(section, body);
    match (schema_says, &server_says) {
        (true, Ok(_)) | (false, Err(_)) => Ok(()),
        // The one rule JSON Schema cannot express: the order of two dates.
        (true, Err(e)) if e.reason.contains("must not be before") => Ok(()),
        _ => Err(TestCaseError::fail(format!(
            "{section}: schema says {}, server says {server_says:?}, for {body}",
            if schema_says { "valid" } else { "invalid" },
        ))),
    }
}

fn bodies(section: Section) -> BoxedStrategy<Value> {
    let schema = schema_file(section);
    values_for(&schema, &schema)
}

/// The server's text rule for names, purposes and consent texts (`text::refusal`) against
/// the schema's `pattern` and `maxLength`, on the same probing strings as the bodies.
fn field_agrees(value: &str, max: usize, multiline: bool) -> Result<(), TestCaseError> {
    let pattern = if multiline {
        TEXT_PATTERN
    } else {
        LINE_PATTERN
    };
    let schema = json!({"type": "string", "maxLength": max, "pattern": pattern});
    let schema_says = jsonschema::is_valid(&schema, &json!(value));
    let server_says = refusal(value, max, multiline);
    prop_assert_eq!(
        schema_says,
        server_says.is_none(),
        "{:?} (max {}, multiline {}): server says {:?}",
        value,
        max,
        multiline,
        server_says
    );
    Ok(())
}

/// The seed of every run: fixed, so that a clean clone runs the same cases every time and a
/// failure is reproduced as it is; `PROPTEST_RNG_SEED=<n>` runs another.
fn rng_seed() -> proptest::test_runner::RngSeed {
    match std::env::var("PROPTEST_RNG_SEED") {
        Ok(_) => ProptestConfig::default().rng_seed,
        Err(_) => proptest::test_runner::RngSeed::Fixed(20_261_206),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, failure_persistence: None, rng_seed: rng_seed(), ..ProptestConfig::default() })]

    #[test]
    fn names_and_purposes(value in text_values(200)) {
        if let Value::String(v) = value { field_agrees(&v, 200, false)?; }
    }
    #[test]
    fn consent_texts(value in text_values(500)) {
        if let Value::String(v) = value { field_agrees(&v, 500, true)?; }
    }
}

proptest! {
    // Failures are printed with their minimal body; none are written into the source tree.
    #![proptest_config(ProptestConfig {
        cases: 3000,
        failure_persistence: None,
        rng_seed: rng_seed(),
        ..ProptestConfig::default()
    })]

    #[test]
    fn summary(body in bodies(Section::Summary)) { agree(Section::Summary, &body)?; }
    #[test]
    fn impacts(body in bodies(Section::Impacts)) { agree(Section::Impacts, &body)?; }
    #[test]
    fn conditions(body in bodies(Section::Conditions)) { agree(Section::Conditions, &body)?; }
    #[test]
    fn adjustments(body in bodies(Section::Adjustments)) { agree(Section::Adjustments, &body)?; }
    #[test]
    fn fit_notes(body in bodies(Section::FitNotes)) { agree(Section::FitNotes, &body)?; }
    #[test]
    fn plans(body in bodies(Section::Plans)) { agree(Section::Plans, &body)?; }
}

/// The generated bodies are not all refusals: each section's example is valid to both judges,
/// and a share of generated bodies are accepted (else the property above proves little).
#[test]
fn both_verdicts_are_exercised() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    for section in Section::ALL {
        let example = wp_schemas::sections::example_body(section);
        let judge = JUDGES.iter().find(|j| j.section == section).unwrap();
        assert!(judge.validator.is_valid(&example), "{section}");
        assert!(parse_body(section, &example).is_ok(), "{section}");
        let mut runner = TestRunner::deterministic();
        let strategy = bodies(section);
        let accepted = (0..1000)
            .filter(|_| {
                let body = strategy.new_tree(&mut runner).unwrap().current();
                parse_body(section, &body).is_ok()
            })
            .count();
        eprintln!("{section}: {accepted} of 1000 generated bodies valid");
        assert!(
            accepted >= 10,
            "{section}: only {accepted} of 1000 generated bodies valid"
        );
    }
}

/// The schema's text pattern and the server's text rule, character by character over all of
/// Unicode: a one-character text is valid exactly when the character is neither blank nor a
/// refused control, and a character inside a text exactly when it is not a refused control.
#[test]
fn text_pattern_is_the_text_rule() {
    let pattern = regex::Regex::new(TEXT_PATTERN).expect("the pattern compiles");
    let line = regex::Regex::new(LINE_PATTERN).expect("the pattern compiles");
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        assert_eq!(
            line.is_match(&c.to_string()),
            !is_blank(c) && !c.is_control(),
            "U+{:04X} alone on a line",
            c as u32
        );
        assert_eq!(
            line.is_match(&format!("a{c}b")),
            !c.is_control(),
            "U+{:04X} inside a line",
            c as u32
        );
        let alone = c.to_string();
        assert_eq!(
            pattern.is_match(&alone),
            !is_blank(c) && !is_refused_control(c),
            "U+{:04X} alone",
            c as u32
        );
        let inside = format!("a{c}b");
        assert_eq!(
            pattern.is_match(&inside),
            !is_refused_control(c),
            "U+{:04X} inside",
            c as u32
        );
    }
}
