"""The gallery's search: exact within a scope, approximate (faiss) across a large one, and both
kept current as templates come and go."""

from __future__ import annotations

import numpy as np
import pytest

from pingan.faces import gallery as gallery_mod
from pingan.faces.bench import _Synthetic
from pingan.faces.vault import Vault, new_key


def clustered(
    people: int, per: int, dim: int = 64, seed: int = 3
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((people, dim)).astype(np.float32)
    owners = np.repeat(np.arange(people, dtype=np.int64), per)
    vectors = centres[owners] + 0.5 * rng.standard_normal((people * per, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    return vectors, owners, centres


@pytest.mark.parametrize("approximate", [False, True])
def test_search_finds_the_right_person_and_follows_changes(
    approximate: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gallery_mod, "EXACT_LIMIT", 100)
    vectors, owners, centres = clustered(1000, 3)
    vault = Vault.from_setting(new_key())
    gallery = _Synthetic("test", 64, vault, ann_min=1000 if approximate else 10**9)
    gallery.fill(vectors, owners, "/1/")
    gallery.refresh = lambda _session: None  # type: ignore[method-assign, assignment]

    def best(i: int) -> int | None:
        found = gallery.search(None, centres[i], within="/1/", limit=1)  # type: ignore[arg-type]
        return found[0].person_id if found else None

    assert sum(best(i) == i for i in range(100)) >= 98
    assert (gallery._ann is not None) is approximate
    # Person 7's templates go; a new person arrives with ids after the others.
    gallery._remove({int(t) for t in np.where(owners == 7)[0]})
    assert best(7) != 7
    newcomer = centres[7] * -1
    gallery._add(
        [(10_000 + k, 5000, "/1/", None, vault.seal(newcomer.tobytes())) for k in range(2)]
    )
    assert best(7) != 7
    found = gallery.search(None, newcomer, within="/1/", limit=1)  # type: ignore[arg-type]
    assert found[0].person_id == 5000 and found[0].score > 0.99
    # A narrower scope sees only its own.
    assert gallery.search(None, centres[3], within="/2/", limit=1) == []  # type: ignore[arg-type]
