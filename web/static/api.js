// The one request helper of the login page and the phone simulator (the
// public widget, scanlogin.js, is a classic script with its own retries and
// stays self-contained). JSON in and out, the session cookie sent on the same
// origin, nothing cached; an error answer becomes an APIError carrying the
// API's {"error": {"code", "message"}} (README.md, "HTTP API").

export class APIError extends Error {
  /** status 0 and code 'network' when no answer came at all. */
  constructor(status, code, message) {
    super(message || code);
    this.name = 'APIError';
    this.status = status;
    this.code = code;
  }
}

/**
 * api('POST', '/api/v1/mp/login', { body: { code } }) -> the decoded answer
 * (null for 204). token, if given, is sent as a Bearer token.
 */
export async function api(method, path, { body, token } = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = 'Bearer ' + token;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
    });
  } catch {
    throw new APIError(0, 'network');
  }
  const data = res.status === 204 ? null : await res.json().catch(() => null);
  if (!res.ok) {
    const e = (data && data.error) || {};
    throw new APIError(res.status, e.code || (res.status === 503 ? 'unavailable' : 'http_' + res.status), e.message);
  }
  return data;
}
