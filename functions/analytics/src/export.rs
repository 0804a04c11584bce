//! `GET /api/calls/export`: every call that started in a window, with
//! every field, as CSV or JSON Lines, for the practice's own books.
//!
//! A window may hold years of calls, and a Lambda behind API Gateway's HTTP
//! API answers at most 6 MB at once, so an export comes in parts: each
//! answer holds the calls of some index pages, oldest first, written out as
//! each page is read, and stops once it passes [`PART_BYTES`] (a page that
//! would take it past [`MAX_ANSWER_BYTES`] waits for the next part); the header
//! `X-Next-Cursor` continues it (the CSV header row comes with the first
//! part only). What one answer holds is bounded whatever the window's size.
//! A cell a spreadsheet would run as a formula is prefixed with `'`
//! ([`callops_domain::records::export::spreadsheet_safe`]).

use callops_aws::PageRequest;
use callops_aws::store::{AuditStore, CallQueryStore};
use callops_domain::{CallLog, DomainError, records::audit, records::export};
use callops_http::{ApiError, Caller, paging_binding, query_param};
use chrono::Utc;
use lambda_http::{
    Body, Request, Response,
    http::{
        HeaderName, HeaderValue,
        header::{CONTENT_DISPOSITION, CONTENT_TYPE},
    },
};

use crate::{Analytics, with_content};

/// A part stops once its text passes this, as the JSON a Lambda answers in
/// carries it (escaped: [`export::json_escaped_len`]).
pub const PART_BYTES: usize = 1_500_000;
/// The most an answer's text may weigh, escaped: a page that would take it
/// past this waits for the next part (and a part's first page that would is
/// read again one call at a time: one call, at most DynamoDB's 400 KB item,
/// weighs at most 1.6 MB escaped). Lambda answers at most 6 MB (6,291,456
/// bytes) with its headers and envelope.
pub use callops_domain::records::export::MAX_ANSWER_BYTES;
/// Calls read a page: few when the calls carry their content (a
/// transcript may be 200 KB), more when they are facts only (about 3 KB).
const PAGE_WITH_CONTENT: usize = 5;
const PAGE_OF_FACTS: usize = 100;

/// The header that continues an export.
pub const NEXT_CURSOR: &str = "x-next-cursor";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    JsonLines,
}

impl Analytics {
    pub(crate) async fn export(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let format = match query_param(req, "format").as_deref() {
            None | Some("csv") => Format::Csv,
            Some("jsonl") => Format::JsonLines,
            Some(_) => return Err(DomainError::invalid("invalid_format", "format is csv or jsonl").into()),
        };
        let content = with_content(req)? && caller.role.sees_content();
        let cursor = query_param(req, "cursor");
        let (window, scope, kind, _) = self.window_and_scope(caller, req).await?;
        let types = kind.types();
        let (query, only_agents) = scope.query();
        let binding = paging_binding(req);
        let columns = export::call_columns();
        let mut text = String::new();
        if format == Format::Csv && cursor.is_none() {
            text.push_str(&csv_line(&columns)?);
        }
        let page_size = if content { PAGE_WITH_CONTENT } else { PAGE_OF_FACTS };
        let (mut next, mut weight, mut calls_in_part, mut limit) = (cursor, export::json_escaped_len(&text), 0, page_size);
        loop {
            let request = PageRequest {
                cursor: next.as_deref(),
                only_agents,
                only_types: types.as_deref(),
                window: window.span.into(),
                binding: &binding,
                ..PageRequest::new(&query, limit)
            };
            let page = self.store.query_calls(&caller.org_id, &request).await?;
            let calls: Vec<CallLog> = page.items.into_iter().map(|call| if content { call } else { call.facts_only() }).collect();
            let (calls, reads) = audit::answer_calls(caller, calls, Utc::now());
            let mut lines = String::new();
            for call in &calls {
                match format {
                    Format::Csv => lines.push_str(&csv_line(&export::call_row(call, &columns))?),
                    Format::JsonLines => {
                        lines.push_str(&serde_json::to_string(call).map_err(|e| DomainError::Unavailable(e.to_string()))?);
                        lines.push('\n');
                    }
                }
            }
            let lines_weight = export::json_escaped_len(&lines);
            if weight + lines_weight > MAX_ANSWER_BYTES {
                match (calls_in_part, limit) {
                    // The part ends before this page; the cursor still names where it starts.
                    (1.., _) => break,
                    (0, 2..) => {
                        limit = 1;
                        continue;
                    }
                    (0, _) => {}
                }
            }
            // Only what is answered is a read.
            self.store.record_audit(&reads).await?;
            text.push_str(&lines);
            (weight, calls_in_part, limit, next) = (weight + lines_weight, calls_in_part + calls.len(), page_size, page.next_cursor);
            if next.is_none() || weight >= PART_BYTES {
                break;
            }
        }
        let (content_type, extension) = match format {
            Format::Csv => ("text/csv; charset=utf-8", "csv"),
            Format::JsonLines => ("application/x-ndjson", "jsonl"),
        };
        let mut response = Response::new(Body::Text(text));
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let name =
            format!("attachment; filename=\"calls-{}-{}.{extension}\"", window.span.start.format("%Y%m%dT%H%M%SZ"), window.span.end.format("%Y%m%dT%H%M%SZ"));
        headers.insert(CONTENT_DISPOSITION, HeaderValue::from_str(&name).map_err(|e| DomainError::Unavailable(e.to_string()))?);
        if let Some(next) = next {
            headers.insert(HeaderName::from_static(NEXT_CURSOR), HeaderValue::from_str(&next).map_err(|e| DomainError::Unavailable(e.to_string()))?);
        }
        Ok(callops_http::no_store(response))
    }
}

/// One CSV record, with its line end.
fn csv_line(cells: &[String]) -> Result<String, DomainError> {
    let mut writer = csv::WriterBuilder::new().from_writer(Vec::new());
    writer.write_record(cells).map_err(|e| DomainError::Unavailable(format!("the export does not write: {e}")))?;
    let bytes = writer.into_inner().map_err(|e| DomainError::Unavailable(format!("the export does not write: {e}")))?;
    String::from_utf8(bytes).map_err(|e| DomainError::Unavailable(e.to_string()))
}
