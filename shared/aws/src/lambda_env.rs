//! The AWS configuration inside Lambda, from the environment Lambda gives
//! every function: the region (`AWS_REGION`), the execution role's
//! credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`) and endpoint overrides (`AWS_ENDPOINT_URL_<SERVICE>`,
//! then `AWS_ENDPOINT_URL`). Unlike `aws_config::load_defaults`, nothing
//! here reaches for profiles, SSO, STS or instance metadata, none of which a
//! function uses: they stay out of the bootstraps, which are smaller and
//! start sooner for it. The `callops` command keeps the full default chain.

use aws_config::{BehaviorVersion, Region, environment::EnvironmentVariableCredentialsProvider};

fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// The function's region.
pub fn region() -> Option<Region> {
    var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION")).map(Region::new)
}

/// The endpoint for `service` (as in `AWS_ENDPOINT_URL_DYNAMODB`), when overridden.
pub fn endpoint(service: &str) -> Option<String> {
    var(&format!("AWS_ENDPOINT_URL_{service}")).or_else(|| var("AWS_ENDPOINT_URL"))
}

/// The execution role's credentials, as Lambda sets them.
pub fn credentials() -> EnvironmentVariableCredentialsProvider {
    EnvironmentVariableCredentialsProvider::new()
}

pub fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::latest()
}
