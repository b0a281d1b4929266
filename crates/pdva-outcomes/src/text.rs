//! The report as a readable summary for a terminal.

use std::fmt::Write;

use crate::report::*;

fn pct(x: Option<f64>) -> String {
    x.map_or_else(|| "—".to_owned(), |v| format!("{:.1}%", 100.0 * v))
}

fn ci(lo: Option<f64>, hi: Option<f64>) -> String {
    match (lo, hi) {
        (Some(l), Some(h)) => format!("({:.1}–{:.1})", 100.0 * l, 100.0 * h),
        _ => String::new(),
    }
}

fn days(x: Option<f64>) -> String {
    x.map_or_else(|| "not reached".to_owned(), |d| format!("{d:.0} d"))
}

fn proportion_line(out: &mut String, name: &str, p: &ProportionEndpoint) {
    let _ = write!(
        out,
        "  {name:<36} {:>5}/{:<7} {:>7} {}",
        p.k,
        p.n,
        pct(p.estimate),
        ci(p.ci_lower, p.ci_upper)
    );
    // DOMAIN.md section 7: shown beside the proportion, never folded in.
    if let Some(u) = p.status_unknown {
        let _ = write!(out, "  status unknown at 30 days: {u}");
    }
    let _ = writeln!(out);
}

fn survival_block(out: &mut String, name: &str, s: &SurvivalEndpoint) {
    let _ = write!(out, "  {name:<36}");
    for e in &s.estimates {
        let _ = write!(
            out,
            " {:>6} {:<13}",
            pct(Some(e.survival)),
            ci(e.ci_lower, e.ci_upper)
        );
    }
    let _ = writeln!(out, " {:>7}/{:<7} {}", s.events, s.n, days(s.median_days));
    // At risk at the start of each day (time ≥ t), as the curves' rows.
    let _ = write!(out, "  {:<36}", "    at risk");
    for e in &s.estimates {
        let _ = write!(out, " {:>6} {:<13}", e.at_risk, "");
    }
    let _ = writeln!(out);
}

/// Renders the report as a summary table for a terminal.
pub fn render_text(r: &OutcomesReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "pDVA outcomes report (NICE IPG773)");
    let _ = writeln!(out, "  data version {}   as of {}", r.data_version, r.as_of);
    let f = &r.filters;
    let mut filters = Vec::new();
    if let Some(s) = &f.site {
        filters.push(format!("site {s}"));
    }
    if let Some(o) = &f.operator_name {
        filters.push(format!("operator {o}"));
    }
    if let Some(d) = &f.from {
        filters.push(format!("procedures from {d}"));
    }
    if let Some(d) = &f.to {
        filters.push(format!("procedures to {d}"));
    }
    let _ = writeln!(
        out,
        "  filters: {}",
        if filters.is_empty() {
            "none (whole registry)".to_owned()
        } else {
            filters.join(", ")
        }
    );
    if let Some(d) = &r.disclosure {
        let _ = writeln!(
            out,
            "  research report: the research population only; counts 1–{} shown as <{}, others \
             withheld as \"suppressed\" where a total would give them away; dates snapped to \
             whole quarters{}",
            d.threshold - 1,
            d.threshold,
            match (&d.period_from, &d.period_to) {
                (None, None) => String::new(),
                (from, to) => format!(
                    " (period {} to {})",
                    from.as_deref().unwrap_or("the first procedure"),
                    to.as_deref().unwrap_or("the report date")
                ),
            }
        );
    }
    let c = &r.cohort;
    let _ = writeln!(
        out,
        "  {} patients, {} index procedures ({} bilateral patients), {} dialysis dependent, {} died, {} left follow-up\n",
        c.patients,
        c.index_procedures,
        c.bilateral_patients,
        c.dialysis_dependent_patients,
        c.deaths,
        c.follow_up_ended
    );

    let _ = writeln!(out, "Time to event (Kaplan–Meier, 95% CI)");
    let _ = write!(out, "  {:<36}", "endpoint");
    for e in &r.amputation_free_survival.estimates {
        let _ = write!(out, " {:<20}", e.label);
    }
    let _ = writeln!(out, " {:>15} median", "events/n");
    for (name, s) in [
        ("Amputation-free survival", &r.amputation_free_survival),
        ("Overall survival", &r.overall_survival),
        (
            "Freedom from major amputation",
            &r.freedom_from_major_amputation,
        ),
        (
            "Freedom from unplanned reintervention",
            &r.freedom_from_unplanned_reintervention,
        ),
        (
            "Freedom from any reintervention",
            &r.freedom_from_any_reintervention,
        ),
        ("Freedom from MALE", &r.freedom_from_male),
    ] {
        survival_block(&mut out, name, s);
    }

    let _ = writeln!(
        out,
        "\nCumulative incidence (Aalen–Johansen, 95% CI) [1 − KM]"
    );
    for (name, c) in [
        (
            "Major amputation (death competing)",
            &r.cumulative_incidence_major_amputation,
        ),
        (
            "Wound healing (amputation, death compete)",
            &r.cumulative_incidence_wound_healing,
        ),
    ] {
        let _ = write!(out, "  {name:<42}");
        for e in &c.estimates {
            let _ = write!(
                out,
                " {}: {} {} [{}]",
                e.label,
                pct(Some(e.cumulative_incidence)),
                ci(e.ci_lower, e.ci_upper),
                pct(Some(e.one_minus_kaplan_meier))
            );
        }
        let _ = writeln!(out);
    }
    let _ = writeln!(out, "  {}", WHY);

    let _ = writeln!(out, "\nProportions (Wilson 95% CI)");
    proportion_line(&mut out, "Technical success", &r.technical_success);
    proportion_line(&mut out, "30-day mortality", &r.mortality_30_day);
    proportion_line(
        &mut out,
        "30-day major amputation",
        &r.major_amputation_30_day,
    );
    proportion_line(
        &mut out,
        "30-day adverse event (any)",
        &r.adverse_events_30_day.any,
    );
    for k in &r.adverse_events_30_day.by_kind {
        proportion_line(
            &mut out,
            &format!("  30-day {}", k.label.to_lowercase()),
            &k.proportion,
        );
    }
    proportion_line(
        &mut out,
        "Wound healed at 6-month visit",
        &r.wound_status_6_months.healed,
    );
    proportion_line(
        &mut out,
        "Wound healing at 6-month visit",
        &r.wound_status_6_months.healing,
    );
    proportion_line(
        &mut out,
        "Follow-up completeness",
        &r.follow_up_completeness.overall,
    );
    for s in &r.follow_up_completeness.by_site {
        if s.flagged {
            let _ = writeln!(
                out,
                "    site {} below {:.0}%: {}",
                s.site,
                100.0 * r.follow_up_completeness.flag_below,
                pct(s.completeness.estimate)
            );
        }
    }

    let _ = writeln!(
        out,
        "\nReintervention rates per 100 patient-years (exact Poisson 95% CI)"
    );
    for (name, rate) in [
        ("Planned", &r.planned_reintervention_rate),
        ("Unplanned", &r.unplanned_reintervention_rate),
    ] {
        let _ = writeln!(
            out,
            "  {name:<12} {:>6} events / {:>10.1} patient-years = {} ({}–{})",
            rate.events,
            rate.patient_years,
            rate.rate.map_or("—".into(), |x| format!("{x:.1}")),
            rate.ci_lower.map_or("—".into(), |x| format!("{x:.1}")),
            rate.ci_upper.map_or("—".into(), |x| format!("{x:.1}")),
        );
    }

    let a = &r.duration_of_anticoagulation;
    let _ = writeln!(
        out,
        "\nDuration of anticoagulation (KM median [quartiles], days)"
    );
    for t in std::iter::once(&a.overall).chain(&a.by_drug) {
        let _ = writeln!(
            out,
            "  {:<32} n {:>7}  completed {:>7}  median {} [{} – {}]",
            t.label,
            t.n,
            t.completed,
            days(t.km_median_days),
            days(t.km_q1_days),
            days(t.km_q3_days)
        );
    }

    let q = &r.quality_of_life;
    let _ = writeln!(
        out,
        "\nQuality of life: median [IQR], change from baseline (paired n); {}; {}",
        q.quantile_definition, q.eq5d_value_set
    );
    for i in &q.instruments {
        let d = |x: &Distribution| match (x.median, x.q1, x.q3) {
            (Some(m), Some(a), Some(b)) => format!("{m:.2} [{a:.2}–{b:.2}] n {}", x.n),
            _ => "—".to_owned(),
        };
        let _ = writeln!(out, "  {:<48} baseline {}", i.label, d(&i.baseline));
        for t in i.timepoints.iter().take(6) {
            let _ = writeln!(
                out,
                "    {:<12} {}   change {}",
                t.label,
                d(&t.value),
                d(&t.change)
            );
        }
    }
    let _ = writeln!(out, "  {}", q.eq5d_note);

    let _ = writeln!(
        out,
        "\nComparisons: amputation-free survival at 6 months by stratum (log-rank p)"
    );
    for cmp in &r.comparisons {
        let p = cmp
            .logrank_tests
            .iter()
            .find(|t| t.endpoint == "amputation_free_survival")
            .and_then(|t| t.p_value);
        let _ = writeln!(
            out,
            "  {} (log-rank p = {})",
            cmp.label,
            p.map_or("—".into(), |p| if p < 0.001 {
                "< 0.001".to_owned()
            } else {
                format!("{p:.3}")
            })
        );
        for s in &cmp.strata {
            let afs = s
                .endpoints
                .iter()
                .find(|e| e.endpoint == "amputation_free_survival")
                .and_then(|e| e.estimates.iter().find(|x| x.t_days == 182.0));
            let _ = writeln!(
                out,
                "    {:<40} n {:>7}  AFS 6 months {} {}",
                s.label,
                s.n,
                pct(afs.map(|e| e.survival)),
                ci(afs.and_then(|e| e.ci_lower), afs.and_then(|e| e.ci_upper))
            );
        }
    }

    let _ = writeln!(
        out,
        "\nPublished benchmarks (DOMAIN.md section 9) beside local figures"
    );
    for b in &r.benchmarks {
        let local: Vec<String> = b
            .local
            .iter()
            .map(|l| format!("{} {}", pct(l.estimate), ci(l.ci_lower, l.ci_upper)))
            .collect();
        let _ = writeln!(
            out,
            "  {}{} — {} at {} | local: {}",
            b.benchmark,
            if b.secondary_report { " †" } else { "" },
            b.figure,
            b.time,
            local.join("; ")
        );
        let _ = writeln!(out, "      source: {}", b.source);
    }
    let _ = writeln!(out, "  † {}", crate::benchmarks::SECONDARY_REPORT_CAVEAT);

    let _ = writeln!(
        out,
        "\nMonitoring: funnel plots (alert beyond 95%, alarm beyond 99.8% on the bad side)"
    );
    // Every funnel of a report compares with the same population: say it once.
    if let Some(f) = r.monitoring.funnels.first() {
        let _ = writeln!(out, "  Each unit compared with {}", f.compared_with);
    }
    for f in &r.monitoring.funnels {
        let flagged: Vec<String> = f
            .units
            .iter()
            .filter(|u| u.alert)
            .map(|u| {
                format!(
                    "{} {} ({}/{}, {})",
                    if u.alarm { "ALARM" } else { "alert" },
                    u.label,
                    u.k,
                    u.n,
                    pct(Some(u.observed))
                )
            })
            .collect();
        let _ = writeln!(
            out,
            "  {} by {} (bad if {}; mean {}): {}",
            f.indicator,
            f.unit_type,
            f.bad_direction,
            pct(f.registry_mean),
            if flagged.is_empty() {
                "all within limits".to_owned()
            } else {
                flagged.join("; ")
            }
        );
    }
    let lc = &r.monitoring.learning_curves;
    let _ = writeln!(
        out,
        "Learning curves (CUSUM, R_A = {}, h = {}): signals",
        lc.odds_ratio, lc.threshold
    );
    for ch in &lc.charts {
        if ch.signals > 0 {
            let _ = writeln!(
                out,
                "  {} {}: {} signal(s) in {} cases, first at case {}",
                ch.indicator, ch.label, ch.signals, ch.cases, ch.signal_at_cases[0]
            );
        }
    }
    if lc.charts.iter().all(|c| c.signals == 0) {
        let _ = writeln!(out, "  no operator signalled");
    }
    out
}

const WHY: &str = crate::WHY_COMPETING_RISKS;
