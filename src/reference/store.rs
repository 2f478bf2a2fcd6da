//! Per-context customer stores behind one lock.
//!
//! One `std::sync::Mutex` guards every check-and-change, so concurrent
//! creates of one UserID yield exactly one record and concurrent PATCHes
//! never lose an update. The lock is never held across an `.await`.
//!
//! How ids are handed out, in which order the list comes back and how far
//! a UserID must be unique are [`StoreChoices`] (set by the flavour); the
//! store's deliberate bugs are [`StoreFaults`] (set by the deviations). The
//! store knows neither.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::spec::contract::Customer;

use super::error::ReferenceError;
use super::fixture::Preload;
use super::unspecified::UnspecifiedError;

/// Largest id a preload may fix (2^53: exact in every JSON number implementation).
const MAX_PRELOAD_ID: i64 = 1 << 53;

/// How long a racy create waits between its duplicate check and its insert,
/// after the last create arrived: a burst of creates whose arrivals are
/// closer together than this all pass the check before any inserts, however
/// slowly a loaded machine spreads the burst out (at 20 ms, sixteen new
/// connections from a debug build on a busy 2-core machine arrived too far
/// apart, and the self-check missed the race now and then).
const RACE_WINDOW: Duration = Duration::from_millis(100);
/// The longest a racy create waits for the burst to end.
const RACE_WINDOW_MAX: Duration = Duration::from_secs(2);

/// One stored customer, serialised in the contract's field order.
///
/// An optional field is `None` only when a flavour keeps "never given"
/// apart from "" (answered as JSON `null`, or left out); the reference
/// stores "".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Record {
    pub id: i64,
    /// When the record was created (ms since the Unix epoch); only a flavour
    /// that adds members to customer objects shows it.
    #[serde(skip)]
    pub created_ms: u64,
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
            created_ms: now_ms(),
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

/// Milliseconds since the Unix epoch (0 if the clock is before it).
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// How new ids are handed out (the page only shows integers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IdAllocation {
    /// One server-wide counter from `first` in steps of `step`, never reused
    /// (it starts after any larger preloaded id).
    Counter { first: i64, step: i64 },
    /// The smallest positive id no live record holds, in any context: a
    /// deleted id comes back.
    SmallestFree,
}

/// In which order the list comes back (the page gives none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListOrder {
    /// Id (creation) order.
    IdOrder,
    /// Newest (largest id) first.
    NewestFirst,
    /// A permutation of id order that changes with every list the server
    /// answers: see [`shifted`].
    Shifting,
}

/// The store's conformant choices where the page is silent (set by the flavour).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoreChoices {
    /// How ids are handed out.
    pub ids: IdAllocation,
    /// The list's order.
    pub list_order: ListOrder,
    /// Whether optional fields omitted on create stay unset (`None`) rather than "".
    pub omitted_optional_unset: bool,
    /// Whether a create is refused when its UserID exists in any context
    /// (otherwise only in its own).
    pub unique_across_contexts: bool,
}

impl Default for StoreChoices {
    fn default() -> Self {
        StoreChoices {
            ids: IdAllocation::Counter { first: 1, step: 1 },
            list_order: ListOrder::IdOrder,
            omitted_optional_unset: false,
            unique_across_contexts: false,
        }
    }
}

/// `records` (in id order) permuted for the `call`-th list the server answers.
///
/// With three or more records, even calls rotate left by
/// `1 + (call / 2) % (n - 1)` and odd calls reverse that: never id order,
/// and two calls in a row never agree (a rotation is never a reflection).
/// Two records swap on even calls only: the order still changes every call
/// and id order never comes twice in a row.
pub(crate) fn shifted<T>(mut records: Vec<T>, call: u64) -> Vec<T> {
    let n = records.len();
    if n < 2 {
        return records;
    }
    if n == 2 {
        if call % 2 == 0 {
            records.swap(0, 1);
        }
        return records;
    }
    let span = u64::try_from(n - 1).unwrap_or(u64::MAX);
    let by = usize::try_from(1 + (call / 2) % span).unwrap_or(1);
    records.rotate_left(by);
    if call % 2 == 1 {
        records.reverse();
    }
    records
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
    /// Shared with the lists being answered, so a list copies pointers, not records.
    by_id: BTreeMap<i64, Arc<Record>>,
    /// UserID → ids holding it (several only under a deviation); hashed, as a
    /// million-customer preload spent its time comparing UserIDs in a B-tree.
    ids_by_user: HashMap<String, UserIds>,
}

/// The ids holding one UserID: one, unless a deviation stores duplicates
/// (no set per customer: at a million customers it cost ~100 MB, issue 14).
#[derive(Debug)]
enum UserIds {
    One(i64),
    /// Two or more.
    Several(BTreeSet<i64>),
}

impl UserIds {
    /// The smallest (oldest) id.
    fn first(&self) -> i64 {
        match self {
            UserIds::One(id) => *id,
            UserIds::Several(ids) => ids.first().copied().unwrap_or_default(),
        }
    }

    fn add(&mut self, id: i64) {
        match self {
            UserIds::One(old) if *old == id => {}
            UserIds::One(old) => *self = UserIds::Several(BTreeSet::from([*old, id])),
            UserIds::Several(ids) => {
                ids.insert(id);
            }
        }
    }

    /// Removes `id`; whether no id is left.
    fn remove(&mut self, id: i64) -> bool {
        match self {
            UserIds::One(old) => *old == id,
            UserIds::Several(ids) => {
                ids.remove(&id);
                if let (1, Some(&last)) = (ids.len(), ids.first()) {
                    *self = UserIds::One(last);
                }
                false
            }
        }
    }
}

impl ContextStore {
    /// The id of the oldest record with this UserID.
    fn id_of(&self, user_id: &str) -> Option<i64> {
        self.ids_by_user.get(user_id).map(UserIds::first)
    }

    /// Stores a record under its id, replacing any record with that id.
    fn insert(&mut self, record: Record) {
        if let Some(old) = self.remove(record.id) {
            debug_assert_eq!(old.id, record.id);
        }
        match self.ids_by_user.get_mut(&record.user_id) {
            Some(ids) => ids.add(record.id),
            None => {
                self.ids_by_user
                    .insert(record.user_id.clone(), UserIds::One(record.id));
            }
        }
        self.by_id.insert(record.id, Arc::new(record));
    }

    /// Removes the record with this id.
    fn remove(&mut self, id: i64) -> Option<Record> {
        let record = self.by_id.remove(&id)?;
        if let Some(ids) = self.ids_by_user.get_mut(&record.user_id) {
            if ids.remove(id) {
                self.ids_by_user.remove(&record.user_id);
            }
        }
        // A list still being answered keeps its own pointer; copy only then.
        Some(Arc::unwrap_or_clone(record))
    }
}

#[derive(Debug)]
struct Inner {
    /// Next id a counter hands out; increasing.
    next_id: i64,
    contexts: BTreeMap<String, ContextStore>,
    /// Every id a live record holds, in any context.
    live_ids: BTreeSet<i64>,
    /// Lists answered so far (drives [`ListOrder::Shifting`]).
    lists_served: u64,
}

impl Inner {
    /// A new id, as `ids` says.
    fn take_id(&mut self, ids: IdAllocation) -> i64 {
        match ids {
            IdAllocation::Counter { step, .. } => {
                let id = self.next_id;
                self.next_id = self.next_id.saturating_add(step);
                id
            }
            IdAllocation::SmallestFree => {
                // The first gap in 1, 2, 3, ...: O(the id found).
                let mut candidate = 1;
                for &id in self.live_ids.range(1..) {
                    if id != candidate {
                        break;
                    }
                    candidate += 1;
                }
                candidate
            }
        }
    }

    /// Stores `record` in `context` (which exists), replacing any record with its id.
    fn insert(&mut self, context: &str, record: Record) {
        if let Some(store) = self.contexts.get_mut(context) {
            self.live_ids.insert(record.id);
            store.insert(record);
        }
    }

    /// Removes the record with `id` from `context`.
    fn remove(&mut self, context: &str, id: i64) -> Option<Record> {
        let record = self.contexts.get_mut(context)?.remove(id)?;
        self.live_ids.remove(&id);
        Some(record)
    }
}

/// Every context's customers.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    choices: StoreChoices,
    faults: StoreFaults,
    /// When the last create arrived (the racy store's window follows it).
    last_create: Mutex<std::time::Instant>,
}

impl Store {
    /// Empty stores for `contexts`, then the preload (ids kept when given).
    pub(crate) fn new(
        contexts: &[String],
        preload: Preload,
        choices: StoreChoices,
        faults: StoreFaults,
    ) -> Result<Self, ReferenceError> {
        let source = preload.source_name().to_string();
        let invalid = |problem: String| ReferenceError::InvalidPreload {
            file: source.clone(),
            problem,
        };
        let stores: BTreeMap<String, ContextStore> = contexts
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
        // Ids are assigned after every kept id (or around them), so they never collide.
        let after_kept = taken_ids.keys().next_back().map_or(1, |max| max + 1);
        let first_id = match choices.ids {
            IdAllocation::Counter { first, .. } => first,
            IdAllocation::SmallestFree => 1,
        };
        let mut inner = Inner {
            next_id: after_kept.max(first_id),
            contexts: stores,
            live_ids: taken_ids.keys().copied().collect(),
            lists_served: 0,
        };

        // The preload is moved into the store, not copied (a million customers: issue 14).
        for (context, customers) in preload.into_contexts() {
            for customer in customers {
                let Some(store) = inner.contexts.get(&context) else {
                    continue;
                };
                if store.id_of(&customer.user_id).is_some() {
                    return Err(invalid(format!(
                        "UserID {:?} appears twice in context {context:?}",
                        customer.user_id
                    )));
                }
                let id = match customer.id {
                    Some(id) => id,
                    None => inner.take_id(choices.ids),
                };
                let record = Record::from(customer.with_id(id));
                inner.insert(&context, record);
            }
        }
        Ok(Store {
            inner: Mutex::new(inner),
            choices,
            faults,
            last_create: Mutex::new(std::time::Instant::now()),
        })
    }

    fn last_create_lock(&self) -> MutexGuard<'_, std::time::Instant> {
        self.last_create
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
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

    /// The context's customers, in the flavour's list order (shared, not copied).
    pub(crate) fn list(&self, context: &str) -> Vec<Arc<Record>> {
        let mut inner = self.lock();
        let mut records: Vec<Arc<Record>> = self
            .scope(&inner, context)
            .into_iter()
            .filter_map(|name| inner.contexts.get(name))
            .flat_map(|store| store.by_id.values().cloned())
            .collect();
        records.sort_by_key(|record| record.id);
        match self.choices.list_order {
            ListOrder::IdOrder => records,
            ListOrder::NewestFirst => {
                records.reverse();
                records
            }
            ListOrder::Shifting => {
                let call = inner.lists_served;
                inner.lists_served += 1;
                shifted(records, call)
            }
        }
    }

    /// Whether a record with exactly `user_id` is visible from `context`.
    pub(crate) fn contains(&self, context: &str, user_id: &str) -> bool {
        self.locate(&self.lock(), context, user_id).is_some()
    }

    /// The UserID of the first record (id order) visible from `context`
    /// whose UserID satisfies `matches`.
    pub(crate) fn first_user_id_where(
        &self,
        context: &str,
        matches: impl Fn(&str) -> bool,
    ) -> Option<String> {
        let inner = self.lock();
        self.scope(&inner, context)
            .into_iter()
            .filter_map(|name| inner.contexts.get(name))
            .flat_map(|store| store.by_id.values())
            .filter(|record| matches(&record.user_id))
            .min_by_key(|record| record.id)
            .map(|record| record.user_id.clone())
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
                let arrived = std::time::Instant::now();
                *self.last_create_lock() = arrived;
                self.check_unique(&self.lock(), context, &user_id)?;
                // The lock is released: another create may pass its check now,
                // until the burst of creates has been quiet for RACE_WINDOW.
                loop {
                    tokio::time::sleep(RACE_WINDOW).await;
                    let quiet = self.last_create_lock().elapsed() >= RACE_WINDOW;
                    if quiet || arrived.elapsed() >= RACE_WINDOW_MAX {
                        break;
                    }
                }
                self.insert_new(&mut self.lock(), context, user_id, fields)
            }
            Uniqueness::Unchecked => self.insert_new(&mut self.lock(), context, user_id, fields),
        }
    }

    /// "Creating a New Customer": UserID is the "Unique user identifier";
    /// unspecified: unique within the context, or in every context by choice.
    fn check_unique(
        &self,
        inner: &Inner,
        context: &str,
        user_id: &str,
    ) -> Result<(), UnspecifiedError> {
        let elsewhere = self.choices.unique_across_contexts
            && inner
                .contexts
                .values()
                .any(|store| store.id_of(user_id).is_some());
        if elsewhere || self.locate(inner, context, user_id).is_some() {
            Err(UnspecifiedError::DuplicateUserId(user_id.to_string()))
        } else {
            Ok(())
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
        let omitted = if self.choices.omitted_optional_unset {
            None
        } else {
            Some(String::new())
        };
        let mut record = Record {
            id: inner.take_id(self.choices.ids),
            created_ms: now_ms(),
            name: String::new(),
            address: omitted.clone(),
            email: omitted.clone(),
            phone_number: omitted.clone(),
            alt_phone_number: omitted,
            user_id,
        };
        fields.apply_to(&mut record);
        inner.insert(context, record.clone());
        Ok(record)
    }

    /// Changes the given fields of one customer; id and UserID are kept.
    pub(crate) fn update(
        &self,
        context: &str,
        user_id: &str,
        changes: FieldChanges,
    ) -> Result<Record, UnspecifiedError> {
        self.update_locked(&mut self.lock(), context, user_id, changes)
    }

    fn update_locked(
        &self,
        inner: &mut Inner,
        context: &str,
        user_id: &str,
        changes: FieldChanges,
    ) -> Result<Record, UnspecifiedError> {
        let (home, id) = self
            .locate(inner, context, user_id)
            .ok_or(UnspecifiedError::NotFound)?;
        let new_id = if self.faults.new_id_on_update {
            Some(inner.take_id(self.choices.ids))
        } else {
            None
        };
        let mut record = inner.remove(&home, id).ok_or(UnspecifiedError::NotFound)?;
        changes.apply_to(&mut record);
        if let Some(new_id) = new_id {
            record.id = new_id;
        }
        inner.insert(&home, record.clone());
        Ok(record)
    }

    /// Updates the customer, or creates it with exactly `changes` when the
    /// UserID is unknown in the context (one check-and-change under the lock).
    pub(crate) fn upsert(
        &self,
        context: &str,
        user_id: &str,
        changes: FieldChanges,
    ) -> Result<Record, UnspecifiedError> {
        let mut inner = self.lock();
        if self.locate(&inner, context, user_id).is_some() {
            return self.update_locked(&mut inner, context, user_id, changes);
        }
        self.check_unique(&inner, context, user_id)?;
        self.insert_new(&mut inner, context, user_id.to_string(), changes)
    }

    /// Removes one customer and returns it.
    pub(crate) fn delete(&self, context: &str, user_id: &str) -> Result<Record, UnspecifiedError> {
        let mut inner = self.lock();
        let (home, id) = self
            .locate(&inner, context, user_id)
            .ok_or(UnspecifiedError::NotFound)?;
        if self.faults.delete_not_persisted {
            return inner
                .contexts
                .get(&home)
                .and_then(|store| store.by_id.get(&id))
                .map(|record| Record::clone(record))
                .ok_or(UnspecifiedError::NotFound);
        }
        inner.remove(&home, id).ok_or(UnspecifiedError::NotFound)
    }

    /// Every context's customers in id order (contexts with none included).
    pub(crate) fn snapshot(&self) -> BTreeMap<String, Vec<Customer>> {
        self.lock()
            .contexts
            .iter()
            .map(|(name, store)| {
                let customers = store
                    .by_id
                    .values()
                    .map(|record| record.to_customer())
                    .collect();
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

    #[test]
    fn shifted_lists_are_never_in_id_order_and_change_every_call() {
        for n in 3..=9 {
            let ids: Vec<usize> = (0..n).collect();
            let mut previous = ids.clone();
            for call in 0..40 {
                let order = shifted(ids.clone(), call);
                let mut sorted = order.clone();
                sorted.sort_unstable();
                assert_eq!(sorted, ids, "a permutation (n {n}, call {call})");
                assert_ne!(order, ids, "id order (n {n}, call {call})");
                assert_ne!(
                    order, previous,
                    "same as the call before (n {n}, call {call})"
                );
                previous = order;
            }
        }
        // Two records alternate; one or none stay as they are.
        assert_eq!(shifted(vec![1, 2], 0), [2, 1]);
        assert_eq!(shifted(vec![1, 2], 1), [1, 2]);
        assert_eq!(shifted(vec![1], 0), [1]);
    }

    #[test]
    fn a_user_id_held_twice_is_found_by_its_oldest_id_until_both_go() {
        let record = |id: i64| Record {
            id,
            created_ms: 0,
            name: "n".into(),
            address: None,
            email: None,
            phone_number: None,
            alt_phone_number: None,
            user_id: "u".into(),
        };
        let mut store = ContextStore::default();
        store.insert(record(5));
        store.insert(record(3));
        store.insert(record(9));
        assert_eq!(store.id_of("u"), Some(3));
        assert!(store.remove(3).is_some());
        assert_eq!(store.id_of("u"), Some(5));
        assert!(store.remove(9).is_some());
        assert_eq!(store.id_of("u"), Some(5));
        assert!(store.remove(5).is_some());
        assert_eq!(store.id_of("u"), None);
        assert!(store.ids_by_user.is_empty());
    }

    fn strict_store() -> Store {
        let choices = StoreChoices {
            ids: IdAllocation::SmallestFree,
            list_order: ListOrder::IdOrder,
            omitted_optional_unset: true,
            unique_across_contexts: true,
        };
        let contexts = ["a".to_string(), "b".to_string()];
        Store::new(&contexts, Preload::new(), choices, StoreFaults::default()).expect("empty store")
    }

    #[tokio::test]
    async fn smallest_free_ids_come_back_after_a_delete_in_any_context() {
        let store = strict_store();
        let name = |text: &str| FieldChanges {
            name: Some(text.to_string()),
            ..FieldChanges::default()
        };
        for (context, user_id) in [("a", "u1"), ("b", "u2"), ("a", "u3")] {
            store
                .create(context, user_id.to_string(), name("n"))
                .await
                .expect("created");
        }
        store.delete("b", "u2").expect("deleted");
        let again = store
            .create("a", "u4".to_string(), name("n"))
            .await
            .expect("created");
        assert_eq!(again.id, 2);
        let next = store
            .create("b", "u5".to_string(), name("n"))
            .await
            .expect("created");
        assert_eq!(next.id, 4);
        // Unique across contexts.
        assert_eq!(
            store.create("b", "u1".to_string(), name("n")).await,
            Err(UnspecifiedError::DuplicateUserId("u1".to_string()))
        );
        // Optional fields never given stay unset.
        assert_eq!(again.address, None);
    }
}
