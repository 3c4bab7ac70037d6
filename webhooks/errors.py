"""The refusals of the webhook API: test pings beyond their limits (429, 503)."""

from core.errors import RateLimited, ServiceUnavailable


class PingRateLimited(RateLimited):
    code = "webhook_ping_rate_limited"
    default_detail = "Too many test pings this minute for this company; see Retry-After."


class PingInFlight(RateLimited):
    code = "webhook_ping_in_flight"
    default_detail = "A test ping of this company is still waiting for its answer; see Retry-After."


class PingsBusy(ServiceUnavailable):
    code = "webhook_pings_busy"
    default_detail = "This server is sending as many test pings as it allows at once; see Retry-After."
