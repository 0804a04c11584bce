// The API's closed values as a practice reads them: outcomes, call types,
// statuses, consent bases and recording decisions, each `[code, label]` in
// the API's order, taken from /config.json before the page first renders.
// The outcome colours are the page's own, keyed by code.
import { el, swatch } from './format.js';

// One colour per outcome, the same in every chart, badge and legend.
const COLOURS = {
  BOOKED: '#15803d',
  TRANSFERRED: '#7c3aed',
  INSURANCE_INQUIRY: '#2563eb',
  PAYMENT_PLAN: '#ca8a04',
  INFORMATION: '#0891b2',
  VOICEMAIL: '#db2777',
  NO_ANSWER: '#64748b',
  BUSY: '#ea580c',
  FAILED: '#dc2626',
  OTHER: '#a8a29e',
};
// An outcome the page has no colour for yet.
const GREY = '#94a3b8';
// A call without an outcome.
const UNKNOWN = [null, 'Unknown', '#cbd5e1'];

let outcomeList = [UNKNOWN];
let callTypes = new Map();
let statuses = new Map();
let bases = [];
let basisLabels = new Map();
let recordingAsks = new Map();
let legalBaseList = [];

// Takes the labels of /config.json (`labels`); called once, before anything renders.
export function setLabels(labels = {}) {
  outcomeList = [...(labels.outcomes || []).map(([code, label]) => [code, label, COLOURS[code] || GREY]), UNKNOWN];
  callTypes = new Map(labels.callTypes || []);
  statuses = new Map(labels.statuses || []);
  bases = labels.bases || [];
  basisLabels = new Map(bases);
  recordingAsks = new Map(labels.recordingAsks || []);
  legalBaseList = labels.legalBases || [];
}

// Every outcome as `[code, label, colour]`, in the API's order, then the calls without one.
export const outcomes = () => outcomeList;
export const outcomeInfo = (code) => outcomeList.find(([c]) => c === (code ?? null)) || UNKNOWN;
// Each label, or undefined for a code the API did not name.
export const callTypeLabel = (code) => callTypes.get(code);
export const statusLabel = (code) => statuses.get(code);
export const basisLabel = (code) => basisLabels.get(code);
export const recordingAskLabel = (code) => recordingAsks.get(code);
// The consent bases as `[code, label]`, in the API's order.
export const basisOptions = () => bases;
// Each outbound call type as `[code, [basis, ...]]`: the bases the law lets it rest on.
export const legalBases = () => legalBaseList;
// The outbound call types as `[code, label]`.
export const outboundTypes = () => [...callTypes].filter(([code]) => code.startsWith('OUTBOUND_'));

export const outcomeBadge = (code) => { const [, label, colour] = outcomeInfo(code); return el('span', { class: 'badge' }, swatch(colour), label); };
export const statusBadge = (status) => el('span', { class: `status ${status}` }, statusLabel(status) || status);
