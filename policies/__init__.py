"""EcoMind's CrossGuard policy pack (run with `pulumi preview --policy-pack policies`)."""
