/** The query key SignalR clients use to carry the token, since browsers cannot set headers on WebSockets. */
const accessTokenKey = 'access_token';

const bearerPattern = /^Bearer[ \t]+(\S+)$/i;

/**
 * Finds the access token of a request: an `Authorization: Bearer X` header first (any case of
 * the scheme and of the header name), else the `access_token` query parameter of `url` (a path
 * with a query or an absolute URL). Returns undefined when there is none.
 */
export function extractAccessToken(
  headers: Record<string, string | string[] | undefined>,
  url: string,
): string | undefined {
  return bearerToken(headers) ?? queryToken(url);
}

function bearerToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  for (const [name, value] of Object.entries(headers)) {
    if (name.toLowerCase() !== 'authorization' || value === undefined) {
      continue;
    }
    for (const candidate of Array.isArray(value) ? value : [value]) {
      const token = bearerPattern.exec(candidate.trim())?.[1];
      if (token !== undefined) {
        return token;
      }
    }
  }
  return undefined;
}

function queryToken(url: string): string | undefined {
  const query = queryOf(url);
  if (query === undefined) {
    return undefined;
  }
  const value = new URLSearchParams(url.slice(query.start, query.end)).get(accessTokenKey)?.trim();
  return value === undefined || value === '' ? undefined : value;
}

/**
 * Returns `url` with every `access_token` query value replaced by `[REDACTED]`, for logging. The
 * rest of the URL is kept byte for byte. The key matches in any case and percent-encoding: when
 * in doubt, hide.
 */
export function redactUrl(url: string): string {
  const query = queryOf(url);
  if (query === undefined) {
    return url;
  }
  const redacted = url
    .slice(query.start, query.end)
    .split('&')
    .map((pair) => {
      const separator = pair.indexOf('=');
      if (separator === -1) {
        return pair;
      }
      const key = pair.slice(0, separator);
      return decodeKey(key).toLowerCase() === accessTokenKey ? `${key}=[REDACTED]` : pair;
    })
    .join('&');
  return url.slice(0, query.start) + redacted + url.slice(query.end);
}

/** Bounds of the query string (after `?`, before any `#`), or undefined when there is none. */
function queryOf(url: string): { start: number; end: number } | undefined {
  const mark = url.indexOf('?');
  if (mark === -1) {
    return undefined;
  }
  const hash = url.indexOf('#', mark);
  return { start: mark + 1, end: hash === -1 ? url.length : hash };
}

function decodeKey(key: string): string {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return key;
  }
}
