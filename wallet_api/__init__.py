"""The custodial wallet API (issue 5): residents' and merchants' keys and personal data, held for them."""
