//! Derived values that more than one record or report needs, each computed
//! in exactly one place (DOMAIN.md section 6).

use crate::codes::VenousArchFlow;
use crate::values::{Abi, AnklePressure, Eq5dLevel, Tcpo2, ToePressure, VascuQolItem, WifiGrade};

/// SVS WIfI clinical stage (amputation-risk table, "Table 4a"), indexed
/// `[wound][ischaemia][foot_infection]`.
const WIFI_STAGE: [[[u8; 4]; 4]; 4] = [
    // W0
    [[1, 1, 2, 3], [1, 2, 3, 4], [2, 2, 3, 4], [2, 3, 3, 4]],
    // W1
    [[1, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 4], [3, 3, 4, 4]],
    // W2
    [[2, 2, 3, 4], [3, 3, 4, 4], [3, 4, 4, 4], [4, 4, 4, 4]],
    // W3
    [[3, 3, 4, 4], [4, 4, 4, 4], [4, 4, 4, 4], [4, 4, 4, 4]],
];

/// WIfI clinical stage 1–4 (estimated 1-year amputation risk: very low, low,
/// moderate, high).
pub fn wifi_clinical_stage(wound: WifiGrade, ischaemia: WifiGrade, infection: WifiGrade) -> u8 {
    WIFI_STAGE[usize::from(wound.get())][usize::from(ischaemia.get())][usize::from(infection.get())]
}

/// The WIfI ischaemia grade that the measured perfusion values suggest: the
/// worst of the grades from ABI, ankle systolic pressure and toe pressure or
/// TcPO₂ (DOMAIN.md 6.1). An ABI above 1.4 means the ankle vessels are
/// incompressible, so both ankle measurements (the ABI and the ankle systolic
/// pressure, taken with the same cuff) are ignored and only the toe pressure
/// or TcPO₂ count. `None` when nothing usable was measured.
///
/// The published bands overlap at their edges (ankle pressure "70–100" and
/// "50–70"); a value on an edge takes the milder grade, as the bands for ABI
/// and toe pressure (written without overlap) do.
pub fn suggested_wifi_ischaemia(
    abi: Option<Abi>,
    ankle_systolic: Option<AnklePressure>,
    toe_pressure: Option<ToePressure>,
    tcpo2: Option<Tcpo2>,
) -> Option<WifiGrade> {
    let incompressible = abi.is_some_and(|a| a.get() > 1.4);
    let from_abi = abi.map(|a| a.get()).filter(|_| !incompressible).map(|a| {
        if a >= 0.80 {
            0
        } else if a >= 0.60 {
            1
        } else if a >= 0.40 {
            2
        } else {
            3
        }
    });
    let from_ankle = ankle_systolic
        .filter(|_| !incompressible)
        .map(|p| match p.get() {
            101.. => 0,
            70..=100 => 1,
            50..=69 => 2,
            _ => 3,
        });
    let toe_band = |p: u16| match p {
        60.. => 0,
        40..=59 => 1,
        30..=39 => 2,
        _ => 3,
    };
    let from_toe = toe_pressure.map(|p| toe_band(p.get()));
    let from_tcpo2 = tcpo2.map(|p| toe_band(p.get()));
    [from_abi, from_ankle, from_toe, from_tcpo2]
        .into_iter()
        .flatten()
        .max()
        .map(|g| WifiGrade::new(g).expect("grades 0-3"))
}

/// Whether the limb had a wound at baseline: the wound count when recorded,
/// else a WIfI wound grade above 0 (for the wound-healing endpoint).
pub fn has_wound(wound_count: Option<u32>, wifi_wound: WifiGrade) -> bool {
    wound_count.map_or(wifi_wound.get() > 0, |n| n > 0)
}

/// Technical success: a fistula created and arterialised flow into the deep
/// venous arch, complete or partial (DOMAIN.md 4.6).
pub fn technical_success(fistula_created: bool, venous_arch_flow: Option<VenousArchFlow>) -> bool {
    fistula_created
        && matches!(
            venous_arch_flow,
            Some(VenousArchFlow::Complete | VenousArchFlow::Partial)
        )
}

/// VascuQoL-6 total 6–24 (higher is better), only when all six items are
/// answered: no imputation (registry choice).
pub fn vascuqol6_total(items: &[Option<VascuQolItem>; 6]) -> Option<u8> {
    items
        .iter()
        .try_fold(0u8, |sum, item| item.map(|i| sum + i.get()))
}

/// Decrements of the EQ-5D-5L England value set (Devlin et al. 2018) for
/// levels 2–5 of each dimension, in the order mobility, self-care, usual
/// activities, pain/discomfort, anxiety/depression.
const EQ5D5L_ENGLAND: [[f64; 4]; 5] = [
    [-0.058, -0.076, -0.207, -0.274],
    [-0.050, -0.080, -0.164, -0.203],
    [-0.050, -0.063, -0.162, -0.184],
    [-0.063, -0.084, -0.276, -0.335],
    [-0.078, -0.104, -0.285, -0.289],
];

/// The value set [`eq5d5l_index_england`] uses, named in reports.
pub const EQ5D5L_VALUE_SET: &str = "EQ-5D-5L England value set (Devlin et al. 2018)";

/// EQ-5D-5L index: 1 plus the decrements of the profile, rounded to three
/// decimals.
pub fn eq5d5l_index_england(profile: [Eq5dLevel; 5]) -> f64 {
    let sum: f64 = profile
        .iter()
        .zip(EQ5D5L_ENGLAND.iter())
        .map(|(level, decrements)| match level.get() {
            1 => 0.0,
            l => decrements[usize::from(l) - 2],
        })
        .sum();
    ((1.0 + sum) * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g(n: i64) -> WifiGrade {
        WifiGrade::new(n).unwrap()
    }

    #[test]
    fn wifi_stage_matches_examples_of_the_table() {
        // W2/I1 = 3 3 4 4 (DOMAIN.md 6.1's worked example).
        let row: Vec<u8> = (0..4)
            .map(|f| wifi_clinical_stage(g(2), g(1), g(f)))
            .collect();
        assert_eq!(row, [3, 3, 4, 4]);
        assert_eq!(wifi_clinical_stage(g(0), g(0), g(0)), 1);
        assert_eq!(wifi_clinical_stage(g(3), g(0), g(0)), 3);
        assert_eq!(wifi_clinical_stage(g(1), g(3), g(0)), 3);
        assert_eq!(wifi_clinical_stage(g(0), g(3), g(1)), 3);
    }

    #[test]
    fn wifi_stage_is_monotone_in_every_grade() {
        // Worse wound, ischaemia or infection never lowers the stage.
        for w in 0..4 {
            for i in 0..4 {
                for f in 0..4 {
                    let s = wifi_clinical_stage(g(w), g(i), g(f));
                    if w < 3 {
                        assert!(wifi_clinical_stage(g(w + 1), g(i), g(f)) >= s);
                    }
                    if i < 3 {
                        assert!(wifi_clinical_stage(g(w), g(i + 1), g(f)) >= s);
                    }
                    if f < 3 {
                        assert!(wifi_clinical_stage(g(w), g(i), g(f + 1)) >= s);
                    }
                }
            }
        }
    }

    fn profile(s: &str) -> [Eq5dLevel; 5] {
        let v: Vec<_> = s
            .bytes()
            .map(|b| Eq5dLevel::new(i64::from(b - b'0')).unwrap())
            .collect();
        v.try_into().unwrap()
    }

    #[test]
    fn eq5d_index_matches_the_eq5d_package_test_vectors() {
        for (p, expected) in [
            ("11111", 1.000),
            ("55555", -0.285),
            ("23245", 0.247),
            ("11112", 0.922),
            ("11121", 0.937),
            ("11211", 0.950),
            ("12111", 0.950),
            ("21111", 0.942),
        ] {
            assert_eq!(eq5d5l_index_england(profile(p)), expected, "{p}");
        }
    }

    #[test]
    fn vascuqol_total_needs_all_six() {
        let item = |n| Some(VascuQolItem::new(n).unwrap());
        assert_eq!(
            vascuqol6_total(&[item(1), item(2), item(3), item(4), item(4), item(4)]),
            Some(18)
        );
        assert_eq!(
            vascuqol6_total(&[item(1), None, item(3), item(4), item(4), item(4)]),
            None
        );
    }

    #[test]
    fn ischaemia_suggestion_takes_the_worst_and_ignores_incompressible_abi() {
        let abi = |v| Some(Abi::new(v).unwrap());
        let toe = |v| Some(ToePressure::new(v).unwrap());
        assert_eq!(suggested_wifi_ischaemia(None, None, None, None), None);
        assert_eq!(
            suggested_wifi_ischaemia(abi(0.9), None, toe(35), None),
            Some(g(2))
        );
        // ABI 1.6 is incompressible: only the toe pressure counts.
        assert_eq!(
            suggested_wifi_ischaemia(abi(1.6), None, toe(65), None),
            Some(g(0))
        );
        assert_eq!(
            suggested_wifi_ischaemia(abi(0.39), None, None, None),
            Some(g(3))
        );
        // The ankle pressure is as falsely high as the ABI in incompressible vessels.
        let ankle150 = Some(AnklePressure::new(150).unwrap());
        assert_eq!(
            suggested_wifi_ischaemia(abi(1.6), ankle150, toe(25), None),
            Some(g(3))
        );
        assert_eq!(
            suggested_wifi_ischaemia(abi(1.6), ankle150, None, None),
            None
        );
        let ankle = |v| Some(AnklePressure::new(v).unwrap());
        assert_eq!(
            suggested_wifi_ischaemia(None, ankle(70), None, None),
            Some(g(1))
        );
        assert_eq!(
            suggested_wifi_ischaemia(None, ankle(49), None, None),
            Some(g(3))
        );
    }
}
