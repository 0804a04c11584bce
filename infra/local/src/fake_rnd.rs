//! A Reassigned Numbers Database that answers as a caller agent's batch
//! query does ([`callops_service::rnd`]), from a fixture of disconnections
//! (`--rnd-fixture FILE`: CSV `phoneNumber,disconnectedAt`), for the local
//! host, the demo and the tests. The FCC's rules for an answer
//! (DA 21-1649): `yes` when the number was permanently disconnected on or
//! after the date asked about; no data for a date before the database's
//! data begins (2021-01-27); `no` otherwise.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use axum::{Json, Router, extract::State, http::StatusCode, routing::post};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::{Value, json};

/// The Reassigned Numbers Database the local dialer asks.
#[derive(Debug, Clone)]
pub enum RndBackend {
    /// The built-in fake, with these disconnections (10-digit number, date): the default.
    Fake(Vec<(String, chrono::NaiveDate)>),
    /// A caller agent's endpoint, with its key.
    Remote { endpoint: String, key: String },
    /// Not asked.
    Off,
}

impl Default for RndBackend {
    fn default() -> Self {
        RndBackend::Fake(Vec::new())
    }
}

/// The first date the database holds data for.
pub const DATA_FROM: &str = "2021-01-27";

#[derive(Default)]
struct Fake {
    /// 10-digit number to the date it was disconnected.
    disconnected: RwLock<HashMap<String, NaiveDate>>,
    /// Answer 503, as an outage would.
    down: AtomicBool,
    /// Numbers asked about, in all.
    asked: AtomicUsize,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeRnd {
    fake: Arc<Fake>,
    endpoint: String,
}

#[derive(Deserialize)]
struct Query {
    #[serde(rename = "phoneNumber")]
    phone_number: String,
    date: String,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "Data")]
    data: Vec<Query>,
}

/// Reads a fixture: CSV `phoneNumber,disconnectedAt` (E.164 or 10 digits; a date), a header line allowed.
pub fn parse_fixture(text: &str) -> Result<Vec<(String, NaiveDate)>, String> {
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || (index == 0 && line.to_ascii_lowercase().starts_with("phone")) {
            continue;
        }
        let (number, date) = line.split_once(',').ok_or_else(|| format!("line {}: expected phoneNumber,disconnectedAt", index + 1))?;
        let digits: String = number.trim().trim_start_matches("+1").chars().filter(char::is_ascii_digit).collect();
        let date = date.trim().parse::<NaiveDate>().map_err(|_| format!("line {}: disconnectedAt is a date (YYYY-MM-DD)", index + 1))?;
        if digits.len() != 10 {
            return Err(format!("line {}: a US number", index + 1));
        }
        rows.push((digits, date));
    }
    Ok(rows)
}

impl FakeRnd {
    /// Starts the fake on a free port of 127.0.0.1 with these disconnections.
    pub async fn start(disconnected: Vec<(String, NaiveDate)>) -> std::io::Result<FakeRnd> {
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let endpoint = format!("http://{}/rnd/query", listener.local_addr()?);
        let fake = Arc::new(Fake { disconnected: RwLock::new(disconnected.into_iter().collect()), ..Fake::default() });
        let app = Router::new().route("/rnd/query", post(query)).with_state(fake.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(FakeRnd { fake, endpoint })
    }

    /// The URL the dialer posts its queries to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Records that `number` (E.164) was disconnected on `on`.
    pub fn disconnect(&self, number: &str, on: NaiveDate) {
        let digits = number.trim_start_matches("+1").to_string();
        if let Ok(mut map) = self.fake.disconnected.write() {
            map.insert(digits, on);
        }
    }

    /// Makes the database unreachable (503), or reachable again.
    pub fn set_down(&self, down: bool) {
        self.fake.down.store(down, Ordering::SeqCst);
    }

    /// How many numbers were asked about.
    pub fn asked(&self) -> usize {
        self.fake.asked.load(Ordering::SeqCst)
    }
}

async fn query(State(fake): State<Arc<Fake>>, Json(body): Json<Body>) -> (StatusCode, Json<Value>) {
    if fake.down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"errorMessage": "unavailable"})));
    }
    if body.data.is_empty() || body.data.len() > 1_000 {
        return (StatusCode::BAD_REQUEST, Json(json!({"errorMessage": "1 to 1,000 numbers a request"})));
    }
    fake.asked.fetch_add(body.data.len(), Ordering::SeqCst);
    let data_from: NaiveDate = DATA_FROM.parse().expect("a date");
    let disconnected = fake.disconnected.read().map(|m| m.clone()).unwrap_or_default();
    let answers: Vec<Value> = body
        .data
        .iter()
        .map(|q| {
            let since = NaiveDate::parse_from_str(&q.date, "%Y%m%d").ok();
            let reassigned = match since {
                Some(since) if since < data_from => Value::Null,
                Some(since) => Value::Bool(disconnected.get(&q.phone_number).is_some_and(|on| *on >= since)),
                None => Value::Null,
            };
            json!({"PhoneNumber": q.phone_number, "IsReassigned": reassigned, "HasSafeHarbor": reassigned == Value::Bool(false)})
        })
        .collect();
    (StatusCode::OK, Json(Value::Array(answers)))
}
