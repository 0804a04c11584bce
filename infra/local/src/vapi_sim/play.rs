//! How a simulated call plays out once Vapi took it: a ring, the status
//! updates, a varied and realistic outcome by call type (Vapi's
//! endedReason, the analysis, cost, duration, transcript), and the
//! messages the webhook gets, delivered as Vapi delivers them.

use super::*;

/// What came of a simulated call: Vapi's endedReason and the analysis the assistant extracted.
fn outcome(rng: &mut StdRng, call_type: &str) -> (&'static str, Option<Value>, bool) {
    let roll: u32 = rng.random_range(0..100);
    let quality = rng.random_range(3..=5);
    let insurer = ["Delta Dental", "Cigna", "Aetna", "MetLife", "Guardian"][rng.random_range(0..5)];
    if roll < 12 {
        return ("customer-did-not-answer", None, false);
    }
    if roll < 16 {
        return ("customer-busy", None, false);
    }
    if roll < 25 {
        return ("voicemail", Some(json!({"outcome": "VOICEMAIL"})), false);
    }
    if call_type == "OUTBOUND_DEBT" || roll >= 90 {
        let success = rng.random_bool(0.45);
        let cents = rng.random_range(40..600) * 100;
        return (
            "customer-ended-call",
            Some(json!({
                "outcome": if success { "PAYMENT_PLAN" } else { "INFORMATION" }, "collectionAttempted": true,
                "collectionSuccessful": success, "collectionAmountCents": if success { cents } else { 0 },
                "paymentPlanDiscussed": success, "paymentPlanAmountCents": if success { cents } else { 0 },
                "customerSentiment": if success { "positive" } else { "neutral" }, "callQuality": quality, "aiConfidence": 0.86,
            })),
            false,
        );
    }
    if roll < 60 {
        return (
            "customer-ended-call",
            Some(json!({
                "outcome": "BOOKED", "appointmentBooked": true, "insuranceVerified": rng.random_bool(0.7), "insuranceProvider": insurer,
                "customerSentiment": "positive", "callQuality": quality, "aiConfidence": 0.93,
            })),
            true,
        );
    }
    if roll < 72 {
        return (
            "assistant-ended-call",
            Some(json!({
                "outcome": "INSURANCE_INQUIRY", "insuranceVerified": true, "insuranceProvider": insurer,
                "customerSentiment": "neutral", "callQuality": quality, "aiConfidence": 0.88,
                "followUpRequired": rng.random_bool(0.3),
            })),
            false,
        );
    }
    if roll < 80 {
        return (
            "assistant-forwarded-call",
            Some(json!({
                "outcome": "TRANSFERRED", "transferredTo": "Front desk", "customerSentiment": "neutral", "callQuality": quality, "aiConfidence": 0.8,
            })),
            false,
        );
    }
    (
        "customer-ended-call",
        Some(json!({
            "outcome": "INFORMATION", "customerSentiment": "positive", "callQuality": quality, "aiConfidence": 0.9,
        })),
        false,
    )
}

fn pause(rng: &mut StdRng, (from, to): (u64, u64)) -> Duration {
    Duration::from_millis(if to > from { rng.random_range(from..to) } else { from })
}

/// Plays a call out: ringing, in progress, ended, with its report.
pub(super) async fn play(sim: Arc<Sim>, id: String) {
    let seed = id.bytes().fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = StdRng::seed_from_u64(seed);
    let call_type = sim
        .calls
        .lock()
        .expect("never poisoned")
        .get(&id)
        .and_then(|c| c.pointer("/assistantOverrides/variableValues/callType").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_default();
    let (ended_reason, analysis, booked) = outcome(&mut rng, &call_type);
    // A call that asked for recording consent: the callee who answers stays on the line, which is consent.
    let consent_asked = sim
        .calls
        .lock()
        .expect("never poisoned")
        .get(&id)
        .and_then(|c| c.pointer("/assistantOverrides/compliancePlan/recordingConsentPlan/type").and_then(Value::as_str).map(str::to_string));
    let answered = !matches!(ended_reason, "customer-did-not-answer" | "customer-busy");

    // A call ended through its control URL stops here, wherever it is.
    let hangup = sim.hangups.lock().expect("never poisoned").get(&id).cloned().unwrap_or_default();
    let wait = |pause: Duration| {
        let hangup = hangup.clone();
        async move {
            tokio::select! {
                () = tokio::time::sleep(pause) => true,
                () = hangup.notified() => false,
            }
        }
    };

    if !wait(pause(&mut rng, sim.settings.ring_ms)).await {
        return;
    }
    let Some(snapshot) = set_status(&sim, &id, "ringing") else { return };
    deliver(&sim, &snapshot, json!({"type": "status-update", "status": "ringing"})).await;
    let started = Utc::now();
    if answered {
        let Some(snapshot) = set_status(&sim, &id, "in-progress") else { return };
        deliver(&sim, &snapshot, json!({"type": "status-update", "status": "in-progress"})).await;
        if !wait(pause(&mut rng, sim.settings.talk_ms)).await {
            return;
        }
    }
    // Reported durations are those of real calls; the simulator plays them faster. A call capped by
    // `maxDurationSeconds` ends there, as Vapi ends it (`exceeded-max-duration`).
    let cap = sim.calls.lock().expect("never poisoned").get(&id).and_then(|c| c.pointer("/assistantOverrides/maxDurationSeconds").and_then(Value::as_i64));
    let drawn: i64 = if answered { rng.random_range(35..420) } else { 0 };
    let seconds = cap.map_or(drawn, |cap| drawn.min(cap));
    let ended_reason = if answered && cap.is_some_and(|cap| drawn > cap) { "exceeded-max-duration" } else { ended_reason };
    let ended = started + chrono::Duration::seconds(seconds);
    let cost = if answered { 0.02 + seconds as f64 * 0.0011 } else { 0.01 };
    let name = sim
        .calls
        .lock()
        .expect("never poisoned")
        .get(&id)
        .and_then(|c| c.pointer("/customer/name").and_then(Value::as_str).map(str::to_string))
        .unwrap_or_else(|| "there".into());
    let transcript = if answered {
        format!("AI: Hi {name}, this is the practice calling.\nUser: Oh hi, yes.\nAI: I'm calling about your visit.\nUser: Sure, go ahead.\n")
    } else {
        String::new()
    };
    let mut messages =
        vec![json!({"role": "bot", "message": format!("Hi {name}, this is the practice calling."), "time": started.timestamp_millis(), "secondsFromStart": 0})];
    if booked {
        messages.push(
            json!({"role": "tool_calls", "toolCalls": [{"id": "tool-1", "type": "function", "function": {"name": "bookAppointment", "arguments": "{}"}}]}),
        );
    }
    let summary = if answered { "The patient spoke with the assistant." } else { "Nobody answered." };
    // Half the calls come in today's shapes (a structured output, artifact.recording), half in the older ones.
    let current = id.bytes().map(u32::from).sum::<u32>() % 2 == 0;
    let recording = answered.then(|| format!("https://storage.vapi.ai/{id}-mono.wav"));
    // Turn latencies, and the transfer a forwarded call made, as Vapi records them.
    let turns = rng.random_range(3..12_usize);
    let turn_ms: Vec<f64> = (0..turns).map(|_| rng.random_range(700.0..1600.0)).collect();
    let turn_average = turn_ms.iter().sum::<f64>() / turns as f64;
    let performance = answered.then(|| {
        json!({
            "turnLatencies": turn_ms.iter().map(|ms| json!({"turnLatency": ms, "modelLatency": ms * 0.4, "voiceLatency": ms * 0.2})).collect::<Vec<_>>(),
            "turnLatencyAverage": turn_average, "modelLatencyAverage": turn_average * 0.4, "voiceLatencyAverage": turn_average * 0.2,
            "transcriberLatencyAverage": 120.0, "endpointingLatencyAverage": turn_average * 0.25,
        })
    });
    let transfers = json!(if ended_reason == "assistant-forwarded-call" {
        vec![json!({"destination": {"type": "number", "number": "+12025550100", "name": "Front desk"}, "mode": "blind-transfer", "status": "connected"})]
    } else {
        Vec::new()
    });
    let (artifact, analysis) = if current {
        let outputs = analysis.map(|result| json!({ format!("{id}-output"): {"name": "callops", "result": result} }));
        let recording = recording.map(|mono| json!({"mono": {"combinedUrl": mono}, "stereoUrl": format!("https://storage.vapi.ai/{id}-stereo.wav")}));
        (
            json!({"transcript": transcript, "messages": messages, "recording": recording, "structuredOutputs": outputs,
                   "performanceMetrics": performance, "transfers": transfers}),
            json!({"summary": summary, "successEvaluation": if booked { "8" } else { "5" }}),
        )
    } else {
        (
            json!({"transcript": transcript, "messages": messages, "recordingUrl": recording}),
            json!({"summary": summary, "structuredData": analysis.unwrap_or(Value::Null), "successEvaluation": if booked { "true" } else { "false" }}),
        )
    };
    let report = json!({
        "type": "end-of-call-report", "endedReason": ended_reason,
        "startedAt": iso(started), "endedAt": iso(ended), "durationSeconds": seconds,
        "cost": (cost * 10_000.0).round() / 10_000.0,
        "costs": [
            {"type": "transport", "cost": 0.008, "minutes": seconds as f64 / 60.0},
            {"type": "transcriber", "cost": cost * 0.1, "minutes": seconds as f64 / 60.0},
            {"type": "model", "cost": cost * 0.5, "promptTokens": 900 + seconds * 40, "completionTokens": 40 + seconds * 2},
            {"type": "voice", "cost": cost * 0.25, "characters": 100 + seconds * 12},
            {"type": "vapi", "cost": (cost * 0.15 - 0.008).max(0.0), "minutes": seconds as f64 / 60.0},
        ],
        "artifact": artifact,
        "analysis": analysis,
        "compliance": consent_asked.map(|kind| json!({"recordingConsent": if answered { json!({"type": kind, "grantedAt": iso(started)}) } else { json!({"type": kind}) }})),
    });
    if let Some(snapshot) = end(&sim, &id, &report) {
        announce_end(&sim, &snapshot, report).await;
    }
}

/// Ends a call with `report`'s outcome, once: `None` when it had already
/// ended (through its control URL while it played, or the other way round).
pub(super) fn end(sim: &Sim, id: &str, report: &Value) -> Option<Value> {
    let snapshot = {
        let mut calls = sim.calls.lock().expect("never poisoned");
        let call = calls.get_mut(id).expect("a playing call exists");
        if call["status"] == "ended" {
            return None;
        }
        for field in ["endedReason", "startedAt", "endedAt", "cost", "costs", "artifact", "analysis", "compliance"] {
            call[field] = report[field].clone();
        }
        call["status"] = json!("ended");
        call["updatedAt"] = json!(iso(Utc::now()));
        call.clone()
    };
    sim.active.fetch_sub(1, Ordering::SeqCst);
    // Stops the call's play if it is still waiting (a stored wake-up if not yet).
    if let Some(hangup) = sim.hangups.lock().expect("never poisoned").remove(id) {
        hangup.notify_one();
    }
    Some(snapshot)
}

/// The messages of a call's end: `status-update` ended, then the report.
pub(super) async fn announce_end(sim: &Sim, snapshot: &Value, report: Value) {
    deliver(sim, snapshot, json!({"type": "status-update", "status": "ended", "endedReason": report["endedReason"]})).await;
    deliver(sim, snapshot, report).await;
}

/// Moves a live call on; `None` once it has ended (its play then stops).
fn set_status(sim: &Sim, id: &str, status: &str) -> Option<Value> {
    let mut calls = sim.calls.lock().expect("never poisoned");
    let call = calls.get_mut(id).expect("a playing call exists");
    if call["status"] == "ended" {
        return None;
    }
    call["status"] = json!(status);
    if status == "in-progress" {
        call["startedAt"] = json!(iso(Utc::now()));
    }
    call["updatedAt"] = json!(iso(Utc::now()));
    Some(call.clone())
}

/// POSTs a server message about `call` to the webhook with the tenant's secret.
async fn deliver(sim: &Sim, call: &Value, mut message: Value) {
    let Some(url) = sim.webhook_url.read().expect("never poisoned").clone() else { return };
    let org = call.pointer("/assistantOverrides/metadata/orgId").and_then(Value::as_str).unwrap_or_default();
    let Some(secret) = sim.secrets.get(org) else {
        tracing::warn!(org, "the simulator has no webhook secret for this tenant");
        return;
    };
    message["timestamp"] = json!(Utc::now().timestamp_millis());
    message["call"] = call.clone();
    message["customer"] = call["customer"].clone();
    let body = json!({ "message": message });
    match sim.http.post(&url).header("x-vapi-secret", secret).json(&body).send().await {
        Ok(response) if response.status().is_success() => {}
        Ok(response) => tracing::warn!(status = %response.status(), "the webhook refused a simulated message"),
        Err(err) => tracing::warn!(error = %err, "a simulated message could not be delivered"),
    }
}
