"""The engine: fan-out, dispatch, receipts and fallback, composed from store intents."""
