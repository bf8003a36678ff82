//! Items shared by several resources: the marketplace enum and the list limit.

use crate::serde_util::open_enum;

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
