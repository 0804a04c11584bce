//! Who asks: the tenant and the agents a request may touch, as the identity
//! provider vouched for them (the HTTP layer reads it from the token). Every
//! use case acts for a caller and sees only what the caller may.

/// The caller, as the authorizer vouched for them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub org_id: crate::ids::OrgId,
    /// `None`: every agent of the tenant. `Some`: only these.
    pub agent_ids: Option<Vec<String>>,
    /// Who is calling: what consents, revocations, opt-outs and the audit log record as their author.
    pub actor: Actor,
    /// What the caller may do ([`Role`]).
    pub role: Role,
    /// Where the request came from, as the gateway saw it (for the audit log).
    pub origin: Origin,
}

/// What a user of a practice may do. Each role may do everything the one
/// before it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Analytics and the facts of calls: never their content.
    Viewer,
    /// Call content, scheduling, campaigns, consents, do-not-call additions.
    Staff,
    /// Agents, the practice's settings, do-not-call removals, patients' records, the audit log.
    Admin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Staff, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Staff => "staff",
            Role::Admin => "admin",
        }
    }

    /// A role by its name (`viewer`, `staff`, `admin`, any case).
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether this role may see calls' content (transcripts, summaries, recordings, notes).
    pub fn sees_content(self) -> bool {
        self >= Role::Staff
    }
}

/// Where a request came from: the source address and the user agent the
/// gateway reports, each bounded.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Origin {
    #[serde(default)]
    pub source_ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

impl Origin {
    /// The most bytes kept of a user agent.
    pub const MAX_USER_AGENT: usize = 300;

    pub fn new(source_ip: Option<&str>, user_agent: Option<&str>) -> Origin {
        // An address is kept only when it is one; anything else says nothing.
        let source_ip = source_ip.map(str::trim).filter(|ip| ip.parse::<std::net::IpAddr>().is_ok()).map(str::to_string);
        let user_agent = user_agent.map(|agent| bounded(agent, Origin::MAX_USER_AGENT)).filter(|agent| !agent.is_empty());
        Origin { source_ip, user_agent }
    }
}

/// `text` trimmed, without control characters, cut to at most `max` bytes on a character boundary.
pub fn bounded(text: &str, max: usize) -> String {
    text.trim()
        .chars()
        .filter(|c| !c.is_control())
        .scan(0, |bytes, c| {
            *bytes += c.len_utf8();
            (*bytes <= max).then_some(c)
        })
        .collect()
}

/// How an actor that is CallOps itself is named: `system:<part>`.
pub const SYSTEM_PREFIX: &str = "system:";

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
        let bounded = |text: &str| bounded(text, Actor::MAX_TEXT);
        let sub = sub.map(bounded).filter(|s| !s.is_empty()).unwrap_or_else(|| "unknown".into());
        // `system:` names CallOps itself; a token cannot pass for it.
        let sub = if sub.starts_with(SYSTEM_PREFIX) { format!("user:{sub}") } else { sub };
        Actor { sub, name: name.map(bounded).filter(|n| !n.is_empty()) }
    }

    /// CallOps itself (the webhook reading a call's words, the dialer).
    pub fn system(what: &str) -> Actor {
        Actor { sub: format!("{SYSTEM_PREFIX}{what}"), name: None }
    }
}

impl Caller {
    /// CallOps acting for a tenant by itself (the demo, an operator's command): every right, no address.
    pub fn system(org_id: &str, what: &str) -> Caller {
        Caller { org_id: org_id.into(), agent_ids: None, actor: Actor::system(what), role: Role::Admin, origin: Origin::default() }
    }

    /// Whether the caller may see calls of `agent_id`.
    pub fn may_see_agent(&self, agent_id: &str) -> bool {
        self.agent_ids.as_ref().is_none_or(|ids| ids.iter().any(|id| id == agent_id))
    }
}
