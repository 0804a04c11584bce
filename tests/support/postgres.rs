//! A throwaway PostgreSQL server for the migration tests: Debian's
//! `postgresql` binaries (the test command installs the package), a fresh
//! cluster in a temporary directory, on a free port, stopped when dropped.
//! As root it runs as the `postgres` user, which PostgreSQL requires.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::Duration,
};

pub struct Postgres {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where `initdb` and `postgres` are: `CALLOPS_PG_BIN`, else Debian's layout.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CALLOPS_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dirs| dirs.filter_map(|d| d.ok()).map(|d| d.path().join("bin")).filter(|b| b.join("initdb").exists()).collect())
        .unwrap_or_default();
    found.sort();
    found.pop().expect("PostgreSQL's server binaries are missing: run infra/scripts/test.sh, which installs Debian's postgresql")
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

/// A command for a PostgreSQL binary, as the `postgres` user when we are root.
fn pg_command(bin: &Path, args: &[&str]) -> Command {
    if is_root() {
        let mut command = Command::new("runuser");
        command.args(["-u", "postgres", "--"]).arg(bin).args(args);
        command
    } else {
        let mut command = Command::new(bin);
        command.args(args);
        command
    }
}

impl Postgres {
    pub async fn start() -> Postgres {
        let bin = bin_dir();
        let dir = tempfile::tempdir().expect("a temporary directory");
        let data = dir.path().join("data");
        std::fs::create_dir(&data).unwrap();
        if is_root() {
            let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().expect("chown runs");
            assert!(status.success(), "cannot hand the cluster directory to the postgres user");
        }
        let data_text = data.to_str().unwrap();
        let output = pg_command(&bin.join("initdb"), &["-D", data_text, "-U", "callops", "--auth=trust", "--encoding=UTF8", "--locale=C"])
            .output()
            .expect("initdb runs");
        assert!(output.status.success(), "initdb failed: {}", String::from_utf8_lossy(&output.stderr));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let port_text = port.to_string();
        let socket_dir = dir.path().to_str().unwrap().to_string();
        let child = pg_command(
            &bin.join("postgres"),
            &[
                "-D",
                data_text,
                "-p",
                &port_text,
                "-k",
                &socket_dir,
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ],
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("postgres starts");
        let server = Postgres { child, _dir: dir, port };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if tokio_postgres::connect(&server.url("postgres"), tokio_postgres::NoTls).await.is_ok() {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "postgres did not come up");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://callops@127.0.0.1:{}/{database}", self.port)
    }

    /// A new database holding the legacy table, from the DDL beside the project.
    pub async fn legacy_database(&self, name: &str) -> tokio_postgres::Client {
        let admin = connect(&self.url("postgres")).await;
        admin.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("a database");
        let client = connect(&self.url(name)).await;
        client.batch_execute(&legacy_ddl()).await.expect("the legacy DDL loads");
        client
    }
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("a connection");
    tokio::spawn(connection);
    client
}

/// The legacy DDL: tests/fixtures/legacy/call_logs.sql, a copy of
/// shared/legacy/call_logs.sql (kept equal to it where that is beside the project).
pub fn legacy_ddl() -> String {
    let ours = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/legacy/call_logs.sql");
    std::fs::read_to_string(ours).expect("the legacy DDL fixture")
}

/// Loads `rows` generated legacy rows: ids `c0000001`..., three agents, a
/// call every 2 minutes 37 seconds from 2023-01-01 (550 a day), each with a
/// transcript of about 600 bytes and a mix of statuses, flags and amounts.
pub async fn generate_rows(client: &tokio_postgres::Client, rows: i64) {
    client
        .execute(
            "INSERT INTO call_logs (id, voice_agent_id, phone_number, direction, status, duration, call_started_at, call_ended_at,
               transcript, summary, appointment_set, insurance_verified, payment_plan_discussed, payment_plan_amount,
               collection_attempt, collection_amount, collection_success, cost_cents, created_at, updated_at)
             SELECT 'c' || lpad(i::text, 7, '0'), (ARRAY['front', 'billing', 'recall'])[1 + i % 3],
               '+1212555' || lpad((i % 10000)::text, 4, '0'), (ARRAY['inbound', 'outbound', NULL])[1 + i % 3],
               (ARRAY['completed', 'missed', 'voicemail', 'busy', 'failed', 'ended'])[1 + i % 6], (i * 37) % 900,
               timestamp '2023-01-01' + i * interval '2 minutes 37 seconds', timestamp '2023-01-01' + i * interval '2 minutes 37 seconds' + interval '3 minutes',
               repeat('AI: How can I help you today? User: I would like to book a cleaning. ', 8), 'Booked a cleaning.',
               i % 4 = 0, i % 3 = 0, i % 7 = 0, CASE WHEN i % 7 = 0 THEN (i * 13) % 90000 END,
               i % 5 = 0, CASE WHEN i % 5 = 0 THEN (i * 17) % 50000 END, i % 10 = 0, (i * 29) % 400,
               timestamp '2023-01-01' + i * interval '2 minutes 37 seconds', timestamp '2023-01-01' + i * interval '2 minutes 37 seconds'
             FROM generate_series(1, $1::bigint) AS i",
            &[&rows],
        )
        .await
        .expect("rows load");
}
