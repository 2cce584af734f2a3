//! Integers in request bodies as JSON Schema means them: a number with no fraction part. JSON
//! Schema's `integer` admits `272.0` (draft 2020-12 section 6.1.1; the OpenAPI document says
//! `"type": "integer"`), which serde refuses for an `i64`; these accept it and still refuse
//! `272.5`. Use with `#[serde(deserialize_with = "crate::integer::i64")]` (or
//! `crate::integer::option_i64` with `default`).

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// An `i64` that may be written as an integral float (`272.0`).
pub fn i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i64, D::Error> {
    deserializer.deserialize_i64(Integral)
}

/// An optional `i64` that may be written as an integral float; `null` is none.
pub fn option_i64<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    struct Wrapped(i64);
    impl<'de> Deserialize<'de> for Wrapped {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            i64(deserializer).map(Wrapped)
        }
    }
    Ok(Option::<Wrapped>::deserialize(deserializer)?.map(|w| w.0))
}

struct Integral;

impl Visitor<'_> for Integral {
    type Value = i64;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("an integer")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i64, E> {
        i64::try_from(v).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i64, E> {
        // 2^63 is the first float past i64::MAX; every float below it with no fraction fits.
        if v.fract() == 0.0 && v >= -(2f64.powi(63)) && v < 2f64.powi(63) {
            Ok(v as i64)
        } else {
            Err(E::invalid_value(de::Unexpected::Float(v), &self))
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Days {
        #[serde(deserialize_with = "super::i64")]
        days: i64,
        #[serde(default, deserialize_with = "super::option_i64")]
        expires: Option<i64>,
    }

    fn parse(json: &str) -> Result<Days, serde_json::Error> {
        serde_json::from_str(json)
    }

    #[test]
    fn integral_floats_are_integers() {
        let days = |d, e| Days {
            days: d,
            expires: e,
        };
        assert_eq!(parse(r#"{"days": 272}"#).unwrap(), days(272, None));
        assert_eq!(
            parse(r#"{"days": 272.0, "expires": 7.0}"#).unwrap(),
            days(272, Some(7))
        );
        assert_eq!(
            parse(r#"{"days": -1e2, "expires": null}"#).unwrap(),
            days(-100, None)
        );
        assert_eq!(parse(r#"{"days": 2.72e2}"#).unwrap(), days(272, None));
        for bad in [
            r#"{"days": 272.5}"#,
            r#"{"days": 1e300}"#,
            r#"{"days": 9223372036854775808}"#,
            r#"{"days": "272"}"#,
            r#"{"days": 1, "expires": 0.5}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
