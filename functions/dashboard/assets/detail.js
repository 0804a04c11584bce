// A call's detail in its dialog: every analytics field, the recording link
// (https only), summary and transcript, why it was placed, and whether its
// number is on the do-not-call list.
import { api } from './api.js';
import { dncHistory, dncState } from './dnc.js';
import { $, cents, duration, el, erased, httpsUrl, number, percent, plainError, shownNumber, when, yes } from './format.js';
import { basisLabel, callTypeLabel, outcomeBadge, recordingAskLabel, statusBadge } from './labels.js';
import { agentName } from './state.js';

const COST_PARTS = [['transportCents', 'Phone'], ['sttCents', 'Transcriber'], ['llmCents', 'Model'], ['ttsCents', 'Voice'], ['vapiCents', 'Vapi'], ['analysisCents', 'Analysis']];

function costParts(breakdown) {
  if (!breakdown) return null;
  const parts = COST_PARTS.filter(([key]) => breakdown[key] != null).map(([key, label]) => `${label} ${cents(breakdown[key])}`);
  return parts.length ? parts.join(' · ') : null;
}

// The transcript as turns, each with who spoke (Vapi writes `AI:` and `User:` at the start of each line).
const SPEAKERS = { AI: 'Assistant', User: 'Patient', Bot: 'Assistant', Customer: 'Patient' };
function transcript(text) {
  if (!text) return el('p', { class: 'transcript meta', text: 'No transcript.' });
  const turns = [];
  for (const line of text.split('\n')) {
    const m = /^(AI|User|Bot|Customer):\s?(.*)$/.exec(line);
    if (m) turns.push({ who: SPEAKERS[m[1]], said: m[2] });
    else if (turns.length) turns[turns.length - 1].said += `\n${line}`;
    else turns.push({ who: null, said: line });
  }
  return el('ol', { class: 'transcript turns' }, ...turns.map((t) => el('li', { class: t.who === 'Patient' ? 'patient' : 'assistant' },
    t.who && el('span', { class: 'speaker', text: t.who }), el('span', { class: 'said', text: t.said }))));
}

export async function showCall(id) {
  const dialog = $('call-detail');
  const body = $('detail-body');
  body.replaceChildren(el('p', { text: 'Loading…' }));
  if (!dialog.open) dialog.showModal();
  try {
    const call = await api(`/api/calls/${encodeURIComponent(id)}`);
    $('detail-title').textContent = `${callTypeLabel(call.callType) || 'Call'} · ${call.customerName || shownNumber(call.phoneNumber)}`;
    const fact = (label, value) => el('div', {}, el('dt', { text: label }), el('dd', {}, value ?? '—'));
    const facts = el('dl', { class: 'facts' },
      fact('Started', when(call.callStartedAt)), fact('Ended', when(call.callEndedAt)), fact('Duration', duration(call.duration)),
      fact('Status', statusBadge(call.status)), fact('Outcome', outcomeBadge(call.outcome)), fact('Agent', agentName(call.voiceAgentId)),
      fact('Number', shownNumber(call.phoneNumber)), fact('Cost', cents(call.costCents)), fact('Insurance verified', yes(call.insuranceVerified)),
      fact('Insurance provider', call.insuranceProvider), fact('Payment plan', call.paymentPlanDiscussed ? cents(call.paymentPlanAmount) : 'No'),
      fact('Collection', call.collectionAttempt ? `${call.collectionSuccess ? 'Collected' : 'Not collected'} ${cents(call.collectionAmount)}` : 'No'),
      fact('Transferred', call.transferredToStaff ? call.transferredTo || 'Yes' : 'No'), fact('Voicemail left', call.status === 'VOICEMAIL' ? yes(call.voicemailLeft) : null), fact('Follow-up', call.followUpRequired ? when(call.followUpDate) : 'No'),
      fact('Call quality', call.callQuality != null ? `${call.callQuality} / 5` : null), fact('Sentiment', call.customerSentiment),
      fact('AI confidence', call.aiConfidence != null ? percent(call.aiConfidence * 100) : null), fact('Ended because', call.endedReason),
      fact('Success evaluation', call.successEvaluation), fact('Response time', call.latency && call.latency.turnMs != null ? `${number.format(call.latency.turnMs)} ms per turn` : null),
      fact('Cost by part', costParts(call.costBreakdown)));
    const parts = [facts];
    const recording = httpsUrl(call.recordingUrl);
    if (recording) {
      parts.push(el('section', { class: 'recording' }, el('h3', { text: 'Recording' }),
        el('audio', { controls: true, preload: 'none', src: recording }),
        el('p', {}, el('a', { href: recording, target: '_blank', rel: 'noopener noreferrer' }, 'Open the recording'))));
    }
    parts.push(el('section', {}, el('h3', { text: 'Summary' }), el('p', { text: call.summary || 'No summary.' })));
    parts.push(el('section', {}, el('h3', { text: 'Transcript' }), transcript(call.transcript)));
    if (call.transcriptTruncated) parts.push(el('p', { class: 'meta', text: 'The transcript was cut at 200,000 bytes.' }));
    const cut = (call.truncatedFields || []).filter((f) => f !== 'transcript');
    if (cut.length) parts.push(el('p', { class: 'meta', text: `Cut to fit: ${cut.join(', ')}.` }));
    if (call.compliance) {
      const c = call.compliance;
      const where = [c.zones.join(', '), c.states.join(', ')].filter(Boolean).join(' · ');
      const consent = c.consent ? `Rests on ${basisLabel(c.consent.basis) || c.consent.basis} consent (${c.consent.source}, captured ${when(c.consent.capturedAt)}).` : null;
      const recorded = c.recording ? recordingAskLabel(c.recording.asked) : null;
      parts.push(el('section', {}, el('h3', { text: 'Why it was placed' }),
        el('p', { class: 'meta', text: `Decided ${when(c.decidedAt)} for a callee in ${where || 'an unknown place'}.` }),
        consent && el('p', { class: 'consent-relied', text: consent }),
        recorded && el('p', { class: 'meta', text: `Recording: ${recorded}.` }),
        c.disclosure && el('p', { class: c.disclosure.practiceNamed && c.disclosure.callbackStated !== false ? 'meta disclosure' : 'disclosure missed',
          text: disclosureText(c.disclosure, c.identity) }),
        el('details', { class: 'rules-toggle' }, el('summary', { text: `Every rule weighed (${c.rules.filter((r) => r.ok).length} of ${c.rules.length} passed)` }),
          el('ul', { class: 'rules' }, ...c.rules.map((r) => el('li', { text: `${r.ok ? '✓' : '✗'} ${r.detail}`, title: r.rule }))))));
    }
    if (call.recordingWithheld) parts.push(el('p', { class: 'meta', text: `No recording kept: ${call.recordingWithheld}.` }));
    const listed = el('p', { class: 'meta dnc-state', text: 'Checking the do-not-call list…' });
    parts.push(listed);
    if (erased(call.phoneNumber)) listed.textContent = 'The patient\u2019s records were erased: the call keeps no number.';
    else dncHistory(call.phoneNumber).then((history) => { listed.textContent = dncState(history); }).catch(() => { listed.textContent = 'Could not read the do-not-call list.'; });
    if (call.imported) parts.push(el('p', { class: 'meta', text: 'Imported from the legacy call log.' }));
    if (call.contentRemoved) {
      const why = call.contentRemoved.reason === 'erasure' ? "the patient's records were erased" : "it passed the practice's retention";
      parts.push(el('p', { class: 'meta content-removed', text: `Transcript, summary and recording removed ${when(call.contentRemoved.at)}: ${why}.` }));
    }
    body.replaceChildren(...parts);
  } catch (err) {
    body.replaceChildren(el('p', { class: 'form-status error', text: `Could not load the call: ${plainError(err)}` }));
  }
}

// What the call said of who was calling (47 CFR 64.1200(b)), as its transcript shows.
function disclosureText(d, identity) {
  const name = identity ? identity.practiceName : 'the practice';
  if (!d.practiceNamed) return `It did not say ${name} was calling in its opening words: check the assistant's first message.`;
  if (d.callbackStated === false) return `It named ${name} but gave no number to call back (a marketing call must).`;
  return `It said ${name} was calling${d.callbackStated ? ' and gave the callback number' : ''}.`;
}
