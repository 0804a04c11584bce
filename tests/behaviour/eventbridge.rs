//! The AWS adapters that are not DynamoDB, against real implementations of
//! their APIs: moto's server (installed into .venv by the test command).
//! The EventBridge Scheduler adapter: the schedule it makes for an attempt,
//! that asking again moves it rather than making a second, that cancelling
//! removes it. The Secrets Manager reader: a Twilio token by its ARN.

use std::{
    net::TcpListener,
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use aws_sdk_scheduler::{
    Client,
    config::{Credentials, Region},
    types::{ActionAfterCompletion, FlexibleTimeWindowMode},
};
use callops_aws::scheduler::{DialTarget, EventBridgeScheduler, MAX_EVENT_AGE_SECONDS, MAX_RETRY_ATTEMPTS};
use callops_domain::{
    placement::schedule::{DialRequest, DialScheduler, ScheduledDial},
    time,
};
use serde_json::{Value, json};

/// A moto server on a free port; stopped when dropped.
struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn moto_server() -> PathBuf {
    if let Some(path) = std::env::var_os("CALLOPS_MOTO_SERVER") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/moto_server"));
    assert!(path.exists(), "moto_server is missing: run infra/scripts/test.sh, which installs it into .venv");
    path
}

async fn start_moto() -> Moto {
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(moto_server())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "moto_server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    moto
}

fn client(endpoint: &str) -> Client {
    let config = aws_sdk_scheduler::Config::builder()
        .behavior_version_latest()
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .build();
    Client::from_conf(config)
}

#[tokio::test]
async fn each_attempt_gets_one_schedule_that_fires_the_dialer_once_at_its_time() {
    let moto = start_moto().await;
    let client = client(&moto.endpoint);
    client.create_schedule_group().name("callops-dialer").send().await.expect("the group is created");
    let target = DialTarget {
        group: "callops-dialer".into(),
        dialer_arn: "arn:aws:lambda:us-east-1:123456789012:function:callops-dialer".into(),
        role_arn: "arn:aws:iam::123456789012:role/callops-scheduler".into(),
        dead_letter_arn: "arn:aws:sqs:us-east-1:123456789012:callops-dialer-dlq".into(),
    };
    let scheduler = EventBridgeScheduler::new(client.clone(), target.clone());
    let request = DialRequest { org_id: "demo".into(), call_id: callops_domain::call::new_call_id(), attempt: 2 };
    let at = time::parse("2031-05-01T14:30:00.250Z").unwrap();
    scheduler.schedule(&ScheduledDial { request: request.clone(), at }).await.expect("scheduled");

    let made = client.get_schedule().group_name("callops-dialer").name(request.schedule_name()).send().await.expect("the schedule exists");
    assert_eq!(made.schedule_expression(), Some("at(2031-05-01T14:30:01)"), "one time, whole seconds, never early");
    assert_eq!(made.schedule_expression_timezone(), Some("UTC"));
    assert_eq!(made.flexible_time_window().map(|w| w.mode()), Some(&FlexibleTimeWindowMode::Off));
    assert_eq!(made.action_after_completion(), Some(&ActionAfterCompletion::Delete));
    let fired = made.target().expect("a target");
    assert_eq!(fired.arn(), target.dialer_arn);
    assert_eq!(fired.role_arn(), target.role_arn);
    let input: Value = serde_json::from_str(fired.input().expect("an input")).unwrap();
    assert_eq!(input, json!({"orgId": "demo", "callId": request.call_id, "attempt": 2}));
    let retry = fired.retry_policy().expect("a retry policy");
    assert_eq!((retry.maximum_event_age_in_seconds(), retry.maximum_retry_attempts()), (Some(MAX_EVENT_AGE_SECONDS), Some(MAX_RETRY_ATTEMPTS)));
    assert_eq!(fired.dead_letter_config().and_then(|d| d.arn()), Some(target.dead_letter_arn.as_str()));

    // The same attempt again (a retried request, or a reschedule) moves the one schedule.
    let later = time::parse("2031-05-02T09:00:00Z").unwrap();
    scheduler.schedule(&ScheduledDial { request: request.clone(), at: later }).await.expect("moved");
    let listed = client.list_schedules().group_name("callops-dialer").send().await.unwrap();
    assert_eq!(listed.schedules().len(), 1, "still one schedule");
    let moved = client.get_schedule().group_name("callops-dialer").name(request.schedule_name()).send().await.unwrap();
    assert_eq!(moved.schedule_expression(), Some("at(2031-05-02T09:00:00)"));
    assert_eq!(moved.target().and_then(|t| t.input()).map(|i| serde_json::from_str::<Value>(i).unwrap()), Some(input));

    // The next attempt is a schedule of its own.
    let next = DialRequest { attempt: 3, ..request.clone() };
    scheduler.schedule(&ScheduledDial { request: next.clone(), at: later }).await.unwrap();
    assert_eq!(client.list_schedules().group_name("callops-dialer").send().await.unwrap().schedules().len(), 2);

    // Cancelling removes it; removing what is gone is fine.
    scheduler.unschedule(&request).await.expect("removed");
    let gone = client.get_schedule().group_name("callops-dialer").name(request.schedule_name()).send().await;
    assert!(gone.is_err_and(|e| e.as_service_error().is_some_and(|e| e.is_resource_not_found_exception())));
    scheduler.unschedule(&request).await.expect("removing twice is fine");
    let left: Vec<String> =
        client.list_schedules().group_name("callops-dialer").send().await.unwrap().schedules().iter().filter_map(|s| s.name().map(str::to_string)).collect();
    assert_eq!(left, vec![next.schedule_name()]);
}

#[tokio::test]
async fn a_secret_is_read_by_its_arn_and_kept() {
    use aws_sdk_secretsmanager::config::{Credentials as SecretCredentials, Region as SecretRegion};
    use callops_aws::secrets::SecretResolver;
    use callops_domain::agent::secret::SecretSource;

    let moto = start_moto().await;
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version_latest()
        .region(SecretRegion::new("us-east-1"))
        .endpoint_url(&moto.endpoint)
        .credentials_provider(SecretCredentials::new("test", "test", None, None, "tests"))
        .build();
    let client = aws_sdk_secretsmanager::Client::from_conf(config);
    let created = client.create_secret().name("callops/twilio/front-desk").secret_string("twilio-token-1").send().await.expect("a secret");
    let arn = created.arn().expect("an ARN").to_string();

    let secrets = SecretResolver::with_client(client.clone());
    assert_eq!(secrets.secret(&arn).await.unwrap(), "twilio-token-1");
    client.delete_secret().secret_id(&arn).force_delete_without_recovery(true).send().await.unwrap();
    assert_eq!(secrets.secret(&arn).await.unwrap(), "twilio-token-1", "read once, kept for the process");
    let missing = format!("{}-missing", arn);
    assert!(secrets.secret(&missing).await.is_err());
    assert!(secrets.secret("the-token-itself").await.is_err(), "a reference, never a token");
}
