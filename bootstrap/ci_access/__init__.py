"""The bootstrap's components: GitHub OIDC access (roles) and the optional state backend."""
