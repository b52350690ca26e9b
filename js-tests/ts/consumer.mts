// A TypeScript consumer of the package: tsc must accept this file against pkg/index.d.ts.
import {
  TokenKeeper,
  TokenKeeperError,
  InvalidCredentialsError,
  TransportError,
  type TokenKeeperMetrics,
  type TokenKeeperOptions,
  type Tokens,
} from 'tokenkeeper';

const options: TokenKeeperOptions = {
  baseUrl: 'https://vitalgraph.example.com',
  credentials: async () => ({ username: 'me', password: 'pw' }),
  storage: 'session',
  crossTab: true,
  refreshMarginMs: 30_000,
  authBackoff: { baseMs: 100, factor: 2, capMs: 5_000 },
  allowedOrigins: ['https://api.example.com'],
};
const keeper = new TokenKeeper(options);
const oauth = new TokenKeeper({ dialect: 'oauth2-client-credentials', tokenUrl: 'https://auth.example.com/token', clientId: 'c', clientSecret: 's', scope: 'read' });

export async function run(): Promise<number> {
  await keeper.login();
  const r: Response = await keeper.fetch('https://vitalgraph.example.com/api/spaces', { method: 'POST', body: new FormData() });
  const r2: Response = await oauth.fetch(new URL('https://api.example.com/x'));
  const r3: Response = await keeper.fetch(new Request('https://api.example.com/y'));
  const f: (input: RequestInfo | URL, init?: RequestInit) => Promise<Response> = keeper.fetch;
  const m: TokenKeeperMetrics = keeper.metrics();
  const off: () => void = keeper.on('refreshed', ({ expiresAt }) => console.log(expiresAt.toFixed()));
  keeper.on('tokens', (t: Tokens) => t.accessToken.length);
  keeper.on('loggedIn', (p) => p.reauthenticated satisfies boolean);
  off();
  try {
    await f('https://api.example.com');
  } catch (e) {
    if (e instanceof InvalidCredentialsError) return e.status ?? 0;
    if (e instanceof TransportError) return e.mayHaveReachedServer ? 1 : 0;
    if (e instanceof TokenKeeperError) return e.code.length;
  }
  keeper.logout();
  return r.status + r2.status + r3.status + m.refreshCount + (m.tokenExpiresAt ?? 0);
}
