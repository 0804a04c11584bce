//! The dialer's question to the Reassigned Numbers Database
//! ([`callops_domain::consent::reassigned`]): before a call rests on a
//! consent not checked since the database's latest monthly update, every
//! such consent of the number is asked about in one query, and each answer
//! is kept on its consent (audited). The database not answering is the
//! caller's to weigh (a telemarketing call waits, by default); the store
//! failing is an error like any other.

use callops_aws::{DynamoStore, store::ConsentStore};
use callops_domain::{
    DomainError,
    caller::Caller,
    consent::{
        Consent, Consenting,
        reassigned::{ReassignedNumbers, RndCheck, RndQuery, latest_update, needs_check},
    },
    records::audit::{Action, AuditEntry},
    time,
};
use chrono::{DateTime, Utc};

/// What the check did.
#[derive(Debug)]
pub enum Checked {
    /// Every consent the call may rest on was checked since the latest update (or no database is asked).
    NotNeeded,
    /// The database answered: each consent asked about, with its answer.
    Answered(Vec<(Consent, RndCheck)>),
    /// The database could not be asked.
    Unavailable(DomainError),
}

/// Asks the database about the consents a call may rest on (those covering it, per `consenting`) that need
/// it; nothing is stored ([`keep`] stores the answers).
pub async fn ask(rnd: Option<&dyn ReassignedNumbers>, consenting: Option<Consenting<'_>>, consents: &[Consent], now: DateTime<Utc>) -> Checked {
    let (Some(rnd), Some(consenting)) = (rnd, consenting) else { return Checked::NotNeeded };
    let unchecked: Vec<&Consent> = consents.iter().filter(|c| consenting.why_not(c, now).is_none() && needs_check(c.rnd.as_ref(), now)).collect();
    if unchecked.is_empty() {
        return Checked::NotNeeded;
    }
    let queries: Vec<RndQuery> = unchecked.iter().map(|c| RndQuery { phone_number: c.phone_number.clone(), since: c.captured_at.date_naive() }).collect();
    match rnd.query(&queries).await {
        Ok(results) if results.len() == queries.len() => {
            let check = |result| RndCheck { result, rnd_as_of: latest_update(now).date_naive(), checked_at: time::to_millis(now) };
            Checked::Answered(unchecked.into_iter().cloned().zip(results.into_iter().map(check)).collect())
        }
        Ok(_) => Checked::Unavailable(DomainError::Unavailable("the database answered another number of queries than asked".into())),
        Err(err) => Checked::Unavailable(err),
    }
}

/// Keeps each answer on its consent, audited as CallOps' own change.
pub async fn keep(store: &DynamoStore, answers: &[(Consent, RndCheck)], now: DateTime<Utc>) -> Result<(), DomainError> {
    let mut checks = Vec::with_capacity(answers.len());
    for (consent, check) in answers {
        let system = Caller::system(&consent.org_id, crate::place::DIALER);
        let audit = AuditEntry::of_change(&system, Action::ConsentRndChecked, &consent.id, None::<&RndCheck>, check, now);
        tracing::info!(consent_id = %consent.id, result = check.result.as_str(), "a consent's number was checked against the Reassigned Numbers Database");
        checks.push((consent.clone(), *check, audit));
    }
    match checks.as_slice() {
        [(consent, check, audit)] => store.record_rnd_check(consent, check, audit).await.map(|_| ()),
        _ => store.record_rnd_checks(&checks).await,
    }
}

/// [`ask`], then [`keep`]: the dialer's check before a call.
pub async fn check_consents(
    store: &DynamoStore,
    rnd: Option<&dyn ReassignedNumbers>,
    consenting: Option<Consenting<'_>>,
    consents: &[Consent],
    now: DateTime<Utc>,
) -> Result<Checked, DomainError> {
    let checked = ask(rnd, consenting, consents, now).await;
    if let Checked::Answered(answers) = &checked {
        keep(store, answers, now).await?;
    }
    Ok(checked)
}
