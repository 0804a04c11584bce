// A number on the do-not-call list: its history, and its state as a sentence.
import { api } from './api.js';
import { when } from './format.js';

export const numberPath = (number) => encodeURIComponent(number);

export async function dncHistory(number) {
  return (await api(`/api/dnc/${numberPath(number)}/history`)).history || [];
}

export async function dncState(number) {
  const history = await dncHistory(number);
  const last = history[history.length - 1];
  if (!last || last.action !== 'added') return 'Not on the do-not-call list.';
  return `On the do-not-call list since ${when(last.at)} (${[last.channel, last.reason].filter(Boolean).join(', ')}).`;
}
