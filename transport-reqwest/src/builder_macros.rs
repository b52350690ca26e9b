//! The request-building surface both clients share (async [`Client`](crate::Client) and
//! [`blocking::Client`](crate::blocking::Client)), written once as macros that each client
//! type expands.

/// `get`, `post`, `put`, `patch`, `delete` and `head` for both clients (async and blocking),
/// written once: each calls the type's own `request(method, url)` and returns `$builder`.
macro_rules! method_shorthands {
    ($builder:ty) => {
        /// A `GET` request.
        pub fn get<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::GET, url)
        }

        /// A `POST` request (not resent after an error that may have reached the server).
        pub fn post<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::POST, url)
        }

        /// A `PUT` request.
        pub fn put<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::PUT, url)
        }

        /// A `PATCH` request (not resent after an error that may have reached the server).
        pub fn patch<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::PATCH, url)
        }

        /// A `DELETE` request.
        pub fn delete<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::DELETE, url)
        }

        /// A `HEAD` request.
        pub fn head<U: reqwest::IntoUrl>(&self, url: U) -> $builder {
            self.request(reqwest::Method::HEAD, url)
        }
    };
}
pub(crate) use method_shorthands;

/// The builder methods both request builders (async and blocking) share, written once: each
/// hands the wrapped builder to the type's own `map`.
macro_rules! builder_methods {
    () => {
        /// Adds a header.
        #[must_use]
        pub fn header<K, V>(self, key: K, value: V) -> Self
        where
            reqwest::header::HeaderName: TryFrom<K>,
            <reqwest::header::HeaderName as TryFrom<K>>::Error: Into<http::Error>,
            reqwest::header::HeaderValue: TryFrom<V>,
            <reqwest::header::HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
        {
            self.map(|b| b.header(key, value))
        }

        /// Adds headers (merged into those already set).
        #[must_use]
        pub fn headers(self, headers: reqwest::header::HeaderMap) -> Self {
            self.map(|b| b.headers(headers))
        }

        /// Appends query parameters (serialized with `serde_urlencoded`).
        #[must_use]
        pub fn query<T: serde::Serialize + ?Sized>(self, query: &T) -> Self {
            self.map(|b| b.query(query))
        }

        /// A JSON body (buffered: replayed on resend).
        #[must_use]
        pub fn json<T: serde::Serialize + ?Sized>(self, json: &T) -> Self {
            self.map(|b| b.json(json))
        }

        /// A form body (buffered: replayed on resend).
        #[must_use]
        pub fn form<T: serde::Serialize + ?Sized>(self, form: &T) -> Self {
            self.map(|b| b.form(form))
        }

        /// A body: bytes, `String`, `Vec<u8>`... are buffered and replayed on resend; a
        /// streaming body is sent once and never resent.
        #[must_use]
        pub fn body<T: Into<reqwest::Body>>(self, body: T) -> Self {
            self.map(|b| b.body(body))
        }

        /// A timeout for each attempt (from sending to the end of the response headers and
        /// body).
        #[must_use]
        pub fn timeout(self, timeout: std::time::Duration) -> Self {
            self.map(|b| b.timeout(timeout))
        }
    };
}
pub(crate) use builder_methods;
