//! The research report: exactly the items of IPG773 1.4 (patient
//! selection, procedure technique, duration of anticoagulation, patient
//! outcomes) plus the outcome engine's other endpoints, de-identified by
//! construction.
//!
//! Everything in it comes from the research form of the outcomes report
//! (`Audience::Research`: the research population only, dates snapped to
//! quarters, counts under 5 shown as `<5` with complementary suppression, a
//! cohort under 10 refused) and from selection and technique tallies over
//! exactly the same limbs, protected by the same disclosure control. It
//! holds no identifier, no calendar date of a patient, no free text and no
//! clinician's name: the builder is given none (the monitoring section,
//! which names operators, is empty in a research outcomes report and is not
//! shown).

use pdva_outcomes::{Audience, OutcomesReport};
use pdva_store::Store;

use crate::casemix::{self, Tally, Topic};
use crate::document::{Block, Cell, FilterShown, Report, ReportKind, Section, Table, count_text};
use crate::gather::{self, Generation, Period};
use crate::{Result, reading, sections};

/// Everything the research report is built from.
#[derive(Debug, Clone)]
pub struct ResearchInputs {
    /// The research form of the outcomes report.
    pub report: OutcomesReport,
    /// Selection and technique tallies over the same limbs (exact counts;
    /// protected when laid out).
    pub tallies: Vec<Tally>,
    /// The period asked for (the report states the snapped one).
    pub period: Period,
    /// Who asked, and when.
    pub generation: Generation,
}

/// Reads the registry and builds the research report. A research cohort
/// under the minimum is refused by the outcomes engine
/// (`OutcomesError::ResearchCohortTooSmall`).
pub async fn make(store: &Store, period: Period, generation: &Generation) -> Result<Report> {
    let research = Audience::Research;
    let filter = gather::filter(period, None, None);
    let report = gather::outcomes(store, &filter, generation.as_of, research).await?;
    let reference = store.reference_data().await?;
    let resolved = filter.resolve_for(&reference, research)?;
    let files = store.load_patient_files(None).await?;
    // The research population only, as the engine's cohort keeps it.
    let limbs = pdva_outcomes::cohort(&files, &resolved, generation.as_of);
    let tallies = casemix::tallies(&files, &limbs);
    drop(files);
    Ok(build(ResearchInputs {
        report,
        tallies,
        period,
        generation: generation.clone(),
    }))
}

/// Builds the research report from its inputs (pure).
pub fn build(inputs: ResearchInputs) -> Report {
    let r = &inputs.report;
    // The period as the report counted it: snapped to whole quarters.
    let snapped = Period {
        from: r.filters.from.as_deref().and_then(|d| d.parse().ok()),
        to: r.filters.to.as_deref().and_then(|d| d.parse().ok()),
    };
    let period = if inputs.period.from.is_none() && inputs.period.to.is_none() {
        inputs.period
    } else {
        snapped
    };
    let stamp = gather::stamp(
        r,
        period,
        vec![FilterShown {
            name: "population".into(),
            value: "research population (research consent yes, not withdrawn by the report date)"
                .into(),
        }],
        &inputs.generation,
        Audience::Research,
    );
    let mut out = vec![
        selection(r, &inputs.tallies),
        technique(r, &inputs.tallies),
        sections::anticoagulation(r),
        outcomes(r),
        sections::quality_of_life(r),
        sections::survival(r),
        sections::technical_success(r),
        sections::thirty_day(r),
        sections::completeness(r, true),
        sections::benchmarks(r),
        disclosure(r),
    ];
    for s in &mut out {
        if s.serves.is_none() {
            s.serves = Some("IPG773 1.4".into());
        }
    }
    Report {
        kind: ReportKind::Research,
        title: ReportKind::Research.title().into(),
        subject: "The registry's research population".into(),
        subject_key: "research-population".into(),
        stamp,
        summary: vec![
            reading::cases(r, None),
            reading::survival_sentence(
                "6-month amputation-free survival",
                &r.amputation_free_survival,
                182.0,
                r,
                "PROMISE II amputation-free survival (primary endpoint)",
            ),
            reading::rate_sentence(
                "Unplanned reinterventions",
                &r.unplanned_reintervention_rate,
            ),
            reading::incidence_sentence(
                "Cumulative incidence of major amputation at 1 year",
                &r.cumulative_incidence_major_amputation,
                365.0,
            ),
        ],
        sections: out,
    }
}

fn tally_blocks(tallies: &[Tally], topic: Topic) -> Vec<Block> {
    tallies
        .iter()
        .filter(|t| t.topic == topic)
        .map(|t| Block::Table(casemix::table(t, Audience::Research)))
        .collect()
}

/// Patient selection (IPG773 1.4): inclusion, no-option rationale, and the
/// number and proportion dependent on dialysis.
fn selection(r: &OutcomesReport, tallies: &[Tally]) -> Section {
    let mut section = Section::new("selection", "Patient selection");
    section.serves = Some("IPG773 1.4: patient selection".into());
    let c = &r.cohort;
    let share = match (c.dialysis_dependent_patients.exact(), c.patients.exact()) {
        (Some(k), Some(n)) if n > 0 => Some(k as f64 / n as f64),
        _ => None,
    };
    section.reading.push(format!(
        "{} of {} patients ({}) were dependent on dialysis at their first index procedure.",
        count_text(c.dialysis_dependent_patients),
        count_text(c.patients),
        crate::document::percent_text(share, None, None)
    ));
    section.blocks.push(Block::Table(Table {
        caption: "Dependence on dialysis (IPG773 1.4)".into(),
        columns: vec!["".into(), "Patients".into(), "% of patients".into()],
        rows: vec![
            vec![
                Cell::text("Dependent on dialysis"),
                Cell::count(c.dialysis_dependent_patients),
                Cell::percent(share),
            ],
            vec![
                Cell::text("All patients"),
                Cell::count(c.patients),
                Cell::text(""),
            ],
        ],
        note: None,
    }));
    section.blocks.extend(sections::patient_mix_from_strata(r));
    section
        .blocks
        .extend(tally_blocks(tallies, Topic::Selection));
    section
}

/// Procedure technique (IPG773 1.4).
fn technique(r: &OutcomesReport, tallies: &[Tally]) -> Section {
    let mut section = Section::new("technique", "Procedure technique");
    section.serves = Some("IPG773 1.4: procedure technique".into());
    section.blocks = sections::technique_from_strata(r);
    section
        .blocks
        .extend(tally_blocks(tallies, Topic::Technique));
    section
}

/// Patient outcomes (IPG773 1.4): reintervention rates, major amputation
/// as a cumulative incidence with death competing and as a proportion at
/// fixed times.
fn outcomes(r: &OutcomesReport) -> Section {
    let mut section = sections::reinterventions(r);
    section.key = "outcomes".into();
    section.title = "Patient outcomes: reinterventions and major amputation".into();
    section.serves = Some("IPG773 1.4: patient outcomes".into());
    let amputation = sections::cumulative_incidence(r);
    section.reading.extend(amputation.reading);
    section.reading.push(reading::proportion_sentence(
        "Major amputation within 30 days",
        &r.major_amputation_30_day,
        "index procedures whose 30-day status is known",
    ));
    section.blocks.extend(amputation.blocks);
    section
}

/// The disclosure control applied, as the engine states it.
fn disclosure(r: &OutcomesReport) -> Section {
    let mut section = Section::new("disclosure", "Disclosure control");
    section.serves = Some("DOMAIN.md section 11".into());
    if let Some(d) = &r.disclosure {
        section.reading.push(d.population.clone());
        for rule in &d.rules {
            section.blocks.push(Block::Paragraph { text: rule.clone() });
        }
    }
    section.blocks.push(Block::Paragraph {
        text: "The selection and technique tables above are protected by the same rules: each is a table with a total (the index procedures), and a count that could be worked out from the total and the other counts is withheld.".into(),
    });
    section
}
