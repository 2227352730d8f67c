# The state bucket of every stack this bootstrap serves. Every apply writes a new object version: the
# history is the way back from a bad apply, kept for var.state_noncurrent_version_days.
module "state_bucket" {
  source = "../modules/private-bucket"

  name = local.state_bucket
  # Never deletable while it holds state, so a stray destroy cannot orphan every stack that uses it.
  force_destroy           = false
  noncurrent_version_days = var.state_noncurrent_version_days
  lifecycle_rule_id       = "expire-old-state-versions"
}
