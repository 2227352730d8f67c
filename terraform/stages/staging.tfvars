# Staging's settings (terraform -chdir=terraform apply -var-file=stages/staging.tfvars); see production.tfvars.
# A stack nobody but the release's tests calls: half the throttle bounds what a runaway test can cost (and still
# takes the synthetic traffic), its logs matter for days, not a month, and no one is paged: its alarms fail the
# release, not a person.
throttle_rate_limit  = 25
throttle_burst_limit = 50
log_retention_days   = 7
alarm_actions        = []
