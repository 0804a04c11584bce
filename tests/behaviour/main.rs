//! Behaviour tests: real HTTP requests to the local host, through the Lambda
//! handlers, against the embedded engine. One binary, one module per area.

mod agents;
mod analytics;
mod artifact;
mod bounds;
mod call_safety;
mod campaigns;
mod consent;
mod dashboard;
mod demo;
mod dialer;
mod docs;
mod eventbridge;
mod faults;
mod foundation;
mod hostile;
mod isolation;
mod load;
mod manager;
mod migrate;
mod outbound;
mod outbound_work;
mod records;
mod registries;
mod structure;
mod texts;
mod webhook;
