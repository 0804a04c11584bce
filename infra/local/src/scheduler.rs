//! The local host's scheduler: the [`DialScheduler`] that stands in for
//! EventBridge Scheduler on one machine. It keeps one entry per attempt (by
//! the same schedule name), fires each at its time into the dialer handler
//! with the JSON input EventBridge would send, retries a delivery the dialer
//! did not accept (as Lambda's asynchronous invocation does), and forgets
//! the entry once delivered (as `ActionAfterCompletion: DELETE` does).
//!
//! Its queue lives in memory; at start-up it is rebuilt from the calls
//! waiting in the store, so nothing due while the host was down is lost.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
};

use callops_aws::store::{AgentStore, CallQueryStore};
use callops_aws::{CallQuery, DynamoStore, PageRequest};
use callops_dialer::Dialer;
use callops_domain::{
    CallStatus, DomainError,
    placement::schedule::{DialRequest, DialScheduler, ScheduledDial},
};
use chrono::{DateTime, Utc};
use tokio::sync::Notify;

/// Waiting calls read at a time when the queue is restored.
const RESTORE_PAGE: usize = 1_000;

/// Delays before a delivery the dialer refused is tried again.
const REDELIVERY_DELAYS_MS: [u64; 4] = [500, 2_000, 5_000, 15_000];

#[derive(Default)]
struct Queue {
    /// Due time and schedule name, soonest first.
    by_time: BTreeSet<(DateTime<Utc>, String)>,
    /// Schedule name -> due time and the dialer's input.
    by_name: HashMap<String, (DateTime<Utc>, String)>,
}

#[derive(Default)]
struct Inner {
    queue: Mutex<Queue>,
    changed: Notify,
    delivered: Mutex<Vec<DialRequest>>,
}

/// Clones share one queue.
#[derive(Clone, Default)]
pub struct LocalScheduler {
    inner: Arc<Inner>,
}

impl LocalScheduler {
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts every call waiting in the store back in the queue: each tenant's
    /// `byScheduledAt` index (the calls in `SCHEDULED` with a time, and
    /// nothing else), so a start costs what waits, not what is stored.
    pub async fn restore(&self, store: &DynamoStore) -> Result<usize, DomainError> {
        let mut restored = 0;
        for org_id in store.tenants().await? {
            let mut cursor: Option<String> = None;
            loop {
                let request = PageRequest { cursor: cursor.as_deref(), ..PageRequest::new(&CallQuery::Scheduled, RESTORE_PAGE) };
                let page = store.query_calls(&org_id, &request).await?;
                for call in &page.items {
                    // Attempt 0: a call CallOps did not schedule (imported history); nothing fires it.
                    if let (CallStatus::Scheduled, Some(at), 1..) = (call.status, call.scheduled_at, call.attempt) {
                        self.insert(&ScheduledDial { request: DialRequest::for_call(call), at })?;
                        restored += 1;
                    }
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        Ok(restored)
    }

    fn insert(&self, dial: &ScheduledDial) -> Result<(), DomainError> {
        let input = serde_json::to_string(&dial.request).map_err(|e| DomainError::Unavailable(format!("dial request does not serialise: {e}")))?;
        let name = dial.request.schedule_name();
        let mut queue = self.inner.queue.lock().expect("the queue lock is never poisoned");
        if let Some((at, _)) = queue.by_name.remove(&name) {
            queue.by_time.remove(&(at, name.clone()));
        }
        queue.by_time.insert((dial.at, name.clone()));
        queue.by_name.insert(name, (dial.at, input));
        drop(queue);
        self.inner.changed.notify_one();
        Ok(())
    }

    /// The attempts waiting, soonest first.
    pub fn pending(&self) -> Vec<(DateTime<Utc>, String)> {
        self.inner.queue.lock().expect("the queue lock is never poisoned").by_time.iter().cloned().collect()
    }

    /// Every attempt delivered to the dialer so far, in order.
    pub fn delivered(&self) -> Vec<DialRequest> {
        self.inner.delivered.lock().expect("the log lock is never poisoned").clone()
    }

    /// The next due entry, taken out of the queue, or how long to wait.
    fn take_due(&self, now: DateTime<Utc>) -> Result<String, Option<std::time::Duration>> {
        let mut queue = self.inner.queue.lock().expect("the queue lock is never poisoned");
        let Some((at, name)) = queue.by_time.first().cloned() else { return Err(None) };
        if at > now {
            return Err(Some((at - now).to_std().unwrap_or_default()));
        }
        queue.by_time.remove(&(at, name.clone()));
        Ok(queue.by_name.remove(&name).map(|(_, input)| input).unwrap_or_default())
    }

    /// Fires due attempts into `dialer` until the task is dropped.
    pub fn run(&self, dialer: Dialer) -> tokio::task::JoinHandle<()> {
        let scheduler = self.clone();
        tokio::spawn(async move {
            loop {
                match scheduler.take_due(Utc::now()) {
                    Ok(input) => {
                        let (scheduler, dialer) = (scheduler.clone(), dialer.clone());
                        tokio::spawn(async move { scheduler.deliver(&dialer, &input).await });
                    }
                    Err(wait) => {
                        let changed = scheduler.inner.changed.notified();
                        match wait {
                            Some(wait) => {
                                let _ = tokio::time::timeout(wait, changed).await;
                            }
                            None => changed.await,
                        }
                    }
                }
            }
        })
    }

    /// Hands the input to the dialer the way the Lambda runtime would
    /// (deserialised from JSON), trying again while the dialer refuses it.
    async fn deliver(&self, dialer: &Dialer, input: &str) {
        let request: DialRequest = match serde_json::from_str(input) {
            Ok(request) => request,
            Err(err) => {
                tracing::error!(error = %err, "a schedule's input is not a dial request");
                return;
            }
        };
        self.inner.delivered.lock().expect("the log lock is never poisoned").push(request.clone());
        for delay in std::iter::once(0).chain(REDELIVERY_DELAYS_MS) {
            tokio::time::sleep(std::time::Duration::from_millis(delay)).await;
            match dialer.dial(request.clone()).await {
                Ok(_) => return,
                Err(err) => tracing::warn!(call_id = %request.call_id, attempt = request.attempt, error = %err, "the dialer did not take the attempt"),
            }
        }
        tracing::error!(call_id = %request.call_id, attempt = request.attempt, "attempt dead-lettered after every redelivery");
    }
}

#[async_trait::async_trait]
impl DialScheduler for LocalScheduler {
    async fn schedule(&self, dial: &ScheduledDial) -> Result<(), DomainError> {
        self.insert(dial)
    }

    async fn unschedule(&self, request: &DialRequest) -> Result<(), DomainError> {
        let name = request.schedule_name();
        let mut queue = self.inner.queue.lock().expect("the queue lock is never poisoned");
        if let Some((at, _)) = queue.by_name.remove(&name) {
            queue.by_time.remove(&(at, name));
        }
        Ok(())
    }
}
