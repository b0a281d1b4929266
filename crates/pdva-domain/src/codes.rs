//! Coded values of the data dictionary (DOMAIN.md section 4).
//!
//! Every code is stored in snake case, exactly as DOMAIN.md lists it, and has a
//! label in clinical language for forms and reports. Parsing an unknown code is
//! an error that names the field, the value and the allowed codes.

use crate::error::FieldError;

/// Defines a closed set of codes with their stored spelling and clinical label.
macro_rules! code_enum {
    (
        $(#[$meta:meta])*
        $name:ident, field = $field:literal {
            $( $(#[$vmeta:meta])* $variant:ident => $code:literal, $label:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        // Each variant is stored exactly as DOMAIN.md spells it (serde's
        // snake_case would write `Type1` as `type1`, not `type_1`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            $( $(#[$vmeta])* #[doc = $label] #[serde(rename = $code)] $variant ),+
        }

        impl $name {
            /// Every code, in the order DOMAIN.md lists them.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The data-dictionary field name this code set is first used for.
            pub const FIELD: &'static str = $field;
            /// Every code's stored spelling with its label, in DOMAIN.md's
            /// order: what exports declare as the field's choices.
            pub const CODES: &'static [(&'static str, &'static str)] = &[$(($code, $label)),+];

            /// The stored (snake case) spelling.
            pub fn as_code(self) -> &'static str {
                match self { $($name::$variant => $code),+ }
            }

            /// The label shown to clinicians.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }

            /// Parses the stored spelling, naming `field` in the error.
            pub fn parse_for(field: &'static str, value: &str) -> Result<Self, FieldError> {
                match value.trim() {
                    $($code => Ok($name::$variant),)+
                    other => Err(FieldError::new(
                        field,
                        other,
                        format!(
                            "must be one of: {}",
                            [$($code),+].join(", ")
                        ),
                    )),
                }
            }
        }

        impl std::str::FromStr for $name {
            type Err = FieldError;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse_for($field, value)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_code())
            }
        }
    };
}

code_enum! {
    /// A clinician's specialty (4.2).
    Specialty, field = "specialty" {
        VascularSurgeon => "vascular_surgeon", "Vascular surgeon",
        InterventionalRadiologist => "interventional_radiologist", "Interventional radiologist",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Sex recorded for the patient (4.3).
    Sex, field = "sex" {
        Female => "female", "Female",
        Male => "male", "Male",
        Other => "other", "Other",
        Unknown => "unknown", "Unknown",
    }
}

code_enum! {
    /// Why lifelong follow-up ended early (4.3).
    FollowUpEndReason, field = "follow_up_end_reason" {
        Withdrew => "withdrew", "Withdrew from follow-up",
        MovedAway => "moved_away", "Moved away",
        Transferred => "transferred", "Transferred out",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Information given to the patient before consent (4.4).
    InformationGiven, field = "information_given" {
        NiceInformationForThePublic => "nice_information_for_the_public", "NICE information for the public",
        LocalLeaflet => "local_leaflet", "Local leaflet",
        DeviceLeaflet => "device_leaflet", "Device manufacturer's leaflet",
        None => "none", "None",
    }
}

code_enum! {
    /// Consent to hold the patient's data in the registry (4.4).
    RegistryDataConsent, field = "registry_data_consent" {
        Yes => "yes", "Yes",
        No => "no", "No (clinical record kept for audit without direct identifiers)",
        NotRequired => "not_required", "Not required (audit under the organisation's lawful basis)",
    }
}

code_enum! {
    /// Consent to research use (4.4).
    ResearchConsent, field = "research_consent" {
        Yes => "yes", "Yes",
        No => "no", "No",
    }
}

code_enum! {
    /// Left or right lower limb.
    Limb, field = "index_limb" {
        Left => "left", "Left",
        Right => "right", "Right",
    }
}

code_enum! {
    /// Location of a wound on the index limb (4.5).
    WoundLocation, field = "wound_locations" {
        Toe => "toe", "Toe",
        Forefoot => "forefoot", "Forefoot",
        Midfoot => "midfoot", "Midfoot",
        Heel => "heel", "Heel",
        Ankle => "ankle", "Ankle",
        Leg => "leg", "Leg",
    }
}

code_enum! {
    /// Gangrene of the index limb (4.5).
    Gangrene, field = "gangrene" {
        None => "none", "None",
        Dry => "dry", "Dry",
        Wet => "wet", "Wet",
    }
}

code_enum! {
    /// Diabetes mellitus (4.5).
    Diabetes, field = "diabetes" {
        None => "none", "No diabetes",
        Type1 => "type_1", "Type 1",
        Type2 => "type_2", "Type 2",
    }
}

code_enum! {
    /// Smoking status (4.5).
    Smoking, field = "smoking" {
        Never => "never", "Never smoked",
        Former => "former", "Former smoker",
        Current => "current", "Current smoker",
    }
}

code_enum! {
    /// Mobility (4.5, and at follow-up).
    AmbulatoryStatus, field = "ambulatory_status" {
        Independent => "independent", "Walks independently",
        WithAid => "with_aid", "Walks with an aid",
        Wheelchair => "wheelchair", "Wheelchair",
        Bedbound => "bedbound", "Bed-bound",
    }
}

code_enum! {
    /// Why ordinary revascularisation was not an option (4.5).
    NoOptionReason, field = "no_option_reasons" {
        NoBypassTarget => "no_bypass_target", "No target for surgical bypass",
        NoEndovascularTarget => "no_endovascular_target", "No target for endovascular revascularisation",
        FailedPriorRevascularisation => "failed_prior_revascularisation", "Failed prior revascularisation",
        NoAutologousConduit => "no_autologous_conduit", "No autologous vein conduit",
        ProhibitiveSurgicalRisk => "prohibitive_surgical_risk", "Prohibitive surgical risk",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Imaging used to confirm pedal venous anatomy (4.5).
    VenousImaging, field = "venous_imaging" {
        Duplex => "duplex", "Duplex ultrasound",
        Venography => "venography", "Venography",
        Ct => "ct", "CT",
        Mr => "mr", "MR",
        None => "none", "None",
    }
}

code_enum! {
    /// Anaesthesia for the index procedure (4.6).
    Anaesthesia, field = "anaesthesia" {
        General => "general", "General",
        Regional => "regional", "Regional",
        LocalWithSedation => "local_with_sedation", "Local with sedation",
        Local => "local", "Local",
    }
}

code_enum! {
    /// Arterial access (4.6).
    ArterialAccess, field = "arterial_access" {
        AntegradeCommonFemoral => "antegrade_common_femoral", "Antegrade common femoral",
        RetrogradePedal => "retrograde_pedal", "Retrograde pedal",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Venous access (4.6).
    VenousAccess, field = "venous_access" {
        RetrogradeTibialVein => "retrograde_tibial_vein", "Retrograde tibial vein",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Tibial vessel used as the arterial or venous target (4.6).
    TibialVessel, field = "target_artery" {
        PosteriorTibial => "posterior_tibial", "Posterior tibial",
        AnteriorTibial => "anterior_tibial", "Anterior tibial",
        Peroneal => "peroneal", "Peroneal",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Level of the arteriovenous crossover (4.6).
    CrossoverLevel, field = "crossover_level" {
        ProximalCalf => "proximal_calf", "Proximal calf",
        MidCalf => "mid_calf", "Mid calf",
        DistalCalf => "distal_calf", "Distal calf",
        Ankle => "ankle", "Ankle",
    }
}

code_enum! {
    /// Extent of valvulotomy (4.6).
    ValvulotomyExtent, field = "valvulotomy_extent" {
        CrossoverToAnkle => "crossover_to_ankle", "Crossover to ankle",
        CrossoverToMidfoot => "crossover_to_midfoot", "Crossover to midfoot",
        CrossoverToForefoot => "crossover_to_forefoot", "Crossover to forefoot",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Arterialised flow into the deep venous arch of the foot on completion angiography (4.6).
    VenousArchFlow, field = "venous_arch_flow" {
        Complete => "complete", "Complete",
        Partial => "partial", "Partial",
        None => "none", "None",
        NotAssessed => "not_assessed", "Not assessed",
    }
}

code_enum! {
    /// Antithrombotic drug (4.7).
    AntithromboticDrug, field = "drug" {
        Aspirin => "aspirin", "Aspirin",
        Clopidogrel => "clopidogrel", "Clopidogrel",
        Ticagrelor => "ticagrelor", "Ticagrelor",
        Prasugrel => "prasugrel", "Prasugrel",
        Rivaroxaban => "rivaroxaban", "Rivaroxaban",
        Apixaban => "apixaban", "Apixaban",
        Edoxaban => "edoxaban", "Edoxaban",
        Dabigatran => "dabigatran", "Dabigatran",
        Warfarin => "warfarin", "Warfarin",
        Lmwh => "lmwh", "Low-molecular-weight heparin",
        UnfractionatedHeparin => "unfractionated_heparin", "Unfractionated heparin",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Antiplatelet or anticoagulant (derived from the drug, 4.7).
    DrugClass, field = "drug_class" {
        Antiplatelet => "antiplatelet", "Antiplatelet",
        Anticoagulant => "anticoagulant", "Anticoagulant",
    }
}

impl AntithromboticDrug {
    /// The drug's class as DOMAIN.md 4.7 defines it ("other" counts as an anticoagulant).
    pub fn class(self) -> DrugClass {
        match self {
            Self::Aspirin | Self::Clopidogrel | Self::Ticagrelor | Self::Prasugrel => {
                DrugClass::Antiplatelet
            }
            _ => DrugClass::Anticoagulant,
        }
    }
}

code_enum! {
    /// Why an antithrombotic drug was stopped (4.7).
    StopReason, field = "stop_reason" {
        Planned => "planned", "Planned",
        Bleeding => "bleeding", "Bleeding",
        OtherAdverseEvent => "other_adverse_event", "Other adverse event",
        Death => "death", "Death",
        Other => "other", "Other",
    }
}

code_enum! {
    /// How the follow-up contact took place (4.8).
    ContactMode, field = "contact" {
        InPerson => "in_person", "In person",
        Telephone => "telephone", "Telephone",
        RecordsReview => "records_review", "Records review",
    }
}

code_enum! {
    /// The index limb's state at a visit (4.8).
    LimbStatus, field = "limb_status" {
        Intact => "intact", "Intact",
        MinorAmputation => "minor_amputation", "Minor amputation",
        MajorAmputation => "major_amputation", "Major amputation",
    }
}

code_enum! {
    /// Wound state at a visit (4.8).
    WoundStatus, field = "wound_status" {
        Healed => "healed", "Healed",
        Healing => "healing", "Healing",
        Unchanged => "unchanged", "Unchanged",
        Worse => "worse", "Worse",
        NewWound => "new_wound", "New wound",
        NoWound => "no_wound", "No wound",
    }
}

code_enum! {
    /// Duplex patency of the arteriovenous circuit (4.8).
    CircuitPatency, field = "circuit_patency" {
        Patent => "patent", "Patent",
        Occluded => "occluded", "Occluded",
        NotAssessed => "not_assessed", "Not assessed",
    }
}

code_enum! {
    /// Amputation level, distal to proximal: the order of the variants is anatomical (4.9).
    AmputationLevel, field = "level" {
        Toe => "toe", "Toe",
        Ray => "ray", "Ray",
        Transmetatarsal => "transmetatarsal", "Transmetatarsal",
        Midfoot => "midfoot", "Midfoot (Lisfranc or Chopart)",
        Syme => "syme", "Syme (ankle disarticulation)",
        BelowKnee => "below_knee", "Below knee (transtibial)",
        ThroughKnee => "through_knee", "Through knee",
        AboveKnee => "above_knee", "Above knee (transfemoral)",
        HipDisarticulation => "hip_disarticulation", "Hip disarticulation",
    }
}

impl AmputationLevel {
    /// Major amputation: through or above the ankle. Syme's counts as major
    /// (registry choice, DOMAIN.md glossary).
    pub fn is_major(self) -> bool {
        self >= Self::Syme
    }

    /// Toe and ray amputations may repeat on a limb; transmetatarsal and above
    /// constrain every later amputation of the limb (DOMAIN.md 4.9).
    pub fn constrains_later_amputations(self) -> bool {
        self >= Self::Transmetatarsal
    }
}

code_enum! {
    /// What a reintervention did (4.9).
    ReinterventionKind, field = "kind" {
        VenousAngioplasty => "venous_angioplasty", "Venous angioplasty",
        VenousStentExtension => "venous_stent_extension", "Venous stent extension",
        ArterialInflowAngioplasty => "arterial_inflow_angioplasty", "Arterial inflow angioplasty",
        CoilEmbolisation => "coil_embolisation", "Coil embolisation",
        ThrombectomyOrThrombolysis => "thrombectomy_or_thrombolysis", "Thrombectomy or thrombolysis",
        OpenSurgicalRevision => "open_surgical_revision", "Open surgical revision of the circuit",
        Bypass => "bypass", "Bypass",
        RedoPdva => "redo_pdva", "Repeat pDVA",
        Other => "other", "Other",
    }
}

impl ReinterventionKind {
    /// Major reinterventions count towards MALE (DOMAIN.md glossary and 4.9).
    pub fn is_major(self) -> bool {
        matches!(
            self,
            Self::Bypass | Self::ThrombectomyOrThrombolysis | Self::OpenSurgicalRevision
        )
    }
}

code_enum! {
    /// Yes / no / unknown, for relatedness questions.
    YesNoUnknown, field = "related_to_pdva" {
        Yes => "yes", "Yes",
        No => "no", "No",
        Unknown => "unknown", "Unknown",
    }
}

code_enum! {
    /// Cause of death (4.9).
    CauseOfDeath, field = "cause" {
        Cardiovascular => "cardiovascular", "Cardiovascular",
        Infection => "infection", "Infection",
        LimbRelated => "limb_related", "Limb-related",
        Other => "other", "Other",
        Unknown => "unknown", "Unknown",
    }
}

code_enum! {
    /// Kind of adverse event; the first five are IPG773 3.3's key safety outcomes (4.9).
    AdverseEventKind, field = "kind" {
        Pain => "pain", "Pain",
        Bleeding => "bleeding", "Bleeding",
        Infection => "infection", "Infection",
        WorseningPerfusion => "worsening_perfusion", "Worsening perfusion",
        StealSyndrome => "steal_syndrome", "Steal syndrome",
        AccessSiteComplication => "access_site_complication", "Access-site complication",
        AcuteKidneyInjury => "acute_kidney_injury", "Acute kidney injury",
        LimbOedema => "limb_oedema", "Limb oedema",
        Other => "other", "Other",
    }
}

code_enum! {
    /// Severity of an adverse event (4.9).
    Severity, field = "severity" {
        Mild => "mild", "Mild",
        Moderate => "moderate", "Moderate",
        Severe => "severe", "Severe",
        LifeThreatening => "life_threatening", "Life-threatening",
        Fatal => "fatal", "Fatal",
    }
}

code_enum! {
    /// Whether an adverse event was caused by the device or procedure (4.9).
    Relatedness, field = "device_or_procedure_related" {
        Yes => "yes", "Yes",
        Possible => "possible", "Possible",
        No => "no", "No",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_through_their_stored_spelling() {
        for level in AmputationLevel::ALL {
            assert_eq!(level.as_code().parse::<AmputationLevel>().unwrap(), *level);
            let json = serde_json::to_string(level).unwrap();
            assert_eq!(json, format!("\"{}\"", level.as_code()));
        }
    }

    #[test]
    fn stored_spelling_is_the_dictionary_s_for_every_code() {
        // Codes with digits are where a derived spelling goes wrong.
        assert_eq!(
            serde_json::to_string(&Diabetes::Type1).unwrap(),
            "\"type_1\""
        );
        assert_eq!(
            serde_json::from_str::<Diabetes>("\"type_2\"").unwrap(),
            Diabetes::Type2
        );
        assert!(serde_json::from_str::<Diabetes>("\"type2\"").is_err());
        for d in Diabetes::ALL {
            let json = serde_json::to_string(d).unwrap();
            assert_eq!(json, format!("\"{}\"", d.as_code()));
        }
    }

    #[test]
    fn unknown_code_names_field_value_and_choices() {
        let err = "knee".parse::<AmputationLevel>().unwrap_err();
        assert_eq!(err.field, "level");
        assert_eq!(err.value, "knee");
        assert!(err.rule.contains("below_knee"), "{}", err.rule);
    }

    #[test]
    fn major_amputation_is_syme_and_above() {
        let major: Vec<_> = AmputationLevel::ALL
            .iter()
            .filter(|l| l.is_major())
            .map(|l| l.as_code())
            .collect();
        assert_eq!(
            major,
            [
                "syme",
                "below_knee",
                "through_knee",
                "above_knee",
                "hip_disarticulation"
            ]
        );
    }

    #[test]
    fn drug_class_follows_the_dictionary() {
        let antiplatelets: Vec<_> = AntithromboticDrug::ALL
            .iter()
            .filter(|d| d.class() == DrugClass::Antiplatelet)
            .map(|d| d.as_code())
            .collect();
        assert_eq!(
            antiplatelets,
            ["aspirin", "clopidogrel", "ticagrelor", "prasugrel"]
        );
    }

    #[test]
    fn major_reinterventions() {
        let major: Vec<_> = ReinterventionKind::ALL
            .iter()
            .filter(|k| k.is_major())
            .map(|k| k.as_code())
            .collect();
        assert_eq!(
            major,
            [
                "thrombectomy_or_thrombolysis",
                "open_surgical_revision",
                "bypass"
            ]
        );
    }
}
