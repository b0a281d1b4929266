//! Compliance of a site with the special arrangements of NICE IPG773: the
//! governance lead informed (1.2), review meetings held (1.3), consent
//! recorded with the uncertainties explained (1.2), operators credentialed
//! (3.7), and follow-up kept up (1.2, 3.6).
//!
//! [`check`] is pure: it reads the site, its governance meetings, its
//! patients' files and the reference data it is given, for the index
//! procedures of a period, as of a date. The web's compliance page and the
//! governance review ([`crate::governance`]) both print what it returns, so
//! the two cannot disagree.

use chrono::{Days, NaiveDate};
use pdva_domain::schedule::{self, FollowUpContext, Timepoint, WorklistState};
use pdva_domain::{
    ClinicalRecord, GovernanceMeeting, IndexProcedure, PatientFile, RecordId, ReferenceData, Site,
};

use crate::document::{Finding, Findings, percent};
use crate::gather::Period;

/// Governance review meetings are overdue after 12 months without one
/// (DOMAIN.md section 1, IPG773 1.3; registry choice).
pub const MEETING_INTERVAL_DAYS: u64 = 365;

/// The compliance of one site over the index procedures of a period.
#[derive(Debug, Clone, PartialEq)]
pub struct Compliance {
    /// The site's code.
    pub site_code: String,
    /// The site's name.
    pub site_name: String,
    /// The index procedures looked at (both ends included).
    pub period: Period,
    /// The date the checks were made on: meetings, windows and overdue
    /// visits are judged as of this day.
    pub today: NaiveDate,
    /// The site's index procedures in the period.
    pub procedures: usize,
    /// The site's patients with an index procedure in the period.
    pub patients: usize,
    /// One check per arrangement, in the order of IPG773.
    pub checks: Vec<Check>,
}

/// One arrangement of IPG773 and what was found.
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    /// The stable key of the check (`no_consent`, `overdue_follow_up`, ...).
    pub key: &'static str,
    /// The IPG773 paragraph(s) it serves (`1.2`, `1.2, 3.6`).
    pub paragraph: &'static str,
    /// The arrangement.
    pub title: &'static str,
    /// Whether the site meets it.
    pub met: bool,
    /// What was found, short: `none`, `3 of 41 index procedures (7.3%)`,
    /// `last meeting on 2026-01-12`.
    pub status: String,
    /// How many items fall short, for the checks that count.
    pub count: Option<usize>,
    /// What the count is out of, for the checks that count.
    pub denominator: Option<Denominator>,
    /// What a counted item lacks, as the end of a sentence: `had no
    /// recorded consent`.
    pub shortfall: &'static str,
    /// The records behind the finding (all of them), by date then
    /// registry id.
    pub items: Vec<Item>,
}

/// What a check's count is out of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denominator {
    /// How many.
    pub n: usize,
    /// Of what, plural: `index procedures in the period`.
    pub of: &'static str,
}

/// One record behind a finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// The date that places the item (the procedure, the closing of the
    /// first overdue window, the meeting).
    pub date: NaiveDate,
    /// The patient's record id, for a link (none for a meeting).
    pub patient_id: Option<RecordId>,
    /// The patient's registry id (none for a meeting).
    pub registry_id: Option<String>,
    /// The record to look at.
    pub record: RecordId,
    /// What is wrong, in a clinician's words.
    pub detail: String,
}

impl Check {
    /// The count as a proportion of its denominator, when both exist and
    /// the denominator is not 0.
    pub fn proportion(&self) -> Option<f64> {
        match (self.count, &self.denominator) {
            (Some(k), Some(d)) if d.n > 0 => Some(k as f64 / d.n as f64),
            _ => None,
        }
    }

    /// The finding in one plain-English sentence, computed from the counts:
    /// `3 of 41 index procedures in the period (7.3%) had no recorded
    /// consent.`
    pub fn reading(&self) -> String {
        match (self.count, &self.denominator) {
            (Some(k), Some(d)) => match self.proportion() {
                Some(p) => format!(
                    "{k} of {} {} ({}) {}.",
                    d.n,
                    d.of,
                    percent(p),
                    self.shortfall
                ),
                None => format!("There are no {}.", d.of),
            },
            _ => format!("{}: {}.", self.title, self.status),
        }
    }

    /// The check as a finding of a report, listing its first `shown` items.
    pub fn finding(&self, shown: usize) -> Finding {
        Finding {
            paragraph: self.paragraph.into(),
            title: self.title.into(),
            met: self.met,
            status: self.reading(),
            items: self
                .items
                .iter()
                .take(shown)
                .map(|i| match &i.registry_id {
                    Some(r) => format!("{r}: {}", i.detail),
                    None => i.detail.clone(),
                })
                .collect(),
            more: self.items.len().saturating_sub(shown),
        }
    }
}

impl Compliance {
    /// The checks as report findings, each listing its first `shown` items.
    pub fn findings(&self, shown: usize) -> Findings {
        Findings {
            findings: self.checks.iter().map(|c| c.finding(shown)).collect(),
        }
    }

    /// The check with this key.
    pub fn check(&self, key: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.key == key)
    }
}

/// Short status of a counted check: `none`, or `k of n what (p%)`.
fn counted_status(k: usize, d: &Denominator) -> String {
    if k == 0 {
        return "none".into();
    }
    format!(
        "{k} of {} {} ({})",
        d.n,
        d.of,
        percent(k as f64 / d.n as f64)
    )
}

/// A counted check; met when nothing falls short.
fn counted(
    key: &'static str,
    paragraph: &'static str,
    title: &'static str,
    shortfall: &'static str,
    denominator: Denominator,
    mut items: Vec<Item>,
) -> Check {
    items.sort_by(|a, b| (a.date, &a.registry_id).cmp(&(b.date, &b.registry_id)));
    Check {
        key,
        paragraph,
        title,
        met: items.is_empty(),
        status: counted_status(items.len(), &denominator),
        count: Some(items.len()),
        denominator: Some(denominator),
        shortfall,
        items,
    }
}

/// The dates of the follow-up visits of one index procedure.
fn visit_dates(file: &PatientFile, procedure_id: RecordId) -> Vec<NaiveDate> {
    file.records
        .iter()
        .filter_map(|(_, r)| match r {
            ClinicalRecord::FollowUpVisit(v) if v.procedure_id == procedure_id => {
                Some(v.visit_date)
            }
            _ => None,
        })
        .collect()
}

/// Checks the special arrangements of IPG773 for `site`, over the index
/// procedures in `period` of the patients registered at the site (files of
/// other sites' patients are left out), as of `today`.
///
/// - 1.2 governance lead informed: a date is recorded, and no index
///   procedure of the period was done before it.
/// - 1.3 review meetings: every meeting held on or before `today` is
///   listed; met when one was held in the last 12 months.
/// - 1.2 consent: each index procedure has a consent dated on or before it
///   (the latest such consent covers it), and that consent records the
///   safety, efficacy and uncertainties as explained (of the procedures
///   with a consent).
/// - 3.7 the primary operator was credentialed on the procedure date
///   (training recorded by then, and the site's minimum of proctored
///   cases); an operator missing from the reference data cannot be shown
///   credentialed and is listed.
/// - 1.2, 3.6 a visit in the 30-day window (days 14–60), of the
///   procedures whose window closed while the patient was alive and in
///   follow-up.
/// - 3.6 overdue follow-up, by patient: patients alive and in follow-up
///   with a closed window without a visit (the worklist's overdue state),
///   of the patients alive and in follow-up.
pub fn check(
    site: &Site,
    meetings: &[(RecordId, GovernanceMeeting)],
    files: &[PatientFile],
    reference: &ReferenceData,
    period: Period,
    today: NaiveDate,
) -> Compliance {
    let in_period = |date: NaiveDate| {
        period.from.is_none_or(|f| date >= f) && period.to.is_none_or(|t| date <= t)
    };
    let mut procedures = 0;
    let mut patients = 0;
    let mut patients_followed = 0;
    let mut consented = 0;
    let mut window_30_closed = 0;
    let mut before_informed = Vec::new();
    let mut no_consent = Vec::new();
    let mut uncertainties = Vec::new();
    let mut uncredentialed = Vec::new();
    let mut no_30_day = Vec::new();
    let mut overdue = Vec::new();
    let informed_on = site.governance_lead_informed_on;

    for file in files
        .iter()
        .filter(|f| f.patient.home_site == site.site_code)
    {
        let registry_id = file.patient.registry_id.to_string();
        let item = |date: NaiveDate, record: RecordId, detail: String| Item {
            date,
            patient_id: Some(file.patient_id),
            registry_id: Some(registry_id.clone()),
            record,
            detail,
        };
        let death = file.death().map(|(_, d)| d.date);
        let followed_until = [Some(today), death, file.patient.follow_up_ended_on]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or(today);
        let in_follow_up = death.is_none() && file.patient.follow_up_ended_on.is_none();
        let mut theirs: Vec<(RecordId, &IndexProcedure)> = file
            .procedures()
            .filter(|(_, p)| in_period(p.procedure_date))
            .collect();
        if theirs.is_empty() {
            continue;
        }
        theirs.sort_by_key(|(id, p)| (p.procedure_date, *id));
        patients += 1;
        patients_followed += usize::from(in_follow_up);
        // The patient's overdue visits, gathered into one item.
        let mut late: Vec<(NaiveDate, String)> = Vec::new();
        let mut late_record = None;
        for (procedure_id, procedure) in theirs {
            procedures += 1;
            let date = procedure.procedure_date;
            if let Some(informed) = informed_on
                && date < informed
            {
                before_informed.push(item(
                    date,
                    procedure_id,
                    format!(
                        "procedure on {date}, before the governance lead was informed on {informed}"
                    ),
                ));
            }
            match file.consent_for(date) {
                None => no_consent.push(item(
                    date,
                    procedure_id,
                    format!("procedure on {date}: no consent recorded on or before it"),
                )),
                Some((consent_id, c)) => {
                    consented += 1;
                    if !c.uncertainties_explained {
                        uncertainties.push(item(
                            date,
                            consent_id,
                            format!(
                                "consent of {} for the procedure on {date}: uncertainties not recorded as explained",
                                c.consent_date
                            ),
                        ));
                    }
                }
            }
            match reference.clinicians.get(&procedure.primary_operator) {
                Some(operator) if operator.credentialed_on(date, site.min_proctored_cases) => {}
                Some(operator) => uncredentialed.push(item(
                    date,
                    procedure_id,
                    format!(
                        "procedure on {date} by {}: not credentialed on that date",
                        operator.display_name
                    ),
                )),
                None => uncredentialed.push(item(
                    date,
                    procedure_id,
                    format!(
                        "procedure on {date}: its primary operator is not among the registry's clinicians"
                    ),
                )),
            }
            let visits = visit_dates(file, procedure_id);
            let (_, closes) = schedule::window_dates(date, Timepoint::Day30);
            // Only a window that closed while the patient was alive and in
            // follow-up could have had its visit.
            if closes < followed_until {
                window_30_closed += 1;
                if schedule::representative_visit(date, Timepoint::Day30, &visits).is_none() {
                    no_30_day.push(item(
                        date,
                        procedure_id,
                        format!("procedure on {date}: no visit between day 14 and day 60"),
                    ));
                }
            }
            let ctx = FollowUpContext {
                procedure_date: date,
                visit_dates: &visits,
                death_date: death,
                follow_up_ended_on: file.patient.follow_up_ended_on,
            };
            for w in schedule::worklist(&ctx, today) {
                if w.state == WorklistState::Overdue {
                    late_record.get_or_insert(procedure_id);
                    late.push((
                        w.window_closes,
                        format!(
                            "{} visit after the procedure on {date} (window closed {})",
                            w.timepoint.label(),
                            w.window_closes
                        ),
                    ));
                }
            }
        }
        if let Some(record) = late_record {
            late.sort();
            let first = late[0].0;
            let visits = late.len();
            let list: Vec<String> = late.into_iter().map(|(_, d)| d).collect();
            overdue.push(item(
                first,
                record,
                format!(
                    "{visits} overdue visit{}: {}",
                    if visits == 1 { "" } else { "s" },
                    list.join("; ")
                ),
            ));
        }
    }

    let procedures_d = || Denominator {
        n: procedures,
        of: "index procedures in the period",
    };
    let mut checks = vec![governance_lead(site, procedures_d(), before_informed)];
    checks.push(review_meetings(meetings, today));
    checks.push(counted(
        "no_consent",
        "1.2",
        "Procedures without recorded consent",
        "had no recorded consent",
        procedures_d(),
        no_consent,
    ));
    checks.push(counted(
        "uncertainties_not_explained",
        "1.2",
        "Consent without the uncertainties explained",
        "had a consent that does not record the safety, efficacy and uncertainties as explained",
        Denominator {
            n: consented,
            of: "index procedures with a recorded consent",
        },
        uncertainties,
    ));
    checks.push(counted(
        "operator_not_credentialed",
        "3.7",
        "Operators not credentialed on the procedure date",
        "were done by a primary operator not credentialed on the day",
        procedures_d(),
        uncredentialed,
    ));
    checks.push(counted(
        "no_30_day_visit",
        "1.2, 3.6",
        "Procedures without a 30-day visit",
        "had no visit between day 14 and day 60",
        Denominator {
            n: window_30_closed,
            of: "index procedures whose 30-day window closed while the patient was followed",
        },
        no_30_day,
    ));
    checks.push(counted(
        "overdue_follow_up",
        "3.6",
        "Overdue follow-up visits",
        "had an overdue follow-up visit",
        Denominator {
            n: patients_followed,
            of: "patients alive and in follow-up",
        },
        overdue,
    ));
    Compliance {
        site_code: site.site_code.to_string(),
        site_name: site.name.to_string(),
        period,
        today,
        procedures,
        patients,
        checks,
    }
}

/// IPG773 1.2: the governance lead informed, and when; the procedures of
/// the period done before that date are listed.
fn governance_lead(site: &Site, procedures: Denominator, before: Vec<Item>) -> Check {
    let mut check = counted(
        "governance_lead_informed",
        "1.2",
        "Clinical governance lead informed",
        "were done before the governance lead was informed",
        procedures,
        before,
    );
    match site.governance_lead_informed_on {
        Some(d) => {
            let who = site
                .governance_lead_name
                .as_deref()
                .map(|n| format!(" ({n})"))
                .unwrap_or_default();
            check.status = match check.count {
                Some(k) if k > 0 => format!(
                    "informed on {d}{who}; {k} index procedure{} of the period before that date",
                    if k == 1 { "" } else { "s" }
                ),
                _ => format!("informed on {d}{who}"),
            };
        }
        None => {
            check.met = false;
            check.status = "no date recorded: the governance lead has not been informed".into();
            check.count = None;
            check.denominator = None;
        }
    }
    check
}

/// IPG773 1.3: the meetings held on or before `today`, oldest first; met
/// when the latest was held within the last 12 months.
fn review_meetings(meetings: &[(RecordId, GovernanceMeeting)], today: NaiveDate) -> Check {
    let mut held: Vec<&(RecordId, GovernanceMeeting)> = meetings
        .iter()
        .filter(|(_, m)| m.held_on <= today)
        .collect();
    held.sort_by_key(|(id, m)| (m.held_on, *id));
    let last = held.last().map(|(_, m)| m.held_on);
    let overdue = last
        .and_then(|d| d.checked_add_days(Days::new(MEETING_INTERVAL_DAYS)))
        .is_none_or(|due| due < today);
    let items = held
        .iter()
        .map(|(id, m)| {
            let mut detail = format!("review meeting held on {}", m.held_on);
            if let Some(a) = m.attendees.as_deref().filter(|a| !a.trim().is_empty()) {
                detail.push_str(&format!("; attendees: {a}"));
            }
            if let Some(v) = m.report_data_version.as_deref().filter(|v| !v.is_empty()) {
                detail.push_str(&format!(
                    "; reviewed data version {}",
                    v.get(..12).unwrap_or(v)
                ));
            }
            if let Some(a) = m.actions.as_deref().filter(|a| !a.trim().is_empty()) {
                detail.push_str(&format!("; actions: {a}"));
            }
            Item {
                date: m.held_on,
                patient_id: None,
                registry_id: None,
                record: *id,
                detail,
            }
        })
        .collect();
    Check {
        key: "review_meeting",
        paragraph: "1.3",
        title: "Governance review meeting in the last 12 months",
        met: !overdue,
        status: match last {
            Some(d) if overdue => format!("last meeting on {d}: overdue"),
            Some(d) => format!("last meeting on {d}"),
            None => "no meeting recorded".into(),
        },
        count: None,
        denominator: None,
        shortfall: "",
        items,
    }
}
