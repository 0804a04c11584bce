//! The practice's outbound work, done from the dashboard in headless
//! Chromium at desktop and phone width, each task checked against the API
//! afterwards: consents imported from a CSV file, one recorded and revoked, a campaign created from a
//! CSV file with every refused row shown and why, the campaign opened, a
//! number added to the do-not-call list and taken off with a reason, an
//! agent created and edited (zone, weekly hours, calls at once), the
//! settings changed within the law's floor, a call scheduled, moved and
//! cancelled; and at phone width no panel hides what matters behind a
//! sideways scroll.

use callops_tests::{DEMO_TOKEN, TestHost, browser::Browser, callable};
use fantoccini::Locator;
use serde_json::{Value, json};

/// Sets a form control's value as a person would leave it (time and date inputs are locale-bound to type into).
async fn set(browser: &Browser, selector: &str, value: &str) {
    let script = format!(
        "const e = document.querySelector({selector:?}); e.value = {value:?}; e.dispatchEvent(new Event('input', {{bubbles: true}})); e.dispatchEvent(new Event('change', {{bubbles: true}})); return e.value"
    );
    assert_eq!(browser.eval(&script).await, json!(value), "{selector}");
}

/// Clicks `selector` once it is scrolled to the middle of the window (clear of the sticky header); found
/// again when the live refresh redrew it between finding and clicking.
async fn click(browser: &Browser, selector: &str) {
    let mut last = String::new();
    for _ in 0..10 {
        browser.eval(&format!("document.querySelector({selector:?}).scrollIntoView({{block: 'center'}}); return true")).await;
        let found = browser.client.find(Locator::Css(selector)).await.unwrap_or_else(|e| panic!("{selector}: {e}"));
        match found.click().await {
            Ok(()) => return,
            Err(err) => last = err.to_string(),
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{selector} could not be clicked: {last}");
}

/// Hands a file to a file input, as choosing it in the dialog would.
async fn upload(browser: &Browser, selector: &str, name: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    browser.client.find(Locator::Css(selector)).await.unwrap().send_keys(path.to_str().unwrap()).await.unwrap();
    dir
}

/// Waits until the status line `id` says something final (not "…"), and returns it.
async fn said(browser: &Browser, id: &str) -> String {
    let script = format!("const s = document.getElementById('{id}'); return s && s.textContent && !s.textContent.endsWith('…') ? s.textContent : null");
    browser.until(&format!("{id} says how it went"), &script).await.as_str().unwrap().to_string()
}

/// Whether the page stays inside the window's width and `selector` shows all it holds: nothing past its own
/// width (an inner sideways scroll) or past the window's edge. Says what sticks out when something does.
async fn fits(browser: &Browser, selector: &str) -> Value {
    let script = format!(
        "const d = document.documentElement; const w = d.clientWidth; const e = document.querySelector({selector:?}); \
         const out = e ? [...e.querySelectorAll('*')].filter((x) => x.getBoundingClientRect().right > w + 1).map((x) => x.tagName + ' ' + (x.name || x.className)) : []; \
         return d.scrollWidth <= w && (!e || e.scrollWidth <= e.clientWidth + 1) && out.length === 0 ? true : out"
    );
    browser.eval(&script).await
}

async fn the_outbound_work_is_done_from_the_dashboard(width: u32, height: u32) {
    let host = TestHost::start(true).await;
    let browser = Browser::start(width, height, "America/New_York").await;
    browser.client.goto(&format!("{}/", host.base)).await.expect("the page loads");
    browser.until("the agents are listed", "return document.querySelectorAll('#agent-list li').length >= 2").await;
    browser.until("the settings are read", "return document.getElementById('settings').dataset.state === 'ready'").await;
    let phone = width < 600;

    // Consents imported from another system: each good row recorded, each bad one said with why.
    let (ada, grace, nobody, listed) = (callable(201), callable(202), callable(203), callable(204));
    let consents = format!(
        "phoneNumber,basis,source\n{ada},prior_express_written,signed recall form\n{grace},prior_express_written,signed recall form\n{nobody},maybe,hallway chat\n"
    );
    let _file = upload(&browser, "#import-form input[type=file]", "consents.csv", &consents).await;
    click(&browser, "#import-form button[type=submit]").await;
    assert_eq!(said(&browser, "import-status").await, "2 consents recorded, 1 row refused (below).");
    let refused =
        browser.eval("return [...document.querySelectorAll('#import-rows-table tbody tr')].map((r) => [Number(r.dataset.row), r.dataset.code])").await;
    assert_eq!(refused, json!([[3, "invalid_basis"]]));
    let (_, on_record) = host.get(&format!("/api/consents?phoneNumber={}", ada.replace('+', "%2B")), Some(DEMO_TOKEN)).await;
    assert_eq!(on_record["consents"][0]["basis"], "prior_express_written", "{on_record}");

    // The national registry's copy, from the FTC's file: each number added, each bad line said, and how long the copy lets marketing calls go.
    let today = chrono::Utc::now().date_naive();
    // Fixed US numbers: the file holds ten-digit US numbers, whatever zone is in its morning when the test runs.
    let registry = "5035550951\nnot a number\n5035550952\n";
    let _registry = upload(&browser, "#registry-form input[type=file]", "national.txt", registry).await;
    click(&browser, "#registry-form button[type=submit]").await;
    assert_eq!(said(&browser, "registry-status").await, format!("2 numbers added, 1 line skipped (first: line 2); the copy is as of {today}."));
    let copy = browser
        .until("the copy is listed", "const li = document.querySelector('#registry-list li[data-registry=national]'); return li && li.textContent")
        .await;
    assert!(copy.as_str().unwrap().contains(&format!("good for marketing calls through {}", today + chrono::Duration::days(31))), "{copy}");

    // A campaign from a CSV file: the consented row is scheduled, each other row refused with why, in plain words.
    let contacts = format!("number,name,appointment\n{ada},Ada Lovelace,Tuesday\n{nobody},Nobody Known,Friday\nnot a number,Typo,Monday\n");
    set(&browser, "#campaign-form [name=name]", "Winter recall").await;
    set(&browser, "#campaign-form [name=voiceAgentId]", "front-desk").await;
    // Starting tomorrow, so its call waits to be seen.
    let tomorrow = (chrono::Utc::now().with_timezone(&chrono_tz::America::New_York) + chrono::Duration::days(1)).format("%Y-%m-%dT11:00").to_string();
    set(&browser, "#campaign-form [name=startAt]", &tomorrow).await;
    let _csv = upload(&browser, "#campaign-form input[type=file]", "recall.csv", &contacts).await;
    click(&browser, "#campaign-form button[type=submit]").await;
    assert_eq!(said(&browser, "campaign-status").await, "“Winter recall” created: 1 call scheduled, 2 rows refused (below).");
    let rows = browser.eval("return [...document.querySelectorAll('#campaign-rows-table tbody tr')].map((r) => [Number(r.dataset.row), r.dataset.code, r.cells[2].textContent])").await;
    assert_eq!(
        (rows[0][0].clone(), rows[0][1].clone(), rows[1][0].clone(), rows[1][1].clone()),
        (json!(2), json!("no_consent"), json!(3), json!("invalid_phone_number")),
        "{rows}"
    );
    let why = rows[0][2].as_str().unwrap();
    assert!(why.contains("prior express written consent") && !why.contains("/api/"), "plain words, no route: {why}");
    let (_, campaigns) = host.get("/api/campaigns", Some(DEMO_TOKEN)).await;
    let campaign = campaigns["campaigns"].as_array().unwrap().iter().find(|c| c["name"] == "Winter recall").cloned().expect("stored");
    let id = campaign["id"].as_str().unwrap().to_string();
    // Opened, it shows its waiting call.
    let item = format!("#campaign-rows li[data-campaign-id=\"{id}\"]");
    browser.until("the campaign is listed", &format!("return document.querySelector({:?}) !== null", item)).await;
    click(&browser, &format!("{item} .top button.link")).await;
    let waiting = browser
        .until(
            "its waiting calls are shown",
            &format!(
                "const w = document.querySelectorAll({:?}); return w.length ? [...w].map((li) => li.textContent) : null",
                format!("{item} .campaign-waiting li[data-call-id]")
            ),
        )
        .await;
    assert!(waiting[0].as_str().unwrap().contains("Ada Lovelace"), "{waiting}");
    // ...and which rows were refused when it was made, and why (the rows, not the numbers).
    let kept = browser
        .eval(&format!(
            "return [...document.querySelectorAll({:?})].map((li) => [Number(li.dataset.row), li.dataset.code])",
            format!("{item} .campaign-refusals li")
        ))
        .await;
    assert_eq!(kept, json!([[2, "no_consent"], [3, "invalid_phone_number"]]));
    let (_, opened) = host.get(&format!("/api/campaigns/{id}"), Some(DEMO_TOKEN)).await;
    assert!(!opened.to_string().contains(&nobody), "a refused row keeps no number: {opened}");
    // Paused from the page: its waiting call is held; resumed: laid out again. The badge follows.
    click(&browser, &format!("{item} button[data-action=pause]")).await;
    browser
        .until(
            "the campaign shows paused",
            &format!("return document.querySelector({:?})?.textContent === 'Paused' || null", format!("{item} [data-campaign-status=paused]")),
        )
        .await;
    let (_, paused) = host.get(&format!("/api/campaigns/{id}"), Some(DEMO_TOKEN)).await;
    assert_eq!(paused["campaign"]["status"], "paused", "{paused}");
    browser
        .until(
            "resume is offered",
            &format!("const b = document.querySelector({:?}); return (b && !b.hidden) || null", format!("{item} button[data-action=resume]")),
        )
        .await;
    click(&browser, &format!("{item} button[data-action=resume]")).await;
    browser.until("the campaign runs again", &format!("return document.querySelector({:?}) === null || null", format!("{item} [data-campaign-status]"))).await;
    let (_, resumed) = host.get(&format!("/api/campaigns/{id}"), Some(DEMO_TOKEN)).await;
    assert_eq!((resumed["campaign"]["status"].as_str(), resumed["counts"]["scheduled"].as_u64()), (Some("active"), Some(1)), "{resumed}");
    let (_, waiting) = host.get(&format!("/api/outbound/scheduled?campaignId={id}"), Some(DEMO_TOKEN)).await;
    let again = callops_domain::time::parse(waiting["calls"][0]["scheduledAt"].as_str().expect("a time again")).unwrap();
    assert!(again >= callops_domain::time::parse(resumed["campaign"]["startsAt"].as_str().unwrap()).unwrap(), "not before the campaign's start: {waiting}");

    // A patient texts to say "stop calling me": on the list at once, with how they asked; taken off later, with why.
    set(&browser, "#number-input", &listed).await;
    click(&browser, "#number-form button[type=submit]").await;
    browser.until("the number is shown", "return document.getElementById('dnc-form') !== null").await;
    // A consent recorded at the desk, then revoked.
    set(&browser, "#consent-form [name=basis]", "prior_express_written").await;
    set(&browser, "#consent-form [name=source]", "Signed at the front desk").await;
    click(&browser, "#consent-form button[type=submit]").await;
    browser.until("the consent is listed", "return document.querySelector('#consent-rows li.active button.revoke') !== null").await;
    let consents_path = format!("/api/consents?phoneNumber={}", listed.replace('+', "%2B"));
    let recorded = host.get(&consents_path, Some(DEMO_TOKEN)).await.1;
    assert_eq!(
        (recorded["consents"][0]["basis"].clone(), recorded["consents"][0]["source"].clone()),
        (json!("prior_express_written"), json!("Signed at the front desk")),
        "{recorded}"
    );
    click(&browser, "#consent-rows li.active button.revoke").await;
    browser
        .until(
            "the consent shows revoked",
            "return document.querySelector('#consent-rows li.revoked') !== null && document.getElementById('dnc-form') !== null",
        )
        .await;
    assert_eq!(host.get(&consents_path, Some(DEMO_TOKEN)).await.1["consents"][0]["revoked"]["channel"], "staff");
    set(&browser, "#dnc-form [name=channel]", "sms").await;
    set(&browser, "#dnc-form [name=source]", "Texted STOP").await;
    click(&browser, "#dnc-form button[type=submit]").await;
    assert!(said(&browser, "dnc-status").await.starts_with("On the list."));
    let history_path = format!("/api/dnc/{}/history", listed.replace('+', "%2B"));
    let last_change = |answer: (reqwest::StatusCode, Value)| answer.1["history"].as_array().unwrap().last().cloned().unwrap();
    let added = last_change(host.get(&history_path, Some(DEMO_TOKEN)).await);
    assert_eq!((added["action"].clone(), added["channel"].clone(), added["source"].clone()), (json!("added"), json!("sms"), json!("Texted STOP")), "{added}");
    set(&browser, "#dnc-form [name=reason]", "Asked to be called again at the desk").await;
    click(&browser, "#dnc-form button[type=submit]").await;
    assert!(said(&browser, "dnc-status").await.starts_with("Taken off the list."));
    let removed = last_change(host.get(&history_path, Some(DEMO_TOKEN)).await);
    assert_eq!((removed["action"].clone(), removed["reason"].clone()), (json!("removed"), json!("Asked to be called again at the desk")), "{removed}");

    // An agent set up: its zone, its week (closed Sundays, short Saturdays), how many calls at once; then changed.
    click(&browser, "#agent-new").await;
    for (field, value) in [
        ("id", "evening"),
        ("name", "Evening line"),
        ("vapiAssistantId", "asst-evening"),
        ("vapiPhoneNumberId", "pn-evening"),
        ("timeZone", "America/Chicago"),
        ("maxConcurrentCalls", "2"),
        ("start-sat", "09:00"),
        ("end-sat", "13:00"),
    ] {
        set(&browser, &format!("#agent-form [name={field}]"), value).await;
    }
    browser.eval("document.querySelector('#agent-form [name=open-sun]').checked = false; return true").await;
    click(&browser, "#agent-form button[type=submit]").await;
    assert_eq!(said(&browser, "agent-status").await, "Evening line saved.");
    let (_, agent) = host.get("/api/agents/evening", Some(DEMO_TOKEN)).await;
    assert_eq!(
        (agent["timeZone"].clone(), agent["maxConcurrentCalls"].clone(), agent["closedDays"].clone()),
        (json!("America/Chicago"), json!(2), json!(["sun"])),
        "{agent}"
    );
    assert_eq!(agent["hoursByDay"]["sat"], json!({"start": "09:00", "end": "13:00"}), "{agent}");
    browser.until("the new agent is listed", "return document.querySelector('#agent-list li[data-agent-id=evening] button') !== null").await;
    click(&browser, "#agent-list li[data-agent-id=evening] button").await;
    assert_eq!(browser.eval("return document.querySelector('#agent-form [name=end-sat]').value").await, json!("13:00"), "the form shows the agent as stored");
    set(&browser, "#agent-form [name=maxConcurrentCalls]", "4").await;
    click(&browser, "#agent-form button[type=submit]").await;
    assert_eq!(said(&browser, "agent-status").await, "Evening line saved.");
    assert_eq!(host.get("/api/agents/evening", Some(DEMO_TOKEN)).await.1["maxConcurrentCalls"], json!(4));

    // Settings: closed days, a cap, how long content is kept, recording, and more consent than the law's floor.
    set(&browser, "#settings-form [name=holidays]", "2027-07-05\n2027-01-01").await;
    set(&browser, "#settings-form [name=maxAttemptsPerNumberPerDay]", "4").await;
    set(&browser, "#settings-form [name=contentDays]", "365").await;
    set(&browser, "#settings-form [name=recordingPolicy]", "do_not_record").await;
    // The practice is in Chicago, whatever the browser's zone (New York here): every time reads in Chicago.
    set(&browser, "#settings-form [name=timeZone]", "America/Chicago").await;
    browser.eval("document.querySelector('#consent-policy [data-call-type=OUTBOUND_FOLLOWUP] input[value=prior_express]').checked = false; return true").await;
    click(&browser, "#settings-form button[type=submit]").await;
    assert_eq!(said(&browser, "settings-status").await, "Settings saved.");
    let (_, settings) = host.get("/api/settings", Some(DEMO_TOKEN)).await;
    assert_eq!(settings["holidays"], json!(["2027-01-01", "2027-07-05"]), "{settings}");
    assert_eq!(
        (settings["maxAttemptsPerNumberPerDay"].clone(), settings["retention"]["contentDays"].clone(), settings["recordingPolicy"].clone()),
        (json!(4), json!(365), json!("do_not_record"))
    );
    assert_eq!(settings["timeZone"], "America/Chicago");
    let follow_up: Vec<Value> = settings["consentPolicy"]["OUTBOUND_FOLLOWUP"].as_array().unwrap().clone();
    assert!(!follow_up.contains(&json!("prior_express")) && !follow_up.is_empty(), "{follow_up:?}");
    // The law's floor: no call type may need no consent at all; nothing is written.
    browser.eval("for (const i of document.querySelectorAll('#consent-policy [data-call-type=OUTBOUND_LEAD] input')) i.checked = false; return true").await;
    click(&browser, "#settings-form button[type=submit]").await;
    assert!(said(&browser, "settings-status").await.contains("need at least one kind of consent"));
    assert_eq!(host.get("/api/settings", Some(DEMO_TOKEN)).await.1["consentPolicy"], settings["consentPolicy"]);

    // A call scheduled from the form, moved, then cancelled.
    let in_minutes = |m: i64| {
        let at = chrono::Utc::now().with_timezone(&chrono_tz::America::New_York) + chrono::Duration::minutes(m);
        at.format("%Y-%m-%dT%H:%M").to_string()
    };
    set(&browser, "#schedule-form [name=phoneNumber]", &grace).await;
    set(&browser, "#schedule-form [name=scheduledAt]", &in_minutes(60)).await;
    set(&browser, "#schedule-form [name=customerName]", "Grace Hopper").await;
    click(&browser, "#schedule-form button[type=submit]").await;
    assert!(said(&browser, "schedule-status").await.starts_with("Scheduled:"));
    let row = format!("#scheduled-rows li[data-phone=\"{grace}\"]");
    browser.until("the call is listed", &format!("return document.querySelector({row:?}) !== null")).await;
    let before = browser.eval(&format!("return document.querySelector({:?}).textContent", format!("{row} .when"))).await;
    click(&browser, &format!("{row} .row-actions button:not(.danger)")).await;
    set(&browser, &format!("{row} .move-form [name=scheduledAt]"), &in_minutes(95)).await;
    click(&browser, &format!("{row} .move-form button[type=submit]")).await;
    browser
        .until(
            "the list shows the new time",
            &format!(
                "const w = document.querySelector({:?}); return w && w.textContent !== {before} && !document.querySelector({:?})",
                format!("{row} .when"),
                format!("{row} .move-form")
            ),
        )
        .await;
    let (_, waiting) = host.get("/api/outbound/scheduled?limit=100", Some(DEMO_TOKEN)).await;
    let call = waiting["calls"].as_array().unwrap().iter().find(|c| c["phoneNumber"] == grace.as_str()).cloned().expect("still waiting");
    let at = callops_domain::time::parse(call["scheduledAt"].as_str().unwrap()).unwrap();
    let moved = at - chrono::Utc::now();
    assert!(moved > chrono::Duration::minutes(85) && moved < chrono::Duration::minutes(100), "moved to about 95 minutes from now: {moved}");
    let shown = browser.eval(&format!("return document.querySelector({:?}).textContent", format!("{row} .when"))).await;
    let chicago = at.with_timezone(&chrono_tz::America::Chicago).format("%b %-d, %-I:%M %p").to_string();
    assert_eq!(shown.as_str().unwrap().replace('\u{202f}', " "), chicago, "the time as the practice reads it, in its own zone");
    click(&browser, &format!("{row} .row-actions button.danger")).await;
    click(&browser, &format!("{row} .row-actions button.danger")).await;
    browser.until("the call leaves the list", &format!("return document.querySelector({row:?}) === null")).await;
    let (_, cancelled) = host.get(&format!("/api/calls/{}", call["id"].as_str().unwrap()), Some(DEMO_TOKEN)).await;
    assert_eq!(cancelled["status"], "CANCELLED");

    // Nothing behind a sideways scroll: the page, the recent calls (every column that matters), the audit log.
    browser.until("the recent calls are shown", "return document.getElementById('recent').dataset.state === 'ready'").await;
    click(&browser, "#audit-form button[type=submit]").await;
    browser.until("the audit log is shown", "return document.getElementById('audit').dataset.state === 'ready'").await;
    // Ids and subjects' pseudonyms wait behind a toggle: the log reads as who did what to which kind of record.
    let bare = browser
        .eval("return [...document.querySelectorAll('#audit-rows td[data-label=Record], #audit-rows td[data-label=Who]')].filter((c) => /[0-9a-f]{8}-[0-9a-f]{4}|[0-9a-f]{16}/.test(c.innerText) || !c.querySelector('details.id-toggle:not([open]) code')).length")
        .await;
    assert_eq!(bare, json!(0), "no id shows until its toggle is opened");
    for selector in [
        "#kpis",
        "#agents .table-wrap",
        "#missed",
        "#recent .table-wrap",
        "#scheduled",
        "#campaigns",
        "#campaign-result",
        "#number",
        "#import-result",
        "#audit .table-wrap",
        "#agent-form",
        "#settings-form",
    ] {
        let fit = fits(&browser, selector).await;
        assert_eq!(fit, json!(true), "{selector} scrolls sideways at {width} px: {fit}");
    }
    if phone {
        let shown = browser
            .eval("const r = document.querySelector('#recent-rows tr'); return [...r.cells].filter((c) => getComputedStyle(c).display !== 'none').length")
            .await;
        assert_eq!(shown, json!(4), "started, patient, outcome and cost on every row");
    }
    for (name, selector) in [("setup", ".outbound.setup"), ("campaigns", "#campaigns-title"), ("number", "#number-title")] {
        let panel = browser.client.find(Locator::Css(selector)).await.unwrap();
        let panel = if name == "setup" { panel } else { panel.find(Locator::XPath("..")).await.unwrap() };
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::write(dir.join(format!("outbound-work-{width}-{name}.png")), panel.screenshot().await.unwrap()).unwrap();
    }
    let page = browser.eval("return document.documentElement.scrollHeight").await.as_u64().unwrap();
    browser.client.set_window_size(width, page as u32).await.unwrap();
    browser.eval("window.scrollTo(0, 0); return true").await;
    browser.screenshot(&format!("outbound-work-{width}")).await;
    browser.client.clone().close().await.unwrap();
}

#[tokio::test]
async fn the_outbound_work_is_done_from_the_dashboard_at_desktop_width() {
    the_outbound_work_is_done_from_the_dashboard(1440, 900).await;
}

#[tokio::test]
async fn the_outbound_work_is_done_from_the_dashboard_at_phone_width() {
    the_outbound_work_is_done_from_the_dashboard(390, 844).await;
}
