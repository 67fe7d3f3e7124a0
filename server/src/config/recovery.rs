//! Password recovery settings: whether it is on, its limits, the question sets.

use serde::{Deserialize, Serialize};

/// Password recovery with challenge questions. Security questions are a weak
/// factor (OWASP ASVS 2.5.2, NIST SP 800-63B): the operator can turn them off.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoveryConfig {
    pub enabled: bool,
    /// How long a recovery attempt stays open.
    pub flow_minutes: u64,
    /// Wrong answers that lock recovery for an account.
    pub max_failures: u32,
    /// The first lock's length; each further lock doubles it.
    pub lock_minutes: u64,
    /// The user answers one question from each set.
    pub question_sets: Vec<QuestionSet>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuestionSet {
    pub id: String,
    pub questions: Vec<Question>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    pub id: String,
    #[serde(default = "default_locale")]
    pub locale: String,
    pub text: String,
}

fn default_locale() -> String {
    "en_US".into()
}

fn question_set(id: &str, questions: &[(&str, &str)]) -> QuestionSet {
    QuestionSet {
        id: id.into(),
        questions: questions
            .iter()
            .map(|(id, text)| Question {
                id: (*id).into(),
                locale: default_locale(),
                text: (*text).into(),
            })
            .collect(),
    }
}

impl Default for RecoveryConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            flow_minutes: 15,
            max_failures: 3,
            lock_minutes: 15,
            // Two sets, as WSO2 ships challengeQuestion1 and challengeQuestion2.
            question_sets: vec![
                question_set(
                    "challengeQuestion1",
                    &[
                        ("question1", "In which city were you born?"),
                        ("question2", "What was the name of your first school?"),
                        ("question3", "What was the make of your first car?"),
                        ("question4", "What is your oldest cousin's first name?"),
                        ("question5", "In which street did you grow up?"),
                    ],
                ),
                question_set(
                    "challengeQuestion2",
                    &[
                        ("question1", "What was the name of your first pet?"),
                        ("question2", "What is your favourite book?"),
                        ("question3", "Where did you go on your first holiday?"),
                        ("question4", "What was your childhood nickname?"),
                        ("question5", "What was the first concert you went to?"),
                    ],
                ),
            ],
        }
    }
}
