//! The dashboard page in headless Chromium against the local host with the
//! demo practice: its KPI cards equal `GET /api/analytics/calls` for the
//! range and agent it shows, they follow the filters and move while calls
//! come in, a call scheduled through its form appears in its list, text
//! meets WCAG AA contrast, outcome colours agree across charts, the
//! manager's panels (agents side by side, when patients call, how calls
//! felt, the missed calls to return) show the API's figures, sort, follow
//! the calls filter, export and call a patient back, and screenshots are
//! saved at desktop and phone width (target/screenshots/).

use callops::{HostOptions, SignIn};
use callops_aws::store::{CallStore, ConsentStore};
use callops_tests::{
    DEMO_TOKEN, DEMO_VAPI_SECRET, TestHost,
    browser::Browser,
    fake_idp::{self, FakeIdp},
    host_options,
};
use chrono::{Duration, Utc};
use fantoccini::Locator;
use serde_json::{Value, json};

/// The browser's time zone: not UTC, so local days are really the page's.
const TZ: &str = "America/New_York";

/// The seven cards: the card's name and where the API has its figure.
const KPIS: &[(&str, &[&str])] = &[
    ("totalCalls", &["totalCalls"]),
    ("bookingRate", &["bookingRate"]),
    ("avgCallTimeSeconds", &["avgCallTimeSeconds"]),
    ("insuranceVerified", &["insuranceVerified"]),
    ("paymentPlans", &["paymentPlans", "count"]),
    ("collections", &["collections", "totalCollectedCents"]),
    ("cost", &["cost", "totalCents"]),
];

/// What the cards hold once loaded: the query they were read with, and each
/// card's figure (as the page keeps it in `data-value`).
async fn cards(browser: &Browser, not_query: &str) -> (String, Value) {
    let script = format!(
        "const k = document.getElementById('kpis');
         if (k.dataset.state !== 'ready' || !k.dataset.query || k.dataset.query === {not_query:?}) return null;
         const values = {{}};
         for (const card of k.querySelectorAll('[data-kpi]')) values[card.dataset.kpi] = {{ value: card.dataset.value, text: card.querySelector('.value').textContent }};
         return {{ query: k.dataset.query, values }};"
    );
    let read = browser.until("the KPI cards are loaded", &script).await;
    (read["query"].as_str().unwrap().to_string(), read["values"].clone())
}

/// Where the cards differ from the API's figures for the same query, if anywhere.
fn mismatch(api: &Value, values: &Value) -> Option<String> {
    for (kpi, path) in KPIS {
        let want = path.iter().fold(api, |v, key| &v[key]);
        let shown = values[kpi]["value"].as_str().unwrap_or_default();
        let agrees = match want.as_f64() {
            Some(want) => shown.parse::<f64>().is_ok_and(|shown| (shown - want).abs() < 1e-9),
            None => shown.is_empty(),
        };
        if !agrees {
            return Some(format!("{kpi}: the card shows {shown:?}, the API says {want}"));
        }
    }
    let digits: String = values["totalCalls"]["text"].as_str().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
    (api["totalCalls"] != digits.as_str().parse::<i64>().unwrap_or(-1)).then(|| format!("the total card reads {:?}", values["totalCalls"]["text"]))
}

/// Waits for the cards (with a query other than `not_query`) and asserts
/// they equal `GET /api/analytics/calls` for their query. The demo practice
/// keeps taking calls, so a difference is looked at again after the page's
/// next refresh before it counts.
async fn cards_equal_the_api(browser: &Browser, host: &TestHost, not_query: &str) -> (String, Value) {
    let mut last = String::new();
    for _ in 0..40 {
        let (query, values) = cards(browser, not_query).await;
        let (status, api) = host.get(&format!("/api/analytics/calls?{query}"), Some(DEMO_TOKEN)).await;
        assert_eq!(status, 200, "{api}");
        match mismatch(&api, &values) {
            None => return (query, api),
            Some(why) => last = format!("{why} ({query})"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    panic!("the cards never matched the API: {last}");
}

/// The lowest text contrast among `selector`'s elements (WCAG 2 formula,
/// against the first opaque background up the tree).
async fn lowest_contrast(browser: &Browser, selector: &str) -> (f64, String) {
    let script = format!(
        "const rgba = (c) => c.match(/[\\d.]+/g).map(Number);
         const lum = (c) => {{ const f = (v) => {{ v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); }};
                               return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); }};
         const background = (el) => {{ for (; el; el = el.parentElement) {{ const c = rgba(getComputedStyle(el).backgroundColor); if ((c[3] ?? 1) > 0.5) return c; }} return [255, 255, 255]; }};
         let worst = [99, ''];
         for (const el of document.querySelectorAll({selector:?})) {{
           if (!el.textContent.trim() || el.offsetParent === null) continue;
           const a = lum(rgba(getComputedStyle(el).color)), b = lum(background(el));
           const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
           if (ratio < worst[0]) worst = [ratio, el.className + ' ' + el.textContent.trim().slice(0, 40)];
         }}
         return worst;"
    );
    let worst = browser.eval(&script).await;
    (worst[0].as_f64().unwrap(), worst[1].as_str().unwrap_or_default().to_string())
}

/// An inbound call that ended a minute ago, as Vapi reports it.
fn inbound_report(vapi_id: &str) -> String {
    let started = Utc::now() - Duration::minutes(3);
    let ended = started + Duration::seconds(150);
    let format = |t: chrono::DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    include_str!("../fixtures/vapi/end-of-call-report-inbound.json")
        .replace("{{VAPI_ID}}", vapi_id)
        .replace("2024-07-28T14:00:00.000Z", &format(started))
        .replace("2024-07-28T14:05:10.000Z", &format(ended))
        .replace("2024-07-28T14:05:11.000Z", &format(ended))
}

#[tokio::test]
async fn the_dashboard_shows_the_apis_figures_follows_its_filters_and_schedules_a_call() {
    let host = TestHost::start(true).await;
    host.consent("demo", &["+12125550199"]).await;
    let browser = Browser::start(1366, 900, TZ).await;
    browser.client.goto(&format!("{}/", host.base)).await.expect("the page loads");

    // Last 7 days by default, as local dates in the browser's zone.
    let (query, week_figures) = cards_equal_the_api(&browser, &host, "").await;
    let today = Utc::now().with_timezone(&TZ.parse::<chrono_tz::Tz>().unwrap()).date_naive();
    let week = format!("startDate={}&endDate={}&tz=America%2FNew_York", today - Duration::days(6), today);
    assert_eq!(query, week);
    assert!(week_figures["totalCalls"].as_i64().unwrap() > 0, "the demo practice has calls this week");

    // Everything else on the page has loaded too.
    for panel in ["daily", "outcomes", "recent", "scheduled", "campaigns"] {
        browser
            .until(
                &format!("{panel} is loaded"),
                &format!("const s = document.getElementById('{panel}').dataset.state; return s === 'ready' || s === 'empty';"),
            )
            .await;
    }
    let rows = browser.eval("return document.querySelectorAll('#recent-rows tr').length").await;
    assert_eq!(rows, 10, "a page of recent calls");

    // Readable: AA contrast on the cards and the table; every control labelled.
    for selector in [".kpi h3, .kpi .value, .kpi .sub", "table.calls th, table.calls td, table.calls td span", ".legend li span, .range-caption, .live"] {
        let (ratio, worst) = lowest_contrast(&browser, selector).await;
        assert!(ratio >= 4.5, "{selector}: contrast {ratio:.2} at {worst}");
    }
    let unlabelled = browser.eval("return [...document.querySelectorAll('input, select, textarea')].filter((e) => e.labels.length === 0 && !e.getAttribute('aria-label')).map((e) => e.name || e.id)").await;
    assert_eq!(unlabelled, Value::Array(vec![]), "every control has a label");

    // One colour per outcome: the daily chart, the donut and its legend agree.
    let mismatches = browser
        .eval(
            "const hex = (c) => { const [r, g, b] = c.match(/\\d+/g).map(Number); return '#' + [r, g, b].map((v) => v.toString(16).padStart(2, '0')).join(''); };
             const daily = Object.fromEntries(Chart.getChart('daily-chart').data.datasets.map((d) => [d.label, d.backgroundColor]));
             const donut = Chart.getChart('outcome-chart').data;
             const bad = [];
             let compared = 0;
             donut.labels.forEach((label, i) => { compared += 1; if (daily[label] && daily[label] !== donut.datasets[0].backgroundColor[i]) bad.push(label); });
             for (const li of document.querySelectorAll('#outcome-legend li')) {
               const label = li.children[1].textContent;
               if (hex(getComputedStyle(li.children[0]).backgroundColor) !== daily[label]) bad.push('legend ' + label);
             }
             return compared >= 3 ? bad : ['only ' + compared + ' outcomes'];",
        )
        .await;
    assert_eq!(mismatches, Value::Array(vec![]), "outcome colours");
    tokio::time::sleep(std::time::Duration::from_millis(800)).await; // the charts' short animation
    let shot = browser.screenshot("dashboard-desktop").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000, "a real screenshot");

    // Live: a call reported by Vapi shows up without a reload.
    browser.eval("window.sameDocument = true; return true").await;
    let before = browser.eval("return Number(document.querySelector('[data-kpi=totalCalls]').dataset.value)").await.as_i64().unwrap();
    let response = reqwest::Client::new()
        .post(format!("{}/webhooks/vapi", host.base))
        .header("x-vapi-secret", DEMO_VAPI_SECRET)
        .header("content-type", "application/json")
        .body(inbound_report("vapi-live-1"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    browser.until("the new call is counted", &format!("return Number(document.querySelector('[data-kpi=totalCalls]').dataset.value) > {before}")).await;
    assert_eq!(browser.eval("return window.sameDocument === true").await, Value::Bool(true), "no reload");
    let (_, week_figures) = cards_equal_the_api(&browser, &host, "").await;

    // A report in today's shape, with only a structured output: its figures reach the cards.
    let plans_before = week_figures["paymentPlans"]["count"].as_i64().unwrap();
    let mut current: Value = serde_json::from_str(&inbound_report("vapi-live-outputs")).unwrap();
    current["message"]["analysis"] = json!({"summary": "Set up a payment plan."});
    current["message"]["artifact"]["structuredOutputs"] = json!({"4d1f": {"name": "callops", "result": {
        "outcome": "PAYMENT_PLAN", "paymentPlanDiscussed": true, "paymentPlanAmountCents": 60_000, "insuranceVerified": true}}});
    let response =
        reqwest::Client::new().post(format!("{}/webhooks/vapi", host.base)).header("x-vapi-secret", DEMO_VAPI_SECRET).json(&current).send().await.unwrap();
    assert_eq!(response.status(), 200);
    browser
        .until(
            "the output's payment plan is counted",
            &format!("return Number(document.querySelector('[data-kpi=paymentPlans]').dataset.value) > {plans_before}"),
        )
        .await;
    let (query, week_figures) = cards_equal_the_api(&browser, &host, "").await;
    assert_eq!(week_figures["paymentPlans"]["count"].as_i64(), Some(plans_before + 1));
    let before = week_figures["totalCalls"].as_i64().unwrap();

    // 30 days: other dates, other figures, still the API's.
    browser.client.find(Locator::Css("[data-preset='30d']")).await.unwrap().click().await.unwrap();
    let (month_query, month) = cards_equal_the_api(&browser, &host, &query).await;
    assert_eq!(month_query, format!("startDate={}&endDate={}&tz=America%2FNew_York", today - Duration::days(29), today));
    assert!(month["totalCalls"].as_i64() > Some(before), "30 days hold more calls than 7");

    // One agent: its own figures.
    browser.client.find(Locator::Id("agent")).await.unwrap().select_by_index(1).await.unwrap();
    let (agent_query, agent) = cards_equal_the_api(&browser, &host, &month_query).await;
    assert!(agent_query.contains("&agentId="), "{agent_query}");
    assert!(agent["totalCalls"].as_i64() < month["totalCalls"].as_i64(), "one agent has fewer calls than all");

    // A call's detail: its transcript and analysis.
    browser.until("the recent calls follow the agent", "return document.getElementById('recent').dataset.state === 'ready'").await;
    browser.client.find(Locator::Css("#recent-rows tr")).await.unwrap().click().await.unwrap();
    let detail = browser.until("the call's detail opens", "const d = document.getElementById('call-detail'); return d.open && document.querySelector('#detail-body .transcript') ? document.getElementById('detail-body').textContent : null").await;
    assert!(detail.as_str().unwrap().contains("Transcript") && detail.as_str().unwrap().contains("Insurance verified"), "{detail}");
    browser.client.find(Locator::Id("detail-close")).await.unwrap().click().await.unwrap();

    // The recording is linked only when it is an https: address, whatever the table holds.
    let agent_id = browser.eval("return document.getElementById('agent').value").await.as_str().unwrap().to_string();
    let mut links = Vec::new();
    for (minutes, url) in [(2, "https://storage.vapi.ai/recordings/kept.wav"), (1, "javascript:alert(document.domain)")] {
        let mut call = callops_tests::due_call(&agent_id, "+12125550177");
        call.status = callops_domain::CallStatus::Completed;
        call.call_started_at = Some(callops_domain::time::to_millis(Utc::now() - Duration::minutes(minutes)));
        call.recording_url = Some("https://storage.vapi.ai/recordings/placeholder.wav".into());
        call.transcript = Some("AI: Hello, this is Riley from Riverside Dental.\nUser: Hi, I need a cleaning.\nSoon, please.".into());
        host.host.store().create_call(&call).await.unwrap();
        // Written past the store's checks, as a value an older version could have left.
        callops_aws::embedded::client_for_endpoint(host.host.dynamodb_endpoint())
            .update_item()
            .table_name(callops::TABLE)
            .key("PK", aws_sdk_dynamodb::types::AttributeValue::S(format!("ORG#demo#CALL#{}", call.id)))
            .key("SK", aws_sdk_dynamodb::types::AttributeValue::S("CALL".into()))
            .update_expression("SET recordingUrl = :url")
            .expression_attribute_values(":url", aws_sdk_dynamodb::types::AttributeValue::S(url.into()))
            .send()
            .await
            .unwrap();
        let row = format!("#recent-rows tr[data-call-id='{}']", call.id);
        browser.until("the call is listed", &format!("return document.querySelector({row:?})")).await;
        browser.client.find(Locator::Css(&row)).await.unwrap().click().await.unwrap();
        browser
            .until(
                "the call's detail opens",
                "const d = document.getElementById('call-detail'); return d.open && document.querySelector('#detail-body .transcript')",
            )
            .await;
        links.push(
            browser
                .eval("return [...document.querySelectorAll('#detail-body a, #detail-body audio')].map((a) => a.getAttribute('href') || a.getAttribute('src'))")
                .await,
        );
        // The transcript reads as turns, each with who spoke.
        let turns = browser.eval("return [...document.querySelectorAll('#detail-body .transcript li')].map((t) => [t.querySelector('.speaker').textContent, t.querySelector('.said').textContent])").await;
        assert_eq!(
            turns,
            serde_json::json!([["Assistant", "Hello, this is Riley from Riverside Dental."], ["Patient", "Hi, I need a cleaning.\nSoon, please."]])
        );
        browser.client.find(Locator::Id("detail-close")).await.unwrap().click().await.unwrap();
    }
    let kept = "https://storage.vapi.ai/recordings/kept.wav";
    assert_eq!(links, vec![serde_json::json!([kept, kept]), serde_json::json!([])], "only the https: recording plays inline and is a link");

    // Schedule a call through the form; it appears in the scheduled list.
    let form = browser.client.find(Locator::Id("schedule-form")).await.unwrap();
    form.find(Locator::Css("[name=phoneNumber]")).await.unwrap().send_keys("(212) 555-0199").await.unwrap();
    form.find(Locator::Css("[name=customerName]")).await.unwrap().send_keys("Dana Whitfield").await.unwrap();
    form.find(Locator::Css("[name=purpose]")).await.unwrap().send_keys("Confirm Tuesday's cleaning").await.unwrap();
    form.find(Locator::Css("[name=moveToCallingHours]")).await.unwrap().click().await.unwrap();
    form.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.until("the call is in the scheduled list", "return document.querySelector('#scheduled-rows li[data-phone=\"+12125550199\"]')").await;
    let status = browser.eval("return document.getElementById('schedule-status').textContent").await;
    assert!(status.as_str().unwrap().starts_with("Scheduled"), "{status}");
    let (_, scheduled) = host.get("/api/outbound/scheduled", Some(DEMO_TOKEN)).await;
    let call = scheduled["calls"].as_array().unwrap().iter().find(|c| c["phoneNumber"] == "+12125550199").expect("stored");
    assert_eq!((call["customerName"].as_str(), call["status"].as_str()), (Some("Dana Whitfield"), Some("SCHEDULED")));
    let call_id = call["id"].as_str().unwrap().to_string();

    // Cancel it from the list: two clicks, then it is gone and CANCELLED.
    let cancel = Locator::Css("#scheduled-rows li[data-phone=\"+12125550199\"] button.danger");
    browser.client.find(cancel).await.unwrap().click().await.unwrap();
    browser.client.find(cancel).await.unwrap().click().await.unwrap();
    browser.until("the call leaves the list", "return !document.querySelector('#scheduled-rows li[data-phone=\"+12125550199\"]')").await;
    let (_, cancelled) = host.get(&format!("/api/calls/{call_id}"), Some(DEMO_TOKEN)).await;
    assert_eq!(cancelled["status"], "CANCELLED");

    // A patient's number: its consents and do-not-call state; a consent recorded and revoked from the page.
    host.send(
        reqwest::Method::POST,
        "/api/dnc",
        Some(DEMO_TOKEN),
        Some(&serde_json::json!({"phoneNumber": "+12125550188", "channel": "letter", "reason": "asked by letter"})),
    )
    .await;
    let lookup = browser.client.find(Locator::Id("number-form")).await.unwrap();
    lookup.find(Locator::Css("[name=phoneNumber]")).await.unwrap().send_keys("+12125550188").await.unwrap();
    lookup.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let listed = browser.until("the number's state shows", "return document.querySelector('#number-body .dnc-state')?.textContent").await;
    assert!(listed.as_str().unwrap().starts_with("On the do-not-call list") && listed.as_str().unwrap().contains("letter"), "{listed}");
    let consent_form = browser.client.find(Locator::Id("consent-form")).await.unwrap();
    consent_form.find(Locator::Css("[name=source]")).await.unwrap().send_keys("Intake form").await.unwrap();
    consent_form.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.until("the consent is listed", "return document.querySelector('#consent-rows li.active')").await;
    let stored = host.host.store().consents("demo", "+12125550188").await.unwrap();
    assert_eq!((stored.len(), stored[0].source.as_str(), stored[0].revoked.is_none()), (1, "Intake form", true));
    browser.client.find(Locator::Css("#consent-rows li.active button.revoke")).await.unwrap().click().await.unwrap();
    browser.until("the consent shows revoked", "return document.querySelector('#consent-rows li.revoked')").await;
    let revoked = host.host.store().consents("demo", "+12125550188").await.unwrap();
    assert_eq!(revoked[0].revoked.as_ref().map(|r| r.channel.as_str()), Some("staff"));
    // The number's last calls: the demo's history has calls to and from +12125550177.
    let content_reads = || async {
        let (_, reads) = host.get("/api/audit?limit=200&entityType=call", Some(DEMO_TOKEN)).await;
        reads["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] == "call.content_read")
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let reads_before = content_reads().await;
    let lookup = browser.client.find(Locator::Id("number-form")).await.unwrap();
    let input = lookup.find(Locator::Css("[name=phoneNumber]")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("+12125550177").await.unwrap();
    lookup.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    let shown = browser.until("the number's calls show", "return document.querySelectorAll('#number-calls li[data-call]').length || null").await;
    let (_, theirs) = host.get("/api/analytics/calls/recent?limit=10&content=false&phoneNumber=%2B12125550177", Some(DEMO_TOKEN)).await;
    let ids: Vec<&str> = theirs["calls"].as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert!(!ids.is_empty() && ids.len() as u64 == shown.as_u64().unwrap(), "{shown} vs {ids:?}");
    let all = host.host.store().all_calls().await.unwrap();
    assert!(ids.iter().all(|id| all.iter().any(|c| c.id.as_str() == *id && c.phone_number == "+12125550177")), "only that number's calls");
    // The page's lists ask for no content: looking the number up read none, so it left no content read in the audit log.
    assert_eq!(content_reads().await, reads_before, "no content read");
    // The patient's records: erased from the page (confirmed), analytics unchanged; the audit log shows it.
    let (_, before) = host.get("/api/analytics/calls?startDate=2000-01-01&endDate=2099-01-01", Some(DEMO_TOKEN)).await;
    browser.eval("window.confirm = () => true; return true").await;
    browser.client.find(Locator::Id("erase-records")).await.unwrap().click().await.unwrap();
    let said = browser
        .until("the erasure is reported", "const t = document.querySelector('#records-status')?.textContent; return t && t.startsWith('Erased') ? t : null")
        .await;
    assert_eq!(said.as_str().unwrap(), format!("Erased {} calls.", ids.len()));
    let (_, after) = host.get("/api/analytics/calls?startDate=2000-01-01&endDate=2099-01-01", Some(DEMO_TOKEN)).await;
    assert_eq!(after, before, "every figure stays");
    assert!(!host.host.store().all_calls().await.unwrap().iter().any(|c| c.phone_number == "+12125550177"));
    let audit = browser.client.find(Locator::Id("audit-form")).await.unwrap();
    audit.find(Locator::Css("[name=entityType]")).await.unwrap().select_by_value("patient").await.unwrap();
    audit.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
    browser.until("the audit log shows the erasure", "return document.querySelector('#audit-rows tr[data-action=\"patient.erased\"]')").await;

    // Phone width: nothing wider than the screen.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.until("the layout settles", "return document.documentElement.clientWidth <= 390").await;
    // The charts redraw at the new width a frame or more after the window
    // resizes (Chart.js watches their boxes); wait for them, up to 20 s.
    browser.until("the page fits the phone's width", "return document.documentElement.scrollWidth - document.documentElement.clientWidth == 0").await;
    let overflow = browser.eval("return document.documentElement.scrollWidth - document.documentElement.clientWidth").await;
    assert_eq!(overflow, 0, "no sideways scrolling at phone width");
    browser.eval("window.scrollTo(0, 0); return true").await;
    browser.screenshot("dashboard-phone").await;
    let height = browser.eval("return document.documentElement.scrollHeight").await.as_u64().unwrap();
    browser.client.set_window_size(390, height as u32).await.unwrap();
    browser.screenshot("dashboard-phone-full").await;
    browser.client.set_window_size(1366, 900).await.unwrap();
    let height = browser.eval("return document.documentElement.scrollHeight").await.as_u64().unwrap();
    browser.client.set_window_size(1366, height as u32).await.unwrap();
    browser.eval("window.scrollTo(0, 0); return true").await;
    browser.screenshot("dashboard-desktop-full").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_managers_panels_show_the_apis_figures_sort_filter_export_and_call_a_missed_patient_back() {
    let host = TestHost::start(true).await;
    let browser = Browser::start(1440, 900, TZ).await;
    browser.client.goto(&format!("{}/", host.base)).await.expect("the page loads");
    let (query, figures) = cards_equal_the_api(&browser, &host, "").await;
    for panel in ["agents", "hourly", "quality", "missed"] {
        browser.until(&format!("{panel} is loaded"), &format!("return document.getElementById('{panel}').dataset.state === 'ready'")).await;
    }

    // Each card shows how its figure moved against the window before.
    let trend = browser.eval("return document.querySelector('[data-kpi=totalCalls] .change').dataset.trend").await;
    let (now, before) = (figures["totalCalls"].as_i64().unwrap(), figures["previous"]["totalCalls"].as_i64().unwrap());
    assert_eq!(
        trend,
        json!(match now.cmp(&before) {
            std::cmp::Ordering::Greater => "up",
            std::cmp::Ordering::Less => "down",
            _ => "flat",
        })
    );
    let missed_card = browser.eval("return document.querySelector('[data-kpi=notReturned]').dataset.value").await;
    assert_eq!(missed_card, json!(figures["missedCalls"]["notReturned"].to_string()));
    // Its colour says what the move means: more missed calls left waiting, or more cost, is bad; more bookings is good.
    let meaning = |now: f64, before: f64, better_up: bool| match (now - before).partial_cmp(&0.0) {
        Some(std::cmp::Ordering::Greater) => {
            if better_up {
                "good"
            } else {
                "bad"
            }
        }
        Some(std::cmp::Ordering::Less) => {
            if better_up {
                "bad"
            } else {
                "good"
            }
        }
        _ => "neutral",
    };
    for (kpi, now, before, better_up) in [
        ("notReturned", &figures["missedCalls"]["notReturned"], &figures["previous"]["missedCalls"]["notReturned"], false),
        ("cost", &figures["cost"]["totalCents"], &figures["previous"]["cost"]["totalCents"], false),
        ("answered", &figures["answered"], &figures["previous"]["answered"], true),
    ] {
        let shown = browser.eval(&format!("return document.querySelector('[data-kpi={kpi}] .change').dataset.meaning")).await;
        assert_eq!(shown, json!(meaning(now.as_f64().unwrap(), before.as_f64().unwrap(), better_up)), "{kpi}: {now} against {before}");
    }

    // The agents side by side: the API's rows and total; sorted by a click on a column.
    let (_, agents) = host.get(&format!("/api/analytics/agents?{query}"), Some(DEMO_TOKEN)).await;
    let shown = browser.eval("return [...document.querySelectorAll('#agents-rows tr')].map((r) => [r.dataset.agentId, r.children[1].textContent])").await;
    let mut want: Vec<(String, i64)> =
        agents["agents"].as_array().unwrap().iter().map(|a| (a["agentId"].as_str().unwrap().to_string(), a["totalCalls"].as_i64().unwrap())).collect();
    want.sort_by_key(|agent| std::cmp::Reverse(agent.1));
    let shown: Vec<(String, i64)> =
        shown.as_array().unwrap().iter().map(|r| (r[0].as_str().unwrap().to_string(), r[1].as_str().unwrap().replace(',', "").parse().unwrap())).collect();
    assert_eq!(shown, want, "most calls first");
    let total = browser.eval("return document.querySelector('#agents-total tr').children[1].textContent").await;
    assert_eq!(total.as_str().unwrap().replace(',', ""), agents["total"]["totalCalls"].to_string());
    browser.client.find(Locator::Css("#agents-table th[data-sort=totalCalls] button")).await.unwrap().click().await.unwrap();
    let sorted = browser.eval("return [document.querySelector('#agents-table th[data-sort=totalCalls]').getAttribute('aria-sort'), document.querySelector('#agents-rows tr').dataset.agentId]").await;
    assert_eq!(sorted, json!(["ascending", want.last().unwrap().0]));

    // When patients call: each cell of the week is the API's.
    let (_, hourly) = host.get(&format!("/api/analytics/calls/hourly?{query}"), Some(DEMO_TOKEN)).await;
    let cells = browser
        .eval("return [...document.querySelectorAll('#heat .cell')].map((c) => [Number(c.dataset.weekday), Number(c.dataset.hour), Number(c.dataset.calls)])")
        .await;
    let want: Vec<Value> = hourly["cells"].as_array().unwrap().iter().map(|c| json!([c["weekday"], c["hour"], c["calls"]])).collect();
    assert_eq!(cells, json!(want));
    let split = browser.eval("return document.getElementById('hourly-split').textContent").await;
    assert!(split.as_str().unwrap().contains(&format!("{} after hours", hourly["afterHours"]["calls"])), "{split}");

    // Readable: AA contrast on the new panels.
    for selector in [
        "#agents-table th, #agents-table td",
        ".kpi .change",
        ".split, .heat-legend, #missed-caption, .missed-list .who, #sentiment-legend li span, .ratings dt, .ratings dd",
    ] {
        let (ratio, worst) = lowest_contrast(&browser, selector).await;
        assert!(ratio >= 4.5, "{selector}: contrast {ratio:.2} at {worst}");
    }
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    let height = browser.eval("return document.documentElement.scrollHeight").await.as_u64().unwrap();
    browser.client.set_window_size(1440, height as u32).await.unwrap();
    browser.eval("window.scrollTo(0, 0); return true").await;
    let shot = browser.screenshot("manager-desktop").await;
    assert!(std::fs::metadata(&shot).unwrap().len() > 20_000, "a real screenshot");
    browser.client.set_window_size(1440, 900).await.unwrap();

    // The worklist is the API's; "Call back" schedules a follow-up through the outbound rules.
    let (_, missed) = host.get(&format!("/api/analytics/missed?{query}&limit=10"), Some(DEMO_TOKEN)).await;
    let listed = browser.eval("return [...document.querySelectorAll('#missed-rows li')].map((li) => li.dataset.callId)").await;
    let want: Vec<Value> = missed["calls"].as_array().unwrap().iter().map(|c| c["id"].clone()).collect();
    assert!(!want.is_empty(), "the demo practice has missed calls to return");
    assert_eq!(listed, json!(want));
    let number = missed["calls"][0]["phoneNumber"].as_str().unwrap().to_string();
    browser.client.find(Locator::Css("#missed-rows li button")).await.unwrap().click().await.unwrap();
    let said = browser.until("the call back is scheduled", "const s = document.querySelector('#missed-rows li .form-status'); return s && s.textContent && !s.textContent.endsWith('…') ? s.textContent : null").await;
    assert!(said.as_str().unwrap().starts_with("Call back scheduled"), "{said}");
    let (_, scheduled) = host.get("/api/outbound/scheduled?limit=100", Some(DEMO_TOKEN)).await;
    let waiting = scheduled["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["phoneNumber"] == number.as_str() && c["callType"] == "OUTBOUND_FOLLOWUP")
        .cloned()
        .unwrap_or_else(|| panic!("{scheduled}"));

    // The calls filter: inbound only, every panel follows.
    browser.client.find(Locator::Id("kind")).await.unwrap().select_by_value("direction=inbound").await.unwrap();
    let (inbound_query, inbound) = cards_equal_the_api(&browser, &host, &query).await;
    assert!(inbound_query.contains("direction=inbound"), "{inbound_query}");
    assert!(inbound["totalCalls"].as_i64() < figures["totalCalls"].as_i64());
    // Redrawn, the list does not re-arm the call back: the number's rows say it waits.
    browser.until("the worklist is redrawn", "return document.getElementById('missed').dataset.state === 'ready'").await;
    let rows = browser
        .eval(&format!("return [...document.querySelectorAll('#missed-rows li[data-phone=\"{number}\"] button')].map((b) => [b.disabled, b.textContent])"))
        .await;
    assert!(!rows.as_array().unwrap().is_empty() && rows.as_array().unwrap().iter().all(|r| r == &json!([true, "Call back waiting"])), "{rows}");
    // Pressed again elsewhere (a second tab): the one waiting stands, and nothing new is scheduled.
    let again = host
        .send(
            reqwest::Method::POST,
            "/api/outbound/schedule",
            Some(DEMO_TOKEN),
            Some(&json!({"phoneNumber": number, "callType": "OUTBOUND_FOLLOWUP", "scheduledAt": callops_domain::time::format(&(Utc::now() + Duration::minutes(2))), "moveToCallingHours": true, "voiceAgentId": waiting["voiceAgentId"]})),
        )
        .await;
    callops_tests::assert_error(&again, reqwest::StatusCode::CONFLICT, "duplicate_call");

    // Export: the range's calls as one CSV, every part of it.
    // The file the page hands to the browser to save is kept here instead.
    browser.eval("window.exported = null; URL.createObjectURL = (blob) => { window.exported = blob; return '#saved'; }; HTMLAnchorElement.prototype.click = function () {}; return true").await;
    browser.client.find(Locator::Id("export-calls")).await.unwrap().click().await.unwrap();
    let text = browser.until("the export is ready", "if (!window.exported) return null; if (!window.exportedText) window.exported.text().then((t) => { window.exportedText = t; }); return window.exportedText || null").await;
    let rows = csv::Reader::from_reader(text.as_str().unwrap().as_bytes()).records().count();
    assert_eq!(rows as i64, inbound["totalCalls"].as_i64().unwrap(), "one row per call of the range");

    // Phone width: the new panels fit too.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.until("the page fits the phone's width", "return document.documentElement.scrollWidth - document.documentElement.clientWidth == 0").await;
    let height = browser.eval("return document.documentElement.scrollHeight").await.as_u64().unwrap();
    browser.client.set_window_size(390, height as u32).await.unwrap();
    browser.eval("window.scrollTo(0, 0); return true").await;
    browser.screenshot("manager-phone").await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn deployed_the_page_signs_in_at_the_identity_provider_and_keeps_the_token_in_memory() {
    let idp = FakeIdp::start(DEMO_TOKEN).await;
    let sign_in = SignIn::Oidc { issuer: idp.issuer.clone(), client_id: fake_idp::CLIENT_ID.into(), scope: "openid".into() };
    let host = TestHost::start_with(HostOptions { page_sign_in: Some(sign_in), ..host_options(true, None) }).await;
    let (_, config) = host.get("/config.json", None).await;
    assert_eq!(config["signIn"]["mode"], "oidc");
    assert!(!config.to_string().contains(DEMO_TOKEN), "the page is not handed a token: {config}");

    let browser = Browser::start(1280, 800, TZ).await;
    browser.client.goto(&format!("{}/", host.base)).await.unwrap();
    // Signed in through the provider (code + PKCE), the page reads the API.
    cards_equal_the_api(&browser, &host, "").await;
    assert_eq!(idp.tokens_issued(), 1, "one code exchanged, its PKCE verifier checked");
    let url = browser.client.current_url().await.unwrap();
    assert_eq!((url.path(), url.query()), ("/", None), "the code is gone from the address bar");
    let kept = browser.eval("return JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookies: document.cookie })").await;
    assert_eq!(kept, "{\"local\":{},\"session\":{},\"cookies\":\"\"}", "nothing kept where another page could read it");
    browser.client.clone().close().await.unwrap();
}
