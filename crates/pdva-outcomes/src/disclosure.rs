//! Disclosure control of a research report (DOMAIN.md section 11).
//!
//! A research report is computed like any other, on the research population
//! only, and then made safe here, in one place:
//!
//! - **Primary suppression**: a count from 1 to t − 1 is shown as `"<5"`
//!   ([`Count::Small`]); zero stays 0.
//! - **Complementary suppression**: every table with a total is a set of
//!   equations "the cells add up to the total" ([`Table`]). A cell the report
//!   does not show but a reader can work out (the limbs *without* the
//!   outcome of a proportion, the unilateral patients, the limbs in no
//!   stratum) takes part as a hidden cell. Where a reader could narrow a
//!   small cell (shown or hidden) from its total and the other cells of its
//!   row or column below the full range 1 … t − 1, or pin a withheld cell
//!   exactly, the smallest other count of at least t is withheld too
//!   ([`Count::Suppressed`]), and failing that the total; until every
//!   equation is safe.
//! - A proportion, rate or interval whose count is withheld is withheld with
//!   it (k = estimate × n otherwise). A group (stratum, drug, quality-of-life
//!   timepoint) of fewer than 2t limbs or values shows no curve, median or
//!   quantile; nor does a stratum's endpoint whose limbs or events are
//!   withheld (the numbers at risk and cumulative events of its estimates
//!   would give them back).
//! - Calendar dates of patients become calendar quarters; the monitoring
//!   section (funnels per operator and site, learning curves with each
//!   case's procedure date) is for identifiable audiences and is left empty.
//!
//! Kaplan–Meier and cumulative-incidence curves of the whole cohort keep
//! their rows, numbers at risk and event counts (section 11: "curves for
//! researchers keep their rows once the cohort meets the minimum"): each
//! step of S(t) gives d/n anyway, so withholding the counts beside it would
//! protect nothing. Their counts are therefore public cells here: a table
//! whose total is one of them is protected by withholding its other cells
//! (where every cell under such a total is small, nothing can be withheld,
//! and the curve shows those counts anyway).

use chrono::NaiveDate;
use pdva_domain::disclosure::{DISCLOSURE_THRESHOLD, MINIMUM_RESEARCH_COHORT, quarter_label};

use crate::filter::ResolvedFilter;
use crate::report::{
    Count, DisclosureControl, Distribution, OutcomesReport, ProportionEndpoint, RateEndpoint,
    TherapyDurationSummary,
};

const T: u64 = DISCLOSURE_THRESHOLD;

/// A bound no count reaches: the upper bound of an unknown cell.
const UNBOUNDED: i128 = 1 << 80;

/// How a cell of a [`Table`] is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shown {
    /// Its exact value.
    Exact,
    /// `"<5"`.
    Small,
    /// `"suppressed"`.
    Suppressed,
    /// Never shown: a count a reader can only work out from the others.
    Hidden,
}

#[derive(Debug, Clone, Copy)]
struct Cell {
    value: u64,
    shown: Shown,
    /// Shown elsewhere unsuppressed (the curves' counts): never withheld.
    public: bool,
}

impl Cell {
    /// A small count: the cells disclosure control protects.
    fn sensitive(&self) -> bool {
        (1..T).contains(&self.value) && !self.public
    }

    /// What a reader knows of the cell before reading any total.
    fn prior(&self) -> (i128, i128) {
        match self.shown {
            Shown::Exact => (self.value as i128, self.value as i128),
            Shown::Small => (1, T as i128 - 1),
            // Only counts of at least t are ever withheld.
            Shown::Suppressed => (T as i128, UNBOUNDED),
            Shown::Hidden => (0, UNBOUNDED),
        }
    }
}

/// Counts and the equations between them ("these cells add up to that
/// total"), protected by [`Table::protect`].
#[derive(Debug, Default)]
pub(crate) struct Table {
    cells: Vec<Cell>,
    /// (parts, total).
    sums: Vec<(Vec<usize>, usize)>,
}

impl Table {
    /// Adds a cell; a shown small count is suppressed at once (primary
    /// suppression).
    fn push(&mut self, value: u64, displayed: bool, public: bool) -> usize {
        let shown = if !displayed {
            Shown::Hidden
        } else if (1..T).contains(&value) && !public {
            Shown::Small
        } else {
            Shown::Exact
        };
        self.cells.push(Cell {
            value,
            shown,
            public,
        });
        self.cells.len() - 1
    }

    /// The count to show for a cell.
    fn count(&self, id: usize) -> Count {
        let c = &self.cells[id];
        match c.shown {
            Shown::Exact | Shown::Hidden => Count::Exact(c.value),
            Shown::Small => Count::Small,
            Shown::Suppressed => Count::Suppressed,
        }
    }

    /// Complementary suppression: withholds cells until no equation lets a
    /// reader narrow a small cell below 1 … t − 1 or pin a withheld one.
    pub(crate) fn protect(&mut self) {
        loop {
            let mut changed = false;
            for s in 0..self.sums.len() {
                while let Some(cell) = self.unsafe_in(s) {
                    let Some(extra) = self.next_to_withhold(s, cell) else {
                        break;
                    };
                    self.cells[extra].shown = Shown::Suppressed;
                    changed = true;
                }
            }
            if !changed {
                return;
            }
        }
    }

    /// A cell of equation `s` that a reader can work out too closely.
    fn unsafe_in(&self, s: usize) -> Option<usize> {
        let (parts, total) = &self.sums[s];
        let all = parts.iter().chain(std::iter::once(total));
        for &x in all {
            let cell = &self.cells[x];
            if cell.shown == Shown::Exact {
                continue;
            }
            let (lo, hi) = self.bounds(parts, *total, x);
            let (plo, phi) = cell.prior();
            let (lo, hi) = (lo.max(plo), hi.min(phi));
            let narrowed = if cell.sensitive() {
                lo > 1 || hi < T as i128 - 1
            } else {
                cell.shown == Shown::Suppressed && lo >= hi
            };
            if narrowed {
                return Some(x);
            }
        }
        None
    }

    /// What the equation says of cell `x`, from the others' priors.
    fn bounds(&self, parts: &[usize], total: usize, x: usize) -> (i128, i128) {
        let prior = |i: usize| self.cells[i].prior();
        if x == total {
            parts.iter().fold((0, 0), |(lo, hi), &p| {
                let (plo, phi) = prior(p);
                (lo + plo, (hi + phi).min(UNBOUNDED))
            })
        } else {
            let (tlo, thi) = prior(total);
            let mut others = (0i128, 0i128);
            let mut skipped = false;
            for &p in parts {
                // A cell listed twice counts twice; skip only `x` itself once.
                if p == x && !skipped {
                    skipped = true;
                    continue;
                }
                let (plo, phi) = prior(p);
                others = (others.0 + plo, (others.1 + phi).min(UNBOUNDED));
            }
            let hi = if thi >= UNBOUNDED {
                UNBOUNDED
            } else {
                thi - others.0
            };
            (tlo - others.1, hi)
        }
    }

    /// The cell to withhold next in equation `s`: the smallest shown part of
    /// at least t other than `cell`, else the total.
    fn next_to_withhold(&self, s: usize, cell: usize) -> Option<usize> {
        let (parts, total) = &self.sums[s];
        let candidate = |&i: &usize| {
            i != cell && {
                let c = &self.cells[i];
                c.shown == Shown::Exact && !c.public && c.value >= T
            }
        };
        parts
            .iter()
            .filter(|i| candidate(i))
            .min_by_key(|&&i| (self.cells[i].value, i))
            .or_else(|| Some(total).filter(|i| candidate(i)))
            .copied()
    }
}

/// Walks every count of a report twice in the same order: first to build
/// the [`Table`] of its counts and sums, then to write each count back as
/// the protected table shows it.
struct Walk<'t> {
    table: &'t mut Table,
    writing: bool,
    next: usize,
}

impl Walk<'_> {
    fn cell(&mut self, c: &mut Count, public: bool) -> usize {
        let id = self.next;
        self.next += 1;
        if self.writing {
            *c = self.table.count(id);
        } else {
            let value = c.exact().expect("a report is computed with exact counts");
            self.table.push(value, true, public);
        }
        id
    }

    /// A count shown in the report.
    fn count(&mut self, c: &mut Count) -> usize {
        self.cell(c, false)
    }

    /// A count the curves show anyway: never withheld.
    fn public(&mut self, value: u64) -> usize {
        self.cell(&mut Count::Exact(value), true)
    }

    /// A count the report does not show (a reader can work it out).
    fn hidden(&mut self, value: u64) -> usize {
        let id = self.next;
        self.next += 1;
        if !self.writing {
            self.table.push(value, false, false);
        }
        id
    }

    /// A count shown again elsewhere: it shows as cell `id` shows, or, if
    /// it is another number, is a cell of its own.
    fn same_as(&mut self, c: &mut Count, id: usize) -> usize {
        if c.exact() == Some(self.value(id)) {
            if self.writing {
                *c = self.table.count(id);
            }
            id
        } else {
            self.count(c)
        }
    }

    fn value(&self, id: usize) -> u64 {
        self.table.cells[id].value
    }

    fn sum(&mut self, parts: &[usize], total: usize) {
        if !self.writing {
            self.table.sums.push((parts.to_vec(), total));
        }
    }

    /// The cells `parts`, and the rest of `total`, add up to `total`; the
    /// rest is known to be 0 when `partition` (the parts are every limb's
    /// group: a reader knows none is left over), else hidden.
    fn column(&mut self, parts: &[usize], total: usize, partition: bool) {
        if !partition {
            return self.sum_with_rest(parts, total);
        }
        let shown: u64 = parts.iter().map(|&p| self.value(p)).sum();
        debug_assert_eq!(shown, self.value(total), "a partition adds up");
        self.sum(parts, total);
    }

    /// The cells `parts`, and the hidden rest of `total`, add up to `total`.
    fn sum_with_rest(&mut self, parts: &[usize], total: usize) {
        let shown: u64 = parts.iter().map(|&p| self.value(p)).sum();
        let Some(rest) = self.value(total).checked_sub(shown) else {
            // Not a part of this total after all (cannot happen for the
            // report's tables): no equation to protect.
            debug_assert!(false, "parts exceed their total");
            return;
        };
        let rest = self.hidden(rest);
        let mut all = parts.to_vec();
        all.push(rest);
        self.sum(&all, total);
    }

    /// k of n: k and the hidden n − k add up to n. Returns (k, n).
    fn proportion(&mut self, p: &mut ProportionEndpoint, n: Option<usize>) -> (usize, usize) {
        let n = match n {
            Some(id) => self.same_as(&mut p.n, id),
            None => self.count(&mut p.n),
        };
        let k = self.count(&mut p.k);
        self.sum_with_rest(&[k], n);
        if self.writing && !(p.k.is_exact() && p.n.is_exact()) {
            // k / n with its interval would give k back.
            p.estimate = None;
            p.ci_lower = None;
            p.ci_upper = None;
        }
        (k, n)
    }

    /// A 30-day proportion (DOMAIN.md section 7): k of the known n (with
    /// the hidden n − k), and the known n and the status-unknown count
    /// adding up to the limbs whose window has passed — `window`, or, where
    /// the report does not show it (a stratum), a hidden cell. Returns (k,
    /// n, status unknown, window).
    fn thirty_day(
        &mut self,
        p: &mut ProportionEndpoint,
        window: Option<usize>,
    ) -> (usize, usize, usize, usize) {
        let (k, n) = self.proportion(p, None);
        let unknown = self.count(
            p.status_unknown
                .as_mut()
                .expect("a 30-day proportion counts its status unknown"),
        );
        let window = match window {
            Some(id) => id,
            None => self.hidden(self.value(n) + self.value(unknown)),
        };
        self.sum(&[n, unknown], window);
        (k, n, unknown, window)
    }

    fn rate(&mut self, r: &mut RateEndpoint) {
        self.count(&mut r.events);
        if self.writing && !r.events.is_exact() {
            r.rate = None;
            r.ci_lower = None;
            r.ci_upper = None;
        }
    }

    fn distribution(&mut self, d: &mut Distribution) -> usize {
        let n = self.count(&mut d.n);
        if self.value(n) < MINIMUM_RESEARCH_COHORT {
            d.median = None;
            d.q1 = None;
            d.q3 = None;
        }
        n
    }

    fn therapy(&mut self, t: &mut TherapyDurationSummary) -> usize {
        let n = self.count(&mut t.n);
        let completed = self.count(&mut t.completed);
        self.sum_with_rest(&[completed], n);
        if self.value(n) < MINIMUM_RESEARCH_COHORT {
            t.km_median_days = None;
            t.km_q1_days = None;
            t.km_q3_days = None;
        }
        let courses = self.same_as(&mut t.completed_courses.n, completed);
        if self.value(courses) < MINIMUM_RESEARCH_COHORT {
            let d = &mut t.completed_courses;
            (d.median, d.q1, d.q3) = (None, None, None);
        }
        n
    }
}

/// Every table of the report, in one fixed order.
fn walk(r: &mut OutcomesReport, w: &mut Walk<'_>) {
    // The cohort: patients are the unilateral and the bilateral, and index
    // procedures are the patients plus the bilateral again (so the
    // bilateral count is index procedures − patients). Index procedures
    // are every curve's n, shown anyway.
    let c = &mut r.cohort;
    let limbs = w.cell(&mut c.index_procedures, true);
    debug_assert_eq!(r.overall_survival.n, w.value(limbs));
    let patients = w.count(&mut c.patients);
    let bilateral = w.count(&mut c.bilateral_patients);
    w.sum_with_rest(&[bilateral], patients);
    w.sum(&[patients, bilateral], limbs);
    for subset in [
        &mut c.dialysis_dependent_patients,
        &mut c.deaths,
        &mut c.follow_up_ended,
    ] {
        let x = w.count(subset);
        w.sum_with_rest(&[x], patients);
    }
    let without_baseline = w.count(&mut c.procedures_without_baseline);
    w.sum_with_rest(&[without_baseline], limbs);

    let (success, _) = w.proportion(&mut r.technical_success, Some(limbs));
    // Each 30-day proportion: k and n − k add up to n, and n and the
    // status-unknown count add up to the limbs whose window has passed.
    let window = w.count(&mut r.adverse_events_30_day.window_passed);
    let (deaths_30, known_30, unknown_30, _) = w.thirty_day(&mut r.mortality_30_day, Some(window));
    w.thirty_day(&mut r.major_amputation_30_day, Some(window));
    w.thirty_day(&mut r.adverse_events_30_day.any, Some(window));
    for kind in &mut r.adverse_events_30_day.by_kind {
        w.thirty_day(&mut kind.proportion, Some(window));
    }

    // Healed, healing and neither add up to the limbs evaluated.
    let wound = &mut r.wound_status_6_months;
    let (healed, evaluated) = w.proportion(&mut wound.healed, None);
    let (healing, _) = w.proportion(&mut wound.healing, Some(evaluated));
    w.sum_with_rest(&[healed, healing], evaluated);

    w.rate(&mut r.planned_reintervention_rate);
    w.rate(&mut r.unplanned_reintervention_rate);

    for instrument in &mut r.quality_of_life.instruments {
        w.distribution(&mut instrument.baseline);
        for tp in &mut instrument.timepoints {
            w.distribution(&mut tp.value);
            w.distribution(&mut tp.change);
        }
    }

    // Completeness: each site's timepoints add up to the whole cohort's.
    let fc = &mut r.follow_up_completeness;
    let (done, due) = w.proportion(&mut fc.overall, None);
    let mut site_done = Vec::new();
    let mut site_due = Vec::new();
    for site in &mut fc.by_site {
        let (k, n) = w.proportion(&mut site.completeness, None);
        site_done.push(k);
        site_due.push(n);
    }
    // Every limb has a site: the sites add up to the whole.
    let sites_partition = site_due.iter().map(|&n| w.value(n)).sum::<u64>() == w.value(due);
    w.column(&site_done, done, sites_partition);
    w.column(&site_due, due, sites_partition);

    let ac = &mut r.duration_of_anticoagulation;
    w.therapy(&mut ac.overall);
    for drug in &mut ac.by_drug {
        w.therapy(drug);
    }

    // Comparisons: each stratum's limbs, events, successes and deaths add
    // up (with the limbs in no stratum, hidden) to the whole cohort's.
    let curve_events: Vec<(String, u64)> = [
        &r.amputation_free_survival,
        &r.overall_survival,
        &r.freedom_from_major_amputation,
        &r.freedom_from_unplanned_reintervention,
        &r.freedom_from_any_reintervention,
        &r.freedom_from_male,
    ]
    .iter()
    .zip(crate::SURVIVAL_ENDPOINTS)
    .map(|(e, k)| (k.name().to_owned(), e.events))
    .collect();
    for comparison in &mut r.comparisons {
        let mut stratum_limbs = Vec::new();
        let mut stratum_success = (Vec::new(), Vec::new());
        // Deaths, known, status unknown and (hidden) window passed.
        let mut stratum_deaths = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        // Per endpoint name, each stratum's events cell.
        let mut events: Vec<(String, Vec<usize>)> = Vec::new();
        for stratum in &mut comparison.strata {
            let n = w.count(&mut stratum.n);
            stratum_limbs.push(n);
            let small_group = w.value(n) < MINIMUM_RESEARCH_COHORT;
            for e in &mut stratum.endpoints {
                let en = w.same_as(&mut e.n, n);
                let ev = w.count(&mut e.events);
                w.sum_with_rest(&[ev], en);
                match events.iter_mut().find(|(name, _)| *name == e.endpoint) {
                    Some((_, cells)) => cells.push(ev),
                    None => events.push((e.endpoint.clone(), vec![ev])),
                }
                // No curve, median or quantile of fewer than 2t limbs; and
                // none where the limbs or events are withheld, since the
                // estimates' numbers at risk and cumulative events would
                // give them back.
                if small_group || (w.writing && !(e.n.is_exact() && e.events.is_exact())) {
                    e.median_days = None;
                    e.estimates.clear();
                }
            }
            let (k, n) = w.proportion(&mut stratum.technical_success, Some(n));
            stratum_success.0.push(k);
            stratum_success.1.push(n);
            let (k, n, unknown, window) = w.thirty_day(&mut stratum.mortality_30_day, None);
            stratum_deaths.0.push(k);
            stratum_deaths.1.push(n);
            stratum_deaths.2.push(unknown);
            stratum_deaths.3.push(window);
        }
        // Every limb has a site, operator, device and crossover level, so
        // those strata add up to the cohort (a reader knows nothing is left
        // over); the baseline strata leave out the procedures without a
        // baseline, which the cohort shows.
        let stratified: u64 = stratum_limbs.iter().map(|&n| w.value(n)).sum();
        let partition = stratified == w.value(limbs);
        if !partition && w.value(limbs).checked_sub(stratified) == Some(w.value(without_baseline)) {
            let mut parts = stratum_limbs.clone();
            parts.push(without_baseline);
            w.sum(&parts, limbs);
        } else {
            w.column(&stratum_limbs, limbs, partition);
        }
        w.column(&stratum_success.0, success, partition);
        w.column(&stratum_success.1, limbs, partition);
        w.column(&stratum_deaths.0, deaths_30, partition);
        w.column(&stratum_deaths.1, known_30, partition);
        w.column(&stratum_deaths.2, unknown_30, partition);
        w.column(&stratum_deaths.3, window, partition);
        for (name, cells) in &events {
            if let Some(&(_, total)) = curve_events.iter().find(|(n, _)| n == name) {
                let total = w.public(total);
                w.column(cells, total, partition);
            }
        }
        // A log-rank test's observed events are the strata's events.
        for test in &mut comparison.logrank_tests {
            let cells = events
                .iter()
                .find(|(name, _)| *name == test.endpoint)
                .map(|(_, c)| c.clone())
                .unwrap_or_default();
            for (j, observed) in test.observed.iter_mut().enumerate() {
                match cells.get(j) {
                    Some(&id) => {
                        w.same_as(observed, id);
                    }
                    None => {
                        w.count(observed);
                    }
                }
            }
        }
    }
}

/// The rules [`disclose`] applies, as the report states them.
fn rules() -> Vec<String> {
    vec![
        "Only the research population is counted: patients whose latest consent dated on or before the report date has research consent yes and no research-consent withdrawal on or before it; a patient with no consent record is excluded.".to_owned(),
        format!("Counts from 1 to {} are shown as \"<{T}\"; zero is shown as 0.", T - 1),
        format!("Complementary suppression: where a \"<{T}\" count could be worked out (or narrowed) from a total and the other counts of its row or column, the next smallest count of at least {T}, or else the total, is shown as \"suppressed\". This covers the cohort counts, every proportion (its count with the outcome and the count without it), each 30-day proportion's status-unknown count (with its known count it adds up to the limbs whose 30-day window has passed), the adverse events by kind, the wound status at 6 months, follow-up completeness by site, anticoagulation by drug, and the strata of every comparison against the whole cohort."),
        "A proportion, rate or confidence interval whose count is suppressed is shown as null.".to_owned(),
        format!("A research cohort of fewer than {MINIMUM_RESEARCH_COHORT} patients is refused; a stratum, drug or quality-of-life timepoint of fewer than {MINIMUM_RESEARCH_COHORT} limbs or values shows no curve estimate, median or quantile, nor does a stratum's endpoint whose limbs or events are suppressed (its estimates' numbers at risk and cumulative events would give them back)."),
        "The whole cohort's Kaplan–Meier and cumulative-incidence curves keep their rows, numbers at risk and event counts (times are days from the index procedure): each step of a curve gives its counts anyway.".to_owned(),
        "Procedure dates are shown as calendar quarters, date filters are snapped to whole quarters, and the monitoring section (funnel plots per operator and site, learning curves with each case's date) is left empty.".to_owned(),
    ]
}

/// Makes a computed research report safe to show (the module's rules).
pub(crate) fn disclose(report: &mut OutcomesReport, filter: &ResolvedFilter) {
    let quarter = |d: &mut Option<String>| {
        if let Some(date) = d.as_deref().and_then(|s| s.parse::<NaiveDate>().ok()) {
            *d = Some(quarter_label(date));
        }
    };
    quarter(&mut report.cohort.first_procedure);
    quarter(&mut report.cohort.last_procedure);
    report.monitoring.funnels.clear();
    report.monitoring.learning_curves.charts.clear();

    let mut table = Table::default();
    walk(
        report,
        &mut Walk {
            table: &mut table,
            writing: false,
            next: 0,
        },
    );
    table.protect();
    walk(
        report,
        &mut Walk {
            table: &mut table,
            writing: true,
            next: 0,
        },
    );
    // The benchmarks copy the local figures: copy the protected ones.
    report.benchmarks = crate::benchmarks::benchmarks(report);
    report.disclosure = Some(DisclosureControl {
        audience: "research".to_owned(),
        population: "patients whose latest consent on or before the report date has research consent yes, not withdrawn on or before it".to_owned(),
        threshold: T,
        minimum_cohort: MINIMUM_RESEARCH_COHORT,
        period_from: filter.from.map(|d| d.to_string()),
        period_to: filter.to.map(|d| d.to_string()),
        rules: rules(),
    });
}

/// Protects a one-way table of a research output other than the outcomes
/// report (the research report's patient-selection and technique tables):
/// `parts` are counts of one total, and `exclusive` says whether they are
/// categories of one answer (they and the limbs with no answer add up to
/// `total`) or each its own yes/no of every limb (several may apply, so
/// each part and its complement add up to `total`). The total is shown as
/// it is (it is a cohort count, at least the minimum research cohort);
/// returns each part as shown, then the total as shown.
pub fn protect_tally(parts: &[u64], total: u64, exclusive: bool) -> (Vec<Count>, Count) {
    let mut t = Table::default();
    let cells: Vec<usize> = parts.iter().map(|&v| t.push(v, true, false)).collect();
    let total_cell = t.push(total, true, false);
    if exclusive {
        let answered: u64 = parts.iter().sum();
        let unanswered = t.push(total.saturating_sub(answered), false, false);
        let mut all = cells.clone();
        all.push(unanswered);
        t.sums.push((all, total_cell));
    } else {
        for (&cell, &v) in cells.iter().zip(parts) {
            let rest = t.push(total.saturating_sub(v), false, false);
            t.sums.push((vec![cell, rest], total_cell));
        }
    }
    t.protect();
    (
        cells.iter().map(|&c| t.count(c)).collect(),
        t.count(total_cell),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A row of cells and its total, protected; returns the shown states.
    fn protect_row(values: &[u64], total_public: bool) -> (Vec<Count>, Count) {
        let mut t = Table::default();
        let cells: Vec<usize> = values.iter().map(|&v| t.push(v, true, false)).collect();
        let total = t.push(values.iter().sum(), true, total_public);
        t.sums.push((cells.clone(), total));
        t.protect();
        (cells.iter().map(|&c| t.count(c)).collect(), t.count(total))
    }

    /// For each cell shown as `"<5"`, the values it can take given the
    /// shown cells and the total: those for which the other withheld cells
    /// can make up the rest (their reachable sums found by dynamic
    /// programming, independently of the bounds reasoning above).
    fn feasible_small_values(shown: &[Count], total: Count) -> Vec<Vec<u64>> {
        let smalls = shown.iter().filter(|c| **c == Count::Small).count();
        let Count::Exact(total) = total else {
            // No total shown: nothing to work out.
            return vec![(1..T).collect(); smalls];
        };
        let known: u64 = shown.iter().filter_map(|c| c.exact()).sum();
        let rest = (total - known) as usize;
        let unknown: Vec<usize> = (0..shown.len()).filter(|&i| !shown[i].is_exact()).collect();
        let mut feasible = Vec::new();
        for &x in &unknown {
            if shown[x] != Count::Small {
                continue;
            }
            // Sums the other withheld cells can reach.
            let mut reach = vec![false; rest + 1];
            reach[0] = true;
            for &o in unknown.iter().filter(|&&o| o != x) {
                // A withheld count is at least t, and at most what is left.
                let range = if shown[o] == Count::Small {
                    1..T
                } else {
                    T..rest as u64 + 1
                };
                let mut next = vec![false; rest + 1];
                for (s, _) in reach.iter().enumerate().filter(|(_, r)| **r) {
                    for v in range.clone() {
                        if s + v as usize <= rest {
                            next[s + v as usize] = true;
                        }
                    }
                }
                reach = next;
            }
            feasible.push(
                (1..T)
                    .filter(|&v| (v as usize) <= rest && reach[rest - v as usize])
                    .collect(),
            );
        }
        feasible
    }

    #[test]
    fn small_counts_show_as_below_the_threshold_and_zero_as_zero() {
        let (cells, total) = protect_row(&[0, 3, 40, 50], false);
        assert_eq!(cells[0], Count::Exact(0));
        assert_eq!(cells[1], Count::Small);
        // The 3 could be worked out from the total: the next smallest is withheld.
        assert_eq!(cells[2], Count::Suppressed);
        assert_eq!(cells[3], Count::Exact(50));
        assert_eq!(total, Count::Exact(93));
    }

    #[test]
    fn a_row_without_small_counts_is_unchanged() {
        let (cells, total) = protect_row(&[0, 5, 40], false);
        assert_eq!(
            cells,
            vec![Count::Exact(0), Count::Exact(5), Count::Exact(40)]
        );
        assert_eq!(total, Count::Exact(45));
    }

    #[test]
    fn two_small_counts_whose_sum_tells_them_apart_are_protected_further() {
        // 4 and 4 add up to 8: both must be 4 unless more is withheld.
        let (cells, total) = protect_row(&[4, 4, 30], false);
        assert_eq!(cells[2], Count::Suppressed);
        assert_eq!(total, Count::Exact(38));
        // 1 and 4 add up to 5: either could be anything from 1 to 4.
        let (cells, _) = protect_row(&[1, 4, 30], false);
        assert_eq!(cells[2], Count::Exact(30));
    }

    #[test]
    fn a_tally_of_one_answer_hides_a_small_category_and_its_neighbour() {
        // 3 + 20 + 27 = 50 with nothing unanswered: the 3 is worked out
        // from the total unless one more category is withheld.
        let (cells, total) = protect_tally(&[3, 20, 27], 50, true);
        assert_eq!(
            cells,
            vec![Count::Small, Count::Suppressed, Count::Exact(27)]
        );
        assert_eq!(total, Count::Exact(50));
        // Yes/no items: 48 of 50 would give the 2 without it away.
        let (cells, _) = protect_tally(&[48, 30], 50, false);
        assert_eq!(cells, vec![Count::Suppressed, Count::Exact(30)]);
    }

    #[test]
    fn a_withheld_count_just_above_the_threshold_is_not_enough() {
        // 1 + 5 = 6: if the 5 is known to be at least 5, the small one is 1.
        let (cells, total) = protect_row(&[1, 5], false);
        assert_eq!(cells, vec![Count::Small, Count::Suppressed]);
        assert_eq!(total, Count::Suppressed);
    }

    #[test]
    fn a_proportion_whose_complement_is_small_withholds_its_count() {
        // 9 of 12: 3 without the outcome would be 12 − 9.
        let mut t = Table::default();
        let k = t.push(9, true, false);
        let rest = t.push(3, false, false);
        let n = t.push(12, true, false);
        t.sums.push((vec![k, rest], n));
        t.protect();
        assert_eq!(t.count(k), Count::Suppressed);
        assert_eq!(t.count(n), Count::Exact(12));
    }

    #[test]
    fn a_public_total_is_never_withheld() {
        let (cells, total) = protect_row(&[2, 5], true);
        assert_eq!(total, Count::Exact(7));
        assert_eq!(cells, vec![Count::Small, Count::Suppressed]);
    }

    /// A 30-day proportion as the report holds it.
    fn thirty_day_proportion(k: u64, n: u64, unknown: u64) -> ProportionEndpoint {
        let mut p = crate::proportion("test", k as usize, n as usize).unwrap();
        p.status_unknown = Some(Count::Exact(unknown));
        p
    }

    /// Walks `window` and the 30-day proportions under it, protects the
    /// table and writes it back, as [`disclose`] does for a report.
    fn protect_thirty_day(window: &mut Count, proportions: &mut [ProportionEndpoint]) {
        let mut table = Table::default();
        for writing in [false, true] {
            if writing {
                table.protect();
            }
            let mut w = Walk {
                table: &mut table,
                writing,
                next: 0,
            };
            let id = w.count(window);
            for p in proportions.iter_mut() {
                w.thirty_day(p, Some(id));
            }
        }
    }

    #[test]
    fn a_small_status_unknown_cannot_be_worked_out_from_the_window() {
        // 40 limbs whose window has passed: 37 known (10 died), 3 unknown.
        let mut window = Count::Exact(40);
        let mut p = [thirty_day_proportion(10, 37, 3)];
        protect_thirty_day(&mut window, &mut p);
        let [p] = p;
        assert_eq!(p.status_unknown, Some(Count::Small));
        // 40 − 37 would give the 3 back: the known count is withheld, and
        // with it the proportion.
        assert_eq!(p.n, Count::Suppressed);
        assert_eq!(p.k, Count::Exact(10));
        assert_eq!((p.estimate, p.ci_lower, p.ci_upper), (None, None, None));
        assert_eq!(window, Count::Exact(40));
    }

    #[test]
    fn a_small_count_without_the_outcome_among_the_known_is_protected_too() {
        // 38 known of 40: 36 died, so 2 known alive (hidden, 38 − 36).
        let mut window = Count::Exact(40);
        let mut p = [thirty_day_proportion(36, 38, 2)];
        protect_thirty_day(&mut window, &mut p);
        let [p] = p;
        assert_eq!(p.status_unknown, Some(Count::Small));
        assert!(!p.k.is_exact() && !p.n.is_exact());
    }

    #[test]
    fn no_status_unknown_or_a_large_one_leaves_the_proportion_shown() {
        let mut window = Count::Exact(60);
        let mut p = [
            thirty_day_proportion(10, 60, 0),
            thirty_day_proportion(12, 48, 12),
        ];
        protect_thirty_day(&mut window, &mut p);
        for p in &p {
            assert!(p.k.is_exact() && p.n.is_exact() && p.estimate.is_some());
        }
        assert_eq!(p[0].status_unknown, Some(Count::Exact(0)));
        assert_eq!(p[1].status_unknown, Some(Count::Exact(12)));
    }

    proptest! {
        /// Every 30-day proportion under one window: no shown count is
        /// small, and no small status-unknown count (nor a small count of
        /// known without the outcome) follows from the shown ones.
        #[test]
        fn no_small_thirty_day_count_can_be_worked_out(
            window in 0u64..60,
            cells in prop::collection::vec((0u64..60, 0u64..60), 1..5),
        ) {
            let mut proportions: Vec<ProportionEndpoint> = cells
                .iter()
                .map(|&(a, b)| {
                    let unknown = a % (window + 1);
                    let n = window - unknown;
                    thirty_day_proportion(b % (n + 1), n, unknown)
                })
                .collect();
            let truth: Vec<(u64, u64, u64)> = proportions
                .iter()
                .map(|p| (p.k.exact().unwrap(), p.n.exact().unwrap(), p.status_unknown.unwrap().exact().unwrap()))
                .collect();
            let mut shown_window = Count::Exact(window);
            protect_thirty_day(&mut shown_window, &mut proportions);
            for (p, &(k, n, unknown)) in proportions.iter().zip(&truth) {
                for (c, v) in [(p.k, k), (p.n, n), (p.status_unknown.unwrap(), unknown)] {
                    match c {
                        Count::Exact(x) => prop_assert!(x == v && (x == 0 || x >= T)),
                        Count::Small => prop_assert!((1..T).contains(&v)),
                        Count::Suppressed => prop_assert!(v >= T),
                    }
                }
                // The unknown from the window and the known, and the known
                // without the outcome from n and k.
                if let (Count::Exact(w), Count::Exact(n)) = (shown_window, p.n) {
                    prop_assert!(!(1..T).contains(&(w - n)), "{truth:?} → {proportions:?}");
                }
                if let (Count::Exact(n), Count::Exact(k)) = (p.n, p.k) {
                    prop_assert!(!(1..T).contains(&(n - k)), "{truth:?} → {proportions:?}");
                }
                // A withheld known count would follow from the window and
                // the unknown.
                if let (Count::Exact(_), Count::Exact(_)) = (shown_window, p.status_unknown.unwrap()) {
                    prop_assert!(p.n.is_exact(), "{truth:?} → {proportions:?}");
                }
            }
        }

        /// Whatever the row, no shown count is below the threshold, and
        /// every `"<5"` can still be any of 1 … t − 1 given the total and
        /// the other cells (found by brute force).
        #[test]
        fn no_small_cell_can_be_worked_out_from_its_row(
            values in prop::collection::vec(prop_oneof![0u64..5, 0u64..30], 1..6),
            total_public in any::<bool>(),
        ) {
            let (cells, total) = protect_row(&values, total_public);
            for (v, c) in values.iter().zip(&cells) {
                match c {
                    Count::Exact(x) => {
                        prop_assert_eq!(x, v);
                        prop_assert!(*x == 0 || *x >= T);
                    }
                    Count::Small => prop_assert!((1..T).contains(v)),
                    Count::Suppressed => prop_assert!(*v >= T),
                }
            }
            // A total the curves show cannot be withheld: a row of small
            // cells under it cannot be protected (and the curve shows them).
            if total_public {
                return Ok(());
            }
            for feasible in feasible_small_values(&cells, total) {
                for v in 1..T {
                    prop_assert!(feasible.contains(&v), "{values:?} → {cells:?} / {total:?}: {feasible:?}");
                }
            }
        }
    }
}
