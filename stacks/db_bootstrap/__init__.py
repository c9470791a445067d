"""Code shipped to the tenant's database bootstrap function (AWS Lambda), not run by the
orchestrator: `app_user` (the statements, pure) and `handler` (the Lambda entry point)."""
