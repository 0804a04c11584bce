//! A tenant's consents to call its patients' numbers: recorded one by one or
//! imported from a CSV file (a result per row), listed by number, revoked.
//! A revocation is written on the consent, never a delete; the placement
//! policy refuses any outbound call that no consent covers (`no_consent`).

use callops_aws::store::{AuditStore, ConsentStore};
use callops_domain::{
    DomainError,
    call::new_call_id,
    consent::{Channel, Consent, ConsentInput, EvidenceInput, Revocation},
    limits, phone,
    records::audit::{Action, AuditEntry},
};
use callops_http::{ApiError, Caller, header, integer_param, json, json_body, path_param, query_param};
use chrono::Utc;
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::Outbound;

/// The most rows one CSV import takes.
pub const MAX_IMPORT_ROWS: usize = 10_000;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Consents {
    consents: Vec<Consent>,
    next_cursor: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RevokeRequest {
    channel: String,
    #[serde(default)]
    reason: Option<String>,
}

/// A row the import did not take, and why.
#[derive(Debug, Serialize, PartialEq)]
pub struct RejectedRow {
    /// 1-based, the data row (the header is row 0).
    pub row: usize,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
struct Imported {
    accepted: usize,
    rejected: Vec<RejectedRow>,
}

fn rejected(row: usize, err: DomainError) -> RejectedRow {
    RejectedRow { row, code: err.code().unwrap_or("consent_refused"), message: err.to_string() }
}

/// Reads a consent CSV: `phoneNumber` (or `number`, `phone`), `basis` and
/// `source`, and optional `scope` (call types separated by `;`),
/// `evidenceType`, `evidenceReference`, `capturedAt` and `expiresAt`. Each
/// data row becomes an input, or its row's refusal when the file cannot say
/// what it holds.
pub fn parse_consent_csv(body: &[u8]) -> Result<Vec<ConsentInput>, DomainError> {
    let bad = |why: String| DomainError::invalid("invalid_csv", why);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(body);
    let headers: Vec<String> = reader.headers().map_err(|e| bad(format!("the header row does not parse: {e}")))?.iter().map(str::to_string).collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let number = find(&["phoneNumber", "number", "phone"]).ok_or_else(|| bad("the CSV needs a `phoneNumber` column".into()))?;
    let basis = find(&["basis"]).ok_or_else(|| bad("the CSV needs a `basis` column".into()))?;
    let source = find(&["source"]).ok_or_else(|| bad("the CSV needs a `source` column".into()))?;
    let (scope, kind, reference) = (find(&["scope"]), find(&["evidenceType"]), find(&["evidenceReference"]));
    let (captured, expires) = (find(&["capturedAt"]), find(&["expiresAt"]));
    let mut inputs = Vec::new();
    for (row, record) in reader.records().enumerate() {
        if row >= MAX_IMPORT_ROWS {
            return Err(DomainError::invalid("too_many_rows", format!("one import takes at most {MAX_IMPORT_ROWS} rows")));
        }
        let record = record.map_err(|e| bad(format!("data row {} does not parse: {e}", row + 1)))?;
        let cell = |column: Option<usize>| column.and_then(|c| record.get(c)).filter(|v| !v.is_empty()).map(str::to_string);
        let evidence = match (cell(kind), cell(reference)) {
            (None, None) => None,
            (kind, reference) => Some(EvidenceInput { kind: kind.unwrap_or_default(), reference: reference.unwrap_or_default() }),
        };
        inputs.push(ConsentInput {
            phone_number: cell(Some(number)).unwrap_or_default(),
            basis: cell(Some(basis)).unwrap_or_default(),
            scope: cell(scope).map(|s| s.split(';').map(|t| t.trim().to_string()).filter(|t| !t.is_empty()).collect()),
            source: cell(Some(source)).unwrap_or_default(),
            evidence,
            captured_at: cell(captured),
            expires_at: cell(expires),
        });
    }
    Ok(inputs)
}

impl Outbound {
    pub(crate) async fn record_consent(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let now = Utc::now();
        let consent = json_body::<ConsentInput>(req)?.check(new_call_id().into_string(), &caller.org_id, caller.actor.clone(), now)?;
        let audit = AuditEntry::of_change(caller, Action::ConsentRecorded, &consent.id, None::<&Consent>, &consent, now);
        match self.store.record_consents(std::slice::from_ref(&consent), &[audit]).await?.remove(0) {
            Ok(()) => Ok(json(StatusCode::CREATED, &consent)),
            Err(err) => Err(err.into()),
        }
    }

    /// The consents of `phoneNumber`, oldest first, `limit` at a time.
    pub(crate) async fn list_consents(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = phone::normalize(&query_param(req, "phoneNumber").unwrap_or_default())?;
        let limit = integer_param(req, "limit", "invalid_limit", 1..=callops_domain::consent::MAX_CONSENTS_PER_NUMBER)?
            .unwrap_or(callops_domain::consent::MAX_CONSENTS_PER_NUMBER);
        let after = query_param(req, "cursor");
        if after.as_deref().is_some_and(|c| !limits::is_key_safe(c)) {
            return Err(DomainError::invalid("invalid_cursor", "cursor is not one this API gave").into());
        }
        let all = self.store.consents(&caller.org_id, &number).await?;
        let mut rest: Vec<Consent> = all.into_iter().filter(|c| after.as_deref().is_none_or(|a| c.id.as_str() > a)).collect();
        let next_cursor = (rest.len() > limit).then(|| rest[limit - 1].id.clone());
        rest.truncate(limit);
        self.store
            .record_audit(&[AuditEntry::new(caller, Action::NumberRead, &number, callops_domain::records::audit::fields_read(&["consents"]), Utc::now())])
            .await?;
        Ok(json(StatusCode::OK, &Consents { consents: rest, next_cursor }))
    }

    pub(crate) async fn revoke_consent(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let id = path_param(req, "id").filter(|id| limits::is_key_safe(id)).ok_or(DomainError::NotFound { what: "consent" })?;
        let request: RevokeRequest = json_body(req)?;
        let channel = Channel::parse(&request.channel)?;
        let reason = limits::optional_text(request.reason, 500, "invalid_reason", "reason")?;
        let consent = self.store.consent(&caller.org_id, &id).await?.ok_or(DomainError::NotFound { what: "consent" })?;
        if consent.revoked.is_some() {
            return Err(DomainError::conflict(callops_domain::error::Conflict::AlreadyRevoked, "this consent is revoked already").into());
        }
        let now = Utc::now();
        let revocation = Revocation { at: callops_domain::time::to_millis(now), channel, reason, by: caller.actor.clone() };
        let after = Consent { revoked: Some(revocation.clone()), ..consent.clone() };
        let audit = AuditEntry::of_change(caller, Action::ConsentRevoked, &consent.id, Some(&consent), &after, now);
        let revoked = self.store.revoke_consent(&consent, &revocation, &audit).await?;
        tracing::info!(consent_id = %revoked.id, number = %phone::mask(&revoked.phone_number), channel = channel.as_str(), "consent revoked");
        Ok(json(StatusCode::OK, &revoked))
    }

    /// `text/csv`: every row checked on its own; the good ones are recorded.
    pub(crate) async fn import_consents(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        if !header(req, "content-type").is_some_and(|t| t.to_ascii_lowercase().starts_with("text/csv")) {
            return Err(DomainError::invalid("unsupported_media_type", "send the consents as text/csv").into());
        }
        let now = Utc::now();
        let mut refused = Vec::new();
        let mut checked = Vec::new();
        for (index, input) in parse_consent_csv(req.body().as_ref())?.into_iter().enumerate() {
            match input.check(new_call_id().into_string(), &caller.org_id, caller.actor.clone(), now) {
                Ok(consent) => checked.push((index + 1, consent)),
                Err(err) => refused.push(rejected(index + 1, err)),
            }
        }
        let consents: Vec<Consent> = checked.iter().map(|(_, c)| c.clone()).collect();
        let audits: Vec<AuditEntry> =
            consents.iter().map(|c| AuditEntry::of_change(caller, Action::ConsentRecorded, &c.id, None::<&Consent>, c, now)).collect();
        let outcomes = self.store.record_consents(&consents, &audits).await?;
        let mut accepted = 0;
        for ((row, _), outcome) in checked.iter().zip(outcomes) {
            match outcome {
                Ok(()) => accepted += 1,
                Err(err) => refused.push(rejected(*row, err)),
            }
        }
        refused.sort_by_key(|r| r.row);
        Ok(json(StatusCode::OK, &Imported { accepted, rejected: refused }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consent_csv_columns_become_inputs_and_a_file_without_its_columns_is_refused() {
        let body = b"phoneNumber,basis,source,scope,evidenceType,evidenceReference,capturedAt\n\
            +12125550142,prior_express_written,web form,OUTBOUND_LEAD;OUTBOUND_CAMPAIGN,form,booking-77,2024-05-01T10:00:00Z\n\
            (212) 555-0199,prior_express,front desk,,,,\n";
        let inputs = parse_consent_csv(body).unwrap();
        assert_eq!(inputs.len(), 2);
        assert_eq!(inputs[0].scope, Some(vec!["OUTBOUND_LEAD".to_string(), "OUTBOUND_CAMPAIGN".to_string()]));
        assert_eq!(inputs[0].evidence.as_ref().map(|e| (e.kind.as_str(), e.reference.as_str())), Some(("form", "booking-77")));
        assert_eq!((inputs[1].scope.clone(), inputs[1].evidence.is_none(), inputs[1].captured_at.clone()), (None, true, None));
        for bad in [&b"number,source\n+12125550142,x\n"[..], b"basis,source\nprior_express,x\n", b"phoneNumber,basis,source\n+1212,a\n"] {
            assert!(matches!(parse_consent_csv(bad), Err(DomainError::Invalid { code: "invalid_csv", .. })));
        }
    }
}
