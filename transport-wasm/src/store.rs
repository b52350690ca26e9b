//! Where the token set lives between calls: memory (default), `sessionStorage` or
//! `localStorage`, as the JSON of [`TokenSet`](tokenkeeper_core::TokenSet) with absolute
//! expiry (the machine writes and reads it), so a reload, or a tab that slept, picks up a set
//! that is still valid or still refreshable.

use web_sys::Storage as WebStorage;
use zeroize::Zeroizing;

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

/// One key in a Web Storage area (nothing for [`Storage::Memory`]).
pub(crate) struct Store {
    kind: Storage,
    area: Option<WebStorage>,
    key: String,
    /// The last value read or written, so an unchanged item is not handed over again.
    last: Option<Zeroizing<String>>,
}

impl Store {
    /// A store of this kind under `key`; `None` when the storage area is unavailable here.
    pub(crate) fn open(kind: Storage, key: &str) -> Option<Store> {
        let area = match kind {
            Storage::Memory => None,
            Storage::Session => Some(sys::storage("sessionStorage")?),
            Storage::Local => Some(sys::storage("localStorage")?),
        };
        Some(Store {
            kind,
            area,
            key: key.to_owned(),
            last: None,
        })
    }

    /// The stored set's JSON if it changed since the last read or write.
    pub(crate) fn changed(&mut self) -> Option<Zeroizing<String>> {
        let raw = Zeroizing::new(self.area.as_ref()?.get_item(&self.key).ok()??);
        if self.last.as_deref() == Some(&*raw) {
            return None;
        }
        self.last = Some(raw.clone());
        Some(raw)
    }

    /// The stored set's JSON, changed or not.
    pub(crate) fn current(&mut self) -> Option<Zeroizing<String>> {
        self.last = None;
        self.changed()
    }

    /// Stores `raw`. Quota or security errors leave memory as the only copy.
    pub(crate) fn save(&mut self, raw: Zeroizing<String>) {
        if let Some(area) = &self.area {
            let _ = area.set_item(&self.key, &raw);
            self.last = Some(raw);
        }
    }

    /// Forgets the stored set.
    pub(crate) fn clear(&mut self) {
        if let Some(area) = &self.area {
            let _ = area.remove_item(&self.key);
            self.last = None;
        }
    }

    /// Where the tokens are kept.
    pub(crate) fn kind(&self) -> Storage {
        self.kind
    }
}
