"""The tracing SDK behind ``contrail``'s public functions (see docs/sdk.md)."""
