//! Output: plain-text tables for people, JSON for scripts.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wp_schemas::api::{Grant, Party};
use wp_schemas::sections::Section;

use wp_client::VerifiedVersion;

/// A table of left-aligned columns under an underlined header.
pub struct Table {
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(headers: &[&str]) -> Self {
        Table {
            headers: headers.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        if self.rows.is_empty() {
            return "  (none)\n".to_owned();
        }
        let columns = self.headers.len();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(width(cell));
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::from(" ");
            for (i, cell) in cells.iter().enumerate().take(columns) {
                out.push(' ');
                out.push_str(cell);
                if i + 1 < columns {
                    out.push_str(&" ".repeat(widths[i] - width(cell) + 1));
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = line(&self.headers);
        let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
        out.push_str(&line(&rule));
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

/// Key-value lines, aligned.
pub fn fields(pairs: &[(&str, String)]) -> String {
    let w = pairs.iter().map(|(k, _)| width(k)).max().unwrap_or(0);
    pairs
        .iter()
        .map(|(k, v)| format!("{k}:{} {v}\n", " ".repeat(w - width(k))))
        .collect()
}

/// Writes to stdout. When the reader has gone (`wp ... | head`), ends the program quietly
/// instead of panicking.
pub fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_fmt(args).and_then(|()| stdout.flush()) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(super::EXIT_OK);
        }
        eprintln!("error: writing the output: {e}");
        std::process::exit(super::EXIT_ERROR);
    }
}

/// How results are printed: for people, as JSON (--json), or as the id alone (-q).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Human,
    Json,
    Quiet,
}

impl Mode {
    /// From the global flags (clap refuses both at once).
    pub fn new(json: bool, quiet: bool) -> Self {
        match (json, quiet) {
            (true, _) => Mode::Json,
            (false, true) => Mode::Quiet,
            (false, false) => Mode::Human,
        }
    }

    /// Whether a result prints for people: always without flags, and with -q when it has no
    /// id to print (`has_id`). Lets a command skip lookups only people would see.
    pub fn for_people(self, has_id: bool) -> bool {
        match self {
            Mode::Human => true,
            Mode::Json => false,
            Mode::Quiet => !has_id,
        }
    }
}

/// A command's result, ready to print every way. Rendering does no I/O: names and anything
/// else shown are looked up before.
pub trait Render {
    /// Sentences and tables for people, every line ending in a newline.
    fn human(&self) -> String;
    /// The document printed with --json.
    fn json(&self) -> Value;
    /// The id printed with -q: of what the command created or changed. Results that change
    /// nothing have none and print as for people.
    fn quiet(&self) -> Option<String> {
        None
    }
}

/// Prints `result` as `mode` asks; every command prints through here.
pub fn show(mode: Mode, result: &impl Render) {
    let id = result.quiet();
    if mode == Mode::Json {
        out!("{}", pretty(&result.json()));
    } else if mode.for_people(id.is_some()) {
        out!("{}", result.human());
    } else if let Some(id) = id {
        outln!("{id}");
    }
}

/// A JSON document as printed: pretty, with a final newline.
pub fn pretty(value: &impl serde::Serialize) -> String {
    serde_json::to_string_pretty(value).expect("JSON output serializes") + "\n"
}

/// A JSON document (an example body, a record's body alone) prints as JSON every way.
impl Render for Value {
    fn human(&self) -> String {
        pretty(self)
    }

    fn json(&self) -> Value {
        self.clone()
    }
}

/// A library type printed as itself with --json.
pub fn to_json(value: &impl serde::Serialize) -> Value {
    serde_json::to_value(value).expect("JSON output serializes")
}

pub fn time(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

pub fn date(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

pub fn truncate(text: &str, max: usize) -> String {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if width(&text) <= max {
        text
    } else {
        let cut: String = text.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    }
}

/// "Dana Okafor (professional, HCPC OT12345)", "Sam Patel (line manager, Acme Ltd)"; the
/// caller (`me`) is marked "you".
pub fn party(p: &Party, me: Option<&str>) -> String {
    if me == Some(p.id.as_str()) {
        format!("{} (you)", p.display_name)
    } else {
        wp_client::consent::describe_party(p)
    }
}

pub fn party_json(p: &Party) -> Value {
    let mut value = json!({
        "id": p.id,
        "kind": p.kind,
        "display_name": p.display_name,
        "registration": p.registration,
    });
    if let Some(m) = &p.membership {
        value["membership"] = to_json(m);
    }
    value
}

fn str_field<'a>(body: &'a Value, key: &str) -> &'a str {
    body.get(key).and_then(Value::as_str).unwrap_or("")
}

fn list_field(body: &Value, key: &str) -> String {
    body.get(key)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default()
}

/// A one-line summary of a record body, by section.
pub fn summary(section: Section, body: Option<&Value>) -> String {
    let Some(body) = body else {
        return "(deleted)".to_owned();
    };
    let text = match section {
        Section::Summary => str_field(body, "about_me").to_owned(),
        Section::Impacts => format!(
            "{}: {}",
            str_field(body, "area"),
            str_field(body, "description")
        ),
        Section::Conditions => {
            let categories = list_field(body, "categories");
            match body.get("description").and_then(Value::as_str) {
                Some(d) => format!("{categories}: {d}"),
                None => categories,
            }
        }
        Section::Adjustments => {
            let mut s = format!(
                "{} [{}]",
                str_field(body, "title"),
                str_field(body, "status")
            );
            if let Some(by) = body.get("agreed_by").and_then(Value::as_str) {
                s.push_str(&format!(" agreed by {by}"));
            }
            s
        }
        Section::FitNotes => {
            let mut s = format!(
                "{} {} to {}: {}",
                str_field(body, "fitness"),
                str_field(body, "period_from"),
                str_field(body, "period_to"),
                str_field(body, "condition"),
            );
            let advice = list_field(body, "advice");
            if !advice.is_empty() {
                s.push_str(&format!(" ({advice})"));
            }
            s
        }
        Section::Plans => format!("{}: {}", str_field(body, "kind"), str_field(body, "title")),
    };
    truncate(&text, 72)
}

/// A verified version for scripts: where it sits, who signed it, and its body.
pub fn version_json(v: &VerifiedVersion) -> Value {
    json!({
        "record_id": v.envelope.record_id,
        "section": v.envelope.section,
        "version": v.envelope.version,
        "seq": v.envelope.seq,
        "deleted": v.envelope.deleted,
        "hash": v.envelope.hash,
        "stored_at": v.envelope.created_at,
        "signed_at": DateTime::<Utc>::from_timestamp(v.payload.iat, 0),
        "author": party_json(&v.author),
        "body": v.payload.body,
    })
}

pub fn signed_at(v: &VerifiedVersion) -> String {
    DateTime::<Utc>::from_timestamp(v.payload.iat, 0)
        .map(|t| time(&t))
        .unwrap_or_default()
}

/// Records of one section: id, version, author, when, summary.
pub fn records_table(versions: &[VerifiedVersion], me: Option<&str>) -> String {
    let mut table = Table::new(&["record", "v", "author", "signed", "summary"]);
    for v in versions {
        table.row(vec![
            v.envelope.record_id.clone(),
            v.envelope.version.to_string(),
            party(&v.author, me),
            signed_at(v),
            summary(v.envelope.section, v.payload.body.as_ref()),
        ]);
    }
    table.render()
}

/// A record's versions, oldest first.
pub fn history_table(versions: &[VerifiedVersion], me: Option<&str>) -> String {
    let mut table = Table::new(&["v", "seq", "author", "signed", "summary"]);
    for v in versions {
        table.row(vec![
            v.envelope.version.to_string(),
            v.envelope.seq.to_string(),
            party(&v.author, me),
            signed_at(v),
            summary(v.envelope.section, v.payload.body.as_ref()),
        ]);
    }
    table.render()
}

pub fn grant_json(g: &Grant, other: Option<&Party>) -> Value {
    let mut value = to_json(g);
    if let Some(p) = other {
        value["party"] = party_json(p);
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(&["id", "name"]);
        table.row(vec!["1".into(), "Alex".into()]);
        table.row(vec!["200".into(), "Dana Okafor".into()]);
        assert_eq!(
            table.render(),
            "  id   name\n  ---  -----------\n  1    Alex\n  200  Dana Okafor\n"
        );
        assert_eq!(Table::new(&["id"]).render(), "  (none)\n");
    }

    #[test]
    fn summaries_are_one_short_line() {
        let body = wp_schemas::sections::example_body(Section::Adjustments);
        assert_eq!(
            summary(Section::Adjustments, Some(&body)),
            "Noise-cancelling headphones [in_place] agreed by Sam Patel, line manager"
        );
        assert_eq!(summary(Section::Plans, None), "(deleted)");
        assert_eq!(truncate("a  b\nc", 10), "a b c");
        assert_eq!(truncate("abcdefghij", 5), "abcd…");
    }
}
