// The errors the keeper throws itself: `TokenKeeperError` subclasses with a stable `code`.
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

/** Base class of every error the keeper throws itself; `code` is stable. */
class TokenKeeperError extends Error {
  constructor(message, code, details) {
    super(message, details && details.cause !== undefined ? { cause: details.cause } : undefined);
    this.code = code;
    if (details) {
      for (const key of Object.keys(details)) {
        if (key !== 'cause' && key !== 'code' && key !== 'message' && key !== 'stack') this[key] = details[key];
      }
    }
  }
}
/** No usable token, refresh token or credentials: log in again. */
class SessionExpiredError extends TokenKeeperError {}
/** The server refused the credentials (never retried). */
class InvalidCredentialsError extends TokenKeeperError {}
/** The auth endpoint is unavailable (429/5xx/network after the retries, or circuit open). */
class AuthUnavailableError extends TokenKeeperError {}
/** The auth endpoint answered something that is not a token response. */
class InvalidAuthResponseError extends TokenKeeperError {}
/** The request failed on the network and could not (or may not) be resent. */
class TransportError extends TokenKeeperError {}
/** The auth endpoint refused the request for another reason (client, grant, URL). */
class AuthRejectedError extends TokenKeeperError {}
/** The server rejected a freshly issued token too (with `secondRejection: "fail"`). */
class UnauthorizedError extends TokenKeeperError {}
/** The options (or tokens) given are not acceptable. */
class ConfigError extends TokenKeeperError {}

const CLASSES = {
  TokenKeeperError,
  SessionExpiredError,
  InvalidCredentialsError,
  AuthUnavailableError,
  InvalidAuthResponseError,
  TransportError,
  AuthRejectedError,
  UnauthorizedError,
  ConfigError,
};
const BY_CODE = {
  SESSION_EXPIRED: SessionExpiredError,
  INVALID_CREDENTIALS: InvalidCredentialsError,
  AUTH_UNAVAILABLE: AuthUnavailableError,
  INVALID_AUTH_RESPONSE: InvalidAuthResponseError,
  TRANSPORT: TransportError,
  AUTH_REJECTED: AuthRejectedError,
  UNAUTHORIZED: UnauthorizedError,
  CONFIG: ConfigError,
};
// Names survive minification this way.
for (const name of Object.keys(CLASSES)) CLASSES[name].prototype.name = name;

/** The engine's error kinds, as the module numbers them (bindings-js/src/out.rs). */
const CODES = ['SESSION_EXPIRED', 'INVALID_CREDENTIALS', 'AUTH_REJECTED', 'INVALID_AUTH_RESPONSE', 'AUTH_UNAVAILABLE', 'TRANSPORT', 'UNAUTHORIZED', 'INTERNAL'];
const STOPPED = ['notIdempotent', 'notReplayable', 'resendLimit', 'backoffBudget', 'other'];

/**
 * `s` quoted as the engine quotes a server's or caller's text in a message (core/src/quote.rs):
 * in double quotes, with the quote, the backslash, line breaks, tab and NUL escaped, other
 * control characters as `\u{hex}`.
 */
function quote(s) {
  const short = { '"': '\\"', '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\0': '\\0' };
  return `"${s.replace(/["\\\p{Cc}]/gu, (c) => short[c] || `\\u{${c.codePointAt(0).toString(16)}}`)}"`;
}

/** The end of a `TransportError`'s message, by `stopped` (core/src/error.rs, `TransportStop`). */
const STOPPED_TEXT = [
  'the method is not idempotent and the request may have run; check whether it took effect before repeating it',
  'the body cannot be replayed; send the request again with a new body',
  'resend limit reached; try again later',
  'time allowed for resends (backoff budget) spent; try again later',
  '',
];
/** What is wrong with an auth answer, by the module's number (bindings-js/src/out.rs); `$` its text. */
const INVALID = [
  'empty response body',
  '',
  'response is an html page, not json (proxy, portal or wrong url?)',
  'response body is not json: $',
  'response json is not an object',
  'response has no access_token',
  'access_token is empty, not a string, or not valid in an http header',
  'unsupported token_type $ (expected bearer)',
  'unusable expires_in: $',
  'refresh_token is empty, not a string, or not valid in an http header',
  'not a token response',
];

/**
 * The message of an engine error, as the engine's `Display` writes it (core/src/error.rs and
 * core/src/parse/mod.rs; the module hands over its parts): `n` its numbers, `reason` the
 * server's reason (or null), `extra` the invalid answer's text.
 */
function errorMessage(n, reason, extra) {
  const [kind, status, attempts, circuitOpen, , reached, stopped, , invalid, len, limit] = n;
  const why = reason === null ? '' : ` (${reason})`;
  switch (kind) {
    case 0:
      return 'session expired: no usable token, refresh token or credentials; log in again';
    case 1:
      return `login refused with status ${status}${why}: check the username and password; not retried`;
    case 2:
      return `auth endpoint refused the request with status ${status}${why}`;
    case 3:
      return `invalid auth response: ${invalid === 1 ? `response body too large (${len} bytes, limit ${limit})` : INVALID[invalid].replace('$', () => (invalid === 7 ? quote(extra) : extra))}`;
    case 4:
      if (circuitOpen === 1) return 'auth endpoint unavailable: circuit breaker open after repeated failures';
      if (attempts === 0) return 'auth endpoint unavailable: it asked for a pause (retry-after) that has not ended; not contacted, try again later';
      return `auth endpoint unavailable after ${attempts} attempt(s)${Number.isNaN(status) ? '' : `, last status ${status}`}`;
    case 5:
      return `request failed after ${attempts < 2 ? `${attempts} attempt (no resend)` : `${attempts} attempts (${attempts - 1} resend${attempts === 2 ? '' : 's'})`}: ${reached === 1 ? 'the connection failed after the request may have reached the server' : 'the server could not be reached'}; stopped: ${STOPPED_TEXT[stopped]}`;
    case 6:
      return `server rejected a freshly issued token with status ${status}`;
    default:
      return 'unknown exchange id (driver bug)';
  }
}

/** The error for the engine's failure the module just gave (its parts in the outbox and its numbers). */
function engineError(cause) {
  const [reason, extra] = text().split('\0');
  const n = numbers(11);
  const [kind, status, attempts, circuitOpen, retryAt, reached, stopped, given] = n;
  const code = CODES[kind];
  const orNull = (v) => (Number.isNaN(v) ? null : v);
  const details = { cause };
  const said = given === 1 ? reason : null;
  if (kind === 1 || kind === 2) Object.assign(details, { status, reason: said });
  if (kind === 4) Object.assign(details, { status: orNull(status), attempts, circuitOpen: circuitOpen === 1, retryAt: orNull(retryAt) });
  if (kind === 5) Object.assign(details, { mayHaveReachedServer: reached === 1, attempts, stopped: STOPPED[stopped] });
  if (kind === 6) details.status = status;
  return new (BY_CODE[code] || TokenKeeperError)(errorMessage(n, said, extra), code, details);
}

/** The messages of a refused configuration, by the module's number (core/src/error.rs, `ConfigError`). */
const CONFIG = [
  (url) => `invalid url ${quote(url)}`,
  (url) => `refusing plain-http token endpoint ${quote(url)} on a non-loopback host (allow_insecure_http to override)`,
  (seconds) => `token_expiry_seconds must be within 1..=1800, got ${seconds}`,
  (field, reason) => `invalid ${field}: ${reason}`,
  (field) => `${field} contains characters not allowed in an HTTP header`,
  () => 'invalid configuration',
];

/** The `ConfigError` for the configuration the module just refused (its parts in the outbox). */
function configError() {
  const [variant, a, b] = text().split('\0');
  return new ConfigError(CONFIG[variant](a, b), 'CONFIG');
}

/** A `ConfigError` for option `name`. */
function bad(name, reason) {
  throw new ConfigError(`invalid ${name}: ${reason}`, 'CONFIG');
}
