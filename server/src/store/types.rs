//! How the domain's id and time types are stored: ids as text, times as integer seconds. A
//! value read back is checked like one a caller sent (an id in another form is a corrupt row,
//! an error, not a new spelling), so rows decode straight into domain types at the store's edge.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::domain::ids::{
    AccessRequestId, GrantId, InvitationId, Kid, NotificationId, PartyId, PassportId, RecordId,
};
use crate::domain::time::Timestamp;

/// Stores `$name` as `$repr`, converting with `From` (to store) and `TryFrom` (to read).
macro_rules! stored_as {
    ($repr:ty: $($name:ty),+) => {$(
        impl<DB: Database> Type<DB> for $name
        where
            $repr: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$repr as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$repr as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $name
        where
            $repr: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <$repr>::from(self.clone()).encode(buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $name
        where
            $repr: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                Ok(<$name>::try_from(<$repr>::decode(value)?)?)
            }
        }
    )+};
}

stored_as!(String: PartyId, PassportId, RecordId, GrantId, InvitationId, AccessRequestId, NotificationId, Kid);
stored_as!(i64: Timestamp);

/// `sqlx::FromRow` for a row struct, on SQLite and on PostgreSQL: each field read from the
/// column of its name, as sqlx's derive would (the derive is not used: its proc-macro crate
/// builds sqlx's database drivers a second time; see Cargo.toml). `field as T` reads the column
/// as `T` and converts it with `TryFrom`; `|row| { field: expr }` fills fields that are not
/// columns of their own.
macro_rules! from_row {
    ($name:ident { $($field:ident $(as $via:ty)?),* $(,)? } $(|$row:ident| { $($extra:ident: $value:expr),* $(,)? })?) => {
        $crate::service::store::types::from_row!(@for sqlx::sqlite::SqliteRow, $name { $($field $(as $via)?),* } $(|$row| { $($extra: $value),* })?);
        $crate::service::store::types::from_row!(@for sqlx::postgres::PgRow, $name { $($field $(as $via)?),* } $(|$row| { $($extra: $value),* })?);
    };
    (@for $backend:ty, $name:ident { $($field:ident $(as $via:ty)?),* } $(|$row:ident| { $($extra:ident: $value:expr),* })?) => {
        impl<'r> sqlx::FromRow<'r, $backend> for $name {
            fn from_row(row: &'r $backend) -> Result<Self, sqlx::Error> {
                use sqlx::Row as _;
                $(let $row = row;)?
                Ok($name {
                    $($field: $crate::service::store::types::from_row!(@get row, $field $(as $via)?),)*
                    $($($extra: $value,)*)?
                })
            }
        }
    };
    (@get $row:ident, $field:ident) => {
        $row.try_get(stringify!($field))?
    };
    (@get $row:ident, $field:ident as $via:ty) => {
        $crate::service::store::types::convert::<$via, _>(
            stringify!($field),
            $row.try_get::<$via, _>(stringify!($field))?,
        )?
    };
}
pub(crate) use from_row;

/// A column's value as `T`, or a decoding error naming the column.
pub(crate) fn convert<V, T>(column: &str, value: V) -> Result<T, sqlx::Error>
where
    T: TryFrom<V>,
    T::Error: std::fmt::Display,
{
    T::try_from(value).map_err(|e| sqlx::Error::ColumnDecode {
        index: column.to_owned(),
        source: e.to_string().into(),
    })
}
