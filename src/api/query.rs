//! Query-string plumbing shared by the list calls: the builder setters and the checked pairs.

use time::Date;

use crate::api::common::MAX_LIST_LIMIT;
use crate::http::error::{Error, Result};

/// Chained setters for a list-query builder: `field: String;` takes `impl Into<String>`, any
/// other type is taken as is. Each sets `self.field = Some(value)`.
macro_rules! setters {
    () => {};
    ($(#[$doc:meta])* $field:ident: String; $($rest:tt)*) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(mut self, $field: impl Into<String>) -> Self {
            self.$field = Some($field.into());
            self
        }
        $crate::api::query::setters!($($rest)*);
    };
    ($(#[$doc:meta])* $field:ident: $ty:ty; $($rest:tt)*) => {
        $(#[$doc])*
        #[must_use]
        pub fn $field(mut self, $field: $ty) -> Self {
            self.$field = Some($field);
            self
        }
        $crate::api::query::setters!($($rest)*);
    };
}
pub(crate) use setters;

pub(crate) fn push_opt(q: &mut Vec<(&'static str, String)>, name: &'static str, v: Option<&str>) {
    if let Some(v) = v {
        q.push((name, v.to_owned()));
    }
}

/// An id filter: refused when set but empty.
pub(crate) fn push_id(
    q: &mut Vec<(&'static str, String)>,
    field: &'static str,
    name: &'static str,
    v: Option<&str>,
) -> Result<()> {
    if v.is_some_and(str::is_empty) {
        return Err(Error::invalid(
            field,
            "must not be empty (leave it unset for no filter)",
        ));
    }
    push_opt(q, name, v);
    Ok(())
}

/// The date range and pagination parameters shared by both list calls.
pub(crate) fn push_range(
    q: &mut Vec<(&'static str, String)>,
    start: Option<Date>,
    end: Option<Date>,
    limit: Option<u32>,
    offset: Option<u32>,
) -> Result<()> {
    if let (Some(s), Some(e)) = (start, end)
        && s > e
    {
        return Err(Error::invalid(
            "start_date",
            format!("start date {s} is after end date {e}"),
        ));
    }
    if let Some(d) = start {
        q.push(("startDate", ymd("start_date", d)?));
    }
    if let Some(d) = end {
        q.push(("endDate", ymd("end_date", d)?));
    }
    if let Some(l) = limit {
        if !(1..=MAX_LIST_LIMIT).contains(&l) {
            return Err(Error::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIST_LIMIT}, got {l}"),
            ));
        }
        q.push(("limit", l.to_string()));
    }
    if let Some(o) = offset {
        q.push(("offset", o.to_string()));
    }
    Ok(())
}

/// A date as `YYYY-MM-DD`.
pub(crate) fn ymd(field: &'static str, d: Date) -> Result<String> {
    if !(1..=9999).contains(&d.year()) {
        return Err(Error::invalid(
            field,
            format!("year {} is not YYYY", d.year()),
        ));
    }
    Ok(format!(
        "{:04}-{:02}-{:02}",
        d.year(),
        u8::from(d.month()),
        d.day()
    ))
}
