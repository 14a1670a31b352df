"""A sibling module imported by bad.py: its frame is the user's too."""


def explode(x):
    raise ValueError(f"cannot take {x.shape}")  # raises here
