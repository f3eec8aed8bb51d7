"""The Signals API: a client (httpx) for the registry, the engines and online attributes."""

from signals_batch.api.client import SignalsApiClient, SignalsApiError

__all__ = ["SignalsApiClient", "SignalsApiError"]
