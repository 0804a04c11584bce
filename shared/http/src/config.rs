//! Configuration read once at start-up. A missing setting stops the cold
//! start with a message naming it, not the hundredth request.

/// The DynamoDB table every function uses.
pub const TABLE_VAR: &str = "CALLOPS_TABLE";

/// A required environment variable, or an error that names it.
pub fn required(name: &str) -> Result<String, String> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(format!("configuration: the environment variable {name} must be set")),
    }
}

/// The AWS account and partition a deployment's secrets live in (the
/// template sets both; Lambda sets `AWS_REGION`).
pub const ACCOUNT_VAR: &str = "CALLOPS_AWS_ACCOUNT_ID";
pub const PARTITION_VAR: &str = "CALLOPS_AWS_PARTITION";

/// Where this deployment's tenants may keep their secrets: Secrets Manager
/// in its own account and region, never `env:`.
pub fn secret_namespace() -> Result<callops_domain::agent::secret::SecretNamespace, String> {
    Ok(callops_domain::agent::secret::SecretNamespace {
        partition: required(PARTITION_VAR)?,
        region: required("AWS_REGION")?,
        account: required(ACCOUNT_VAR)?,
        env: false,
    })
}
