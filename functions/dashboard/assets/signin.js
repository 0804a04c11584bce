// Signing in. Locally the page is handed a token in /config.json. Deployed:
// OpenID Connect, authorization code with PKCE. The token lives in this
// module only, never in cookies or web storage; the PKCE verifier waits in
// sessionStorage (this origin, this tab) for the one redirect and is removed
// when it comes back.

let token = null;
let mode = 'token';
let settings = null;
let discovery = null;

// The Authorization header's value for the API.
export const bearer = () => `Bearer ${token}`;
export const signsInAtProvider = () => mode === 'oidc';

// Gets the token as /config.json's `signIn` says; deployed, it may leave for the provider's page instead.
export async function signIn(config) {
  token = await obtain(config);
}

async function obtain(config) {
  mode = config.mode;
  settings = config;
  if (config.mode === 'token') return config.token;
  const issuer = config.issuer.replace(/\/$/, '');
  discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).json();
  const params = new URLSearchParams(location.search);
  const redirectUri = location.origin + location.pathname;
  if (params.has('code')) {
    const pending = JSON.parse(sessionStorage.getItem('callops.signin') || 'null');
    sessionStorage.removeItem('callops.signin');
    history.replaceState(null, '', redirectUri);
    if (!pending || pending.state !== params.get('state')) throw new Error('The sign-in answer did not match this page; reload to sign in again.');
    const res = await fetch(discovery.token_endpoint, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', code: params.get('code'), redirect_uri: redirectUri, client_id: config.clientId, code_verifier: pending.verifier }),
    });
    if (!res.ok) throw new Error('The identity provider did not give a token; reload to sign in again.');
    const tokens = await res.json();
    return tokens.access_token || tokens.id_token;
  }
  await restart();
  return new Promise(() => {}); // the browser is leaving for the sign-in page
}

// Sends the browser to the provider's sign-in page (a new PKCE verifier and state each time).
export async function restart() {
  const random = (n) => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(n)))).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const verifier = random(48);
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier)));
  const challenge = btoa(String.fromCharCode(...digest)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  const stateValue = random(16);
  sessionStorage.setItem('callops.signin', JSON.stringify({ verifier, state: stateValue }));
  const url = new URL(discovery.authorization_endpoint);
  url.search = new URLSearchParams({
    response_type: 'code', client_id: settings.clientId, redirect_uri: location.origin + location.pathname,
    scope: settings.scope, state: stateValue, code_challenge: challenge, code_challenge_method: 'S256',
  });
  location.assign(url.toString());
  return new Promise(() => {});
}
