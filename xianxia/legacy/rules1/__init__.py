"""Rules version 1: the engine and bundled world as they were at commit f38c478, frozen. Do not edit.

Log entries without a `rules` field were applied under these rules; `xianxia.game.replay` re-runs them here
and hands the resulting state to the current engine, which upgrades it as it did for the live player.
"""
