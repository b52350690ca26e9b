// CommonJS consumers (require) get the same types.
import tk = require('tokenkeeper');

export const k = new tk.TokenKeeper({ dialect: 'oauth2-password', tokenUrl: 'https://auth.example.com/token', username: 'u', password: 'p' });
