//! Which CallOps agent each legacy `voice_agent_id` becomes: the one the
//! operator maps it to (`--agent-map LEGACY=AGENT`), else an imported
//! agent made for it (`legacy-<id>`), which is listed and filtered like any
//! agent and never dials.

use std::collections::{BTreeMap, HashMap};

use callops_aws::DynamoStore;
use callops_aws::store::AgentStore;
use callops_domain::{
    DomainError, VoiceAgent,
    ids::valid_agent_id,
    records::audit::{Action, AuditEntry},
};
use chrono::{DateTime, Utc};

/// The prefix of an imported agent's id.
pub const IMPORTED_PREFIX: &str = "legacy-";

/// How one legacy agent id was taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLine {
    pub legacy: String,
    pub agent_id: String,
    /// Made for the legacy id (`false`: mapped to an agent of the tenant's).
    pub imported: bool,
}

/// The legacy agent ids of a table, each with the agent it becomes.
#[derive(Debug, Clone, Default)]
pub struct AgentMap {
    agents: HashMap<String, String>,
    pub lines: Vec<AgentLine>,
}

impl AgentMap {
    /// The agent a row of `legacy` goes to.
    pub fn agent_for(&self, legacy: &str) -> String {
        self.agents.get(legacy).cloned().unwrap_or_else(|| imported_agent_id(legacy))
    }
}

/// `legacy-<id>`, within an agent id's 64 characters: a longer one keeps
/// its start and a hash of the whole, so two long ids stay apart.
pub fn imported_agent_id(legacy: &str) -> String {
    let whole = format!("{IMPORTED_PREFIX}{legacy}");
    if whole.len() <= 64 && valid_agent_id(&whole) {
        return whole;
    }
    let hash = crate::stable_hash(legacy);
    let kept: String = legacy.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_').take(64 - IMPORTED_PREFIX.len() - 17).collect();
    format!("{IMPORTED_PREFIX}{kept}-{hash:016x}")
}

/// Reads `LEGACY=AGENT` lines (blank lines and `#` comments skipped).
pub fn parse_map_lines(text: &str) -> Result<Vec<(String, String)>, String> {
    text.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).map(parse_map_entry).collect()
}

/// One `LEGACY=AGENT`.
pub fn parse_map_entry(text: &str) -> Result<(String, String), String> {
    let (legacy, agent) = text.split_once('=').ok_or_else(|| format!("{text:?} is not LEGACY=AGENT"))?;
    let (legacy, agent) = (legacy.trim(), agent.trim());
    if legacy.is_empty() || !valid_agent_id(agent) {
        return Err(format!("{text:?}: LEGACY is a legacy voice_agent_id and AGENT one of the practice's agent ids"));
    }
    Ok((legacy.to_string(), agent.to_string()))
}

/// Decides the agent of every legacy id in `legacy_ids`: mapped ones must
/// name an agent of the tenant's that dials; the others get an imported
/// agent, made now unless `dry_run` (made again on a later run, it is found).
pub async fn resolve(
    store: &DynamoStore,
    org_id: &str,
    legacy_ids: &[String],
    mapped: &BTreeMap<String, String>,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<AgentMap, String> {
    let known: HashMap<String, VoiceAgent> = store.list_agents(org_id).await.map_err(|e| e.to_string())?.into_iter().map(|a| (a.id.to_string(), a)).collect();
    for agent in mapped.values() {
        match known.get(agent) {
            Some(found) if found.dials() => {}
            Some(_) => return Err(format!("--agent-map names {agent}, an imported agent: map to an agent that places calls")),
            None => return Err(format!("--agent-map names {agent}, which is not one of {org_id}'s voice agents")),
        }
    }
    let mut map = AgentMap::default();
    let migrate = callops_domain::caller::Caller::system(org_id, "migrate");
    for legacy in legacy_ids {
        if let Some(agent) = mapped.get(legacy) {
            map.agents.insert(legacy.clone(), agent.clone());
            map.lines.push(AgentLine { legacy: legacy.clone(), agent_id: agent.clone(), imported: false });
            continue;
        }
        let id = imported_agent_id(legacy);
        if !dry_run && !known.contains_key(&id) {
            let agent = VoiceAgent::imported(org_id, &id, legacy, now);
            let audit = AuditEntry::of_change(&migrate, Action::AgentCreated, &id, None::<&VoiceAgent>, &agent, now);
            match store.put_agent(&agent, true, &audit).await {
                Ok(()) | Err(DomainError::Conflict { .. }) => {}
                Err(err) => return Err(err.to_string()),
            }
        }
        map.agents.insert(legacy.clone(), id.clone());
        map.lines.push(AgentLine { legacy: legacy.clone(), agent_id: id, imported: true });
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_ids_become_agent_ids_that_fit_and_stay_apart() {
        assert_eq!(imported_agent_id("billing"), "legacy-billing");
        let long_a = format!("{}a", "x".repeat(63));
        let long_b = format!("{}b", "x".repeat(63));
        let (a, b) = (imported_agent_id(&long_a), imported_agent_id(&long_b));
        assert!(valid_agent_id(&a) && valid_agent_id(&b) && a != b && a.starts_with(IMPORTED_PREFIX), "{a} {b}");
        assert_eq!(
            parse_map_lines("# map\nfront = front-desk\n\nbilling=billing-line\n").unwrap(),
            [("front".to_string(), "front-desk".to_string()), ("billing".to_string(), "billing-line".to_string())]
        );
        assert!(parse_map_entry("front").is_err() && parse_map_entry("front=not an id").is_err() && parse_map_entry("=x").is_err());
    }
}
