//! The practice's do-not-call registries: `POST /api/registries/{registry}/import`
//! (admin: a file from the FTC or a state, `?asOf=YYYY-MM-DD`), and the
//! business relationship a telemarketing call to a listed number may rest
//! on: `PUT /api/numbers/{phoneNumber}/relationship`.

use callops_domain::{
    DomainError,
    placement::registries::{NATIONAL, RegistryFile, Relationship, parse_registry},
    time,
};
use callops_http::{ApiError, Caller, json, json_body, path_param, query_param};
use chrono::{NaiveDate, Utc};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::Outbound;

/// The largest file taken through the API (about 400,000 numbers); larger ones go through `callops import-dnc`.
pub const MAX_IMPORT_BYTES: usize = 5 * 1024 * 1024;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RejectedLine {
    line: usize,
    message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Imported {
    registry: callops_domain::placement::registries::RegistryCopy,
    added: usize,
    deleted: usize,
    rejected_count: usize,
    rejected: Vec<RejectedLine>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RelationshipInput {
    last_transaction_at: Option<String>,
    last_inquiry_at: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RelationshipAnswer {
    phone_number: String,
    #[serde(flatten)]
    relationship: Relationship,
}

impl Outbound {
    pub(crate) async fn import_registry(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let registry = parse_registry(&path_param(req, "registry").unwrap_or_default())?;
        let raw: &[u8] = req.body().as_ref();
        if raw.len() > MAX_IMPORT_BYTES {
            return Err(ApiError::PayloadTooLarge(MAX_IMPORT_BYTES));
        }
        let text = std::str::from_utf8(raw).map_err(|_| DomainError::invalid("invalid_registry_file", "the file is text (UTF-8)"))?;
        let now = Utc::now();
        let as_of = match query_param(req, "asOf") {
            Some(text) => {
                NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| DomainError::invalid("invalid_as_of", "asOf is the file's date, YYYY-MM-DD"))?
            }
            None => now.date_naive(),
        };
        if as_of > now.date_naive() || (now.date_naive() - as_of).num_days() > 366 {
            return Err(
                DomainError::invalid("invalid_as_of", "asOf is the date the registry produced the file: not in the future, within the last year").into()
            );
        }
        let file = if registry == NATIONAL { RegistryFile::national(text) } else { RegistryFile::state(text)? };
        if file.additions.is_empty() && file.deletions.is_empty() {
            return Err(DomainError::invalid("invalid_registry_file", "no line of the file is a US number: see the formats in the API reference").into());
        }
        let done = self.calls.import_registry(caller, &registry, as_of, &file, now).await?;
        let rejected = done.rejected.into_iter().map(|(line, message)| RejectedLine { line, message }).collect();
        Ok(json(StatusCode::OK, &Imported { registry: done.copy, added: done.added, deleted: done.deleted, rejected_count: done.rejected_count, rejected }))
    }

    pub(crate) async fn put_relationship(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let number = Self::path_number(req)?;
        let input: RelationshipInput = json_body(req)?;
        let now = Utc::now();
        let at = |text: Option<String>, field: &str| -> Result<Option<chrono::DateTime<Utc>>, DomainError> {
            let Some(text) = text else { return Ok(None) };
            let at = time::parse(text.trim())
                .and_then(time::supported)
                .ok_or_else(|| DomainError::invalid("invalid_relationship", format!("{field} is an ISO 8601 time (2000 to 2099)")))?;
            if at > now + time::CLOCK_SKEW {
                return Err(DomainError::invalid("invalid_relationship", format!("{field} cannot be in the future")));
            }
            Ok(Some(time::to_millis(at)))
        };
        let relationship = Relationship {
            last_transaction_at: at(input.last_transaction_at, "lastTransactionAt")?,
            last_inquiry_at: at(input.last_inquiry_at, "lastInquiryAt")?,
        };
        if relationship.last_transaction_at.is_none() && relationship.last_inquiry_at.is_none() {
            return Err(DomainError::invalid("invalid_relationship", "give lastTransactionAt, lastInquiryAt or both").into());
        }
        self.calls.set_relationship(caller, &number, &relationship, now).await?;
        Ok(json(StatusCode::OK, &RelationshipAnswer { phone_number: number, relationship }))
    }
}
