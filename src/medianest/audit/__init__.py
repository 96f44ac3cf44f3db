"""The audit log: sign-ins and admin actions (who, what, when, from where), readable by admins."""
