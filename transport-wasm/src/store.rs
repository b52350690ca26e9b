//! Where the token set lives between calls: memory (default), `sessionStorage` or
//! `localStorage`. Stored as the JSON of [`TokenSet`] (absolute `expires_at`), so a reload, or
//! a tab that slept, picks up a set that is still valid or still refreshable.

use tokenkeeper_core::{Secret, Timestamp, TokenSet};
use wasm_bindgen::JsValue;
use web_sys::Storage as WebStorage;

use crate::sys;

/// Where the keeper keeps its tokens.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum Storage {
    /// In memory only: gone with the page (default, and the safest).
    #[default]
    Memory,
    /// `sessionStorage`: survives reloads of this tab, not shared with other tabs.
    Session,
    /// `localStorage`: survives restarts and is shared by every tab of the origin. Anything
    /// that runs script on the origin can read it.
    Local,
}

/// The token set as stored and broadcast: the same JSON as `TokenSet`'s serde form
/// (`access_token`, `refresh_token`, `issued_at`, `expires_at`, `refresh_expires_at`, times in
/// epoch milliseconds), written with the host's `JSON` to keep a JSON serializer out of the
/// `.wasm`.
pub(crate) fn encode(set: &TokenSet) -> Option<String> {
    let ms = |t: Timestamp| JsValue::from_f64(t.as_millis() as f64);
    let mut fields = vec![("access_token", JsValue::from_str(set.access_token.expose()))];
    if let Some(rt) = &set.refresh_token {
        fields.push(("refresh_token", JsValue::from_str(rt.expose())));
    }
    fields.push(("issued_at", ms(set.issued_at)));
    fields.push(("expires_at", ms(set.expires_at)));
    if let Some(t) = set.refresh_expires_at {
        fields.push(("refresh_expires_at", ms(t)));
    }
    js_sys::JSON::stringify(&sys::object(&fields))
        .ok()?
        .as_string()
}

/// A stored or broadcast token set; `None` for anything that does not parse.
pub(crate) fn decode(raw: &str) -> Option<TokenSet> {
    let v = js_sys::JSON::parse(raw).ok()?;
    let text = |name| sys::prop(&v, name)?.as_string();
    let time = |name| {
        let n = sys::prop(&v, name)?.as_f64()?;
        (n.is_finite() && n >= 0.0).then(|| Timestamp::from_millis(n as u64))
    };
    Some(TokenSet {
        access_token: Secret::new(text("access_token")?),
        refresh_token: text("refresh_token").map(Secret::new),
        issued_at: time("issued_at")?,
        expires_at: time("expires_at")?,
        refresh_expires_at: time("refresh_expires_at"),
    })
}

/// Whether `candidate` was issued after `current` (the later login or refresh wins).
pub(crate) fn is_newer(candidate: &TokenSet, current: Option<&TokenSet>) -> bool {
    current.is_none_or(|c| candidate.issued_at > c.issued_at)
}

/// The persistent half of [`Storage`]: one key in a Web Storage area.
pub(crate) struct Store {
    kind: Storage,
    area: Option<WebStorage>,
    key: String,
    /// The last value read or written, so an unchanged item is not parsed again.
    last_raw: Option<String>,
}

impl Store {
    /// A store of this kind under `key`; `None` when the storage area is unavailable here.
    pub(crate) fn open(kind: Storage, key: String) -> Option<Store> {
        let area = match kind {
            Storage::Memory => None,
            Storage::Session => Some(sys::storage("sessionStorage")?),
            Storage::Local => Some(sys::storage("localStorage")?),
        };
        Some(Store {
            kind,
            area,
            key,
            last_raw: None,
        })
    }

    /// The stored set if it changed since the last read or write.
    pub(crate) fn load_changed(&mut self) -> Option<TokenSet> {
        let area = self.area.as_ref()?;
        let raw = area.get_item(&self.key).ok().flatten()?;
        if self.last_raw.as_deref() == Some(raw.as_str()) {
            return None;
        }
        let set = decode(&raw);
        self.last_raw = Some(raw);
        set
    }

    /// The stored set, changed or not.
    pub(crate) fn load(&mut self) -> Option<TokenSet> {
        self.last_raw = None;
        self.load_changed()
    }

    /// Stores `raw` (an encoded set). Quota or security errors leave memory as the only copy.
    pub(crate) fn save(&mut self, raw: &str) {
        if let Some(area) = &self.area {
            let _ = area.set_item(&self.key, raw);
            self.last_raw = Some(raw.to_owned());
        }
    }

    /// Forgets the stored set.
    pub(crate) fn clear(&mut self) {
        if let Some(area) = &self.area {
            let _ = area.remove_item(&self.key);
            self.last_raw = None;
        }
    }

    /// Where the tokens are kept.
    pub(crate) fn kind(&self) -> Storage {
        self.kind
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(issued: u64) -> TokenSet {
        TokenSet {
            access_token: Secret::new("a"),
            refresh_token: None,
            issued_at: Timestamp::from_millis(issued),
            expires_at: Timestamp::from_millis(issued + 1000),
            refresh_expires_at: None,
        }
    }

    #[test]
    fn the_later_issued_set_wins() {
        assert!(is_newer(&set(1), None));
        assert!(is_newer(&set(2), Some(&set(1))));
        assert!(
            !is_newer(&set(1), Some(&set(1))),
            "the same set is not adopted twice"
        );
        assert!(!is_newer(&set(1), Some(&set(2))));
    }

    #[test]
    fn the_stored_json_is_the_serde_form_of_token_set() {
        // encode/decode use the host's JSON (not testable natively); they write these names.
        let json = serde_json::to_value(set(5)).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["access_token", "expires_at", "issued_at"]);
    }
}
