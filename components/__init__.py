"""One ComponentResource per file: network, cluster, IRSA roles, encryption keys."""
