//! The provincial dossier format v1 — lienthong's own JSON for one-stop-shop systems.
//!
//! Two documents: a **dossier** (one version of a dossier as the one-stop-shop holds it,
//! with a `version` that grows per dossier) and a **progress step** (one processing step,
//! with a `step_seq` that grows per dossier). Names are English snake_case, times RFC 3339
//! with an offset, codes are the canonical names of the model (`processing`, `online`, …).
//! The JSON Schemas live in `docs/schema/`, the guide in `docs/provincial-format.md`.
//!
//! * [`read`] — strict reading: every defect (missing field, wrong type, bad time, unknown
//!   value, unknown field) is a finding at its JSON Pointer path; nothing is guessed.
//! * [`write`] — the canonical JSON of a dossier or step.
//! * [`validate`] — checks across fields: identifier forms (`codes.md`), identity numbers,
//!   times that contradict each other or the status.
//! * [`generate`] — deterministic realistic dossiers and steps for demos and load tests.

pub mod fast;
pub mod generate;
pub mod read;
pub mod validate;
pub mod write;

/// What a provincial document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A dossier.
    Dossier,
    /// A progress step.
    Progress,
}

impl Kind {
    /// Guesses the kind of a JSON object from its keys: a `step_seq` or `dossier_code`
    /// makes a progress step, anything else a dossier.
    pub fn detect(v: &serde_json::Value) -> Kind {
        match v {
            serde_json::Value::Object(m)
                if m.contains_key("step_seq") || m.contains_key("dossier_code") =>
            {
                Kind::Progress
            }
            _ => Kind::Dossier,
        }
    }
}
