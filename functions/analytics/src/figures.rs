//! The counters of a window: whose calls (a scope of agents) and which (a
//! call type, a direction), read from the rollups for the whole hours and
//! days and from the analytics indexes for the partial hours at the ends.
//! Every route of the read side counts through here, so each figure has one
//! definition and costs the same reads whatever the number of calls.

use callops_aws::store::{CallQueryStore, RollupStore};
use callops_aws::{CallQuery, DynamoStore, PageRequest, rollup, store::MAX_PAGE};
use callops_domain::{
    CallType, DomainError, VoiceAgent,
    analytics::{
        CallFacts, Tally, WindowPlan,
        profile::{self, Heat, QuarterCounts},
    },
    time::Span,
};
use callops_http::query_param;
use chrono::{DateTime, NaiveDate, Utc};
use futures::{
    StreamExt, TryStreamExt,
    future::{BoxFuture, try_join_all},
    stream,
};
use lambda_http::Request;

/// Whose calls a figure counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Every agent of the tenant.
    All,
    Agent(String),
    /// A caller narrowed to some agents by their token.
    Agents(Vec<String>),
}

impl Scope {
    /// The rollup scopes whose sum is this one.
    fn agents(&self) -> Vec<&str> {
        match self {
            Scope::All => vec![rollup::ALL_AGENTS],
            Scope::Agent(agent) => vec![agent.as_str()],
            Scope::Agents(agents) => agents.iter().map(String::as_str).collect(),
        }
    }

    /// The analytics index the partial hours are read from, and the agents it is narrowed to.
    pub(crate) fn query(&self) -> (CallQuery, Option<&[String]>) {
        match self {
            Scope::All => (CallQuery::ByOrg, None),
            Scope::Agent(agent) => (CallQuery::ByAgent(agent.clone()), None),
            Scope::Agents(agents) => (CallQuery::ByOrg, Some(agents.as_slice())),
        }
    }
}

/// Inbound calls, or every outbound type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Inbound,
    Outbound,
}

/// Which of the scope's calls count: one call type, one direction, or all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Kind {
    pub call_type: Option<CallType>,
    pub direction: Option<Direction>,
}

impl Kind {
    /// `callType` and `direction` from the query; either may be left out.
    pub(crate) fn from_request(req: &Request) -> Result<Kind, DomainError> {
        let call_type = match query_param(req, "callType") {
            None => None,
            Some(text) => Some(text.parse::<CallType>().map_err(|_| {
                DomainError::invalid(
                    "invalid_call_type",
                    format!("callType is one of {}", CallType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")),
                )
            })?),
        };
        let direction = match query_param(req, "direction").map(|d| d.to_ascii_lowercase()).as_deref() {
            None => None,
            Some("inbound") => Some(Direction::Inbound),
            Some("outbound") => Some(Direction::Outbound),
            Some(_) => return Err(DomainError::invalid("invalid_direction", "direction is inbound or outbound")),
        };
        Ok(Kind { call_type, direction })
    }

    /// The call types this kind holds, when it is narrower than all of them.
    pub(crate) fn types(&self) -> Option<Vec<CallType>> {
        (self.call_type.is_some() || self.direction.is_some()).then(|| CallType::ALL.iter().copied().filter(|t| self.counts(*t)).collect())
    }

    /// Whether a call of `call_type` counts.
    pub(crate) fn counts(&self, call_type: CallType) -> bool {
        let direction = if call_type.is_outbound() { Direction::Outbound } else { Direction::Inbound };
        self.call_type.is_none_or(|t| t == call_type) && self.direction.is_none_or(|d| d == direction)
    }

    /// The rollups whose signed sum is this kind of call: all of them, one
    /// call type's, or (outbound) all less the inbound ones. None when the
    /// call type and the direction exclude each other.
    fn terms(&self) -> Vec<(Option<CallType>, bool)> {
        match (self.call_type, self.direction) {
            (Some(t), _) if !self.counts(t) => Vec::new(),
            (Some(t), _) => vec![(Some(t), true)],
            (None, Some(Direction::Inbound)) => vec![(Some(CallType::Inbound), true)],
            (None, Some(Direction::Outbound)) => vec![(None, true), (Some(CallType::Inbound), false)],
            (None, None) => vec![(None, true)],
        }
    }
}

/// Adds (or, `add` false, takes away) `tally` into `total`.
fn fold(total: &mut Tally, tally: &Tally, add: bool) -> Result<(), DomainError> {
    match add {
        true => total.add(tally)?,
        false => total.add(&Tally::default().minus(tally)?)?,
    }
    Ok(())
}

/// How many agents' rollups one request reads at once.
const AGENTS_AT_ONCE: usize = 8;

/// The counters of one rollup scope (an agent, or `*`) and kind over the
/// whole days and hours of `plan`: each term's days and hours read together.
async fn rollup_tally(store: &DynamoStore, org_id: &str, agent: &str, kind: Kind, plan: &WindowPlan) -> Result<Tally, DomainError> {
    let mut reads: Vec<BoxFuture<'_, Result<(Tally, bool), DomainError>>> = Vec::new();
    for (call_type, add) in kind.terms() {
        let scope = rollup::scope(agent, call_type);
        if let Some(days) = plan.days {
            let scope = scope.clone();
            reads.push(Box::pin(async move { Ok((store.day_rollups(org_id, &scope, days).await?, add)) }));
        }
        for hours in plan.hours.iter().copied() {
            let scope = scope.clone();
            reads.push(Box::pin(async move { Ok((store.hour_rollups(org_id, &scope, hours).await?, add)) }));
        }
    }
    let mut total = Tally::default();
    for (tally, add) in try_join_all(reads).await? {
        fold(&mut total, &tally, add)?;
    }
    Ok(total)
}

/// Runs `reads` (one an agent), [`AGENTS_AT_ONCE`] at a time; the results in their order.
async fn per_agent<T>(reads: Vec<BoxFuture<'_, Result<T, DomainError>>>) -> Result<Vec<T>, DomainError> {
    stream::iter(reads).buffered(AGENTS_AT_ONCE).try_collect().await
}

/// What the analytics indexes hold of the scope's calls of this kind that
/// started in the partial hours of `plan`, without transcripts.
async fn raw_facts(store: &DynamoStore, org_id: &str, scope: &Scope, kind: Kind, plan: &WindowPlan) -> Result<Vec<CallFacts>, DomainError> {
    let (query, only_agents) = scope.query();
    let mut facts = Vec::new();
    for Span { start, end } in &plan.raw {
        let mut cursor: Option<String> = None;
        loop {
            let request =
                PageRequest { window: Span::new(Some(*start), Some(*end)), cursor: cursor.as_deref(), only_agents, ..PageRequest::new(&query, MAX_PAGE) };
            let page = store.query_call_facts(org_id, &request).await?;
            facts.extend(page.items.into_iter().filter(|f| kind.counts(f.call_type)));
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    Ok(facts)
}

/// The counters of every call of `scope` and `kind` that started in
/// `[start, end)`: the rollups and the partial hours read together.
pub(crate) async fn tally(store: &DynamoStore, org_id: &str, scope: &Scope, kind: Kind, span: Span) -> Result<Tally, DomainError> {
    let plan = WindowPlan::new(span.start, span.end);
    let (tallies, raw) = futures::try_join!(
        per_agent(scope.agents().into_iter().map(|agent| Box::pin(rollup_tally(store, org_id, agent, kind, &plan)) as BoxFuture<'_, _>).collect()),
        raw_facts(store, org_id, scope, kind, &plan)
    )?;
    let mut total = Tally::default();
    for tally in &tallies {
        total.add(tally)?;
    }
    for facts in raw {
        total.add(&Tally::of_facts(&facts))?;
    }
    Ok(total)
}

/// The counters of each of `agents` (and of the tenant's calls under no
/// agent of theirs, `unassigned` included, when `scope` is every agent),
/// over `[start, end)`: each agent's whole hours and days from its rollups,
/// the partial hours from one read of the index, split by agent.
pub(crate) async fn tally_by_agent(
    store: &DynamoStore,
    org_id: &str,
    scope: &Scope,
    agents: &[String],
    kind: Kind,
    span: Span,
) -> Result<Vec<(String, Tally)>, DomainError> {
    let plan = WindowPlan::new(span.start, span.end);
    let unassigned = callops_domain::ids::UNASSIGNED_AGENT;
    let read: Vec<&str> = agents.iter().map(String::as_str).chain((*scope == Scope::All).then_some(unassigned)).collect();
    let (tallies, raw) = futures::try_join!(
        per_agent(read.iter().map(|agent| Box::pin(rollup_tally(store, org_id, agent, kind, &plan)) as BoxFuture<'_, _>).collect()),
        raw_facts(store, org_id, scope, kind, &plan)
    )?;
    let mut rows: Vec<(String, Tally)> = read.iter().map(|agent| agent.to_string()).zip(tallies).collect();
    for facts in raw {
        if let Some((_, tally)) = rows.iter_mut().find(|(agent, _)| *agent == facts.voice_agent_id) {
            tally.add(&Tally::of_facts(&facts))?;
        }
    }
    Ok(rows)
}

/// The quarter hours of one rollup scope and kind over `plan`: the whole
/// days from the day profiles, the whole hours from the hour rollups, each
/// term's read together.
async fn rollup_quarters(store: &DynamoStore, org_id: &str, agent: &str, kind: Kind, plan: &WindowPlan) -> Result<Vec<QuarterCounts>, DomainError> {
    enum Read {
        Days(Vec<(NaiveDate, Tally)>, bool),
        Hours(Vec<(DateTime<Utc>, Tally)>, bool),
    }
    let mut reads: Vec<BoxFuture<'_, Result<Read, DomainError>>> = Vec::new();
    for (call_type, add) in kind.terms() {
        let scope = rollup::scope(agent, call_type);
        if let Some(range) = plan.days {
            let scope = scope.clone();
            reads.push(Box::pin(async move { Ok(Read::Days(store.day_profiles(org_id, &scope, range).await?, add)) }));
        }
        for range in plan.hours.iter().copied() {
            let scope = scope.clone();
            reads.push(Box::pin(async move { Ok(Read::Hours(store.hour_tallies(org_id, &scope, range).await?, add)) }));
        }
    }
    let mut days: std::collections::BTreeMap<NaiveDate, Tally> = Default::default();
    let mut hours: std::collections::BTreeMap<DateTime<Utc>, Tally> = Default::default();
    for read in try_join_all(reads).await? {
        match read {
            Read::Days(list, add) => {
                for (day, tally) in list {
                    fold(days.entry(day).or_default(), &tally, add)?;
                }
            }
            Read::Hours(list, add) => {
                for (hour, tally) in list {
                    fold(hours.entry(hour).or_default(), &tally, add)?;
                }
            }
        }
    }
    let mut quarters: Vec<QuarterCounts> = days.iter().flat_map(|(day, tally)| profile::day_quarters(*day, tally)).collect();
    quarters.extend(hours.iter().flat_map(|(hour, tally)| profile::hour_quarters(*hour, tally)));
    Ok(quarters)
}

/// When the calls of `scope` and `kind` in `[start, end)` came in, as a
/// week of local hours in `heat`'s zone, and split by each call's agent's
/// hours (`agents`: the tenant's, with `holidays` the practice's closed
/// dates). Each agent's quarters are read on their own, so each is weighed
/// against its own hours; calls under no agent (`unassigned`) count in the
/// week only.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn heat(
    store: &DynamoStore,
    org_id: &str,
    scope: &Scope,
    agents: &[VoiceAgent],
    holidays: &[NaiveDate],
    kind: Kind,
    span: Span,
    heat: &mut Heat,
) -> Result<(), DomainError> {
    let plan = WindowPlan::new(span.start, span.end);
    let open = |id: &str, at: DateTime<Utc>| agents.iter().find(|agent| agent.id == id).map(|agent| agent.open_at(at, holidays));
    let unassigned = callops_domain::ids::UNASSIGNED_AGENT;
    let read: Vec<&str> = match scope {
        Scope::All => agents.iter().map(|agent| agent.id.as_str()).chain([unassigned]).collect(),
        Scope::Agent(agent) => vec![agent.as_str()],
        Scope::Agents(list) => list.iter().map(String::as_str).collect(),
    };
    let (quarters, raw) = futures::try_join!(
        per_agent(read.iter().map(|agent| Box::pin(rollup_quarters(store, org_id, agent, kind, &plan)) as BoxFuture<'_, _>).collect()),
        raw_facts(store, org_id, scope, kind, &plan)
    )?;
    for (agent, quarters) in read.iter().zip(quarters) {
        for quarter in quarters {
            heat.add(&quarter, open(agent, quarter.start));
        }
    }
    for facts in raw {
        if let Some(quarter) = profile::call_quarter(&facts) {
            heat.add(&quarter, open(&facts.voice_agent_id, quarter.start));
        }
    }
    Ok(())
}
