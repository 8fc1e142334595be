"""The dashboard on the service's HTTP port: live queues, agents and the report, behind a login
(`bot.dashboard.views.add_dashboard`; this package stays light to import, the settings use its passwords)."""
