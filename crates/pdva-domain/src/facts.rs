//! The outcome facts of a patient: the few fields of each record that the
//! outcomes derivation (DOMAIN.md section 7) reads, and nothing else.
//!
//! Why a projection: a report over a million patients reads some fifteen
//! million records; building each whole [`ClinicalRecord`] (free text,
//! dozens of fields) costs far more than the derivation itself. A store can
//! read [`PatientFacts`] straight from its stored records with
//! [`deserialize_record_facts`], and any [`PatientFile`] converts to the same
//! facts with [`PatientFacts::from`], so both routes feed one derivation.
//! Every derived value (technical success, WIfI stage, wound at baseline,
//! VascuQoL-6 total, EQ-5D-5L index) is computed by the same functions the
//! records use.

use chrono::NaiveDate;
use serde::{Deserialize, Deserializer};

use crate::codes::{
    AdverseEventKind, AmputationLevel, AntithromboticDrug, CrossoverLevel, Diabetes, Limb,
    LimbStatus, ReinterventionKind, ResearchConsent, StopReason, VenousArchFlow, WoundStatus,
};
use crate::derived;
use crate::records::{ClinicalRecord, RecordId, RecordKind};
use crate::validation::PatientFile;
use crate::values::{Eq5dLevel, EqVas, RequiredText, SiteCode, VascuQolItem, WifiGrade};

/// What the baseline assessment says about the limb, for stratification and
/// the wound-healing endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselineFacts {
    /// Dependent on dialysis.
    pub dialysis_dependent: bool,
    /// Diabetes.
    pub diabetes: Diabetes,
    /// WIfI clinical stage 1–4.
    pub wifi_clinical_stage: u8,
    /// A wound at baseline.
    pub has_wound: bool,
}

/// The facts of one record that the derivation reads, by kind.
#[derive(Debug, Clone, PartialEq)]
pub enum FactDetail {
    /// A consent: its dates (the record's date and the research-consent
    /// withdrawal as its secondary date) and the research consent given,
    /// which decide the research population ([`crate::disclosure`]).
    Consent {
        /// Consent to research use of the registry data.
        research_consent: ResearchConsent,
    },
    /// The baseline assessment.
    Baseline(BaselineFacts),
    /// An index procedure.
    Procedure {
        /// The index limb.
        index_limb: Limb,
        /// Primary operator.
        primary_operator: RecordId,
        /// Device system used.
        device_system: RequiredText,
        /// Crossover level.
        crossover_level: CrossoverLevel,
        /// Technical success (DOMAIN.md 4.6).
        technical_success: bool,
    },
    /// An antithrombotic drug course (started on the record's date).
    AntithromboticTherapy {
        /// The drug.
        drug: AntithromboticDrug,
        /// Stop date.
        stop_date: Option<NaiveDate>,
        /// Why it was stopped.
        stop_reason: Option<StopReason>,
    },
    /// A follow-up visit.
    FollowUpVisit {
        /// Limb status.
        limb_status: LimbStatus,
        /// Wound status.
        wound_status: Option<WoundStatus>,
    },
    /// An amputation.
    Amputation {
        /// Through or above the ankle.
        major: bool,
    },
    /// A reintervention.
    Reintervention {
        /// Planned (staged) rather than clinically driven.
        planned: bool,
        /// Bypass, thrombectomy or thrombolysis, open surgical revision.
        major: bool,
    },
    /// The patient's death (on the record's date).
    Death,
    /// An adverse event (with onset on the record's date).
    AdverseEvent {
        /// Kind.
        kind: AdverseEventKind,
    },
    /// A quality-of-life assessment.
    QualityOfLife {
        /// VascuQoL-6 total, when all six items were answered.
        vascuqol6_total: Option<u8>,
        /// EQ-5D-5L index (England value set), when all five dimensions were answered.
        eq5d_index: Option<f64>,
        /// EQ VAS.
        eq_vas: Option<EqVas>,
    },
}

/// The facts of one clinical record.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordFacts {
    /// The record's id.
    pub id: RecordId,
    /// The date that places the record in the patient's history
    /// ([`ClinicalRecord::date`]).
    pub date: NaiveDate,
    /// The record's other date, if it has one: consent withdrawn, MDT
    /// decision, discharge, drug stopped, adverse event resolved.
    pub secondary_date: Option<NaiveDate>,
    /// The index procedure the record belongs to, for per-limb records.
    /// A pre-operative baseline or quality of life waiting for its limb's
    /// procedure has none: it belongs to no limb of the outcomes, and
    /// counts only as a date that attests the patient alive (DOMAIN.md 7).
    pub procedure_id: Option<RecordId>,
    /// The kind's own facts.
    pub detail: FactDetail,
}

/// The outcome facts of one patient: what the outcomes derivation reads of
/// a [`PatientFile`].
#[derive(Debug, Clone, PartialEq)]
pub struct PatientFacts {
    /// The patient's record id.
    pub patient_id: RecordId,
    /// Home site.
    pub home_site: SiteCode,
    /// Date follow-up ended, if it has.
    pub follow_up_ended_on: Option<NaiveDate>,
    /// The facts of every clinical record, grouped by kind (in the order
    /// of [`FactDetail::group`]), each kind's in the order of the file.
    ///
    /// Why grouped: the outcomes derivation reads a limb's records with one
    /// `match` on their kind, and records in a store's order (by id, at
    /// random) send each to a different arm, which the processor cannot
    /// foresee (a third more derivation time at a million patients). Its
    /// result does not depend on the order of records of different kinds.
    pub records: Vec<RecordFacts>,
}

impl From<&PatientFile> for PatientFacts {
    fn from(file: &PatientFile) -> Self {
        let mut records: Vec<RecordFacts> = file
            .records
            .iter()
            .map(|(id, r)| RecordFacts::of(*id, r))
            .collect();
        // Stable: each kind's records stay in the file's order.
        records.sort_by_key(|r| r.detail.group());
        Self {
            patient_id: file.patient_id,
            home_site: file.patient.home_site.clone(),
            follow_up_ended_on: file.patient.follow_up_ended_on,
            records,
        }
    }
}

impl FactDetail {
    /// The place of the record's kind in the order [`PatientFacts::records`]
    /// keeps the kinds.
    pub fn group(&self) -> u8 {
        match self {
            Self::Consent { .. } => 0,
            Self::Baseline(_) => 1,
            Self::Procedure { .. } => 2,
            Self::AntithromboticTherapy { .. } => 3,
            Self::FollowUpVisit { .. } => 4,
            Self::Amputation { .. } => 5,
            Self::Reintervention { .. } => 6,
            Self::Death => 7,
            Self::AdverseEvent { .. } => 8,
            Self::QualityOfLife { .. } => 9,
        }
    }
}

impl RecordFacts {
    /// The facts of a whole record.
    pub fn of(id: RecordId, record: &ClinicalRecord) -> Self {
        let (secondary_date, detail) = match record {
            ClinicalRecord::Consent(c) => (
                c.research_consent_withdrawn_on,
                FactDetail::Consent {
                    research_consent: c.research_consent,
                },
            ),
            ClinicalRecord::Baseline(b) => (
                b.mdt_decision_date,
                FactDetail::Baseline(BaselineFacts {
                    dialysis_dependent: b.dialysis_dependent,
                    diabetes: b.diabetes,
                    wifi_clinical_stage: b.wifi_clinical_stage(),
                    has_wound: b.has_wound(),
                }),
            ),
            ClinicalRecord::Procedure(p) => (
                p.discharge_date,
                FactDetail::Procedure {
                    index_limb: p.index_limb,
                    primary_operator: p.primary_operator,
                    device_system: p.device_system.clone(),
                    crossover_level: p.crossover_level,
                    technical_success: p.technical_success(),
                },
            ),
            ClinicalRecord::AntithromboticTherapy(a) => (
                a.stop_date,
                FactDetail::AntithromboticTherapy {
                    drug: a.drug,
                    stop_date: a.stop_date,
                    stop_reason: a.stop_reason,
                },
            ),
            ClinicalRecord::FollowUpVisit(v) => (
                None,
                FactDetail::FollowUpVisit {
                    limb_status: v.limb_status,
                    wound_status: v.wound_status,
                },
            ),
            ClinicalRecord::Amputation(a) => (
                None,
                FactDetail::Amputation {
                    major: a.is_major(),
                },
            ),
            ClinicalRecord::Reintervention(x) => (
                None,
                FactDetail::Reintervention {
                    planned: x.planned,
                    major: x.is_major(),
                },
            ),
            ClinicalRecord::Death(_) => (None, FactDetail::Death),
            ClinicalRecord::AdverseEvent(e) => {
                (e.resolved_on, FactDetail::AdverseEvent { kind: e.kind })
            }
            ClinicalRecord::QualityOfLife(q) => (
                None,
                FactDetail::QualityOfLife {
                    vascuqol6_total: q.vascuqol6_total(),
                    eq5d_index: q.eq5d_index(),
                    eq_vas: q.eq_vas,
                },
            ),
        };
        Self {
            id,
            date: record.date(),
            secondary_date,
            procedure_id: record.procedure_id(),
            detail,
        }
    }
}

// Views of the stored records with only the fields the facts need: the
// field names and types are the records' own (records.rs), so a stored
// record reads the same through either; every other field is skipped
// unparsed.

#[derive(Deserialize)]
struct ConsentView {
    consent_date: NaiveDate,
    research_consent: ResearchConsent,
    research_consent_withdrawn_on: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct BaselineView {
    procedure_id: Option<RecordId>,
    assessment_date: NaiveDate,
    wifi_wound: WifiGrade,
    wifi_ischaemia: WifiGrade,
    wifi_foot_infection: WifiGrade,
    wound_count: Option<u32>,
    diabetes: Diabetes,
    dialysis_dependent: bool,
    mdt_decision_date: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct ProcedureView {
    procedure_date: NaiveDate,
    index_limb: Limb,
    primary_operator: RecordId,
    device_system: RequiredText,
    crossover_level: CrossoverLevel,
    fistula_created: bool,
    venous_arch_flow: Option<VenousArchFlow>,
    discharge_date: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct AntithromboticView {
    procedure_id: RecordId,
    drug: AntithromboticDrug,
    start_date: NaiveDate,
    stop_date: Option<NaiveDate>,
    stop_reason: Option<StopReason>,
}

#[derive(Deserialize)]
struct VisitView {
    procedure_id: RecordId,
    visit_date: NaiveDate,
    limb_status: LimbStatus,
    wound_status: Option<WoundStatus>,
}

#[derive(Deserialize)]
struct AmputationView {
    procedure_id: RecordId,
    date: NaiveDate,
    level: AmputationLevel,
}

#[derive(Deserialize)]
struct ReinterventionView {
    procedure_id: RecordId,
    date: NaiveDate,
    planned: bool,
    kind: ReinterventionKind,
}

#[derive(Deserialize)]
struct DeathView {
    date: NaiveDate,
}

#[derive(Deserialize)]
struct AdverseEventView {
    procedure_id: RecordId,
    onset_date: NaiveDate,
    kind: AdverseEventKind,
    resolved_on: Option<NaiveDate>,
}

#[derive(Deserialize)]
struct QualityOfLifeView {
    procedure_id: Option<RecordId>,
    assessment_date: NaiveDate,
    vascuqol: [Option<VascuQolItem>; 6],
    eq5d_mobility: Option<Eq5dLevel>,
    eq5d_self_care: Option<Eq5dLevel>,
    eq5d_usual_activities: Option<Eq5dLevel>,
    eq5d_pain_discomfort: Option<Eq5dLevel>,
    eq5d_anxiety_depression: Option<Eq5dLevel>,
    eq_vas: Option<EqVas>,
}

/// The patient fields the facts need.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct PatientView {
    /// Home site.
    pub home_site: SiteCode,
    /// Date follow-up ended, if it has.
    pub follow_up_ended_on: Option<NaiveDate>,
}

/// Reads the facts of a stored clinical record of `kind` (its body, in the
/// records' own serde format) without building the whole record. `None` for
/// a kind that is not a clinical record.
pub fn deserialize_record_facts<'de, D: Deserializer<'de>>(
    kind: RecordKind,
    id: RecordId,
    body: D,
) -> Result<Option<RecordFacts>, D::Error> {
    let facts = |date, secondary_date, procedure_id, detail| {
        Some(RecordFacts {
            id,
            date,
            secondary_date,
            procedure_id,
            detail,
        })
    };
    Ok(match kind {
        RecordKind::Consent => {
            let v = ConsentView::deserialize(body)?;
            facts(
                v.consent_date,
                v.research_consent_withdrawn_on,
                None,
                FactDetail::Consent {
                    research_consent: v.research_consent,
                },
            )
        }
        RecordKind::Baseline => {
            let v = BaselineView::deserialize(body)?;
            facts(
                v.assessment_date,
                v.mdt_decision_date,
                v.procedure_id,
                FactDetail::Baseline(BaselineFacts {
                    dialysis_dependent: v.dialysis_dependent,
                    diabetes: v.diabetes,
                    wifi_clinical_stage: derived::wifi_clinical_stage(
                        v.wifi_wound,
                        v.wifi_ischaemia,
                        v.wifi_foot_infection,
                    ),
                    has_wound: derived::has_wound(v.wound_count, v.wifi_wound),
                }),
            )
        }
        RecordKind::Procedure => {
            let v = ProcedureView::deserialize(body)?;
            facts(
                v.procedure_date,
                v.discharge_date,
                None,
                FactDetail::Procedure {
                    index_limb: v.index_limb,
                    primary_operator: v.primary_operator,
                    device_system: v.device_system,
                    crossover_level: v.crossover_level,
                    technical_success: derived::technical_success(
                        v.fistula_created,
                        v.venous_arch_flow,
                    ),
                },
            )
        }
        RecordKind::AntithromboticTherapy => {
            let v = AntithromboticView::deserialize(body)?;
            facts(
                v.start_date,
                v.stop_date,
                Some(v.procedure_id),
                FactDetail::AntithromboticTherapy {
                    drug: v.drug,
                    stop_date: v.stop_date,
                    stop_reason: v.stop_reason,
                },
            )
        }
        RecordKind::FollowUpVisit => {
            let v = VisitView::deserialize(body)?;
            facts(
                v.visit_date,
                None,
                Some(v.procedure_id),
                FactDetail::FollowUpVisit {
                    limb_status: v.limb_status,
                    wound_status: v.wound_status,
                },
            )
        }
        RecordKind::Amputation => {
            let v = AmputationView::deserialize(body)?;
            facts(
                v.date,
                None,
                Some(v.procedure_id),
                FactDetail::Amputation {
                    major: v.level.is_major(),
                },
            )
        }
        RecordKind::Reintervention => {
            let v = ReinterventionView::deserialize(body)?;
            facts(
                v.date,
                None,
                Some(v.procedure_id),
                FactDetail::Reintervention {
                    planned: v.planned,
                    major: v.kind.is_major(),
                },
            )
        }
        RecordKind::Death => {
            let v = DeathView::deserialize(body)?;
            facts(v.date, None, None, FactDetail::Death)
        }
        RecordKind::AdverseEvent => {
            let v = AdverseEventView::deserialize(body)?;
            facts(
                v.onset_date,
                v.resolved_on,
                Some(v.procedure_id),
                FactDetail::AdverseEvent { kind: v.kind },
            )
        }
        RecordKind::QualityOfLife => {
            let v = QualityOfLifeView::deserialize(body)?;
            let profile = (|| {
                Some([
                    v.eq5d_mobility?,
                    v.eq5d_self_care?,
                    v.eq5d_usual_activities?,
                    v.eq5d_pain_discomfort?,
                    v.eq5d_anxiety_depression?,
                ])
            })();
            facts(
                v.assessment_date,
                None,
                v.procedure_id,
                FactDetail::QualityOfLife {
                    vascuqol6_total: derived::vascuqol6_total(&v.vascuqol),
                    eq5d_index: profile.map(derived::eq5d5l_index_england),
                    eq_vas: v.eq_vas,
                },
            )
        }
        RecordKind::Site
        | RecordKind::GovernanceMeeting
        | RecordKind::Clinician
        | RecordKind::Patient => None,
    })
}
