//! Typed bodies of passport sections (PRODUCT.md §3).
//!
//! A record version carries its `section` and its `body` side by side, so a body is always parsed
//! against the section it claims to belong to, with [`parse_body`]. The JSON Schema files under
//! `schemas/json/sections/` are generated from these types by [`section_json_schema`]; the
//! `json_schema_files` test keeps them in step.
//!
//! Limits that JSON Schema can express (lengths, item counts, non-blank strings, enums) appear in
//! both the schema and [`parse_body`]; cross-field rules (date order, "declined needs a reason")
//! are enforced by `validate()` and described in the schema where possible.

use std::{borrow::Cow, fmt, str::FromStr};

use chrono::{Datelike, NaiveDate};
use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize, Serializer, de::DeserializeOwned};
use serde_json::Value;

/// Maximum characters in a title, name or other one-line label.
pub const MAX_SHORT_TEXT: usize = 200;
/// Maximum characters in a free-text field.
pub const MAX_LONG_TEXT: usize = 4000;
/// Maximum characters in one item of a list of strings.
pub const MAX_ITEM_TEXT: usize = 500;
/// Maximum items in any list.
pub const MAX_LIST_ITEMS: usize = 50;

use crate::text::TEXT_PATTERN;

// ---------------------------------------------------------------------------------------------
// Section names
// ---------------------------------------------------------------------------------------------

/// A section of a passport; consent scopes and records are per section.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Section {
    Summary,
    Impacts,
    Conditions,
    Adjustments,
    FitNotes,
    Plans,
}

impl Section {
    /// Every section, in display order.
    pub const ALL: [Section; 6] = [
        Section::Summary,
        Section::Impacts,
        Section::Conditions,
        Section::Adjustments,
        Section::FitNotes,
        Section::Plans,
    ];

    /// The wire name, identical to the serde representation.
    pub const fn as_str(&self) -> &'static str {
        match self {
            Section::Summary => "summary",
            Section::Impacts => "impacts",
            Section::Conditions => "conditions",
            Section::Adjustments => "adjustments",
            Section::FitNotes => "fit_notes",
            Section::Plans => "plans",
        }
    }
}

impl fmt::Display for Section {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Section {
    type Err = ParseSectionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Section::ALL
            .into_iter()
            .find(|section| section.as_str() == s)
            .ok_or_else(|| ParseSectionError(s.to_owned()))
    }
}

/// A stored or sent section name, owned (how a database row decodes into a section).
impl TryFrom<String> for Section {
    type Error = ParseSectionError;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// The input to [`Section::from_str`] is not a section name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSectionError(pub String);

impl fmt::Display for ParseSectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Section::ALL.iter().map(Section::as_str).collect();
        write!(
            f,
            "unknown section `{}`; expected one of: {}",
            self.0,
            names.join(", ")
        )
    }
}

impl std::error::Error for ParseSectionError {}

// ---------------------------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------------------------

/// JSON Schema `pattern` of a [`Date`]: exactly what [`Date::from_str`] accepts, before the
/// calendar check.
pub const DATE_PATTERN: &str = "^[0-9]{4}-[0-9]{2}-[0-9]{2}$";

/// A calendar date on the wire: an RFC 3339 `full-date` (section 5.6), exactly `YYYY-MM-DD`.
///
/// chrono's own parser also takes `2026-1-5`, `+2026-01-05` or ` 2026-01-05`, which other
/// JSON Schema validators refuse and which re-serialise differently, so one body would mean one
/// thing to us and another (or nothing) to everyone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub NaiveDate);

impl Date {
    pub fn from_ymd(year: i32, month: u32, day: u32) -> Option<Self> {
        (0..=9999)
            .contains(&year)
            .then(|| NaiveDate::from_ymd_opt(year, month, day).map(Date))
            .flatten()
    }
}

impl FromStr for Date {
    type Err = &'static str;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const EXPECTED: &str = "must be a date written YYYY-MM-DD (RFC 3339 full-date)";
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && [0, 1, 2, 3, 5, 6, 8, 9]
                .iter()
                .all(|&i| b[i].is_ascii_digit());
        if !shape {
            return Err(EXPECTED);
        }
        let number = |range: std::ops::Range<usize>| s[range].parse::<u32>().ok();
        let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10))
        else {
            return Err(EXPECTED);
        };
        Date::from_ymd(year as i32, month, day).ok_or("is not a day of the calendar")
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(f, "{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Cow::<'de, str>::deserialize(deserializer)?;
        text.parse()
            .map_err(|why: &str| serde::de::Error::custom(format!("`{text}` {why}")))
    }
}

impl JsonSchema for Date {
    fn schema_name() -> Cow<'static, str> {
        "Date".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "format": "date",
            "pattern": DATE_PATTERN,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// Why a section body was rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct BodyError {
    /// Path of the offending field, e.g. `status` or `steps[2]`; `(body)` for the body as a whole.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl BodyError {
    /// The `field` used when the body as a whole is at fault.
    pub const ROOT: &'static str = "(body)";

    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }

    fn from_serde(err: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let path = err.path().to_string();
        let reason = err.inner().to_string();
        // serde reports a missing field against the enclosing object; naming the field itself is
        // far more useful to a client. (Unknown fields already have their key in the path.)
        let missing = reason
            .strip_prefix("missing field `")
            .and_then(|rest| rest.split_once('`'))
            .map(|(name, _)| name);
        let field = match (path.as_str(), missing) {
            (".", Some(name)) => name.to_owned(),
            (".", None) => Self::ROOT.to_owned(),
            (_, Some(name)) => format!("{path}.{name}"),
            (_, None) => path,
        };
        Self { field, reason }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for BodyError {}

// ---------------------------------------------------------------------------------------------
// Enumerations
// ---------------------------------------------------------------------------------------------

/// Impairment category (Equality Act style groupings); `prefer_not_to_say` stands alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ImpairmentCategory {
    Vision,
    Hearing,
    Mobility,
    Dexterity,
    LearningConcentrating,
    Memory,
    MentalHealth,
    StaminaBreathingFatigue,
    SocialBehavioural,
    PreferNotToSay,
}

/// Kind of workplace adjustment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentCategory {
    WorkingPatternHours,
    WorkplaceEnvironment,
    EquipmentAssistiveTechnology,
    Duties,
    Communication,
    Travel,
    SupportFromPeople,
    AbsenceAppointments,
    PhasedReturn,
}

/// Where an adjustment is in its life cycle; `declined` requires `declined_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentStatus {
    Requested,
    Agreed,
    InPlace,
    Trialled,
    Declined,
    Ended,
}

/// Who pays for an adjustment: the employer, an Access to Work grant, or the employee (`self`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Funding {
    Employer,
    AccessToWork,
    #[serde(rename = "self")]
    SelfFunded,
}

/// The clinician's assessment on a fit note.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Fitness {
    NotFit,
    MayBeFit,
}

/// Advice boxes on a fit note; only meaningful when the employee may be fit for work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FitNoteAdvice {
    PhasedReturn,
    AlteredHours,
    AmendedDuties,
    WorkplaceAdaptations,
}

/// Kind of plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PlanKind {
    ReturnToWork,
    WellnessAction,
}

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

/// Body of a `summary` record: a short "about me and what helps" for line managers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SummaryBody {
    /// A short "about me and what helps" in the employee's own words, written for line managers.
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub about_me: String,
    /// Things that help the employee work well, one per item.
    #[serde(default)]
    #[schemars(
        length(max = MAX_LIST_ITEMS),
        inner(length(max = MAX_ITEM_TEXT), pattern(TEXT_PATTERN))
    )]
    pub what_helps: Vec<String>,
    /// How the employee prefers to be contacted and communicated with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub communication_preferences: Option<String>,
}

/// Body of an `impacts` record: the functional effects at work in one area.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactsBody {
    /// Functional area affected, e.g. concentration, mobility, stamina.
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub area: String,
    /// How the employee's work is affected in this area.
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub description: String,
    /// What it looks like on a good day.
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub good_day: String,
    /// What it looks like on a bad day.
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub bad_day: String,
    /// Things that make it worse, one per item.
    #[serde(default)]
    #[schemars(
        length(max = MAX_LIST_ITEMS),
        inner(length(max = MAX_ITEM_TEXT), pattern(TEXT_PATTERN))
    )]
    pub triggers: Vec<String>,
    /// Whether the impact fluctuates from day to day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fluctuates: Option<bool>,
}

/// Body of a `conditions` record (optional and the most sensitive section).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ConditionsBody {
    /// Impairment categories, without repeats; `prefer_not_to_say` cannot be combined with others.
    #[schemars(
        length(min = 1, max = MAX_LIST_ITEMS),
        extend(
            "uniqueItems" = true,
            "if" = { "contains": { "const": "prefer_not_to_say" } },
            "then" = { "maxItems": 1 }
        )
    )]
    pub categories: Vec<ImpairmentCategory>,
    /// Free-text description, in the employee's own words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub description: Option<String>,
    /// Whether the condition has been formally diagnosed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosed: Option<bool>,
}

/// Body of an `adjustments` record: one workplace adjustment.
///
/// `declined_reason` is required when `status` is `declined` and forbidden otherwise;
/// `review_date` must not be before `start_date`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
// A flat status string plus a sibling reason keeps the wire and the schema simple (a plain enum
// that UIs and queries can use directly); the schema's if/then/else carries the "declined" rule,
// treating `null` as absent exactly as serde does for `Option`.
#[schemars(extend(
    "if" = { "properties": { "status": { "const": "declined" } }, "required": ["status"] },
    "then" = {
        "required": ["declined_reason"],
        "properties": { "declined_reason": { "type": "string" } }
    },
    "else" = { "properties": { "declined_reason": { "type": "null" } } }
))]
pub struct AdjustmentsBody {
    /// Short name of the adjustment, e.g. "Noise-cancelling headphones".
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub title: String,
    /// Kind of adjustment.
    pub category: AdjustmentCategory,
    /// What the adjustment addresses.
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub addresses: String,
    /// Where the adjustment is: requested, agreed, in place, trialled, declined or ended.
    pub status: AdjustmentStatus,
    /// Why the adjustment was declined; required when `status` is `declined`, forbidden otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub declined_reason: Option<String>,
    /// When the adjustment starts or started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_date: Option<Date>,
    /// When the adjustment is due for review; not before `start_date`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_date: Option<Date>,
    /// Who pays: `employer`, `access_to_work` or `self`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<Funding>,
    /// Name and/or role of the person who agreed the adjustment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub agreed_by: Option<String>,
    /// Any other notes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub notes: Option<String>,
}

/// Body of a `fit_notes` record: a statement of fitness for work.
///
/// `period_to` must not be before `period_from`; `advice` must be empty when `fitness` is
/// `not_fit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend(
    "if" = { "properties": { "fitness": { "const": "not_fit" } }, "required": ["fitness"] },
    "then" = { "properties": { "advice": { "maxItems": 0 } } }
))]
pub struct FitNotesBody {
    /// Date the employee was assessed.
    pub assessed_on: Date,
    /// The condition stated on the fit note.
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub condition: String,
    /// Whether the employee is not fit for work or may be fit for work taking account of advice.
    pub fitness: Fitness,
    /// Advice ticked on the fit note, without repeats; only when `fitness` is `may_be_fit`.
    #[serde(default)]
    #[schemars(length(max = MAX_LIST_ITEMS), extend("uniqueItems" = true))]
    pub advice: Vec<FitNoteAdvice>,
    /// Functional effects of the condition, as described by the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub functional_effects: Option<String>,
    /// First day the fit note covers.
    pub period_from: Date,
    /// Last day the fit note covers; not before `period_from`.
    pub period_to: Date,
    /// Whether the issuer needs to assess the employee again at the end of the period.
    pub reassessment_needed: bool,
    /// Name of the issuing doctor or healthcare professional.
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub issuer_name: String,
    /// Profession of the issuer, e.g. GP, nurse, occupational therapist, pharmacist.
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub issuer_profession: String,
}

/// Body of a `plans` record: a return-to-work or wellness action plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PlansBody {
    /// Kind of plan.
    pub kind: PlanKind,
    /// Short name of the plan.
    #[schemars(length(max = MAX_SHORT_TEXT), pattern(TEXT_PATTERN))]
    pub title: String,
    /// The steps of the plan, in order; at least one.
    #[schemars(
        length(min = 1, max = MAX_LIST_ITEMS),
        inner(length(max = MAX_ITEM_TEXT), pattern(TEXT_PATTERN))
    )]
    pub steps: Vec<String>,
    /// Keep-in-touch arrangements while the employee is away.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub keep_in_touch: Option<String>,
    /// What to do if the employee becomes unwell at work.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = MAX_LONG_TEXT), pattern(TEXT_PATTERN))]
    pub if_unwell: Option<String>,
    /// When the plan is due for review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_date: Option<Date>,
}

// ---------------------------------------------------------------------------------------------
// Semantic validation
// ---------------------------------------------------------------------------------------------

type Check = Result<(), BodyError>;

fn text(field: &str, value: &str, max: usize) -> Check {
    match crate::text::refusal(value, max, true) {
        Some(why) => Err(BodyError::new(field, why)),
        None => Ok(()),
    }
}

/// An optional text, when present, obeys the same rules as a required one: clients omit it
/// rather than send blanks.
fn optional_text(field: &str, value: Option<&str>, max: usize) -> Check {
    value.map_or(Ok(()), |v| text(field, v, max))
}

fn list_len<T>(field: &str, items: &[T], min: usize) -> Check {
    if items.len() < min {
        return Err(BodyError::new(
            field,
            format!("must have at least {min} item(s)"),
        ));
    }
    if items.len() > MAX_LIST_ITEMS {
        return Err(BodyError::new(
            field,
            format!(
                "must have at most {MAX_LIST_ITEMS} items (got {})",
                items.len()
            ),
        ));
    }
    Ok(())
}

fn text_list(field: &str, items: &[String], min: usize) -> Check {
    list_len(field, items, min)?;
    items
        .iter()
        .enumerate()
        .try_for_each(|(i, item)| text(&format!("{field}[{i}]"), item, MAX_ITEM_TEXT))
}

fn unique<T: PartialEq + Serialize>(field: &str, items: &[T]) -> Check {
    for (i, item) in items.iter().enumerate() {
        if items[..i].contains(item) {
            let name = serde_json::to_value(item).unwrap_or(Value::Null);
            return Err(BodyError::new(
                format!("{field}[{i}]"),
                format!("{name} is listed more than once"),
            ));
        }
    }
    Ok(())
}

/// Blames the later field, which is the one a client most likely got wrong.
fn not_before(later: (&str, Date), earlier: (&str, Date)) -> Check {
    if later.1 < earlier.1 {
        return Err(BodyError::new(
            later.0,
            format!(
                "{} must not be before `{}` ({})",
                later.1, earlier.0, earlier.1
            ),
        ));
    }
    Ok(())
}

impl SummaryBody {
    pub fn validate(&self) -> Result<(), BodyError> {
        text("about_me", &self.about_me, MAX_LONG_TEXT)?;
        text_list("what_helps", &self.what_helps, 0)?;
        optional_text(
            "communication_preferences",
            self.communication_preferences.as_deref(),
            MAX_LONG_TEXT,
        )
    }
}

impl ImpactsBody {
    pub fn validate(&self) -> Result<(), BodyError> {
        text("area", &self.area, MAX_SHORT_TEXT)?;
        text("description", &self.description, MAX_LONG_TEXT)?;
        text("good_day", &self.good_day, MAX_LONG_TEXT)?;
        text("bad_day", &self.bad_day, MAX_LONG_TEXT)?;
        text_list("triggers", &self.triggers, 0)
    }
}

impl ConditionsBody {
    pub fn validate(&self) -> Result<(), BodyError> {
        list_len("categories", &self.categories, 1)?;
        unique("categories", &self.categories)?;
        if self.categories.len() > 1
            && self
                .categories
                .contains(&ImpairmentCategory::PreferNotToSay)
        {
            return Err(BodyError::new(
                "categories",
                "`prefer_not_to_say` cannot be combined with other categories",
            ));
        }
        optional_text("description", self.description.as_deref(), MAX_LONG_TEXT)
    }
}

impl AdjustmentsBody {
    pub fn validate(&self) -> Result<(), BodyError> {
        text("title", &self.title, MAX_SHORT_TEXT)?;
        text("addresses", &self.addresses, MAX_LONG_TEXT)?;
        match (self.status, self.declined_reason.as_deref()) {
            (AdjustmentStatus::Declined, None) => {
                return Err(BodyError::new(
                    "declined_reason",
                    "is required when `status` is `declined`",
                ));
            }
            (AdjustmentStatus::Declined, reason) => {
                optional_text("declined_reason", reason, MAX_LONG_TEXT)?
            }
            (_, Some(_)) => {
                return Err(BodyError::new(
                    "declined_reason",
                    "is only allowed when `status` is `declined`",
                ));
            }
            (_, None) => {}
        }
        if let (Some(start), Some(review)) = (self.start_date, self.review_date) {
            not_before(("review_date", review), ("start_date", start))?;
        }
        optional_text("agreed_by", self.agreed_by.as_deref(), MAX_SHORT_TEXT)?;
        optional_text("notes", self.notes.as_deref(), MAX_LONG_TEXT)
    }
}

impl FitNotesBody {
    pub fn validate(&self) -> Result<(), BodyError> {
        text("condition", &self.condition, MAX_SHORT_TEXT)?;
        list_len("advice", &self.advice, 0)?;
        unique("advice", &self.advice)?;
        if self.fitness == Fitness::NotFit && !self.advice.is_empty() {
            return Err(BodyError::new(
                "advice",
                "must be empty when `fitness` is `not_fit`",
            ));
        }
        optional_text(
            "functional_effects",
            self.functional_effects.as_deref(),
            MAX_LONG_TEXT,
        )?;
        not_before(
            ("period_to", self.period_to),
            ("period_from", self.period_from),
        )?;
        text("issuer_name", &self.issuer_name, MAX_SHORT_TEXT)?;
        text("issuer_profession", &self.issuer_profession, MAX_SHORT_TEXT)
    }
}

impl PlansBody {
    pub fn validate(&self) -> Result<(), BodyError> {
        text("title", &self.title, MAX_SHORT_TEXT)?;
        text_list("steps", &self.steps, 1)?;
        optional_text(
            "keep_in_touch",
            self.keep_in_touch.as_deref(),
            MAX_LONG_TEXT,
        )?;
        optional_text("if_unwell", self.if_unwell.as_deref(), MAX_LONG_TEXT)
    }
}

// ---------------------------------------------------------------------------------------------
// Any section's body
// ---------------------------------------------------------------------------------------------

/// The typed body of a record in any section.
///
/// Serializes as the bare body (untagged): the wire carries `section` separately, so use
/// [`parse_body`] rather than deserializing this directly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SectionBody {
    Summary(SummaryBody),
    Impacts(ImpactsBody),
    Conditions(ConditionsBody),
    Adjustments(AdjustmentsBody),
    FitNotes(FitNotesBody),
    Plans(PlansBody),
}

impl SectionBody {
    pub fn section(&self) -> Section {
        match self {
            SectionBody::Summary(_) => Section::Summary,
            SectionBody::Impacts(_) => Section::Impacts,
            SectionBody::Conditions(_) => Section::Conditions,
            SectionBody::Adjustments(_) => Section::Adjustments,
            SectionBody::FitNotes(_) => Section::FitNotes,
            SectionBody::Plans(_) => Section::Plans,
        }
    }

    /// Semantic checks beyond what deserialization enforces.
    pub fn validate(&self) -> Result<(), BodyError> {
        match self {
            SectionBody::Summary(b) => b.validate(),
            SectionBody::Impacts(b) => b.validate(),
            SectionBody::Conditions(b) => b.validate(),
            SectionBody::Adjustments(b) => b.validate(),
            SectionBody::FitNotes(b) => b.validate(),
            SectionBody::Plans(b) => b.validate(),
        }
    }

    /// The body as JSON, as it goes on the wire.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).expect("section bodies are plain data and always serialize")
    }
}

fn deserialize<T: DeserializeOwned>(body: &Value) -> Result<T, BodyError> {
    serde_path_to_error::deserialize(body).map_err(BodyError::from_serde)
}

/// Parses and validates `body` as the body of a record in `section`.
///
/// The error names the offending field path (e.g. `status`, `steps[2]`), or `(body)` when the
/// body as a whole is wrong.
pub fn parse_body(section: Section, body: &Value) -> Result<SectionBody, BodyError> {
    if !body.is_object() {
        return Err(BodyError::new(
            BodyError::ROOT,
            format!("must be a JSON object, not {}", json_kind(body)),
        ));
    }
    let parsed = match section {
        Section::Summary => SectionBody::Summary(deserialize(body)?),
        Section::Impacts => SectionBody::Impacts(deserialize(body)?),
        Section::Conditions => SectionBody::Conditions(deserialize(body)?),
        Section::Adjustments => SectionBody::Adjustments(deserialize(body)?),
        Section::FitNotes => SectionBody::FitNotes(deserialize(body)?),
        Section::Plans => SectionBody::Plans(deserialize(body)?),
    };
    parsed.validate()?;
    Ok(parsed)
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The JSON Schema (draft 2020-12) of a section's body.
pub fn section_json_schema(section: Section) -> Value {
    let schema = match section {
        Section::Summary => schemars::schema_for!(SummaryBody),
        Section::Impacts => schemars::schema_for!(ImpactsBody),
        Section::Conditions => schemars::schema_for!(ConditionsBody),
        Section::Adjustments => schemars::schema_for!(AdjustmentsBody),
        Section::FitNotes => schemars::schema_for!(FitNotesBody),
        Section::Plans => schemars::schema_for!(PlansBody),
    };
    let mut value = schema.to_value();
    // Key order would otherwise depend on whether some crate in the build enables serde_json's
    // `preserve_order`, which would make the checked-in files flap.
    value.sort_all_objects();
    value
}

/// A realistic, valid example body for `section` (for tests and documentation).
pub fn example_body(section: Section) -> Value {
    use serde_json::json;
    match section {
        Section::Summary => json!({
            "about_me": "I have ADHD and dyslexia. I do my best work with clear priorities and \
                         written follow-ups after meetings.",
            "what_helps": [
                "Agendas sent before meetings",
                "Written summaries of actions",
                "A quiet space for focused work"
            ],
            "communication_preferences": "Email or chat rather than unplanned phone calls."
        }),
        Section::Impacts => json!({
            "area": "concentration",
            "description": "Open-plan noise makes it hard to keep focus on detailed work.",
            "good_day": "I can focus for a couple of hours with headphones on.",
            "bad_day": "I lose track mid-task and need to break work into short blocks.",
            "triggers": ["Background conversations", "Frequent interruptions"],
            "fluctuates": true
        }),
        Section::Conditions => json!({
            "categories": ["learning_concentrating", "mental_health"],
            "description": "ADHD and dyslexia; anxiety that is worse under time pressure.",
            "diagnosed": true
        }),
        Section::Adjustments => json!({
            "title": "Noise-cancelling headphones",
            "category": "equipment_assistive_technology",
            "addresses": "Difficulty concentrating in the open-plan office.",
            "status": "in_place",
            "start_date": "2025-01-13",
            "review_date": "2025-07-13",
            "funding": "access_to_work",
            "agreed_by": "Sam Patel, line manager",
            "notes": "Review alongside the move to the new office."
        }),
        Section::FitNotes => json!({
            "assessed_on": "2025-03-03",
            "condition": "Recovery from knee surgery",
            "fitness": "may_be_fit",
            "advice": ["phased_return", "amended_duties"],
            "functional_effects": "Cannot stand for long periods or climb stairs.",
            "period_from": "2025-03-03",
            "period_to": "2025-04-13",
            "reassessment_needed": false,
            "issuer_name": "Dr A. Jones",
            "issuer_profession": "GP"
        }),
        Section::Plans => json!({
            "kind": "return_to_work",
            "title": "Phased return after knee surgery",
            "steps": [
                "Weeks 1-2: three days a week, 10:00 to 15:00, desk-based duties",
                "Weeks 3-4: four days a week, normal hours, no site visits",
                "Week 5: full duties; review with line manager"
            ],
            "keep_in_touch": "Weekly 15-minute call with line manager on Mondays.",
            "if_unwell": "Tell my line manager and go home; no need for a meeting that day.",
            "review_date": "2025-04-14"
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(section: Section, key: &str, value: Value) -> Value {
        let mut body = example_body(section);
        body[key] = value;
        body
    }

    fn error(section: Section, body: &Value) -> BodyError {
        parse_body(section, body).expect_err("body should be rejected")
    }

    #[test]
    fn section_names_round_trip() {
        for section in Section::ALL {
            assert_eq!(section.as_str().parse::<Section>(), Ok(section));
            assert_eq!(section.to_string(), section.as_str());
            assert_eq!(
                serde_json::to_value(section).unwrap(),
                json!(section.as_str())
            );
        }
        let err = "fitnotes".parse::<Section>().unwrap_err().to_string();
        assert!(
            err.contains("`fitnotes`") && err.contains("fit_notes, plans"),
            "{err}"
        );
    }

    #[test]
    fn every_example_parses_and_round_trips() {
        for section in Section::ALL {
            let example = example_body(section);
            let parsed = parse_body(section, &example)
                .unwrap_or_else(|e| panic!("example for {section} rejected: {e}"));
            assert_eq!(parsed.section(), section);
            assert_eq!(parsed.to_value(), example, "{section}");
        }
    }

    #[test]
    fn minimal_bodies_parse() {
        let body = json!({ "about_me": "Hi", });
        assert!(parse_body(Section::Summary, &body).is_ok());
        let body = json!({ "categories": ["prefer_not_to_say"] });
        assert!(parse_body(Section::Conditions, &body).is_ok());
    }

    #[test]
    fn unknown_field_is_named() {
        let body = with(Section::Summary, "favourite_colour", json!("blue"));
        let err = error(Section::Summary, &body);
        assert_eq!(err.field, "favourite_colour");
        assert!(err.reason.contains("unknown field"), "{err}");
    }

    #[test]
    fn missing_field_is_named() {
        let mut body = example_body(Section::FitNotes);
        body.as_object_mut().unwrap().remove("issuer_name");
        assert_eq!(error(Section::FitNotes, &body).field, "issuer_name");
    }

    #[test]
    fn wrong_enum_value_names_the_field() {
        let body = with(Section::Adjustments, "status", json!("pending"));
        let err = error(Section::Adjustments, &body);
        assert_eq!(err.field, "status");
        assert!(err.reason.contains("unknown variant `pending`"), "{err}");

        let body = with(
            Section::FitNotes,
            "advice",
            json!(["phased_return", "rest"]),
        );
        assert_eq!(error(Section::FitNotes, &body).field, "advice[1]");
    }

    #[test]
    fn wrong_type_in_list_names_the_item() {
        let body = with(Section::Plans, "steps", json!(["one", "two", 3]));
        assert_eq!(error(Section::Plans, &body).field, "steps[2]");
        let body = with(Section::Plans, "steps", json!(["one", "two", "  "]));
        assert_eq!(error(Section::Plans, &body).field, "steps[2]");
    }

    #[test]
    fn malformed_date_names_the_field() {
        let body = with(Section::FitNotes, "assessed_on", json!("03/03/2025"));
        assert_eq!(error(Section::FitNotes, &body).field, "assessed_on");
    }

    #[test]
    fn dates_are_strict_rfc3339_full_dates() {
        for loose in [
            "2026-1-5",
            "2026-01-5",
            "2026-1-05",
            "+2026-01-05",
            " 2026-01-05",
            "2026-01-05 ",
            "2026-01-05T00:00:00Z",
            "20260105",
            "02026-01-05",
            "2026/01/05",
            "2026-02-30",
            "2026-13-01",
            "2026-00-10",
            "2026-01-00",
            "２０２６-01-05",
        ] {
            for (section, field) in [
                (Section::Adjustments, "start_date"),
                (Section::Adjustments, "review_date"),
                (Section::FitNotes, "assessed_on"),
                (Section::FitNotes, "period_from"),
                (Section::Plans, "review_date"),
            ] {
                let err = error(section, &with(section, field, json!(loose)));
                assert_eq!(err.field, field, "{loose}: {err}");
            }
            assert!(loose.parse::<Date>().is_err(), "{loose}");
        }
        assert!(
            error(
                Section::Plans,
                &with(Section::Plans, "review_date", json!(20260105))
            )
            .reason
            .contains("string")
        );
        // What is accepted is written back exactly as it came.
        for date in ["2026-01-05", "2024-02-29", "0001-01-01", "9999-12-31"] {
            let parsed: Date = date.parse().unwrap();
            assert_eq!(parsed.to_string(), date);
            assert_eq!(serde_json::to_value(parsed).unwrap(), json!(date));
        }
        assert!("2025-02-29".parse::<Date>().is_err());
    }

    #[test]
    fn date_schema_matches_the_parser() {
        for section in Section::ALL {
            let schema = section_json_schema(section);
            let properties = schema["properties"].as_object().unwrap();
            for (name, property) in properties {
                if property.get("format") == Some(&json!("date")) {
                    assert_eq!(property["pattern"], json!(DATE_PATTERN), "{section}.{name}");
                }
            }
        }
        let adjustments = section_json_schema(Section::Adjustments);
        assert_eq!(adjustments["properties"]["start_date"]["format"], "date");
    }

    #[test]
    fn bad_date_order_names_the_later_field() {
        let body = with(Section::FitNotes, "period_to", json!("2025-03-02"));
        let err = error(Section::FitNotes, &body);
        assert_eq!(err.field, "period_to");
        assert!(err.reason.contains("period_from"), "{err}");

        let body = with(Section::Adjustments, "review_date", json!("2024-12-31"));
        assert_eq!(error(Section::Adjustments, &body).field, "review_date");
    }

    #[test]
    fn declined_needs_a_reason_and_only_declined_has_one() {
        let body = with(Section::Adjustments, "status", json!("declined"));
        assert_eq!(error(Section::Adjustments, &body).field, "declined_reason");

        let mut body = body;
        body["declined_reason"] = json!("   ");
        assert_eq!(error(Section::Adjustments, &body).field, "declined_reason");

        body["declined_reason"] = json!("Not reasonable for a public-facing role.");
        assert!(parse_body(Section::Adjustments, &body).is_ok());

        body["status"] = json!("agreed");
        assert_eq!(error(Section::Adjustments, &body).field, "declined_reason");

        // `null` means absent, as for every optional field.
        body["declined_reason"] = Value::Null;
        assert!(parse_body(Section::Adjustments, &body).is_ok());
    }

    #[test]
    fn funding_self_uses_the_short_wire_name() {
        let body = with(Section::Adjustments, "funding", json!("self"));
        let SectionBody::Adjustments(adj) = parse_body(Section::Adjustments, &body).unwrap() else {
            unreachable!()
        };
        assert_eq!(adj.funding, Some(Funding::SelfFunded));
    }

    #[test]
    fn conditions_categories_rules() {
        let err = error(Section::Conditions, &json!({ "categories": [] }));
        assert_eq!(err.field, "categories");
        let body = json!({ "categories": ["prefer_not_to_say", "vision"] });
        assert_eq!(error(Section::Conditions, &body).field, "categories");
        let body = json!({ "categories": ["vision", "hearing", "vision"] });
        assert_eq!(error(Section::Conditions, &body).field, "categories[2]");
    }

    #[test]
    fn not_fit_takes_no_advice() {
        let body = with(Section::FitNotes, "fitness", json!("not_fit"));
        assert_eq!(error(Section::FitNotes, &body).field, "advice");
        let mut body = body;
        body["advice"] = json!([]);
        assert!(parse_body(Section::FitNotes, &body).is_ok());
    }

    #[test]
    fn lengths_are_limited() {
        let body = with(
            Section::Plans,
            "title",
            json!("x".repeat(MAX_SHORT_TEXT + 1)),
        );
        assert_eq!(error(Section::Plans, &body).field, "title");
        // Limits count characters, not bytes.
        let body = with(Section::Plans, "title", json!("é".repeat(MAX_SHORT_TEXT)));
        assert!(parse_body(Section::Plans, &body).is_ok());
        let body = with(
            Section::Impacts,
            "triggers",
            json!(vec!["noise"; MAX_LIST_ITEMS + 1]),
        );
        assert_eq!(error(Section::Impacts, &body).field, "triggers");
    }

    #[test]
    fn non_object_body_is_rejected() {
        for body in [json!(null), json!([]), json!("summary"), json!(3)] {
            let err = error(Section::Summary, &body);
            assert_eq!(err.field, BodyError::ROOT);
            assert!(err.reason.contains("JSON object"), "{err}");
        }
    }

    #[test]
    fn body_is_checked_against_its_own_section() {
        let err = error(Section::Plans, &example_body(Section::Summary));
        assert_eq!(err.field, "about_me");
    }
}
