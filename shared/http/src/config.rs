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
