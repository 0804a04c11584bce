//! The kinds of a call, closed sets each: what came of it, why it exists,
//! where it is in its life. Each serialises as its upper-case name (the
//! legacy model's), parses it case-insensitively and names itself as a
//! practice reads it.

use serde::{Deserialize, Serialize};

use crate::error::DomainError;

/// Declares a closed enum that serialises as its upper-case name, parses that
/// name case-insensitively, lists its values and names each as a practice
/// reads it (the dashboard's labels come from here, so they cannot drift).
macro_rules! upper_case_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal, $label:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The value as a practice reads it.
            pub fn label(self) -> &'static str {
                match self { $($name::$variant => $label),+ }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = DomainError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                let wanted = text.trim();
                Self::ALL
                    .iter()
                    .copied()
                    .find(|value| value.as_str().eq_ignore_ascii_case(wanted))
                    .ok_or_else(|| DomainError::invalid(
                        concat!("invalid_", stringify!($name)),
                        format!("{wanted:?} is not a {}; expected one of {}", stringify!($name),
                            Self::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>().join(", ")),
                    ))
            }
        }
    };
}

upper_case_enum! {
    /// What came of a call, as the dashboard counts it.
    CallOutcome {
        Booked => "BOOKED", "Booked",
        Transferred => "TRANSFERRED", "Transferred",
        InsuranceInquiry => "INSURANCE_INQUIRY", "Insurance inquiry",
        PaymentPlan => "PAYMENT_PLAN", "Payment plan",
        Information => "INFORMATION", "Information",
        Voicemail => "VOICEMAIL", "Voicemail",
        NoAnswer => "NO_ANSWER", "No answer",
        Busy => "BUSY", "Busy",
        Failed => "FAILED", "Failed",
        Other => "OTHER", "Other",
    }
}

upper_case_enum! {
    /// Why the call exists: a patient calling in, or one of the outbound purposes.
    CallType {
        Inbound => "INBOUND", "Inbound",
        OutboundLead => "OUTBOUND_LEAD", "Lead follow-up",
        OutboundDebt => "OUTBOUND_DEBT", "Collection",
        OutboundFollowup => "OUTBOUND_FOLLOWUP", "Follow-up",
        OutboundCampaign => "OUTBOUND_CAMPAIGN", "Campaign",
        OutboundOther => "OUTBOUND_OTHER", "Outbound",
    }
}

upper_case_enum! {
    /// Where a call is in its life. [`crate::call::lifecycle`] draws the lifecycle.
    CallStatus {
        Scheduled => "SCHEDULED", "Scheduled",
        Dialing => "DIALING", "Dialing",
        InProgress => "IN_PROGRESS", "In progress",
        Completed => "COMPLETED", "Completed",
        Missed => "MISSED", "Missed",
        Voicemail => "VOICEMAIL", "Voicemail",
        Failed => "FAILED", "Failed",
        Cancelled => "CANCELLED", "Cancelled",
    }
}

impl CallType {
    pub fn is_outbound(self) -> bool {
        self != CallType::Inbound
    }

    /// The outbound call type `text` names, as a request gives it: anything else is `invalid_call_type`.
    pub fn parse_outbound(text: &str) -> Result<CallType, crate::error::DomainError> {
        text.parse::<CallType>().ok().filter(|t| t.is_outbound()).ok_or_else(|| {
            crate::error::DomainError::invalid(
                "invalid_call_type",
                format!("callType {text:?} is not one of the OUTBOUND_* types: only outbound calls are placed"),
            )
        })
    }
}
