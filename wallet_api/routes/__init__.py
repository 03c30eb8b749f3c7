"""HTTP routes, one module per audience: auth, residents' wallet, merchants' till, officers."""
