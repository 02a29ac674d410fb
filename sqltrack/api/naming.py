"""Generated run names in MLflow's style: ``adjective-noun-123``."""

from __future__ import annotations

import random

_ADJECTIVES = ("able", "bold", "brave", "bright", "calm", "clever", "crisp", "daring", "eager", "fair", "fast",
               "fluffy", "gentle", "glad", "grand", "honest", "keen", "kind", "lively", "lucky", "merry", "nimble",
               "polite", "proud", "quick", "quiet", "rare", "sharp", "shy", "smart", "steady", "sunny", "swift",
               "tidy", "vivid", "warm", "wise", "witty", "zesty")
_NOUNS = ("ant", "bass", "bat", "bear", "bee", "bird", "boar", "carp", "cat", "colt", "crab", "crow", "deer",
          "doe", "dove", "duck", "eel", "elk", "finch", "fox", "frog", "gnat", "goat", "hare", "hawk", "hen",
          "jay", "koi", "lark", "lynx", "mole", "moth", "newt", "owl", "ox", "pug", "ram", "seal", "slug",
          "snail", "swan", "toad", "trout", "wasp", "whale", "wolf", "wren", "yak")


def generate_run_name() -> str:
    """A short, readable, probably-unique run name."""
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_NOUNS)}-{random.randint(0, 999)}"
