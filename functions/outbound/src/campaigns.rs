//! Campaigns: up to 10,000 contacts in one request (JSON, or CSV with a
//! `number` column whose other columns become the call's variables), one
//! OUTBOUND_CAMPAIGN call per accepted contact, spread over the agent's
//! calling hours. Contacts that cannot be called are reported back, row by row.

use std::collections::{BTreeMap, HashSet};

use callops_domain::{
    CallLog, CallStatus, CallType, DomainError, NewCall,
    campaign::{Campaign, CampaignCounts, CampaignStatus, Contact, MAX_CONTACTS, check_variables},
    phone,
    schedule::{CLOCK_SKEW, DialRequest, ScheduledDial, spread},
    time,
};
use callops_http::{ApiError, Caller, header, json, path_param, query_param};
use chrono::Utc;
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
const MAX_CALLS_PER_MINUTE: u32 = 600;

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
            } else {
                contact.variables.insert(headers[column].clone(), value.to_string());
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

impl Outbound {
    pub(crate) async fn create_campaign(&self, caller: &Caller, req: &Request) -> Result<Response<Body>, ApiError> {
        let request = campaign_request(req)?;
        let now = Utc::now();
        let key = idempotency_key(req)?;
        let print = fingerprint(&request);

        let name =
            text(Some(request.name.clone()), 200, "invalid_name", "name")?.ok_or_else(|| DomainError::invalid("invalid_name", "a campaign needs a name"))?;
        let purpose = text(request.purpose.clone(), 500, "invalid_purpose", "purpose")?;
        match request.contacts.len() {
            0 => return Err(DomainError::invalid("no_contacts", "a campaign needs at least one contact").into()),
            n if n > MAX_CONTACTS => {
                return Err(DomainError::invalid("too_many_contacts", format!("{n} contacts: one campaign takes at most {MAX_CONTACTS}")).into());
            }
            _ => {}
        }
        let agent = self.resolve_agent(caller, request.voice_agent_id.as_deref()).await?;
        let per_minute = request.calls_per_minute.unwrap_or(agent.max_concurrent_calls.div_ceil(2).max(1));
        if !(1..=MAX_CALLS_PER_MINUTE).contains(&per_minute) {
            return Err(DomainError::invalid("invalid_calls_per_minute", format!("callsPerMinute must be 1 to {MAX_CALLS_PER_MINUTE}")).into());
        }
        let start = match &request.start_at {
            Some(text) => parse_time(text).map_err(|_| DomainError::invalid("invalid_start_at", format!("startAt {text:?} is not an RFC 3339 time")))?,
            None => now,
        };
        if start < now - CLOCK_SKEW {
            return Err(DomainError::invalid("start_in_past", "startAt is in the past").into());
        }

        let campaign_id = match &key {
            Some(key) => derived_id(&["campaign", &caller.org_id, key]),
            None => callops_domain::call::new_call_id(),
        };
        let existing = self.store.get_campaign(&caller.org_id, &campaign_id).await?;
        if let Some((_, earlier)) = &existing
            && earlier.as_deref() != Some(print.as_str())
        {
            return Err(DomainError::conflict("idempotency_key_reused", "this Idempotency-Key was used with a different request").into());
        }

        // Every contact is checked on its own; the bad ones are reported, not dropped.
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
                refused.push(rejected(index + 1, &request.contacts[*index].number, crate::scheduling::on_do_not_call()));
            }
            keep
        });
        refused.sort_by_key(|r| r.row);
        if accepted.is_empty() {
            return Err(DomainError::invalid("no_valid_contacts", format!("none of the {} contacts can be called", request.contacts.len())).into());
        }

        let times = spread(start.max(now), accepted.len(), per_minute, &agent);
        let replayed = existing.is_some();
        let campaign = match existing {
            Some((campaign, _)) if campaign.status == CampaignStatus::Cancelled => {
                return Ok(created(&CampaignCreated { accepted: 0, campaign, rejected: refused }, true));
            }
            Some((campaign, _)) => campaign,
            None => {
                let campaign = Campaign {
                    id: campaign_id.clone(),
                    org_id: caller.org_id.clone(),
                    name,
                    voice_agent_id: agent.id.clone(),
                    call_purpose: purpose.clone(),
                    status: CampaignStatus::Active,
                    calls_per_minute: per_minute,
                    starts_at: times[0],
                    calls: accepted.len() as u32,
                    rejected: refused.len() as u32,
                    created_at: time::to_millis(now),
                    updated_at: time::to_millis(now),
                };
                self.store.create_campaign(&campaign, key.as_ref().map(|_| print.as_str())).await?;
                campaign
            }
        };

        // A repeated request makes only the calls the first one did not get to.
        let stored: HashSet<String> = self.store.campaign_calls(&caller.org_id, &campaign.id, None).await?.into_iter().map(|c| c.call_id).collect();
        let calls: Vec<CallLog> = accepted
            .iter()
            .zip(&times)
            .map(|((index, contact), at)| {
                let mut call = CallLog::new(
                    NewCall {
                        org_id: caller.org_id.clone(),
                        voice_agent_id: agent.id.clone(),
                        phone_number: contact.number.clone(),
                        call_type: CallType::OutboundCampaign,
                        status: CallStatus::Scheduled,
                        attempt: 1,
                    },
                    derived_id(&["campaign-call", &caller.org_id, &campaign.id, &index.to_string()]),
                    now,
                );
                call.scheduled_at = Some(*at);
                call.campaign_id = Some(campaign.id.clone());
                call.call_purpose = purpose.clone();
                call.customer_name = contact.name.clone();
                call.variable_values = contact.variables.clone();
                call
            })
            .filter(|call| !stored.contains(&call.id))
            .collect();

        // Each call's schedule first; only calls that got one are stored.
        let scheduled: Vec<Result<CallLog, (CallLog, DomainError)>> = stream::iter(calls)
            .map(|call| async move {
                let dial = ScheduledDial { request: DialRequest::for_call(&call), at: call.scheduled_at.expect("set above") };
                match self.scheduler.schedule(&dial).await {
                    Ok(()) => Ok(call),
                    Err(err) => Err((call, err)),
                }
            })
            .buffer_unordered(SCHEDULING_CONCURRENCY)
            .collect()
            .await;
        let mut ready = Vec::with_capacity(scheduled.len());
        for outcome in scheduled {
            match outcome {
                Ok(call) => ready.push(call),
                Err((call, err)) => {
                    tracing::error!(call_id = %call.id, error = %err, "no schedule for a campaign call; it is reported and not stored");
                    let row = accepted.iter().find(|(_, c)| c.number == call.phone_number).map_or(0, |(i, _)| i + 1);
                    refused.push(RejectedContact {
                        row,
                        number: call.phone_number.clone(),
                        code: "schedule_unavailable",
                        message: "the call could not be scheduled; send the same request with the same Idempotency-Key to try again".into(),
                    });
                }
            }
        }
        self.store.put_new_calls(&ready).await?;
        refused.sort_by_key(|r| r.row);
        tracing::info!(campaign_id = %campaign.id, calls = ready.len(), refused = refused.len(), "campaign scheduled");
        let accepted = accepted.len() - refused.iter().filter(|r| r.code == "schedule_unavailable").count();
        Ok(created(&CampaignCreated { campaign, accepted, rejected: refused }, replayed))
    }

    /// A campaign of the caller's, by the id in the path.
    async fn caller_campaign(&self, caller: &Caller, req: &Request) -> Result<Campaign, DomainError> {
        let id = path_param(req, "id").unwrap_or_default();
        self.open_or_closed_campaign(caller, &id).await
    }

    async fn open_or_closed_campaign(&self, caller: &Caller, id: &str) -> Result<Campaign, DomainError> {
        self.store
            .get_campaign(&caller.org_id, id)
            .await?
            .map(|(campaign, _)| campaign)
            .filter(|campaign| caller.may_see_agent(&campaign.voice_agent_id))
            .ok_or(DomainError::NotFound { what: "campaign" })
    }

    /// A campaign a new call may join: the caller's, and not cancelled.
    pub(crate) async fn open_campaign(&self, caller: &Caller, id: &str) -> Result<Campaign, DomainError> {
        let campaign =
            self.open_or_closed_campaign(caller, id).await.map_err(|_| DomainError::invalid("unknown_campaign", format!("there is no campaign {id:?}")))?;
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
