//! Per-context customer stores behind one lock.
//!
//! One `std::sync::Mutex` guards every check-and-change, so concurrent
//! creates of one UserID yield exactly one record and concurrent PATCHes
//! never lose an update. The lock is never held across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

use crate::spec::contract::Customer;

use super::error::ReferenceError;
use super::fixture::Preload;
use super::unspecified::UnspecifiedError;

/// Largest id a preload may fix (2^53: exact in every JSON number implementation).
const MAX_PRELOAD_ID: i64 = 1 << 53;

/// Values for the non-key customer fields; `None` keeps the stored value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct FieldChanges {
    pub name: Option<String>,
    pub address: Option<String>,
    pub email: Option<String>,
    pub phone_number: Option<String>,
    pub alt_phone_number: Option<String>,
}

impl FieldChanges {
    fn apply_to(self, customer: &mut Customer) {
        let FieldChanges {
            name,
            address,
            email,
            phone_number,
            alt_phone_number,
        } = self;
        let pairs = [
            (name, &mut customer.name),
            (address, &mut customer.address),
            (email, &mut customer.email),
            (phone_number, &mut customer.phone_number),
            (alt_phone_number, &mut customer.alt_phone_number),
        ];
        for (new, slot) in pairs {
            if let Some(new) = new {
                *slot = new;
            }
        }
    }
}

/// The customers of one context, by id, with a UserID index.
#[derive(Debug, Default)]
struct ContextStore {
    by_id: BTreeMap<i64, Customer>,
    id_by_user_id: HashMap<String, i64>,
}

impl ContextStore {
    fn insert(&mut self, customer: Customer) {
        self.id_by_user_id
            .insert(customer.user_id.clone(), customer.id);
        self.by_id.insert(customer.id, customer);
    }

    fn get_mut(&mut self, user_id: &str) -> Option<&mut Customer> {
        let id = self.id_by_user_id.get(user_id)?;
        self.by_id.get_mut(id)
    }
}

#[derive(Debug)]
struct Inner {
    /// Next id to hand out; one server-wide counter, increasing.
    next_id: i64,
    contexts: BTreeMap<String, ContextStore>,
}

/// Every context's customers.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
}

impl Store {
    /// Empty stores for `contexts`, then the preload (ids kept when given).
    pub(crate) fn new(contexts: &[String], preload: &Preload) -> Result<Self, ReferenceError> {
        let invalid = |problem: String| ReferenceError::InvalidPreload {
            file: preload.source_name().to_string(),
            problem,
        };
        let mut stores: BTreeMap<String, ContextStore> = contexts
            .iter()
            .map(|c| (c.clone(), ContextStore::default()))
            .collect();

        let mut taken_ids = BTreeMap::new();
        for (context, customers) in preload.contexts() {
            if !stores.contains_key(context) {
                return Err(invalid(format!("context {context:?} does not exist")));
            }
            for customer in customers {
                if let Some(id) = customer.id {
                    if !(1..=MAX_PRELOAD_ID).contains(&id) {
                        return Err(invalid(format!(
                            "id {id} in context {context:?} is outside 1..={MAX_PRELOAD_ID}"
                        )));
                    }
                    if let Some(other) = taken_ids.insert(id, context.as_str()) {
                        return Err(invalid(format!(
                            "id {id} is used twice (contexts {other:?} and {context:?})"
                        )));
                    }
                }
            }
        }
        // Ids are assigned after every kept id, so they never collide.
        let mut next_id = taken_ids.keys().next_back().map_or(1, |max| max + 1);

        for (context, customers) in preload.contexts() {
            let Some(store) = stores.get_mut(context) else {
                continue;
            };
            for customer in customers {
                if store.id_by_user_id.contains_key(&customer.user_id) {
                    return Err(invalid(format!(
                        "UserID {:?} appears twice in context {context:?}",
                        customer.user_id
                    )));
                }
                let id = customer.id.unwrap_or_else(|| {
                    let id = next_id;
                    next_id += 1;
                    id
                });
                store.insert(Customer {
                    id,
                    name: customer.name.clone(),
                    address: customer.address.clone(),
                    email: customer.email.clone(),
                    phone_number: customer.phone_number.clone(),
                    alt_phone_number: customer.alt_phone_number.clone(),
                    user_id: customer.user_id.clone(),
                });
            }
        }
        Ok(Store {
            inner: Mutex::new(Inner {
                next_id,
                contexts: stores,
            }),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-made change
        // (every change is a single insert/replace), so poisoning is ignored.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The context's customers in id (creation) order.
    pub(crate) fn list(&self, context: &str) -> Vec<Customer> {
        self.lock()
            .contexts
            .get(context)
            .map(|store| store.by_id.values().cloned().collect())
            .unwrap_or_default()
    }

    /// Creates a customer with the next id, unless the UserID exists in the context.
    pub(crate) fn create(
        &self,
        context: &str,
        user_id: String,
        fields: FieldChanges,
    ) -> Result<Customer, UnspecifiedError> {
        let mut inner = self.lock();
        let Inner { next_id, contexts } = &mut *inner;
        let store = contexts
            .get_mut(context)
            .ok_or(UnspecifiedError::NotFound)?;
        // "Creating a New Customer": UserID is the "Unique user identifier";
        // unspecified: unique within the context, checked under the lock.
        if store.id_by_user_id.contains_key(&user_id) {
            return Err(UnspecifiedError::DuplicateUserId(user_id));
        }
        // Unspecified: optional fields omitted on create are stored as "".
        let mut customer = Customer {
            id: *next_id,
            name: String::new(),
            address: String::new(),
            email: String::new(),
            phone_number: String::new(),
            alt_phone_number: String::new(),
            user_id,
        };
        fields.apply_to(&mut customer);
        *next_id = next_id.saturating_add(1);
        store.insert(customer.clone());
        Ok(customer)
    }

    /// Changes the given fields of one customer; id and UserID are kept.
    pub(crate) fn update(
        &self,
        context: &str,
        user_id: &str,
        changes: FieldChanges,
    ) -> Result<Customer, UnspecifiedError> {
        let mut inner = self.lock();
        let customer = inner
            .contexts
            .get_mut(context)
            .and_then(|store| store.get_mut(user_id))
            .ok_or(UnspecifiedError::NotFound)?;
        changes.apply_to(customer);
        Ok(customer.clone())
    }

    /// Removes one customer and returns it.
    pub(crate) fn delete(
        &self,
        context: &str,
        user_id: &str,
    ) -> Result<Customer, UnspecifiedError> {
        let mut inner = self.lock();
        let store = inner
            .contexts
            .get_mut(context)
            .ok_or(UnspecifiedError::NotFound)?;
        let id = store
            .id_by_user_id
            .remove(user_id)
            .ok_or(UnspecifiedError::NotFound)?;
        store.by_id.remove(&id).ok_or(UnspecifiedError::NotFound)
    }

    /// Every context's customers in id order (contexts with none included).
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Vec<Customer>> {
        self.lock()
            .contexts
            .iter()
            .map(|(name, store)| (name.clone(), store.by_id.values().cloned().collect()))
            .collect()
    }
}
