//! The tokenkeeper command: demo and doctor (in progress).
