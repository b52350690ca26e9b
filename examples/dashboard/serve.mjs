// A tiny static server for the dashboard: `/` is this folder, `/pkg/` the built npm package
// (bindings-js/pkg). Usage: node examples/dashboard/serve.mjs [port]   (default 8080)
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const pkg = path.resolve(here, '../../bindings-js/pkg');
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.mjs': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.json': 'application/json' };

/** `isolated`: send COOP/COEP so the page is cross-origin isolated (fine-grained timers). */
export function createStaticServer({ isolated = false } = {}) {
  return http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    const [root, rel] = url.pathname.startsWith('/pkg/') ? [pkg, url.pathname.slice(5)] : [here, url.pathname.slice(1) || 'index.html'];
    const file = path.resolve(root, decodeURIComponent(rel));
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const body = await readFile(file);
      const isolation = isolated ? { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' } : {};
      res.writeHead(200, { 'content-type': TYPES[path.extname(file)] || 'application/octet-stream', 'cache-control': 'no-store', ...isolation });
      res.end(body);
    } catch {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
    }
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const port = Number(process.argv[2] || 8080);
  createStaticServer().listen(port, '127.0.0.1', () => console.log(`dashboard on http://127.0.0.1:${port}/?api=http://127.0.0.1:8001`));
}
