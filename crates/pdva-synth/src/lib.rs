//! # pdva-synth
//!
//! The deterministic synthetic-registry generator of DOMAIN.md section 10.
//! It makes sites, clinicians, governance meetings and patients whose
//! records resemble the published pDVA series (section 9): the patient mix
//! of PROMISE II, amputation-free survival, amputation, reintervention and
//! adverse-event rates of the same order, lifelong follow-up with missed
//! visits and early ends, quality of life that improves in some and worsens
//! in others, and the awkward cases the compliance checks must find (an
//! uncredentialed operator, a site whose governance lead was never recorded
//! as informed, a site with no recent governance review, records voided as
//! entered in error, research-consent withdrawals). Never real patients:
//! NHS numbers are in the range reserved for testing (999 000 0000 –
//! 999 999 9999) and names come from small built-in lists.
//!
//! The crate is pure: it builds domain values and does no I/O. Every file it
//! makes passes [`pdva_domain::check_file`] with no hard finding.
//!
//! ## Determinism
//!
//! Everything is drawn from ChaCha8 generators seeded from
//! [`GeneratorConfig::seed`]: the reference data from one stream, and each
//! patient from its own stream (the patient's index), so a patient does not
//! depend on the batch it is generated in. Registry ids and NHS numbers are
//! seed-keyed permutations of the patient index, so they are unique across
//! the registry.
//!
//! ```
//! use pdva_synth::{Generator, GeneratorConfig};
//! let today = chrono::NaiveDate::from_ymd_opt(2025, 6, 1).unwrap();
//! let mut generator = Generator::new(GeneratorConfig { patients: 25, seed: 1, today });
//! let reference = generator.reference_data();
//! let mut files = 0;
//! while let Some(batch) = generator.next_batch(10) {
//!     for file in &batch.files {
//!         let checked = pdva_domain::check_file(file, &reference, today);
//!         assert!(checked.refusals.is_empty());
//!     }
//!     files += batch.files.len();
//! }
//! assert_eq!(files, 25);
//! ```

mod identity;
mod model;
mod patient;
mod reference;
mod sample;

use chrono::NaiveDate;
use pdva_domain::{PatientFile, RecordId, ReferenceData};
use rand::SeedableRng;

pub use identity::NHS_NUMBER_CAPACITY;
pub use reference::Reference;

use crate::identity::IdentityKeys;
use crate::reference::World;
use crate::sample::SynthRng;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GeneratorConfig {
    /// Number of patients.
    pub patients: usize,
    /// Seed: the same configuration always gives the same registry.
    pub seed: u64,
    /// The registry's "today": nothing is dated after it; enrolment spreads
    /// over about six years before it.
    pub today: NaiveDate,
}

/// One batch of generated patients.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// The patients' files, in patient order.
    pub files: Vec<PatientFile>,
    /// Records (already in `files`) entered in error, to void after import,
    /// with the reason for voiding.
    pub voids: Vec<(RecordId, String)>,
}

/// The synthetic-registry generator.
#[derive(Debug, Clone)]
pub struct Generator {
    config: GeneratorConfig,
    world: World,
    keys: IdentityKeys,
    next: usize,
}

/// The stream of the reference data (patients use streams 0, 1, 2, …).
const REFERENCE_STREAM: u64 = u64::MAX;

impl Generator {
    /// A generator for `config`; the reference data are built at once.
    pub fn new(config: GeneratorConfig) -> Self {
        let mut rng = SynthRng::seed_from_u64(config.seed);
        rng.set_stream(REFERENCE_STREAM);
        Self {
            world: reference::build(&mut rng, config.today),
            keys: IdentityKeys::new(config.seed),
            config,
            next: 0,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &GeneratorConfig {
        &self.config
    }

    /// Sites, clinicians (with ids) and governance meetings: written first.
    pub fn reference(&self) -> &Reference {
        &self.world.reference
    }

    /// [`ReferenceData`] built from [`Generator::reference`], for validation.
    pub fn reference_data(&self) -> ReferenceData {
        let reference = self.reference();
        ReferenceData {
            sites: reference
                .sites
                .iter()
                .map(|(_, s)| (s.site_code.clone(), s.clone()))
                .collect(),
            clinicians: reference.clinicians.iter().cloned().collect(),
        }
    }

    /// Patients not yet generated.
    pub fn remaining(&self) -> usize {
        self.config.patients - self.next
    }

    /// The next batch of up to `n` patients (at least one); `None` when all
    /// [`GeneratorConfig::patients`] have been generated.
    pub fn next_batch(&mut self, n: usize) -> Option<Batch> {
        if self.next >= self.config.patients {
            return None;
        }
        let end = self.next.saturating_add(n.max(1)).min(self.config.patients);
        let mut batch = Batch {
            files: Vec::with_capacity(end - self.next),
            voids: Vec::new(),
        };
        for index in self.next..end {
            let generated = patient::generate(
                &self.world,
                &self.keys,
                self.config.seed,
                index,
                self.config.today,
            );
            batch.files.push(generated.file);
            batch.voids.extend(generated.voids);
        }
        self.next = end;
        Some(batch)
    }
}
