//! Realistic customers made up from a seed, for preloads at production size
//! (an ISP holds hundreds of thousands of subscribers).
//!
//! Every value is one [`is_ordinary_value`](crate::spec::contract::is_ordinary_value)
//! accepts, so every conformant flavour takes the records as they are; a
//! record answered in a list is about [`GENERATED_RECORD_BYTES`] bytes.

use super::fixture::{Preload, PreloadCustomer};

/// About how many bytes one generated customer takes in a list answer.
pub const GENERATED_RECORD_BYTES: usize = 190;

/// The seed `serve --preload-generated` uses.
pub const DEFAULT_GENERATED_SEED: u64 = 0x1bd5_2024;

const FIRST_NAMES: [&str; 32] = [
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Susan", "Priya", "Arjun", "Ananya", "Rahul", "Kavya", "Vikram", "Wei", "Mei", "Fatima",
    "Omar", "Carlos", "Lucia", "Olga", "Ivan", "Aisha", "Kwame", "Sofia", "Mateo", "Hana", "Kenji",
    "Emma", "Noah",
];

const LAST_NAMES: [&str; 32] = [
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Sharma",
    "Nair", "Iyer", "Reddy", "Patel", "Gupta", "Menon", "Rao", "Chen", "Wang", "Khan", "Hussain",
    "Silva", "Santos", "Ivanova", "Petrov", "Okafor", "Mensah", "Rossi", "Lopez", "Tanaka", "Sato",
    "Wilson", "Taylor",
];

const STREETS: [&str; 16] = [
    "Oak",
    "Maple",
    "Cedar",
    "Park",
    "Lake",
    "Hill",
    "Station",
    "Church",
    "Temple",
    "MG",
    "Brigade",
    "Anna Salai",
    "Nehru",
    "Gandhi",
    "Sunset",
    "River",
];

const STREET_KINDS: [&str; 6] = ["Street", "Road", "Avenue", "Lane", "Nagar", "Cross"];

const CITIES: [&str; 12] = [
    "Pune MH 411001",
    "Mumbai MH 400050",
    "Chennai TN 600028",
    "Kochi KL 682016",
    "Bengaluru KA 560034",
    "Hyderabad TS 500081",
    "Delhi DL 110017",
    "Austin TX 73301",
    "Denver CO 80202",
    "Leeds LS1 4AP",
    "Lagos LA 100001",
    "Osaka 530 0001",
];

const MAIL_DOMAINS: [&str; 6] = [
    "example.net",
    "example.com",
    "mail.example.in",
    "example.org",
    "isp.example.net",
    "example.co.in",
];

/// SplitMix64: one well-mixed 64-bit value from a seed and a counter.
fn mixed(seed: u64, counter: u64) -> u64 {
    let mut z = seed
        .wrapping_add(counter.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Draws from one record's stream of random values.
struct Draws {
    seed: u64,
    counter: u64,
}

impl Draws {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        mixed(self.seed, self.counter)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        let len = u64::try_from(items.len()).unwrap_or(1);
        items[usize::try_from(self.below(len)).unwrap_or(0)]
    }

    /// A ten-digit phone number that does not start with 0 or 1.
    fn phone(&mut self) -> String {
        format!("{}{:09}", 2 + self.below(8), self.below(1_000_000_000))
    }
}

impl PreloadCustomer {
    /// The `index`-th realistic customer of `seed`: always the same, with
    /// UserID `sub-<index>` (so distinct indexes never collide), no fixed id.
    pub fn generated(seed: u64, index: u64) -> Self {
        let mut draws = Draws {
            seed: mixed(seed, index),
            counter: 0,
        };
        let first = draws.pick(&FIRST_NAMES);
        let last = draws.pick(&LAST_NAMES);
        let address = format!(
            "{} {} {} {}",
            1 + draws.below(999),
            draws.pick(&STREETS),
            draws.pick(&STREET_KINDS),
            draws.pick(&CITIES)
        );
        let email = format!(
            "{}.{}{}@{}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            draws.below(100),
            draws.pick(&MAIL_DOMAINS)
        );
        PreloadCustomer {
            id: None,
            name: format!("{first} {last}"),
            address,
            email,
            phone_number: draws.phone(),
            alt_phone_number: draws.phone(),
            user_id: format!("sub-{index:08}"),
        }
    }
}

impl Preload {
    /// `count` realistic customers of `seed` in `context`
    /// ([`PreloadCustomer::generated`] for indexes 0 to `count` - 1).
    pub fn generated(context: impl Into<String>, count: u64, seed: u64) -> Self {
        let customers = (0..count)
            .map(|index| PreloadCustomer::generated(seed, index))
            .collect();
        Preload::from_customers(context.into(), customers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::contract::is_ordinary_value;

    #[test]
    fn generated_customers_are_ordinary_varied_and_about_190_bytes() {
        let count = 10_000_u64;
        let mut bytes = 0;
        let mut names = std::collections::BTreeSet::new();
        for index in 0..count {
            let customer = PreloadCustomer::generated(DEFAULT_GENERATED_SEED, index);
            assert_eq!(
                customer,
                PreloadCustomer::generated(DEFAULT_GENERATED_SEED, index)
            );
            let fields = [
                ("Name", &customer.name),
                ("Address", &customer.address),
                ("Email", &customer.email),
                ("PhoneNumber", &customer.phone_number),
                ("AltPhoneNumber", &customer.alt_phone_number),
                ("UserID", &customer.user_id),
            ];
            for (field, value) in fields {
                assert!(is_ordinary_value(field, value), "{field} {value:?}");
            }
            names.insert(customer.name.clone());
            // As answered in a list of a million: a six-to-seven-digit id and a comma.
            let listed = customer.with_id(500_000 + i64::try_from(index).unwrap());
            bytes += serde_json::to_vec(&listed).unwrap().len() + 1;
        }
        let average = bytes / usize::try_from(count).unwrap();
        assert!(
            (GENERATED_RECORD_BYTES - 10..=GENERATED_RECORD_BYTES + 10).contains(&average),
            "{average} bytes per record"
        );
        assert!(names.len() > 500, "only {} names", names.len());
        assert_ne!(
            PreloadCustomer::generated(1, 0),
            PreloadCustomer::generated(2, 0)
        );
    }
}
