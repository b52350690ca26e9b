// The package's public class, `TokenKeeper`, over the shell (keeper.js).
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

/** Frees the module's state of keepers that were dropped without `free()` (once their requests end). */
const DROPPED = globalThis.FinalizationRegistry ? new FinalizationRegistry((shell) => shell.drop()) : null;

/** Keeps one identity's bearer token valid for the requests made through `fetch`. */
class TokenKeeper {
  #shell;
  #listeners = new Map();

  constructor(options) {
    const listeners = this.#listeners;
    // The shell must not hold the keeper itself (only its listeners), so a dropped keeper is freed.
    this.#shell = new Shell(options, (name, payload) => emit(listeners, name, payload));
    if (DROPPED) DROPPED.register(this, this.#shell, this);
  }

  /** `fetch(input, init)` with the token kept valid (a bound function: pass it around). */
  fetch = (input, init) => this.#shell.fetch(input, init);

  /** Logs in now; resolves once tokens are held. */
  login() {
    return this.#shell.login();
  }

  /** Forgets the tokens (here, in the store, and in the other tabs). */
  logout() {
    this.#shell.input(LOGOUT);
  }

  /** Counters and token state, as a plain object. */
  metrics() {
    return this.#shell.metrics();
  }

  /** Installs tokens obtained elsewhere. */
  setTokens(tokens) {
    this.#shell.setTokens(tokens);
  }

  /** Whether cross-tab single flight is active (Web Locks and BroadcastChannel present). */
  get crossTab() {
    return !!this.#shell.channel;
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

  /** Lets go of the keeper's timer, channel, locks and WebAssembly state; it must not be used afterwards. */
  free() {
    if (DROPPED) DROPPED.unregister(this);
    this.#shell.close();
  }
}

function emit(listeners, name, payload) {
  const set = listeners.get(name);
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
