// A number on the do-not-call list: its history, and its state as a sentence.
import { api } from './api.js';
import { when } from './format.js';

export const numberPath = (number) => encodeURIComponent(number);

export async function dncHistory(number) {
  return (await api(`/api/dnc/${numberPath(number)}/history`)).history || [];
}

// Whether the number is listed now, by its history's last change.
export const isListed = (history) => history.length > 0 && history[history.length - 1].action === 'added';

export function dncState(history) {
  const last = history[history.length - 1];
  if (!isListed(history)) return 'Not on the do-not-call list.';
  return `On the do-not-call list since ${when(last.at)} (${[CHANNELS[last.channel] || last.channel, last.reason].filter(Boolean).join(', ')}).`;
}

// How a patient can ask not to be called, as the list records it.
export const CHANNELS = { call: 'said so on a call', sms: 'by text', email: 'by email', letter: 'by letter', staff: 'told the staff', api: 'another system' };
