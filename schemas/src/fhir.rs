//! The FHIR R4 view of a passport (docs/FHIR.md): the same content as an export bundle, as a
//! FHIR R4 `Bundle` of type `collection` that NHS and other health systems read.
//!
//! It is a view, not a second format: it is made from a [`Bundle`] (the server answers it at
//! `GET /v1/passports/{pid}/export?format=fhir`; `wp bundle fhir` makes it from a bundle file
//! offline), and it proves nothing by itself. Each version's original JWS rides in its
//! `Provenance.signature`, so a reader who wants proof checks those, or the bundle.
//!
//! Each live record becomes the resource FHIR has for it: an adjustment a `Flag` (categorised
//! as the NHS England Reasonable Adjustment Flag does, with its adjustment-category code where
//! one fits), a condition a `Condition`, an impact an `Observation`, a plan a `CarePlan`, a fit
//! note and the summary a `DocumentReference` carrying the signed body. Each grant becomes a
//! `Consent`, each version (superseded and deleted ones too) a `Provenance`, the owner a
//! `Patient`, every other person a `Practitioner` and every organisation an `Organization`.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::api::{Action, Grant, GrantStatus, Party, PartyKind, VersionEnvelope, VersionPayload};
use crate::bundle::Bundle;
use crate::jose::CompactJws;
use crate::sections::{
    AdjustmentCategory, AdjustmentStatus, AdjustmentsBody, ConditionsBody, FitNoteAdvice,
    FitNotesBody, Fitness, ImpactsBody, ImpairmentCategory, PlanKind, PlansBody, Section,
    SummaryBody,
};

/// The media type of the FHIR view (FHIR R4, section 2.6.1 "JSON").
pub const FHIR_JSON: &str = "application/fhir+json";
/// The FHIR version the view follows.
pub const FHIR_VERSION: &str = "4.0.1";

/// NHS England's Reasonable Adjustment flag category (the Flag's first category).
pub const NHS_FLAG_CATEGORY: &str = "https://fhir.nhs.uk/England/CodeSystem/RA-FlagCategory";
/// NHS England's Reasonable Adjustment adjustment categories.
pub const NHS_ADJUSTMENT_CATEGORY: &str =
    "https://fhir.nhs.uk/England/CodeSystem/RA-AdjustmentCategory";
/// NHS England's extension for free-text notes on an adjustment Flag.
pub const NHS_ADJUSTMENT_NOTES: &str =
    "https://fhir.nhs.uk/England/StructureDefinition/Extension-AdjustmentNotes";

/// Work Passport's own code systems and extensions: the wire names of the section bodies'
/// enumerations, so nothing is lost where no standard code fits. Documented in docs/FHIR.md.
pub const CODES: &str = "urn:work-passport:code:";
pub const EXTENSIONS: &str = "urn:work-passport:extension:";

const DATA_OPERATION: &str = "http://terminology.hl7.org/CodeSystem/v3-DataOperation";
const PARTICIPANT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
const SIGNATURE_TYPE: &str = "urn:iso-astm:E1762-95:2013";
const CONSENT_SCOPE: &str = "http://terminology.hl7.org/CodeSystem/consentscope";
const CONSENT_ACTION: &str = "http://terminology.hl7.org/CodeSystem/consentaction";
const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
const PARTICIPATION_TYPE: &str = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType";
const CONDITION_CATEGORY: &str = "http://terminology.hl7.org/CodeSystem/condition-category";
const CONDITION_CLINICAL: &str = "http://terminology.hl7.org/CodeSystem/condition-clinical";
const CONDITION_VERIFICATION: &str = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
const LOINC: &str = "http://loinc.org";

/// The FHIR R4 view of `bundle`. Fails only on a version whose JWS or body cannot be read,
/// which a bundle that verifies never has.
pub fn from_bundle(bundle: &Bundle) -> Result<Value, String> {
    View::new(bundle)?.into_fhir()
}

/// One version with its payload read.
struct Read<'a> {
    envelope: &'a VersionEnvelope,
    payload: VersionPayload,
}

struct View<'a> {
    bundle: &'a Bundle,
    parties: BTreeMap<&'a str, &'a Party>,
    versions: Vec<Read<'a>>,
    /// The latest version of each record, by record id.
    heads: BTreeMap<&'a str, usize>,
}

impl<'a> View<'a> {
    fn new(bundle: &'a Bundle) -> Result<Self, String> {
        let body = &bundle.body;
        let mut versions: Vec<Read> = Vec::with_capacity(body.versions.len());
        let mut heads: BTreeMap<&str, usize> = BTreeMap::new();
        for envelope in &body.versions {
            let payload: VersionPayload = CompactJws::parse(&envelope.jws)
                .and_then(|jws| jws.claims())
                .map_err(|e| format!("version {} cannot be read: {e}", envelope.seq))?;
            let index = versions.len();
            let newer = heads
                .get(envelope.record_id.as_str())
                .is_none_or(|&i| versions[i].payload.version < payload.version);
            if newer {
                heads.insert(&envelope.record_id, index);
            }
            versions.push(Read { envelope, payload });
        }
        let parties = body.parties.iter().map(|p| (p.id.as_str(), p)).collect();
        Ok(View {
            bundle,
            parties,
            versions,
            heads,
        })
    }

    fn into_fhir(self) -> Result<Value, String> {
        let body = &self.bundle.body;
        let mut entries = Vec::new();
        for party in &body.parties {
            entries.push(self.party(party));
        }
        for &index in self.heads.values() {
            let read = &self.versions[index];
            if !read.payload.deleted {
                entries.push(self.record(read)?);
            }
        }
        for grant in &body.grants {
            entries.push(self.consent(grant));
        }
        for read in &self.versions {
            entries.push(self.provenance(read));
        }
        let entry: Vec<Value> = entries
            .into_iter()
            .map(|resource| {
                let id = resource["id"].as_str().unwrap_or_default().to_owned();
                json!({"fullUrl": urn(&id), "resource": resource})
            })
            .collect();
        Ok(json!({
            "resourceType": "Bundle",
            "id": body.passport_id,
            "meta": {"lastUpdated": instant(body.exported_at)},
            "identifier": {"system": self.system("passports"), "value": body.passport_id},
            "type": "collection",
            "timestamp": instant(body.exported_at),
            "entry": entry,
        }))
    }

    /// An identifier system at the exporting server, e.g. `{server}/v1/parties`.
    fn system(&self, collection: &str) -> String {
        format!(
            "{}/v1/{collection}",
            self.bundle.body.server.trim_end_matches('/')
        )
    }

    fn records_system(&self) -> String {
        self.system(&format!(
            "passports/{}/records",
            self.bundle.body.passport_id
        ))
    }

    /// A reference to a party in this FHIR bundle, named in words.
    fn party_ref(&self, id: &str) -> Value {
        match self.parties.get(id) {
            Some(party) => json!({
                "reference": urn(id),
                "type": party_resource(party, &self.bundle.body.owner),
                "display": party.display_name,
            }),
            None => json!({
                "identifier": {"system": self.system("parties"), "value": id},
            }),
        }
    }

    fn owner_ref(&self) -> Value {
        self.party_ref(&self.bundle.body.owner)
    }

    fn party(&self, party: &Party) -> Value {
        let identifier = json!([{"system": self.system("parties"), "value": party.id}]);
        match party_resource(party, &self.bundle.body.owner) {
            "Patient" => json!({
                "resourceType": "Patient",
                "id": party.id,
                "identifier": identifier,
                "name": [{"text": party.display_name}],
            }),
            "Organization" => json!({
                "resourceType": "Organization",
                "id": party.id,
                "identifier": identifier,
                "type": [{"text": match party.kind {
                    PartyKind::Practice => "Occupational health or professional practice",
                    _ => "Employer",
                }}],
                "name": party.display_name,
            }),
            _ => {
                let mut practitioner = json!({
                    "resourceType": "Practitioner",
                    "id": party.id,
                    "identifier": identifier,
                    "name": [{"text": party.display_name}],
                });
                if let Some(registration) = &party.registration {
                    practitioner["qualification"] = json!([{
                        "identifier": [{"value": registration.registration_number}],
                        "code": {"text": registration.profession},
                        "issuer": {"display": registration.registration_body},
                    }]);
                }
                practitioner
            }
        }
    }

    fn record(&self, read: &Read) -> Result<Value, String> {
        let payload = &read.payload;
        let body = payload.body.clone().unwrap_or(Value::Null);
        let unreadable = |e: serde_json::Error| {
            format!(
                "record {} has a body that cannot be read: {e}",
                payload.record
            )
        };
        let resource = match payload.section {
            Section::Adjustments => {
                self.flag(read, &serde_json::from_value(body).map_err(unreadable)?)
            }
            Section::Conditions => {
                self.condition(read, &serde_json::from_value(body).map_err(unreadable)?)
            }
            Section::Impacts => {
                self.observation(read, &serde_json::from_value(body).map_err(unreadable)?)
            }
            Section::Plans => {
                self.care_plan(read, &serde_json::from_value(body).map_err(unreadable)?)
            }
            Section::FitNotes => {
                let fit_note: FitNotesBody =
                    serde_json::from_value(body.clone()).map_err(unreadable)?;
                self.fit_note(read, &fit_note, &body)
            }
            Section::Summary => {
                let summary: SummaryBody =
                    serde_json::from_value(body.clone()).map_err(unreadable)?;
                self.summary(read, &summary, &body)
            }
        };
        // resourceType, id, meta and identifier first, as FHIR writes them.
        let Value::Object(fields) = resource else {
            unreachable!("every record resource is an object")
        };
        let mut ordered = serde_json::Map::new();
        ordered.insert("resourceType".into(), fields["resourceType"].clone());
        ordered.insert("id".into(), json!(payload.record));
        ordered.insert(
            "meta".into(),
            json!({
                "versionId": payload.version.to_string(),
                "lastUpdated": instant(read.envelope.created_at),
            }),
        );
        ordered.insert(
            "identifier".into(),
            json!([{"system": self.records_system(), "value": payload.record}]),
        );
        ordered.extend(
            fields
                .into_iter()
                .filter(|(name, _)| name != "resourceType"),
        );
        Ok(Value::Object(ordered))
    }

    fn flag(&self, read: &Read, adjustment: &AdjustmentsBody) -> Value {
        let active = !matches!(
            adjustment.status,
            AdjustmentStatus::Declined | AdjustmentStatus::Ended
        );
        let mut category_codes = vec![json!({
            "system": code_system("adjustment-category"),
            "code": wire(&adjustment.category),
            "display": adjustment_category_words(adjustment.category),
        })];
        if let Some((code, display)) = nhs_adjustment_category(adjustment.category) {
            category_codes.push(json!({
                "system": NHS_ADJUSTMENT_CATEGORY, "code": code, "display": display,
            }));
        }
        let mut notes = format!("Addresses: {}", adjustment.addresses);
        if let Some(more) = &adjustment.notes {
            notes.push_str("\n\n");
            notes.push_str(more);
        }
        let mut extension = vec![
            json!({"url": NHS_ADJUSTMENT_NOTES, "valueAnnotation": {"text": notes}}),
            json!({"url": extension_url("adjustment-status"), "valueCode": wire(&adjustment.status)}),
        ];
        if let Some(date) = adjustment.review_date {
            extension
                .push(json!({"url": extension_url("review-date"), "valueDate": date.to_string()}));
        }
        if let Some(funding) = adjustment.funding {
            extension.push(json!({"url": extension_url("funding"), "valueCode": wire(&funding)}));
        }
        if let Some(agreed_by) = &adjustment.agreed_by {
            extension.push(json!({"url": extension_url("agreed-by"), "valueString": agreed_by}));
        }
        if let Some(reason) = &adjustment.declined_reason {
            extension.push(json!({"url": extension_url("declined-reason"), "valueString": reason}));
        }
        let mut flag = json!({
            "resourceType": "Flag",
            "extension": extension,
            "status": if active { "active" } else { "inactive" },
            "category": [
                {"coding": [{
                    "system": NHS_FLAG_CATEGORY,
                    "code": "NRAF",
                    "display": "National Reasonable Adjustments Flag",
                }]},
                {
                    "coding": category_codes,
                    "text": adjustment_category_words(adjustment.category),
                },
            ],
            "code": {"text": adjustment.title},
            "subject": self.owner_ref(),
            "author": self.party_ref(&read.payload.author),
        });
        if let Some(start) = adjustment.start_date {
            flag["period"] = json!({"start": start.to_string()});
        }
        flag
    }

    fn condition(&self, read: &Read, condition: &ConditionsBody) -> Value {
        let mut category = vec![json!({"coding": [{
            "system": CONDITION_CATEGORY,
            "code": "problem-list-item",
            "display": "Problem List Item",
        }]})];
        category.extend(condition.categories.iter().map(|c| {
            json!({
                "coding": [{
                    "system": code_system("impairment-category"),
                    "code": wire(c),
                    "display": impairment_words(*c),
                }],
                "text": impairment_words(*c),
            })
        }));
        let words: Vec<&str> = condition
            .categories
            .iter()
            .map(|c| impairment_words(*c))
            .collect();
        let mut resource = json!({
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": CONDITION_CLINICAL, "code": "active"}]},
            "category": category,
            "code": {"text": condition.description.clone().unwrap_or_else(|| words.join(", "))},
            "subject": self.owner_ref(),
            "recordedDate": instant(read.envelope.created_at),
            "recorder": self.party_ref(&read.payload.author),
        });
        if let Some(diagnosed) = condition.diagnosed {
            let code = if diagnosed {
                "confirmed"
            } else {
                "unconfirmed"
            };
            resource["verificationStatus"] =
                json!({"coding": [{"system": CONDITION_VERIFICATION, "code": code}]});
        }
        resource
    }

    fn observation(&self, read: &Read, impact: &ImpactsBody) -> Value {
        let text =
            |label: &str, value: &str| json!({"code": {"text": label}, "valueString": value});
        let mut component = vec![
            text("On a good day", &impact.good_day),
            text("On a bad day", &impact.bad_day),
        ];
        component.extend(impact.triggers.iter().map(|t| text("Makes it worse", t)));
        if let Some(fluctuates) = impact.fluctuates {
            component.push(json!({
                "code": {"text": "Fluctuates from day to day"},
                "valueBoolean": fluctuates,
            }));
        }
        json!({
            "resourceType": "Observation",
            "status": "final",
            "code": {
                "coding": [{"system": code_system("section"), "code": "impacts"}],
                "text": format!("Effect on work: {}", impact.area),
            },
            "subject": self.owner_ref(),
            "issued": instant(read.envelope.created_at),
            "performer": [self.party_ref(&read.payload.author)],
            "valueString": impact.description,
            "component": component,
        })
    }

    fn care_plan(&self, read: &Read, plan: &PlansBody) -> Value {
        let kind = match plan.kind {
            PlanKind::ReturnToWork => "Return-to-work plan",
            PlanKind::WellnessAction => "Wellness action plan",
        };
        let mut note = Vec::new();
        if let Some(text) = &plan.keep_in_touch {
            note.push(json!({"text": format!("Keeping in touch: {text}")}));
        }
        if let Some(text) = &plan.if_unwell {
            note.push(json!({"text": format!("If unwell at work: {text}")}));
        }
        let mut resource = json!({
            "resourceType": "CarePlan",
            "status": "active",
            "intent": "plan",
            "category": [{
                "coding": [{"system": code_system("plan-kind"), "code": wire(&plan.kind)}],
                "text": kind,
            }],
            "title": plan.title,
            "subject": self.owner_ref(),
            "created": instant(read.envelope.created_at),
            "author": self.party_ref(&read.payload.author),
            "activity": plan.steps.iter().map(|step| json!({
                "detail": {"status": "unknown", "description": step},
            })).collect::<Vec<_>>(),
        });
        if !note.is_empty() {
            resource["note"] = json!(note);
        }
        if let Some(date) = plan.review_date {
            resource["extension"] =
                json!([{"url": extension_url("review-date"), "valueDate": date.to_string()}]);
        }
        resource
    }

    fn fit_note(&self, read: &Read, fit_note: &FitNotesBody, body: &Value) -> Value {
        let fitness = match fit_note.fitness {
            Fitness::NotFit => "Not fit for work".to_owned(),
            Fitness::MayBeFit if fit_note.advice.is_empty() => "May be fit for work".to_owned(),
            Fitness::MayBeFit => {
                let advice: Vec<&str> = fit_note.advice.iter().map(|a| advice_words(*a)).collect();
                format!("May be fit for work, with {}", advice.join(", "))
            }
        };
        json!({
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {
                "coding": [{"system": code_system("section"), "code": "fit_notes"}],
                "text": "Statement of fitness for work (fit note)",
            },
            "subject": self.owner_ref(),
            "date": instant(read.envelope.created_at),
            "author": [{"display": format!(
                "{} ({})", fit_note.issuer_name, fit_note.issuer_profession
            )}],
            "authenticator": self.party_ref(&read.payload.author),
            "description": format!(
                "{fitness}: {} (assessed {})", fit_note.condition, fit_note.assessed_on
            ),
            "content": [{"attachment": json_attachment(body, "Fit note, as signed")}],
            "context": {"period": {
                "start": fit_note.period_from.to_string(),
                "end": fit_note.period_to.to_string(),
            }},
        })
    }

    fn summary(&self, read: &Read, summary: &SummaryBody, body: &Value) -> Value {
        json!({
            "resourceType": "DocumentReference",
            "status": "current",
            "type": {
                "coding": [{"system": code_system("section"), "code": "summary"}],
                "text": "About me and what helps (work passport summary)",
            },
            "subject": self.owner_ref(),
            "date": instant(read.envelope.created_at),
            "author": [self.party_ref(&read.payload.author)],
            "description": summary.about_me,
            "content": [{"attachment": json_attachment(body, "Summary, as signed")}],
        })
    }

    fn consent(&self, grant: &Grant) -> Value {
        let status = match grant.status {
            GrantStatus::Pending => "proposed",
            GrantStatus::Active => "active",
            GrantStatus::Expired | GrantStatus::Revoked => "inactive",
        };
        let mut recipient = self.party_ref(&grant.grantee);
        if !grant.roles.is_empty() {
            let roles: Vec<&str> = grant.roles.iter().map(|r| r.title()).collect();
            let name = recipient["display"].as_str().unwrap_or("the organisation");
            recipient["display"] = json!(format!("{name}: {}", roles.join(", ")));
        }
        let mut actor = vec![json!({
            "role": {"coding": [{
                "system": PARTICIPATION_TYPE, "code": "IRCP", "display": "information recipient",
            }]},
            "reference": recipient,
        })];
        actor.extend(grant.members.iter().map(|member| {
            json!({
                "role": {"coding": [{"system": PARTICIPATION_TYPE, "code": "IRCP"}]},
                "reference": self.party_ref(member),
            })
        }));
        let end = match grant.revoked_at {
            Some(revoked) if revoked < grant.ends_at => revoked,
            _ => grant.ends_at,
        };
        let sections: Vec<Value> = grant
            .scopes
            .iter()
            .map(|scope| {
                json!({
                    "type": "permit",
                    "code": [{
                        "coding": [{"system": code_system("section"), "code": scope.section.as_str()}],
                        "text": section_words(scope.section),
                    }],
                    "action": scope.actions.iter().map(|a| consent_action(*a)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let mut extension = vec![
            json!({"url": extension_url("grant-status"), "valueCode": wire(&grant.status)}),
            json!({"url": extension_url("purpose"), "valueString": grant.purpose}),
        ];
        if let Some(revoked) = grant.revoked_at {
            extension.push(
                json!({"url": extension_url("revoked-at"), "valueDateTime": instant(revoked)}),
            );
        }
        json!({
            "resourceType": "Consent",
            "id": grant.id,
            "extension": extension,
            "identifier": [{"system": self.system("grants"), "value": grant.id}],
            "status": status,
            "scope": {"coding": [{
                "system": CONSENT_SCOPE, "code": "patient-privacy", "display": "Privacy Consent",
            }]},
            "category": [{"coding": [{
                "system": LOINC, "code": "59284-0", "display": "Patient Consent",
            }]}],
            "patient": self.owner_ref(),
            "dateTime": instant(grant.created_at),
            "performer": [self.party_ref(&grant.grantor)],
            "sourceAttachment": {
                "contentType": "text/plain; charset=utf-8",
                "data": STANDARD.encode(grant.consent_text.as_bytes()),
                "title": "What the employee agreed to",
            },
            "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN", "display": "opt-in"}]},
            "provision": {
                "type": "permit",
                "period": {"start": instant(grant.starts_at), "end": instant(end)},
                "actor": actor,
                "provision": sections,
            },
        })
    }

    fn provenance(&self, read: &Read) -> Value {
        let payload = &read.payload;
        let envelope = read.envelope;
        let (activity, display) = if payload.deleted {
            ("DELETE", "delete")
        } else if payload.version == 1 {
            ("CREATE", "create")
        } else {
            ("UPDATE", "revise")
        };
        let mut target = json!({
            "type": section_resource(payload.section),
            "identifier": {"system": self.records_system(), "value": payload.record},
            "display": format!(
                "{}, version {}", section_words(payload.section), payload.version
            ),
        });
        let live = self.heads.get(payload.record.as_str()).is_some_and(|&i| {
            let head = &self.versions[i].payload;
            head.version == payload.version && !head.deleted
        });
        if live {
            target["reference"] = json!(urn(&payload.record));
        }
        let author = self.party_ref(&payload.author);
        let mut agent = json!({
            "type": {"coding": [{
                "system": PARTICIPANT_TYPE, "code": "author", "display": "Author",
            }]},
            "who": author,
        });
        if let Some(membership) = self
            .parties
            .get(payload.author.as_str())
            .and_then(|p| p.membership.as_ref())
        {
            agent["role"] = json!([{
                "coding": [{"system": code_system("role"), "code": membership.role.as_str()}],
                "text": membership.role.title(),
            }]);
            agent["onBehalfOf"] = self.party_ref(&membership.organisation);
        }
        let signed_at = DateTime::from_timestamp(payload.iat, 0).unwrap_or(envelope.created_at);
        json!({
            "resourceType": "Provenance",
            "id": provenance_id(&envelope.hash),
            "target": [target],
            "occurredDateTime": instant(signed_at),
            "recorded": instant(envelope.created_at),
            "activity": {"coding": [{
                "system": DATA_OPERATION, "code": activity, "display": display,
            }]},
            "agent": [agent],
            "signature": [{
                "type": [{
                    "system": SIGNATURE_TYPE,
                    "code": "1.2.840.10065.1.12.1.1",
                    "display": "Author's Signature",
                }],
                "when": instant(signed_at),
                "who": author,
                "sigFormat": "application/jose",
                "data": STANDARD.encode(envelope.jws.as_bytes()),
            }],
        })
    }
}

/// The resource a party becomes: the owner is the patient, organisations are organisations,
/// every other person a practitioner.
fn party_resource(party: &Party, owner: &str) -> &'static str {
    match party.kind {
        _ if party.id == owner => "Patient",
        PartyKind::Employer | PartyKind::Practice => "Organization",
        _ => "Practitioner",
    }
}

fn section_resource(section: Section) -> &'static str {
    match section {
        Section::Adjustments => "Flag",
        Section::Conditions => "Condition",
        Section::Impacts => "Observation",
        Section::Plans => "CarePlan",
        Section::FitNotes | Section::Summary => "DocumentReference",
    }
}

fn section_words(section: Section) -> &'static str {
    match section {
        Section::Summary => "Summary",
        Section::Impacts => "Effects on work",
        Section::Conditions => "Conditions",
        Section::Adjustments => "Adjustments",
        Section::FitNotes => "Fit notes",
        Section::Plans => "Plans",
    }
}

/// NHS England's adjustment category, where one fits a workplace adjustment's kind. Its
/// categories are about access to care; the others have no counterpart there, and keep only
/// Work Passport's own code.
fn nhs_adjustment_category(category: AdjustmentCategory) -> Option<(&'static str, &'static str)> {
    match category {
        AdjustmentCategory::Communication => Some(("001", "Communication support")),
        AdjustmentCategory::SupportFromPeople => Some((
            "007",
            "Adjustments for providing Additional Support to patients",
        )),
        AdjustmentCategory::WorkplaceEnvironment => {
            Some(("009", "Adjustments in relation to the environment of care"))
        }
        _ => None,
    }
}

fn adjustment_category_words(category: AdjustmentCategory) -> &'static str {
    match category {
        AdjustmentCategory::WorkingPatternHours => "Working pattern or hours",
        AdjustmentCategory::WorkplaceEnvironment => "Workplace environment",
        AdjustmentCategory::EquipmentAssistiveTechnology => "Equipment or assistive technology",
        AdjustmentCategory::Duties => "Duties",
        AdjustmentCategory::Communication => "Communication",
        AdjustmentCategory::Travel => "Travel",
        AdjustmentCategory::SupportFromPeople => "Support from people",
        AdjustmentCategory::AbsenceAppointments => "Absence or appointments",
        AdjustmentCategory::PhasedReturn => "Phased return",
    }
}

fn impairment_words(category: ImpairmentCategory) -> &'static str {
    match category {
        ImpairmentCategory::Vision => "Vision",
        ImpairmentCategory::Hearing => "Hearing",
        ImpairmentCategory::Mobility => "Mobility",
        ImpairmentCategory::Dexterity => "Dexterity",
        ImpairmentCategory::LearningConcentrating => "Learning, understanding or concentrating",
        ImpairmentCategory::Memory => "Memory",
        ImpairmentCategory::MentalHealth => "Mental health",
        ImpairmentCategory::StaminaBreathingFatigue => "Stamina, breathing or fatigue",
        ImpairmentCategory::SocialBehavioural => "Socially or behaviourally",
        ImpairmentCategory::PreferNotToSay => "Prefers not to say",
    }
}

fn advice_words(advice: FitNoteAdvice) -> &'static str {
    match advice {
        FitNoteAdvice::PhasedReturn => "a phased return to work",
        FitNoteAdvice::AlteredHours => "altered hours",
        FitNoteAdvice::AmendedDuties => "amended duties",
        FitNoteAdvice::WorkplaceAdaptations => "workplace adaptations",
    }
}

/// A grant's action as a FHIR consent action, with Work Passport's own code beside it: read
/// is `access`, write `correct`; agreeing an adjustment has no FHIR counterpart.
fn consent_action(action: Action) -> Value {
    let mut coding = Vec::new();
    match action {
        Action::Read => coding.push(json!({"system": CONSENT_ACTION, "code": "access"})),
        Action::Write => coding.push(json!({"system": CONSENT_ACTION, "code": "correct"})),
        Action::Agree => {}
    }
    coding.push(json!({"system": code_system("action"), "code": wire(&action)}));
    let text = match action {
        Action::Read => "Read",
        Action::Write => "Add and change records",
        Action::Agree => "Agree adjustments",
    };
    json!({"coding": coding, "text": text})
}

fn json_attachment(body: &Value, title: &str) -> Value {
    json!({
        "contentType": "application/json",
        "data": STANDARD.encode(body.to_string().as_bytes()),
        "title": title,
    })
}

/// A value's wire name (its serde representation).
fn wire<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(name)) => name,
        other => format!("{other:?}"),
    }
}

fn code_system(name: &str) -> String {
    format!("{CODES}{name}")
}

fn extension_url(name: &str) -> String {
    format!("{EXTENSIONS}{name}")
}

fn urn(id: &str) -> String {
    format!("urn:uuid:{id}")
}

/// A FHIR `instant`: seconds and `Z`.
fn instant(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A version's Provenance id, the same on every export: a UUID made from its hash.
fn provenance_id(hash: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, hash.as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest.as_ref()[..16]);
    // RFC 9562 version 8 (custom), variant 10.
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    uuid::Uuid::from_bytes(bytes).to_string()
}
