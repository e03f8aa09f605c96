use std::ops::Deref;
use std::rc::Rc;

use cairn_client::Store;
use yew::prelude::*;

/// The open store, shared through context by [`PersistenceProvider`].
///
/// [`PersistenceProvider`]: crate::components::PersistenceProvider
#[derive(Clone)]
pub struct StoreHandle(pub Rc<Store>);

impl PartialEq for StoreHandle {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl Deref for StoreHandle {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.0
    }
}

/// The open store. Panics if used outside a `PersistenceProvider`: that is a bug in the
/// component tree, not a runtime condition.
#[hook]
pub fn use_store() -> StoreHandle {
    use_context::<StoreHandle>().expect("use_store must be used inside <PersistenceProvider>")
}
