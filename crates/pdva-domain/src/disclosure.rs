//! Who may see what, decided in one place (DOMAIN.md section 11): the
//! audience an output is made for, the research population, and the
//! disclosure-control constants and date rules that research outputs obey.
//!
//! Why here: the web's patient pages, the outcomes engine and (later) the
//! exports must agree on exactly which patients a researcher may see. One
//! definition over both a [`PatientFile`] and the outcome facts a report
//! streams ([`PatientFacts`]) keeps them from drifting apart.

use chrono::{Datelike, NaiveDate};

use crate::codes::ResearchConsent;
use crate::facts::{FactDetail, PatientFacts};
use crate::validation::PatientFile;

/// Who an output is made for. It comes from the caller's role, never from a
/// parameter the caller sets (the command line asks for it explicitly).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Audience {
    /// Clinicians, governance leads and administrators, for their sites:
    /// every patient, unsuppressed (the registry exists for their audit).
    #[default]
    Identifiable,
    /// Researchers: the research population only, with disclosure control.
    Research,
}

/// The disclosure threshold t: a count from 1 to t − 1 is shown as `<t`.
pub const DISCLOSURE_THRESHOLD: u64 = 5;

/// The smallest research cohort (2t patients) a research output is made
/// for; a smaller one is refused.
pub const MINIMUM_RESEARCH_COHORT: u64 = 2 * DISCLOSURE_THRESHOLD;

/// Whether the patient is in the research population as of `as_of`: their
/// latest consent dated on or before `as_of` has `research_consent = yes`
/// and no research-consent withdrawal on or before `as_of`. A patient with
/// no such consent is not in it (fail closed). When several consents share
/// the latest date, every one of them must allow research (fail closed
/// again: records carry dates, not times, so none of them is "the latest").
pub fn in_research_population(file: &PatientFile, as_of: NaiveDate) -> bool {
    research_consent_holds(
        file.consents().map(|(_, c)| ConsentFacts {
            date: c.consent_date,
            research_consent: c.research_consent,
            withdrawn_on: c.research_consent_withdrawn_on,
        }),
        as_of,
    )
}

/// [`in_research_population`] for the outcome facts a report streams: the
/// same rule over the same consents.
pub fn facts_in_research_population(facts: &PatientFacts, as_of: NaiveDate) -> bool {
    research_consent_holds(
        facts.records.iter().filter_map(|r| match r.detail {
            FactDetail::Consent { research_consent } => Some(ConsentFacts {
                date: r.date,
                research_consent,
                withdrawn_on: r.secondary_date,
            }),
            _ => None,
        }),
        as_of,
    )
}

/// What the research population reads of one consent.
#[derive(Debug, Clone, Copy)]
struct ConsentFacts {
    date: NaiveDate,
    research_consent: ResearchConsent,
    withdrawn_on: Option<NaiveDate>,
}

fn research_consent_holds(consents: impl Iterator<Item = ConsentFacts>, as_of: NaiveDate) -> bool {
    let mut latest: Option<NaiveDate> = None;
    let mut allows = false;
    for c in consents.filter(|c| c.date <= as_of) {
        let this_allows =
            c.research_consent == ResearchConsent::Yes && c.withdrawn_on.is_none_or(|w| w > as_of);
        match latest {
            Some(d) if c.date < d => {}
            Some(d) if c.date == d => allows &= this_allows,
            _ => {
                latest = Some(c.date);
                allows = this_allows;
            }
        }
    }
    latest.is_some() && allows
}

/// The first day of the calendar quarter of `date`: researchers' "from"
/// filters snap to it, so two cohorts cannot differ by one day's patients.
pub fn quarter_start(date: NaiveDate) -> NaiveDate {
    let month = (date.month0() / 3) * 3 + 1;
    NaiveDate::from_ymd_opt(date.year(), month, 1).expect("the first of a month exists")
}

/// The last day of the calendar quarter of `date`: researchers' "to"
/// filters snap to it.
pub fn quarter_end(date: NaiveDate) -> NaiveDate {
    let start = quarter_start(date);
    let next = if start.month() == 10 {
        NaiveDate::from_ymd_opt(start.year() + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(start.year(), start.month() + 3, 1)
    };
    // The day before the next quarter; the year after chrono's last
    // representable one has no first quarter, so that quarter ends on
    // chrono's last day.
    next.and_then(|n| n.pred_opt()).unwrap_or(NaiveDate::MAX)
}

/// The quarter of `date` as `YYYY-Qn`, how research outputs show a calendar
/// date (a single procedure date would single out its patient).
pub fn quarter_label(date: NaiveDate) -> String {
    format!("{}-Q{}", date.year(), date.month0() / 3 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn consent(date: NaiveDate, yes: bool, withdrawn_on: Option<NaiveDate>) -> ConsentFacts {
        ConsentFacts {
            date,
            research_consent: if yes {
                ResearchConsent::Yes
            } else {
                ResearchConsent::No
            },
            withdrawn_on,
        }
    }

    #[test]
    fn no_consent_is_not_in_the_population() {
        assert!(!research_consent_holds(std::iter::empty(), d(2024, 1, 1)));
    }

    #[test]
    fn a_consent_after_the_report_date_does_not_count() {
        let c = [consent(d(2024, 2, 1), true, None)];
        assert!(!research_consent_holds(c.into_iter(), d(2024, 1, 31)));
        assert!(research_consent_holds(c.into_iter(), d(2024, 2, 1)));
    }

    #[test]
    fn a_withdrawal_counts_from_its_date() {
        let c = [consent(d(2024, 1, 1), true, Some(d(2024, 6, 1)))];
        assert!(research_consent_holds(c.into_iter(), d(2024, 5, 31)));
        assert!(!research_consent_holds(c.into_iter(), d(2024, 6, 1)));
    }

    #[test]
    fn the_latest_consent_decides() {
        let refused_then_given = [
            consent(d(2023, 1, 1), false, None),
            consent(d(2024, 1, 1), true, None),
        ];
        assert!(research_consent_holds(
            refused_then_given.into_iter(),
            d(2024, 1, 1)
        ));
        assert!(!research_consent_holds(
            refused_then_given.into_iter(),
            d(2023, 12, 31)
        ));
        let given_then_refused = [
            consent(d(2024, 1, 1), false, None),
            consent(d(2023, 1, 1), true, None),
        ];
        assert!(!research_consent_holds(
            given_then_refused.into_iter(),
            d(2024, 1, 1)
        ));
    }

    #[test]
    fn consents_on_the_same_day_must_all_allow() {
        for order in [[true, false], [false, true]] {
            let c = order.map(|yes| consent(d(2024, 1, 1), yes, None));
            assert!(!research_consent_holds(c.into_iter(), d(2024, 3, 1)));
        }
    }

    #[test]
    fn quarters() {
        assert_eq!(quarter_start(d(2021, 1, 27)), d(2021, 1, 1));
        assert_eq!(quarter_end(d(2021, 1, 27)), d(2021, 3, 31));
        assert_eq!(quarter_start(d(2021, 12, 31)), d(2021, 10, 1));
        assert_eq!(quarter_end(d(2021, 11, 5)), d(2021, 12, 31));
        assert_eq!(quarter_end(d(2024, 5, 5)), d(2024, 6, 30));
        assert_eq!(quarter_label(d(2024, 5, 5)), "2024-Q2");
    }

    proptest! {
        #[test]
        fn quarter_snapping_contains_the_date_and_is_whole(days in 0i64..40_000) {
            let date = d(1990, 1, 1) + chrono::Duration::days(days);
            let (s, e) = (quarter_start(date), quarter_end(date));
            prop_assert!(s <= date && date <= e);
            // Whole quarters: starts on the first of Jan/Apr/Jul/Oct, ends
            // the day before the next quarter starts.
            prop_assert_eq!(s.day(), 1);
            prop_assert_eq!((s.month() - 1) % 3, 0);
            let next = e.succ_opt().unwrap();
            prop_assert_eq!(quarter_start(next), next);
            prop_assert_eq!(quarter_start(e), s);
            // Snapping is idempotent, and every date of the quarter snaps alike.
            prop_assert_eq!(quarter_start(s), s);
            prop_assert_eq!(quarter_end(e), e);
            prop_assert_eq!(quarter_label(s), quarter_label(e));
        }
    }
}
