//! The binding's per-thread table of sessions: JS holds a small integer id
//! per session instead of a wrapped native object.
//!
//! A wrapped object costs a JS object, a reference and a finalizer (about
//! 300 bytes per idle session, measured), and its memory would come back
//! only at garbage collection. Here `close(id)` frees a session at once.

use std::cell::RefCell;

use napi::{Error, Result, Status};
use netbios_session_core::{NetbiosName, Session, SessionError};

/// One session's native state, boxed in the table.
pub struct Entry {
    pub session: Session,
    /// The names of the REQUEST or FALLBACK event just reported, until JS
    /// takes them (boxed: most sessions never hold any).
    pub names: Option<Box<[NetbiosName]>>,
    /// Why the session failed, until JS takes it.
    pub error: Option<Box<SessionError>>,
}

/// Slot indexes take the low bits of an id, a generation count the high
/// ones, so an id kept after `close` never reaches the slot's next owner.
const INDEX_BITS: u32 = 22;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;
const MAX_SESSIONS: usize = 1 << INDEX_BITS;

struct Slot {
    generation: u32,
    entry: Option<Box<Entry>>,
}

/// Every open session of one JS thread, addressed by ids.
#[derive(Default)]
pub struct SessionTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    open: u32,
}

thread_local! {
    // A thread-local rather than a napi class: each JS thread (main or
    // worker) is one OS thread, and a plain function call costs less than
    // half of a class method's, which must unwrap `this` (90 against 240 ns
    // measured, per call, and a session setup makes about ten).
    static TABLE: RefCell<SessionTable> = RefCell::new(SessionTable::default());
}

/// Runs `f` on this thread's table. Nothing in `f` calls back into JS, so
/// the borrow cannot be re-entered.
pub fn with_table<T>(f: impl FnOnce(&mut SessionTable) -> T) -> T {
    TABLE.with(|table| f(&mut table.borrow_mut()))
}

/// The error for an id that names no open session.
pub fn closed() -> Error {
    Error::new(Status::GenericFailure, "the session is closed")
}

impl SessionTable {
    pub fn entry(&mut self, id: u32) -> Option<&mut Entry> {
        let slot = self.slots.get_mut((id & INDEX_MASK) as usize)?;
        if slot.generation != id >> INDEX_BITS {
            return None;
        }
        slot.entry.as_deref_mut()
    }

    /// The open session `id`, or the error saying it is closed.
    pub fn session(&mut self, id: u32) -> Result<&mut Session> {
        self.entry(id).map(|e| &mut e.session).ok_or_else(closed)
    }

    pub fn open(&self) -> u32 {
        self.open
    }

    pub fn insert(&mut self, session: Session) -> Result<u32> {
        let index = match self.free.pop() {
            Some(index) => index as usize,
            None if self.slots.len() < MAX_SESSIONS => {
                self.slots.push(Slot {
                    generation: 0,
                    entry: None,
                });
                self.slots.len() - 1
            }
            None => {
                return Err(Error::new(
                    Status::GenericFailure,
                    format!("too many open sessions (at most {MAX_SESSIONS} per thread)"),
                ))
            }
        };
        let slot = &mut self.slots[index];
        slot.entry = Some(Box::new(Entry {
            session,
            names: None,
            error: None,
        }));
        self.open += 1;
        Ok(index as u32 | slot.generation << INDEX_BITS)
    }

    pub fn close(&mut self, id: u32) {
        let index = id & INDEX_MASK;
        if let Some(slot) = self.slots.get_mut(index as usize) {
            if slot.generation == id >> INDEX_BITS && slot.entry.take().is_some() {
                slot.generation = (slot.generation + 1) & (u32::MAX >> INDEX_BITS);
                self.free.push(index);
                self.open -= 1;
            }
        }
    }
}
