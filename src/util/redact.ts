/**
 * A base URL may carry a credential (`https://user:pass@host`, `…?api-key=…`): such a URL is recorded
 * (in `run.json`, and whatever is built from it) with those parts replaced by `***`, so that a run
 * folder, which may be committed or shared, never holds one.
 */

/** Query parameter names taken for credentials, compared without case. */
const CREDENTIAL_PARAMS = new Set(['key', 'api-key', 'api_key', 'apikey', 'token', 'access_token', 'access-token', 'sig', 'signature', 'code', 'secret', 'password', 'auth']);
/** Names ending in one of these words (`subscription-key`, `client_secret`, `id_token`) are credentials too. */
const CREDENTIAL_SUFFIX_RE = /[-_.](key|token|secret|password|signature|sig)$/i;

export const REDACTED = '***';

/** True when a query parameter of this name is taken for a credential. */
export function isCredentialParam(name: string): boolean {
  const n = name.toLowerCase();
  return CREDENTIAL_PARAMS.has(n) || CREDENTIAL_SUFFIX_RE.test(n);
}

/**
 * `url` with its userinfo and the values of its credential-like query parameters replaced by `***`;
 * everything else is kept byte for byte (the origin, the path, the other parameters, the order).
 * Works on the text, so that a URL `new URL` rejects is redacted too.
 */
export function redactUrlCredentials(url: string): string {
  // scheme://userinfo@host… : the userinfo ends at the last "@" before the path, query or fragment.
  let out = url.replace(/^([A-Za-z][A-Za-z0-9+.-]*:\/\/)([^/?#]*)@/, (_m, scheme: string, userinfo: string) => `${scheme}${userinfo.includes(':') ? `${REDACTED}:${REDACTED}` : REDACTED}@`);
  const q = out.indexOf('?');
  if (q < 0) return out;
  const hash = out.indexOf('#', q);
  const end = hash < 0 ? out.length : hash;
  const query = out
    .slice(q + 1, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      const rawName = eq < 0 ? pair : pair.slice(0, eq);
      let name = rawName;
      try {
        name = decodeURIComponent(rawName.replace(/\+/g, ' '));
      } catch {
        // a malformed escape: compare the raw name
      }
      return eq >= 0 && isCredentialParam(name.trim()) ? `${rawName}=${REDACTED}` : pair;
    })
    .join('&');
  out = `${out.slice(0, q + 1)}${query}${out.slice(end)}`;
  return out;
}

/** True when `url` carries something `redactUrlCredentials` would hide. */
export function hasUrlCredentials(url: string): boolean {
  return redactUrlCredentials(url) !== url;
}

/** Replaces every occurrence of each secret (of 4+ characters) with `***`. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 4) out = out.split(s).join('***');
  }
  return out;
}
