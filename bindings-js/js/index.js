// tokenkeeper: keeps a bearer token valid for fetch. The engine is Rust compiled to
// WebAssembly (tokenkeeper-core, driven by tokenkeeper-wasm); this file adds the Error
// subclasses and on()/off(). tools/build-npm.sh derives the web, Node ESM and Node CommonJS
// entry points from it (only the import line differs).
import { KeeperCore } from './tokenkeeper_js.js';

/** Base class of every error the keeper throws itself; `code` is stable. */
export class TokenKeeperError extends Error {
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
export class SessionExpiredError extends TokenKeeperError {}
/** The server refused the credentials (never retried). */
export class InvalidCredentialsError extends TokenKeeperError {}
/** The auth endpoint is unavailable (429/5xx/network after the retries, or circuit open). */
export class AuthUnavailableError extends TokenKeeperError {}
/** The auth endpoint answered something that is not a token response. */
export class InvalidAuthResponseError extends TokenKeeperError {}
/** The request failed on the network and could not (or may not) be resent. */
export class TransportError extends TokenKeeperError {}
/** The auth endpoint refused the request for another reason (client, grant, URL). */
export class AuthRejectedError extends TokenKeeperError {}
/** The server rejected a freshly issued token too (with `secondRejection: "fail"`). */
export class UnauthorizedError extends TokenKeeperError {}
/** The options (or tokens) given are not acceptable. */
export class ConfigError extends TokenKeeperError {}

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

/** The engine's errors carry a `code`; anything else (TypeError, AbortError) passes through. */
function typed(e) {
  if (e instanceof Error && typeof e.code === 'string' && !(e instanceof TokenKeeperError)) {
    const Class = BY_CODE[e.code] || TokenKeeperError;
    return new Class(e.message, e.code, e);
  }
  return e;
}
function rethrow(e) {
  throw typed(e);
}

const EVENTS = ['tokens', 'refreshed', 'loggedIn', 'sessionExpired', 'circuitOpened'];

/** Keeps one identity's bearer token valid for the requests made through `fetch`. */
export class TokenKeeper {
  #core;
  #listeners = new Map();

  constructor(options) {
    try {
      this.#core = new KeeperCore(options, (name, payload) => this.#emit(name, payload));
    } catch (e) {
      throw typed(e);
    }
  }

  /** `fetch(input, init)` with the token kept valid (a bound function: pass it around). */
  fetch = (input, init) => this.#core.fetch(input, init).catch(rethrow);

  /** Logs in now; resolves once tokens are held. */
  login() {
    return this.#core.login().catch(rethrow);
  }

  /** Forgets the tokens (here, in the store, and in the other tabs). */
  logout() {
    this.#core.logout();
  }

  /** Counters and token state, as a plain object. */
  metrics() {
    return this.#core.metrics();
  }

  /** Installs tokens obtained elsewhere. */
  setTokens(tokens) {
    try {
      this.#core.setTokens(tokens);
    } catch (e) {
      throw typed(e);
    }
  }

  /** Whether cross-tab single flight is active (Web Locks and BroadcastChannel present). */
  get crossTab() {
    return this.#core.crossTab;
  }

  /** Calls `callback(payload)` on every `event`; returns a function that unsubscribes. */
  on(event, callback) {
    if (!EVENTS.includes(event)) throw new ConfigError(`unknown event ${String(event)}`, 'CONFIG');
    if (typeof callback !== 'function') throw new ConfigError('callback must be a function', 'CONFIG');
    let set = this.#listeners.get(event);
    if (!set) this.#listeners.set(event, (set = new Set()));
    set.add(callback);
    return () => this.off(event, callback);
  }

  /** Removes a callback added with `on`. */
  off(event, callback) {
    this.#listeners.get(event)?.delete(callback);
  }

  /** Frees the WebAssembly side; the keeper must not be used afterwards. */
  free() {
    this.#core.free();
  }

  #emit(name, payload) {
    const set = this.#listeners.get(name);
    if (!set) return;
    for (const callback of [...set]) {
      try {
        callback(payload);
      } catch (e) {
        // A listener's bug must not break the keeper; report it like an uncaught error.
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }
}
