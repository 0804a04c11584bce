//! Secrets the functions read by reference, never from the table: a
//! transient Twilio number's auth token is stored on its agent only as where
//! it lives. `arn:aws:secretsmanager:...` is read from Secrets Manager (and
//! kept for the life of the process); `env:NAME` from the environment, on
//! the local host only: a Lambda never resolves `env:`, so no reference can
//! reach the function's own configuration. Which references a tenant may
//! name at all is [`callops_domain::agent::secret::SecretNamespace`]'s to say.

use std::{collections::HashMap, sync::Mutex};

use aws_sdk_secretsmanager::{Client, error::DisplayErrorContext};
use callops_domain::{DomainError, agent::secret::SecretSource};

pub struct SecretResolver {
    client: Option<Client>,
    /// Whether `env:` references are read (the local host only).
    env: bool,
    cache: Mutex<HashMap<String, String>>,
}

impl SecretResolver {
    /// `env:` references only (the local host).
    pub fn env_only() -> Self {
        SecretResolver { client: None, env: true, cache: Mutex::default() }
    }

    /// Secrets Manager references only, with this client.
    pub fn with_client(client: Client) -> Self {
        SecretResolver { client: Some(client), env: false, cache: Mutex::default() }
    }

    /// The client a Lambda function uses (`AWS_ENDPOINT_URL_SECRETS_MANAGER` is honoured; see [`crate::lambda_env`]).
    pub fn in_lambda() -> Self {
        use crate::lambda_env;
        let mut config =
            aws_sdk_secretsmanager::Config::builder().behavior_version(lambda_env::behavior_version()).credentials_provider(lambda_env::credentials());
        config.set_region(lambda_env::region()).set_endpoint_url(lambda_env::endpoint("SECRETS_MANAGER"));
        Self::with_client(Client::from_conf(config.build()))
    }
}

#[async_trait::async_trait]
impl SecretSource for SecretResolver {
    async fn secret(&self, reference: &str) -> Result<String, DomainError> {
        if let Some(name) = reference.strip_prefix("env:") {
            if !self.env {
                return Err(DomainError::Unavailable("env: secret references are read on the local host only".into()));
            }
            return std::env::var(name).map_err(|_| DomainError::Unavailable(format!("the environment variable {name} is not set")));
        }
        if !reference.starts_with("arn:") {
            return Err(DomainError::Unavailable(format!("secret reference {reference:?} is neither arn:... nor env:NAME")));
        }
        self.fetch(reference).await
    }
}

impl SecretResolver {
    /// The secret Secrets Manager knows by `name` (or ARN), kept for the life of the process.
    pub async fn named(&self, name: &str) -> Result<String, DomainError> {
        self.fetch(name).await
    }

    async fn fetch(&self, reference: &str) -> Result<String, DomainError> {
        if let Some(known) = self.cache.lock().map_err(|_| DomainError::Unavailable("the secret cache is poisoned".into()))?.get(reference) {
            return Ok(known.clone());
        }
        let client = self.client.as_ref().ok_or_else(|| DomainError::Unavailable("Secrets Manager is not configured here".into()))?;
        let output = client
            .get_secret_value()
            .secret_id(reference)
            .send()
            .await
            .map_err(|e| DomainError::Unavailable(format!("Secrets Manager: {}", DisplayErrorContext(&e))))?;
        let value = output.secret_string().ok_or_else(|| DomainError::Unavailable("the secret has no string value".into()))?.to_string();
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(reference.to_string(), value.clone());
        }
        Ok(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_resolver_with_secrets_manager_never_reads_the_environment() {
        // SAFETY: tests in this crate do not read this variable elsewhere.
        unsafe { std::env::set_var("CALLOPS_SECRET_acme_LEAK", "operator-secret") };
        let client = Client::from_conf(
            aws_sdk_secretsmanager::Config::builder()
                .behavior_version(aws_sdk_secretsmanager::config::BehaviorVersion::latest())
                .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
                .build(),
        );
        let err = SecretResolver::with_client(client).secret("env:CALLOPS_SECRET_acme_LEAK").await.unwrap_err();
        assert!(matches!(err, DomainError::Unavailable(_)), "{err:?}");
        assert_eq!(SecretResolver::env_only().secret("env:CALLOPS_SECRET_acme_LEAK").await.unwrap(), "operator-secret");
    }
}
