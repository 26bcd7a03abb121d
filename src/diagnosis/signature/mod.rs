//! The signature language: what a signature file (TOML, see `docs/signatures.md`) may say, checked
//! when it is loaded, and the two things evaluated per event — pulling named fields out of a record
//! and testing conditions on them (`schema`, `compile`, `evaluate`, `fields`). Correlation, status
//! and reporting live in `engine/`.

use crate::event::{Event, PayloadSource, parse_number};
use crate::knowledge;
use crate::shared::Shared;
use chrono::Duration;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

mod compile;
mod evaluate;
mod fields;
mod schema;

pub use compile::*;
pub use evaluate::{Extracted, Record, evaluate, payload_may_match, same_value};
pub use fields::{FieldValue, Fields, SharedValues};
pub use schema::*;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_values_are_one_copy_and_bounded() {
        let shared = SharedValues::default();
        let mut set = shared.0.lock().unwrap();
        let a = SharedValues::share(&mut set, "MSExchangeIS");
        let b = SharedValues::share(&mut set, "MSExchangeIS");
        assert!(Arc::ptr_eq(&a, &b));
        let long = "x".repeat(SharedValues::MAX_LEN + 1);
        let l1 = SharedValues::share(&mut set, &long);
        let l2 = SharedValues::share(&mut set, &long);
        assert_eq!(l1, l2);
        assert!(
            !Arc::ptr_eq(&l1, &l2),
            "long values are not kept for sharing"
        );
        for i in 0..SharedValues::MAX_VALUES + 1000 {
            let v = SharedValues::share(&mut set, &format!("value {i}"));
            assert_eq!(&*v, format!("value {i}"));
        }
        assert_eq!(set.len(), SharedValues::MAX_VALUES);
    }
}

#[cfg(test)]
mod load_errors;
