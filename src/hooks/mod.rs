//! Persistence hooks: the only way components read and write stored state.
//!
//! Each hook returns a handle struct with intent-named methods.

mod use_persistent_state;
mod use_store;

pub use use_persistent_state::{use_persistent_state, PersistentState, SaveStatus};
pub use use_store::{use_store, StoreHandle};
