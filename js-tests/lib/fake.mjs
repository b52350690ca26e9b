// A scriptable loopback HTTP server for answers the reference server does not give: malformed
// token responses, API 503/429 with Retry-After. `answers` is a queue of
// (req, body) => [status, headers, body]; when it is empty, `fallback` answers.
import http from 'node:http';
import { once } from 'node:events';

export async function startFake(fallback = () => [404, {}, 'not found']) {
  const answers = [];
  const seen = [];
  const server = http.createServer(async (req, res) => {
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method, url: req.url, headers: req.headers, body });
    const [status, headers, out] = (answers.shift() || fallback)(req, body);
    res.writeHead(status, { 'access-control-allow-origin': '*', ...headers });
    res.end(out);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    answers,
    seen,
    close() {
      server.closeAllConnections();
      server.close();
    },
  };
}
