//! The free-text fields of a call, each with its bound, and how text is
//! put in them: cut to the bound on a character boundary, and the field
//! named in `truncatedFields` when it was cut.

use std::collections::BTreeMap;

use crate::{call::CallLog, error::DomainError};

pub use crate::limits::MAX_TRANSCRIPT_BYTES;

/// A transcript cut to [`MAX_TRANSCRIPT_BYTES`] on a character boundary,
/// and whether anything was cut.
pub fn cut_transcript(text: &str) -> (String, bool) {
    crate::limits::cut(text, MAX_TRANSCRIPT_BYTES)
}

impl CallLog {
    /// Puts `text`, cut to `max` bytes, in a text field, and names the
    /// field in `truncatedFields` when it was cut.
    pub fn set_text(&mut self, field: CallText, text: &str) {
        let (kept, cut) = crate::limits::cut(text, field.max_bytes());
        *self.text_mut(field) = Some(kept);
        if field == CallText::Transcript {
            self.transcript_truncated = cut;
        }
        let name = field.name().to_string();
        match (cut, self.truncated_fields.binary_search(&name)) {
            (true, Err(at)) => self.truncated_fields.insert(at, name),
            (false, Ok(at)) => {
                self.truncated_fields.remove(at);
            }
            _ => {}
        }
    }

    /// A text field's value.
    pub fn text(&self, field: CallText) -> Option<&String> {
        match field {
            CallText::Transcript => self.transcript.as_ref(),
            CallText::Summary => self.summary.as_ref(),
            CallText::Notes => self.call_notes.as_ref(),
            CallText::Purpose => self.call_purpose.as_ref(),
            CallText::EndedReason => self.ended_reason.as_ref(),
            CallText::CustomerName => self.customer_name.as_ref(),
            CallText::InsuranceProvider => self.insurance_provider.as_ref(),
            CallText::TransferredTo => self.transferred_to.as_ref(),
            CallText::CustomerSentiment => self.customer_sentiment.as_ref(),
            CallText::SuccessEvaluation => self.success_evaluation.as_ref(),
        }
    }

    /// A text field, to set as it is (without [`CallLog::set_text`]'s cut).
    pub fn text_mut(&mut self, field: CallText) -> &mut Option<String> {
        match field {
            CallText::Transcript => &mut self.transcript,
            CallText::Summary => &mut self.summary,
            CallText::Notes => &mut self.call_notes,
            CallText::Purpose => &mut self.call_purpose,
            CallText::EndedReason => &mut self.ended_reason,
            CallText::CustomerName => &mut self.customer_name,
            CallText::InsuranceProvider => &mut self.insurance_provider,
            CallText::TransferredTo => &mut self.transferred_to,
            CallText::CustomerSentiment => &mut self.customer_sentiment,
            CallText::SuccessEvaluation => &mut self.success_evaluation,
        }
    }
}

/// The free-text fields of a call, each with its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallText {
    Transcript,
    Summary,
    Notes,
    Purpose,
    EndedReason,
    CustomerName,
    InsuranceProvider,
    TransferredTo,
    CustomerSentiment,
    SuccessEvaluation,
}

impl CallText {
    pub const ALL: [CallText; 10] = [
        CallText::Transcript,
        CallText::Summary,
        CallText::Notes,
        CallText::Purpose,
        CallText::EndedReason,
        CallText::CustomerName,
        CallText::InsuranceProvider,
        CallText::TransferredTo,
        CallText::CustomerSentiment,
        CallText::SuccessEvaluation,
    ];

    /// The field's JSON name.
    pub fn name(self) -> &'static str {
        match self {
            CallText::Transcript => "transcript",
            CallText::Summary => "summary",
            CallText::Notes => "callNotes",
            CallText::Purpose => "callPurpose",
            CallText::EndedReason => "endedReason",
            CallText::CustomerName => "customerName",
            CallText::InsuranceProvider => "insuranceProvider",
            CallText::TransferredTo => "transferredTo",
            CallText::CustomerSentiment => "customerSentiment",
            CallText::SuccessEvaluation => "successEvaluation",
        }
    }

    pub fn max_bytes(self) -> usize {
        use crate::limits::*;
        match self {
            CallText::Transcript => MAX_TRANSCRIPT_BYTES,
            CallText::Summary => MAX_SUMMARY_BYTES,
            CallText::Notes => MAX_NOTES_BYTES,
            CallText::Purpose => MAX_PURPOSE_BYTES,
            CallText::EndedReason => MAX_ENDED_REASON_BYTES,
            CallText::CustomerName | CallText::InsuranceProvider | CallText::TransferredTo | CallText::CustomerSentiment | CallText::SuccessEvaluation => {
                MAX_SHORT_TEXT_BYTES
            }
        }
    }
}
/// The most variables one contact may carry, and their sizes.
pub const MAX_VARIABLES: usize = 50;
const MAX_VARIABLE_NAME: usize = 64;
const MAX_VARIABLE_VALUE: usize = 1_000;

/// Checks a contact's (or a call's) variables: names and values of a sane size.
pub fn check_variables(variables: &BTreeMap<String, String>) -> Result<(), DomainError> {
    if variables.len() > MAX_VARIABLES {
        return Err(DomainError::invalid("invalid_variables", format!("at most {MAX_VARIABLES} variables")));
    }
    for (name, value) in variables {
        let name_ok =
            !name.is_empty() && name.len() <= MAX_VARIABLE_NAME && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
        if !name_ok {
            return Err(DomainError::invalid(
                "invalid_variables",
                format!("variable name {name:?} must be 1 to {MAX_VARIABLE_NAME} letters, digits, _, - or ."),
            ));
        }
        if value.len() > MAX_VARIABLE_VALUE {
            return Err(DomainError::invalid("invalid_variables", format!("variable {name:?} is longer than {MAX_VARIABLE_VALUE} bytes")));
        }
    }
    Ok(())
}
