//! The lifelong follow-up schedule (DOMAIN.md section 5, IPG773 3.6).
//!
//! Day 0 is the index procedure. Windows are contiguous from day 14 and never
//! end (registry choice); a visit before day 14 belongs to no timepoint.

use chrono::{Days, NaiveDate};
use serde::Serialize;

/// A scheduled follow-up timepoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Timepoint {
    /// 30 days (window 14–60).
    Day30,
    /// 3 months (61–135).
    Month3,
    /// 6 months (136–273).
    Month6,
    /// 12 months (274–547).
    Month12,
    /// Year N ≥ 2 (365·N − 182 … 365·N + 182).
    Year(u32),
}

/// First day of the first window.
pub const FIRST_WINDOW_DAY: i64 = 14;

impl Timepoint {
    /// Target day.
    pub fn target_day(self) -> i64 {
        match self {
            Self::Day30 => 30,
            Self::Month3 => 91,
            Self::Month6 => 182,
            Self::Month12 => 365,
            Self::Year(n) => 365 * i64::from(n),
        }
    }

    /// The window's first and last day (inclusive).
    pub fn window(self) -> (i64, i64) {
        match self {
            Self::Day30 => (14, 60),
            Self::Month3 => (61, 135),
            Self::Month6 => (136, 273),
            Self::Month12 => (274, 547),
            Self::Year(n) => {
                let t = 365 * i64::from(n);
                (t - 182, t + 182)
            }
        }
    }

    /// The timepoint after this one.
    pub fn next(self) -> Self {
        match self {
            Self::Day30 => Self::Month3,
            Self::Month3 => Self::Month6,
            Self::Month6 => Self::Month12,
            Self::Month12 => Self::Year(2),
            Self::Year(n) => Self::Year(n + 1),
        }
    }

    /// Timepoints in order, for ever.
    pub fn iter() -> impl Iterator<Item = Timepoint> {
        std::iter::successors(Some(Self::Day30), |t| Some(t.next()))
    }

    /// The timepoint's place in [`Timepoint::iter`]'s order: 0 for 30
    /// days, 1 to 3 for 3, 6 and 12 months, N + 2 for year N.
    pub fn place(self) -> u64 {
        match self {
            Self::Day30 => 0,
            Self::Month3 => 1,
            Self::Month6 => 2,
            Self::Month12 => 3,
            Self::Year(n) => u64::from(n) + 2,
        }
    }

    /// The timepoint whose window holds `day` (days since the procedure).
    pub fn for_day(day: i64) -> Option<Self> {
        if day < FIRST_WINDOW_DAY {
            return None;
        }
        if day <= 547 {
            return Self::iter().take(4).find(|t| day <= t.window().1);
        }
        // Year N's window is 365N-182 ..= 365N+182.
        let n = (day + 182) / 365;
        Some(Self::Year(n as u32))
    }

    /// Stable machine name (`30_days`, `3_months`, …, `year_5`).
    pub fn key(self) -> String {
        match self {
            Self::Day30 => "30_days".into(),
            Self::Month3 => "3_months".into(),
            Self::Month6 => "6_months".into(),
            Self::Month12 => "12_months".into(),
            Self::Year(n) => format!("year_{n}"),
        }
    }

    /// Label for people.
    pub fn label(self) -> String {
        match self {
            Self::Day30 => "30 days".into(),
            Self::Month3 => "3 months".into(),
            Self::Month6 => "6 months".into(),
            Self::Month12 => "12 months".into(),
            Self::Year(n) => format!("Year {n}"),
        }
    }
}

/// Days from `procedure_date` to `date`.
pub fn day_of(procedure_date: NaiveDate, date: NaiveDate) -> i64 {
    (date - procedure_date).num_days()
}

/// A window's calendar dates for a procedure.
pub fn window_dates(procedure_date: NaiveDate, timepoint: Timepoint) -> (NaiveDate, NaiveDate) {
    let (a, b) = timepoint.window();
    (
        procedure_date + Days::new(a as u64),
        procedure_date + Days::new(b as u64),
    )
}

/// Of several visits in one window, the one closest to the target day
/// represents the timepoint (the earlier on a tie).
pub fn representative_visit(
    procedure_date: NaiveDate,
    timepoint: Timepoint,
    visit_dates: &[NaiveDate],
) -> Option<NaiveDate> {
    let (a, b) = timepoint.window();
    visit_dates
        .iter()
        .copied()
        .filter(|d| (a..=b).contains(&day_of(procedure_date, *d)))
        .min_by_key(|d| {
            (
                (day_of(procedure_date, *d) - timepoint.target_day()).abs(),
                *d,
            )
        })
}

/// What the worklist needs to know of one index procedure.
#[derive(Debug, Clone)]
pub struct FollowUpContext<'a> {
    /// Day 0.
    pub procedure_date: NaiveDate,
    /// Dates of the (non-voided) follow-up visits of this procedure.
    pub visit_dates: &'a [NaiveDate],
    /// Date of death, if the patient died.
    pub death_date: Option<NaiveDate>,
    /// Date lifelong follow-up ended (withdrew, moved, transferred).
    pub follow_up_ended_on: Option<NaiveDate>,
}

/// A timepoint's state in the worklist (DOMAIN.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WorklistState {
    /// Today is inside the window and it has no visit.
    Due,
    /// The window opens within 30 days.
    DueSoon,
    /// The window closed without a visit.
    Overdue,
}

/// One line of the worklist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WorklistItem {
    /// The timepoint.
    pub timepoint: Timepoint,
    /// Its state.
    pub state: WorklistState,
    /// First day of its window.
    pub window_opens: NaiveDate,
    /// Last day of its window.
    pub window_closes: NaiveDate,
}

/// How far ahead "due soon" looks.
pub const DUE_SOON_DAYS: i64 = 30;

/// Whether follow-up goes on: alive and not ended.
pub fn follow_up_active(ctx: &FollowUpContext<'_>) -> bool {
    ctx.death_date.is_none() && ctx.follow_up_ended_on.is_none()
}

/// The worklist items of one index procedure on `today`: the timepoint due
/// now, the one due soon, and the most recent closed window if it has no
/// visit (an older missed window is no longer actionable; it shows in
/// completeness instead). Nothing for a patient who died or whose follow-up
/// ended; otherwise never empty-for-ever, because the schedule never ends.
pub fn worklist(ctx: &FollowUpContext<'_>, today: NaiveDate) -> Vec<WorklistItem> {
    if !follow_up_active(ctx) {
        return Vec::new();
    }
    let today_day = day_of(ctx.procedure_date, today);
    let has_visit =
        |t: Timepoint| representative_visit(ctx.procedure_date, t, ctx.visit_dates).is_some();
    let item = |t: Timepoint, state| {
        let (window_opens, window_closes) = window_dates(ctx.procedure_date, t);
        WorklistItem {
            timepoint: t,
            state,
            window_opens,
            window_closes,
        }
    };
    let mut items = Vec::new();
    let mut last_closed = None;
    for t in Timepoint::iter() {
        let (a, b) = t.window();
        if b < today_day {
            last_closed = Some(t);
            continue;
        }
        if let Some(closed) = last_closed.take()
            && !has_visit(closed)
        {
            items.push(item(closed, WorklistState::Overdue));
        }
        if a <= today_day {
            if !has_visit(t) {
                items.push(item(t, WorklistState::Due));
            }
        } else {
            if a - today_day <= DUE_SOON_DAYS {
                items.push(item(t, WorklistState::DueSoon));
            }
            break;
        }
    }
    items
}

/// Follow-up completeness of one index procedure (DOMAIN.md section 5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Completeness {
    /// Closed windows that have a visit.
    pub with_visit: u32,
    /// Windows that closed while the patient was alive and in follow-up.
    pub closed: u32,
}

impl Completeness {
    /// The proportion, or `None` when no window has closed yet.
    pub fn proportion(self) -> Option<f64> {
        (self.closed > 0).then(|| f64::from(self.with_visit) / f64::from(self.closed))
    }
}

impl std::ops::Add for Completeness {
    type Output = Self;
    fn add(self, rhs: Self) -> Self {
        Self {
            with_visit: self.with_visit + rhs.with_visit,
            closed: self.closed + rhs.closed,
        }
    }
}

/// Timepoints with a visit ÷ timepoints whose window closed while the patient
/// was alive (and before follow-up ended), as of `today`. Only closed windows
/// count in the numerator too, so the proportion never exceeds 1.
pub fn completeness(ctx: &FollowUpContext<'_>, today: NaiveDate) -> Completeness {
    let mut end = today;
    if let Some(d) = ctx.death_date {
        end = end.min(d);
    }
    if let Some(d) = ctx.follow_up_ended_on {
        end = end.min(d);
    }
    let end_day = day_of(ctx.procedure_date, end);
    // A window has a representative visit exactly when some visit falls in
    // it: the visits' days once, not once per window.
    let visit_days: Vec<i64> = ctx
        .visit_dates
        .iter()
        .map(|d| day_of(ctx.procedure_date, *d))
        .collect();
    completeness_of_days(end_day, &visit_days)
}

/// [`completeness`] from days since the procedure: `end_day` is the day
/// observation ended (the report date, death or the end of follow-up,
/// whichever is earliest) and `visit_days` the follow-up visits' days, in
/// any order. A caller that already has the days avoids an allocation.
pub fn completeness_of_days(end_day: i64, visit_days: &[i64]) -> Completeness {
    // The windows partition the days from day 14 on, so each visit marks
    // the one window that holds it (a bit by the window's place in
    // `Timepoint::iter`), and the closed windows are then read off the
    // marks: O(windows + visits) rather than a search of every visit for
    // every window. A visit beyond the 128th window (a century) is counted
    // by the search.
    let mut marked: u128 = 0;
    for &day in visit_days {
        if let Some(t) = Timepoint::for_day(day) {
            match u32::try_from(t.place())
                .ok()
                .and_then(|i| 1u128.checked_shl(i))
            {
                Some(bit) => marked |= bit,
                None => return completeness_by_search(end_day, visit_days),
            }
        }
    }
    let mut c = Completeness::default();
    for (i, t) in Timepoint::iter().enumerate() {
        // A window closes at the end of its last day.
        if t.window().1 >= end_day {
            break;
        }
        c.closed += 1;
        c.with_visit += u32::from(i < 128 && marked >> i & 1 == 1);
    }
    c
}

/// [`completeness_of_days`] by searching the visits for each window.
fn completeness_by_search(end_day: i64, visit_days: &[i64]) -> Completeness {
    let mut c = Completeness::default();
    for t in Timepoint::iter() {
        let (a, b) = t.window();
        if b >= end_day {
            break;
        }
        c.closed += 1;
        if visit_days.iter().any(|d| (a..=b).contains(d)) {
            c.with_visit += 1;
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn places_follow_the_order_of_the_timepoints() {
        for (i, t) in Timepoint::iter().take(200).enumerate() {
            assert_eq!(t.place(), i as u64, "{t:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn completeness_from_marks_equals_the_search(
            end_day in -10i64..60_000,
            visit_days in proptest::collection::vec(-30i64..60_000, 0..40),
        ) {
            proptest::prop_assert_eq!(
                completeness_of_days(end_day, &visit_days),
                completeness_by_search(end_day, &visit_days)
            );
        }
    }

    #[test]
    fn a_visit_past_the_128th_window_is_counted_by_the_search() {
        let far = Timepoint::Year(200).target_day();
        let visits = [30, 400, far];
        assert_eq!(
            completeness_of_days(far + 365, &visits),
            completeness_by_search(far + 365, &visits)
        );
        assert_eq!(completeness_of_days(far + 365, &visits).with_visit, 3);
    }

    #[test]
    fn windows_are_contiguous_from_day_14() {
        let mut expected_start = FIRST_WINDOW_DAY;
        for t in Timepoint::iter().take(40) {
            let (a, b) = t.window();
            assert_eq!(a, expected_start, "{t:?}");
            assert!(a <= t.target_day() && t.target_day() <= b);
            expected_start = b + 1;
        }
    }

    #[test]
    fn day_maps_to_the_window_that_holds_it() {
        assert_eq!(Timepoint::for_day(13), None);
        assert_eq!(Timepoint::for_day(14), Some(Timepoint::Day30));
        assert_eq!(Timepoint::for_day(60), Some(Timepoint::Day30));
        assert_eq!(Timepoint::for_day(61), Some(Timepoint::Month3));
        assert_eq!(Timepoint::for_day(273), Some(Timepoint::Month6));
        assert_eq!(Timepoint::for_day(547), Some(Timepoint::Month12));
        assert_eq!(Timepoint::for_day(548), Some(Timepoint::Year(2)));
        assert_eq!(Timepoint::for_day(912), Some(Timepoint::Year(2)));
        assert_eq!(Timepoint::for_day(913), Some(Timepoint::Year(3)));
        for day in 14..5000 {
            let t = Timepoint::for_day(day).unwrap();
            let (a, b) = t.window();
            assert!((a..=b).contains(&day), "day {day} -> {t:?}");
        }
    }

    #[test]
    fn closest_visit_to_target_represents_the_window() {
        let p = d("2024-01-01");
        let visits = [d("2024-01-20"), d("2024-02-02"), d("2024-02-25")];
        assert_eq!(
            representative_visit(p, Timepoint::Day30, &visits),
            Some(d("2024-02-02"))
        );
    }

    #[test]
    fn worklist_states() {
        let p = d("2024-01-01");
        let none: [NaiveDate; 0] = [];
        let ctx = FollowUpContext {
            procedure_date: p,
            visit_dates: &none,
            death_date: None,
            follow_up_ended_on: None,
        };
        // Day 0: the 30-day window opens on day 14: due soon.
        let items = worklist(&ctx, p);
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].state, WorklistState::DueSoon);
        // Day 70: 30-day window closed without visit; 3-month window open.
        let items = worklist(&ctx, d("2024-03-11"));
        let states: Vec<_> = items.iter().map(|i| (i.timepoint, i.state)).collect();
        assert_eq!(
            states,
            [
                (Timepoint::Day30, WorklistState::Overdue),
                (Timepoint::Month3, WorklistState::Due)
            ]
        );
        // After death nothing is due.
        let dead = FollowUpContext {
            death_date: Some(d("2024-02-01")),
            ..ctx.clone()
        };
        assert!(worklist(&dead, d("2024-03-11")).is_empty());
    }

    #[test]
    fn completeness_counts_closed_windows_while_alive() {
        let p = d("2020-01-01");
        let visits = [d("2020-02-01"), d("2020-07-01")]; // 30 days and 6 months
        let ctx = FollowUpContext {
            procedure_date: p,
            visit_dates: &visits,
            death_date: None,
            follow_up_ended_on: None,
        };
        // On day 300: 30d, 3m, 6m closed; 12m open.
        let c = completeness(&ctx, p + Days::new(300));
        assert_eq!(
            c,
            Completeness {
                with_visit: 2,
                closed: 3
            }
        );
        let died = FollowUpContext {
            death_date: Some(p + Days::new(100)),
            ..ctx
        };
        // Died on day 100, inside the 3-month window: only the 30-day window closed while alive.
        assert_eq!(
            completeness(&died, p + Days::new(3000)),
            Completeness {
                with_visit: 1,
                closed: 1
            }
        );
    }
}
