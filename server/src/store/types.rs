//! How the domain's id and time types are stored: ids as text, times as integer seconds. A
//! value read back is checked like one a caller sent (an id in another form is a corrupt row,
//! an error, not a new spelling), so rows decode straight into domain types at the store's edge.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

use crate::domain::ids::{
    AccessRequestId, GrantId, InvitationId, Kid, PartyId, PassportId, RecordId,
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

stored_as!(String: PartyId, PassportId, RecordId, GrantId, InvitationId, AccessRequestId, Kid);
stored_as!(i64: Timestamp);
