//! Drives the tokenkeeper engine in browsers with fetch and Web Locks (in progress).
