//! Lists with a bound on their length, decoded without ever holding more than the bound.
//!
//! The body cap alone does not bound memory: `[{},{},...]` turns every 3 bytes into a whole
//! model (hundreds of bytes), so a 16 MiB answer could need gigabytes. The API never sends more
//! than 1000 items in a page, and a batch's answer has one group per group sent.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{DeserializeOwned, DeserializeSeed, Deserializer, SeqAccess, Visitor};

/// The most items a page of the API has (`limit` is at most 1000).
pub(crate) const MAX_PAGE_ITEMS: usize = 1000;

/// The most billable metrics the client accepts in one (unpaginated) list.
pub(crate) const MAX_METRICS: usize = 10_000;

/// A sequence of at most `max` items; `null` is empty (Go's nil slice).
pub(crate) struct Bounded<T> {
    pub(crate) max: usize,
    pub(crate) item: PhantomData<T>,
}

impl<T> Bounded<T> {
    pub(crate) fn new(max: usize) -> Self {
        Bounded {
            max,
            item: PhantomData,
        }
    }
}

impl<'de, T: DeserializeOwned> DeserializeSeed<'de> for Bounded<T> {
    type Value = Vec<T>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Bounded<T> {
    type Value = Vec<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of at most {} items, or null", self.max)
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Vec<T>, E> {
        Ok(Vec::new())
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Vec<T>, D::Error> {
        d.deserialize_seq(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
        let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(self.max));
        while let Some(item) = seq.next_element()? {
            if out.len() == self.max {
                return Err(serde::de::Error::custom(format_args!(
                    "more than {} items in a list",
                    self.max
                )));
            }
            out.push(item);
        }
        Ok(out)
    }
}

/// For `#[serde(deserialize_with = "crate::http::bounded::page")]` on a page's item list.
pub(crate) fn page<'de, D: Deserializer<'de>, T: DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    Bounded::new(MAX_PAGE_ITEMS).deserialize(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(json: &str, max: usize) -> Result<Vec<serde_json::Value>, serde_json::Error> {
        let mut de = serde_json::Deserializer::from_str(json);
        let v = Bounded::new(max).deserialize(&mut de)?;
        de.end()?;
        Ok(v)
    }

    #[test]
    fn lists_longer_than_the_bound_are_refused_while_decoding() {
        assert_eq!(decode("null", 2).unwrap().len(), 0);
        assert_eq!(decode("[{},{}]", 2).unwrap().len(), 2);
        let e = decode("[{},{},{}]", 2).unwrap_err();
        assert!(e.to_string().contains("more than 2 items"), "{e}");
    }
}
