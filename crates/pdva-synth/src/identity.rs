//! Synthetic identifiers: registry ids, NHS numbers in the test range, names.
//!
//! Registry ids and NHS numbers are derived from the patient's index through
//! seed-keyed bijections, so they are unique across the whole registry
//! whatever the batch sizes, and still differ from one seed to another.

use pdva_domain::values::{NhsNumber, RegistryId};

use crate::sample::splitmix64;

/// Patients for whom an NHS number can be made: 100 000 blocks of eight
/// leading digits (`999` + five), each with at least nine valid ninth digits.
pub const NHS_NUMBER_CAPACITY: usize = 900_000;

/// Seven-digit local hospital numbers.
const HOSPITAL_NUMBERS: u64 = 10_000_000;

/// Derives the per-registry keys of the identifier bijections from the seed.
#[derive(Debug, Clone)]
pub(crate) struct IdentityKeys {
    feistel: [u64; 4],
    block_multiplier: u64,
    block_offset: u64,
    hospital_multiplier: u64,
    hospital_offset: u64,
}

impl IdentityKeys {
    pub(crate) fn new(seed: u64) -> Self {
        let k = |i: u64| splitmix64(seed ^ splitmix64(0x1D_0000 + i));
        // An odd multiplier not divisible by 5 is coprime to any power of
        // ten, so `x * a + b mod 10^n` permutes 0..10^n.
        let coprime = |mut a: u64, modulus: u64| {
            a %= modulus;
            while a.is_multiple_of(2) || a.is_multiple_of(5) {
                a = (a + 1) % modulus;
            }
            a
        };
        Self {
            feistel: [k(0), k(1), k(2), k(3)],
            block_multiplier: coprime(k(4), 100_000),
            block_offset: k(5) % 100_000,
            hospital_multiplier: coprime(k(6), HOSPITAL_NUMBERS),
            hospital_offset: k(7) % HOSPITAL_NUMBERS,
        }
    }

    /// A registry id unique to this patient index: a four-round Feistel
    /// permutation of the index over 40 bits, keyed by the seed.
    pub(crate) fn registry_id(&self, index: usize) -> RegistryId {
        const HALF: u32 = 20;
        const MASK: u64 = (1 << HALF) - 1;
        let x = index as u64 & ((1 << 40) - 1);
        let (mut left, mut right) = (x >> HALF, x & MASK);
        for key in self.feistel {
            let f = splitmix64(right ^ key) & MASK;
            (left, right) = (right, left ^ f);
        }
        RegistryId::from_random((left << HALF) | right)
    }

    /// A local hospital number (site prefix and seven digits), unique to
    /// this patient index across the registry.
    pub(crate) fn hospital_number(&self, prefix: &str, index: usize) -> String {
        let n = (index as u64 % HOSPITAL_NUMBERS * self.hospital_multiplier + self.hospital_offset)
            % HOSPITAL_NUMBERS;
        format!("{prefix}{n:07}")
    }

    /// A test-range NHS number (`999…`) unique to this patient index, or
    /// `None` past [`NHS_NUMBER_CAPACITY`].
    pub(crate) fn nhs_number(&self, index: usize) -> Option<NhsNumber> {
        if index >= NHS_NUMBER_CAPACITY {
            return None;
        }
        let block = (index / 9) as u64;
        let slot = index % 9;
        let block = (block * self.block_multiplier + self.block_offset) % 100_000;
        let mut digits = [9u8, 9, 9, 0, 0, 0, 0, 0, 0];
        let mut b = block;
        for d in digits[3..8].iter_mut().rev() {
            *d = (b % 10) as u8;
            b /= 10;
        }
        // The ninth digit has weight 2, so its ten values give ten different
        // remainders: at most one of them makes the check digit 10.
        let (ninth, check) = (0..10u8)
            .filter_map(|ninth| {
                digits[8] = ninth;
                NhsNumber::check_digit(&digits).map(|c| (ninth, c))
            })
            .nth(slot)?;
        digits[8] = ninth;
        let text: String = digits
            .iter()
            .chain(std::iter::once(&check))
            .map(|d| char::from(b'0' + d))
            .collect();
        Some(NhsNumber::parse(&text).expect("a valid check digit was computed"))
    }
}

/// Given names for women (a small built-in list; no real person is meant).
pub(crate) const GIVEN_FEMALE: &[&str] = &[
    "Margaret",
    "Patricia",
    "Susan",
    "Janet",
    "Linda",
    "Carol",
    "Elaine",
    "Brenda",
    "Maureen",
    "Pauline",
    "Gillian",
    "Sandra",
    "Christine",
    "Valerie",
    "Ann",
    "Hazel",
    "Irene",
    "Joan",
    "Shirley",
    "Doreen",
    "Priya",
    "Fatima",
    "Grace",
    "Rosa",
];

/// Given names for men.
pub(crate) const GIVEN_MALE: &[&str] = &[
    "John", "David", "Michael", "Peter", "Robert", "Alan", "Brian", "Keith", "Graham", "Derek",
    "Colin", "Trevor", "Barry", "Roger", "Terence", "Malcolm", "Stuart", "Kenneth", "Raymond",
    "Dennis", "Arjun", "Tariq", "Samuel", "Eamon",
];

/// Family names.
pub(crate) const FAMILY: &[&str] = &[
    "Testperson",
    "Synthwell",
    "Example",
    "Placeholder",
    "Mockford",
    "Sampleton",
    "Fakenham",
    "Dummett",
    "Trialby",
    "Specimen",
    "Notreal",
    "Fictus",
    "Pseudonym",
    "Madeup",
    "Invente",
    "Imaginary",
    "Surrogate",
    "Proxyman",
    "Standin",
    "Lookalike",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn nhs_numbers_are_unique_valid_and_in_the_test_range() {
        let keys = IdentityKeys::new(7);
        let mut seen = HashSet::new();
        for i in (0..NHS_NUMBER_CAPACITY).step_by(7).chain(0..5000) {
            let n = keys.nhs_number(i).expect("within capacity");
            assert!(n.is_test_range(), "{n}");
            assert!(NhsNumber::parse(n.as_str()).is_ok());
            seen.insert((i, n));
        }
        let numbers: HashSet<_> = seen.iter().map(|(_, n)| n.clone()).collect();
        let indices: HashSet<_> = seen.iter().map(|(i, _)| *i).collect();
        assert_eq!(numbers.len(), indices.len());
        assert!(keys.nhs_number(NHS_NUMBER_CAPACITY).is_none());
    }

    #[test]
    fn registry_ids_are_unique() {
        let keys = IdentityKeys::new(3);
        let ids: HashSet<_> = (0..50_000).map(|i| keys.registry_id(i)).collect();
        assert_eq!(ids.len(), 50_000);
        let other = IdentityKeys::new(4);
        assert_ne!(keys.registry_id(0), other.registry_id(0));
    }
}
