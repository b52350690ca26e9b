//! `client.store:`: where a keeper keeps its tokens between runs.

use serde::{Deserialize, Serialize};

/// Where tokens are kept (`client.store.kind`). Only `memory` exists today: the tokens live
/// as long as the keeper. More kinds (`file { path }`, `redis { url, ... }`) are added as
/// variants with their own keys; keys a kind does not take are refused.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum StoreSettings {
    /// In memory only (the default). A struct variant, so that stray keys beside
    /// `kind: memory` are refused like any unknown key.
    Memory {},
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings::Memory {}
    }
}
