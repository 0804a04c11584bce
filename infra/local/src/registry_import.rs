//! `callops import-dnc`: a registry file into a practice's copy. Into a
//! data dir the command holds alone, the marks go to the engine in large
//! bulk writes ([`EmbeddedDynamo::load_items`]: an area code's million
//! numbers in seconds); into a DynamoDB table, in batches of 25 with
//! several in flight. Either way the copy's dates are recorded last, so a
//! failed import leaves the copy as it was (and may be run again).

use callops_aws::{DynamoStore, embedded::EmbeddedDynamo, store::RegistryStore};
use callops_domain::{
    DomainError,
    caller::Caller,
    placement::registries::{NATIONAL, RegistryFile, parse_registry},
};
use callops_service::registries::{RegistryImported, import_done, import_plan};
use chrono::{DateTime, NaiveDate, Utc};

/// Marks handed to the engine in one bulk write.
const BULK_ITEMS: usize = 50_000;

/// Reads `text` as `registry`'s file and imports it for `org_id`.
pub async fn import(
    store: &DynamoStore,
    engine: Option<&EmbeddedDynamo>,
    org_id: &str,
    registry: &str,
    as_of: NaiveDate,
    text: &str,
    now: DateTime<Utc>,
) -> Result<RegistryImported, DomainError> {
    let registry = parse_registry(registry)?;
    let file = if registry == NATIONAL { RegistryFile::national(text) } else { RegistryFile::state(text)? };
    let copy = import_plan(store, org_id, &registry, as_of, &file, now).await?;
    match engine {
        Some(engine) => {
            engine.begin_bulk_load()?;
            let loaded = async {
                // Deletions first: a number a change list both deletes and adds ends listed.
                store.write_registry_marks(org_id, &registry, as_of, &[], &file.deletions).await?;
                for chunk in file.additions.chunks(BULK_ITEMS) {
                    let items = chunk.iter().map(|number| callops_aws::store::registries::mark_item(org_id, &registry, number, as_of)).collect();
                    engine.load_items(crate::TABLE, items).await?;
                }
                Ok::<(), DomainError>(())
            }
            .await;
            engine.end_bulk_load()?;
            loaded?;
        }
        None => store.write_registry_marks(org_id, &registry, as_of, &file.additions, &file.deletions).await?,
    }
    import_done(store, &Caller::system(org_id, "import-dnc"), copy, &file, now).await
}
