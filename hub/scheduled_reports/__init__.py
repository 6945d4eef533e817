"""Scheduled reports: weekly and monthly uptime/broadcast reports per commune and for the whole hub, as PDF and
CSV, sent to Zalo groups and by e-mail, kept on the reports page; and the opt-in public status page."""
