//! What an erased number leaves behind: nothing that names it. Its ledger,
//! planned attempts, missed-call marks and consents (the number's
//! partition), its consents' pointers, its do-not-call entry and history
//! go. What must still hold for it is kept under its pseudonym
//! ([`crate::pseudonym`]) in the tenant's `ERASED` partition: that it is on
//! the do-not-call list (an erasure never makes a number callable again),
//! when it last opted out (a consent captured before that never counts),
//! and each consent as proof that the calls made were allowed (basis,
//! scope, times, who recorded it, its revocation), without the number, the
//! free-text source, the evidence's reference or a revocation's reason.
//! The practice can still show a consent was this number's (the pseudonym
//! is the number's keyed hash); no one without the key can tell whose.
//! Every lookup by number reads both ([`super::DoNotCallStore::is_on_do_not_call`],
//! [`super::LedgerStore::number_state`]).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, DeleteRequest, PutRequest, WriteRequest};
use callops_domain::{DomainError, consent::Consent, time};
use chrono::{DateTime, Utc};
use serde::Serialize;

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

pub(crate) const KIND_ERASED: &str = "erasedNumber";
/// When the number went on the do-not-call list, while it stays on it.
pub(crate) const DO_NOT_CALL_SINCE: &str = "doNotCallSince";
/// The number's last opt-out or revocation.
pub(crate) const OPTED_OUT_AT: &str = "optedOutAt";
const ERASED_AT: &str = "erasedAt";

/// What erasing a number's records removed and kept.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErasedNumber {
    /// Consents taken from the number, each kept as proof under its pseudonym.
    pub consents: usize,
    /// Items removed from the number's partition, its do-not-call entry and history included.
    pub items: usize,
    /// The number stays on the do-not-call list, under its pseudonym.
    pub still_on_do_not_call: bool,
}

/// What an erased number's pseudonym keeps.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErasedMark {
    pub do_not_call_since: Option<DateTime<Utc>>,
    pub opted_out_at: Option<DateTime<Utc>>,
}

fn time_attr(item: &Item, name: &str) -> Option<DateTime<Utc>> {
    string_attr(item, name).as_deref().and_then(time::parse)
}

/// Erased numbers' marks, and erasing a number's records.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait ErasureStore {
    /// Every erased number's mark of the tenant, by pseudonym: for a
    /// check of many numbers at once (a campaign), one query where a read
    /// per number would double them. Erasures are few beside a tenant's numbers.
    async fn erased_marks(&self, org_id: &str) -> Result<ErasedMarks, DomainError>;

    /// What an erased `number` keeps (nothing when it was never erased).
    async fn erased_mark(&self, org_id: &str, number: &str) -> Result<ErasedMark, DomainError>;

    /// Removes every record that names `number` outside its calls (which
    /// the erasure rewrites one by one, each with its audit entry): the mark that
    /// keeps its do-not-call state and last opt-out under its pseudonym is
    /// written first, so the number is never callable in between; then the
    /// records go. Safe to run again: what is gone stays gone, and the mark
    /// keeps the later of each time.
    async fn erase_number_records(&self, org_id: &str, number: &str, now: DateTime<Utc>) -> Result<ErasedNumber, DomainError>;

    /// Every number the tenant keeps records for outside its calls (a
    /// consent, a do-not-call entry, a ledger), read by a scan: for an
    /// operator's restore ([`Self::erase_number_records`] again).
    async fn numbers_on_record(&self, org_id: &str) -> Result<std::collections::BTreeSet<String>, DomainError>;
}

impl ErasureStore for DynamoStore {
    async fn erased_marks(&self, org_id: &str) -> Result<ErasedMarks, DomainError> {
        let mut marks = HashMap::new();
        for item in self.partition_items(keys::erased_pk(org_id), None, true).await? {
            if let Some(sk) = string_attr(&item, SK).filter(|sk| !sk.contains('#')) {
                marks.insert(sk, mark_of(&item));
            }
        }
        Ok(ErasedMarks { org_id: org_id.to_string(), marks })
    }

    async fn erased_mark(&self, org_id: &str, number: &str) -> Result<ErasedMark, DomainError> {
        let (pk, sk) = self.erased_key(org_id, number);
        Ok(self.get_item(pk, sk).await?.map(|item| mark_of(&item)).unwrap_or_default())
    }

    async fn erase_number_records(&self, org_id: &str, number: &str, now: DateTime<Utc>) -> Result<ErasedNumber, DomainError> {
        let ledger_items = self.partition_items(keys::ledger_pk(org_id, number), None, true).await?;
        let history = self.partition_items(keys::do_not_call_history_pk(org_id, number), None, true).await?;
        let listed = self.get_item(keys::do_not_call_pk(org_id), number).await?;
        let earlier = self.erased_mark(org_id, number).await?;
        let opted_out = ledger_items
            .iter()
            .find(|item| string_attr(item, SK).as_deref() == Some(super::ledgers::LEDGER_SK))
            .and_then(|ledger| time_attr(ledger, super::ledgers::OPTED_OUT_AT))
            .max(earlier.opted_out_at);
        let since = listed.as_ref().and_then(|item| string_attr(item, "addedAt")).as_deref().and_then(time::parse).or(earlier.do_not_call_since);
        if since.is_some() || opted_out.is_some() {
            let (pk, sk) = self.erased_key(org_id, number);
            let mut item = HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk)), (KIND.to_string(), s(KIND_ERASED))]);
            item.insert(ERASED_AT.into(), s(time::format(&now)));
            if let Some(at) = since {
                item.insert(DO_NOT_CALL_SINCE.into(), s(time::format(&at)));
            }
            if let Some(at) = opted_out {
                item.insert(OPTED_OUT_AT.into(), s(time::format(&at)));
            }
            self.client.put_item().table_name(self.table()).set_item(Some(item)).send().await.map_err(unavailable)?;
        }
        let consents: Vec<String> = ledger_items
            .iter()
            .filter_map(|item| string_attr(item, SK).and_then(|sk| sk.strip_prefix(super::consents::CONSENT_PREFIX).map(str::to_string)))
            .collect();
        let (pk, pseudonym) = self.erased_key(org_id, number);
        let mut proofs = Vec::new();
        for item in ledger_items.iter().filter(|item| string_attr(item, SK).is_some_and(|sk| sk.starts_with(super::consents::CONSENT_PREFIX))) {
            let Ok(consent) = from_item::<Consent>(item.clone()) else { continue };
            let mut proof = to_item(&proof_of(consent, &pseudonym))?;
            let sk = format!("{pseudonym}#{}{}", super::consents::CONSENT_PREFIX, string_attr(&proof, "id").unwrap_or_default());
            proof.insert(PK.into(), s(&pk));
            proof.insert(SK.into(), s(sk));
            proof.insert(KIND.into(), s("erasedConsent"));
            proofs.push(WriteRequest::builder().put_request(PutRequest::builder().set_item(Some(proof)).build().expect("the item is set")).build());
        }
        for chunk in proofs.chunks(25) {
            self.write_batch(chunk.to_vec()).await?;
        }
        let mut gone: Vec<(String, String)> = Vec::new();
        for item in ledger_items.iter().chain(&history) {
            if let (Some(pk), Some(sk)) = (string_attr(item, PK), string_attr(item, SK)) {
                gone.push((pk, sk));
            }
        }
        gone.extend(consents.iter().map(|id| (keys::consent_pk(org_id, id), super::consents::POINTER_SK.to_string())));
        // The business relationship on record (the patient's dealings with the practice) goes; the registries'
        // marks stay: they are the registries' public lists, and erasing them would let telemarketing reach the number.
        if self.get_item(keys::registry_pk(org_id, number), super::registries::RELATIONSHIP_SK).await?.is_some() {
            gone.push((keys::registry_pk(org_id, number), super::registries::RELATIONSHIP_SK.to_string()));
        }
        if listed.is_some() {
            gone.push((keys::do_not_call_pk(org_id), number.to_string()));
        }
        let items = gone.len();
        for chunk in gone.chunks(25) {
            let deletes = chunk
                .iter()
                .map(|(pk, sk)| {
                    let key = HashMap::from([(PK.to_string(), s(pk)), (SK.to_string(), s(sk))]);
                    WriteRequest::builder().delete_request(DeleteRequest::builder().set_key(Some(key)).build().expect("the key is set")).build()
                })
                .collect();
            self.write_batch(deletes).await?;
        }
        Ok(ErasedNumber { consents: consents.len(), items, still_on_do_not_call: since.is_some() })
    }

    async fn numbers_on_record(&self, org_id: &str) -> Result<std::collections::BTreeSet<String>, DomainError> {
        let ledgers = format!("{}#NUMBER#", keys::org_prefix(org_id));
        let list = keys::do_not_call_pk(org_id);
        let mut numbers = std::collections::BTreeSet::new();
        self.scan_kind("ledger", |item| {
            if let Some(number) = string_attr(&item, PK).and_then(|pk| pk.strip_prefix(&ledgers).map(str::to_string)) {
                numbers.insert(number);
            }
            Ok(())
        })
        .await?;
        self.scan_kind("consent", |item| {
            if let Some(number) = string_attr(&item, PK).and_then(|pk| pk.strip_prefix(&ledgers).map(str::to_string)) {
                numbers.insert(number);
            }
            Ok(())
        })
        .await?;
        self.scan_kind("doNotCall", |item| {
            if string_attr(&item, PK).as_deref() == Some(list.as_str()) {
                numbers.extend(string_attr(&item, SK));
            }
            Ok(())
        })
        .await?;
        Ok(numbers)
    }
}

impl DynamoStore {
    /// The key of `number`'s mark once erased.
    fn erased_key(&self, org_id: &str, number: &str) -> (String, String) {
        (keys::erased_pk(org_id), self.pseudonym(org_id, number))
    }

    /// Takes an erased number off the do-not-call list; `false` when its
    /// pseudonym kept no listing.
    pub(crate) async fn unlist_erased(&self, org_id: &str, number: &str) -> Result<bool, DomainError> {
        let (pk, sk) = self.erased_key(org_id, number);
        let removed = self
            .client
            .update_item()
            .table_name(self.table())
            .key(PK, s(pk))
            .key(SK, s(sk))
            .update_expression("REMOVE #since")
            .condition_expression("attribute_exists(#since)")
            .expression_attribute_names("#since", DO_NOT_CALL_SINCE)
            .send()
            .await;
        match removed {
            Ok(_) => Ok(true),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Ok(false),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// The pseudonym keys of `numbers`' erased marks, for a batch read beside their list entries.
    pub(crate) fn erased_keys(&self, org_id: &str, numbers: &[&String]) -> Vec<(String, String, String)> {
        numbers
            .iter()
            .map(|number| {
                let (pk, sk) = self.erased_key(org_id, number);
                (pk, sk, number.to_string())
            })
            .collect()
    }
}

/// A consent as proof once its number is erased: under the pseudonym, with
/// nothing that may name or describe the patient.
fn proof_of(mut consent: Consent, pseudonym: &str) -> Consent {
    consent.phone_number = pseudonym.to_string();
    consent.source = "erased".into();
    consent.evidence = consent.evidence.map(|mut evidence| {
        evidence.reference = "erased".into();
        evidence
    });
    if let Some(revocation) = consent.revoked.as_mut() {
        revocation.reason = None;
    }
    consent
}

/// A tenant's erased marks, read at once ([`ErasureStore::erased_marks`]).
#[derive(Debug, Clone, Default)]
pub struct ErasedMarks {
    org_id: String,
    marks: HashMap<String, ErasedMark>,
}

impl ErasedMarks {
    /// What `number` keeps, if it was erased.
    pub fn of(&self, store: &DynamoStore, number: &str) -> ErasedMark {
        if self.marks.is_empty() {
            return ErasedMark::default();
        }
        self.marks.get(&store.pseudonym(&self.org_id, number)).copied().unwrap_or_default()
    }
}

pub(crate) fn mark_of(item: &Item) -> ErasedMark {
    ErasedMark { do_not_call_since: time_attr(item, DO_NOT_CALL_SINCE), opted_out_at: time_attr(item, OPTED_OUT_AT) }
}

/// Whether an erased mark read back keeps the number on the list.
pub(crate) fn keeps_listed(item: &HashMap<String, AttributeValue>) -> bool {
    item.contains_key(DO_NOT_CALL_SINCE)
}
