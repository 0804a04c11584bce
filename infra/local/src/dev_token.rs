//! The local host's bearer tokens: each stands for the claims the deployed
//! JWT authorizer would pass on, and is parsed from `--dev-token`.

use callops_http::ORG_CLAIM;
use serde_json::json;

/// What a local bearer token stands for: every claim the deployed JWT
/// authorizer passes on. A tenant; the role its claims carry (`None`: no
/// `role` claim, which the functions read as `staff`, or as its groups map);
/// the agents it is narrowed to (`agent_ids`; none: every agent); the
/// user's name; and the identity provider's groups (in the claim
/// `CALLOPS_GROUPS_CLAIM` names, `cognito:groups` unless set).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DevToken {
    pub org: String,
    pub role: Option<callops_domain::caller::Role>,
    pub agent_ids: Vec<String>,
    pub name: Option<String>,
    pub groups: Vec<String>,
}

impl DevToken {
    /// A token of the practice's admin.
    pub fn admin(org: &str) -> DevToken {
        DevToken::with_role(org, Some(callops_domain::caller::Role::Admin))
    }

    /// A token of `org` with `role` (or no role claim) and no other claims.
    pub fn with_role(org: &str, role: Option<callops_domain::caller::Role>) -> DevToken {
        DevToken { org: org.to_string(), role, ..DevToken::default() }
    }

    /// Reads `TOKEN:ORG[:ROLE[:CLAIM=VALUE]...]`, where ROLE is `viewer`,
    /// `staff`, `admin` or empty (no role claim) and each CLAIM is
    /// `agents` (comma-separated agent ids), `name` or `groups`
    /// (comma-separated).
    pub fn parse(text: &str) -> Result<(String, DevToken), String> {
        const FORM: &str = "expected TOKEN:ORG[:ROLE[:agents=ID,ID][:name=NAME][:groups=GROUP,GROUP]]";
        let mut parts = text.split(':');
        let token = parts.next().filter(|t| !t.is_empty()).ok_or(FORM)?;
        let org = parts.next().ok_or(FORM)?;
        if !callops_http::valid_org_id(org) {
            return Err(format!("{FORM}: the org is letters, digits, - and _"));
        }
        let role = match parts.next() {
            None | Some("") => None,
            Some(role) => Some(callops_http::Role::parse(role).ok_or("ROLE is viewer, staff or admin (or empty for no role claim)")?),
        };
        let mut dev = DevToken::with_role(org, role);
        let list = |value: &str| value.split(',').map(str::trim).filter(|v| !v.is_empty()).map(String::from).collect::<Vec<_>>();
        for part in parts {
            match part.split_once('=') {
                Some(("agents", ids)) => {
                    dev.agent_ids = list(ids);
                    callops_http::agents_claim(&dev.agent_ids.join(" ")).map_err(|err| err.to_string())?;
                }
                Some(("name", name)) if !name.trim().is_empty() => dev.name = Some(name.trim().to_string()),
                Some(("groups", groups)) => dev.groups = list(groups),
                _ => return Err(format!("{FORM}: {part:?} is not agents=, name= or groups=")),
            }
        }
        Ok((token.to_string(), dev))
    }

    /// The claims API Gateway's JWT authorizer hands the function for this
    /// token: strings, lists flattened as `[a b]` as the authorizer does.
    pub fn claims(&self, token: &str) -> serde_json::Value {
        let mut claims = json!({ ORG_CLAIM: self.org, "sub": self.subject(token), "iss": "callops-local" });
        if let Some(role) = self.role {
            claims[callops_http::ROLE_CLAIM] = json!(role.as_str());
        }
        if !self.agent_ids.is_empty() {
            claims[callops_http::AGENTS_CLAIM] = json!(format!("[{}]", self.agent_ids.join(" ")));
        }
        if let Some(name) = &self.name {
            claims["name"] = json!(name);
        }
        if !self.groups.is_empty() {
            claims[callops_http::GroupRoles::configured().claim.as_str()] = json!(format!("[{}]", self.groups.join(" ")));
        }
        claims
    }

    /// The token's own subject: stable for the token, never the token itself
    /// (FNV-1a of it, which tells tokens apart and gives nothing back).
    pub fn subject(&self, token: &str) -> String {
        format!("local:{}:{:016x}", self.org, stable_hash(token))
    }
}

/// FNV-1a of `text`: the same on every run and machine, for names derived
/// from a value that must not show it (a token's subject, a long legacy id).
pub fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3))
}
