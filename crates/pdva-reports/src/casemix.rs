//! Patient selection and technique of the index procedures in a report
//! (IPG773 1.4): the categorical answers of the baseline and procedure
//! records that the outcomes engine does not stratify by, tallied over
//! exactly the limbs the engine counted (`pdva_outcomes::cohort` with the
//! same resolved filter), and protected for a research audience by the
//! engine's own disclosure control (`pdva_outcomes::protect_tally`).

use std::collections::HashMap;

use pdva_domain::records::{Baseline, IndexProcedure};
use pdva_domain::{ClinicalRecord, PatientFile, RecordId};
use pdva_outcomes::{Audience, Count, IndexLimb, protect_tally};

use crate::document::{Cell, Table};

/// Which group of answers a tally belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topic {
    /// Patient selection (baseline).
    Selection,
    /// Procedure technique.
    Technique,
}

/// Counts of one question's answers over the index procedures.
#[derive(Debug, Clone, PartialEq)]
pub struct Tally {
    /// Selection or technique.
    pub topic: Topic,
    /// The question, as a table caption.
    pub caption: String,
    /// Whether the answers are categories of one answer (they add up to the
    /// procedures answered), or each a yes of its own (several may apply).
    pub exclusive: bool,
    /// Each answer's label and count, in DOMAIN.md's order.
    pub categories: Vec<(String, u64)>,
    /// Index procedures counted (the denominator of every percentage).
    pub total: u64,
}

/// Index procedures with their baselines, for the limbs of a cohort.
fn records_of<'f>(
    files: &'f [PatientFile],
    limbs: &[IndexLimb],
) -> Vec<(&'f IndexProcedure, Option<&'f Baseline>)> {
    let wanted: HashMap<RecordId, ()> = limbs.iter().map(|l| (l.procedure_id, ())).collect();
    let mut out = Vec::with_capacity(limbs.len());
    for file in files {
        let mut baselines: HashMap<RecordId, &Baseline> = HashMap::new();
        for (_, record) in &file.records {
            // The first baseline of a procedure, as the engine reads it (one
            // waiting for its procedure belongs to no limb yet).
            if let ClinicalRecord::Baseline(b) = record
                && let Some(procedure_id) = b.procedure_id
            {
                baselines.entry(procedure_id).or_insert(b);
            }
        }
        for (id, procedure) in file.procedures() {
            if wanted.contains_key(&id) {
                out.push((procedure, baselines.get(&id).copied()));
            }
        }
    }
    out
}

/// A tally builder: counts per label in a fixed order.
struct Counter {
    labels: Vec<String>,
    counts: Vec<u64>,
}

impl Counter {
    fn new(labels: impl IntoIterator<Item = String>) -> Self {
        let labels: Vec<String> = labels.into_iter().collect();
        let counts = vec![0; labels.len()];
        Counter { labels, counts }
    }

    fn add(&mut self, index: usize) {
        self.counts[index] += 1;
    }

    fn tally(self, topic: Topic, caption: &str, exclusive: bool, total: u64) -> Tally {
        Tally {
            topic,
            caption: caption.into(),
            exclusive,
            categories: self.labels.into_iter().zip(self.counts).collect(),
            total,
        }
    }
}

fn position<T: PartialEq>(all: &[T], value: &T) -> usize {
    all.iter()
        .position(|v| v == value)
        .expect("a code is one of ALL")
}

/// The selection and technique tallies of the cohort's index procedures.
pub fn tallies(files: &[PatientFile], limbs: &[IndexLimb]) -> Vec<Tally> {
    use pdva_domain::codes::{
        ArterialAccess, NoOptionReason, TibialVessel, ValvulotomyExtent, VenousAccess,
    };
    let records = records_of(files, limbs);
    let total = records.len() as u64;

    let mut rutherford = Counter::new((0..=6).map(|c| format!("Rutherford {c}")));
    let mut no_option = Counter::new(NoOptionReason::ALL.iter().map(|r| r.label().to_owned()));
    let mut selection_yes = Counter::new([
        "Pedal venous anatomy confirmed before the procedure".to_owned(),
        "Previous revascularisation of the index limb".to_owned(),
        "Previous minor amputation of the index limb".to_owned(),
    ]);
    let mut arterial = Counter::new(ArterialAccess::ALL.iter().map(|a| a.label().to_owned()));
    let mut venous = Counter::new(VenousAccess::ALL.iter().map(|a| a.label().to_owned()));
    let mut artery = Counter::new(TibialVessel::ALL.iter().map(|a| a.label().to_owned()));
    let mut vein = Counter::new(TibialVessel::ALL.iter().map(|a| a.label().to_owned()));
    let mut extent = Counter::new(
        std::iter::once("No valvulotomy".to_owned())
            .chain(ValvulotomyExtent::ALL.iter().map(|e| e.label().to_owned())),
    );
    let mut stents = Counter::new(["None", "1", "2", "3 or more"].map(String::from));
    let mut technique_yes = Counter::new([
        "Stent crossing the ankle joint".to_owned(),
        "Completion angiography".to_owned(),
    ]);
    for (procedure, baseline) in &records {
        if let Some(b) = baseline {
            rutherford.add(usize::from(b.rutherford_category.get()));
            for reason in &b.no_option_reasons {
                no_option.add(position(NoOptionReason::ALL, reason));
            }
            if b.pedal_venous_anatomy_confirmed {
                selection_yes.add(0);
            }
            if b.prior_revascularisations_index_limb.is_some_and(|n| n > 0) {
                selection_yes.add(1);
            }
            if b.prior_minor_amputation_index_limb == Some(true) {
                selection_yes.add(2);
            }
        }
        arterial.add(position(ArterialAccess::ALL, &procedure.arterial_access));
        venous.add(position(VenousAccess::ALL, &procedure.venous_access));
        artery.add(position(TibialVessel::ALL, &procedure.target_artery));
        vein.add(position(TibialVessel::ALL, &procedure.target_vein));
        match (procedure.valvulotomy, procedure.valvulotomy_extent) {
            (true, Some(e)) => extent.add(1 + position(ValvulotomyExtent::ALL, &e)),
            (false, _) => extent.add(0),
            // Valvulotomy with no extent recorded: counted in neither.
            (true, None) => {}
        }
        if let Some(n) = procedure.venous_stents_count {
            stents.add(usize::from(n.get().min(3)));
        }
        if procedure.crossing_stent == Some(true) {
            technique_yes.add(0);
        }
        if procedure.completion_angiography {
            technique_yes.add(1);
        }
    }
    use Topic::{Selection, Technique};
    vec![
        rutherford.tally(Selection, "Rutherford category at baseline", true, total),
        no_option.tally(
            Selection,
            "Why no other revascularisation was an option (more than one may apply)",
            false,
            total,
        ),
        selection_yes.tally(
            Selection,
            "Selection findings (each of all index procedures)",
            false,
            total,
        ),
        arterial.tally(Technique, "Arterial access", true, total),
        venous.tally(Technique, "Venous access", true, total),
        artery.tally(Technique, "Target artery", true, total),
        vein.tally(Technique, "Target vein", true, total),
        extent.tally(Technique, "Valvulotomy and its extent", true, total),
        stents.tally(Technique, "Venous stents placed", true, total),
        technique_yes.tally(
            Technique,
            "Stents and completion imaging (each of all index procedures)",
            false,
            total,
        ),
    ]
}

/// A tally as a table: each answer's count and percentage of all index
/// procedures; for a research audience, protected by the engine's
/// disclosure control (a withheld count has no percentage).
pub fn table(tally: &Tally, audience: Audience) -> Table {
    let values: Vec<u64> = tally.categories.iter().map(|(_, n)| *n).collect();
    let (counts, total) = match audience {
        Audience::Identifiable => (
            values.iter().map(|&n| Count::Exact(n)).collect(),
            Count::Exact(tally.total),
        ),
        Audience::Research => protect_tally(&values, tally.total, tally.exclusive),
    };
    let rows = tally
        .categories
        .iter()
        .zip(&counts)
        .map(|((label, _), count)| {
            let share = match (count.exact(), total.exact()) {
                (Some(k), Some(n)) if n > 0 => Some(k as f64 / n as f64),
                _ => None,
            };
            vec![
                Cell::text(label.clone()),
                Cell::count(*count),
                Cell::percent(share),
            ]
        })
        .collect();
    Table {
        caption: tally.caption.clone(),
        columns: vec![
            "".into(),
            "Index procedures".into(),
            format!("% of {}", crate::document::count_text(total)),
        ],
        rows,
        note: None,
    }
}
