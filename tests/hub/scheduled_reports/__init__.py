"""Tests of the scheduled reports and public status pages (hub/scheduled_reports/)."""
