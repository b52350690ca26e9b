// `new TokenKeeper(options)`, first half: the options object is read and checked here and
// each value handed to the module by number (`Str` and `Num` in bindings-js/src/setup.rs,
// which builds the engine's configuration from them; a Rust test checks the numbers match).
// Option names follow docs/CONFIG.md's "JS option" column (camelCase of the settings keys).
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

const STR = { url: 0, clientId: 1, clientSecret: 2, scope: 3, username: 4, password: 5, storageKey: 6, parsed: 7 };
/** Each status of these lists goes as `opt_num(list, status)`. */
const LISTS = { transientStatuses: 100, gatewayStatuses: 101, tokenRejectedStatuses: 102 };
const NUM = {
  dialect: 0,
  tokenExpirySeconds: 1,
  refreshMarginMs: 2,
  refreshMarginFraction: 3,
  refreshMarginMinMs: 4,
  refreshMarginMaxMs: 5,
  marginJitter: 6,
  expiryFloorMs: 7,
  authTimeoutMs: 8,
  defaultLifetimeSeconds: 9,
  maxAuthRetriesPerExchange: 10,
  maxRefreshAttempts: 11,
  maxTransientResends: 12,
  maxStaleGenerationResends: 13,
  authBackoff: 14,
  resendBackoff: 19,
  circuitThreshold: 24,
  circuitCoolDownMs: 25,
  peerWaitMs: 26,
  timeout: 27,
  seed: 28,
  enabled: 29,
  proactive: 30,
  retryOn401: 31,
  refreshAhead: 32,
  reauthOnRefreshRejected: 33,
  retryNonIdempotentGateway: 34,
  allowInsecureHttp: 35,
  secondRejectionFail: 36,
  clientAuthBody: 37,
  provider: 38,
  persistent: 39,
  crossTab: 40,
};
const DIALECTS = ['vitalgraph', 'oauth2-password', 'oauth2-client-credentials'];
const FLAGS = ['enabled', 'proactive', 'retryOn401', 'refreshAhead', 'reauthOnRefreshRejected', 'retryNonIdempotentGateway', 'allowInsecureHttp'];
const NUMBERS = ['refreshMarginFraction', 'refreshMarginMinMs', 'refreshMarginMaxMs', 'marginJitter', 'expiryFloorMs', 'authTimeoutMs', 'peerWaitMs'];
const COUNTS = ['maxAuthRetriesPerExchange', 'maxRefreshAttempts', 'maxTransientResends', 'maxStaleGenerationResends'];
const BACKOFF = ['baseMs', 'factor', 'capMs', 'budgetMs'];

const given = (v) => v !== undefined && v !== null;

/** Checks a number option: finite, >= 0, whole for counts. */
function number(v, name, whole) {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) bad(name, 'must be a finite number >= 0');
  if (whole && v % 1) bad(name, 'must be a whole number');
  return v;
}

function oneOf(v, name, allowed) {
  if (!given(v)) return allowed[0];
  if (!allowed.includes(v)) bad(name, `must be ${allowed.map((a) => JSON.stringify(a)).join(', ')}`);
  return v;
}

/**
 * Reads `o` into the module's pending options (then `W.build()`); returns what the shell keeps
 * for itself. Unknown properties are ignored; wrong types are a `ConfigError`.
 */
function readOptions(o) {
  if (typeof o !== 'object' || o === null) bad('options', 'must be an object');
  W.begin();
  const num = (id, v) => W.opt_num(id, v);
  const str = (name, v = o[name], id = STR[name]) => {
    if (!given(v)) return;
    if (typeof v !== 'string') bad(name, 'must be a string');
    W.opt_str(id, put(v)[0]);
  };
  const flag = (name, v = o[name], id = NUM[name]) => {
    if (!given(v)) return;
    if (typeof v !== 'boolean') bad(name, 'must be a boolean');
    num(id, v ? 1 : 0);
  };
  const statuses = (name) => {
    const v = o[name];
    if (!given(v)) return;
    if (!Array.isArray(v) || !v.every((s) => Number.isInteger(s) && s >= 100 && s <= 599)) bad(name, 'must be an array of HTTP statuses');
    // An empty list is a list too: opt_num with NaN starts it without a status.
    num(LISTS[name], NaN);
    for (const s of v) num(LISTS[name], s);
  };

  const dialect = oneOf(o.dialect, 'dialect', DIALECTS);
  num(NUM.dialect, DIALECTS.indexOf(dialect));
  if (dialect === 'vitalgraph') {
    if (!given(o.baseUrl)) bad('baseUrl', 'is required for the vitalgraph dialect');
    str('baseUrl', o.baseUrl, STR.url);
    if (given(o.tokenExpirySeconds)) num(NUM.tokenExpirySeconds, number(o.tokenExpirySeconds, 'tokenExpirySeconds'));
  } else {
    if (!given(o.tokenUrl)) bad('tokenUrl', 'is required for OAuth 2.0 dialects');
    str('tokenUrl', o.tokenUrl, STR.url);
  }
  // The endpoint URL as the platform's parser reads it: the engine sends this `href` (with
  // VitalGraph's paths joined on) and judges its origin from the same parse.
  const u = parseUrl(dialect === 'vitalgraph' ? o.baseUrl : o.tokenUrl);
  if (u) W.opt_str(STR.parsed, put(`${u.href}\n${u.protocol.slice(0, -1)}\n${u.hostname}\n${u.port}`)[0]);
  for (const name of ['clientId', 'clientSecret', 'scope', 'username', 'password', 'storageKey']) str(name);
  num(NUM.clientAuthBody, oneOf(o.clientAuth, 'clientAuth', ['basic', 'body']) === 'body' ? 1 : 0);
  num(NUM.secondRejectionFail, oneOf(o.secondRejection, 'secondRejection', ['deliver', 'fail']) === 'fail' ? 1 : 0);
  for (const name of FLAGS) flag(name);
  for (const name of NUMBERS) if (given(o[name])) num(NUM[name], number(o[name], name));
  // The module takes durations in milliseconds.
  if (given(o.defaultLifetimeSeconds)) num(NUM.defaultLifetimeSeconds, number(o.defaultLifetimeSeconds, 'defaultLifetimeSeconds') * 1000);
  for (const name of COUNTS) if (given(o[name])) num(NUM[name], number(o[name], name, true));
  // `maxRetries` is the settings' `client.max_retries` (resends after transient failures).
  if (given(o.maxRetries) && !given(o.maxTransientResends)) num(NUM.maxTransientResends, number(o.maxRetries, 'maxRetries', true));
  // `bufferMinutes` is the settings' `token_refresh.buffer_minutes`: a fixed margin.
  if (given(o.refreshMarginMs)) num(NUM.refreshMarginMs, number(o.refreshMarginMs, 'refreshMarginMs'));
  else if (given(o.bufferMinutes)) num(NUM.refreshMarginMs, number(o.bufferMinutes, 'bufferMinutes') * 60000);
  for (const name of ['authBackoff', 'resendBackoff']) {
    const b = o[name];
    if (!given(b)) continue;
    if (typeof b !== 'object') bad(name, 'must be an object');
    BACKOFF.forEach((field, i) => given(b[field]) && num(NUM[name] + i, number(b[field], `${name}.${field}`)));
    flag(`${name}.jitter`, b.jitter, NUM[name] + 4);
  }
  const cb = o.circuitBreaker;
  if (given(cb)) {
    if (typeof cb !== 'object') bad('circuitBreaker', 'must be an object');
    if (given(cb.threshold)) num(NUM.circuitThreshold, number(cb.threshold, 'circuitBreaker.threshold', true));
    if (given(cb.coolDownMs)) num(NUM.circuitCoolDownMs, number(cb.coolDownMs, 'circuitBreaker.coolDownMs'));
  }
  for (const name of ['transientStatuses', 'gatewayStatuses', 'tokenRejectedStatuses']) statuses(name);
  // Seconds per attempt until the response headers (the settings' `client.timeout`); 0: none.
  num(NUM.timeout, (given(o.timeout) ? number(o.timeout, 'timeout') : 30) * 1000);
  num(NUM.seed, Math.floor(Math.random() * 2 ** 53));

  const storage = oneOf(o.storage, 'storage', ['memory', 'session', 'local']);
  num(NUM.persistent, storage === 'memory' ? 0 : 1);
  if (given(o.crossTab) && typeof o.crossTab !== 'boolean') bad('crossTab', 'must be a boolean');
  const lockTimeoutMs = given(o.lockTimeoutMs) ? number(o.lockTimeoutMs, 'lockTimeoutMs') : 10000;
  const credentials = o.credentials;
  if (given(credentials) && typeof credentials !== 'function') bad('credentials', 'must be a function');
  num(NUM.provider, given(credentials) ? 1 : 0);
  const origins = o.allowedOrigins;
  if (given(origins) && !(Array.isArray(origins) && origins.every((s) => typeof s === 'string'))) bad('allowedOrigins', 'must be an array of strings');
  const clock = o.clock || {
    now: () => Date.now(),
    setTimeout: (f, ms) => setTimeout(f, ms),
    clearTimeout: (h) => clearTimeout(h),
  };
  return { storage, crossTab: o.crossTab !== false, lockTimeoutMs, origins: origins || [], credentials, clock };
}
