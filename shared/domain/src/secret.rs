//! The port through which a function reads a secret by its reference (a
//! Secrets Manager ARN in AWS, `env:NAME` locally), so no secret is ever
//! stored with the data that names it.

use crate::DomainError;

#[async_trait::async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self, reference: &str) -> Result<String, DomainError>;
}
