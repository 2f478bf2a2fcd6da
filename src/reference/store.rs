//! Per-context customer stores behind one lock.
//!
//! One `std::sync::Mutex` guards every check-and-change, so concurrent
//! creates of one UserID yield exactly one record and concurrent PATCHes
//! never lose an update. The lock is never held across an `.await`.
//!
//! How ids are handed out and in which order the list comes back are
//! [`StoreChoices`] (set by the flavour); the store's deliberate bugs are
//! [`StoreFaults`] (set by the deviations). The store knows neither.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use serde::Serialize;

use crate::spec::contract::Customer;

use super::error::ReferenceError;
use super::fixture::Preload;
use super::unspecified::UnspecifiedError;

/// Largest id a preload may fix (2^53: exact in every JSON number implementation).
const MAX_PRELOAD_ID: i64 = 1 << 53;

/// How long a racy create waits between its duplicate check and its insert.
const RACE_WINDOW: Duration = Duration::from_millis(20);

/// One stored customer, serialised in the contract's field order.
///
/// An optional field is `None` only when a flavour keeps "never given"
/// apart from "" (answered as JSON `null`); the reference stores "".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Record {
    pub id: i64,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Address")]
    pub address: Option<String>,
    #[serde(rename = "Email")]
    pub email: Option<String>,
    #[serde(rename = "PhoneNumber")]
    pub phone_number: Option<String>,
    #[serde(rename = "AltPhoneNumber")]
    pub alt_phone_number: Option<String>,
    #[serde(rename = "UserID")]
    pub user_id: String,
}

impl Record {
    /// The contract view: a field never given reads as "".
    pub(crate) fn to_customer(&self) -> Customer {
        let text = |value: &Option<String>| value.clone().unwrap_or_default();
        Customer {
            id: self.id,
            name: self.name.clone(),
            address: text(&self.address),
            email: text(&self.email),
            phone_number: text(&self.phone_number),
            alt_phone_number: text(&self.alt_phone_number),
            user_id: self.user_id.clone(),
        }
    }
}

impl From<Customer> for Record {
    fn from(customer: Customer) -> Self {
        Record {
            id: customer.id,
            name: customer.name,
            address: Some(customer.address),
            email: Some(customer.email),
            phone_number: Some(customer.phone_number),
            alt_phone_number: Some(customer.alt_phone_number),
            user_id: customer.user_id,
        }
    }
}

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
    /// Every field slot, name first, in contract order.
    pub(crate) fn slots_mut(&mut self) -> [&mut Option<String>; 5] {
        [
            &mut self.name,
            &mut self.address,
            &mut self.email,
            &mut self.phone_number,
            &mut self.alt_phone_number,
        ]
    }

    fn apply_to(self, record: &mut Record) {
        let FieldChanges {
            name,
            address,
            email,
            phone_number,
            alt_phone_number,
        } = self;
        if let Some(name) = name {
            record.name = name;
        }
        let optional = [
            (address, &mut record.address),
            (email, &mut record.email),
            (phone_number, &mut record.phone_number),
            (alt_phone_number, &mut record.alt_phone_number),
        ];
        for (new, slot) in optional {
            if new.is_some() {
                *slot = new;
            }
        }
    }
}

/// The store's conformant choices where the page is silent (set by the flavour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreChoices {
    /// The first id handed out (later ones follow any larger preloaded id).
    pub first_id: i64,
    /// How much the id counter goes up per record.
    pub id_step: i64,
    /// Whether the list comes newest first (otherwise in id order).
    pub newest_first: bool,
    /// Whether optional fields omitted on create stay unset (`null`) rather than "".
    pub omitted_optional_is_null: bool,
}

impl Default for StoreChoices {
    fn default() -> Self {
        StoreChoices {
            first_id: 1,
            id_step: 1,
            newest_first: false,
            omitted_optional_is_null: false,
        }
    }
}

/// How the duplicate-UserID check of a create is done.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Uniqueness {
    /// Checked and inserted under one lock (conformant).
    #[default]
    Atomic,
    /// Checked under the lock, inserted later under a new lock, unchecked.
    CheckThenInsert,
    /// Never checked.
    Unchecked,
}

/// Deliberate store bugs (set by the deviations); the default is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct StoreFaults {
    /// Lookups, lists and the duplicate check ignore the context.
    pub contexts_shared: bool,
    /// How the duplicate check is done.
    pub uniqueness: Uniqueness,
    /// Every update re-inserts the record under a new id.
    pub new_id_on_update: bool,
    /// DELETE answers the record but keeps it.
    pub delete_not_persisted: bool,
}

/// The customers of one context, by id, with an index by UserID (a lookup
/// per request must not scan the context: bench showed it at 55 % of create).
#[derive(Debug, Default)]
struct ContextStore {
    by_id: BTreeMap<i64, Record>,
    /// UserID → ids holding it (several only under a deviation).
    ids_by_user: BTreeMap<String, std::collections::BTreeSet<i64>>,
}

impl ContextStore {
    /// The id of the oldest record with this UserID.
    fn id_of(&self, user_id: &str) -> Option<i64> {
        self.ids_by_user
            .get(user_id)
            .and_then(|ids| ids.first().copied())
    }

    /// Stores a record under its id, replacing any record with that id.
    fn insert(&mut self, record: Record) {
        if let Some(old) = self.remove(record.id) {
            debug_assert_eq!(old.id, record.id);
        }
        self.ids_by_user
            .entry(record.user_id.clone())
            .or_default()
            .insert(record.id);
        self.by_id.insert(record.id, record);
    }

    /// Removes the record with this id.
    fn remove(&mut self, id: i64) -> Option<Record> {
        let record = self.by_id.remove(&id)?;
        if let Some(ids) = self.ids_by_user.get_mut(&record.user_id) {
            ids.remove(&id);
            if ids.is_empty() {
                self.ids_by_user.remove(&record.user_id);
            }
        }
        Some(record)
    }
}

#[derive(Debug)]
struct Inner {
    /// Next id to hand out; one server-wide counter, increasing.
    next_id: i64,
    contexts: BTreeMap<String, ContextStore>,
}

impl Inner {
    fn take_id(&mut self, step: i64) -> i64 {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(step);
        id
    }
}

/// Every context's customers.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    choices: StoreChoices,
    faults: StoreFaults,
}

impl Store {
    /// Empty stores for `contexts`, then the preload (ids kept when given).
    pub(crate) fn new(
        contexts: &[String],
        preload: &Preload,
        choices: StoreChoices,
        faults: StoreFaults,
    ) -> Result<Self, ReferenceError> {
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
        let after_kept = taken_ids.keys().next_back().map_or(1, |max| max + 1);
        let mut inner = Inner {
            next_id: after_kept.max(choices.first_id),
            contexts: BTreeMap::new(),
        };

        for (context, customers) in preload.contexts() {
            let Some(store) = stores.get_mut(context) else {
                continue;
            };
            for customer in customers {
                if store.id_of(&customer.user_id).is_some() {
                    return Err(invalid(format!(
                        "UserID {:?} appears twice in context {context:?}",
                        customer.user_id
                    )));
                }
                let id = match customer.id {
                    Some(id) => id,
                    None => inner.take_id(choices.id_step),
                };
                let record = Record::from(Customer {
                    id,
                    name: customer.name.clone(),
                    address: customer.address.clone(),
                    email: customer.email.clone(),
                    phone_number: customer.phone_number.clone(),
                    alt_phone_number: customer.alt_phone_number.clone(),
                    user_id: customer.user_id.clone(),
                });
                store.insert(record);
            }
        }
        inner.contexts = stores;
        Ok(Store {
            inner: Mutex::new(inner),
            choices,
            faults,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-made change
        // (every change is a single insert/replace), so poisoning is ignored.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The context names a request in `context` sees: its own, or every one
    /// when the contexts-shared fault is on (queries that forget the context).
    fn scope<'a>(&self, inner: &'a Inner, context: &'a str) -> Vec<&'a str> {
        if self.faults.contexts_shared {
            inner.contexts.keys().map(String::as_str).collect()
        } else {
            vec![context]
        }
    }

    /// Where the record with `user_id` visible from `context` lives: (its context, its id).
    fn locate(&self, inner: &Inner, context: &str, user_id: &str) -> Option<(String, i64)> {
        self.scope(inner, context).into_iter().find_map(|name| {
            let id = inner.contexts.get(name)?.id_of(user_id)?;
            Some((name.to_string(), id))
        })
    }

    /// The context's customers, in id (creation) order or newest first.
    pub(crate) fn list(&self, context: &str) -> Vec<Record> {
        let inner = self.lock();
        let mut records: Vec<Record> = self
            .scope(&inner, context)
            .into_iter()
            .filter_map(|name| inner.contexts.get(name))
            .flat_map(|store| store.by_id.values().cloned())
            .collect();
        records.sort_by_key(|record| record.id);
        if self.choices.newest_first {
            records.reverse();
        }
        records
    }

    /// Creates a customer with the next id, unless the UserID exists in the context.
    pub(crate) async fn create(
        &self,
        context: &str,
        user_id: String,
        fields: FieldChanges,
    ) -> Result<Record, UnspecifiedError> {
        match self.faults.uniqueness {
            Uniqueness::Atomic => {
                let mut inner = self.lock();
                self.check_unique(&inner, context, &user_id)?;
                self.insert_new(&mut inner, context, user_id, fields)
            }
            Uniqueness::CheckThenInsert => {
                self.check_unique(&self.lock(), context, &user_id)?;
                // The lock is released: another create may pass its check now.
                tokio::time::sleep(RACE_WINDOW).await;
                self.insert_new(&mut self.lock(), context, user_id, fields)
            }
            Uniqueness::Unchecked => self.insert_new(&mut self.lock(), context, user_id, fields),
        }
    }

    /// "Creating a New Customer": UserID is the "Unique user identifier";
    /// unspecified: unique within the context.
    fn check_unique(
        &self,
        inner: &Inner,
        context: &str,
        user_id: &str,
    ) -> Result<(), UnspecifiedError> {
        match self.locate(inner, context, user_id) {
            Some(_) => Err(UnspecifiedError::DuplicateUserId(user_id.to_string())),
            None => Ok(()),
        }
    }

    fn insert_new(
        &self,
        inner: &mut Inner,
        context: &str,
        user_id: String,
        fields: FieldChanges,
    ) -> Result<Record, UnspecifiedError> {
        if !inner.contexts.contains_key(context) {
            return Err(UnspecifiedError::NotFound);
        }
        // Unspecified: optional fields omitted on create are "" (or unset, by choice).
        let omitted = if self.choices.omitted_optional_is_null {
            None
        } else {
            Some(String::new())
        };
        let mut record = Record {
            id: inner.take_id(self.choices.id_step),
            name: String::new(),
            address: omitted.clone(),
            email: omitted.clone(),
            phone_number: omitted.clone(),
            alt_phone_number: omitted,
            user_id,
        };
        fields.apply_to(&mut record);
        let store = inner
            .contexts
            .get_mut(context)
            .ok_or(UnspecifiedError::NotFound)?;
        store.insert(record.clone());
        Ok(record)
    }

    /// Changes the given fields of one customer; id and UserID are kept.
    pub(crate) fn update(
        &self,
        context: &str,
        user_id: &str,
        changes: FieldChanges,
    ) -> Result<Record, UnspecifiedError> {
        let mut inner = self.lock();
        let (home, id) = self
            .locate(&inner, context, user_id)
            .ok_or(UnspecifiedError::NotFound)?;
        let new_id = if self.faults.new_id_on_update {
            Some(inner.take_id(self.choices.id_step))
        } else {
            None
        };
        let store = inner
            .contexts
            .get_mut(&home)
            .ok_or(UnspecifiedError::NotFound)?;
        let mut record = store.remove(id).ok_or(UnspecifiedError::NotFound)?;
        changes.apply_to(&mut record);
        if let Some(new_id) = new_id {
            record.id = new_id;
        }
        store.insert(record.clone());
        Ok(record)
    }

    /// Removes one customer and returns it.
    pub(crate) fn delete(&self, context: &str, user_id: &str) -> Result<Record, UnspecifiedError> {
        let mut inner = self.lock();
        let (home, id) = self
            .locate(&inner, context, user_id)
            .ok_or(UnspecifiedError::NotFound)?;
        let store = inner
            .contexts
            .get_mut(&home)
            .ok_or(UnspecifiedError::NotFound)?;
        if self.faults.delete_not_persisted {
            return store
                .by_id
                .get(&id)
                .cloned()
                .ok_or(UnspecifiedError::NotFound);
        }
        store.remove(id).ok_or(UnspecifiedError::NotFound)
    }

    /// Every context's customers in id order (contexts with none included).
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Vec<Customer>> {
        self.lock()
            .contexts
            .iter()
            .map(|(name, store)| {
                let customers = store.by_id.values().map(Record::to_customer).collect();
                (name.clone(), customers)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_record_serialises_like_the_contract_customer() {
        let customer = Customer {
            id: 3,
            name: "n".into(),
            address: "a".into(),
            email: "e".into(),
            phone_number: "p".into(),
            alt_phone_number: "q".into(),
            user_id: "u".into(),
        };
        let record = Record::from(customer.clone());
        assert_eq!(
            serde_json::to_string(&record).unwrap(),
            serde_json::to_string(&customer).unwrap()
        );
        assert_eq!(record.to_customer(), customer);
    }
}
