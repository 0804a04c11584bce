//! The Reassigned Numbers Database over HTTP, through a caller agent that
//! holds the FCC's letter of authorisation for the practice's Company ID
//! (reassigned.us/resources/faq allows querying "through a caller agent").
//! The wire shape is a caller agent's documented batch query
//! (docs.dncscrub.com, "RND Basic (POST)"): `POST <endpoint>` with the key
//! in a `loginId` header and `{"Data": [{"phoneNumber": "<10 digits>",
//! "date": "YYYYMMDD"}]}`, at most 1,000 numbers; the answer is one object
//! per number, `{"PhoneNumber", "IsReassigned": true | false | null}` (null:
//! the database holds no data for it). The endpoint is configurable, so a
//! practice's own agent, or the local host's fake, answers the same way.

use std::time::Duration;

use callops_domain::{
    DomainError,
    consent::reassigned::{MAX_BATCH, ReassignedNumbers, RndQuery, RndResult},
};
use serde::{Deserialize, Serialize};

/// A caller agent's RND endpoint.
pub struct RndClient {
    http: reqwest::Client,
    endpoint: String,
    key: String,
}

#[derive(Serialize)]
struct Query<'a> {
    #[serde(rename = "phoneNumber")]
    phone_number: &'a str,
    date: String,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "Data")]
    data: Vec<Query<'a>>,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "PhoneNumber")]
    phone_number: String,
    #[serde(rename = "IsReassigned")]
    is_reassigned: Option<bool>,
}

impl RndClient {
    pub fn new(endpoint: &str, key: &str, timeout: Duration) -> Result<RndClient, DomainError> {
        let http = reqwest::Client::builder().timeout(timeout).build().map_err(|e| DomainError::Unavailable(format!("the RND client: {e}")))?;
        Ok(RndClient { http, endpoint: endpoint.trim_end_matches('/').to_string(), key: key.to_string() })
    }
}

impl RndClient {
    /// The deployment's caller agent, when it has one: `CALLOPS_RND_ENDPOINT` (empty or unset: none) and
    /// `CALLOPS_RND_API_KEY` (required with it).
    pub fn from_env(timeout: Duration) -> Result<Option<RndClient>, DomainError> {
        let Some(endpoint) = std::env::var("CALLOPS_RND_ENDPOINT").ok().filter(|v| !v.trim().is_empty()) else { return Ok(None) };
        let key = std::env::var("CALLOPS_RND_API_KEY")
            .ok()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| DomainError::Unavailable("CALLOPS_RND_API_KEY is required with CALLOPS_RND_ENDPOINT".into()))?;
        RndClient::new(&endpoint, &key, timeout).map(Some)
    }
}

/// A US number's 10 digits, as the database takes it.
fn ten_digits(number: &str) -> Option<&str> {
    number.strip_prefix("+1").filter(|d| d.len() == 10 && d.bytes().all(|b| b.is_ascii_digit()))
}

#[async_trait::async_trait]
impl ReassignedNumbers for RndClient {
    async fn query(&self, queries: &[RndQuery]) -> Result<Vec<RndResult>, DomainError> {
        if queries.len() > MAX_BATCH {
            return Err(DomainError::invalid("rnd_batch_too_large", format!("at most {MAX_BATCH} numbers a query")));
        }
        // Only US numbers are in the database: any other has no data.
        let asked: Vec<(usize, &str)> = queries.iter().enumerate().filter_map(|(i, q)| ten_digits(&q.phone_number).map(|d| (i, d))).collect();
        let mut results = vec![RndResult::NoData; queries.len()];
        if asked.is_empty() {
            return Ok(results);
        }
        let body =
            Body { data: asked.iter().map(|(i, digits)| Query { phone_number: digits, date: queries[*i].since.format("%Y%m%d").to_string() }).collect() };
        let unavailable = |e: String| DomainError::Unavailable(format!("the Reassigned Numbers Database: {e}"));
        let response = self.http.post(&self.endpoint).header("loginId", &self.key).json(&body).send().await.map_err(|e| unavailable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!("HTTP {}", response.status())));
        }
        let answers: Vec<Answer> = response.json().await.map_err(|e| unavailable(e.to_string()))?;
        for (index, digits) in &asked {
            let answer = answers
                .iter()
                .find(|a| a.phone_number.trim_start_matches("+1") == *digits)
                .ok_or_else(|| unavailable(format!("no answer for a number asked ({} of {})", index + 1, queries.len())))?;
            results[*index] = match answer.is_reassigned {
                Some(true) => RndResult::Yes,
                Some(false) => RndResult::No,
                None => RndResult::NoData,
            };
        }
        Ok(results)
    }
}
