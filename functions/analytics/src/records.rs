//! The admin's routes over patient data: the audit log, and a patient's
//! own records (read a page at a time, exported as JSON or CSV, erased).

use callops_aws::store::{AuditChainStore, AuditStore};
use callops_domain::{
    DomainError, phone,
    records::audit::{Action, AuditEntry, AuditFilter, EntityType},
    records::export::Table,
    time::Span,
};
use callops_http::{ApiError, Caller, integer_param, json, paging_binding, path_param, query_param, window::parse_window};
use callops_service::records;
use chrono::Utc;
use lambda_http::{
    Body, Request, Response,
    http::{
        HeaderValue, StatusCode,
        header::{CONTENT_DISPOSITION, CONTENT_TYPE},
    },
};
use serde::Serialize;

use crate::Analytics;

const DEFAULT_AUDIT_LIMIT: usize = 50;
const MAX_AUDIT_LIMIT: usize = 200;
const DEFAULT_PATIENT_LIMIT: usize = 50;
const MAX_PATIENT_LIMIT: usize = 100;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AuditPage {
    entries: Vec<AuditEntry>,
    next_cursor: Option<String>,
}

fn patient_number(req: &Request) -> Result<String, DomainError> {
    Ok(phone::normalize(&path_param(req, "phoneNumber").unwrap_or_default())?.into_string())
}

impl Analytics {
    /// `GET /api/audit`: newest first, within the window when one is given,
    /// narrowed by actor, entity type and entity id. The read is itself an entry.
    pub(crate) async fn audit_log(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_AUDIT_LIMIT)?.unwrap_or(DEFAULT_AUDIT_LIMIT);
        let (start, end) = (query_param(req, "startDate"), query_param(req, "endDate"));
        // A zone is checked whether or not a date reads it.
        callops_http::window::parse_tz(query_param(req, "tz").as_deref())?;
        let window = match (&start, &end) {
            (None, None) => Span::ALL,
            _ => parse_window(start.as_deref(), end.as_deref(), query_param(req, "tz").as_deref(), Utc::now())?.span.into(),
        };
        let bounded = |name: &str| -> Result<Option<String>, DomainError> {
            match query_param(req, name) {
                Some(text) if text.len() > 200 || text.chars().any(char::is_control) => {
                    Err(DomainError::invalid("invalid_filter", format!("{name} is at most 200 characters")))
                }
                other => Ok(other),
            }
        };
        let entity_type =
            match query_param(req, "entityType") {
                Some(text) => Some(EntityType::parse(&text).ok_or_else(|| {
                    DomainError::invalid("invalid_entity_type", "entityType is one of call, campaign, agent, tenant, consent, number, patient")
                })?),
                None => None,
            };
        let filter = AuditFilter { actor: bounded("actor")?, entity_type, entity_id: bounded("entityId")? };
        let binding = paging_binding(req);
        let cursor = query_param(req, "cursor");
        let page = self.store.audit_entries(&caller.org_id, window, &filter, limit, cursor.as_deref(), &binding).await?;
        let mut read = callops_domain::records::audit::fields_read(&["entries"]);
        read.insert("query".into(), serde_json::Value::String(binding));
        self.store.record_audit(&[AuditEntry::new(caller, Action::AuditRead, &caller.org_id, read, Utc::now())]).await?;
        Ok(json(StatusCode::OK, &AuditPage { entries: page.items, next_cursor: page.next_cursor }))
    }

    /// `GET /api/patients/{phoneNumber}`: a page of the number's calls with its consents and do-not-call state.
    pub(crate) async fn patient(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = patient_number(req)?;
        let limit = integer_param(req, "limit", "invalid_limit", 1..=MAX_PATIENT_LIMIT)?.unwrap_or(DEFAULT_PATIENT_LIMIT);
        let binding = format!("patient={number}");
        let cursor = query_param(req, "cursor");
        let records = records::patient_records(&self.store, caller, &number, limit, cursor.as_deref(), &binding).await?;
        Ok(json(StatusCode::OK, &records))
    }

    /// `GET /api/audit/verify`: the tenant's audit log walked, its hash chain
    /// proved whole (nothing changed, nothing removed), or what does not hold.
    pub(crate) async fn verify_audit(&self, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let now = Utc::now();
        let report = self.store.verify_audit(&caller.org_id, callops_aws::store::audit::audit_retention_days(), now).await?;
        self.store
            .record_audit(&[AuditEntry::new(caller, Action::AuditRead, &caller.org_id, callops_domain::records::audit::fields_read(&["verification"]), now)])
            .await?;
        Ok(json(StatusCode::OK, &report))
    }

    /// `GET /api/patients/{phoneNumber}/export?format=json|csv`: everything, as a file.
    pub(crate) async fn patient_export(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = patient_number(req)?;
        let format = query_param(req, "format").unwrap_or_else(|| "json".into());
        if !matches!(format.as_str(), "json" | "csv") {
            return Err(DomainError::invalid("invalid_format", "format is json or csv").into());
        }
        let cursor = query_param(req, "cursor");
        let binding = format!("patient-export={number}");
        let records = records::patient_export(&self.store, caller, &number, &format, cursor.as_deref(), &binding).await?;
        let digits: String = number.chars().filter(char::is_ascii_digit).collect();
        let (body, content_type) = match format.as_str() {
            "csv" => (patient_csv(&records)?, "text/csv; charset=utf-8"),
            _ => (serde_json::to_string(&records).map_err(|e| DomainError::Unavailable(e.to_string()))?, "application/json"),
        };
        let mut response = Response::new(Body::Text(body));
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let disposition = format!("attachment; filename=\"patient-{digits}.{format}\"");
        response.headers_mut().insert(CONTENT_DISPOSITION, HeaderValue::from_str(&disposition).map_err(|e| DomainError::Unavailable(e.to_string()))?);
        // An export larger than one answer comes in parts: the header names the next one.
        if let Some(next) = &records.next_cursor {
            response.headers_mut().insert(
                lambda_http::http::HeaderName::from_static(crate::export::NEXT_CURSOR),
                HeaderValue::from_str(next).map_err(|e| DomainError::Unavailable(e.to_string()))?,
            );
        }
        Ok(callops_http::no_store(response))
    }

    /// `DELETE /api/patients/{phoneNumber}`: the number's calls erased; analytics unchanged.
    pub(crate) async fn erase_patient(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = patient_number(req)?;
        let erased = records::erase_patient(&self.store, caller, &number, self.backup_days, Utc::now()).await?;
        Ok(json(StatusCode::OK, &erased))
    }
}

/// One CSV of every record: calls, consents, the do-not-call entry and its history.
fn patient_csv(records: &records::PatientRecords) -> Result<String, DomainError> {
    let mut table = Table::default();
    for call in &records.calls {
        table.add("call", call);
    }
    for consent in &records.consents {
        table.add("consent", consent);
    }
    if let Some(entry) = &records.do_not_call {
        table.add("doNotCall", entry);
    }
    for change in &records.do_not_call_history {
        table.add("doNotCallChange", change);
    }
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in table.rows() {
        writer.write_record(&row).map_err(|e| DomainError::Unavailable(format!("the export does not write: {e}")))?;
    }
    let bytes = writer.into_inner().map_err(|e| DomainError::Unavailable(format!("the export does not write: {e}")))?;
    String::from_utf8(bytes).map_err(|e| DomainError::Unavailable(e.to_string()))
}
