// Types of the npm package `tokenkeeper` (hand-written; checked by tsc in js-tests).

/** Backoff between retries: `baseMs × factor^n`, capped, within a total budget. */
export interface BackoffOptions {
  baseMs?: number;
  factor?: number;
  capMs?: number;
  budgetMs?: number;
  /** Randomise each delay within [delay/2, delay] (default true). */
  jitter?: boolean;
}

export interface Credentials {
  username: string;
  password: string;
}

interface CommonOptions {
  /**
   * Username and password, or a `credentials` callback: asked (once for all waiting requests)
   * when a login is due while requests wait and no usable credentials are held.
   */
  username?: string;
  password?: string;
  credentials?: () => Credentials | Promise<Credentials>;
  /** Keep tokens in memory (default), sessionStorage or localStorage. */
  storage?: 'memory' | 'session' | 'local';
  /** Storage key, Web Lock and BroadcastChannel name (default: derived from the identity). */
  storageKey?: string;
  /** Cross-tab single flight with Web Locks + BroadcastChannel where available (default true). */
  crossTab?: boolean;
  /** How long to wait for another tab's refresh before going ahead (default 10000). */
  lockTimeoutMs?: number;
  /** How long to wait for another tab's newer tokens before refreshing here (default 1000). */
  peerWaitMs?: number;
  /**
   * Seconds an attempt may wait for its response headers (default 30; 0: no limit). Then it is
   * aborted and counts as a transport failure: resent if the method is idempotent.
   */
  timeout?: number;
  /** More origins that may receive the token (the token endpoint's origin always may). */
  allowedOrigins?: string[];
  /** Refresh automatically at all (default true). */
  enabled?: boolean;
  /** Refresh inside the margin while the token still works (default true). */
  proactive?: boolean;
  /** Refresh and resend once after a 401 (default true). */
  retryOn401?: boolean;
  /** Refresh in the background when the margin starts, even with no request (default false). */
  refreshAhead?: boolean;
  /** Log in again when the refresh token is rejected (default true). */
  reauthOnRefreshRejected?: boolean;
  /** A fixed refresh margin; otherwise `refreshMarginFraction` of the lifetime, clamped. */
  refreshMarginMs?: number;
  /** A fixed refresh margin in minutes (the settings' `buffer_minutes`; `refreshMarginMs` wins). */
  bufferMinutes?: number;
  refreshMarginFraction?: number;
  refreshMarginMinMs?: number;
  refreshMarginMaxMs?: number;
  marginJitter?: number;
  /** Within this much of expiry a token counts as expired (default 500). */
  expiryFloorMs?: number;
  /** Lifetime assumed when the server says nothing (default 300). */
  defaultLifetimeSeconds?: number;
  /** A login or refresh still running after this long is aborted and retried (default 30000). */
  authTimeoutMs?: number;
  maxAuthRetriesPerExchange?: number;
  maxRefreshAttempts?: number;
  maxTransientResends?: number;
  /** The settings' `max_retries`: `maxTransientResends` (which wins when both are given). */
  maxRetries?: number;
  maxStaleGenerationResends?: number;
  /** Statuses resent with backoff for any method (default [429, 503]). */
  transientStatuses?: number[];
  /** Statuses resent with backoff for idempotent methods (default [502, 504]). */
  gatewayStatuses?: number[];
  /** Statuses that mean "this token was refused" (default [401]). */
  tokenRejectedStatuses?: number[];
  retryNonIdempotentGateway?: boolean;
  authBackoff?: BackoffOptions;
  resendBackoff?: BackoffOptions;
  circuitBreaker?: { threshold?: number; coolDownMs?: number };
  /** After a fresh token is rejected too: hand over the 401 (default) or fail. */
  secondRejection?: 'deliver' | 'fail';
  /** Allow plain-http token endpoints on non-loopback hosts (never in production). */
  allowInsecureHttp?: boolean;
  /** For tests: where the keeper reads the time and arms its timers (default: `Date.now` and the global timers). */
  clock?: TokenKeeperClock;
}

/** The keeper's time and timers (the `clock` option, for tests). */
export interface TokenKeeperClock {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface VitalGraphOptions extends CommonOptions {
  dialect?: 'vitalgraph';
  /** `https://host[/prefix]`: `/api/login` and `/api/refresh` are below it. */
  baseUrl: string;
  /** Ask for this token lifetime at login (1..=1800). */
  tokenExpirySeconds?: number;
}

export interface OAuth2Options extends CommonOptions {
  dialect: 'oauth2-password' | 'oauth2-client-credentials';
  /** The RFC 6749 token endpoint. */
  tokenUrl: string;
  clientId?: string;
  clientSecret?: string;
  /** Client authentication by HTTP Basic (default) or in the body. */
  clientAuth?: 'basic' | 'body';
  scope?: string;
}

export type TokenKeeperOptions = VitalGraphOptions | OAuth2Options;

/** `keeper.metrics()`: times are epoch milliseconds. */
export interface TokenKeeperMetrics {
  requests: number;
  delivered: number;
  failures: number;
  refreshCount: number;
  refreshFailures: number;
  logins: number;
  loginFailures: number;
  reauthentications: number;
  unauthorizedResends: number;
  transientResends: number;
  circuitOpened: number;
  lastRefresh: number | null;
  tokenExpiresAt: number | null;
  isExpired: boolean;
  authInProgress: boolean;
}

/** A token set (the `tokens` event, `setTokens`); times are epoch milliseconds. */
export interface Tokens {
  accessToken: string;
  refreshToken?: string | null;
  issuedAt?: number;
  expiresAt: number;
  refreshExpiresAt?: number | null;
}

export interface TokenKeeperEvents {
  /** New tokens are in use. The payload holds the tokens: keep it out of logs. */
  tokens: Tokens;
  refreshed: { expiresAt: number };
  loggedIn: { expiresAt: number; reauthenticated: boolean };
  sessionExpired: Record<string, never>;
  circuitOpened: { until: number };
}

export type ErrorCode =
  | 'SESSION_EXPIRED'
  | 'INVALID_CREDENTIALS'
  | 'AUTH_UNAVAILABLE'
  | 'INVALID_AUTH_RESPONSE'
  | 'TRANSPORT'
  | 'AUTH_REJECTED'
  | 'UNAUTHORIZED'
  | 'CONFIG'
  | 'INTERNAL';

export class TokenKeeperError extends Error {
  readonly code: ErrorCode;
  /** HTTP status, where one was involved. */
  readonly status?: number | null;
  /** The server's error code (`error` or `detail`), if it sent one. */
  readonly reason?: string | null;
  readonly attempts?: number;
  constructor(message: string, code: ErrorCode, details?: object);
}
export class SessionExpiredError extends TokenKeeperError {}
export class InvalidCredentialsError extends TokenKeeperError {}
export class AuthUnavailableError extends TokenKeeperError {
  readonly circuitOpen: boolean;
  readonly retryAt: number | null;
}
export class InvalidAuthResponseError extends TokenKeeperError {}
export class TransportError extends TokenKeeperError {
  readonly mayHaveReachedServer: boolean;
}
export class AuthRejectedError extends TokenKeeperError {}
export class UnauthorizedError extends TokenKeeperError {}
export class ConfigError extends TokenKeeperError {}

export class TokenKeeper {
  constructor(options: TokenKeeperOptions);
  /** WHATWG `fetch` with the bearer token kept valid; bound, so it can be passed around. */
  readonly fetch: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response>;
  login(): Promise<void>;
  logout(): void;
  metrics(): TokenKeeperMetrics;
  setTokens(tokens: Tokens): void;
  readonly crossTab: boolean;
  on<E extends keyof TokenKeeperEvents>(event: E, callback: (payload: TokenKeeperEvents[E]) => void): () => void;
  off<E extends keyof TokenKeeperEvents>(event: E, callback: (payload: TokenKeeperEvents[E]) => void): void;
  free(): void;
}
