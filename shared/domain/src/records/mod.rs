//! A patient's records: who touched them (the chained audit log) and how
//! they leave CallOps (exports a spreadsheet opens safely).

pub mod audit;
pub mod export;
