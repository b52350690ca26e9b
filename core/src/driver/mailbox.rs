//! The mailboxes between the engine and the tasks that wait for their exchanges.

use core::task::Waker;

use http::HeaderValue;

use crate::action::ExchangeId;
use crate::error::Error;

/// What the engine decided for one exchange: the part of an [`Action`](crate::Action) that its
/// task must carry out.
#[derive(Debug)]
pub enum Step {
    /// Send (or resend) the request with this `Authorization` value, then report the outcome.
    Send(HeaderValue),
    /// Hand the last response to the caller. The exchange has ended.
    Deliver,
    /// Fail the caller with this error. The exchange has ended.
    Fail(Error),
    /// The caller gave up while the exchange waited (an abort signal fired): end it as the
    /// caller asked. Only produced by [`Driver::interrupt`](super::Driver::interrupt).
    Interrupted,
}

impl Step {
    /// Whether the exchange has ended with this step (everything but `Send`).
    pub fn is_final(&self) -> bool {
        !matches!(self, Step::Send(_))
    }
}

#[derive(Default)]
struct Mailbox {
    step: Option<Step>,
    waker: Option<Waker>,
    interrupted: bool,
}

/// The live exchanges' mailboxes: the next step of each, and the waker of the task waiting
/// for it.
///
/// A short vector searched from the newest end: the engine reuses its exchange slots as soon as
/// an exchange ends, while its task may not have taken the final step yet, so the mailboxes
/// are keyed by the whole id. A vector keeps a map's code out of the browser's `.wasm` and is
/// quick for the few hundred exchanges that wait at once.
#[derive(Default)]
pub(crate) struct Mailboxes(Vec<(ExchangeId, Mailbox)>);

impl Mailboxes {
    pub(crate) fn open(&mut self, id: ExchangeId) {
        self.0.push((id, Mailbox::default()));
    }

    fn get(&mut self, id: ExchangeId) -> Option<&mut Mailbox> {
        self.0
            .iter_mut()
            .rev()
            .find(|(i, _)| *i == id)
            .map(|(_, m)| m)
    }

    pub(crate) fn contains(&self, id: ExchangeId) -> bool {
        self.0.iter().any(|(i, _)| *i == id)
    }

    pub(crate) fn close(&mut self, id: ExchangeId) {
        if let Some(at) = self.0.iter().rposition(|(i, _)| *i == id) {
            self.0.swap_remove(at);
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.0.len()
    }

    /// Posts `step` to `id`'s mailbox; returns the waker to wake, if its task waits. A step for
    /// an exchange without a mailbox (its task is gone) is dropped.
    pub(crate) fn post(&mut self, id: ExchangeId, step: Step) -> Option<Waker> {
        let m = self.get(id)?;
        debug_assert!(m.step.is_none(), "two steps for one exchange");
        m.step = Some(step);
        m.waker.take()
    }

    /// Marks the exchange interrupted; returns the waker to wake.
    pub(crate) fn interrupt(&mut self, id: ExchangeId) -> Option<Waker> {
        let m = self.get(id)?;
        m.interrupted = true;
        m.waker.take()
    }

    /// The exchange's next step, if one is due; a final step closes the mailbox. `None` with
    /// the mailbox still open means "not yet": `waker` is kept to be woken.
    pub(crate) fn take(&mut self, id: ExchangeId, waker: Option<&Waker>) -> Option<Step> {
        let at = self.0.iter().rposition(|(i, _)| *i == id)?;
        let m = &mut self.0[at].1;
        let step = if m.interrupted {
            Some(Step::Interrupted)
        } else {
            m.step.take()
        };
        let Some(step) = step else {
            if let Some(w) = waker {
                match &m.waker {
                    Some(old) if old.will_wake(w) => {}
                    _ => m.waker = Some(w.clone()),
                }
            }
            return None;
        };
        m.waker = None;
        if step.is_final() {
            self.0.swap_remove(at);
        }
        Some(step)
    }

    /// Takes every parked waker (to wake them all: a timer moved, a parked job appeared).
    pub(crate) fn wakers(&mut self, out: &mut Vec<Waker>) {
        out.extend(self.0.iter_mut().filter_map(|(_, m)| m.waker.take()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(index: u32, tag: u32) -> ExchangeId {
        ExchangeId { index, tag }
    }

    #[test]
    fn a_reused_slot_does_not_see_the_previous_exchanges_final_step() {
        let mut m = Mailboxes::default();
        m.open(id(0, 0));
        assert!(m.post(id(0, 0), Step::Deliver).is_none());
        // The engine reused slot 0 before the first task took its Deliver.
        m.open(id(0, 1));
        assert!(m.take(id(0, 1), None).is_none());
        assert!(matches!(m.take(id(0, 0), None), Some(Step::Deliver)));
        assert!(!m.contains(id(0, 0)), "a final step closes the mailbox");
        assert!(m.contains(id(0, 1)));
    }

    #[test]
    fn interrupt_wins_over_a_pending_send() {
        let mut m = Mailboxes::default();
        m.open(id(3, 0));
        let _ = m.post(id(3, 0), Step::Send(HeaderValue::from_static("Bearer x")));
        let _ = m.interrupt(id(3, 0));
        assert!(matches!(m.take(id(3, 0), None), Some(Step::Interrupted)));
        assert_eq!(m.len(), 0);
    }

    #[test]
    fn steps_for_closed_mailboxes_are_dropped() {
        let mut m = Mailboxes::default();
        assert!(m.post(id(1, 0), Step::Deliver).is_none());
        assert_eq!(m.len(), 0);
    }
}
