# Production's settings (terraform -chdir=terraform apply -var-file=stages/production.tfvars). The stage's
# names come from TF_VAR_environment and the registry from TF_VAR_image_repository_url / TF_VAR_model_bucket,
# never from here. Only the variables tests/terraform/test_stages.py lists may be set here, and only they may
# differ from staging.tfvars: everything else is the same code and the same defaults in both stages.
# These equal the variables' defaults, so the single-stage install's stack sees no change.
throttle_rate_limit  = 50
throttle_burst_limit = 100
log_retention_days   = 30
alarm_actions        = []
