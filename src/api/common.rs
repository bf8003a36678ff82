//! Items shared by several resources: the marketplace enum and the list limit.

use crate::http::error::{Error, Result};
use crate::http::serde_util::open_enum;

/// Largest `limit` of a list call.
pub const MAX_LIST_LIMIT: u32 = 1000;

open_enum! {
    /// A cloud marketplace or billing partner.
    pub enum Partner {
        /// The empty string: Go's zero value (`Partner_UNKNOWN`).
        Unspecified = "",
        /// Adyen.
        Adyen = "ADYEN",
        /// Alibaba Cloud Marketplace.
        Alibaba = "ALIBABA",
        /// AWS Marketplace.
        Aws = "AWS",
        /// AWS Marketplace China.
        AwsChina = "AWS_CHINA",
        /// Azure Marketplace.
        Azure = "AZURE",
        /// Chargebee.
        Chargebee = "CHARGEBEE",
        /// Databricks.
        Databricks = "DATABRICKS",
        /// DocuSign.
        Docusign = "DOCUSIGN",
        /// Google Cloud Marketplace.
        Gcp = "GCP",
        /// Google.
        Google = "GOOGLE",
        /// HubSpot.
        Hubspot = "HUBSPOT",
        /// Intuit.
        Intuit = "INTUIT",
        /// Lago.
        Lago = "LAGO",
        /// Marketo.
        Marketo = "MARKETO",
        /// Metronome.
        Metronome = "METRONOME",
        /// Microsoft.
        Microsoft = "MICROSOFT",
        /// Oracle.
        Oracle = "ORACLE",
        /// Orb.
        Orb = "ORB",
        /// Red Hat.
        Redhat = "REDHAT",
        /// Salesforce.
        Salesforce = "SALESFORCE",
        /// Slack.
        Slack = "SLACK",
        /// Snowflake.
        Snowflake = "SNOWFLAKE",
        /// Stripe.
        Stripe = "STRIPE",
        /// Zoho.
        Zoho = "ZOHO",
    }
}

/// A calendar date, for the query and path dates of the API (`start_date`, `creation_date`,
/// ...), without the `time` crate's macros.
///
/// `suger_metering::time::macros::date!` does **not** work from your crate unless it depends
/// on `time` itself: the macro expands to paths under `::time`, which the re-export does not
/// provide. This function does, with an error instead of a compile-time check:
///
/// ```
/// let day = suger_metering::date(2026, 11, 26)?;
/// assert_eq!(day.to_string(), "2026-11-26");
/// assert!(suger_metering::date(2026, 2, 30).is_err());
/// # Ok::<(), suger_metering::Error>(())
/// ```
///
/// # Errors
/// [`Error::InvalidRequest`](crate::Error::InvalidRequest) (field `date`) for a day that does
/// not exist.
pub fn date(year: i32, month: u8, day: u8) -> Result<time::Date> {
    let month = time::Month::try_from(month)
        .map_err(|_| Error::invalid("date", format!("month {month} is not 1 to 12")))?;
    time::Date::from_calendar_date(year, month, day)
        .map_err(|e| Error::invalid("date", format!("{year}-{month}-{day} is not a date: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every way the crate builds an open enum from a string gives the named variant for a
    /// known wire value: `Other("AWS")` is never produced.
    #[test]
    fn a_known_wire_value_is_always_the_named_variant() {
        let via_str = Partner::from("AWS");
        let via_string = Partner::from(String::from("AWS"));
        let via_parse: Partner = "AWS".parse().unwrap();
        let via_json: Partner = serde_json::from_str(r#""AWS""#).unwrap();
        let via_json_owned: Partner = serde_json::from_reader(r#""AWS""#.as_bytes()).unwrap();
        let via_value: Partner = serde_json::from_value(serde_json::json!("AWS")).unwrap();
        for (how, p) in [
            ("From<&str>", via_str),
            ("From<String>", via_string),
            ("FromStr", via_parse),
            ("Deserialize (borrowed)", via_json),
            ("Deserialize (reader)", via_json_owned),
            ("Deserialize (Value)", via_value),
        ] {
            assert_eq!(p, Partner::Aws, "{how}");
            assert_ne!(p, Partner::Other("AWS".into()), "{how}");
        }
        // The empty string is a known value too (Go's zero value).
        assert_eq!(Partner::from(String::new()), Partner::Unspecified);
        assert_eq!("".parse::<Partner>(), Ok(Partner::Unspecified));
    }

    #[test]
    fn an_unknown_wire_value_is_other_kept_verbatim() {
        let p: Partner = "TENCENT".parse().unwrap();
        assert_eq!(p, Partner::Other("TENCENT".into()));
        assert_eq!(Partner::from(String::from("TENCENT")), p);
        assert_eq!(serde_json::from_str::<Partner>(r#""TENCENT""#).unwrap(), p);
        // Wire values are case-sensitive, as the server's are.
        assert_eq!(Partner::from("aws"), Partner::Other("aws".into()));
        assert_eq!(serde_json::to_string(&p).unwrap(), r#""TENCENT""#);
        assert_eq!(p.to_string(), "TENCENT");
    }
}
