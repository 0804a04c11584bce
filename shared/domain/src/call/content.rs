//! Content as one closed set: every field a stored call holds, classed as
//! the patient's words or identity (content), their number, or a fact of
//! the call. Roles, retention and erasure treat the content set; nothing is
//! copied outside it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::time;

/// Why a call's content is gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalReason {
    /// The tenant's retention period for content passed.
    Retention,
    /// The patient's records were erased; the number is a token too.
    Erasure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentRemoval {
    #[serde(with = "time::ms")]
    pub at: DateTime<Utc>,
    pub reason: RemovalReason,
}

/// The prefix of the token an erased call's number is replaced by.
pub const ERASED_NUMBER_PREFIX: &str = "erased-";

/// How one stored field of a call is treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldClass {
    /// The patient's words or identity, or what was written from them: the
    /// one set that roles (a viewer never sees it), retention (removes it
    /// when it ages out) and erasure (removes it) treat. Never copied into
    /// the audit log, nor outside the call's own set.
    Content,
    /// The patient's number: what the call is about; an erasure replaces it by a token.
    Number,
    /// A fact of the call (times, status, outcome, money, cost, bookkeeping): kept for analytics.
    Fact,
}

/// Every field a stored call holds, by its JSON name, and its class. A test
/// serialises a call with every field set and fails on a field left out.
pub const CALL_FIELDS: &[(&str, FieldClass)] = &[
    ("id", FieldClass::Fact),
    ("orgId", FieldClass::Fact),
    ("voiceAgentId", FieldClass::Fact),
    ("phoneNumber", FieldClass::Number),
    ("status", FieldClass::Fact),
    ("duration", FieldClass::Fact),
    ("callStartedAt", FieldClass::Fact),
    ("callEndedAt", FieldClass::Fact),
    ("transcript", FieldClass::Content),
    ("transcriptTruncated", FieldClass::Fact),
    ("truncatedFields", FieldClass::Fact),
    ("summary", FieldClass::Content),
    ("recordingUrl", FieldClass::Content),
    // A way into the live call's audio.
    ("listenUrl", FieldClass::Content),
    ("appointmentSet", FieldClass::Fact),
    ("createdAt", FieldClass::Fact),
    ("outcome", FieldClass::Fact),
    ("insuranceVerified", FieldClass::Fact),
    // The patient's health plan: identity.
    ("insuranceProvider", FieldClass::Content),
    ("paymentPlanDiscussed", FieldClass::Fact),
    ("paymentPlanAmount", FieldClass::Fact),
    ("collectionAttempt", FieldClass::Fact),
    ("collectionAmount", FieldClass::Fact),
    ("collectionSuccess", FieldClass::Fact),
    ("transferredToStaff", FieldClass::Fact),
    // The practice's staff member or line the call went to.
    ("transferredTo", FieldClass::Fact),
    ("vapiCallId", FieldClass::Fact),
    ("callType", FieldClass::Fact),
    ("campaignId", FieldClass::Fact),
    ("scheduledAt", FieldClass::Fact),
    // Free text, written by staff or from an earlier call's content.
    ("callPurpose", FieldClass::Content),
    ("callNotes", FieldClass::Content),
    ("customerName", FieldClass::Content),
    // The contact's zone and state: no place smaller than a state.
    ("calleeTimeZone", FieldClass::Fact),
    ("calleeState", FieldClass::Fact),
    // The patient's account with the practice.
    ("debtId", FieldClass::Content),
    ("compliance", FieldClass::Fact),
    ("recordingWithheld", FieldClass::Fact),
    // The prompt's values: a contact's CSV columns, names, balances.
    ("variableValues", FieldClass::Content),
    ("attempt", FieldClass::Fact),
    ("imported", FieldClass::Fact),
    ("endedReason", FieldClass::Fact),
    ("reportedAt", FieldClass::Fact),
    ("returnedAt", FieldClass::Fact),
    ("voicemailLeft", FieldClass::Fact),
    ("followUpRequired", FieldClass::Fact),
    ("followUpDate", FieldClass::Fact),
    ("callQuality", FieldClass::Fact),
    ("customerSentiment", FieldClass::Fact),
    ("aiConfidence", FieldClass::Fact),
    ("successEvaluation", FieldClass::Fact),
    ("latency", FieldClass::Fact),
    ("awaitingOutput", FieldClass::Fact),
    ("costCents", FieldClass::Fact),
    ("costBreakdown", FieldClass::Fact),
    ("contentRemoved", FieldClass::Fact),
    ("updatedAt", FieldClass::Fact),
];

/// The JSON names of the fields in the content set.
pub fn content_field_names() -> impl Iterator<Item = &'static str> {
    CALL_FIELDS.iter().filter(|(_, class)| *class == FieldClass::Content).map(|(name, _)| *name)
}

/// Whether `field` (a JSON name) is in the content set.
pub fn is_content_field(field: &str) -> bool {
    content_field_names().any(|name| name == field)
}
