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

/** The error for the engine's failure the module just gave (message and reason in the outbox, details in its numbers). */
function engineError(cause) {
  const [message, reason = null] = text().split('\0');
  const [kind, status, attempts, circuitOpen, retryAt, reached, stopped] = numbers(7);
  const code = CODES[kind];
  const orNull = (n) => (Number.isNaN(n) ? null : n);
  const details = { cause };
  if (kind === 1 || kind === 2) Object.assign(details, { status, reason });
  if (kind === 4) Object.assign(details, { status: orNull(status), attempts, circuitOpen: circuitOpen === 1, retryAt: orNull(retryAt) });
  if (kind === 5) Object.assign(details, { mayHaveReachedServer: reached === 1, attempts, stopped: STOPPED[stopped] });
  if (kind === 6) details.status = status;
  return new (BY_CODE[code] || TokenKeeperError)(message, code, details);
}

/** A `ConfigError` for option `name`. */
function bad(name, reason) {
  throw new ConfigError(`invalid ${name}: ${reason}`, 'CONFIG');
}
