//! EventBridge Scheduler as the [`DialScheduler`]: one one-time schedule per
//! dial attempt, named after the attempt, firing the dialer with
//! `{orgId, callId, attempt}` at the attempt's time in UTC, deleted by
//! EventBridge once it has fired. Delivery is retried by EventBridge and
//! what cannot be delivered lands in the dead-letter queue.

use aws_sdk_scheduler::{
    Client,
    error::{DisplayErrorContext, SdkError},
    operation::{create_schedule::CreateScheduleError, delete_schedule::DeleteScheduleError},
    types::{ActionAfterCompletion, DeadLetterConfig, FlexibleTimeWindow, FlexibleTimeWindowMode, RetryPolicy, ScheduleState, Target},
};
use callops_domain::{
    DomainError,
    placement::schedule::{DialRequest, DialScheduler, ScheduledDial},
};
use chrono::{DateTime, Duration, SubsecRound, Utc};

/// Where the schedules live and what they fire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialTarget {
    /// The schedule group holding every dial schedule.
    pub group: String,
    /// The dialer function's ARN.
    pub dialer_arn: String,
    /// The role EventBridge Scheduler assumes to invoke the dialer.
    pub role_arn: String,
    /// The SQS queue that receives attempts EventBridge could not deliver.
    pub dead_letter_arn: String,
}

/// How long EventBridge keeps trying to deliver an attempt before it goes to
/// the dead-letter queue: a call placed later than this is no longer the call
/// that was asked for.
pub const MAX_EVENT_AGE_SECONDS: i32 = 3_600;
/// How many times EventBridge retries a delivery the dialer did not accept.
pub const MAX_RETRY_ATTEMPTS: i32 = 20;

impl DialTarget {
    /// From `CALLOPS_SCHEDULE_GROUP`, `CALLOPS_DIALER_ARN`,
    /// `CALLOPS_SCHEDULER_ROLE_ARN` and `CALLOPS_DIALER_DLQ_ARN`.
    pub fn from_env() -> Result<DialTarget, String> {
        let required = |name: &str| match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Ok(value),
            _ => Err(format!("configuration: the environment variable {name} must be set")),
        };
        Ok(DialTarget {
            group: required("CALLOPS_SCHEDULE_GROUP")?,
            dialer_arn: required("CALLOPS_DIALER_ARN")?,
            role_arn: required("CALLOPS_SCHEDULER_ROLE_ARN")?,
            dead_letter_arn: required("CALLOPS_DIALER_DLQ_ARN")?,
        })
    }
}

#[derive(Clone, Debug)]
pub struct EventBridgeScheduler {
    client: Client,
    target: DialTarget,
}

fn unavailable<E: std::error::Error + 'static>(err: SdkError<E>) -> DomainError {
    DomainError::Unavailable(format!("EventBridge Scheduler: {}", DisplayErrorContext(&err)))
}

/// `at()` takes whole seconds: the next whole second, so an attempt never
/// fires before its time.
pub fn at_expression(at: DateTime<Utc>) -> String {
    let whole = at.trunc_subsecs(0);
    let at = if whole < at { whole + Duration::seconds(1) } else { whole };
    format!("at({})", at.format("%Y-%m-%dT%H:%M:%S"))
}

impl EventBridgeScheduler {
    pub fn new(client: Client, target: DialTarget) -> Self {
        EventBridgeScheduler { client, target }
    }

    /// The client a Lambda function uses (`AWS_ENDPOINT_URL_SCHEDULER` is honoured; see [`crate::lambda_env`]).
    pub fn in_lambda(target: DialTarget) -> Self {
        use crate::lambda_env;
        let mut config = aws_sdk_scheduler::Config::builder().behavior_version(lambda_env::behavior_version()).credentials_provider(lambda_env::credentials());
        config.set_region(lambda_env::region()).set_endpoint_url(lambda_env::endpoint("SCHEDULER"));
        Self::new(Client::from_conf(config.build()), target)
    }

    fn target(&self, request: &DialRequest) -> Result<Target, DomainError> {
        let input = serde_json::to_string(request).map_err(|e| DomainError::Unavailable(format!("dial request does not serialise: {e}")))?;
        Target::builder()
            .arn(&self.target.dialer_arn)
            .role_arn(&self.target.role_arn)
            .input(input)
            .retry_policy(RetryPolicy::builder().maximum_event_age_in_seconds(MAX_EVENT_AGE_SECONDS).maximum_retry_attempts(MAX_RETRY_ATTEMPTS).build())
            .dead_letter_config(DeadLetterConfig::builder().arn(&self.target.dead_letter_arn).build())
            .build()
            .map_err(|e| DomainError::Unavailable(format!("schedule target: {e}")))
    }

    fn window() -> FlexibleTimeWindow {
        FlexibleTimeWindow::builder().mode(FlexibleTimeWindowMode::Off).build().expect("mode is set")
    }
}

#[async_trait::async_trait]
impl DialScheduler for EventBridgeScheduler {
    async fn schedule(&self, dial: &ScheduledDial) -> Result<(), DomainError> {
        let name = dial.request.schedule_name();
        let expression = at_expression(dial.at);
        let target = self.target(&dial.request)?;
        // CreateSchedule and UpdateSchedule take the whole definition, the same for both.
        macro_rules! definition {
            ($request:expr) => {
                $request
                    .name(&name)
                    .group_name(&self.target.group)
                    .schedule_expression(&expression)
                    .schedule_expression_timezone("UTC")
                    .flexible_time_window(Self::window())
                    .action_after_completion(ActionAfterCompletion::Delete)
                    .state(ScheduleState::Enabled)
                    .target(target.clone())
            };
        }
        let created = definition!(self.client.create_schedule()).send().await;
        match created {
            Ok(_) => Ok(()),
            // The attempt has its schedule already (a retried request, or a move): set its time.
            Err(err) if matches!(err.as_service_error(), Some(CreateScheduleError::ConflictException(_))) => {
                definition!(self.client.update_schedule()).send().await.map(|_| ()).map_err(unavailable)
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    async fn unschedule(&self, request: &DialRequest) -> Result<(), DomainError> {
        let deleted = self.client.delete_schedule().name(request.schedule_name()).group_name(&self.target.group).send().await;
        match deleted {
            Ok(_) => Ok(()),
            Err(err) if matches!(err.as_service_error(), Some(DeleteScheduleError::ResourceNotFoundException(_))) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_expressions_never_fire_early() {
        let at = |t: &str| callops_domain::time::parse(t).unwrap();
        assert_eq!(at_expression(at("2024-05-01T14:30:00Z")), "at(2024-05-01T14:30:00)");
        assert_eq!(at_expression(at("2024-05-01T14:30:00.001Z")), "at(2024-05-01T14:30:01)");
    }
}
