//! The `callops` command line: the local host and the operator's commands,
//! as clap reads them. A library module, so the docs' command examples are
//! checked against the very parser the binary uses.

use std::{net::SocketAddr, path::PathBuf};

use clap::{Parser, Subcommand};

/// The command line `args` (the program's name first), read as the binary reads it.
pub fn parse<I: IntoIterator<Item = S>, S: Into<std::ffi::OsString> + Clone>(args: I) -> Result<Cli, String> {
    Cli::try_parse_from(args).map_err(|e| e.to_string())
}

#[derive(Parser)]
#[command(name = "callops", version, about = "CallOps: call analytics and outbound calling for practices using Vapi voice agents")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run every function locally over the embedded DynamoDB-compatible engine.
    Dev(DevArgs),
    /// Recompute every analytics rollup from the raw calls and report drift (exit 1 on any).
    VerifyRollups(RollupArgs),
    /// Recompute every analytics rollup from the raw calls and repair drift.
    RebuildRollups(RollupArgs),
    /// Import a practice's history from the legacy PostgreSQL call_logs table
    /// (safe to repeat and to interrupt; --dry-run writes nothing).
    Migrate(MigrateArgs),
    /// Walk a practice's audit log and prove no entry was changed or removed (exit 1 when one was).
    VerifyAudit(VerifyAuditArgs),
    /// Import a do-not-call registry file into a practice's copy of that
    /// registry: the FTC's national full or change list, or a state's CSV
    /// (lines that are not a number are reported and skipped).
    ImportDnc(ImportDncArgs),
    /// After a restore from a backup: erase again every patient and call the
    /// audit log says was erased (exit 1 when one could not be).
    ReapplyErasures(ReapplyArgs),
}

#[derive(clap::Args)]
pub struct ImportDncArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The practice whose copy it is (each practice subscribes to the registries itself).
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub org: String,
    /// `national`, or a US state's two-letter code.
    #[arg(long, value_name = "REGISTRY")]
    pub registry: String,
    /// The file: one number a line (10 digits or AAA,NNNNNNN, with an A/D
    /// flag in a change list) for the national registry; CSV with a
    /// phoneNumber column for a state's.
    #[arg(long, value_name = "FILE")]
    pub file: PathBuf,
    /// The date the registry produced the file (default: today, UTC).
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<chrono::NaiveDate>,
}

#[derive(clap::Args)]
pub struct ReapplyArgs {
    /// The restored data (its data dir or table).
    #[command(flatten)]
    pub store: StoreArgs,
    /// The practice whose erasures are applied again.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub org: String,
    /// Where the full audit log is, when not in the restored data: the data
    /// dir the backup was taken of.
    #[arg(long, value_name = "DIR", conflicts_with = "log_table")]
    pub log_data_dir: Option<PathBuf>,
    /// ...or the table the backup was taken of.
    #[arg(long, value_name = "TABLE")]
    pub log_table: Option<String>,
}

#[derive(clap::Args)]
pub struct VerifyAuditArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The practice whose log is walked.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub org: String,
}

#[derive(clap::Args)]
pub struct MigrateArgs {
    /// The legacy database, e.g. postgres://user:password@host:5432/dbname
    #[arg(long = "from-postgres", value_name = "URL")]
    pub from_postgres: String,
    /// The tenant the calls belong to.
    #[arg(long, value_name = "ORG", value_parser = parse_org)]
    pub org: String,
    /// Read, map and compare, and print what would happen; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Rows read per batch (and per checkpoint). A batch's days are written
    /// side by side, so a batch of several days keeps --concurrency busy.
    #[arg(long, default_value_t = 5000)]
    pub batch: usize,
    /// Write requests in flight at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Put the calls of legacy voice agent LEGACY on the practice's agent
    /// AGENT (repeatable). A legacy agent left out becomes an imported agent,
    /// `legacy-<id>`: listed and filtered like any agent, it never dials.
    #[arg(long = "agent-map", value_name = "LEGACY=AGENT", value_parser = crate::migrate::agents::parse_map_entry)]
    pub agent_map: Vec<(String, String)>,
    /// The same, as LEGACY=AGENT lines of a file (`#` starts a comment).
    #[arg(long = "agent-map-file", value_name = "FILE")]
    pub agent_map_file: Option<PathBuf>,
    #[command(flatten)]
    pub store: StoreArgs,
}

fn parse_org(text: &str) -> Result<String, String> {
    if callops_http::valid_org_id(text) { Ok(text.to_string()) } else { Err("an org is letters, digits, - and _".into()) }
}

/// Which table an operator command works on.
#[derive(clap::Args)]
pub struct StoreArgs {
    /// The local host's data directory (embedded engine).
    #[arg(long, default_value = ".callops", conflicts_with = "table")]
    pub data_dir: PathBuf,
    /// A DynamoDB table reached through the normal AWS configuration
    /// (credentials, region, AWS_ENDPOINT_URL_DYNAMODB) instead.
    #[arg(long)]
    pub table: Option<String>,
}

/// How `verify-rollups` and `rebuild-rollups` read the table.
#[derive(clap::Args)]
pub struct RollupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Parallel scan segments to read the calls in [default: 4 for a
    /// DynamoDB table, 1 for a data dir, whose engine reads every row to
    /// serve one segment's page].
    #[arg(long, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub segments: Option<i32>,
    /// The most rollup items held in memory at once (about 1 KB each). More
    /// than the calls make: one pass over the calls. Fewer: a pass for each
    /// key range that fits.
    #[arg(long, default_value_t = callops_aws::store::HELD_ITEMS as u64, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub held_items: u64,
}

#[derive(clap::Args)]
pub struct DevArgs {
    /// Address to serve on.
    #[arg(long, default_value = "127.0.0.1:3000")]
    pub listen: SocketAddr,
    /// Where the embedded engine keeps its data.
    #[arg(long, default_value = ".callops")]
    pub data_dir: PathBuf,
    /// Keep everything in memory (nothing survives a restart).
    #[arg(long)]
    pub memory: bool,
    /// Do not seed the demo practice.
    #[arg(long)]
    pub no_demo: bool,
    /// Use the local DynamoDB-compatible API at this URL (DynamoDB Local, a
    /// proxy in front of one...; table `callops`, created when missing)
    /// instead of the embedded engine.
    #[arg(long, value_name = "URL", conflicts_with_all = ["memory"])]
    pub dynamodb_endpoint: Option<String>,
    /// Accept `Authorization: Bearer TOKEN` for tenant ORG (repeatable),
    /// as ROLE (viewer, staff or admin; empty or left out: no role claim,
    /// which is staff or what the token's groups map to), with the claims
    /// the deployed authorizer passes: `agents=ID,ID` (narrowed to those
    /// agents), `name=NAME`, `groups=GROUP,GROUP`. The demo's `dev-token`
    /// (admin), `dev-staff-token` and `dev-viewer-token` are always accepted.
    #[arg(long = "dev-token", value_name = "TOKEN:ORG[:ROLE[:CLAIM=VALUE]...]", value_parser = crate::DevToken::parse)]
    pub dev_tokens: Vec<(String, crate::DevToken)>,
    /// Accept Vapi server messages with this secret for tenant ORG (repeatable).
    /// `dev-secret` for `demo` is always accepted.
    #[arg(long = "vapi-secret", value_name = "SECRET:ORG", value_parser = callops_webhook::auth::parse_credential)]
    pub vapi_secrets: Vec<callops_webhook::auth::Credential>,
    /// Accept texts to tenant ORG's Twilio number signed with this Twilio auth
    /// token (repeatable): `POST /webhooks/twilio/ORG/sms`. The demo tenant's
    /// is `dev-twilio-token` unless given.
    #[arg(long = "twilio-auth-token", value_name = "TOKEN:ORG", value_parser = callops_webhook::sms::parse_token)]
    pub twilio_tokens: Vec<(String, String)>,
    /// Answer the dialer's Reassigned Numbers Database queries from this
    /// fixture (CSV `phoneNumber,disconnectedAt`): a listed number is
    /// reassigned for a consent given on or before its date. Without it the
    /// built-in fake knows no disconnection.
    #[arg(long, value_name = "FILE", conflicts_with = "rnd_endpoint")]
    pub rnd_fixture: Option<PathBuf>,
    /// Ask this caller agent's RND endpoint instead, with the key in RND_API_KEY.
    #[arg(long, value_name = "URL", requires = "rnd_api_key")]
    pub rnd_endpoint: Option<String>,
    #[arg(long, env = "RND_API_KEY", hide_env_values = true, hide = true)]
    pub rnd_api_key: Option<String>,
    /// Dial through the Vapi API at this URL (e.g. https://api.vapi.ai) with
    /// the private key in VAPI_API_KEY, instead of the built-in simulator.
    #[arg(long, value_name = "URL", requires = "vapi_api_key")]
    pub vapi_base_url: Option<String>,
    #[arg(long, env = "VAPI_API_KEY", hide_env_values = true, hide = true)]
    pub vapi_api_key: Option<String>,
    /// The Vapi account's public key (VAPI_PUBLIC_KEY), which a live call's
    /// control URL takes: without it calls are placed with control off, and
    /// a call whose number opts out cannot be ended while it is live.
    #[arg(long, env = "VAPI_PUBLIC_KEY", hide_env_values = true, hide = true)]
    pub vapi_public_key: Option<String>,
}
