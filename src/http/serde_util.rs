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

/// Optional RFC 3339 timestamps: any offset, up to 9 fractional digits, **normalized to UTC** on
/// decode (so equal instants compare equal and no decoded time panics later when its offset is
/// changed). `null`, a missing field and Go's zero time (the instant `0001-01-01T00:00:00Z`, what
/// Go sends for an unset `time.Time`, whatever offset it is written with) all decode to `None`.
/// A time that has no UTC representation (`9999-12-31T23:59:59-23:59` is in the year 10000) is a
/// decode error. Times are sent as they are (a time you build with an offset keeps it).
pub(crate) mod rfc3339_opt {
    use super::*;
    use time::UtcOffset;
    use time::macros::datetime;

    /// Go's zero `time.Time`.
    const GO_ZERO_TIME: OffsetDateTime = datetime!(0001-01-01 0:00 UTC);

    pub(crate) fn serialize<S: Serializer>(
        v: &Option<OffsetDateTime>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        time::serde::rfc3339::option::serialize(v, s)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        de: D,
    ) -> Result<Option<OffsetDateTime>, D::Error> {
        let Some(t) = time::serde::rfc3339::option::deserialize(de)? else {
            return Ok(None);
        };
        let utc = t.checked_to_offset(UtcOffset::UTC).ok_or_else(|| {
            serde::de::Error::custom(format_args!("the time {t} is out of range in UTC"))
        })?;
        Ok((utc != GO_ZERO_TIME).then_some(utc))
    }
}

/// Numbers the way Go's `encoding/json` writes a `float64`: an integral value as an integer
/// literal (`1`, not `1.0`), anything else as the shortest exact float (with serde_json's
/// `float_roundtrip` feature, parsing gives back the same bits). So a number read from Suger is
/// sent back as the same JSON number, and [`serde_json::Value`]s compare equal.
pub(crate) mod go_f64 {
    use super::*;

    /// 2^63: every integral `f64` of smaller magnitude converts to `i64` exactly.
    const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;
    /// 2^64: the same for `u64`.
    const U64_LIMIT: f64 = 18_446_744_073_709_551_616.0;

    pub(crate) fn serialize<S: Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
        let v = *v;
        // -0.0 is integral but `-0` must stay negative: keep it a float.
        let integral = v.fract() == 0.0 && !(v == 0.0 && v.is_sign_negative());
        if integral && (-I64_LIMIT..I64_LIMIT).contains(&v) {
            s.serialize_i64(v as i64)
        } else if integral && (0.0..U64_LIMIT).contains(&v) {
            s.serialize_u64(v as u64)
        } else {
            s.serialize_f64(v)
        }
    }

    /// `null` decodes as `0` (Go's zero value).
    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(de: D) -> Result<f64, D::Error> {
        null_as_default(de)
    }

    /// For `Option<f64>` fields where an absent number differs from `0`: `null` or missing is
    /// `None` (use with `default` and `skip_serializing_if = "Option::is_none"`).
    pub(crate) mod option {
        use super::*;

        pub(crate) fn serialize<S: Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
            match v {
                Some(v) => super::serialize(v, s),
                None => s.serialize_none(),
            }
        }

        pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
            de: D,
        ) -> Result<Option<f64>, D::Error> {
            Option::deserialize(de)
        }
    }
}

/// Declares a forward-compatible string enum: one variant per value the spec lists, plus
/// `Other(String)` that keeps any value the server adds later, so decoding never fails on a new
/// value and the value round-trips unchanged.
///
/// Every way of building one from a string (`From<&str>`, `From<String>`, `FromStr`,
/// deserialization) gives the named variant for a known wire value, so the crate never produces
/// `Other` holding a known value.
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
            /// A value this version of the crate does not know, kept verbatim (and sent back
            /// as it came).
            ///
            /// Receive-only: the crate produces it only for a value that has no named variant.
            /// Don't build it yourself: build from the wire string instead (`From`, `parse`),
            /// which gives the named variant for a known value. A hand-built `Other` holding a
            /// known value serializes the same but is not equal to the named variant and does
            /// not match it; a value named in a later version of the crate moves from `Other`
            /// to its new variant.
            Other(String),
        }

        impl std::str::FromStr for $name {
            type Err = std::convert::Infallible;

            /// Never fails: a known wire value gives its named variant, any other value
            /// `Other`.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Ok(Self::from(s))
            }
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
            /// The named variant for a known wire value, `Other` for any other value.
            fn from(s: &str) -> Self {
                match s {
                    $( $wire => Self::$variant, )*
                    other => Self::Other(other.to_owned()),
                }
            }
        }

        impl From<String> for $name {
            /// The named variant for a known wire value, `Other` (reusing the string) for any
            /// other value.
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
    use serde_json::{Value, json};

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct T {
        #[serde(default, with = "rfc3339_opt", skip_serializing_if = "Option::is_none")]
        t: Option<OffsetDateTime>,
        #[serde(default, deserialize_with = "null_as_default")]
        v: Vec<u8>,
    }

    fn time_of(json: &str) -> Result<Option<OffsetDateTime>, serde_json::Error> {
        serde_json::from_str::<T>(json).map(|t| t.t)
    }

    #[test]
    fn go_zero_time_in_any_offset_null_and_missing_are_none() {
        for json in [
            r#"{"t":"0001-01-01T00:00:00Z"}"#,
            r#"{"t":"0001-01-01T00:00:00+00:00"}"#,
            r#"{"t":"0001-01-01T02:30:00+02:30"}"#,
            r#"{"t":"0000-12-31T23:00:00-01:00"}"#,
            r#"{"t":null}"#,
            r#"{}"#,
        ] {
            assert_eq!(time_of(json).unwrap(), None, "{json}");
        }
    }

    #[test]
    fn only_the_exact_zero_instant_is_unset() {
        let t = time_of(r#"{"t":"0001-01-01T00:00:00.000000001Z"}"#).unwrap();
        assert_eq!(t.unwrap().nanosecond(), 1);
        let t = time_of(r#"{"t":"0001-01-01T01:00:00Z"}"#).unwrap();
        assert_eq!(t.unwrap().hour(), 1);
    }

    #[test]
    fn times_are_normalized_to_utc_keeping_nanoseconds() {
        let t: T = serde_json::from_str(r#"{"t":"2026-03-01T10:00:00.123456789+02:00","v":null}"#)
            .unwrap();
        let got = t.t.unwrap();
        assert_eq!(got.offset(), time::UtcOffset::UTC);
        assert_eq!((got.hour(), got.nanosecond()), (8, 123_456_789));
        assert_eq!(
            serde_json::to_string(&t).unwrap(),
            r#"{"t":"2026-03-01T08:00:00.123456789Z","v":[]}"#
        );
        // The same instant written with two offsets decodes to equal values.
        let other = time_of(r#"{"t":"2026-02-28T23:30:00.123456789-08:30"}"#).unwrap();
        assert_eq!(other, Some(got));
    }

    #[test]
    fn a_time_with_no_utc_representation_is_a_decode_error() {
        for json in [
            r#"{"t":"9999-12-31T23:59:59-23:59"}"#,
            r#"{"t":"9999-12-31T23:30:00-00:31"}"#,
        ] {
            let err = time_of(json).unwrap_err();
            assert!(
                err.to_string().contains("out of range in UTC"),
                "{json}: {err}"
            );
        }
    }

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct N {
        #[serde(default, with = "go_f64")]
        n: f64,
        #[serde(
            default,
            with = "go_f64::option",
            skip_serializing_if = "Option::is_none"
        )]
        o: Option<f64>,
    }

    #[test]
    fn numbers_come_back_as_the_same_json_value() {
        // What Go writes for a float64, and what else a server may send.
        for text in [
            "0",
            "1",
            "-3",
            "0.001",
            "2.5",
            "0.1",
            "1e-75",
            "1e-07",
            "4.9e-324",
            "1.7976931348623157e+308",
            "9007199254740992",
            "10000000000000000000",
            "100000000000000000000",
            "-9223372036854775808",
            "-0",
            "0.30000000000000004",
        ] {
            let read: Value =
                serde_json::from_str(&format!(r#"{{"n":{text},"o":{text}}}"#)).unwrap();
            let n: N = serde_json::from_value(read.clone()).unwrap();
            assert_eq!(serde_json::to_value(&n).unwrap(), read, "{text}");
            // And through text, as the client sends it.
            let sent = serde_json::to_string(&n).unwrap();
            let again: Value = serde_json::from_str(&sent).unwrap();
            assert_eq!(again, read, "{text} sent as {sent}");
        }
    }

    #[test]
    fn tiny_numbers_round_trip_bit_identically() {
        let n: N = serde_json::from_str(r#"{"n":1e-75,"o":1e-75}"#).unwrap();
        assert_eq!(n.n.to_bits(), 1e-75_f64.to_bits());
        let back: N = serde_json::from_str(&serde_json::to_string(&n).unwrap()).unwrap();
        assert_eq!(back.n.to_bits(), 1e-75_f64.to_bits());
        assert_eq!(back.o.map(f64::to_bits), Some(1e-75_f64.to_bits()));
    }

    #[test]
    fn integral_floats_are_sent_as_integers_and_absence_stays_absent() {
        let n = N { n: 2.0, o: None };
        assert_eq!(serde_json::to_string(&n).unwrap(), r#"{"n":2}"#);
        let n: N = serde_json::from_str(r#"{"n":null,"o":null}"#).unwrap();
        assert_eq!(n, N { n: 0.0, o: None });
        let n: N = serde_json::from_str(r#"{"o":0}"#).unwrap();
        assert_eq!(
            n,
            N {
                n: 0.0,
                o: Some(0.0)
            }
        );
        assert_eq!(serde_json::to_value(&n).unwrap(), json!({"n": 0, "o": 0}));
        let n = N {
            n: f64::NAN,
            o: Some(-0.0),
        };
        assert_eq!(serde_json::to_string(&n).unwrap(), r#"{"n":null,"o":-0.0}"#);
    }
}
