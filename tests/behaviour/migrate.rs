//! `callops migrate` against a real PostgreSQL server loaded from the legacy
//! DDL: every mapping rule and every refusal, a second run, a run stopped
//! half way and continued, a dry run, the analytics API agreeing with the
//! migration document's SQL on the mapped legacy table, and an import whose
//! concurrent transactions never meet on an item (DynamoDB would cancel them).

use callops::migrate::{
    MigrateOptions, Report,
    mapping::{Note, NoteKind},
    migrate, migrate_alone,
};
use callops_aws::CallQuery;
use callops_aws::store::{CallQueryStore, CallStore, MarkerStore, RollupCheckStore};
use callops_domain::{CallLog, CallOutcome, CallStatus, CallType, time::Span};
use callops_tests::{DEMO_TOKEN, TestHost, postgres::Postgres};
use serde_json::Value;

/// Rows that exercise each rule of MAPPING.md, then rows it must refuse.
const ROWS: &str = r#"
INSERT INTO call_logs (id, voice_agent_id, phone_number, direction, status, duration, call_started_at, call_ended_at,
  appointment_set, transferred_to_staff, payment_plan_discussed, payment_plan_amount, outcome, call_type, scheduled_at,
  call_quality, ai_confidence, cost_cents, created_at, updated_at) VALUES
 ('r01', 'front', '+12125550101', 'inbound',   'completed',   120, '2024-02-01 10:00:00', '2024-02-01 10:02:00', true,  false, false, NULL, NULL, NULL, NULL, 5, 0.9, 40, '2024-02-01 10:00:00', '2024-02-01 10:02:00'),
 ('r02', 'front', '(212) 555-0102', 'OUTBOUND ', 'Answered', 60, '2024-02-01 11:00:00', '2024-02-01 11:01:00', false, true,  false, NULL, NULL, NULL, NULL, NULL, NULL, 20, '2024-02-01 11:00:00', '2024-02-01 11:01:00'),
 ('r03', 'front', '+12125550103', NULL,        'voicemail',   15, '2024-02-01 12:00:00', '2024-02-01 12:00:15', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, 5, '2024-02-01 12:00:00', '2024-02-01 12:00:15'),
 ('r04', 'front', '+12125550104', 'sideways',  'no-answer',    0, '2024-02-02 09:00:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, 1, '2024-02-02 09:00:00', '2024-02-02 09:00:00'),
 ('r05', 'front', '+12125550105', 'inbound',   'no_answer', NULL, '2024-02-02 09:10:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-02 09:10:00', '2024-02-02 09:10:00'),
 ('r06', 'front', '+12125550106', 'inbound',   'missed',    NULL, '2024-02-02 09:20:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-02 09:20:00', '2024-02-02 09:20:00'),
 ('r07', 'front', '+12125550107', 'inbound',   'busy',      NULL, '2024-02-02 09:30:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-02 09:30:00', '2024-02-02 09:30:00'),
 ('r08', 'billing', '+12125550108', 'outbound', 'failed',   NULL, '2024-02-02 10:00:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-02 10:00:00', '2024-02-02 10:00:00'),
 ('r09', 'billing', '+12125550109', 'outbound', 'error',    NULL, '2024-02-02 10:10:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-02 10:10:00', '2024-02-02 10:10:00'),
 ('r10', 'billing', '+12125550110', 'outbound', 'in-progress', NULL, '2024-02-03 10:00:00', NULL,              false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:00:00', '2024-02-03 10:00:00'),
 ('r11', 'billing', '+12125550111', 'outbound', 'ringing',  NULL, '2024-02-03 10:01:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:01:00', '2024-02-03 10:01:00'),
 ('r12', 'billing', '+12125550112', 'outbound', 'queued',   NULL, NULL, NULL,                                  false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:02:00', '2024-02-03 10:02:00'),
 ('r13', 'billing', '+12125550113', 'outbound', 'active',   NULL, '2024-02-03 10:03:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:03:00', '2024-02-03 10:03:00'),
 ('r14', 'billing', '+12125550114', 'outbound', 'in_progress', NULL, '2024-02-03 10:04:00', NULL,              false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:04:00', '2024-02-03 10:04:00'),
 ('r15', 'billing', '+12125550115', 'outbound', 'scheduled', NULL, NULL, NULL,                                 false, false, false, NULL, NULL, NULL, '2024-03-01 15:00:00', NULL, NULL, NULL, '2024-02-03 10:05:00', '2024-02-03 10:05:00'),
 ('r16', 'billing', '+12125550116', 'outbound', 'cancelled', NULL, NULL, NULL,                                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:06:00', '2024-02-03 10:06:00'),
 ('r17', 'billing', '+12125550117', 'outbound', 'canceled',  NULL, NULL, NULL,                                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-03 10:07:00', '2024-02-03 10:07:00'),
 ('r18', 'front', '+12125550118', 'inbound',   'COMPLETED',    30, '2024-02-04 08:00:00', '2024-02-04 08:00:30', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-04 08:00:00', '2024-02-04 08:00:30'),
 ('r19', 'front', '+12125550119', 'inbound',   'complete',     30, '2024-02-04 08:10:00', '2024-02-04 08:10:30', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-04 08:10:00', '2024-02-04 08:10:30'),
 ('r20', 'front', '+12125550120', 'inbound',   'ended',        30, '2024-02-04 08:20:00', '2024-02-04 08:20:30', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-04 08:20:00', '2024-02-04 08:20:30'),
 ('r21', 'front', '+12125550121', 'inbound',   'weird',        30, '2024-02-04 08:30:00', '2024-02-04 08:30:30', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-04 08:30:00', '2024-02-04 08:30:30'),
 ('r22', 'front', '+12125550122', 'inbound',   NULL,         NULL, '2024-02-04 08:40:00', NULL,                 false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-04 08:40:00', '2024-02-04 08:40:00'),
 ('r23', 'billing', '+12125550123', 'outbound', 'completed',  200, '2024-02-04 09:00:00', '2024-02-04 09:03:20', false, false, true, 45000, NULL, NULL, NULL, NULL, NULL, 60, '2024-02-04 09:00:00', '2024-02-04 09:03:20'),
 ('r24', 'front', '+12125550124', 'inbound',   'completed',    90, '2024-02-04 10:00:00', '2024-02-04 10:01:30', true,  false, false, NULL, 'INFORMATION', NULL, NULL, NULL, NULL, 30, '2024-02-04 10:00:00', '2024-02-04 10:01:30'),
 ('r25', 'billing', '+12125550125', 'inbound', 'completed',    90, '2024-02-04 11:00:00', '2024-02-04 11:01:30', false, false, false, NULL, NULL, 'OUTBOUND_DEBT', NULL, NULL, NULL, 30, '2024-02-04 11:00:00', '2024-02-04 11:01:30'),
 ('r26', 'front', '+12125550126', 'inbound',   'completed',    45, '2024-02-04 12:00:00', '2024-02-04 12:00:45', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, 15, '2024-02-04 12:00:00', '2024-02-04 12:00:45'),
 ('x01', 'front', 'n/a',          'inbound',   'completed',    45, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x02', 'front', '+12125550202', 'inbound',   'completed',    -5, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x03', 'front', '+12125550203', 'inbound',   'completed',    45, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, 7,    NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x04', 'front', '+12125550204', 'inbound',   'completed',    45, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, 1.5,  NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x05', 'front', '+12125550205', 'inbound',   'completed',    45, '2024-02-05 12:00:00', NULL, false, false, true, -100, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x06', 'front', '+12125550206', 'inbound',   'completed',    45, '2024-02-05 12:00:00', '2024-02-05 11:00:00', false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x07', 'front desk', '+12125550207', 'inbound', 'completed', 45, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x08' || repeat('z', 300), 'front', '+12125550208', 'inbound', 'completed', 45, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x09', 'front', '+12125550209', 'inbound',   'completed',    45, '2024-02-05 12:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, 2000000000, '2024-02-05 12:00:00', '2024-02-05 12:00:00'),
 ('x10', 'front', '+12125550210', 'inbound',   'completed',    45, '1999-12-31 23:00:00', NULL, false, false, false, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '2024-02-05 12:00:00', '2024-02-05 12:00:00');
INSERT INTO call_logs (id, voice_agent_id, phone_number, status, vapi_call_id, created_at, updated_at) VALUES
 ('x11', 'front', '+12125550211', 'completed', repeat('v', 300), '2024-02-05 12:00:00', '2024-02-05 12:00:00');
"#;

const ACCEPTED: u64 = 26;
const REFUSED: usize = 11;

fn options(pg: &Postgres, database: &str) -> MigrateOptions {
    MigrateOptions {
        url: pg.url(database),
        org_id: "demo".into(),
        dry_run: false,
        batch: 5,
        concurrency: 4,
        progress: false,
        stop_after_batches: None,
        agent_map: Default::default(),
    }
}

/// How a run writes: in conditional transactions, as into a DynamoDB table
/// others write to, or (`alone`) as into a data dir the command holds alone.
async fn run(host: &TestHost, options: &MigrateOptions, alone: bool) -> Result<Report, String> {
    match alone {
        true => migrate_alone(host.host.store(), host.host.engine().expect("an embedded engine"), options).await,
        false => migrate(host.host.store(), options).await,
    }
}

async fn stored_calls(host: &TestHost) -> Vec<CallLog> {
    host.host.store().all_calls().await.unwrap().into_iter().filter(|c| c.org_id == "demo").collect()
}

fn note(report: &Report, kind: NoteKind, column: &str, value: &str) -> u64 {
    report.notes.iter().find(|(n, _)| n.kind == kind && n.column == column && n.value == value).map_or(0, |(_, count)| *count)
}

#[tokio::test]
async fn every_rule_maps_every_refusal_is_reported_and_a_second_run_changes_nothing() {
    let pg = Postgres::start().await;
    pg.legacy_database("rules").await.batch_execute(ROWS).await.expect("rows load");
    for alone in [false, true] {
        every_rule_maps(&pg, alone).await;
    }
}

async fn every_rule_maps(pg: &Postgres, alone: bool) {
    let host = TestHost::start(false).await;
    let report = run(&host, &options(pg, "rules"), alone).await.unwrap();
    assert!(report.complete);
    assert_eq!((report.read, report.written, report.unchanged), (ACCEPTED + REFUSED as u64, ACCEPTED, 0));
    let refused: Vec<(&str, &str)> = report.refused.iter().map(|r| (r.id.as_str(), r.reason.as_str())).collect();
    assert_eq!(refused.len(), REFUSED, "{refused:?}");
    for (id, why) in [
        ("x01", "phone_number"),
        ("x02", "duration is negative"),
        ("x03", "call_quality"),
        ("x04", "ai_confidence"),
        ("x05", "payment_plan_amount is negative"),
        ("x06", "before call_started_at"),
        ("x07", "voice_agent_id"),
        ("x09", "cost_cents is over its bound"),
        ("x10", "call_started_at 1999-12-31 23:00:00 is outside the supported range"),
        ("x11", "vapi_call_id is empty, longer than 200 bytes"),
    ] {
        assert!(refused.iter().any(|(i, r)| *i == id && r.contains(why)), "{id}: {refused:?}");
    }
    // An id too long for a key is refused by its reason, and the run goes on.
    assert!(refused.iter().any(|(i, r)| i.starts_with("x08zzz") && r.contains("longer than 200 bytes")), "{refused:?}");
    assert_eq!(note(&report, NoteKind::Defaulted, "callType", "direction=NULL"), 1);
    assert_eq!(note(&report, NoteKind::Defaulted, "callType", "direction=sideways"), 1);
    assert_eq!(note(&report, NoteKind::Unmapped, "status", "weird"), 1);
    assert_eq!(note(&report, NoteKind::Unmapped, "status", "NULL"), 1);
    assert_eq!(report.scheduled, 1);
    let rendered = report.render();
    assert!(rendered.contains("refused: id x01") && rendered.contains("unmapped: status \"weird\" x 1"), "{rendered}");

    let calls = stored_calls(&host).await;
    assert_eq!(calls.len() as u64, ACCEPTED);
    let call = |id: &str| calls.iter().find(|c| c.id == id).unwrap_or_else(|| panic!("{id} was imported"));
    use CallOutcome::{Booked, Busy, Information, NoAnswer, PaymentPlan, Transferred};
    use CallStatus::{Cancelled, Completed, InProgress, Missed, Scheduled};
    for (id, call_type, status, outcome) in [
        ("r01", CallType::Inbound, Completed, Some(Booked)),
        ("r02", CallType::OutboundOther, Completed, Some(Transferred)),
        ("r03", CallType::Inbound, CallStatus::Voicemail, Some(CallOutcome::Voicemail)),
        ("r04", CallType::Inbound, Missed, Some(NoAnswer)),
        ("r05", CallType::Inbound, Missed, Some(NoAnswer)),
        ("r06", CallType::Inbound, Missed, Some(NoAnswer)),
        ("r07", CallType::Inbound, Missed, Some(Busy)),
        ("r08", CallType::OutboundOther, CallStatus::Failed, Some(CallOutcome::Failed)),
        ("r09", CallType::OutboundOther, CallStatus::Failed, Some(CallOutcome::Failed)),
        ("r10", CallType::OutboundOther, InProgress, None),
        ("r11", CallType::OutboundOther, InProgress, None),
        ("r12", CallType::OutboundOther, InProgress, None),
        ("r13", CallType::OutboundOther, InProgress, None),
        ("r14", CallType::OutboundOther, InProgress, None),
        ("r15", CallType::OutboundOther, Scheduled, None),
        ("r16", CallType::OutboundOther, Cancelled, None),
        ("r17", CallType::OutboundOther, Cancelled, None),
        ("r18", CallType::Inbound, Completed, None),
        ("r19", CallType::Inbound, Completed, None),
        ("r20", CallType::Inbound, Completed, None),
        ("r21", CallType::Inbound, Completed, None),
        ("r22", CallType::Inbound, CallStatus::Failed, None),
        ("r23", CallType::OutboundOther, Completed, Some(PaymentPlan)),
        ("r24", CallType::Inbound, Completed, Some(Information)),
        ("r25", CallType::OutboundDebt, Completed, None),
        ("r26", CallType::Inbound, Completed, None),
    ] {
        let c = call(id);
        assert_eq!((c.call_type, c.status, c.outcome), (call_type, status, outcome), "{id}");
        assert_eq!(c.attempt, 0, "{id}: imported calls are never the dialer's");
        assert!(c.imported, "{id}: marked as history");
    }
    // Imported history counts in one rollup shard.
    let shards: std::collections::BTreeSet<String> =
        host.host.store().all_rollups().await.unwrap().0.into_keys().map(|key| key.sk.rsplit('#').next().unwrap().to_string()).collect();
    assert_eq!(shards, ["0".to_string()].into());
    let r02 = call("r02");
    assert_eq!(r02.phone_number, "(212) 555-0102", "kept as stored");
    assert_eq!((call("r01").duration, call("r01").cost_cents, call("r01").call_quality), (Some(120), Some(40), Some(5)));
    assert_eq!(call("r23").payment_plan_amount, Some(45_000));
    assert_eq!(callops_domain::time::format(&call("r15").scheduled_at.unwrap()), "2024-03-01T15:00:00.000Z");

    // Again: nothing changes, nothing counts twice.
    let (_, before) = host.get("/api/analytics/calls?startDate=2024-01-01&endDate=2024-03-01", Some(DEMO_TOKEN)).await;
    let again = run(&host, &options(pg, "rules"), alone).await.unwrap();
    assert_eq!((again.written, again.unchanged, again.refused.len()), (0, ACCEPTED, REFUSED));
    assert_eq!(stored_calls(&host).await, calls);
    let (_, after) = host.get("/api/analytics/calls?startDate=2024-01-01&endDate=2024-03-01", Some(DEMO_TOKEN)).await;
    assert_eq!(after, before);
    assert_eq!(after["totalCalls"], 22, "the calls with a start time");
    assert!(host.host.store().verify_rollups().await.unwrap().drift.is_empty());
}

#[tokio::test]
async fn a_stopped_run_continues_where_it_stopped_and_a_dry_run_writes_nothing() {
    let pg = Postgres::start().await;
    pg.legacy_database("resume").await.batch_execute(ROWS).await.expect("rows load");
    for alone in [false, true] {
        a_stopped_run_continues(&pg, alone).await;
    }
}

async fn a_stopped_run_continues(pg: &Postgres, alone: bool) {
    let host = TestHost::start(false).await;

    let dry = migrate(host.host.store(), &MigrateOptions { dry_run: true, ..options(pg, "resume") }).await.unwrap();
    assert_eq!((dry.read, dry.written, dry.refused.len()), (ACCEPTED + REFUSED as u64, ACCEPTED, REFUSED));
    assert!(dry.render().contains("would write:"), "{}", dry.render());
    assert!(stored_calls(&host).await.is_empty(), "a dry run writes nothing");
    assert!(host.host.store().marker("demo", "MIGRATION").await.unwrap().is_none(), "not even a checkpoint");

    // Stopped after two batches of five.
    let stopped = run(&host, &MigrateOptions { stop_after_batches: Some(2), ..options(pg, "resume") }, alone).await.unwrap();
    assert!(!stopped.complete);
    assert_eq!(stopped.read, 10);
    assert_eq!(stored_calls(&host).await.len(), 10);
    assert!(host.host.store().verify_rollups().await.unwrap().drift.is_empty(), "the rollups are right wherever a run stops");

    let resumed = run(&host, &options(pg, "resume"), alone).await.unwrap();
    assert_eq!(resumed.resumed_after.as_deref(), Some("r10"));
    assert_eq!(resumed.read, ACCEPTED + REFUSED as u64 - 10, "only what was left");
    assert!(resumed.complete);
    assert_eq!(stored_calls(&host).await.len() as u64, ACCEPTED);
    assert!(host.host.store().verify_rollups().await.unwrap().drift.is_empty(), "counted once");

    // A finished migration run again starts over, and finds everything in place.
    let again = run(&host, &options(pg, "resume"), alone).await.unwrap();
    assert_eq!((again.resumed_after, again.written, again.unchanged), (None, 0, ACCEPTED));
}

#[tokio::test]
async fn a_vapi_call_id_another_call_holds_is_refused_and_a_changed_row_moves_the_rollups_once() {
    let pg = Postgres::start().await;
    let client = pg.legacy_database("taken").await;
    client
        .batch_execute(
            "INSERT INTO call_logs (id, voice_agent_id, phone_number, direction, status, duration, call_started_at, outcome, cost_cents, vapi_call_id, created_at, updated_at) VALUES
             ('t1', 'front', '+12125550301', 'inbound', 'completed', 60, '2024-02-01 10:00:00', 'BOOKED', 40, 'vapi-live', '2024-02-01 10:00:00', '2024-02-01 10:00:00'),
             ('t2', 'front', '+12125550302', 'inbound', 'completed', 90, '2024-02-01 10:30:00', 'BOOKED', 50, 'vapi-t2', '2024-02-01 10:30:00', '2024-02-01 10:30:00'),
             ('t3', 'front', '+12125550303', 'inbound', 'completed', 30, '2024-02-01 11:00:00', NULL, 10, 'vapi-t3', '2024-02-01 11:00:00', '2024-02-01 11:00:00');",
        )
        .await
        .expect("rows load");
    for alone in [false, true] {
        let host = TestHost::start(false).await;
        // A call CallOps placed holds the Vapi call id one legacy row also names.
        let mut live = callops_tests::dialed_call("live-1");
        live.vapi_call_id = Some("vapi-live".into());
        host.host.store().create_call(&live).await.unwrap();

        let report = run(&host, &options(&pg, "taken"), alone).await.unwrap();
        assert_eq!(report.written, 2, "alone={alone}");
        let refused: Vec<(&str, &str)> = report.refused.iter().map(|r| (r.id.as_str(), r.reason.as_str())).collect();
        assert_eq!(refused, [("t1", "vapi_call_id vapi-live already belongs to call live-1")], "alone={alone}");
        let found = host.host.store().find_call_by_vapi_id("demo", "vapi-t2").await.unwrap().expect("the pointer of an imported call");
        assert_eq!(found.call.id, "t2");
        let (_, first) = host.get("/api/analytics/calls?startDate=2024-02-01&endDate=2024-02-02", Some(DEMO_TOKEN)).await;
        assert_eq!((first["totalCalls"].as_i64(), first["cost"]["totalCents"].as_i64(), first["bookingRate"].as_f64()), (Some(2), Some(60), Some(50.0)));

        // The practice corrects a row in the legacy table: the next run writes that call alone, and its rollups move once.
        client
            .batch_execute("UPDATE call_logs SET outcome = 'BOOKED', cost_cents = 25, call_started_at = '2024-02-01 12:15:00' WHERE id = 't3'")
            .await
            .unwrap();
        let again = run(&host, &options(&pg, "taken"), alone).await.unwrap();
        assert_eq!((again.written, again.unchanged, again.refused.len()), (1, 1, 1), "alone={alone}");
        let (_, second) = host.get("/api/analytics/calls?startDate=2024-02-01&endDate=2024-02-02", Some(DEMO_TOKEN)).await;
        assert_eq!((second["totalCalls"].as_i64(), second["cost"]["totalCents"].as_i64(), second["bookingRate"].as_f64()), (Some(2), Some(75), Some(100.0)));
        let report = host.host.store().verify_rollups().await.unwrap();
        assert!(report.is_clean(), "alone={alone}: {report:?}");
        client.batch_execute("UPDATE call_logs SET outcome = NULL, cost_cents = 10, call_started_at = '2024-02-01 11:00:00' WHERE id = 't3'").await.unwrap();
    }
}

#[tokio::test]
async fn a_migration_holds_its_data_dir_alone() {
    use callops_aws::embedded::{DirAccess, EmbeddedDynamo};
    let dir = tempfile::tempdir().unwrap();
    let host = EmbeddedDynamo::on_disk(dir.path()).await.expect("the host opens the dir");
    let operator = EmbeddedDynamo::on_disk(dir.path()).await.expect("so may an operator command, beside it");
    let refused = EmbeddedDynamo::on_disk_with(dir.path(), DirAccess::Alone).await.err().expect("a migration waits for both");
    assert!(refused.to_string().contains("in use by another callops process"), "{refused}");
    drop((host, operator));
    let migration = EmbeddedDynamo::on_disk_with(dir.path(), DirAccess::Alone).await.expect("alone once they are gone");
    let refused = EmbeddedDynamo::on_disk(dir.path()).await.err().expect("nothing opens the dir while a migration holds it");
    assert!(refused.to_string().contains("held by a `callops migrate` run"), "{refused}");
    drop(migration);
    EmbeddedDynamo::on_disk(dir.path()).await.expect("open again after it");
}

#[tokio::test]
async fn a_migration_into_a_data_dir_reads_beside_its_writes_and_counts_every_call_once() {
    use callops_aws::{
        DynamoStore,
        embedded::{DirAccess, EmbeddedDynamo},
        table,
    };
    let pg = Postgres::start().await;
    // Five and a half days of history in batches of 500: the batches share hours and days,
    // and each is planned on what the one before leaves while that one is written.
    callops_tests::postgres::generate_rows(&pg.legacy_database("dir").await, 3_000).await;
    let dir = tempfile::tempdir().unwrap();
    let engine = EmbeddedDynamo::on_disk_with(dir.path(), DirAccess::Alone).await.unwrap();
    table::create_embedded_table(&engine.client(), "callops").await.unwrap();
    let store = DynamoStore::new(engine.client(), "callops");
    let options = MigrateOptions { url: pg.url("dir"), org_id: "acme".into(), batch: 500, ..options(&pg, "dir") };

    let stopped = migrate_alone(&store, &engine, &MigrateOptions { stop_after_batches: Some(3), ..options.clone() }).await.unwrap();
    assert_eq!(stopped.read, 1_500);
    assert!(store.verify_rollups().await.unwrap().is_clean(), "exact wherever a run stops");
    let report = migrate_alone(&store, &engine, &options).await.unwrap();
    assert_eq!((report.resumed_after.is_some(), report.written, report.refused.len()), (true, 1_500, 0));
    let check = store.verify_rollups().await.unwrap();
    assert!(check.is_clean(), "{check:?}");
    assert_eq!(check.calls, 3_000);
    let again = migrate_alone(&store, &engine, &options).await.unwrap();
    assert_eq!((again.written, again.unchanged), (0, 3_000));
}

/// 2,000 varied rows over 60 days, none refused.
const GENERATED: &str = r#"
INSERT INTO call_logs (id, voice_agent_id, phone_number, direction, status, duration, call_started_at, call_ended_at,
  appointment_set, transferred_to_staff, insurance_verified, payment_plan_discussed, payment_plan_amount, collection_attempt,
  collection_amount, collection_success, outcome, call_type, cost_cents, created_at, updated_at)
SELECT 'g' || lpad(i::text, 5, '0'),
  (ARRAY['front', 'billing', 'recall'])[1 + i % 3],
  '+1212555' || lpad((i % 10000)::text, 4, '0'),
  (ARRAY['inbound', 'outbound', ' Inbound', NULL, 'other'])[1 + i % 5],
  (ARRAY['completed', 'missed', 'voicemail', 'busy', 'failed', 'no-answer', 'ended', 'weird', NULL, 'error'])[1 + (i * 7) % 10],
  CASE WHEN i % 6 = 0 THEN NULL ELSE (i * 37) % 900 END,
  CASE WHEN i % 25 = 0 THEN NULL ELSE timestamp '2024-01-01 00:00:00' + (i * interval '43 minutes 11.123 seconds') END,
  NULL,
  i % 4 = 0, i % 9 = 0, i % 3 = 0, i % 7 = 0,
  CASE WHEN i % 7 = 0 AND i % 2 = 0 THEN (i * 13) % 90000 END,
  i % 5 = 0,
  CASE WHEN i % 5 = 0 THEN (i * 17) % 50000 END,
  i % 10 = 0,
  CASE WHEN i % 11 = 0 THEN (ARRAY['INFORMATION', 'INSURANCE_INQUIRY', 'OTHER', 'BOOKED'])[1 + i % 4]::"CallOutcome" END,
  CASE WHEN i % 13 = 0 THEN 'OUTBOUND_LEAD'::"CallType" END,
  CASE WHEN i % 8 = 0 THEN NULL ELSE (i * 29) % 400 END,
  timestamp '2024-01-01 00:00:00' + (i * interval '43 minutes'),
  timestamp '2024-01-01 00:00:00' + (i * interval '43 minutes')
FROM generate_series(1, 2000) AS i;
"#;

#[tokio::test]
async fn the_analytics_api_agrees_with_the_migration_documents_sql() {
    let pg = Postgres::start().await;
    let client = pg.legacy_database("agree").await;
    client.batch_execute(GENERATED).await.expect("rows load");
    let host = TestHost::start(false).await;
    // The practice's own agent takes the legacy "front" desk's calls; "billing" and "recall" become imported agents.
    let (status, agent) = host
        .send(
            reqwest::Method::POST,
            "/api/agents",
            Some(DEMO_TOKEN),
            Some(&serde_json::json!({"id": "front-desk", "name": "Front desk", "vapiAssistantId": "asst-1", "vapiPhoneNumberId": "pn-1", "timeZone": "America/New_York"})),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{agent}");
    let mut agent_map = std::collections::BTreeMap::new();
    agent_map.insert("front".to_string(), "front-desk".to_string());
    let wrong = std::collections::BTreeMap::from([("front".to_string(), "nobody".to_string())]);
    let refused = migrate(host.host.store(), &MigrateOptions { agent_map: wrong, ..options(&pg, "agree") }).await.unwrap_err();
    assert!(refused.contains("nobody"), "{refused}");
    // As into a data dir: the command holds it alone and writes each batch in one write of the engine's own.
    let report = run(&host, &MigrateOptions { batch: 500, agent_map, ..options(&pg, "agree") }, true).await.unwrap();
    assert_eq!((report.written, report.refused.len()), (2000, 0));
    let lines: Vec<(&str, &str, bool)> = report.agents.iter().map(|l| (l.legacy.as_str(), l.agent_id.as_str(), l.imported)).collect();
    assert_eq!(lines, [("billing", "legacy-billing", true), ("front", "front-desk", false), ("recall", "legacy-recall", true)]);
    assert!(report.render().contains("agent: legacy \"billing\" -> legacy-billing (imported"));
    let (_, agents) = host.get("/api/agents", Some(DEMO_TOKEN)).await;
    let listed: Vec<(&str, Option<&str>)> =
        agents["agents"].as_array().unwrap().iter().map(|a| (a["id"].as_str().unwrap(), a["importedFrom"].as_str())).collect();
    assert_eq!(listed, [("front-desk", None), ("legacy-billing", Some("billing")), ("legacy-recall", Some("recall"))]);
    let (_, recall) = host.get("/api/analytics/calls/recent?limit=100&agentId=legacy-recall&content=false", Some(DEMO_TOKEN)).await;
    assert!(!recall["calls"].as_array().unwrap().is_empty() && recall["calls"].as_array().unwrap().iter().all(|c| c["voiceAgentId"] == "legacy-recall"));
    let ask = serde_json::json!({"phoneNumber": "+12125550142", "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339(), "voiceAgentId": "legacy-billing"});
    callops_tests::assert_error(
        &host.send(reqwest::Method::POST, "/api/outbound/schedule", Some(DEMO_TOKEN), Some(&ask)).await,
        reqwest::StatusCode::BAD_REQUEST,
        "agent_not_dialable",
    );
    callops_tests::assert_error(
        &host.send(reqwest::Method::PATCH, "/api/agents/legacy-billing", Some(DEMO_TOKEN), Some(&serde_json::json!({"name": "x"}))).await,
        reqwest::StatusCode::CONFLICT,
        "imported_agent",
    );
    let unsuccessful: i64 = client
        .query_one("SELECT count(*) FROM call_logs WHERE collection_attempt AND NOT collection_success AND collection_amount IS NOT NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert!(unsuccessful > 0, "the generated rows have unsuccessful attempts with an amount");
    assert_eq!(report.unsuccessful_with_amount, unsuccessful as u64);
    assert!(report.render().contains(&format!("unsuccessful collection attempts with an amount: {unsuccessful}")));

    // The legacy table after the same mapping, in SQL.
    client.batch_execute(include_str!("../fixtures/legacy/mapping.sql")).await.expect("the mapping runs");
    let dashboard = include_str!("../fixtures/legacy/dashboard.sql");
    // The same figures for one legacy agent's rows, against the agent they became.
    let by_agent = dashboard
        .replace("WHERE call_started_at >= $1 AND call_started_at < $2", "WHERE call_started_at >= $1 AND call_started_at < $2 AND voice_agent_id = $3");
    assert_ne!(by_agent, dashboard);
    let at = |text: &str| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f").unwrap();
    for (start, end) in [
        ("2024-01-01T00:00:00.000", "2024-03-01T00:00:00.000"),
        ("2024-01-08T00:00:00.000", "2024-01-15T00:00:00.000"),
        ("2024-01-20T13:17:45.500", "2024-02-03T07:00:00.001"),
        ("2024-02-10T10:00:00.000", "2024-02-10T11:00:00.000"),
        ("2024-02-29T12:00:00.000", "2024-03-05T00:00:00.000"),
        ("2023-12-01T00:00:00.000", "2024-01-01T00:00:00.000"),
    ] {
        for scope in [None, Some(("front", "front-desk")), Some(("billing", "legacy-billing")), Some(("recall", "legacy-recall"))] {
            let (row, filter) = match scope {
                None => (client.query_one(dashboard, &[&at(start), &at(end)]).await.unwrap(), String::new()),
                Some((legacy, agent)) => (client.query_one(&by_agent, &[&at(start), &at(end), &legacy]).await.unwrap(), format!("&agentId={agent}")),
            };
            let (_, api) = host.get(&format!("/api/analytics/calls?startDate={start}Z&endDate={end}Z{filter}"), Some(DEMO_TOKEN)).await;
            let window = format!("{start}..{end}{filter}: {api}");
            let float = |v: &Value| v.as_f64();
            let close = |a: Option<f64>, b: Option<f64>| match (a, b) {
                (Some(a), Some(b)) => (a - b).abs() < 1e-9,
                (None, None) => true,
                _ => false,
            };
            assert_eq!(api["totalCalls"].as_i64(), Some(row.get::<_, i64>("total_calls")), "{window}");
            assert!(close(float(&api["bookingRate"]), row.get("booking_rate")), "booking rate {window}");
            assert!(close(float(&api["avgCallTimeSeconds"]), row.get("avg_call_time_seconds")), "avg time {window}");
            assert_eq!(api["insuranceVerified"].as_i64(), Some(row.get::<_, i64>("insurance_verified")), "{window}");
            assert_eq!(api["paymentPlans"]["count"].as_i64(), Some(row.get::<_, i64>("payment_plans")), "{window}");
            assert_eq!(api["paymentPlans"]["totalAmountCents"].as_i64(), Some(row.get::<_, i64>("payment_plan_cents")), "{window}");
            assert_eq!(api["collections"]["attempts"].as_i64(), Some(row.get::<_, i64>("collection_attempts")), "{window}");
            assert_eq!(api["collections"]["successes"].as_i64(), Some(row.get::<_, i64>("collection_successes")), "{window}");
            assert_eq!(api["collections"]["totalCollectedCents"].as_i64(), Some(row.get::<_, i64>("collected_cents")), "{window}");
            assert_eq!(api["collections"]["collectedOnSuccessCents"].as_i64(), Some(row.get::<_, i64>("collected_on_success_cents")), "{window}");
            assert!(close(float(&api["collections"]["collectionRate"]), row.get("collection_rate")), "collection rate {window}");
            assert_eq!(api["cost"]["totalCents"].as_i64(), Some(row.get::<_, i64>("cost_cents")), "{window}");
            assert!(close(float(&api["cost"]["avgPerCallCents"]), row.get("avg_cost_cents")), "avg cost {window}");
        }
    }
    let empty = host.host.store().count_calls("demo", &CallQuery::Scheduled, Span::ALL).await.unwrap();
    assert_eq!(empty, 0);
    assert!(report.notes.keys().any(|n: &Note| n.column == "status"), "the generated rows exercise unmapped statuses");
}

#[tokio::test]
async fn concurrent_import_transactions_never_meet_on_a_rollup_item() {
    use callops_aws::{
        DynamoStore,
        embedded::{EmbeddedDynamo, client_for_endpoint},
        table,
    };
    use callops_tests::faults::{Faults, FaultyDynamo};
    let pg = Postgres::start().await;
    // Five and a half days of history: every day's calls move that day's items.
    callops_tests::postgres::generate_rows(&pg.legacy_database("busy").await, 3_000).await;
    let engine = EmbeddedDynamo::in_memory().await.unwrap();
    table::create_table(&engine.client(), "callops").await.unwrap();
    // Between the importer and the engine, a proxy cancels a transaction that
    // touches an item another one in flight is writing, as DynamoDB does.
    let proxy = FaultyDynamo::start(engine.endpoint()).await;
    proxy.set(Faults::Conflicts);
    let store = DynamoStore::new(client_for_endpoint(&proxy.endpoint), "callops");
    let options = MigrateOptions { url: pg.url("busy"), org_id: "acme".into(), batch: 3_000, concurrency: 8, ..options(&pg, "busy") };

    let report = migrate(&store, &options).await.unwrap();
    assert!(report.complete);
    assert_eq!((report.written, report.refused.len()), (3_000, 0));
    let counts = proxy.counts();
    assert_eq!(counts.conflicts, 0, "no transaction met another in flight: {counts:?}");
    assert!(counts.forwarded > 30, "the calls went in many transactions: {counts:?}");
    assert!(store.verify_rollups().await.unwrap().drift.is_empty());
}
