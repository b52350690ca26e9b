//! Reference authorization server (VitalGraph routes and an RFC 6749 token endpoint) for tokenkeeper's tests (in progress).
