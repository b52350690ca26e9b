//! What the tabs of one origin say to each other over their `BroadcastChannel` (one channel
//! per keeper key), as a [`Message`] that owns its encoding and decoding.
//!
//! Messages are strings: `s<json>` (a token set, after a login or refresh, or in answer to an
//! ask; the JSON is [`TokenSet::to_json`]), `a` (ask: "send me your tokens", from a new tab
//! or one whose lock found that another tab got newer tokens) and `c` (clear: an explicit
//! logout). Anything else is not a message and is ignored.

use tokenkeeper_core::TokenSet;
use zeroize::Zeroizing;

/// One message between tabs.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// A token set: adopt it if it is newer ([`Session::offer_tokens`](tokenkeeper_core::Session::offer_tokens)).
    Set(TokenSet),
    /// "Send me your tokens."
    Ask,
    /// An explicit logout: forget the tokens.
    Clear,
}

impl Message {
    /// The message as it is posted. A set's text holds the tokens: it is wiped when dropped.
    pub fn encode(&self) -> Zeroizing<String> {
        match self {
            Message::Set(set) => {
                let json = set.to_json();
                let mut out = Zeroizing::new(String::with_capacity(json.len() + 1));
                out.push('s');
                out.push_str(&json);
                out
            }
            Message::Ask => Zeroizing::new("a".to_owned()),
            Message::Clear => Zeroizing::new("c".to_owned()),
        }
    }

    /// Reads a posted message; `None` for anything that is not one (another program's
    /// message on the channel, a set that does not parse).
    pub fn decode(text: &str) -> Option<Message> {
        match text.as_bytes().first()? {
            b's' => TokenSet::from_json(&text.as_bytes()[1..]).map(Message::Set),
            b'a' if text.len() == 1 => Some(Message::Ask),
            b'c' if text.len() == 1 => Some(Message::Clear),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokenkeeper_core::{Secret, Timestamp};

    #[test]
    fn every_message_reads_back_as_itself() {
        let set = TokenSet {
            access_token: Secret::new("at"),
            refresh_token: Some(Secret::new("rt")),
            issued_at: Timestamp::from_millis(5),
            expires_at: Timestamp::from_millis(9),
            refresh_expires_at: None,
        };
        for m in [Message::Set(set), Message::Ask, Message::Clear] {
            assert_eq!(Message::decode(&m.encode()), Some(m));
        }
        assert_eq!(&*Message::Ask.encode(), "a");
        assert_eq!(&*Message::Clear.encode(), "c");
    }

    #[test]
    fn other_text_is_no_message() {
        for t in ["", "x", "aa", "c!", "s", "s{}", "s{\"access_token\":\"a\"}"] {
            assert_eq!(Message::decode(t), None, "{t}");
        }
    }
}
