"""Run-time control shared by every worker through the store: the LLM mode switch."""
