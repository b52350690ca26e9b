//! A tiny slab of exchanges: reused slots, so the hot path allocates nothing once warm.

use crate::action::ExchangeId;

struct Slot<T> {
    tag: u32,
    value: Option<T>,
}

/// Storage for live values addressed by [`ExchangeId`]; a removed id never matches again.
pub(crate) struct Slab<T> {
    slots: Vec<Slot<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Slab<T> {
    pub(crate) fn new() -> Self {
        Slab {
            slots: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn insert(&mut self, value: T) -> ExchangeId {
        self.len += 1;
        if let Some(index) = self.free.pop() {
            let slot = &mut self.slots[index as usize];
            slot.tag = slot.tag.wrapping_add(1);
            slot.value = Some(value);
            ExchangeId {
                index,
                tag: slot.tag,
            }
        } else {
            let index = u32::try_from(self.slots.len()).expect("fewer than 2^32 live exchanges");
            self.slots.push(Slot {
                tag: 0,
                value: Some(value),
            });
            ExchangeId { index, tag: 0 }
        }
    }

    pub(crate) fn get_mut(&mut self, id: ExchangeId) -> Option<&mut T> {
        match self.slots.get_mut(id.index as usize) {
            Some(slot) if slot.tag == id.tag => slot.value.as_mut(),
            _ => None,
        }
    }

    pub(crate) fn remove(&mut self, id: ExchangeId) -> Option<T> {
        match self.slots.get_mut(id.index as usize) {
            Some(slot) if slot.tag == id.tag && slot.value.is_some() => {
                self.free.push(id.index);
                self.len -= 1;
                slot.value.take()
            }
            _ => None,
        }
    }

    /// Ids of the live values, appended to `out`.
    pub(crate) fn ids_where(&self, out: &mut Vec<ExchangeId>, mut pred: impl FnMut(&T) -> bool) {
        for (index, slot) in self.slots.iter().enumerate() {
            if let Some(v) = &slot.value
                && pred(v)
            {
                out.push(ExchangeId {
                    index: index as u32,
                    tag: slot.tag,
                });
            }
        }
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().filter_map(|s| s.value.as_ref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_ids_never_match_again() {
        let mut s = Slab::new();
        let a = s.insert(1);
        assert_eq!(s.remove(a), Some(1));
        let b = s.insert(2);
        assert_eq!(a.index, b.index);
        assert!(s.get_mut(a).is_none());
        assert_eq!(s.remove(a), None);
        assert_eq!(s.get_mut(b), Some(&mut 2));
        assert_eq!(s.len(), 1);
    }
}
