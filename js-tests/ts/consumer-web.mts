// The browser entry point (`tokenkeeper/web`) has the same types.
import { TokenKeeper, SessionExpiredError } from 'tokenkeeper/web';

const k = new TokenKeeper({ baseUrl: 'https://vitalgraph.example.com', username: 'u', password: 'p', storage: 'local' });
export const crossTab: boolean = k.crossTab;
export const isError = (e: unknown): boolean => e instanceof SessionExpiredError;
