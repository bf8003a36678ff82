#!/usr/bin/env python3
"""Suger's Python SDK (PyPI: suger-sdk-python) against `suger-metering fake`: all 13 metering
operations, plus the fake's admin routes to run the report cycle and make a group retryable.

    pip install suger-sdk-python
    cargo build --features cli
    python3 examples/python_sdk_against_fake.py target/debug/suger-metering

Starts `suger-metering fake --port 0`, reads the SUGER_* lines it prints, and stops it at the
end. Exits non-zero at the first operation that fails. Not part of CI (it needs PyPI).
"""

import json
import subprocess
import sys
import urllib.request

import suger_sdk_python as suger


def admin(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"{base}/_fake/{path}", data=data, method=method)
    with urllib.request.urlopen(req) as resp:
        return json.loads(resp.read())


def main(binary):
    fake = subprocess.Popen([binary, "fake", "--port", "0"], stdout=subprocess.PIPE, text=True)
    try:
        env = dict(fake.stdout.readline().strip().split("=", 1) for _ in range(3))
        base, org = env["SUGER_API_BASE_URL"], env["SUGER_ORG_ID"]
        config = suger.Configuration(
            host=base,
            api_key={"APIKeyAuth": env["SUGER_API_KEY"]},
            api_key_prefix={"APIKeyAuth": "Key"},
        )
        api = suger.MeteringApi(suger.ApiClient(config))
        done = []

        def op(name, fn):
            result = fn()
            done.append(name)
            print(f"ok {len(done):2} {name}")
            return result

        group = op("reportUsageRecordGroup", lambda: api.report_usage_record_group(
            org, "ent-1", suger.CreateUsageRecordGroupParams(
                id="py-1", entitlementID="ent-1", organizationID=org, records={"api_calls": 3})))
        assert group.id == "py-1", group
        new = [suger.NewUsageRecordGroup(entitlementID="ent-2", records={"api_calls": 2})]
        op("batchValidateUsageRecordGroups",
           lambda: api.batch_validate_usage_record_groups(org, new))
        created = op("batchReportUsageRecordGroups",
                     lambda: api.batch_report_usage_record_groups(org, new))
        assert len(created) == 1, created
        page = op("listUsageRecordGroups",
                  lambda: api.list_usage_record_groups(org, entitlement_id="ent-1", limit=10))
        assert [g.id for g in page.usage_record_groups] == ["py-1"], page
        admin(base, "POST", "fail-next-report", {"usageRecordGroupId": "py-1"})
        admin(base, "POST", "report-cycle")
        reports = op("listUsageRecordReports", lambda: api.list_usage_record_reports(org))
        assert len(reports.usage_record_reports) == 2, reports
        retried = op("retryUsageRecordGroup", lambda: api.retry_usage_record_group(org, "py-1"))
        assert retried.status == "CREATED", retried
        deleted = op("deleteUsageRecordGroup", lambda: api.delete_usage_record_group(org, "py-1"))
        assert deleted.status == "DELETED", deleted
        metric = op("createBillableMetric", lambda: api.create_billable_metric(
            org, suger.BillableMetric(id="m1", name="API calls", aggregationType="SUM")))
        assert metric.id == "m1", metric
        op("getBillableMetric", lambda: api.get_billable_metric(org, "m1"))
        metrics = op("listBillableMetrics", lambda: api.list_billable_metrics(org))
        assert [m.id for m in metrics] == ["m1"], metrics
        updated = op("updateBillableMetric", lambda: api.update_billable_metric(
            org, "m1", suger.UpdateBillableMetricParams(name="API calls v2")))
        assert updated.name == "API calls v2", updated
        op("getUsageMeteringConfigInfo", lambda: api.get_usage_metering_config_info(org))
        op("updateUsageMeteringConfigInfo", lambda: api.update_usage_metering_config_info(
            org, suger.UsageMeteringConfigInfo(partnerUsageMeteringConfigs=[
                suger.PartnerUsageMeteringConfig(partner="AWS", enableDimensionMapping=True)])))
        print(f"{len(done)}/13 operations OK")
        return 0 if len(done) == 13 else 1
    finally:
        fake.kill()
        fake.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "suger-metering"))
