//! Serde helpers shared by every model: Go-style `null`s, RFC 3339 times, and the open-enum macro.

use serde::{Deserialize, Deserializer, Serializer};
use time::OffsetDateTime;

/// Decodes `null` (Go's nil slice or map) as the type's default, usually an empty collection.
pub(crate) fn null_as_default<'de, D, T>(de: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(de)?.unwrap_or_default())
}

/// Decodes a map whose values Go may send as `null` (a nil slice stored in a map): a `null`
/// map is empty and a `null` value is the value type's default.
pub(crate) fn null_values_as_default<'de, D, K, V>(
    de: D,
) -> Result<std::collections::BTreeMap<K, V>, D::Error>
where
    D: Deserializer<'de>,
    K: Deserialize<'de> + Ord,
    V: Deserialize<'de> + Default,
{
    let map: Option<std::collections::BTreeMap<K, Option<V>>> = Option::deserialize(de)?;
    Ok(map
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, v.unwrap_or_default()))
        .collect())
}

/// `true` when a collection is empty (for `skip_serializing_if`).
pub(crate) fn is_empty<T>(v: &T) -> bool
where
    for<'a> &'a T: IntoIterator,
{
    v.into_iter().next().is_none()
}

/// Optional RFC 3339 timestamps: any offset, up to 9 fractional digits. `null`, a missing field and
/// Go's zero time (`0001-01-01T00:00:00Z`, what Go sends for an unset `time.Time`) all decode to `None`.
pub(crate) mod rfc3339_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let t = time::serde::rfc3339::option::deserialize(de)?;
        Ok(t.filter(|t| t.year() > 1))
    }
}

/// Declares a forward-compatible string enum: one variant per value the spec lists, plus
/// `Other(String)` that keeps any value the server adds later, so decoding never fails on a new
/// value and the value round-trips unchanged.
macro_rules! open_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $wire:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )*
            /// A value this version of the crate does not know; kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value as sent on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    $( Self::$variant => $wire, )*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                match Self::from(s.as_str()) {
                    Self::Other(_) => Self::Other(s),
                    known => known,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl serde::de::Visitor<'_> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str("a string")
                    }
                    fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                    fn visit_string<E: serde::de::Error>(self, s: String) -> Result<$name, E> {
                        Ok($name::from(s))
                    }
                }
                d.deserialize_str(V)
            }
        }
    };
}
pub(crate) use open_enum;

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct T {
        #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
        t: Option<OffsetDateTime>,
        #[serde(default, deserialize_with = "null_as_default")]
        v: Vec<u8>,
    }

    #[test]
    fn go_zero_time_null_and_missing_are_none() {
        for json in [r#"{"t":"0001-01-01T00:00:00Z"}"#, r#"{"t":null}"#, r#"{}"#] {
            let t: T = serde_json::from_str(json).unwrap();
            assert_eq!(t.t, None, "{json}");
        }
    }

    #[test]
    fn nanosecond_times_with_offsets_round_trip() {
        let t: T = serde_json::from_str(r#"{"t":"2026-03-01T10:00:00.123456789+02:00","v":null}"#)
            .unwrap();
        let got = t.t.unwrap();
        assert_eq!(got.nanosecond(), 123_456_789);
        assert_eq!(got.offset().whole_hours(), 2);
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"t":"2026-03-01T10:00:00.123456789+02:00","v":[]}"#
        );
    }
}
