//! Campaigns: up to 10,000 contacts in one request (JSON, or CSV with a
//! `number` column whose other columns become the call's variables), one
//! OUTBOUND_CAMPAIGN call per accepted contact, spread over the agent's
//! calling hours. Contacts that cannot be called are reported back, row by row.

use std::collections::{BTreeMap, HashSet};

use callops_domain::{
    CallLog, CallStatus, CallType, DomainError, NewCall,
    campaign::{Campaign, CampaignCounts, CampaignStatus, Contact, MAX_CALLS_PER_MINUTE, MAX_CONTACTS, check_variables},
    limits, phone,
    schedule::{CLOCK_SKEW, DialRequest, ScheduledDial, latest_dial, spread},
    time,
};
use callops_http::{ApiError, Caller, header, id_param, json, query_param};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};
use lambda_http::{Body, Request, Response, http::StatusCode};
use serde::{Deserialize, Serialize};

use crate::{
    Outbound, derived_id, fingerprint,
    scheduling::{created, idempotency_key, parse_time, text},
};

/// How many schedules are made at once while a campaign is created.
const SCHEDULING_CONCURRENCY: usize = 64;
/// How many calls are cancelled at once when a campaign is.
const CANCEL_CONCURRENCY: usize = 16;

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
    /// Checked one by one, so that one bad row refuses only itself.
    pub contacts: Vec<Contact>,
}

/// A contact that was not made into a call, and why.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RejectedContact {
    /// 1-based: the contact's place in the list (for CSV, its data row).
    pub row: usize,
    pub number: String,
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignCreated {
    campaign: Campaign,
    accepted: usize,
    rejected: Vec<RejectedContact>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CampaignView {
    campaign: Campaign,
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
/// optional `name`, and every other column as a variable of that name.
pub fn parse_csv(body: &[u8]) -> Result<Vec<Contact>, DomainError> {
    let bad = |why: String| DomainError::invalid("invalid_csv", why);
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).flexible(false).from_reader(body);
    let headers: Vec<String> = reader.headers().map_err(|e| bad(format!("the header row does not parse: {e}")))?.iter().map(str::to_string).collect();
    let find = |names: &[&str]| headers.iter().position(|h| names.iter().any(|n| h.eq_ignore_ascii_case(n)));
    let number_column = find(&["number", "phoneNumber", "phone"]).ok_or_else(|| bad("the CSV needs a `number` column".into()))?;
    let name_column = find(&["name", "customerName"]);
    let mut contacts = Vec::new();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| bad(format!("data row {} does not parse: {e}", row + 1)))?;
        let mut contact = Contact { number: record.get(number_column).unwrap_or_default().to_string(), name: None, variables: BTreeMap::new() };
        for (column, value) in record.iter().enumerate() {
            if column == number_column || value.is_empty() {
                continue;
            }
            if Some(column) == name_column {
                contact.name = Some(value.to_string());
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
        contacts: parse_csv(req.body().as_ref())?,
    })
}

/// A contact checked on its own: its number in E.164, sane variables.
fn check_contact(input: &Contact) -> Result<Contact, DomainError> {
    let number = phone::normalize(&input.number)?;
    let name = text(input.name.clone(), 200, "invalid_customer_name", "name")?;
    check_variables(&input.variables)?;
    Ok(Contact { number, name, variables: input.variables.clone() })
}

fn rejected(row: usize, number: &str, err: DomainError) -> RejectedContact {
    let (code, message) = match err {
        DomainError::Invalid { code, message } | DomainError::Conflict { code, message } => (code, message),
        other => ("contact_refused", other.to_string()),
    };
    RejectedContact { row, number: number.to_string(), code, message }
}

/// A campaign request checked: what it asks for, and which contacts can be called.
struct Checked {
    name: String,
    purpose: Option<String>,
    agent: callops_domain::VoiceAgent,
    per_minute: u32,
    start: DateTime<Utc>,
    /// The accepted contacts, with their place in the request.
    accepted: Vec<(usize, Contact)>,
    refused: Vec<RejectedContact>,
}

/// The campaign's calls, one per accepted contact at its time. Their ids
/// derive from the campaign and the contact's row, so a repeated request
/// names the same calls.
fn campaign_calls(campaign: &Campaign, checked: &Checked, times: &[DateTime<Utc>], now: DateTime<Utc>) -> Vec<CallLog> {
    checked
        .accepted
        .iter()
        .zip(times)
        .map(|((index, contact), at)| {
            let mut call = CallLog::new(
                NewCall {
                    org_id: campaign.org_id.clone(),
                    voice_agent_id: campaign.voice_agent_id.clone(),
                    phone_number: contact.number.clone(),
                    call_type: CallType::OutboundCampaign,
                    status: CallStatus::Scheduled,
                    attempt: 1,
                },
                derived_id(&["campaign-call", &campaign.org_id, &campaign.id, &index.to_string()]),
                now,
            );
            call.scheduled_at = Some(*at);
            call.campaign_id = Some(campaign.id.clone());
            call.call_purpose = checked.purpose.clone();
            call.customer_name = contact.name.clone();
            call.variable_values = contact.variables.clone();
            call
        })
        .collect()
}

impl Outbound {
    pub(crate) async fn create_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request = campaign_request(req)?;
        let now = Utc::now();
        let key = idempotency_key(req)?;
        let print = fingerprint(&request);
        let mut checked = self.check_campaign(caller, &request, now).await?;
        let times = spread(checked.start.max(now), checked.accepted.len(), checked.per_minute, &checked.agent, latest_dial(now))?;
        let campaign_id = match &key {
            Some(key) => derived_id(&["campaign", &caller.org_id, key]),
            None => callops_domain::call::new_call_id(),
        };
        let (campaign, replayed) = match self.replayed_campaign(caller, &campaign_id, &print).await? {
            Some(campaign) if campaign.status == CampaignStatus::Cancelled => {
                return Ok(created(&CampaignCreated { accepted: 0, campaign, rejected: checked.refused }, true));
            }
            Some(campaign) => (campaign, true),
            None => {
                let campaign = Campaign {
                    id: campaign_id.clone(),
                    org_id: caller.org_id.clone(),
                    name: checked.name.clone(),
                    voice_agent_id: checked.agent.id.clone(),
                    call_purpose: checked.purpose.clone(),
                    status: CampaignStatus::Active,
                    calls_per_minute: checked.per_minute,
                    starts_at: times.first().copied().unwrap_or(now),
                    calls: u32::try_from(checked.accepted.len()).unwrap_or(u32::MAX),
                    rejected: u32::try_from(checked.refused.len()).unwrap_or(u32::MAX),
                    created_at: time::to_millis(now),
                    updated_at: time::to_millis(now),
                };
                match self.store.create_campaign(&campaign, key.as_ref().map(|_| print.as_str())).await {
                    Ok(()) => (campaign, false),
                    // The same key won a race with this request: go on as its repeat.
                    Err(DomainError::Conflict { .. }) if key.is_some() => match self.replayed_campaign(caller, &campaign_id, &print).await? {
                        Some(campaign) => (campaign, true),
                        None => return Err(DomainError::Unavailable(format!("campaign {campaign_id} conflicted but cannot be read")).into()),
                    },
                    Err(err) => return Err(err.into()),
                }
            }
        };
        let calls = campaign_calls(&campaign, &checked, &times, now);
        let calls = if replayed { self.not_yet_stored(caller, calls).await? } else { calls };
        let unscheduled = self.schedule_and_store(calls).await?;
        let failed = unscheduled.len();
        for call in unscheduled {
            let row = checked.accepted.iter().find(|(_, c)| c.number == call.phone_number).map_or(0, |(i, _)| i + 1);
            checked.refused.push(RejectedContact {
                row,
                number: call.phone_number.clone(),
                code: "schedule_unavailable",
                message: "the call could not be scheduled; send the same request with the same Idempotency-Key to try again".into(),
            });
        }
        checked.refused.sort_by_key(|r| r.row);
        tracing::info!(campaign_id = %campaign.id, calls = checked.accepted.len() - failed, refused = checked.refused.len(), replayed, "campaign scheduled");
        let accepted = checked.accepted.len() - failed;
        Ok(created(&CampaignCreated { campaign, accepted, rejected: checked.refused }, replayed))
    }

    /// Checks the request as a whole, then every contact on its own (the
    /// bad ones are reported by row, not dropped), then the do-not-call list.
    async fn check_campaign(&self, caller: &Caller, request: &CampaignRequest, now: DateTime<Utc>) -> Result<Checked, DomainError> {
        let name =
            text(Some(request.name.clone()), 200, "invalid_name", "name")?.ok_or_else(|| DomainError::invalid("invalid_name", "a campaign needs a name"))?;
        let purpose = text(request.purpose.clone(), 500, "invalid_purpose", "purpose")?;
        match request.contacts.len() {
            0 => return Err(DomainError::invalid("no_contacts", "a campaign needs at least one contact")),
            n if n > MAX_CONTACTS => return Err(DomainError::invalid("too_many_contacts", format!("{n} contacts: one campaign takes at most {MAX_CONTACTS}"))),
            _ => {}
        }
        let agent = self.resolve_agent(caller, request.voice_agent_id.as_deref()).await?;
        let per_minute = request.calls_per_minute.unwrap_or(agent.max_concurrent_calls.div_ceil(2).max(1));
        if !(1..=MAX_CALLS_PER_MINUTE).contains(&per_minute) {
            return Err(DomainError::invalid("invalid_calls_per_minute", format!("callsPerMinute must be 1 to {MAX_CALLS_PER_MINUTE}")));
        }
        let start = match &request.start_at {
            Some(text) => parse_time(text)
                .ok()
                .filter(time::is_supported)
                .ok_or_else(|| DomainError::invalid("invalid_start_at", format!("startAt must be an RFC 3339 time {}", time::SUPPORTED_TEXT)))?,
            None => now,
        };
        if start < now - CLOCK_SKEW {
            return Err(DomainError::invalid("start_in_past", "startAt is in the past"));
        }
        if start > latest_dial(now) {
            return Err(DomainError::invalid("start_too_far", "startAt must be within a year"));
        }
        let mut refused = Vec::new();
        let mut accepted: Vec<(usize, Contact)> = Vec::with_capacity(request.contacts.len());
        let mut seen = HashSet::new();
        for (index, input) in request.contacts.iter().enumerate() {
            match check_contact(input) {
                Ok(contact) if !seen.insert(contact.number.clone()) => {
                    refused.push(rejected(index + 1, &input.number, DomainError::invalid("duplicate_number", "this number is already in the campaign")))
                }
                Ok(contact) => accepted.push((index, contact)),
                Err(err) => refused.push(rejected(index + 1, &input.number, err)),
            }
        }
        let numbers: Vec<String> = accepted.iter().map(|(_, c)| c.number.clone()).collect();
        let listed = self.store.do_not_call_among(&caller.org_id, &numbers).await?;
        accepted.retain(|(index, contact)| {
            let keep = !listed.contains(&contact.number);
            if !keep {
                let sent = request.contacts.get(*index).map_or("", |c| c.number.as_str());
                refused.push(rejected(index + 1, sent, crate::scheduling::on_do_not_call()));
            }
            keep
        });
        refused.sort_by_key(|r| r.row);
        if accepted.is_empty() {
            return Err(DomainError::invalid("no_valid_contacts", format!("none of the {} contacts can be called", request.contacts.len())));
        }
        Ok(Checked { name, purpose, agent, per_minute, start, accepted, refused })
    }

    /// The campaign an earlier request with the same key made, if one did;
    /// `Conflict` when that request was another.
    async fn replayed_campaign(&self, caller: &Caller, campaign_id: &str, print: &str) -> Result<Option<Campaign>, DomainError> {
        match self.store.get_campaign(&caller.org_id, campaign_id).await? {
            Some((_, earlier)) if earlier.as_deref() != Some(print) => {
                Err(DomainError::conflict("idempotency_key_reused", "this Idempotency-Key was used with a different request"))
            }
            Some((campaign, _)) => Ok(Some(campaign)),
            None => Ok(None),
        }
    }

    /// The calls of a repeated request that the first did not store, read
    /// from the table itself (an index could still be catching up): a call
    /// that exists is never scheduled or written again.
    async fn not_yet_stored(&self, caller: &Caller, calls: Vec<CallLog>) -> Result<Vec<CallLog>, DomainError> {
        let ids: Vec<String> = calls.iter().map(|call| call.id.clone()).collect();
        let stored = self.store.calls_by_id(&caller.org_id, &ids).await?;
        Ok(calls.into_iter().filter(|call| !stored.contains_key(&call.id)).collect())
    }

    /// Makes each call's schedule first, then stores the calls that got one,
    /// each only if it does not exist yet. Returns the calls that got no schedule.
    async fn schedule_and_store(&self, calls: Vec<CallLog>) -> Result<Vec<CallLog>, DomainError> {
        let scheduled: Vec<Result<CallLog, (CallLog, DomainError)>> = stream::iter(calls)
            .map(|call| async move {
                let Some(at) = call.scheduled_at else { return Err((call, DomainError::Unavailable("a campaign call has no time".into()))) };
                match self.scheduler.schedule(&ScheduledDial { request: DialRequest::for_call(&call), at }).await {
                    Ok(()) => Ok(call),
                    Err(err) => Err((call, err)),
                }
            })
            .buffer_unordered(SCHEDULING_CONCURRENCY)
            .collect()
            .await;
        let mut ready = Vec::with_capacity(scheduled.len());
        let mut unscheduled = Vec::new();
        for outcome in scheduled {
            match outcome {
                Ok(call) => ready.push(call),
                Err((call, err)) => {
                    tracing::error!(call_id = %call.id, error = %err, "no schedule for a campaign call; it is reported and not stored");
                    unscheduled.push(call);
                }
            }
        }
        let created = self.store.create_new_calls(&ready).await?;
        if created.len() < ready.len() {
            tracing::warn!(existing = ready.len() - created.len(), "campaign calls a concurrent repeat of the request stored first were left as they are");
        }
        Ok(unscheduled)
    }

    /// A campaign of the caller's, by the id in the path.
    async fn caller_campaign(&self, caller: &Caller, req: &Request) -> Result<Campaign, DomainError> {
        let id = id_param(req, "id", "campaign")?;
        self.open_or_closed_campaign(caller, &id).await
    }

    async fn open_or_closed_campaign(&self, caller: &Caller, id: &str) -> Result<Campaign, DomainError> {
        if !limits::is_key_safe(id) {
            return Err(DomainError::NotFound { what: "campaign" });
        }
        self.store
            .get_campaign(&caller.org_id, id)
            .await?
            .map(|(campaign, _)| campaign)
            .filter(|campaign| caller.may_see_agent(&campaign.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "campaign" })
    }

    /// A campaign a new call may join: the caller's, and not cancelled.
    pub(crate) async fn open_campaign(&self, caller: &Caller, id: &str) -> Result<Campaign, DomainError> {
        let campaign = self.open_or_closed_campaign(caller, id).await.map_err(|err| match err {
            DomainError::NotFound { .. } => {
                DomainError::invalid("unknown_campaign", format!("there is no campaign {:?}", id.chars().take(80).collect::<String>()))
            }
            other => other,
        })?;
        if campaign.status == CampaignStatus::Cancelled {
            return Err(DomainError::conflict("campaign_cancelled", "the campaign is cancelled"));
        }
        Ok(campaign)
    }

    async fn counts(&self, campaign: &Campaign) -> Result<CampaignCounts, DomainError> {
        let mut counts = CampaignCounts::default();
        for call in self.store.campaign_calls(&campaign.org_id, &campaign.id, None).await? {
            counts.add(call.status, call.outcome.as_deref());
        }
        Ok(counts)
    }

    pub(crate) async fn get_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let campaign = self.caller_campaign(caller, req).await?;
        let counts = self.counts(&campaign).await?;
        Ok(json(StatusCode::OK, &CampaignView { campaign, counts }))
    }

    pub(crate) async fn list_campaigns(&self, caller: &Caller) -> Result<Response<Body>, ApiError> {
        let campaigns = self.store.list_campaigns(&caller.org_id).await?.into_iter().filter(|c| caller.may_see_agent(&c.voice_agent_id)).collect();
        Ok(json(StatusCode::OK, &Campaigns { campaigns }))
    }

    /// Marks the campaign cancelled, then cancels each of its waiting calls.
    /// Cancelling again finishes what an interrupted cancel left.
    pub(crate) async fn cancel_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let mut campaign = self.caller_campaign(caller, req).await?;
        let now = Utc::now();
        self.store.cancel_campaign(&caller.org_id, &campaign.id, now).await?;
        campaign.status = CampaignStatus::Cancelled;
        campaign.updated_at = time::to_millis(now);
        let waiting = self.store.campaign_calls(&caller.org_id, &campaign.id, Some(CallStatus::Scheduled)).await?;
        let results: Vec<Result<bool, DomainError>> = stream::iter(waiting)
            .map(|waiting| async move {
                let Some(stored) = self.store.get_call(&caller.org_id, &waiting.call_id).await? else { return Ok(false) };
                match self.cancel_call(stored, now).await {
                    Ok(_) => Ok(true),
                    // Dialed in the meantime: it is no longer the campaign's to stop.
                    Err(DomainError::Conflict { .. }) => Ok(false),
                    Err(other) => Err(other),
                }
            })
            .buffer_unordered(CANCEL_CONCURRENCY)
            .collect()
            .await;
        let mut cancelled = 0;
        for result in results {
            cancelled += usize::from(result?);
        }
        let counts = self.counts(&campaign).await?;
        Ok(json(StatusCode::OK, &CampaignCancelled { campaign, cancelled, counts }))
    }
}

#[cfg(test)]
mod tests {
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
