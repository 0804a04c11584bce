//! Who asks: the tenant and the agents a request may touch, as the identity
//! provider vouched for them (the HTTP layer reads it from the token). Every
//! use case acts for a caller and sees only what the caller may.

/// The caller, as the authorizer vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org_id: crate::OrgId,
    /// `None`: every agent of the tenant. `Some`: only these.
    pub agent_ids: Option<Vec<String>>,
    /// Who is calling: what consents, revocations and opt-outs record as their author.
    pub actor: Actor,
}

/// A person or system acting: the token's subject and display name.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Actor {
    pub sub: String,
    #[serde(default)]
    pub name: Option<String>,
}

impl Actor {
    /// The most bytes kept of a subject or a name.
    pub const MAX_TEXT: usize = 200;

    /// An actor from a token's claims, bounded (a missing subject is `unknown`).
    pub fn from_claims(sub: Option<&str>, name: Option<&str>) -> Actor {
        let bounded = |text: &str| {
            text.trim()
                .chars()
                .filter(|c| !c.is_control())
                .scan(0, |bytes, c| {
                    *bytes += c.len_utf8();
                    (*bytes <= Actor::MAX_TEXT).then_some(c)
                })
                .collect::<String>()
        };
        let sub = sub.map(bounded).filter(|s| !s.is_empty()).unwrap_or_else(|| "unknown".into());
        Actor { sub, name: name.map(bounded).filter(|n| !n.is_empty()) }
    }

    /// CallOps itself (the webhook reading a call's words, the dialer).
    pub fn system(what: &str) -> Actor {
        Actor { sub: format!("callops:{what}"), name: None }
    }
}

impl Caller {
    /// Whether the caller may see calls of `agent_id`.
    pub fn may_see_agent(&self, agent_id: &str) -> bool {
        self.agent_ids.as_ref().is_none_or(|ids| ids.iter().any(|id| id == agent_id))
    }
}
