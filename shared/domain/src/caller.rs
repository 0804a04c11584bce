//! Who asks: the tenant and the agents a request may touch, as the identity
//! provider vouched for them (the HTTP layer reads it from the token). Every
//! use case acts for a caller and sees only what the caller may.

/// The caller, as the authorizer vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org_id: crate::OrgId,
    /// `None`: every agent of the tenant. `Some`: only these.
    pub agent_ids: Option<Vec<String>>,
}

impl Caller {
    /// Whether the caller may see calls of `agent_id`.
    pub fn may_see_agent(&self, agent_id: &str) -> bool {
        self.agent_ids.as_ref().is_none_or(|ids| ids.iter().any(|id| id == agent_id))
    }
}
