# The model registry: immutable versions under models/versions/<id>/, the pointer models/current, and
# optional training data under data/. The image carries the promoted model, so serving does not read this
# bucket unless MODEL_URI points at it. The hardening (no public access, versioning, KMS, TLS only) is the
# module's; this root decides the name, whether destroy may empty it, and how long old versions stay.
module "model_bucket" {
  source = "./modules/private-bucket"

  name                    = local.model_bucket_name
  force_destroy           = var.force_destroy
  noncurrent_version_days = var.model_noncurrent_version_days
  lifecycle_rule_id       = "expire-noncurrent-versions"
}
