//! What happens when a call ends, in this order:
//! 1. the voice provider's word on the call becomes one [`report::CallReport`]
//!    (the webhook's messages and the reconciler's reads alike), and
//!    [`apply`] says what it does to the call: its end, outcome, content and
//!    the patient's own stop request;
//! 2. the call's status moves through its lifecycle
//!    ([`crate::call::lifecycle`]), the one place a status changes;
//! 3. [`follow_through`] decides what must follow: give back the agent's
//!    slot, try again, place the agreed follow-up, honour a do-not-call request;
//! 4. the service writes the call and carries out those effects
//!    (`callops-service`'s `report` use case, over the store's `calls`,
//!    `ledgers` and `consents`).

pub mod apply;
pub mod disclosure;
pub mod follow_through;
pub mod report;
