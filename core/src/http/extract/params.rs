//! A serde deserializer over path parameters and query values, as axum's and serde_urlencoded's
//! are: a value that came as text (`"42"`) is parsed into the type the handler asks for (`u32`),
//! while a value the pipeline already coerced from its schema (a JSON number) is taken as it is.
//!
//! [`Pairs`] is the whole set (a struct, a map, a tuple in the route's order, or a single value
//! when there is exactly one); [`Value`] one value. Errors are plain text; the extractor adds the
//! field's path (serde_path_to_error).

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value as Json;

/// Why a value did not deserialize.
#[derive(Debug)]
pub(crate) struct DeError(String);

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError(msg.to_string())
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

fn json_error(e: serde_json::Error) -> DeError {
    DeError(e.to_string())
}

/// Named values: a route's parameters in its order, or a query.
pub(crate) struct Pairs<'a>(pub(crate) Vec<(&'a str, &'a Json)>);

impl<'a> Pairs<'a> {
    /// The one value, for a handler that asks for a scalar (`Path<u32>`).
    fn single(&self) -> Result<Value<'a>, DeError> {
        match self.0.as_slice() {
            [(_, v)] => Ok(Value(v)),
            other => Err(DeError(format!("expected exactly one value, found {}", other.len()))),
        }
    }
}

macro_rules! single_value {
    ($($method:ident),*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.single()?.$method(visitor)
        })*
    };
}

impl<'de> Deserializer<'de> for Pairs<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(PairsMap { items: self.0.into_iter(), value: None })
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(ValuesSeq { items: self.0.into_iter() })
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        if len != self.0.len() {
            return Err(DeError(format!("expected {len} values, found {}", self.0.len())));
        }
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_tuple(len, visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.0.is_empty() { visitor.visit_none() } else { visitor.visit_some(self) }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.single()?.deserialize_enum(name, variants, visitor)
    }

    single_value!(
        deserialize_bool,
        deserialize_i8,
        deserialize_i16,
        deserialize_i32,
        deserialize_i64,
        deserialize_i128,
        deserialize_u8,
        deserialize_u16,
        deserialize_u32,
        deserialize_u64,
        deserialize_u128,
        deserialize_f32,
        deserialize_f64,
        deserialize_char,
        deserialize_str,
        deserialize_string,
        deserialize_bytes,
        deserialize_byte_buf,
        deserialize_identifier
    );
}

struct PairsMap<'a, I: Iterator<Item = (&'a str, &'a Json)>> {
    items: I,
    value: Option<&'a Json>,
}

impl<'de, I: Iterator<Item = (&'de str, &'de Json)>> MapAccess<'de> for PairsMap<'de, I> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, DeError> {
        match self.items.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::BorrowedStrDeserializer::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, DeError> {
        let v = self.value.take().ok_or_else(|| DeError("a value was asked for before its key".into()))?;
        seed.deserialize(Value(v))
    }
}

struct ValuesSeq<'a, I: Iterator<Item = (&'a str, &'a Json)>> {
    items: I,
}

impl<'de, I: Iterator<Item = (&'de str, &'de Json)>> SeqAccess<'de> for ValuesSeq<'de, I> {
    type Error = DeError;

    fn next_element_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<Option<S::Value>, DeError> {
        match self.items.next() {
            Some((_, v)) => seed.deserialize(Value(v)).map(Some),
            None => Ok(None),
        }
    }
}

/// One value: text is parsed into what the handler asks for; anything else is JSON's.
pub(crate) struct Value<'a>(pub(crate) &'a Json);

macro_rules! parsed {
    ($($method:ident => $visit:ident : $t:ty),*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            match self.0 {
                Json::String(s) => match s.trim().parse::<$t>() {
                    Ok(n) => visitor.$visit(n),
                    Err(_) => Err(DeError(format!("'{s}' is not a valid {}", stringify!($t)))),
                },
                other => other.$method(visitor).map_err(json_error),
            }
        })*
    };
}

macro_rules! as_json {
    ($($method:ident),*) => {
        $(fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
            self.0.$method(visitor).map_err(json_error)
        })*
    };
}

impl<'de> Deserializer<'de> for Value<'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Json::String(s) => visitor.visit_borrowed_str(s),
            other => other.deserialize_any(visitor).map_err(json_error),
        }
    }

    parsed!(
        deserialize_i8 => visit_i8: i8,
        deserialize_i16 => visit_i16: i16,
        deserialize_i32 => visit_i32: i32,
        deserialize_i64 => visit_i64: i64,
        deserialize_i128 => visit_i128: i128,
        deserialize_u8 => visit_u8: u8,
        deserialize_u16 => visit_u16: u16,
        deserialize_u32 => visit_u32: u32,
        deserialize_u64 => visit_u64: u64,
        deserialize_u128 => visit_u128: u128,
        deserialize_f32 => visit_f32: f32,
        deserialize_f64 => visit_f64: f64,
        deserialize_bool => visit_bool: bool,
        deserialize_char => visit_char: char
    );

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_any(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        match self.0 {
            Json::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        match self.0 {
            // A unit variant named by the text (`?sort=asc`).
            Json::String(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            other => other.deserialize_enum(name, variants, visitor).map_err(json_error),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    as_json!(deserialize_bytes, deserialize_byte_buf, deserialize_unit, deserialize_seq, deserialize_map);

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_unit_struct(name, visitor).map_err(json_error)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, DeError> {
        self.0.deserialize_tuple(len, visitor).map_err(json_error)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_tuple_struct(name, len, visitor).map_err(json_error)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.0.deserialize_struct(name, fields, visitor).map_err(json_error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize, PartialEq)]
    struct Q {
        id: u32,
        name: String,
        verbose: Option<bool>,
        sort: Option<Sort>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Sort {
        Asc,
        Desc,
    }

    fn de<T: for<'a> Deserialize<'a>>(pairs: &[(&str, Json)]) -> Result<T, String> {
        let p = Pairs(pairs.iter().map(|(k, v)| (*k, v)).collect());
        serde_path_to_error::deserialize(p).map_err(|e| format!("{}: {}", e.path(), e.inner()))
    }

    #[test]
    fn text_is_parsed_and_json_taken() {
        let q: Q = de(&[("id", json!("42")), ("name", json!("007")), ("sort", json!("desc"))]).unwrap();
        assert_eq!(q, Q { id: 42, name: "007".into(), verbose: None, sort: Some(Sort::Desc) });
        let q: Q = de(&[("id", json!(7)), ("name", json!("a")), ("verbose", json!("true"))]).unwrap();
        assert_eq!((q.id, q.verbose), (7, Some(true)));
        let one: u64 = de(&[("id", json!("9"))]).unwrap();
        assert_eq!(one, 9);
        let two: (String, i32) = de(&[("a", json!("x")), ("b", json!("-3"))]).unwrap();
        assert_eq!(two, ("x".to_string(), -3));
        let map: std::collections::HashMap<String, String> = de(&[("a", json!("1"))]).unwrap();
        assert_eq!(map["a"], "1");
    }

    #[test]
    fn errors_name_the_field() {
        let e = de::<Q>(&[("id", json!("abc")), ("name", json!("a"))]).unwrap_err();
        assert_eq!(e, "id: 'abc' is not a valid u32");
        let e = de::<Q>(&[("id", json!("1"))]).unwrap_err();
        assert!(e.contains("missing field `name`"), "{e}");
        let e = de::<Q>(&[("id", json!("1")), ("name", json!("a")), ("sort", json!("up"))]).unwrap_err();
        assert!(e.starts_with("sort: unknown variant `up`"), "{e}");
        let e = de::<u32>(&[("a", json!("1")), ("b", json!("2"))]).unwrap_err();
        assert!(e.contains("exactly one value, found 2"), "{e}");
    }
}
