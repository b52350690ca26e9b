// A clock that moves only when told, for tests: what `new TokenKeeper({ clock })` takes
// (`now`, `setTimeout`, `clearTimeout`), plus `advance(ms)`, which moves the time and runs the
// timers that came due, in order. The dashboard uses it with `?clock=manual`; js-tests use it
// so that no test waits in real time for an expiry or a timeout.
export function manualClock(start = Date.now()) {
  let now = start;
  let last = 0;
  const timers = new Map();
  return {
    now: () => now,
    setTimeout(f, ms) {
      const id = ++last;
      timers.set(id, { at: now + Math.max(0, ms || 0), f });
      return id;
    },
    clearTimeout(id) {
      timers.delete(id);
    },
    /** Moves the time forward by `ms`, runs every timer due by then, and lets their work start. */
    async advance(ms) {
      const to = now + ms;
      for (;;) {
        let next = null;
        for (const [id, t] of timers) if (t.at <= to && (!next || t.at < next[1].at)) next = [id, t];
        if (!next) break;
        timers.delete(next[0]);
        now = Math.max(now, next[1].at);
        next[1].f();
      }
      now = to;
      await new Promise((r) => setTimeout(r, 0));
    },
  };
}
