//! The licensed wording of the quality-of-life instruments (VascuQoL-6 and
//! EQ-5D-5L). DOMAIN.md asks the forms to use each instrument's licensed
//! wording; that text belongs to its owners and is not shipped here. A
//! registry that holds the licence gives it in a TOML file
//! (`pdva serve --instrument-wording FILE`), and the quality-of-life form
//! then shows each question and its answers as the patient reads them, the
//! answers as choices scored as the instrument scores them. Without the
//! file, the form asks for each item's score.
//!
//! ```toml
//! [vascuqol_1]
//! question = "the item's question, as licensed"
//! answers = ["score 1 (worst)", "score 2", "score 3", "score 4 (best)"]
//!
//! [eq5d_mobility]
//! question = "the dimension's heading, as licensed"
//! answers = ["level 1", "level 2", "level 3", "level 4", "level 5"]
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// One item: its question, and its answers from score 1 upwards.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ItemWording {
    /// The question (or dimension heading) as the patient reads it.
    pub question: String,
    /// The answers in score order: the first scores 1.
    #[serde(default)]
    pub answers: Vec<String>,
}

/// The wording of the items a registry is licensed to show, by form field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct InstrumentWording {
    items: BTreeMap<String, ItemWording>,
}

/// The items that can be given, with the number of answers each has.
const ITEMS: &[(&str, usize)] = &[
    ("vascuqol_1", 4),
    ("vascuqol_2", 4),
    ("vascuqol_3", 4),
    ("vascuqol_4", 4),
    ("vascuqol_5", 4),
    ("vascuqol_6", 4),
    ("eq5d_mobility", 5),
    ("eq5d_self_care", 5),
    ("eq5d_usual_activities", 5),
    ("eq5d_pain_discomfort", 5),
    ("eq5d_anxiety_depression", 5),
    ("eq_vas", 0),
];

impl InstrumentWording {
    /// Checks the wording read from a file: every item is one of the
    /// instruments' items, has a question, and has exactly as many answers
    /// as the item has levels (none for the EQ VAS). Each problem names the
    /// item and what is wrong with it.
    pub fn check(self) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        for (name, item) in &self.items {
            match ITEMS.iter().find(|(n, _)| n == name) {
                None => problems.push(format!(
                    "[{name}]: not an item of VascuQoL-6 or EQ-5D-5L (expected one of {})",
                    ITEMS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                )),
                Some((_, levels)) => {
                    if item.question.trim().is_empty() {
                        problems.push(format!("[{name}]: the question is empty"));
                    }
                    if item.answers.len() != *levels {
                        problems.push(format!(
                            "[{name}]: {} answers given; the item has {levels}",
                            item.answers.len()
                        ));
                    }
                    if item.answers.iter().any(|a| a.trim().is_empty()) {
                        problems.push(format!("[{name}]: an answer is empty"));
                    }
                }
            }
        }
        if problems.is_empty() {
            Ok(self)
        } else {
            Err(problems)
        }
    }

    /// The wording of a form field, if given.
    pub fn item(&self, field: &str) -> Option<&ItemWording> {
        self.items.get(field)
    }

    /// How many items have wording.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item has wording.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wording(items: &[(&str, &str, &[&str])]) -> InstrumentWording {
        InstrumentWording {
            items: items
                .iter()
                .map(|(n, q, a)| {
                    (
                        (*n).to_owned(),
                        ItemWording {
                            question: (*q).to_owned(),
                            answers: a.iter().map(|s| (*s).to_owned()).collect(),
                        },
                    )
                })
                .collect(),
        }
    }

    #[test]
    fn complete_items_are_accepted() {
        let w = wording(&[
            ("vascuqol_1", "Q1", &["a", "b", "c", "d"]),
            ("eq5d_mobility", "Mobility", &["1", "2", "3", "4", "5"]),
            ("eq_vas", "Your health today", &[]),
        ])
        .check()
        .unwrap();
        assert_eq!(w.len(), 3);
        assert_eq!(w.item("vascuqol_1").unwrap().answers.len(), 4);
    }

    #[test]
    fn each_problem_names_the_item() {
        let problems = wording(&[
            ("vascuqol_7", "Q7", &["a", "b", "c", "d"]),
            ("vascuqol_2", " ", &["a", "b", "c"]),
            ("eq5d_self_care", "Self-care", &["1", "2", "", "4", "5"]),
        ])
        .check()
        .unwrap_err();
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("[vascuqol_7]: not an item"))
        );
        assert!(problems.contains(&"[vascuqol_2]: the question is empty".to_owned()));
        assert!(problems.contains(&"[vascuqol_2]: 3 answers given; the item has 4".to_owned()));
        assert!(problems.contains(&"[eq5d_self_care]: an answer is empty".to_owned()));
    }
}
