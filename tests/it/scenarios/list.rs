//! Listing usage record groups: every filter the fake implements, and the ones the client
//! refuses before sending.

use suger_metering::{
    Error, ListUsageRecordGroups, Partner, UsageRecordGroupSource, UsageRecordGroupStatus,
};
use time::Duration as TimeDuration;

use crate::support::fake::*;

#[test]
fn list_with_every_filter() {
    let fake = start();
    let c = client(&fake);
    let today = seed(&fake, &c);
    let all = ["a1", "a2", "a3", "b1", "b2", "c1"];

    // No filter: everything, no nextOffset, no query sent.
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new())
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), all);
    assert_eq!(page.next_offset, None);
    assert_eq!(last_query(&fake), []);

    // partner
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().partner(Partner::Aws)),
        all
    );
    assert_eq!(
        last_query(&fake),
        [("partner".to_string(), "AWS".to_string())]
    );
    assert!(list_ids(&c, &ListUsageRecordGroups::new().partner(Partner::Gcp)).is_empty());

    // buyer
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().buyer_id("buyer-ent-b")),
        ["b1", "b2"]
    );
    assert_eq!(
        last_query(&fake),
        [("buyerId".to_string(), "buyer-ent-b".to_string())]
    );

    // entitlement
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().entitlement_id("ent-a")),
        ["a1", "a2", "a3"]
    );
    assert_eq!(
        last_query(&fake),
        [("entitlementId".to_string(), "ent-a".to_string())]
    );

    // status
    fake.set_group_status("a2", "INVALID");
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Invalid)
        ),
        ["a2"]
    );
    assert_eq!(
        last_query(&fake),
        [("status".to_string(), "INVALID".to_string())]
    );
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Created)
        ),
        ["a1", "a3", "b1", "b2", "c1"]
    );
    // An unknown status is sent as is and decodes as Other.
    fake.set_group_status("b2", "ARCHIVED");
    let page = c
        .list_usage_record_groups(
            &ListUsageRecordGroups::new().status(UsageRecordGroupStatus::Other("ARCHIVED".into())),
        )
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["b2"]);
    assert_eq!(
        page.usage_record_groups[0].status,
        Some(UsageRecordGroupStatus::Other("ARCHIVED".into()))
    );

    // source
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().source(UsageRecordGroupSource::Api)
        ),
        all
    );
    assert_eq!(
        last_query(&fake),
        [("source".to_string(), "API".to_string())]
    );
    assert!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().source(UsageRecordGroupSource::Stripe)
        )
        .is_empty()
    );

    // metaInfo: a substring of the compact metaInfo JSON.
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().meta_info(r#""api_calls":3"#)
        ),
        ["a3", "b1"]
    );
    assert_eq!(
        last_query(&fake),
        [("metaInfo".to_string(), r#""api_calls":3"#.to_string())]
    );
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new().meta_info(r#""key":"cpu""#)
        ),
        ["c1"]
    );

    // dates (inclusive, UTC, on creationTime)
    let yesterday = today - TimeDuration::days(1);
    let tomorrow = today + TimeDuration::days(1);
    assert_eq!(
        list_ids(
            &c,
            &ListUsageRecordGroups::new()
                .start_date(today)
                .end_date(today)
        ),
        all
    );
    assert_eq!(
        last_query(&fake),
        [
            ("startDate".to_string(), today.to_string()),
            ("endDate".to_string(), today.to_string()),
        ]
    );
    assert!(list_ids(&c, &ListUsageRecordGroups::new().start_date(tomorrow)).is_empty());
    assert!(list_ids(&c, &ListUsageRecordGroups::new().end_date(yesterday)).is_empty());
    assert_eq!(
        list_ids(&c, &ListUsageRecordGroups::new().start_date(yesterday)),
        all
    );

    // limit / offset / nextOffset
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(4))
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["a1", "a2", "a3", "b1"]);
    assert_eq!(page.next_offset, Some(4));
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().limit(4).offset(4))
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["b2", "c1"]);
    assert_eq!(page.next_offset, None);
    assert_eq!(
        last_query(&fake),
        [
            ("limit".to_string(), "4".to_string()),
            ("offset".to_string(), "4".to_string()),
        ]
    );
    let page = c
        .list_usage_record_groups(&ListUsageRecordGroups::new().offset(100))
        .expect("list");
    assert!(page.usage_record_groups.is_empty());
    assert_eq!(page.next_offset, None);

    // Everything combined.
    let page = c
        .list_usage_record_groups(
            &ListUsageRecordGroups::new()
                .entitlement_id("ent-a")
                .status(UsageRecordGroupStatus::Created)
                .source(UsageRecordGroupSource::Api)
                .meta_info("api_calls")
                .start_date(today)
                .end_date(today)
                .limit(1)
                .offset(1),
        )
        .expect("list");
    assert_eq!(ids(&page.usage_record_groups), ["a3"]);
    assert_eq!(page.next_offset, None);
    let q: Vec<String> = last_query(&fake).into_iter().map(|(k, _)| k).collect();
    assert_eq!(
        q,
        [
            "entitlementId",
            "status",
            "source",
            "metaInfo",
            "startDate",
            "endDate",
            "limit",
            "offset"
        ]
    );

    // Client-side refusals send nothing.
    let before = fake.requests().len();
    let others = [
        ListUsageRecordGroups::new().limit(0),
        ListUsageRecordGroups::new().limit(1001),
        ListUsageRecordGroups::new().entitlement_id(""),
        ListUsageRecordGroups::new()
            .start_date(tomorrow)
            .end_date(today),
    ];
    for bad in crate::support::conflicting_id_filters()
        .into_iter()
        .chain(others)
    {
        let e = c.list_usage_record_groups(&bad).expect_err("refused");
        assert!(matches!(e, Error::InvalidRequest { .. }), "{bad:?}: {e:?}");
    }
    assert_eq!(fake.requests().len(), before);
}
