//! A list element at a glance: its JSON type, its `UserID` and its `Name`,
//! read in one pass that validates the element but builds nothing else.
//! Most of a production list is other parties' customers, which a glance settles.

use serde_json::Value;

/// The JSON type of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `null`.
    Null,
    /// `true` or `false`.
    Boolean,
    /// A number.
    Number,
    /// A string.
    String,
    /// An array.
    Array,
    /// An object.
    Object,
}

/// A list element at a glance: its type and, for an object, its `UserID`
/// and `Name` members (the last of each, as a parsed object holds it).
/// Read in one pass that validates the element but builds nothing else.
#[derive(Debug, Clone, PartialEq)]
pub struct Glance {
    /// The element's JSON type.
    pub kind: Kind,
    /// The `UserID` member of an object.
    pub user_id: Option<Value>,
    /// The `Name` member of an object.
    pub name: Option<Value>,
}

impl Glance {
    /// The UserID, when it is a string.
    pub fn user_id_text(&self) -> Option<&str> {
        self.user_id.as_ref().and_then(Value::as_str)
    }

    /// The Name, when it is a string.
    pub fn name_text(&self) -> Option<&str> {
        self.name.as_ref().and_then(Value::as_str)
    }
}

impl<'de> serde::Deserialize<'de> for Glance {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Glance, D::Error> {
        deserializer.deserialize_any(GlanceVisitor)
    }
}

struct GlanceVisitor;

impl GlanceVisitor {
    fn of(kind: Kind) -> Glance {
        Glance {
            kind,
            user_id: None,
            name: None,
        }
    }
}

/// A member name as far as a glance cares.
enum Member {
    UserId,
    Name,
    Other,
}

impl<'de> serde::Deserialize<'de> for Member {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Member, D::Error> {
        struct MemberVisitor;
        impl serde::de::Visitor<'_> for MemberVisitor {
            type Value = Member;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Member, E> {
                Ok(match name {
                    "UserID" => Member::UserId,
                    "Name" => Member::Name,
                    _ => Member::Other,
                })
            }
        }
        deserializer.deserialize_str(MemberVisitor)
    }
}

impl<'de> serde::de::Visitor<'de> for GlanceVisitor {
    type Value = Glance;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Glance, E> {
        Ok(GlanceVisitor::of(Kind::Boolean))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Glance, E> {
        Ok(GlanceVisitor::of(Kind::Number))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Glance, E> {
        Ok(GlanceVisitor::of(Kind::Number))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Glance, E> {
        Ok(GlanceVisitor::of(Kind::Number))
    }

    fn visit_str<E>(self, _: &str) -> Result<Glance, E> {
        Ok(GlanceVisitor::of(Kind::String))
    }

    fn visit_unit<E>(self) -> Result<Glance, E> {
        Ok(GlanceVisitor::of(Kind::Null))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Glance, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(GlanceVisitor::of(Kind::Array))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Glance, A::Error> {
        let mut glance = GlanceVisitor::of(Kind::Object);
        while let Some(member) = map.next_key::<Member>()? {
            match member {
                Member::UserId => glance.user_id = Some(map.next_value()?),
                Member::Name => glance.name = Some(map.next_value()?),
                Member::Other => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        Ok(glance)
    }
}
