// The test clock (see examples/dashboard/clock.js) and a poll for what other parties do.
export { manualClock } from '../../examples/dashboard/clock.js';

/** Waits (checking every 10 ms, up to 5 s) until `done()` holds: for a server or another tab, never for an expiry. */
export async function until(done) {
  for (let i = 0; i < 500; i++) {
    if (await done()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return false;
}
