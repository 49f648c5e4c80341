"""The 9 action classes of the paper's Penn Action subset.

The order is the class index of the authors' published split files
(``frames/<id> <class index>``), read off the Penn Action video id ranges:
index 0 holds videos 2141-2326 (tennis serve), 1 holds 1149-1347 (pull-ups), ...
The synthetic dataset uses the same order so that indices mean the same thing.
"""

from __future__ import annotations

from keyvid.errors import KeyvidError

PENN_ACTIONS: tuple[str, ...] = (
    "tennis_serve",  # 0: Penn Action videos 2141-2326
    "pull_ups",  # 1: 1149-1347
    "clean_and_jerk",  # 2: 701-788
    "tennis_forehand",  # 3: 1984-2140
    "baseball_pitch",  # 4: 1-167
    "jumping_jacks",  # 5: 1037-1148
    "golf_swing",  # 6: 789-954
    "squats",  # 7: 1660-1886
    "baseball_swing",  # 8: 168-340
)


def normalize_action_name(name: str) -> str:
    """'Tennis Serve', 'tennis-serve' and 'tennis_serve' all become 'tennis_serve'."""
    return "_".join(name.strip().lower().replace("-", " ").replace("_", " ").split())


def resolve_action(action: str | int, actions: tuple[str, ...] | list[str]) -> int:
    """Class index for a name (case/space/underscore-insensitive) or an index."""
    if isinstance(action, int) or str(action).strip().isdigit():
        index = int(action)
        if 0 <= index < len(actions):
            return index
    else:
        wanted = normalize_action_name(str(action))
        for i, name in enumerate(actions):
            if normalize_action_name(name) == wanted:
                return i
    raise KeyvidError(
        f"unknown action {action!r}; choose one of: "
        + ", ".join(f"{i}={a}" for i, a in enumerate(actions))
    )
