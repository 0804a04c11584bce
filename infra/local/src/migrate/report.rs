//! What a migration run did, as an operator reads it: counts, timings,
//! and every note and refusal.

use std::collections::BTreeMap;

use super::{
    agents,
    mapping::{Note, NoteKind, Refusal},
};

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub dry_run: bool,
    /// The id the run continued after, when it resumed an interrupted one.
    pub resumed_after: Option<String>,
    pub read: u64,
    /// Written (or, in a dry run, that would be).
    pub written: u64,
    pub unchanged: u64,
    pub refused: Vec<Refusal>,
    /// Defaulted and unmapped values, by kind, column and value.
    pub notes: BTreeMap<Note, u64>,
    /// Imported in status SCHEDULED: kept as history, never dialed by CallOps.
    pub scheduled: u64,
    /// Collection attempts that did not succeed but carry an amount: counted
    /// in `totalCollectedCents` (as the migration document sums it), not in
    /// `collectedOnSuccessCents`.
    pub unsuccessful_with_amount: u64,
    /// Each legacy agent id and the agent it became.
    pub agents: Vec<agents::AgentLine>,
    /// Whether the run went through to the end (not stopped early).
    pub complete: bool,
    /// Where the time went: reading PostgreSQL, comparing with the store,
    /// writing (the next batch's reading and comparing overlap a batch's writing).
    pub timings: Timings,
    /// Write units the table reported for the run's transactions: what a
    /// DynamoDB table's capacity must carry (0 when it reports none).
    pub write_units: f64,
}

#[derive(Debug, Clone, Default)]
pub struct Timings {
    pub read: std::time::Duration,
    pub compare: std::time::Duration,
    pub write: std::time::Duration,
}

impl Report {
    /// The report an operator reads: counts, then every note and refusal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let verb = if self.dry_run { "would write" } else { "written" };
        if let Some(after) = &self.resumed_after {
            out.push_str(&format!("resumed after id {after}\n"));
        }
        out.push_str(&format!("rows read:        {}\n", self.read));
        out.push_str(&format!("{:<18}{}\n", format!("{verb}:"), self.written));
        out.push_str(&format!("unchanged:        {}\n", self.unchanged));
        out.push_str(&format!("refused:          {}\n", self.refused.len()));
        if self.write_units > 0.0 {
            out.push_str(&format!("write units:      {:.0} ({:.2} a row written)\n", self.write_units, self.write_units / self.written.max(1) as f64));
        }
        let t = &self.timings;
        out.push_str(&format!(
            "time:             reading PostgreSQL {:.1} s, comparing with the store {:.1} s, writing {:.1} s (the next batch is read and compared while one is written)\n",
            t.read.as_secs_f64(),
            t.compare.as_secs_f64(),
            t.write.as_secs_f64()
        ));
        if self.scheduled > 0 {
            out.push_str(&format!("scheduled rows:   {} (kept as history; CallOps never dials an imported call)\n", self.scheduled));
        }
        if self.unsuccessful_with_amount > 0 {
            out.push_str(&format!(
                "unsuccessful collection attempts with an amount: {} (in totalCollectedCents, as the migration document sums it; not in collectedOnSuccessCents)\n",
                self.unsuccessful_with_amount
            ));
        }
        for line in &self.agents {
            let how = if line.imported { "imported: listed and filtered like any agent, never dials" } else { "mapped" };
            out.push_str(&format!("agent: legacy {:?} -> {} ({how})\n", line.legacy, line.agent_id));
        }
        for kind in [NoteKind::Defaulted, NoteKind::Unmapped] {
            let label = match kind {
                NoteKind::Defaulted => "defaulted",
                NoteKind::Unmapped => "unmapped",
            };
            for (note, count) in self.notes.iter().filter(|(note, _)| note.kind == kind) {
                out.push_str(&format!("{label}: {} {:?} x {count}\n", note.column, note.value));
            }
        }
        for refusal in &self.refused {
            out.push_str(&format!("refused: id {} ({})\n", refusal.id, refusal.reason));
        }
        match (self.complete, self.dry_run) {
            (_, true) => out.push_str("dry run: nothing was written\n"),
            (true, false) => out.push_str("done: the analytics rollups moved with every write\n"),
            (false, false) => out.push_str("stopped before the end: run the same command again to continue\n"),
        }
        out
    }
}
