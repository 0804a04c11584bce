// The API: every request carries the signed-in user's bearer token; an
// error answer becomes an ApiError with the API's code and message, and an
// expired sign-in (401, deployed) sends the browser to sign in again.
import { bearer, restart, signsInAtProvider } from './signin.js';

export class ApiError extends Error {
  constructor(status, code, message, details) { super(message); this.status = status; this.code = code; this.details = details || {}; }
}

const failure = (res, body) => new ApiError(res.status, body?.error?.code || `http_${res.status}`, body?.error?.message || `The server answered ${res.status}.`, body?.error);

// A JSON request: the answer's body, parsed.
export async function api(path, options = {}) {
  const headers = { Authorization: bearer(), Accept: 'application/json' };
  // A body is JSON unless the request says otherwise (a CSV file: `contentType: 'text/csv'`).
  if (options.body) headers['Content-Type'] = options.contentType || 'application/json';
  const { contentType, ...rest } = options;
  const res = await fetch(path, { ...rest, headers });
  const text = await res.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch { body = null; }
  if (!res.ok) {
    if (res.status === 401 && signsInAtProvider()) return restart();
    throw failure(res, body);
  }
  return body;
}

// A file to save (an export): the answer itself, once it is known to be one.
export async function apiFile(path) {
  const res = await fetch(path, { headers: { Authorization: bearer() } });
  if (!res.ok) {
    const body = await res.json().catch(() => null);
    throw failure(res, body);
  }
  return res;
}
