//! Secrets by reference: the port through which a function reads a secret
//! (a Secrets Manager ARN in AWS, `env:NAME` on the local host), so no
//! secret is ever stored with the data that names it, and the namespace a
//! tenant's references must stay in, so that no tenant can name the
//! operator's secrets, or another tenant's, and have the dialer hand them
//! to Vapi.

use crate::error::DomainError;

#[async_trait::async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self, reference: &str) -> Result<String, DomainError>;
}

/// The prefix of the environment variables a tenant's `env:` references
/// may name on the local host: `CALLOPS_SECRET_<orgId>_<NAME>`, NAME being
/// letters and digits only, so the last `_` always ends the tenant.
pub const ENV_PREFIX: &str = "CALLOPS_SECRET_";

/// Where this deployment lets a tenant's secrets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretNamespace {
    /// The AWS partition, region and account of this deployment: a tenant
    /// names Secrets Manager secrets there, under `callops/<orgId>/`.
    pub partition: String,
    pub region: String,
    pub account: String,
    /// Whether `env:` references are taken (the local host only).
    pub env: bool,
}

/// The longest reference taken (Secrets Manager names run to 512 characters).
const MAX_REFERENCE_BYTES: usize = 700;

fn refuse(why: String) -> DomainError {
    DomainError::invalid("invalid_twilio_number", format!("twilioNumber.authTokenSecret {why}"))
}

impl SecretNamespace {
    /// The local host's: `env:` references, and ARNs of the account the
    /// local API Gateway names (`000000000000`, `us-east-1`).
    pub fn local() -> Self {
        SecretNamespace { partition: "aws".into(), region: "us-east-1".into(), account: "000000000000".into(), env: true }
    }

    /// Whether `reference` names a secret of tenant `org_id` in this namespace.
    pub fn check(&self, org_id: &str, reference: &str) -> Result<(), DomainError> {
        if reference.len() > MAX_REFERENCE_BYTES {
            return Err(refuse(format!("is longer than {MAX_REFERENCE_BYTES} bytes")));
        }
        if let Some(variable) = reference.strip_prefix("env:") {
            if !self.env {
                return Err(refuse("may not name an environment variable here: name a Secrets Manager secret".into()));
            }
            let named = variable.strip_prefix(ENV_PREFIX).and_then(|rest| rest.rsplit_once('_'));
            return match named {
                Some((org, name)) if org == org_id && !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric()) => Ok(()),
                _ => Err(refuse(format!("must be env:{ENV_PREFIX}{org_id}_<NAME>, NAME of letters and digits"))),
            };
        }
        let parts: Vec<&str> = reference.split(':').collect();
        let prefix = format!("callops/{org_id}/");
        let ours = match parts.as_slice() {
            ["arn", partition, "secretsmanager", region, account, "secret", name] => {
                *partition == self.partition
                    && *region == self.region
                    && *account == self.account
                    && name.strip_prefix(prefix.as_str()).is_some_and(|rest| !rest.is_empty())
                    && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"/_+=.@-".contains(&b))
            }
            _ => false,
        };
        if ours {
            Ok(())
        } else {
            Err(refuse(format!(
                "must name a secret, never hold the token: arn:{}:secretsmanager:{}:{}:secret:{prefix}...{}",
                self.partition,
                self.region,
                self.account,
                if self.env { format!(" or env:{ENV_PREFIX}{org_id}_<NAME>") } else { String::new() }
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aws() -> SecretNamespace {
        SecretNamespace { partition: "aws".into(), region: "us-east-1".into(), account: "123456789012".into(), env: false }
    }

    #[test]
    fn a_tenant_names_only_secrets_under_its_own_prefix_in_this_account_and_region() {
        let ns = aws();
        assert!(ns.check("acme", "arn:aws:secretsmanager:us-east-1:123456789012:secret:callops/acme/twilio-AbCdEf").is_ok());
        for other in [
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:callops/globex/twilio-AbCdEf",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:callops/acme-dental/twilio",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:callops/acme/",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:vapi-api-key-XyZ",
            "arn:aws:secretsmanager:us-east-1:999999999999:secret:callops/acme/twilio",
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:callops/acme/twilio",
            "arn:aws-cn:secretsmanager:us-east-1:123456789012:secret:callops/acme/twilio",
            "arn:aws:secretsmanager:us-east-1:123456789012:secret:callops/acme/twilio:extra",
            "arn:aws:ssm:us-east-1:123456789012:parameter/callops/acme/twilio",
            "env:CALLOPS_SECRET_acme_TOKEN",
            "env:VAPI_API_KEY",
            "the-token-itself",
        ] {
            let err = ns.check("acme", other).unwrap_err();
            assert!(matches!(err, DomainError::Invalid { code: "invalid_twilio_number", .. }), "{other}");
        }
    }

    #[test]
    fn on_the_local_host_env_names_carry_the_tenant() {
        let ns = SecretNamespace::local();
        assert!(ns.check("acme", "env:CALLOPS_SECRET_acme_TWILIO").is_ok());
        assert!(ns.check("acme_dental", "env:CALLOPS_SECRET_acme_dental_TOKEN2").is_ok());
        for other in [
            "env:VAPI_API_KEY",
            "env:CALLOPS_SECRET_acme_dental_TOKEN",
            "env:CALLOPS_SECRET_globex_TOKEN",
            "env:CALLOPS_SECRET_acme_",
            "env:CALLOPS_SECRET_acme_TWILIO_TOKEN",
            "env:CALLOPS_SECRET_acme",
            "env:HOME",
        ] {
            assert!(ns.check("acme", other).is_err(), "{other}");
        }
        assert!(ns.check("acme", "arn:aws:secretsmanager:us-east-1:000000000000:secret:callops/acme/t").is_ok());
    }
}
