//! The `outcome_facts` table: each non-voided patient's [`PatientFacts`],
//! kept in the same transaction as every change to their records.
//!
//! Why: a report over the whole registry needs only the few fields of each
//! record that the outcomes derivation reads, but the records are stored as
//! whole JSON bodies. Reading and parsing every body of a million-patient
//! registry (some fifteen million records, most of the database file) takes
//! far longer than computing the report. Here each patient's facts are one
//! small binary row, so the report reads a few hundred megabytes instead of
//! many gigabytes.
//!
//! Trust: the table is derived, never edited on its own. Every write
//! refreshes the rows of the patients it touched (`ChainWriter::flush`);
//! a table built by another format than [`FORMAT`] is rebuilt from the
//! records when the store opens; and `audit verify` compares every row with
//! the facts read from the records (`Store::verify_outcome_facts`).

use std::collections::{BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate};
use futures_util::TryStreamExt;
use pdva_domain::codes::{
    AdverseEventKind, AntithromboticDrug, CrossoverLevel, Diabetes, Limb, LimbStatus,
    ResearchConsent, StopReason, WoundStatus,
};
use pdva_domain::facts::{BaselineFacts, FactDetail};
use pdva_domain::values::{EqVas, RequiredText, SiteCode};
use pdva_domain::{PatientFacts, RecordFacts, RecordId};
use sqlx::{Any, Row, Transaction};

use crate::Store;
use crate::chain::{BATCH_ROWS, Placeholders, insert_sql};
use crate::error::{Result, StoreError};
use crate::read::{file_from_rows, patient_rows};

/// Version of the binary form below. Change it whenever the form, or what
/// [`PatientFacts`] holds, changes: every store rebuilds the table from the
/// records when it next opens.
///
/// 2: a patient's records grouped by kind ([`PatientFacts::records`]).
/// 3: a consent's research consent code, which decides the research
/// population (`pdva_domain::disclosure`).
pub(crate) const FORMAT: i64 = 3;

/// The name of this table in `projection_state`.
const NAME: &str = "outcome_facts";

/// `None` in an optional date.
const NO_DATE: i32 = i32::MIN;

/// One kind tag per [`FactDetail`] variant.
mod tag {
    pub const CONSENT: u8 = 0;
    pub const BASELINE: u8 = 1;
    pub const PROCEDURE: u8 = 2;
    pub const ANTITHROMBOTIC: u8 = 3;
    pub const VISIT: u8 = 4;
    pub const AMPUTATION: u8 = 5;
    pub const REINTERVENTION: u8 = 6;
    pub const DEATH: u8 = 7;
    pub const ADVERSE_EVENT: u8 = 8;
    pub const QUALITY_OF_LIFE: u8 = 9;
}

/// Writes the binary form: little-endian numbers, dates as days from the
/// common era, ids as their 16 bytes, codes as their stored spelling (so
/// that reordering an enum's variants cannot change what a row means).
struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn bool(&mut self, v: bool) {
        self.0.push(u8::from(v));
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn date(&mut self, d: NaiveDate) {
        self.0
            .extend_from_slice(&d.num_days_from_ce().to_le_bytes());
    }
    fn opt_date(&mut self, d: Option<NaiveDate>) {
        let days = d.map_or(NO_DATE, |d| d.num_days_from_ce());
        self.0.extend_from_slice(&days.to_le_bytes());
    }
    fn id(&mut self, id: RecordId) {
        self.0.extend_from_slice(id.0.as_bytes());
    }
    fn opt_id(&mut self, id: Option<RecordId>) {
        match id {
            None => self.u8(0),
            Some(id) => {
                self.u8(1);
                self.id(id);
            }
        }
    }
    /// Text (codes, site codes, device names): a two-byte length, then
    /// UTF-8. Record fields are far shorter than 64 KiB.
    fn text(&mut self, s: &str) {
        let len = u16::try_from(s.len()).expect("texts in the facts are short");
        self.0.extend_from_slice(&len.to_le_bytes());
        self.0.extend_from_slice(s.as_bytes());
    }
    fn opt_code(&mut self, code: Option<&str>) {
        match code {
            None => self.u8(0),
            Some(c) => {
                self.u8(1);
                self.text(c);
            }
        }
    }
}

/// The binary form of a patient's facts.
pub(crate) fn encode(facts: &PatientFacts) -> Vec<u8> {
    let mut w = Writer(Vec::with_capacity(64 + 48 * facts.records.len()));
    w.u8(FORMAT as u8);
    w.id(facts.patient_id);
    w.text(facts.home_site.as_str());
    w.opt_date(facts.follow_up_ended_on);
    w.u32(u32::try_from(facts.records.len()).expect("fewer than 4 billion records"));
    for r in &facts.records {
        let t = match &r.detail {
            FactDetail::Consent { .. } => tag::CONSENT,
            FactDetail::Baseline(_) => tag::BASELINE,
            FactDetail::Procedure { .. } => tag::PROCEDURE,
            FactDetail::AntithromboticTherapy { .. } => tag::ANTITHROMBOTIC,
            FactDetail::FollowUpVisit { .. } => tag::VISIT,
            FactDetail::Amputation { .. } => tag::AMPUTATION,
            FactDetail::Reintervention { .. } => tag::REINTERVENTION,
            FactDetail::Death => tag::DEATH,
            FactDetail::AdverseEvent { .. } => tag::ADVERSE_EVENT,
            FactDetail::QualityOfLife { .. } => tag::QUALITY_OF_LIFE,
        };
        w.u8(t);
        w.id(r.id);
        w.date(r.date);
        w.opt_date(r.secondary_date);
        w.opt_id(r.procedure_id);
        match &r.detail {
            FactDetail::Consent { research_consent } => w.text(research_consent.as_code()),
            FactDetail::Death => {}
            FactDetail::Baseline(b) => {
                w.bool(b.dialysis_dependent);
                w.text(b.diabetes.as_code());
                w.u8(b.wifi_clinical_stage);
                w.bool(b.has_wound);
            }
            FactDetail::Procedure {
                index_limb,
                primary_operator,
                device_system,
                crossover_level,
                technical_success,
            } => {
                w.text(index_limb.as_code());
                w.id(*primary_operator);
                w.text(device_system.as_str());
                w.text(crossover_level.as_code());
                w.bool(*technical_success);
            }
            FactDetail::AntithromboticTherapy {
                drug,
                stop_date,
                stop_reason,
            } => {
                w.text(drug.as_code());
                w.opt_date(*stop_date);
                w.opt_code(stop_reason.map(StopReason::as_code));
            }
            FactDetail::FollowUpVisit {
                limb_status,
                wound_status,
            } => {
                w.text(limb_status.as_code());
                w.opt_code(wound_status.map(WoundStatus::as_code));
            }
            FactDetail::Amputation { major } => w.bool(*major),
            FactDetail::Reintervention { planned, major } => {
                w.bool(*planned);
                w.bool(*major);
            }
            FactDetail::AdverseEvent { kind } => w.text(kind.as_code()),
            FactDetail::QualityOfLife {
                vascuqol6_total,
                eq5d_index,
                eq_vas,
            } => {
                match vascuqol6_total {
                    None => w.u8(0),
                    Some(t) => {
                        w.u8(1);
                        w.u8(*t);
                    }
                }
                match eq5d_index {
                    None => w.u8(0),
                    Some(i) => {
                        w.u8(1);
                        w.0.extend_from_slice(&i.to_bits().to_le_bytes());
                    }
                }
                match eq_vas {
                    None => w.u8(0),
                    Some(v) => {
                        w.u8(1);
                        w.u8(v.get());
                    }
                }
            }
        }
    }
    w.0
}

/// Reads the binary form; every failure says what could not be read.
struct Reader<'a>(&'a [u8]);

type Decoded<T> = std::result::Result<T, String>;

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Decoded<&'a [u8]> {
        if self.0.len() < n {
            return Err("the row is cut short".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u8(&mut self) -> Decoded<u8> {
        Ok(self.take(1)?[0])
    }
    fn bool(&mut self) -> Decoded<bool> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            b => Err(format!("{b} is not a yes/no byte")),
        }
    }
    fn i32(&mut self) -> Decoded<i32> {
        Ok(i32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u32(&mut self) -> Decoded<u32> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn date(&mut self) -> Decoded<NaiveDate> {
        let days = self.i32()?;
        NaiveDate::from_num_days_from_ce_opt(days).ok_or_else(|| format!("{days} is not a date"))
    }
    fn opt_date(&mut self) -> Decoded<Option<NaiveDate>> {
        match self.i32()? {
            NO_DATE => Ok(None),
            days => NaiveDate::from_num_days_from_ce_opt(days)
                .map(Some)
                .ok_or_else(|| format!("{days} is not a date")),
        }
    }
    fn id(&mut self) -> Decoded<RecordId> {
        let bytes: [u8; 16] = self.take(16)?.try_into().expect("16 bytes");
        Ok(RecordId(uuid::Uuid::from_bytes(bytes)))
    }
    fn opt_id(&mut self) -> Decoded<Option<RecordId>> {
        Ok(if self.bool()? { Some(self.id()?) } else { None })
    }
    fn text(&mut self) -> Decoded<&'a str> {
        let len = u16::from_le_bytes(self.take(2)?.try_into().expect("2 bytes"));
        std::str::from_utf8(self.take(usize::from(len))?).map_err(|e| e.to_string())
    }
    fn code<T: std::str::FromStr<Err = pdva_domain::FieldError>>(&mut self) -> Decoded<T> {
        self.text()?
            .parse()
            .map_err(|e: pdva_domain::FieldError| e.to_string())
    }
    fn opt_code<T: std::str::FromStr<Err = pdva_domain::FieldError>>(
        &mut self,
    ) -> Decoded<Option<T>> {
        Ok(if self.bool()? {
            Some(self.code()?)
        } else {
            None
        })
    }
}

/// A patient's facts from their binary form.
pub(crate) fn decode(bytes: &[u8]) -> Decoded<PatientFacts> {
    let mut r = Reader(bytes);
    let format = r.u8()?;
    if i64::from(format) != FORMAT {
        return Err(format!("format {format}, not {FORMAT}"));
    }
    let patient_id = r.id()?;
    let home_site = SiteCode::parse(r.text()?).map_err(|e| e.to_string())?;
    let follow_up_ended_on = r.opt_date()?;
    let n = r.u32()? as usize;
    // A corrupt count must not allocate gigabytes: each record takes at
    // least 26 bytes.
    let mut records = Vec::with_capacity(n.min(r.0.len() / 26 + 1));
    for _ in 0..n {
        let t = r.u8()?;
        let id = r.id()?;
        let date = r.date()?;
        let secondary_date = r.opt_date()?;
        let procedure_id = r.opt_id()?;
        let detail = match t {
            tag::CONSENT => FactDetail::Consent {
                research_consent: r.code::<ResearchConsent>()?,
            },
            tag::DEATH => FactDetail::Death,
            tag::BASELINE => FactDetail::Baseline(BaselineFacts {
                dialysis_dependent: r.bool()?,
                diabetes: r.code::<Diabetes>()?,
                wifi_clinical_stage: r.u8()?,
                has_wound: r.bool()?,
            }),
            tag::PROCEDURE => FactDetail::Procedure {
                index_limb: r.code::<Limb>()?,
                primary_operator: r.id()?,
                device_system: RequiredText::parse_for("device_system", r.text()?)
                    .map_err(|e| e.to_string())?,
                crossover_level: r.code::<CrossoverLevel>()?,
                technical_success: r.bool()?,
            },
            tag::ANTITHROMBOTIC => FactDetail::AntithromboticTherapy {
                drug: r.code::<AntithromboticDrug>()?,
                stop_date: r.opt_date()?,
                stop_reason: r.opt_code::<StopReason>()?,
            },
            tag::VISIT => FactDetail::FollowUpVisit {
                limb_status: r.code::<LimbStatus>()?,
                wound_status: r.opt_code::<WoundStatus>()?,
            },
            tag::AMPUTATION => FactDetail::Amputation { major: r.bool()? },
            tag::REINTERVENTION => FactDetail::Reintervention {
                planned: r.bool()?,
                major: r.bool()?,
            },
            tag::ADVERSE_EVENT => FactDetail::AdverseEvent {
                kind: r.code::<AdverseEventKind>()?,
            },
            tag::QUALITY_OF_LIFE => FactDetail::QualityOfLife {
                vascuqol6_total: if r.bool()? { Some(r.u8()?) } else { None },
                eq5d_index: if r.bool()? {
                    Some(f64::from_bits(u64::from_le_bytes(
                        r.take(8)?.try_into().expect("8 bytes"),
                    )))
                } else {
                    None
                },
                eq_vas: if r.bool()? {
                    Some(EqVas::new(i64::from(r.u8()?)).map_err(|e| e.to_string())?)
                } else {
                    None
                },
            },
            other => return Err(format!("{other} is not a record kind tag")),
        };
        records.push(RecordFacts {
            id,
            date,
            secondary_date,
            procedure_id,
            detail,
        });
    }
    if !r.0.is_empty() {
        return Err(format!("{} bytes follow the last record", r.0.len()));
    }
    Ok(PatientFacts {
        patient_id,
        home_site,
        follow_up_ended_on,
        records,
    })
}

fn corrupt_row(patient_id: &str, detail: String) -> StoreError {
    StoreError::Corrupt {
        id: patient_id.to_owned(),
        kind: "outcome facts".into(),
        detail,
    }
}

/// Decodes a stored row, naming the patient if it cannot be read.
pub(crate) fn decode_row(patient_id: &str, bytes: &[u8]) -> Result<PatientFacts> {
    decode(bytes).map_err(|e| corrupt_row(patient_id, e))
}

/// A patient's facts in the order their records are stored and read back
/// (oldest first, then by id): the order of a file read from the store.
pub(crate) fn in_stored_order(mut facts: PatientFacts) -> PatientFacts {
    // Within one transaction every row has the same `created_at`, so an
    // imported file's records are read back in id order, each kind's
    // together.
    facts.records.sort_by_key(|r| (r.detail.group(), r.id));
    facts
}

/// A patient's non-voided index procedures, follow-up visits and deaths:
/// the counts a site's summary adds up.
pub(crate) fn counts(facts: &PatientFacts) -> [i64; 3] {
    let mut counts = [0; 3];
    for r in &facts.records {
        match r.detail {
            FactDetail::Procedure { .. } => counts[0] += 1,
            FactDetail::FollowUpVisit { .. } => counts[1] += 1,
            FactDetail::Death => counts[2] += 1,
            _ => {}
        }
    }
    counts
}

/// The table's columns, in the order rows are bound ([`bind_row`]).
const COLUMNS: &str = "patient_id, site_code, procedures, visits, deaths, facts";

const UPSERT_SQL: &str = "INSERT INTO outcome_facts \
     (patient_id, site_code, procedures, visits, deaths, facts) \
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (patient_id) DO UPDATE \
     SET site_code = excluded.site_code, procedures = excluded.procedures, \
     visits = excluded.visits, deaths = excluded.deaths, facts = excluded.facts";

/// Binds one row's values, in [`COLUMNS`] order.
fn bind_row<'q>(
    query: sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>>,
    facts: &PatientFacts,
) -> sqlx::query::Query<'q, Any, sqlx::any::AnyArguments<'q>> {
    let [procedures, visits, deaths] = counts(facts);
    query
        .bind(facts.patient_id.to_string())
        .bind(facts.home_site.as_str().to_owned())
        .bind(procedures)
        .bind(visits)
        .bind(deaths)
        .bind(encode(facts))
}

async fn upsert(tx: &mut Transaction<'static, Any>, facts: &PatientFacts) -> Result<()> {
    bind_row(sqlx::query(UPSERT_SQL), facts)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Writes the facts of patients written whole in this transaction (an
/// import, or a rebuild after the table was emptied), as their records read
/// back would give them. They are new rows: a patient who already has one
/// is an error that rolls the transaction back.
pub(crate) async fn write_given(
    tx: &mut Transaction<'static, Any>,
    given: &[PatientFacts],
) -> Result<()> {
    let style = Placeholders::of(tx);
    for chunk in given.chunks(BATCH_ROWS) {
        let sql = insert_sql("outcome_facts", COLUMNS, 6, chunk.len(), style);
        let mut q = sqlx::query(&sql);
        for facts in chunk {
            q = bind_row(q, facts);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// Recomputes, from their records as this transaction sees them, the facts
/// of the patients it touched: a voided patient's row is removed.
pub(crate) async fn refresh(
    tx: &mut Transaction<'static, Any>,
    patients: &BTreeSet<String>,
) -> Result<()> {
    for patient in patients {
        let id: RecordId = patient
            .parse()
            .map_err(|_| corrupt_row(patient, "not a record id".into()))?;
        let rows = patient_rows(&mut **tx, id).await?;
        let live = rows.iter().any(|r| r.id == *patient && r.kind == "patient");
        if live {
            // The outcome facts read no identifier: no data key is needed.
            let file = file_from_rows(id, &rows, None)?;
            upsert(tx, &PatientFacts::from(&file)).await?;
        } else {
            sqlx::query("DELETE FROM outcome_facts WHERE patient_id = $1")
                .bind(patient.clone())
                .execute(&mut **tx)
                .await?;
        }
    }
    Ok(())
}

impl Store {
    /// Rebuilds the outcome facts table from the records if it was built in
    /// another format than this program's (or never: a registry created
    /// before the table existed). Runs when the store opens.
    pub(crate) async fn ensure_outcome_facts(&self) -> Result<()> {
        if self.outcome_facts_format().await? == Some(FORMAT) {
            return Ok(());
        }
        self.build_outcome_facts(false).await.map(|_| ())
    }

    /// Rebuilds every patient's outcome facts from their records (for
    /// `pdva audit rebuild-outcome-facts`, after `audit verify` found the
    /// table changed outside the application). Returns how many patients.
    pub async fn rebuild_outcome_facts(&self) -> Result<usize> {
        self.build_outcome_facts(true).await
    }

    async fn build_outcome_facts(&self, always: bool) -> Result<usize> {
        let (mut tx, _head) = self.begin_write().await?;
        // Another process may have built it while this one waited.
        let state = sqlx::query("SELECT format FROM projection_state WHERE name = $1")
            .bind(NAME)
            .fetch_optional(&mut *tx)
            .await?;
        if !always
            && let Some(row) = state
            && row.try_get::<i64, _>(0)? == FORMAT
        {
            return Ok(0);
        }
        // A new registry has nobody to build: say nothing.
        let anyone = sqlx::query("SELECT 1 FROM record WHERE kind = 'patient' LIMIT 1")
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
        if anyone {
            tracing::info!("building the outcome facts of every patient from their records");
        }
        sqlx::query("DELETE FROM outcome_facts")
            .execute(&mut *tx)
            .await?;
        // One site at a time, so that at most one site's facts are held.
        let sites: Vec<String> = sqlx::query(
            "SELECT DISTINCT site_code FROM record WHERE kind = 'patient' AND voided = 0",
        )
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get(0))
        .collect::<std::result::Result<_, _>>()?;
        let mut patients = 0usize;
        for site in sites {
            let mut facts = Vec::new();
            self.for_each_patient_facts_from_records(Some(&site), |f| facts.push(f))
                .await?;
            patients += facts.len();
            write_given(&mut tx, &facts).await?;
        }
        sqlx::query(
            "INSERT INTO projection_state (name, format) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET format = excluded.format",
        )
        .bind(NAME)
        .bind(FORMAT)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if anyone {
            tracing::info!(patients, "built the outcome facts");
        }
        Ok(patients)
    }

    async fn outcome_facts_format(&self) -> Result<Option<i64>> {
        Ok(
            sqlx::query("SELECT format FROM projection_state WHERE name = $1")
                .bind(NAME)
                .fetch_optional(&self.pool)
                .await?
                .map(|row| row.try_get(0))
                .transpose()?,
        )
    }

    /// Compares every row of the outcome facts table with the facts read
    /// from the patient's records; returns (patient id, problem) for each
    /// row that is missing, extra or different.
    pub(crate) async fn outcome_facts_differences(
        &self,
        progress: &dyn crate::Progress,
    ) -> Result<Vec<(String, String)>> {
        // The stored rows, as digests (the table itself can be large).
        type Stored = (String, [i64; 3], [u8; 32]);
        let mut stored: HashMap<String, Stored> = HashMap::new();
        {
            let mut rows = sqlx::query(
                "SELECT patient_id, site_code, procedures, visits, deaths, facts \
                 FROM outcome_facts",
            )
            .fetch(&self.pool);
            while let Some(row) = rows.try_next().await? {
                let id: String = row.try_get(0)?;
                let site: String = row.try_get(1)?;
                let counts = [row.try_get(2)?, row.try_get(3)?, row.try_get(4)?];
                let facts: Vec<u8> = row.try_get(5)?;
                stored.insert(id, (site, counts, crate::rows::sha256(&facts)));
            }
        }
        let mut problems = Vec::new();
        progress.start(
            "verifying the outcome facts against the records",
            stored.len() as u64,
        );
        self.for_each_patient_facts_from_records(None, |facts| {
            progress.advance(1);
            let id = facts.patient_id.to_string();
            match stored.remove(&id) {
                None => problems.push((id, "has no outcome facts row".to_owned())),
                Some((site, stored_counts, digest)) => {
                    if site != facts.home_site.as_str()
                        || stored_counts != counts(&facts)
                        || digest != crate::rows::sha256(&encode(&facts))
                    {
                        problems.push((
                            id,
                            "has outcome facts that differ from their records".to_owned(),
                        ));
                    }
                }
            }
        })
        .await?;
        for id in stored.into_keys() {
            problems.push((
                id,
                "has an outcome facts row but is not a registered, non-voided patient".to_owned(),
            ));
        }
        problems.sort();
        Ok(problems)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u128) -> RecordId {
        RecordId(uuid::Uuid::from_u128(n))
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    /// Every kind of record, with and without its optional fields, survives
    /// the binary form unchanged.
    #[test]
    fn every_kind_round_trips() {
        let proc_id = Some(id(2));
        let record = |n, detail, secondary_date| RecordFacts {
            id: id(n),
            date: date(2024, 1, n as u32 % 28 + 1),
            secondary_date,
            procedure_id: proc_id,
            detail,
        };
        let facts = PatientFacts {
            patient_id: id(1),
            home_site: SiteCode::parse("RGT-01").unwrap(),
            follow_up_ended_on: Some(date(2026, 5, 1)),
            records: vec![
                RecordFacts {
                    procedure_id: None,
                    ..record(
                        3,
                        FactDetail::Consent {
                            research_consent: ResearchConsent::Yes,
                        },
                        Some(date(2025, 2, 2)),
                    )
                },
                record(
                    4,
                    FactDetail::Baseline(BaselineFacts {
                        dialysis_dependent: true,
                        diabetes: Diabetes::ALL[1],
                        wifi_clinical_stage: 4,
                        has_wound: true,
                    }),
                    None,
                ),
                RecordFacts {
                    procedure_id: None,
                    ..record(
                        2,
                        FactDetail::Procedure {
                            index_limb: Limb::ALL[1],
                            primary_operator: id(99),
                            device_system: RequiredText::parse_for("d", "LimFlow — système")
                                .unwrap(),
                            crossover_level: CrossoverLevel::ALL[0],
                            technical_success: false,
                        },
                        Some(date(2024, 1, 9)),
                    )
                },
                record(
                    5,
                    FactDetail::AntithromboticTherapy {
                        drug: AntithromboticDrug::ALL[2],
                        stop_date: Some(date(2024, 6, 1)),
                        stop_reason: Some(StopReason::ALL[0]),
                    },
                    Some(date(2024, 6, 1)),
                ),
                record(
                    6,
                    FactDetail::AntithromboticTherapy {
                        drug: AntithromboticDrug::ALL[0],
                        stop_date: None,
                        stop_reason: None,
                    },
                    None,
                ),
                record(
                    7,
                    FactDetail::FollowUpVisit {
                        limb_status: LimbStatus::ALL[2],
                        wound_status: Some(WoundStatus::ALL[1]),
                    },
                    None,
                ),
                record(
                    8,
                    FactDetail::FollowUpVisit {
                        limb_status: LimbStatus::ALL[0],
                        wound_status: None,
                    },
                    None,
                ),
                record(9, FactDetail::Amputation { major: true }, None),
                record(
                    10,
                    FactDetail::Reintervention {
                        planned: false,
                        major: true,
                    },
                    None,
                ),
                RecordFacts {
                    procedure_id: None,
                    ..record(11, FactDetail::Death, None)
                },
                record(
                    12,
                    FactDetail::AdverseEvent {
                        kind: AdverseEventKind::ALL[3],
                    },
                    Some(date(2024, 3, 3)),
                ),
                record(
                    13,
                    FactDetail::QualityOfLife {
                        vascuqol6_total: Some(17),
                        eq5d_index: Some(-0.2849999999999999),
                        eq_vas: Some(EqVas::new(0).unwrap()),
                    },
                    None,
                ),
                record(
                    14,
                    FactDetail::QualityOfLife {
                        vascuqol6_total: None,
                        eq5d_index: None,
                        eq_vas: None,
                    },
                    None,
                ),
            ],
        };
        let bytes = encode(&facts);
        assert_eq!(decode(&bytes).unwrap(), facts);
        let empty = PatientFacts {
            records: Vec::new(),
            follow_up_ended_on: None,
            ..facts
        };
        assert_eq!(decode(&encode(&empty)).unwrap(), empty);
    }

    /// A damaged row is refused with a reason, never read as other facts.
    #[test]
    fn damaged_rows_are_refused() {
        let facts = PatientFacts {
            patient_id: id(1),
            home_site: SiteCode::parse("AB").unwrap(),
            follow_up_ended_on: None,
            records: vec![RecordFacts {
                id: id(2),
                date: date(2024, 1, 1),
                secondary_date: None,
                procedure_id: Some(id(3)),
                detail: FactDetail::Amputation { major: false },
            }],
        };
        let bytes = encode(&facts);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode(&longer).is_err());
        let mut other_format = bytes.clone();
        other_format[0] = 200;
        assert!(decode(&other_format).unwrap_err().contains("format"));
        let mut bad_bool = bytes;
        let last = bad_bool.len() - 1;
        bad_bool[last] = 7;
        assert!(decode(&bad_bool).is_err());
    }
}
