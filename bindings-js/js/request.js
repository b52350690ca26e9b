// A caller's `fetch(input, init)`, prepared so it can be sent any number of times with a given
// `Authorization` header.
//
// The URL is parsed once, by the platform's own parser, and what is checked against the
// allowed origins is the very URL that goes out: the keeper sends its own parsed `URL` (or its
// own `Request`), never the caller's string or object again (which a caller could change while
// the request waits for a token).
//
// Two shapes, chosen for cost: a string or `URL` without a body is parsed with
// `new URL(input, base)` (`base` as `fetch` resolves a relative URL) and goes to
// `fetch(url, init')` with `init'.headers` = the caller's headers plus `Authorization`, so a
// send builds one `Request` (inside `fetch`), as a plain `fetch` call does. Everything else (a
// `Request`, a body) is normalised once with `new Request(input, init)`, its URL parsed from
// `request.url`, its body buffered, and a copy made for every send.
// Shares one scope with the other files of js/ (tools/build-npm.sh concatenates them).

/** The base URL `fetch` resolves a relative URL against here: the document's (a `<base>` counts), a worker's location; none in Node. */
function baseUrl() {
  const g = globalThis;
  return g.document ? g.document.baseURI : g.location ? g.location.href : undefined;
}

class Outgoing {
  constructor(input, init) {
    this.init = init;
    const body = init != null && init.body != null;
    if (!body && (typeof input === 'string' || input instanceof URL)) {
      let url;
      try {
        url = new URL(input, baseUrl());
      } catch (e) {
        // What does not parse fails with the error `fetch` gives (its `Request` throws it;
        // Node's `URL` throws another, with a `code`).
        new Request(input, init);
        throw e;
      }
      // `fetch` refuses a URL with credentials: fail as it does, before a token is asked for.
      if (url.username || url.password) new Request(url, init);
      this.url = url;
      this.method = init && init.method ? String(init.method).toUpperCase() : 'GET';
      this.replayable = true;
      this.body = null;
      this.signal = (init && init.signal) || null;
    } else {
      // A `Request` (of any realm), or anything `fetch` would turn into one: the `Request`
      // resolves the URL exactly as `fetch` does.
      const base = (this.base = new Request(input, init));
      this.url = new URL(base.url);
      this.method = base.method;
      this.replayable = !(body && init.body instanceof ReadableStream);
      this.body = base.method === 'GET' || base.method === 'HEAD' || !this.replayable ? null : undefined;
      this.signal = base.signal;
    }
  }

  /** Buffers the body so it can be sent again (as the bytes the `Request` made of it). */
  async buffer() {
    if (this.body === undefined) {
      const bytes = await this.base.clone().arrayBuffer();
      this.body = bytes.byteLength ? bytes : null;
    }
  }

  /** A plain `fetch` of it, without the token (an origin the token may not go to). */
  plain() {
    return this.base ? fetch(this.base) : fetch(this.url, this.init);
  }

  /** Sends it with this `Authorization` value and `signal` (null: the caller's). */
  send(authorization, signal) {
    const { base, init } = this;
    if (!base) {
      const given = init && init.headers;
      let headers;
      if (given) {
        headers = new Headers(given);
        headers.set('authorization', authorization);
      } else {
        // The common case: a plain record is the cheapest `HeadersInit`.
        headers = { authorization };
      }
      const copy = { ...init, headers };
      if (signal) copy.signal = signal;
      return fetch(this.url, copy);
    }
    const headers = new Headers(base.headers);
    headers.set('authorization', authorization);
    const copy = { headers };
    if (this.body) copy.body = this.body;
    if (signal) copy.signal = signal;
    return fetch(new Request(base, copy));
  }

  /** After `fetch` rejected: whether the request itself was invalid (a `TypeError` that is the caller's, not the network's). */
  invalid() {
    if (this.base) return false;
    try {
      new Request(this.url, this.init);
      return false;
    } catch {
      return true;
    }
  }
}
