"""The DeepSeek LLM: the pooled client (client.py), its retry policy, circuit breaker, errors and prompts.

Nothing is imported here on purpose: `validation` and `prompts` import `errors`, and `client` imports them.
"""
