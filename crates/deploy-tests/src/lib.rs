//! Tests of `deploy/` (the BOSH release, the bosh-deployment ops files) and of the operator
//! docs. The crate has no code of its own: everything is under `tests/`.
