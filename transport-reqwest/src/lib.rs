//! Drives the tokenkeeper engine with reqwest: async client, blocking client and a reqwest-middleware layer (in progress).
