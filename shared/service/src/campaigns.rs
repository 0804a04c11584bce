//! Creating a campaign: read what the plan needs (the agent, the
//! do-not-call list), plan it ([`callops_domain::campaign::plan`]), store
//! the campaign, then schedule and store its calls. A repeated request
//! with the same key finishes what the first left.

use std::collections::{HashMap, HashSet};

use callops_aws::NumberState;
use callops_aws::store::{CallStore, CampaignStore, DoNotCallStore, ErasureStore, LedgerStore, SettingsStore};
use callops_domain::{
    CallLog, CallType, DomainError,
    caller::Caller,
    campaign::plan::{CampaignAsk, CampaignPlan, ContactCheck, DeferredContact, Known, RejectedContact, check_contacts, check_request, plan_campaign},
    campaign::{Campaign, CampaignStatus},
    consent::{Basis, Consent, Consenting, reassigned::RndCheck},
    idempotency::{self, IdempotencyKey},
    placement::frequency::Ledger,
    placement::registries::RegistryFacts,
    placement::schedule::{DialRequest, ScheduledDial},
    records::audit::{Action, AuditEntry},
    settings::TenantSettings,
};
use chrono::{DateTime, Utc};
use futures::{StreamExt, stream};

use crate::Calls;

/// How many schedules are made at once while a campaign is created.
const SCHEDULING_CONCURRENCY: usize = 64;
/// How many numbers' records (ledger, waiting calls, consents) are read at once while a campaign is planned.
const LEDGER_READS: usize = 16;

/// A campaign created (or found again for a repeated request).
#[derive(Debug, Clone)]
pub struct CampaignCreated {
    pub campaign: Campaign,
    pub accepted: usize,
    pub rejected: Vec<RejectedContact>,
    /// Contacts a frequency limit made wait past the first time their clock allows.
    pub deferred: Vec<DeferredContact>,
    pub replayed: bool,
}

impl Calls {
    /// Creates the campaign `ask` asks for, for `caller`.
    pub async fn create_campaign(
        &self,
        caller: &Caller,
        agent_id: Option<&str>,
        ask: CampaignAsk,
        key: Option<(IdempotencyKey, String)>,
        now: DateTime<Utc>,
    ) -> Result<CampaignCreated, DomainError> {
        let (plan, answers) = self.plan(caller, agent_id, &ask, key.as_ref(), now).await?;
        // The database's answers, kept once the request is known to make a campaign.
        crate::reassigned::keep(&self.store, &answers, now).await?;
        let print = key.as_ref().map(|(_, print)| print.as_str());
        let mut audit = AuditEntry::of_change(caller, Action::CampaignCreated, &plan.campaign.id, None::<&Campaign>, &plan.campaign, now);
        audit.changes.insert("calls".into(), serde_json::json!({"from": null, "to": plan.calls.len()}));
        let (campaign, replayed) = match self.stored_campaign(caller, &plan.campaign, print, &audit).await? {
            Some(campaign) if campaign.status == CampaignStatus::Cancelled => {
                return Ok(CampaignCreated { campaign, accepted: 0, rejected: plan.refused, deferred: Vec::new(), replayed: true });
            }
            Some(campaign) => (campaign, true),
            None => (plan.campaign.clone(), false),
        };
        let calls = if replayed { self.not_yet_stored(caller, plan.calls.clone()).await? } else { plan.calls.clone() };
        let unscheduled = self.schedule_and_store(calls).await?;
        let created = outcome(campaign, plan, &unscheduled, replayed);
        tracing::info!(campaign_id = %created.campaign.id, calls = created.accepted, refused = created.rejected.len(), replayed, "campaign scheduled");
        Ok(created)
    }

    /// Asks the Reassigned Numbers Database, in batches of its 1,000, about every contact's consents a campaign call
    /// may rest on and that were not checked since its latest update, and puts each answer on its consent in
    /// `consents`, so the plan refuses a number reassigned since with `number_reassigned`. Nothing is stored: the
    /// answers are kept once the campaign is (a refused request changes nothing). The database not answering plans
    /// the calls as they are: the dialer asks again before each (and waits, by default).
    async fn ask_reassigned(
        &self,
        consents: &mut HashMap<String, Vec<Consent>>,
        ledgers: &HashMap<String, Ledger>,
        call_type: CallType,
        accepted: &[Basis],
        now: DateTime<Utc>,
    ) -> Vec<(Consent, RndCheck)> {
        let Some(rnd) = self.rnd.as_deref() else { return Vec::new() };
        let every: Vec<Consent> = consents
            .iter()
            .flat_map(|(number, kept)| {
                let opted_out_at = ledgers.get(number).and_then(|l| l.opted_out_at);
                let consenting = Consenting { call_type, consents: kept, accepted, opted_out_at };
                kept.iter().filter(move |c| consenting.why_not(c, now).is_none()).cloned().collect::<Vec<_>>()
            })
            .collect();
        let mut answers = Vec::new();
        for batch in every.chunks(callops_domain::consent::reassigned::MAX_BATCH) {
            let consenting = Consenting { call_type, consents: batch, accepted, opted_out_at: None };
            match crate::reassigned::ask(Some(rnd), Some(consenting), batch, now).await {
                crate::reassigned::Checked::Unavailable(err) => {
                    tracing::warn!(error = %err, "the Reassigned Numbers Database could not be asked for a campaign: the dialer asks before each call");
                    break;
                }
                crate::reassigned::Checked::Answered(checks) => answers.extend(checks),
                crate::reassigned::Checked::NotNeeded => {}
            }
        }
        let by_id: HashMap<&str, RndCheck> = answers.iter().map(|(c, check)| (c.id.as_str(), *check)).collect();
        for consent in consents.values_mut().flatten() {
            if let Some(check) = by_id.get(consent.id.as_str()) {
                consent.rnd = Some(*check);
            }
        }
        answers
    }

    /// What the registries say of each accepted contact's number (no read when the practice keeps no copy).
    pub(crate) async fn contact_registries(
        &self,
        settings: &TenantSettings,
        call_type: CallType,
        check: &ContactCheck,
        ledgers: &HashMap<String, Ledger>,
    ) -> Result<HashMap<String, RegistryFacts>, DomainError> {
        if settings.registries.is_empty() {
            return Ok(HashMap::new());
        }
        let asked: Vec<(String, callops_domain::placement::callee::Callee)> =
            check.accepted.iter().map(|(_, c)| (c.number.clone(), c.callee(&ledgers.get(&c.number).map(Ledger::history).unwrap_or_default()))).collect();
        let mut registries = HashMap::new();
        for group in asked.chunks(LEDGER_READS) {
            let reads: Vec<_> =
                group.iter().map(|(number, callee)| Box::pin(crate::registries::registry_facts(&self.store, settings, call_type, number, callee))).collect();
            for ((number, _), facts) in group.iter().zip(futures::future::try_join_all(reads).await?) {
                if let Some(facts) = facts {
                    registries.insert(number.clone(), facts);
                }
            }
        }
        Ok(registries)
    }

    /// The record of each debt a collection campaign's accepted contacts are about, by debt id (none for other types).
    pub(crate) async fn debt_ledgers(&self, org_id: &str, call_type: CallType, check: &ContactCheck) -> Result<HashMap<String, Ledger>, DomainError> {
        let debts: HashSet<&str> = check.accepted.iter().filter_map(|(_, c)| c.debt_id.as_deref()).filter(|_| call_type == CallType::OutboundDebt).collect();
        let debts: Vec<&str> = debts.into_iter().collect();
        let mut ledgers = HashMap::new();
        for group in debts.chunks(LEDGER_READS) {
            let reads: Vec<_> = group.iter().map(|debt| Box::pin(self.store.debt_ledger(org_id, debt))).collect();
            for (debt, ledger) in group.iter().zip(futures::future::try_join_all(reads).await?) {
                if !ledger.is_empty() {
                    ledgers.insert(debt.to_string(), ledger);
                }
            }
        }
        Ok(ledgers)
    }

    /// What is on record for each of `numbers`: the ledgers that hold
    /// anything (attempts made, calls waiting) and the consents, by number.
    pub(crate) async fn number_states(
        &self,
        org_id: &str,
        numbers: Vec<String>,
    ) -> Result<(HashMap<String, Ledger>, HashMap<String, Vec<Consent>>), DomainError> {
        let store = &self.store;
        let erased = &store.erased_marks(org_id).await?;
        let read: Vec<Result<(String, NumberState), DomainError>> = stream::iter(numbers)
            .map(|number| async move { store.number_state_among(org_id, &number, erased).await.map(|state| (number, state)) })
            .buffer_unordered(LEDGER_READS)
            .collect()
            .await;
        let (mut ledgers, mut consents) = (HashMap::new(), HashMap::new());
        for entry in read {
            let (number, state) = entry?;
            if !state.consents.is_empty() {
                consents.insert(number.clone(), state.consents);
            }
            if !state.ledger.is_empty() {
                ledgers.insert(number, state.ledger);
            }
        }
        Ok((ledgers, consents))
    }

    /// The plan: the agent, the request checked, each contact checked, the list and the ledgers read.
    async fn plan(
        &self,
        caller: &Caller,
        agent_id: Option<&str>,
        ask: &CampaignAsk,
        key: Option<&(IdempotencyKey, String)>,
        now: DateTime<Utc>,
    ) -> Result<(CampaignPlan, Vec<(Consent, RndCheck)>), DomainError> {
        let agent = self.resolve_agent(caller, agent_id).await?;
        let draft = check_request(ask, &agent, now)?;
        let check = check_contacts(&ask.contacts);
        let numbers: Vec<String> = check.accepted.iter().map(|(_, c)| c.number.clone()).collect();
        let listed: HashSet<String> = self.store.do_not_call_among(&caller.org_id, &numbers).await?;
        let id = match key {
            Some((key, _)) => idempotency::campaign_id(&caller.org_id, key),
            None => callops_domain::call::new_call_id().into_string(),
        };
        let settings = self.store.settings(&caller.org_id).await?;
        let holidays = &settings.holidays;
        let refuse_unknown_location = settings.refuses_unknown_location();
        let call_type = draft.call_type;
        // A voicemail message is checked as written (a failure refuses the request) and for each contact, filled in.
        // The campaign's own message, or else its agent's.
        let check = match draft.voicemail_message.as_ref().or(agent.voicemail_message.as_ref()) {
            Some(template) => {
                let identity = settings.identity()?;
                let rules = callops_domain::campaign::voicemail::VoicemailRules { call_type, identity: &identity };
                callops_domain::campaign::voicemail::check_template(template, rules)?;
                check.with_voicemail(template, rules)
            }
            None => check,
        };
        let check = check.placeable(&ask.contacts, &draft, &agent, holidays, &listed, refuse_unknown_location);
        let numbers: Vec<String> = check.accepted.iter().map(|(_, c)| c.number.clone()).collect();
        let (ledgers, mut consents) = self.number_states(&caller.org_id, numbers).await?;
        let debts = self.debt_ledgers(&caller.org_id, call_type, &check).await?;
        let accepted = settings.consent_policy.accepts(call_type);
        let answers = self.ask_reassigned(&mut consents, &ledgers, call_type, accepted, now).await;
        let registries = self.contact_registries(&settings, call_type, &check, &ledgers).await?;
        let known = Known {
            holidays,
            ledgers: &ledgers,
            tenant_cap_per_day: settings.max_attempts_per_number_per_day,
            consents: &consents,
            accepted,
            refuse_unknown_location,
            registries: &registries,
            debts: &debts,
        };
        let plan = plan_campaign(id, &caller.org_id, &draft, &agent, &known, check, now)?;
        Ok((plan, answers))
    }

    /// The stored campaign for this plan: the one an earlier request with the
    /// same key made (`Conflict` when that request was another), or this one,
    /// stored now (`None`).
    async fn stored_campaign(&self, caller: &Caller, campaign: &Campaign, print: Option<&str>, audit: &AuditEntry) -> Result<Option<Campaign>, DomainError> {
        if let Some(earlier) = self.replayed_campaign(caller, &campaign.id, print).await? {
            return Ok(Some(earlier));
        }
        match self.store.create_campaign(campaign, print, audit).await {
            Ok(()) => Ok(None),
            // The same key won a race with this request: go on as its repeat.
            Err(DomainError::Conflict { .. }) if print.is_some() => match self.replayed_campaign(caller, &campaign.id, print).await? {
                Some(earlier) => Ok(Some(earlier)),
                None => Err(DomainError::Unavailable(format!("campaign {} conflicted but cannot be read", campaign.id))),
            },
            Err(err) => Err(err),
        }
    }

    /// The campaign an earlier request with the same key made, if one did.
    async fn replayed_campaign(&self, caller: &Caller, campaign_id: &str, print: Option<&str>) -> Result<Option<Campaign>, DomainError> {
        let Some(print) = print else { return Ok(None) };
        match self.store.get_campaign(&caller.org_id, campaign_id).await? {
            Some((_, earlier)) if earlier.as_deref() != Some(print) => {
                Err(DomainError::conflict(callops_domain::error::Conflict::IdempotencyKeyReused, "this Idempotency-Key was used with a different request"))
            }
            Some((campaign, _)) => Ok(Some(campaign)),
            None => Ok(None),
        }
    }

    /// The calls of a repeated request that the first did not store, read
    /// from the table itself (an index could still be catching up): a call
    /// that exists is never scheduled or written again.
    async fn not_yet_stored(&self, caller: &Caller, calls: Vec<CallLog>) -> Result<Vec<CallLog>, DomainError> {
        let ids: Vec<String> = calls.iter().map(|call| call.id.to_string()).collect();
        let stored = self.store.calls_by_id(&caller.org_id, &ids).await?;
        Ok(calls.into_iter().filter(|call| !stored.contains_key(call.id.as_str())).collect())
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
}

/// The answer: the calls that got no schedule are reported with the refused contacts.
fn outcome(campaign: Campaign, plan: CampaignPlan, unscheduled: &[CallLog], replayed: bool) -> CampaignCreated {
    let mut rejected = plan.refused;
    for call in unscheduled {
        let row = plan.accepted.iter().find(|(_, c)| c.number == call.phone_number).map_or(0, |(i, _)| i + 1);
        rejected.push(RejectedContact {
            row,
            number: call.phone_number.clone(),
            code: "schedule_unavailable",
            message: "the call could not be scheduled; send the same request with the same Idempotency-Key to try again".into(),
            details: Default::default(),
        });
    }
    rejected.sort_by_key(|r| r.row);
    let deferred = plan.deferred.into_iter().filter(|d| !unscheduled.iter().any(|call| call.phone_number == d.number)).collect();
    CampaignCreated { campaign, accepted: plan.accepted.len() - unscheduled.len(), rejected, deferred, replayed }
}
