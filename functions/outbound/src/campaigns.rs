//! Campaigns: up to 10,000 contacts in one request (JSON, or CSV with a
//! `number` column whose other columns become the call's variables), one
//! call of the campaign's type (`OUTBOUND_CAMPAIGN` unless it names another
//! outbound type) per accepted contact, spread over the agent's
//! calling hours. Contacts that cannot be called are reported back, row by
//! row. The handlers parse; [`callops_service::campaigns`] creates.

use callops_aws::store::CampaignStore;
use callops_domain::{
    DomainError,
    campaign::plan::{CampaignAsk, DeferredContact, RejectedContact},
    campaign::{Campaign, CampaignCounts, Contact},
    time,
};
use callops_http::{ApiError, Caller, header, id_param, json, query_param};
use chrono::Utc;
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{
    Outbound,
    scheduling::{created, idempotency, parse_time},
};

/// `POST /api/campaigns` as JSON. A CSV body carries the contacts, and the
/// other fields come as query parameters of the same names.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CampaignRequest {
    pub name: String,
    #[serde(default)]
    pub voice_agent_id: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// When the first call may go out (default: now).
    #[serde(default)]
    pub start_at: Option<String>,
    /// How many calls start a minute at most (default: half the agent's concurrent calls).
    #[serde(default)]
    pub calls_per_minute: Option<u32>,
    /// Any `OUTBOUND_*` type (default `OUTBOUND_CAMPAIGN`): every call of the campaign has it, and its rules.
    #[serde(default)]
    pub call_type: Option<String>,
    /// When the campaign ends: contacts not reached by then are closed.
    #[serde(default)]
    pub end_at: Option<String>,
    /// What its calls leave on voicemail (at most 1,000 characters, `{{placeholders}}` filled per contact).
    #[serde(default)]
    pub voicemail_message: Option<String>,
    /// Checked one by one, so that one bad row refuses only itself.
    pub contacts: Vec<Contact>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignCreated {
    campaign: Campaign,
    accepted: usize,
    rejected: Vec<RejectedContact>,
    deferred: Vec<DeferredContact>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignView {
    campaign: Campaign,
    counts: CampaignCounts,
}

/// A call a resume closed, with the code of the rule that refused it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RefusedCall {
    call_id: String,
    code: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignControlledView {
    campaign: Campaign,
    /// Calls held (pause) or laid out again (resume).
    calls: usize,
    refused: Vec<RefusedCall>,
    counts: CampaignCounts,
}

#[derive(Serialize)]
struct Campaigns {
    campaigns: Vec<Campaign>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignCancelled {
    campaign: Campaign,
    cancelled: usize,
    counts: CampaignCounts,
}

/// Reads a CSV body: a `number` column (or `phoneNumber`/`phone`), an
/// optional `name`, optional `timeZone` (or `time_zone`, `tz`), `state` and
/// `debtId` (or `debt_id`), and every other column as a variable of that name.
pub fn parse_csv(body: &[u8]) -> Result<Vec<Contact>, DomainError> {
    let bad = |why: String| DomainError::invalid("invalid_csv", why);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(body);
    let headers: Vec<String> = reader.headers().map_err(|e| bad(format!("the header row does not parse: {e}")))?.iter().map(str::to_string).collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let number_column = find(&["number", "phoneNumber", "phone"]).ok_or_else(|| bad("the CSV needs a `number` column".into()))?;
    let name_column = find(&["name", "customerName"]);
    let zone_column = find(&["timeZone", "time_zone", "tz"]);
    let state_column = find(&["state"]);
    let debt_column = find(&["debtId", "debt_id"]);
    let mut contacts = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("data row {} does not parse: {e}", row + 1)))?;
        let mut contact = Contact { number: record.get(number_column).unwrap_or_default().to_string(), ..Contact::default() };
        for (column, value) in record.iter().enumerate() {
            if column == number_column || value.is_empty() {
                continue;
            }
            if Some(column) == name_column {
                contact.name = Some(value.to_string());
            } else if Some(column) == zone_column {
                contact.time_zone = Some(value.to_string());
            } else if Some(column) == state_column {
                contact.state = Some(value.to_string());
            } else if Some(column) == debt_column {
                contact.debt_id = Some(value.to_string());
            } else if let Some(header) = headers.get(column) {
                contact.variables.insert(header.clone(), value.to_string());
            }
        }
        contacts.push(contact);
    }
    Ok(contacts)
}

fn is_csv(req: &Request) -> bool {
    header(req, "content-type").is_some_and(|t| t.to_ascii_lowercase().starts_with("text/csv"))
}

/// The campaign request, from a JSON body or from a CSV body and the query string.
fn campaign_request(req: &Request) -> Result<CampaignRequest, DomainError> {
    if !is_csv(req) {
        return callops_http::json_body(req);
    }
    let calls_per_minute = match query_param(req, "callsPerMinute") {
        Some(text) => Some(text.parse().map_err(|_| DomainError::invalid("invalid_calls_per_minute", "callsPerMinute must be a whole number"))?),
        None => None,
    };
    Ok(CampaignRequest {
        name: query_param(req, "name").unwrap_or_default(),
        voice_agent_id: query_param(req, "voiceAgentId"),
        purpose: query_param(req, "purpose"),
        start_at: query_param(req, "startAt"),
        calls_per_minute,
        call_type: query_param(req, "callType"),
        end_at: query_param(req, "endAt"),
        voicemail_message: query_param(req, "voicemailMessage"),
        contacts: parse_csv(req.body().as_ref())?,
    })
}

/// A time a campaign request gives (`startAt`, `endAt`), or `code` with what to send instead.
fn campaign_time(text: Option<&str>, name: &str, code: &'static str) -> Result<Option<chrono::DateTime<Utc>>, DomainError> {
    text.map(|text| {
        parse_time(text)
            .ok()
            .filter(time::is_supported)
            .ok_or_else(|| DomainError::invalid(code, format!("{name} must be an RFC 3339 time {}", time::SUPPORTED_TEXT)))
    })
    .transpose()
}

impl TryFrom<CampaignRequest> for CampaignAsk {
    type Error = DomainError;

    fn try_from(request: CampaignRequest) -> Result<Self, DomainError> {
        let start_at = campaign_time(request.start_at.as_deref(), "startAt", "invalid_start_at")?;
        let end_at = campaign_time(request.end_at.as_deref(), "endAt", "invalid_end_at")?;
        let call_type = request.call_type.as_deref().map(callops_domain::CallType::parse_outbound).transpose()?;
        Ok(CampaignAsk {
            name: request.name,
            purpose: request.purpose,
            start_at,
            calls_per_minute: request.calls_per_minute,
            call_type,
            end_at,
            voicemail_message: request.voicemail_message,
            contacts: request.contacts,
        })
    }
}

impl Outbound {
    pub(crate) async fn create_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request = campaign_request(req)?;
        let key = idempotency(req, &request)?;
        let agent_id = request.voice_agent_id.clone();
        let made = self.calls.create_campaign(caller, agent_id.as_deref(), request.try_into()?, key, Utc::now()).await?;
        Ok(created(&CampaignCreated { campaign: made.campaign, accepted: made.accepted, rejected: made.rejected, deferred: made.deferred }, made.replayed))
    }

    pub(crate) async fn get_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let campaign = self.calls.caller_campaign(caller, &id_param(req, "id", "campaign")?).await?;
        let counts = self.calls.campaign_counts(&campaign).await?;
        Ok(json(StatusCode::OK, &CampaignView { campaign, counts }))
    }

    pub(crate) async fn list_campaigns(&self, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let campaigns = self.store.list_campaigns(&caller.org_id).await?.into_iter().filter(|c| caller.may_see_agent(&c.voice_agent_id)).collect();
        Ok(json(StatusCode::OK, &Campaigns { campaigns }))
    }

    /// Sets or clears the campaign's `endAt`.
    pub(crate) async fn update_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        // `endAt` set (a time) or cleared (`null`); nothing else changes here, and a patch without it changes nothing.
        let patch: serde_json::Map<String, serde_json::Value> = callops_http::json_body(req)?;
        let end_at = match (patch.get("endAt"), patch.len()) {
            (Some(serde_json::Value::Null), 1) => None,
            (Some(serde_json::Value::String(text)), 1) => campaign_time(Some(text), "endAt", "invalid_end_at")?,
            _ => {
                return Err(DomainError::invalid("invalid_body", "send {\"endAt\": <RFC 3339 time or null>}: endAt is the one field a campaign changes").into());
            }
        };
        let campaign = self.calls.set_campaign_end(caller, &id_param(req, "id", "campaign")?, end_at, Utc::now()).await?;
        let counts = self.calls.campaign_counts(&campaign).await?;
        Ok(json(StatusCode::OK, &CampaignView { campaign, counts }))
    }

    /// Pauses the campaign: nothing new of it is placed; its waiting calls are held.
    pub(crate) async fn pause_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let done = self.calls.pause_campaign(caller, &id_param(req, "id", "campaign")?, Utc::now()).await?;
        self.controlled(done).await
    }

    /// Resumes the campaign: each held call is laid out again from now, every rule asked again.
    pub(crate) async fn resume_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let done = self.calls.resume_campaign(caller, &id_param(req, "id", "campaign")?, Utc::now()).await?;
        self.controlled(done).await
    }

    async fn controlled(&self, done: callops_service::campaign_control::CampaignControlled) -> Result<Response<Body>, ApiError> {
        let counts = self.calls.campaign_counts(&done.campaign).await?;
        let refused = done.refused.into_iter().map(|(call_id, code)| RefusedCall { call_id, code }).collect();
        Ok(json(StatusCode::OK, &CampaignControlledView { campaign: done.campaign, calls: done.calls, refused, counts }))
    }

    /// Marks the campaign cancelled, then cancels each of its waiting calls.
    pub(crate) async fn cancel_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let done = self.calls.cancel_campaign(caller, &id_param(req, "id", "campaign")?, Utc::now()).await?;
        Ok(json(StatusCode::OK, &CampaignCancelled { campaign: done.campaign, cancelled: done.cancelled, counts: done.counts }))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn csv_columns_become_the_number_the_name_and_variables() {
        let body = b"number,name,appointment_date,balance\n+12125550142,Ada Lovelace,May 3,$120\n(212) 555-0199,, May 4 ,\n";
        let contacts = parse_csv(body).unwrap();
        assert_eq!(contacts.len(), 2);
        assert_eq!(contacts[0].number, "+12125550142");
        assert_eq!(contacts[0].name.as_deref(), Some("Ada Lovelace"));
        assert_eq!(contacts[0].variables, BTreeMap::from([("appointment_date".into(), "May 3".into()), ("balance".into(), "$120".into())]));
        assert_eq!(contacts[1].name, None);
        assert_eq!(contacts[1].variables, BTreeMap::from([("appointment_date".into(), "May 4".into())]), "empty cells are left out");
    }

    #[test]
    fn a_csv_without_a_number_column_or_with_ragged_rows_is_refused() {
        let err = parse_csv(b"phone_no,name\n1,2\n").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "invalid_csv", .. }));
        let err = parse_csv(b"number,name\n+12125550142\n").unwrap_err();
        assert!(matches!(err, DomainError::Invalid { code: "invalid_csv", .. }));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use callops_domain::{call::check_variables, campaign::plan::check_contact};
    use proptest::prelude::*;

    /// CSV-shaped text: a header, rows of cells with quotes, commas,
    /// newlines, long values and odd bytes; and plain bytes.
    fn csv_body() -> impl Strategy<Value = Vec<u8>> {
        let cell = prop_oneof!["[+]?[0-9 ().-]{0,20}", "\\PC{0,20}", "\"[^\"]{0,10}\"", "\"[a-z,\n]{0,10}", (0usize..2_000).prop_map(|n| "x".repeat(n)),];
        let header =
            prop_oneof![Just("number,name,balance".to_string()), Just("phoneNumber,customerName".to_string()), Just("name".to_string()), "[a-z_,]{0,30}",];
        prop_oneof![
            (header, prop::collection::vec(prop::collection::vec(cell, 0..5), 0..20)).prop_map(|(header, rows)| {
                let mut text = header;
                for row in rows {
                    text.push('\n');
                    text.push_str(&row.join(","));
                }
                text.into_bytes()
            }),
            prop::collection::vec(any::<u8>(), 0..200),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_csv_gives_contacts_each_checked_or_a_refusal_with_a_code(body in csv_body()) {
            match parse_csv(&body) {
                Ok(contacts) => {
                    for contact in contacts {
                        match check_contact(&contact) {
                            Ok(checked) => {
                                prop_assert!(callops_domain::phone::is_list_key(&checked.number));
                                prop_assert!(check_variables(&checked.variables).is_ok());
                                prop_assert!(checked.name.as_ref().is_none_or(|n| n.len() <= 200));
                            }
                            Err(err) => prop_assert!(matches!(err, DomainError::Invalid { .. }), "{:?}", err),
                        }
                    }
                }
                Err(err) => prop_assert!(matches!(err, DomainError::Invalid { code: "invalid_csv", .. }), "{:?}", err),
            }
        }
    }
}
