"""The admin pages under /admin (users, areas, devices, CSV import, audit log) and what they share."""
