"""Watch-over (みまもり, issue 19): rotating tag ids, signed detector batches, resolution to wards, retention."""
