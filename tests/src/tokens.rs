//! Token issuance and revocation state: families, rotation, reuse detection, revoke-all.
//!
//! Every login starts a *family*. Access and refresh tokens carry the family id; revoking a
//! family (reuse detection, revoke-all) kills every token in it at once. With rotation a
//! refresh retires the presented refresh token; presenting a retired one again is *reuse*.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::jwt::{self, Claims, JwtError, TokenType};

/// The settings in force for one issuance, read from the live settings by the caller.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Policy {
    pub(crate) access_ttl: Duration,
    pub(crate) refresh_ttl: Duration,
    pub(crate) rotation: bool,
    pub(crate) reuse_detection: bool,
    pub(crate) revoke_access_on_rotation: bool,
    /// Added to the `exp` claim of access tokens (not to `exp_ms`, which the server checks):
    /// a token whose claim lies about its lifetime.
    pub(crate) access_exp_offset_secs: i64,
}

/// What a login asks for.
#[derive(Debug, Clone)]
pub(crate) struct LoginGrant {
    /// Username or client id.
    pub(crate) subject: String,
    /// The authenticated OAuth client, if any.
    pub(crate) client_id: Option<String>,
    /// Requested scope, echoed back.
    pub(crate) scope: Option<String>,
    /// Access lifetime asked for by the login (VitalGraph `token_expiry_seconds`); kept
    /// for the family's refreshes.
    pub(crate) access_ttl: Option<Duration>,
    /// Whether to issue a refresh token (not for client credentials).
    pub(crate) with_refresh: bool,
}

/// Tokens handed out by a login or a refresh.
#[derive(Debug, Clone)]
pub(crate) struct Issued {
    pub(crate) access_token: String,
    /// Whole seconds of access lifetime (rounded down).
    pub(crate) expires_in: u64,
    pub(crate) refresh_token: Option<String>,
    pub(crate) scope: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenError {
    /// Not a token this server signed.
    Malformed,
    /// An access token where a refresh token belongs, or the reverse.
    WrongType,
    /// Past its expiry (millisecond precision, no leeway).
    Expired,
    /// Its family or the token itself was revoked, or the server no longer knows it.
    Revoked,
    /// A retired refresh token presented again; its family is now revoked.
    Reused,
    /// A refresh token already retired by rotation (reuse detection off).
    Retired,
    /// A refresh token issued to another OAuth client.
    WrongClient,
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TokenError::Malformed => "malformed or unverifiable token",
            TokenError::WrongType => "wrong token type",
            TokenError::Expired => "token expired",
            TokenError::Revoked => "token revoked",
            TokenError::Reused => "refresh token reuse detected; session revoked",
            TokenError::Retired => "refresh token already used",
            TokenError::WrongClient => "refresh token was issued to another client",
        })
    }
}

#[derive(Debug)]
struct Family {
    client_id: Option<String>,
    scope: Option<String>,
    subject: String,
    access_ttl: Option<Duration>,
    current_refresh: Option<String>,
    retired_refresh: HashSet<String>,
    last_access: Option<String>,
    revoked: bool,
}

#[derive(Debug, Default)]
struct Store {
    families: HashMap<String, Family>,
    revoked_jti: HashSet<String>,
}

/// Signs tokens and keeps the revocation state.
#[derive(Debug)]
pub(crate) struct Tokens {
    secret: Vec<u8>,
    nonce: String,
    next_id: AtomicU64,
    store: Mutex<Store>,
}

impl Tokens {
    /// A store signing with `secret`; ids carry a per-instance nonce so that two servers
    /// sharing a secret never confuse each other's tokens.
    pub(crate) fn new(secret: Vec<u8>) -> Self {
        let nonce = format!("{:08x}", RandomState::new().hash_one(0u8) as u32);
        Tokens {
            secret,
            nonce,
            next_id: AtomicU64::new(1),
            store: Mutex::new(Store::default()),
        }
    }

    fn id(&self, prefix: char) -> String {
        let n = self.next_id.fetch_add(1, Ordering::Relaxed);
        format!("{prefix}{}-{n}", self.nonce)
    }

    fn sign(
        &self,
        now_ms: u64,
        sub: &str,
        typ: TokenType,
        fam: &str,
        ttl: Duration,
        exp_offset: i64,
    ) -> (String, String) {
        let jti = self.id('t');
        let exp_ms = now_ms.saturating_add(ttl.as_millis() as u64);
        let claims = Claims {
            sub: sub.to_owned(),
            typ,
            fam: fam.to_owned(),
            jti: jti.clone(),
            iat: now_ms / 1000,
            exp: ((exp_ms / 1000) as i64).saturating_add(exp_offset),
            exp_ms,
        };
        (jwt::encode(&self.secret, &claims), jti)
    }

    /// Starts a family and issues its first tokens.
    pub(crate) fn login(&self, now_ms: u64, policy: &Policy, grant: LoginGrant) -> Issued {
        let fam = self.id('f');
        let ttl = grant.access_ttl.unwrap_or(policy.access_ttl);
        let (access_token, access_jti) = self.sign(
            now_ms,
            &grant.subject,
            TokenType::Access,
            &fam,
            ttl,
            policy.access_exp_offset_secs,
        );
        let refresh = grant.with_refresh.then(|| {
            self.sign(
                now_ms,
                &grant.subject,
                TokenType::Refresh,
                &fam,
                policy.refresh_ttl,
                0,
            )
        });
        let family = Family {
            client_id: grant.client_id,
            scope: grant.scope.clone(),
            subject: grant.subject,
            access_ttl: grant.access_ttl,
            current_refresh: refresh.as_ref().map(|(_, jti)| jti.clone()),
            retired_refresh: HashSet::new(),
            last_access: Some(access_jti),
            revoked: false,
        };
        self.lock().families.insert(fam, family);
        Issued {
            access_token,
            expires_in: ttl.as_secs(),
            refresh_token: refresh.map(|(t, _)| t),
            scope: grant.scope,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn decode(&self, token: &str) -> Result<Claims, TokenError> {
        jwt::decode(&self.secret, token).map_err(|e| match e {
            JwtError::Malformed | JwtError::BadSignature => TokenError::Malformed,
        })
    }

    /// The type of a token this server signed, if it did.
    pub(crate) fn token_type(&self, token: &str) -> Option<TokenType> {
        self.decode(token).ok().map(|c| c.typ)
    }

    /// Exchanges a refresh token for a new access token (and a new refresh token with
    /// rotation). `client_id` is the authenticated OAuth client, if any.
    pub(crate) fn refresh(
        &self,
        now_ms: u64,
        policy: &Policy,
        token: &str,
        client_id: Option<&str>,
    ) -> Result<Issued, TokenError> {
        let claims = self.decode(token)?;
        if claims.typ != TokenType::Refresh {
            return Err(TokenError::WrongType);
        }
        if now_ms >= claims.exp_ms {
            return Err(TokenError::Expired);
        }
        let mut guard = self.lock();
        let store = &mut *guard;
        let fam = store
            .families
            .get_mut(&claims.fam)
            .ok_or(TokenError::Revoked)?;
        if fam.revoked || store.revoked_jti.contains(&claims.jti) {
            return Err(TokenError::Revoked);
        }
        if fam.retired_refresh.contains(&claims.jti) {
            if policy.reuse_detection {
                fam.revoked = true;
                return Err(TokenError::Reused);
            }
            return Err(TokenError::Retired);
        }
        if fam.current_refresh.as_deref() != Some(claims.jti.as_str()) {
            return Err(TokenError::Revoked);
        }
        if let (Some(owner), Some(asker)) = (fam.client_id.as_deref(), client_id)
            && owner != asker
        {
            return Err(TokenError::WrongClient);
        }
        let ttl = fam.access_ttl.unwrap_or(policy.access_ttl);
        let (access_token, access_jti) = self.sign(
            now_ms,
            &fam.subject,
            TokenType::Access,
            &claims.fam,
            ttl,
            policy.access_exp_offset_secs,
        );
        if policy.revoke_access_on_rotation
            && let Some(prev) = fam.last_access.take()
        {
            store.revoked_jti.insert(prev);
        }
        fam.last_access = Some(access_jti);
        let refresh_token = if policy.rotation {
            let (t, jti) = self.sign(
                now_ms,
                &fam.subject,
                TokenType::Refresh,
                &claims.fam,
                policy.refresh_ttl,
                0,
            );
            fam.retired_refresh.insert(claims.jti);
            fam.current_refresh = Some(jti);
            Some(t)
        } else {
            None
        };
        Ok(Issued {
            access_token,
            expires_in: ttl.as_secs(),
            refresh_token,
            scope: fam.scope.clone(),
        })
    }

    /// Checks an access token for the protected API and returns its claims.
    pub(crate) fn check_access(&self, now_ms: u64, token: &str) -> Result<Claims, TokenError> {
        let claims = self.decode(token)?;
        if claims.typ != TokenType::Access {
            return Err(TokenError::WrongType);
        }
        if now_ms >= claims.exp_ms {
            return Err(TokenError::Expired);
        }
        let store = self.lock();
        match store.families.get(&claims.fam) {
            Some(f) if !f.revoked && !store.revoked_jti.contains(&claims.jti) => Ok(claims),
            _ => Err(TokenError::Revoked),
        }
    }

    /// Revokes every token issued so far; later logins work as usual.
    pub(crate) fn revoke_all(&self) {
        for fam in self.lock().families.values_mut() {
            fam.revoked = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(rotation: bool) -> Policy {
        Policy {
            access_ttl: Duration::from_mins(1),
            refresh_ttl: Duration::from_mins(10),
            rotation,
            reuse_detection: true,
            revoke_access_on_rotation: false,
            access_exp_offset_secs: 0,
        }
    }

    fn login(t: &Tokens, p: &Policy) -> Issued {
        t.login(
            1_000_000,
            p,
            LoginGrant {
                subject: "admin".into(),
                client_id: None,
                scope: None,
                access_ttl: Some(Duration::from_millis(1500)),
                with_refresh: true,
            },
        )
    }

    #[test]
    fn expiry_is_exact_to_the_millisecond() {
        let t = Tokens::new(b"k".to_vec());
        let p = policy(false);
        let i = login(&t, &p);
        assert!(t.check_access(1_001_499, &i.access_token).is_ok());
        assert_eq!(
            t.check_access(1_001_500, &i.access_token),
            Err(TokenError::Expired)
        );
    }

    #[test]
    fn refresh_keeps_the_login_lifetime_and_reuse_revokes_the_family() {
        let t = Tokens::new(b"k".to_vec());
        let p = policy(true);
        let i = login(&t, &p);
        let r1 = i.refresh_token.unwrap();
        let j = t.refresh(1_000_100, &p, &r1, None).unwrap();
        assert_eq!(j.expires_in, 1);
        assert!(t.check_access(1_001_599, &j.access_token).is_ok());
        assert_eq!(
            t.refresh(1_000_200, &p, &r1, None).unwrap_err(),
            TokenError::Reused
        );
        assert_eq!(
            t.check_access(1_000_200, &j.access_token),
            Err(TokenError::Revoked)
        );
        let r2 = j.refresh_token.unwrap();
        assert_eq!(
            t.refresh(1_000_300, &p, &r2, None).unwrap_err(),
            TokenError::Revoked
        );
    }
}
