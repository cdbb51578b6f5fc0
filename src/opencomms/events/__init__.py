"""Status events: CloudEvents envelopes and signed webhook delivery."""
