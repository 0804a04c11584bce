//! A tenant's consents to call a number ([`callops_domain::consent::Consent`]):
//! each one an item in the number's partition (`CONSENT#<id>`, beside its
//! ledger and planned attempts, so planning reads them in the same query),
//! with a pointer item by id (`ORG#<org>#CONSENT#<id>`) for the routes that
//! name only the id. A revocation is a write on the item, never a delete,
//! and moves the ledger's revision in the same transaction, so a claim
//! decided on the consent before it was revoked is decided again.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem, Update};
use callops_domain::{
    DomainError,
    consent::{Consent, MAX_CONSENTS_PER_NUMBER, Revocation, reassigned::RndCheck},
    records::audit::AuditEntry,
};
use futures::StreamExt;

use super::DynamoStore;
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

pub(crate) const CONSENT_PREFIX: &str = "CONSENT#";
/// A tenant and one of its numbers.
type NumberKey = (String, String);
pub(crate) const POINTER_SK: &str = "CONSENT";
const NUMBER: &str = "phoneNumber";

/// A number's consents: recorded, read, revoked.
#[allow(async_fn_in_trait)] // Implemented by DynamoStore alone and called on it: its futures are known, and Send.
pub trait ConsentStore {
    /// Stores new consents (ids unique), each only if its number keeps at
    /// most [`MAX_CONSENTS_PER_NUMBER`] records; a consent over it is
    /// refused (`too_many_consents`) and the others are stored. Returns,
    /// for each consent in order, `Ok` or why it was refused.
    /// `audits` holds the audit entry of each consent, in the same order;
    /// each is written in the transaction of its consent.
    async fn record_consents(&self, consents: &[Consent], audits: &[AuditEntry]) -> Result<Vec<Result<(), DomainError>>, DomainError>;

    /// The consents on record for `number`, oldest first (ids sort by time).
    async fn consents(&self, org_id: &str, number: &str) -> Result<Vec<Consent>, DomainError>;

    /// One consent by id (through its pointer), if the tenant has it.
    async fn consent(&self, org_id: &str, id: &str) -> Result<Option<Consent>, DomainError>;

    /// Revokes `consent` (as read): the revocation is written on the item,
    /// on the condition that it was not revoked since, and the number's
    /// ledger revision moves with it. `Conflict` `already_revoked` otherwise.
    async fn revoke_consent(&self, consent: &Consent, revocation: &Revocation, audit: &AuditEntry) -> Result<Consent, DomainError>;

    /// Keeps the consent's latest check against the Reassigned Numbers Database (a `yes` ends it), with its audit entry.
    async fn record_rnd_check(&self, consent: &Consent, check: &RndCheck, audit: &AuditEntry) -> Result<Consent, DomainError>;

    /// [`Self::record_rnd_check`] for many consents (a campaign's): 49 to a
    /// transaction with their audit entries, a few at once, and one by one
    /// for a transaction one of whose consents is gone.
    async fn record_rnd_checks(&self, checks: &[(Consent, RndCheck, AuditEntry)]) -> Result<(), DomainError>;
}

impl DynamoStore {
    /// One transaction of checks, or each alone when one of its consents is gone.
    async fn rnd_checks_written(&self, chunk: &[(Consent, RndCheck, AuditEntry)], items: Vec<TransactWriteItem>) -> Result<(), DomainError> {
        match self.transact(items).await {
            Ok(()) => Ok(()),
            Err(err) if failed_condition(&err) => {
                for (consent, check, audit) in chunk {
                    match self.record_rnd_check(consent, check, audit).await {
                        Ok(_) | Err(DomainError::NotFound { .. }) => {}
                        Err(other) => return Err(other),
                    }
                }
                Ok(())
            }
            Err(err) => Err(unavailable(err)),
        }
    }

    /// The update that keeps a consent's latest check against the Reassigned Numbers Database.
    fn rnd_check_update(&self, consent: &Consent, check: &RndCheck) -> Result<TransactWriteItem, DomainError> {
        let value = serde_dynamo::to_attribute_value(check).map_err(|e| DomainError::Unavailable(format!("a check does not serialise: {e}")))?;
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::ledger_pk(&consent.org_id, &consent.phone_number)))
            .key(SK, s(format!("{CONSENT_PREFIX}{}", consent.id)))
            .update_expression("SET #rnd = :rnd")
            .condition_expression("attribute_exists(PK)")
            .expression_attribute_names("#rnd", "rnd")
            .expression_attribute_values(":rnd", value)
            .build()
            .expect("table, key and expression are set");
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

impl ConsentStore for DynamoStore {
    async fn record_consents(&self, consents: &[Consent], audits: &[AuditEntry]) -> Result<Vec<Result<(), DomainError>>, DomainError> {
        if audits.len() != consents.len() {
            return Err(DomainError::Unavailable("every consent recorded needs its audit entry".into()));
        }
        // How many records each number holds already, read 16 numbers at a time.
        let numbers: std::collections::BTreeSet<NumberKey> = consents.iter().map(|c| (c.org_id.to_string(), c.phone_number.clone())).collect();
        let counted: Vec<Result<(NumberKey, usize), DomainError>> = futures::stream::iter(numbers)
            .map(|key| async move { self.consents(&key.0, &key.1).await.map(|held| (key, held.len())) })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut held = std::collections::HashMap::new();
        for entry in counted {
            let (key, count) = entry?;
            held.insert(key, count);
        }
        let mut outcome = Vec::with_capacity(consents.len());
        let mut writes = Vec::new();
        for (consent, audit) in consents.iter().zip(audits) {
            let count = held.entry((consent.org_id.to_string(), consent.phone_number.clone())).or_default();
            if *count >= MAX_CONSENTS_PER_NUMBER {
                outcome.push(Err(DomainError::conflict(
                    callops_domain::error::Conflict::TooManyConsents,
                    format!("a number keeps at most {MAX_CONSENTS_PER_NUMBER} consent records; revoked ones stay on record"),
                )));
                continue;
            }
            *count += 1;
            let [item, pointer] = self.consent_puts(consent)?;
            writes.push([item, pointer, self.audit_put(audit)?]);
            outcome.push(Ok(()));
        }
        for chunk in writes.chunks(33) {
            let items: Vec<TransactWriteItem> = chunk.iter().flatten().cloned().collect();
            self.transact(items).await.map_err(|e| {
                transaction_conflict(e, DomainError::conflict(callops_domain::error::Conflict::ConsentExists, "a consent with this id exists already"))
            })?;
        }
        Ok(outcome)
    }

    async fn consents(&self, org_id: &str, number: &str) -> Result<Vec<Consent>, DomainError> {
        let items = self.partition_items(keys::ledger_pk(org_id, number), Some(CONSENT_PREFIX), true).await?;
        items.into_iter().map(from_item).collect()
    }

    async fn consent(&self, org_id: &str, id: &str) -> Result<Option<Consent>, DomainError> {
        let Some(pointer) = self.get_item(keys::consent_pk(org_id, id), POINTER_SK).await? else { return Ok(None) };
        let Some(number) = string_attr(&pointer, NUMBER) else { return Ok(None) };
        match self.get_item(keys::ledger_pk(org_id, &number), format!("{CONSENT_PREFIX}{id}")).await? {
            Some(item) => from_item(item).map(Some),
            None => Ok(None),
        }
    }

    async fn record_rnd_check(&self, consent: &Consent, check: &RndCheck, audit: &AuditEntry) -> Result<Consent, DomainError> {
        self.transact_audited(vec![self.rnd_check_update(consent, check)?], audit)
            .await
            .map_err(|e| transaction_conflict(e, DomainError::NotFound { what: "consent" }))?;
        Ok(Consent { rnd: Some(*check), ..consent.clone() })
    }

    async fn record_rnd_checks(&self, checks: &[(Consent, RndCheck, AuditEntry)]) -> Result<(), DomainError> {
        let mut groups = Vec::new();
        // 49 checks with their entries and the audit chain's head: 99 of a transaction's 100 items.
        for chunk in checks.chunks(49) {
            let mut items = Vec::with_capacity(chunk.len() * 2);
            for (consent, check, audit) in chunk {
                items.push(self.rnd_check_update(consent, check)?);
                items.push(self.audit_put(audit)?);
            }
            groups.push((chunk, items));
        }
        // One transaction at a time: each moves the tenant's audit chain head, so more at once only wait on each other.
        // Boxed, so the dialer's futures stay Send across the store's own async calls.
        for batch in groups.chunks(1) {
            let sent: Vec<_> = batch.iter().map(|(chunk, items)| Box::pin(self.rnd_checks_written(chunk, items.clone()))).collect();
            futures::future::try_join_all(sent).await?;
        }
        Ok(())
    }

    async fn revoke_consent(&self, consent: &Consent, revocation: &Revocation, audit: &AuditEntry) -> Result<Consent, DomainError> {
        let value = serde_dynamo::to_attribute_value(revocation).map_err(|e| DomainError::Unavailable(format!("a revocation does not serialise: {e}")))?;
        let update = Update::builder()
            .table_name(self.table())
            .key(PK, s(keys::ledger_pk(&consent.org_id, &consent.phone_number)))
            .key(SK, s(format!("{CONSENT_PREFIX}{}", consent.id)))
            .update_expression("SET #revoked = :revoked")
            .condition_expression("attribute_exists(PK) AND attribute_not_exists(#revoked)")
            .expression_attribute_names("#revoked", "revoked")
            .expression_attribute_values(":revoked", value)
            .build()
            .expect("table, key and expression are set");
        let items = vec![
            TransactWriteItem::builder().update(update).build(),
            TransactWriteItem::builder().update(self.ledger_opted_out(&consent.org_id, &consent.phone_number, revocation.at)).build(),
        ];
        self.transact_audited(items, audit)
            .await
            .map_err(|e| transaction_conflict(e, DomainError::conflict(callops_domain::error::Conflict::AlreadyRevoked, "this consent is revoked already")))?;
        Ok(Consent { revoked: Some(revocation.clone()), ..consent.clone() })
    }
}

impl DynamoStore {
    /// The two puts that store a new consent: its item and its pointer.
    fn consent_puts(&self, consent: &Consent) -> Result<[TransactWriteItem; 2], DomainError> {
        let mut item = to_item(consent)?;
        item.insert(PK.into(), s(keys::ledger_pk(&consent.org_id, &consent.phone_number)));
        item.insert(SK.into(), s(format!("{CONSENT_PREFIX}{}", consent.id)));
        item.insert(KIND.into(), s("consent"));
        let pointer = std::collections::HashMap::from([
            (PK.to_string(), s(keys::consent_pk(&consent.org_id, &consent.id))),
            (SK.to_string(), s(POINTER_SK)),
            (KIND.to_string(), s("consentPointer")),
            (NUMBER.to_string(), s(&consent.phone_number)),
        ]);
        let put = |item| -> Put { self.put(item, "attribute_not_exists(PK)", None) };
        Ok([TransactWriteItem::builder().put(put(item)).build(), TransactWriteItem::builder().put(put(pointer)).build()])
    }
}
