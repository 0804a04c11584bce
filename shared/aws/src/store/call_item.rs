//! The call-item codec: a call as the item it is stored as (its keys, its
//! index entries, its revision), the pointer from a Vapi call id to it, and
//! an item read back as a call. Every write of a call goes through
//! [`call_item`], so a call that could not be read back is never written.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use callops_domain::{CallLog, DomainError};

use super::{REVISION, StoredCall};
use crate::{
    item::*,
    keys,
    table::{PK, SK},
};

/// The item a call is stored as; refused (`unstorable_call`) when it could
/// not be read back as it is.
pub(crate) fn call_item(call: &CallLog, revision: u64) -> Result<Item, DomainError> {
    call.check_storable()?;
    let mut item = to_item(call)?;
    item.insert(PK.into(), s(keys::call_pk(&call.org_id, &call.id)));
    item.insert(SK.into(), s(keys::CALL_SK));
    item.insert(KIND.into(), s("call"));
    item.insert(REVISION.into(), n(revision));
    // Derived from the compliance record, at the top level so that the
    // analytics indexes carry it (`CallFacts::disclosure_missed`).
    if let Some(missed) = callops_domain::analytics::CallFacts::disclosure_missed_of(call) {
        item.insert("disclosureMissed".into(), AttributeValue::Bool(missed));
    }
    for (index, pk, sk) in keys::index_entries(call) {
        item.insert(index.pk.into(), s(pk));
        item.insert(index.sk.into(), s(sk));
    }
    Ok(item)
}

/// The item that points from a Vapi call id to our call.
pub(crate) fn vapi_pointer_item(call: &CallLog) -> Option<Item> {
    let vapi_call_id = call.vapi_call_id.as_deref()?;
    Some(HashMap::from([
        (PK.to_string(), s(keys::vapi_call_pk(&call.org_id, vapi_call_id))),
        (SK.to_string(), s(keys::VAPI_CALL_SK)),
        (KIND.to_string(), s("vapiCall")),
        ("callId".to_string(), s(&call.id)),
    ]))
}

pub(crate) fn stored_call(item: Item) -> Result<StoredCall, DomainError> {
    let revision = match item.get(REVISION) {
        Some(AttributeValue::N(text)) => text.parse().unwrap_or(0),
        _ => 0,
    };
    let pk = string_attr(&item, PK).unwrap_or_default();
    let call = from_item(item).map_err(|err| DomainError::Unavailable(format!("call item {pk} is unreadable: {err}")))?;
    Ok(StoredCall { call, revision })
}

/// A call item as a call, or, when it does not parse, the item named by its key (logged).
pub(crate) fn read_call_item(item: Item) -> Result<CallLog, Unreadable> {
    let key = ItemKey::of(&item);
    from_item(item).map_err(|err| {
        let found = key.unreadable(&err);
        found.log("call");
        found
    })
}
