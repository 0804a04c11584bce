// A panel's life: its loading, empty, ready or error state, the page's
// banner, and loading a panel so that an answer to filters no longer shown
// is dropped.
import { $, plainError } from './format.js';
import { state } from './state.js';

export function setState(id, value, message) {
  const box = $(id);
  box.dataset.state = value;
  if (message != null) { const note = box.querySelector('.error-note'); if (note) note.textContent = message; }
}

export function banner(message) {
  const b = $('banner');
  b.textContent = message || '';
  b.hidden = !message;
}

// Whether the answer being rendered is for the filters shown.
export const current = (generation) => generation === state.generation;

// Runs a panel's `work` (given the generation it started in); true when it loaded.
export async function panel(id, work, quiet) {
  const generation = state.generation;
  if (!quiet) setState(id, 'loading');
  try {
    await work(generation);
    return true;
  } catch (err) {
    if (generation !== state.generation) return false;
    setState(id, 'error', `Could not load this: ${plainError(err)}`);
    return false;
  }
}
