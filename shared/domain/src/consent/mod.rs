//! Why a number may be called: a tenant's consents, per number, and the
//! policy of which bases each outbound call type needs.
//!
//! Since FCC 24-17 an AI voice is an "artificial voice" under the TCPA, so
//! every outbound call rests on the callee's prior express consent, and
//! telemarketing on prior express written consent. A consent has a basis, a
//! scope (the call types it covers), where it came from and its evidence,
//! when and by whom it was captured, an optional expiry and, once revoked,
//! its revocation: a revocation is a write, never a delete. The placement
//! policy asks [`relied_on`] for the consent an attempt rests on; without
//! one the attempt is refused (`no_consent`).

pub mod reassigned;
pub mod stop_request;
pub mod texts;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::call::compliance::{Basis, ConsentRelied};
use crate::{call::CallType, caller::Actor, error::DomainError, limits, time};

/// The most consent records (revoked ones included) kept for one number.
pub const MAX_CONSENTS_PER_NUMBER: usize = 50;

/// How a consent was given or taken back, or how an opt-out came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Call,
    Sms,
    Email,
    Letter,
    Staff,
    Api,
}

impl Channel {
    pub const ALL: [Channel; 6] = [Channel::Call, Channel::Sms, Channel::Email, Channel::Letter, Channel::Staff, Channel::Api];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Call => "call",
            Channel::Sms => "sms",
            Channel::Email => "email",
            Channel::Letter => "letter",
            Channel::Staff => "staff",
            Channel::Api => "api",
        }
    }

    pub fn parse(text: &str) -> Result<Channel, DomainError> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == text.trim())
            .ok_or_else(|| DomainError::invalid("invalid_channel", "channel must be one of call, sms, email, letter, staff, api"))
    }
}

/// What shows the consent was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvidenceKind {
    /// A form the patient filled in (an intake form, a web form).
    Form,
    /// A call in which the patient agreed (its id).
    Call,
    /// A document kept elsewhere (a signed paper, a scanned file).
    Document,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    #[serde(rename = "type")]
    pub kind: EvidenceKind,
    /// The form's name, the call's id, the document's reference.
    pub reference: String,
}

/// A consent taken back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Revocation {
    #[serde(with = "time::ms")]
    pub at: DateTime<Utc>,
    pub channel: Channel,
    #[serde(default)]
    pub reason: Option<String>,
    pub by: Actor,
}

/// One consent of a tenant's to call one number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    pub id: String,
    pub org_id: crate::ids::OrgId,
    pub phone_number: String,
    pub basis: Basis,
    /// The outbound call types it covers; empty: every one.
    #[serde(default)]
    pub scope: Vec<CallType>,
    /// Where it came from (the practice's words: "new-patient intake", "web booking").
    pub source: String,
    #[serde(default)]
    pub evidence: Option<Evidence>,
    #[serde(with = "time::ms")]
    pub captured_at: DateTime<Utc>,
    pub captured_by: Actor,
    #[serde(with = "time::ms::option", default)]
    pub expires_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub revoked: Option<Revocation>,
    #[serde(with = "time::ms")]
    pub created_at: DateTime<Utc>,
    /// Its number's latest check against the Reassigned Numbers Database; `yes` ends it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rnd: Option<reassigned::RndCheck>,
}

impl Consent {
    /// Whether it covers a call of `call_type` at `at`: captured by then,
    /// not expired, not revoked, and in scope.
    pub fn covers(&self, call_type: CallType, at: DateTime<Utc>) -> bool {
        self.captured_at <= at
            && self.expires_at.is_none_or(|end| at < end)
            && self.revoked.is_none()
            && (self.scope.is_empty() || self.scope.contains(&call_type))
    }
}

/// What a client sends to record a consent, before it is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsentInput {
    pub phone_number: String,
    pub basis: String,
    #[serde(default)]
    pub scope: Option<Vec<String>>,
    pub source: String,
    #[serde(default)]
    pub evidence: Option<EvidenceInput>,
    #[serde(default)]
    pub captured_at: Option<String>,
    #[serde(default)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInput {
    #[serde(rename = "type")]
    pub kind: String,
    pub reference: String,
}

/// The most text a consent's source or evidence reference holds.
const MAX_SOURCE: usize = 200;
const MAX_REFERENCE: usize = 500;

fn time_field(value: Option<&str>, code: &'static str, what: &str) -> Result<Option<DateTime<Utc>>, DomainError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(text) => time::parse(text)
            .filter(time::is_supported)
            .map(|t| Some(time::to_millis(t)))
            .ok_or_else(|| DomainError::invalid(code, format!("{what} must be an RFC 3339 time, {}", time::SUPPORTED_TEXT))),
    }
}

impl ConsentInput {
    /// The consent this input records, checked at the edge: a number that
    /// normalises, a basis, outbound call types, a source, bounded text,
    /// times in range (captured no later than now, expiring after capture).
    pub fn check(self, id: String, org_id: &str, by: Actor, now: DateTime<Utc>) -> Result<Consent, DomainError> {
        let number = crate::phone::normalize(&self.phone_number)?;
        let basis = Basis::parse(&self.basis)?;
        let mut scope = Vec::new();
        for name in self.scope.unwrap_or_default() {
            let call_type: CallType =
                name.trim().parse().map_err(|_| DomainError::invalid("invalid_scope", "scope lists outbound call types (OUTBOUND_LEAD, ...)"))?;
            if !call_type.is_outbound() {
                return Err(DomainError::invalid("invalid_scope", "a consent covers outbound calls; INBOUND needs none"));
            }
            if !scope.contains(&call_type) {
                scope.push(call_type);
            }
        }
        scope.sort();
        let source = limits::optional_text(Some(self.source), MAX_SOURCE, "invalid_source", "source")?
            .ok_or_else(|| DomainError::invalid("invalid_source", "a consent needs its source"))?;
        let evidence = match self.evidence {
            None => None,
            Some(input) => {
                let kind = match input.kind.trim() {
                    "form" => EvidenceKind::Form,
                    "call" => EvidenceKind::Call,
                    "document" => EvidenceKind::Document,
                    _ => return Err(DomainError::invalid("invalid_evidence", "evidence.type must be form, call or document")),
                };
                let reference = limits::optional_text(Some(input.reference), MAX_REFERENCE, "invalid_evidence", "evidence.reference")?
                    .ok_or_else(|| DomainError::invalid("invalid_evidence", "evidence needs its reference"))?;
                Some(Evidence { kind, reference })
            }
        };
        let now = time::to_millis(now);
        let captured_at = time_field(self.captured_at.as_deref(), "invalid_captured_at", "capturedAt")?.unwrap_or(now);
        if captured_at > now + crate::time::CLOCK_SKEW {
            return Err(DomainError::invalid("invalid_captured_at", "capturedAt cannot be in the future"));
        }
        let expires_at = time_field(self.expires_at.as_deref(), "invalid_expires_at", "expiresAt")?;
        if expires_at.is_some_and(|end| end <= captured_at) {
            return Err(DomainError::invalid("invalid_expires_at", "expiresAt must be after capturedAt"));
        }
        Ok(Consent {
            id,
            org_id: org_id.into(),
            phone_number: number.into_string(),
            basis,
            scope,
            source,
            evidence,
            captured_at: captured_at.min(now),
            captured_by: by,
            expires_at,
            revoked: None,
            created_at: now,
            rnd: None,
        })
    }
}

/// Which bases each outbound call type needs: any one of its list will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ConsentPolicy(pub BTreeMap<CallType, Vec<Basis>>);

/// The bases the law lets a call type rest on: the legal floor, and the
/// default. Campaigns and lead calls (telemarketing): written consent (47
/// CFR 64.1200(a)(2), (f)(9)). Follow-ups and other calls: prior express
/// consent, or the healthcare relationship (47 U.S.C. 227(b)(1); FCC 15-72).
/// Collections: prior express consent (the healthcare exemption excludes
/// billing and collection content, 64.1200(a)(9)(iv)). A tenant's policy may
/// only narrow these.
pub fn legal_bases(call_type: CallType) -> &'static [Basis] {
    use Basis::*;
    match call_type {
        CallType::OutboundLead | CallType::OutboundCampaign => &[PriorExpressWritten],
        CallType::OutboundFollowup | CallType::OutboundOther => &[PriorExpress, PriorExpressWritten, HealthcareRelationship],
        CallType::OutboundDebt => &[PriorExpress, PriorExpressWritten],
        CallType::Inbound => &[],
    }
}

impl Default for ConsentPolicy {
    fn default() -> Self {
        ConsentPolicy(CallType::ALL.iter().filter(|t| t.is_outbound()).map(|t| (*t, legal_bases(*t).to_vec())).collect())
    }
}

impl ConsentPolicy {
    /// The bases `call_type` accepts: the policy's, never beyond the law's
    /// ([`legal_bases`]); the law's for a type it leaves out (or one a
    /// stored policy would take below the floor: it never loosens the law).
    pub fn accepts(&self, call_type: CallType) -> &[Basis] {
        let legal = legal_bases(call_type);
        match self.0.get(&call_type) {
            Some(bases) if !bases.is_empty() && bases.iter().all(|b| legal.contains(b)) => bases,
            _ => legal,
        }
    }

    /// A policy from a client: outbound types, each with at least one basis
    /// (every call needs some consent: no setting lifts that), each one the
    /// law lets the type rest on (`consent_policy_below_floor` otherwise:
    /// the policy may only be tightened). Types it leaves out keep their default.
    pub fn from_input(input: &BTreeMap<String, Vec<String>>) -> Result<ConsentPolicy, DomainError> {
        let mut policy = ConsentPolicy::default();
        for (name, bases) in input {
            let call_type: CallType = name
                .trim()
                .parse()
                .ok()
                .filter(|t: &CallType| t.is_outbound())
                .ok_or_else(|| DomainError::invalid("invalid_consent_policy", "consentPolicy is keyed by outbound call types (OUTBOUND_LEAD, ...)"))?;
            let mut accepted = Vec::new();
            for basis in bases {
                let basis = Basis::parse(basis).map_err(|_| {
                    DomainError::invalid("invalid_consent_policy", "a basis is one of prior_express, prior_express_written, healthcare_relationship")
                })?;
                if !legal_bases(call_type).contains(&basis) {
                    return Err(DomainError::invalid(
                        "consent_policy_below_floor",
                        format!(
                            "{call_type} may not rest on {}: the law lets it rest only on {} (the policy may only be tightened)",
                            basis.as_str(),
                            legal_bases(call_type).iter().map(|b| b.as_str()).collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
                if !accepted.contains(&basis) {
                    accepted.push(basis);
                }
            }
            if accepted.is_empty() {
                return Err(DomainError::invalid("invalid_consent_policy", format!("{call_type} needs at least one basis: every call needs consent")));
            }
            accepted.sort();
            policy.0.insert(call_type, accepted);
        }
        Ok(policy)
    }
}

/// What the consent rule of one attempt is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Consenting<'a> {
    pub call_type: CallType,
    /// The number's consents.
    pub consents: &'a [Consent],
    /// The bases its call type accepts.
    pub accepted: &'a [Basis],
    /// The number's latest opt-out or revocation as its ledger keeps it.
    pub opted_out_at: Option<DateTime<Utc>>,
}

/// Why a consent on record does not cover an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NotCovering {
    /// Its basis is not one the call type accepts.
    WrongBasis,
    /// Expired by then, or captured after.
    Expired,
    /// Its scope leaves the call type out.
    OutOfScope,
    Revoked,
    /// Captured before the number's latest opt-out or revocation.
    BeforeOptOut,
    /// The Reassigned Numbers Database says its number was disconnected since.
    Reassigned,
}

impl<'a> Consenting<'a> {
    /// The number's latest opt-out or revocation: its ledger's mark, or the latest revocation of a consent.
    pub fn last_opt_out(&self) -> Option<DateTime<Utc>> {
        self.consents.iter().filter_map(|c| c.revoked.as_ref().map(|r| r.at)).chain(self.opted_out_at).max()
    }

    /// Why `consent` does not cover an attempt at `at`, or `None` when it does.
    pub fn why_not(&self, consent: &Consent, at: DateTime<Utc>) -> Option<NotCovering> {
        if consent.revoked.is_some() {
            Some(NotCovering::Revoked)
        } else if consent.rnd.is_some_and(|c| c.result == reassigned::RndResult::Yes) {
            Some(NotCovering::Reassigned)
        } else if self.last_opt_out().is_some_and(|out| consent.captured_at <= out) {
            Some(NotCovering::BeforeOptOut)
        } else if !self.accepted.contains(&consent.basis) {
            Some(NotCovering::WrongBasis)
        } else if !consent.scope.is_empty() && !consent.scope.contains(&self.call_type) {
            Some(NotCovering::OutOfScope)
        } else if !consent.covers(self.call_type, at) {
            Some(NotCovering::Expired)
        } else {
            None
        }
    }

    /// The `no_consent` refusal of an attempt at `at`, explained: the bases
    /// the call type accepts, and each consent on record with why it does not cover the call.
    pub fn refusal(&self, at: DateTime<Utc>) -> DomainError {
        let accepted: Vec<&str> = self.accepted.iter().map(|b| b.as_str()).collect();
        let consents: Vec<serde_json::Value> =
            self.consents.iter().filter_map(|c| self.why_not(c, at).map(|why| serde_json::json!({"id": c.id, "basis": c.basis, "why": why}))).collect();
        let mut message = format!("no consent on record covers this {} call: it needs one of {}", self.call_type, accepted.join(", "));
        if consents.iter().any(|c| c["why"] == "before_opt_out") {
            message.push_str(", captured after the number's latest opt-out or revocation");
        }
        message.push_str(". Record the patient's consent first (basis, scope and when it was given)");
        let mut details = serde_json::Map::new();
        details.insert("acceptedBases".into(), accepted.into());
        details.insert("consents".into(), consents.into());
        DomainError::Explained { code: "no_consent", message, details }
    }

    /// Whether the attempt at `at` would rest on a consent but for the
    /// Reassigned Numbers Database: one would cover it, were its number not disconnected since.
    pub fn reassigned_only(&self, at: DateTime<Utc>) -> bool {
        self.relied_on(at).is_none()
            && self
                .consents
                .iter()
                .any(|c| self.why_not(c, at) == Some(NotCovering::Reassigned) && self.why_not(&Consent { rnd: None, ..c.clone() }, at).is_none())
    }

    /// The consent an attempt at `at` rests on: of those that cover it with
    /// a basis its type accepts, captured after the number's latest opt-out
    /// or revocation (an earlier consent never revives: 47 CFR
    /// 64.1200(a)(10); FCC 24-24), one that needs no exemption before one
    /// that rests on the healthcare exemption, then the one captured last
    /// (the freshest evidence).
    pub fn relied_on(&self, at: DateTime<Utc>) -> Option<&'a Consent> {
        self.consents.iter().filter(|c| self.why_not(c, at).is_none()).max_by(|a, b| {
            let plain = |c: &Consent| c.basis != Basis::HealthcareRelationship;
            plain(a).cmp(&plain(b)).then_with(|| a.captured_at.cmp(&b.captured_at)).then_with(|| a.id.cmp(&b.id))
        })
    }
}

impl From<&Consent> for ConsentRelied {
    fn from(consent: &Consent) -> Self {
        ConsentRelied { id: consent.id.clone(), basis: consent.basis, source: consent.source.clone(), captured_at: consent.captured_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        time::parse(text).unwrap()
    }

    fn by() -> Actor {
        Actor { sub: "user-1".into(), name: Some("Front desk".into()) }
    }

    fn input(basis: &str) -> ConsentInput {
        ConsentInput { phone_number: "(212) 555-0142".into(), basis: basis.into(), source: "new-patient intake".into(), ..ConsentInput::default() }
    }

    #[test]
    fn a_consent_is_checked_at_the_edge() {
        let now = at("2024-05-01T12:00:00Z");
        let consent = input("prior_express").check("c1".into(), "o", by(), now).unwrap();
        assert_eq!((consent.phone_number.as_str(), consent.basis, consent.captured_at, consent.scope.len()), ("+12125550142", Basis::PriorExpress, now, 0));
        let code = |input: ConsentInput| match input.check("c".into(), "o", by(), now) {
            Err(DomainError::Invalid { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(input("verbal-ish")), "invalid_basis");
        assert_eq!(code(ConsentInput { phone_number: "call me".into(), ..input("prior_express") }), "invalid_phone_number");
        assert_eq!(code(ConsentInput { scope: Some(vec!["INBOUND".into()]), ..input("prior_express") }), "invalid_scope");
        assert_eq!(code(ConsentInput { scope: Some(vec!["LATER".into()]), ..input("prior_express") }), "invalid_scope");
        assert_eq!(code(ConsentInput { source: " ".into(), ..input("prior_express") }), "invalid_source");
        assert_eq!(code(ConsentInput { source: "x".repeat(201), ..input("prior_express") }), "invalid_source");
        assert_eq!(code(ConsentInput { captured_at: Some("2024-05-02T12:00:00Z".into()), ..input("prior_express") }), "invalid_captured_at");
        assert_eq!(code(ConsentInput { captured_at: Some("1850-01-01T00:00:00Z".into()), ..input("prior_express") }), "invalid_captured_at");
        assert_eq!(code(ConsentInput { expires_at: Some("2024-04-01T00:00:00Z".into()), ..input("prior_express") }), "invalid_expires_at");
        let evidence = |kind: &str, reference: &str| Some(EvidenceInput { kind: kind.into(), reference: reference.into() });
        assert_eq!(code(ConsentInput { evidence: evidence("rumour", "x"), ..input("prior_express") }), "invalid_evidence");
        assert_eq!(code(ConsentInput { evidence: evidence("form", ""), ..input("prior_express") }), "invalid_evidence");
        let with_form = ConsentInput { evidence: evidence("form", "intake-2024"), ..input("prior_express") }.check("c".into(), "o", by(), now).unwrap();
        assert_eq!(with_form.evidence, Some(Evidence { kind: EvidenceKind::Form, reference: "intake-2024".into() }));
    }

    #[test]
    fn each_call_type_rests_on_a_basis_its_policy_accepts() {
        let now = at("2024-05-01T12:00:00Z");
        let policy = ConsentPolicy::default();
        let consent = |basis: &str| input(basis).check(format!("c-{basis}"), "o", by(), now).unwrap();
        let (express, written, healthcare) = (consent("prior_express"), consent("prior_express_written"), consent("healthcare_relationship"));
        let decide = |call_type: CallType, consents: &[Consent]| {
            Consenting { call_type, consents, accepted: policy.accepts(call_type), opted_out_at: None }.relied_on(now).map(|c| c.basis)
        };
        assert_eq!(decide(CallType::OutboundLead, std::slice::from_ref(&express)), None, "marketing needs written consent");
        assert_eq!(decide(CallType::OutboundCampaign, &[express.clone(), written.clone()]), Some(Basis::PriorExpressWritten));
        assert_eq!(decide(CallType::OutboundFollowup, std::slice::from_ref(&healthcare)), Some(Basis::HealthcareRelationship));
        assert_eq!(decide(CallType::OutboundDebt, std::slice::from_ref(&healthcare)), None, "the healthcare exemption excludes collections");
        assert_eq!(decide(CallType::OutboundDebt, std::slice::from_ref(&express)), Some(Basis::PriorExpress));
        assert_eq!(decide(CallType::OutboundOther, &[]), None, "no consent, no call");

        // Scope, expiry and revocation each take a consent out.
        let scoped = Consent { scope: vec![CallType::OutboundDebt], ..express.clone() };
        assert_eq!(decide(CallType::OutboundFollowup, std::slice::from_ref(&scoped)), None);
        let accepted = policy.accepts(CallType::OutboundFollowup);
        let expiring = Consent { expires_at: Some(at("2024-06-01T00:00:00Z")), ..express.clone() };
        let check = Consenting { call_type: CallType::OutboundFollowup, consents: std::slice::from_ref(&expiring), accepted, opted_out_at: None };
        assert!(check.relied_on(at("2024-05-31T23:59:59Z")).is_some());
        assert!(check.relied_on(at("2024-06-01T00:00:00Z")).is_none(), "not at or after its expiry");
        assert!(check.relied_on(at("2024-04-30T00:00:00Z")).is_none(), "not before it was captured");
        let revoked = Consent { revoked: Some(Revocation { at: now, channel: Channel::Sms, reason: Some("STOP".into()), by: by() }), ..express };
        assert_eq!(decide(CallType::OutboundFollowup, &[revoked]), None);

        // A tenant may ask more, never nothing.
        let stricter = ConsentPolicy::from_input(&BTreeMap::from([("OUTBOUND_FOLLOWUP".to_string(), vec!["prior_express_written".to_string()])])).unwrap();
        assert_eq!(stricter.accepts(CallType::OutboundFollowup), vec![Basis::PriorExpressWritten]);
        assert_eq!(stricter.accepts(CallType::OutboundDebt), policy.accepts(CallType::OutboundDebt), "the rest keep their default");
        for bad in [("OUTBOUND_FOLLOWUP", vec![]), ("INBOUND", vec!["prior_express".to_string()]), ("OUTBOUND_LEAD", vec!["maybe".to_string()])] {
            let input = BTreeMap::from([(bad.0.to_string(), bad.1)]);
            assert!(matches!(ConsentPolicy::from_input(&input), Err(DomainError::Invalid { code: "invalid_consent_policy", .. })));
        }
    }
}
