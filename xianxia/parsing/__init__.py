"""Intent parsers: free text to `{intent, slots, allowed, reason}`."""
