/**
 * Browser sign-in with the OAuth 2.0 authorization code flow and PKCE (RFC 7636) against the
 * Cognito user pool: no client secret in the page, the code useless without the verifier that
 * never left this tab. Tokens live in sessionStorage (gone with the tab) and are sent as
 * `Authorization: Bearer` to the API, whose JWT authorizer checks them.
 */
import type { AuthConfig } from './config.js';

const TOKENS = 'weft.console.tokens';
const PENDING = 'weft.console.pkce';

interface Tokens {
  accessToken: string;
  /** Epoch ms after which the token is not sent any more. */
  expiresAt: number;
}

const base64url = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes)).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

export const randomToken = (bytes = 32): string => base64url(crypto.getRandomValues(new Uint8Array(bytes)));

/** S256: base64url(SHA-256(verifier)). */
export const codeChallenge = async (verifier: string): Promise<string> => base64url(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))));

const redirectUri = (): string => `${location.origin}${location.pathname}`;

const stored = (): Tokens | undefined => {
  try {
    const tokens = JSON.parse(sessionStorage.getItem(TOKENS) ?? 'null') as Tokens | null;
    return tokens && tokens.expiresAt > Date.now() ? tokens : undefined;
  } catch {
    return undefined;
  }
};

/** The access token, once signed in. */
export const accessToken = (): string | undefined => stored()?.accessToken;

/** Goes to the hosted sign-in page; the page comes back with `?code=&state=`. */
const signIn = async (auth: AuthConfig): Promise<never> => {
  const verifier = randomToken(48);
  const state = randomToken(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, hash: location.hash }));
  const url = new URL(auth.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: auth.clientId,
    redirect_uri: redirectUri(),
    scope: auth.scopes.join(' '),
    state,
    code_challenge: await codeChallenge(verifier),
    code_challenge_method: 'S256',
  }).toString();
  location.assign(url.toString());
  return new Promise<never>(() => undefined);
};

/** Completes a sign-in the hosted page sent back, or starts one; resolves once a token is at hand. */
export const ensureSignedIn = async (auth: AuthConfig): Promise<void> => {
  const params = new URLSearchParams(location.search);
  const code = params.get('code');
  if (code !== null) {
    const pending = JSON.parse(sessionStorage.getItem(PENDING) ?? 'null') as { verifier: string; state: string; hash: string } | null;
    sessionStorage.removeItem(PENDING);
    if (!pending || pending.state !== params.get('state')) throw new Error('sign-in answer does not belong to this tab (state mismatch); reload to sign in again');
    const response = await fetch(auth.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'authorization_code', client_id: auth.clientId, code, redirect_uri: redirectUri(), code_verifier: pending.verifier }).toString(),
    });
    if (!response.ok) throw new Error(`sign-in failed: token endpoint answered ${response.status}`);
    const body = (await response.json()) as { access_token: string; expires_in: number };
    // A minute's margin, so a token is not sent in its last seconds.
    sessionStorage.setItem(TOKENS, JSON.stringify({ accessToken: body.access_token, expiresAt: Date.now() + (body.expires_in - 60) * 1000 } satisfies Tokens));
    history.replaceState(null, '', `${location.pathname}${pending.hash}`);
    return;
  }
  if (!stored()) await signIn(auth);
};

export const signOut = (auth: AuthConfig): void => {
  sessionStorage.removeItem(TOKENS);
  const url = new URL(auth.logoutUrl);
  url.search = new URLSearchParams({ client_id: auth.clientId, logout_uri: redirectUri() }).toString();
  location.assign(url.toString());
};
