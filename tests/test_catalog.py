"""The scenario catalog: the shipped files load and quote real clauses; bad files are named errors."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from harness.catalog import CatalogError, Scenario, Source, catalog, load_catalog, load_file, select
from harness.profile import profile_names

IMPLEMENTED_PROFILES = list(profile_names())
from harness.verdicts import ConfigError, Level

SHARED = Path(__file__).resolve().parents[2] / "shared"
SCENARIOS = catalog()


def _source_file(seed: str) -> Path:
    return SHARED / seed if seed == "protocol-notes.md" else SHARED / "seeds" / seed


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", text.lower())


# -- the real catalog -------------------------------------------------------------------------

def test_catalog_loads_with_unique_ids() -> None:
    assert SCENARIOS, "no scenario at all"
    ids = [s.id for s in SCENARIOS]
    assert len(ids) == len(set(ids))
    assert {s.profile for s in SCENARIOS} >= {"feed-polling"}


def test_every_implemented_profile_has_scenarios() -> None:
    for profile in IMPLEMENTED_PROFILES:
        assert select(SCENARIOS, profiles=[profile]), f"no scenario for {profile}"


def test_feed_polling_catalog_covers_the_issue() -> None:
    fp = {s.id for s in SCENARIOS if s.profile == "feed-polling"}
    assert len(fp) >= 15
    kinds = {s.kind for s in SCENARIOS if s.profile == "feed-polling"}
    assert all(k.startswith("feed-polling.") for k in kinds)


def test_every_kind_has_an_executor() -> None:
    from harness.runner import executors

    known = executors()
    missing = sorted({s.kind for s in SCENARIOS if s.profile in IMPLEMENTED_PROFILES} - set(known))
    assert missing == []


@pytest.mark.skipif(not SHARED.is_dir(), reason=f"{SHARED} (the shared seeds) is not beside the repo")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_source_seed_exists_and_clause_is_quoted_from_it(scenario: Scenario) -> None:
    source = _source_file(scenario.source.seed)
    assert source.is_file(), f"{scenario.id}: source {scenario.source.seed} not in {SHARED}"
    clause = " ".join(scenario.source.clause.split())
    assert len(clause) >= 20, f"{scenario.id}: clause too short to say anything: {clause!r}"
    assert clause.lower() != scenario.title.lower()
    words = _words(clause)
    assert len(words) >= 4, f"{scenario.id}: clause {clause!r}"
    # the clause quotes its source: some run of three words appears there verbatim (case and
    # punctuation aside); annotations in brackets and "..." elisions are allowed around it
    text = " " + " ".join(_words(source.read_text(encoding="utf-8"))) + " "
    windows = [" ".join(words[i:i + 3]) for i in range(len(words) - 2)]
    assert any(f" {w} " in text for w in windows), \
        f"{scenario.id}: no part of the clause is found in {scenario.source.seed}: {clause!r}"


def test_scenario_fields_are_populated() -> None:
    for s in SCENARIOS:
        assert s.path.is_file() and s.path.parent.name == s.profile
        assert s.requirement and s.title and isinstance(s.level, Level)
        assert isinstance(s.parameters, dict)


# -- malformed files --------------------------------------------------------------------------

GOOD: dict[str, Any] = {
    "id": "fp-test-good",
    "title": "A well formed test scenario",
    "profile": "feed-polling",
    "level": "MUST",
    "requirement": "testing",
    "source": {"seed": "002_e3bd9b87737f08a2.txt", "clause": "The feed answers 204 when it is empty."},
    "kind": "feed-polling.empty-feed",
    "needs": ["control"],
    "parameters": {"feed": "journey"},
    "tags": ["empty"],
}


def _write(root: Path, data: Any, name: str = "x.yaml", profile_dir: str = "feed-polling") -> Path:
    path = root / "scenarios" / profile_dir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def _variant(**changes: Any) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in GOOD.items()}
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def test_a_good_file_loads(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    s = load_file(path)
    assert s == Scenario(id="fp-test-good", title=GOOD["title"], profile="feed-polling",
                         level=Level.MUST, requirement="testing",
                         source=Source("002_e3bd9b87737f08a2.txt", GOOD["source"]["clause"]),
                         kind="feed-polling.empty-feed", path=path, needs=("control",),
                         parameters={"feed": "journey"}, tags=("empty",),
                         resources=("feed:journey",))  # the profile's default: the feeds it reads
    assert load_catalog(tmp_path / "scenarios") == [s]


@pytest.mark.parametrize(("data", "field", "detail"), [
    (_variant(level=None), "level", "required"),
    (_variant(level="MUSTNT"), "$.level", "MUSTNT"),
    (_variant(id="Bad ID!"), "$.id", "Bad ID!"),
    (_variant(id="nohyphen"), "$.id", "nohyphen"),
    (_variant(profile="feed-pollin"), "'profile'", "feed-pollin"),
    (_variant(kind="nodot"), "$.kind", "nodot"),
    (_variant(source={"seed": "999.txt", "clause": "A clause that is long enough."}), "$.source.seed", "999.txt"),
    (_variant(source={"seed": "002_e3bd9b87737f08a2.txt"}), "clause", "required"),
    (_variant(title="Hi"), "$.title", "short"),
    (_variant(surprise=1), "surprise", "Additional properties"),
    (_variant(tags=["Not A Tag"]), "$.tags[0]", "Not A Tag"),
    (_variant(needs=["magic"]), "$.needs[0]", "magic"),
    (["a", "list"], "$", "object"),
], ids=["missing-level", "bad-level", "bad-id", "id-without-hyphen", "unknown-profile", "bad-kind",
        "bad-seed", "missing-clause", "short-title", "unknown-field", "bad-tag", "bad-need", "not-a-mapping"])
def test_malformed_file_is_an_error_naming_file_and_field(tmp_path: Path, data: Any, field: str,
                                                          detail: str) -> None:
    path = _write(tmp_path, data)
    with pytest.raises(CatalogError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message
    assert field in message
    assert detail in message
    # and the whole catalog refuses to load
    with pytest.raises(CatalogError, match=re.escape(str(path))):
        load_catalog(tmp_path / "scenarios")


def test_catalog_error_is_a_config_error(tmp_path: Path) -> None:
    assert issubclass(CatalogError, ConfigError)  # so the command exits 2


def test_profile_and_directory_must_agree(tmp_path: Path) -> None:
    path = _write(tmp_path, _variant(profile="ws-progress"))
    with pytest.raises(CatalogError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message and "'profile'" in message
    assert "ws-progress" in message and "feed-polling/" in message


def test_yaml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, "id: fp-x\ntitle: [unclosed\nlevel: MUST\n")
    with pytest.raises(CatalogError) as info:
        load_file(path)
    message = str(info.value)
    assert str(path) in message and "not valid YAML" in message
    assert "line" in message


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, "")
    with pytest.raises(CatalogError, match=re.escape(str(path))):
        load_file(path)


def test_duplicate_id_names_both_files(tmp_path: Path) -> None:
    first = _write(tmp_path, GOOD, "a.yaml")
    second = _write(tmp_path, _variant(title="Another scenario, same id"), "b.yaml")
    with pytest.raises(CatalogError) as info:
        load_catalog(tmp_path / "scenarios")
    message = str(info.value)
    assert "'id'" in message and "fp-test-good" in message
    assert str(first) in message and str(second) in message


def test_duplicate_id_across_profiles(tmp_path: Path) -> None:
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, _variant(profile="ws-progress", kind="ws-progress.x", parameters={}), "b.yaml", "ws-progress")
    with pytest.raises(CatalogError, match="already used"):
        load_catalog(tmp_path / "scenarios")


def test_files_outside_profile_directories_are_ignored(tmp_path: Path) -> None:
    _write(tmp_path, GOOD)
    (tmp_path / "scenarios" / "README.yaml").write_text("not: a scenario\n")
    (tmp_path / "scenarios" / "feed-polling" / "notes.txt").write_text("::: not yaml")
    assert [s.id for s in load_catalog(tmp_path / "scenarios")] == ["fp-test-good"]


# -- selection --------------------------------------------------------------------------------

def _scenario(id: str, profile: str = "feed-polling", level: str = "MUST",
              tags: tuple[str, ...] = ()) -> Scenario:
    return Scenario(id=id, title=f"title of {id}", profile=profile, level=Level(level),
                    requirement="r", source=Source("protocol-notes.md", "a clause"),
                    kind=f"{profile}.k", path=Path(f"{id}.yaml"), tags=tags)


POOL = [
    _scenario("fp-a", tags=("batch", "schema")),
    _scenario("fp-b", level="SHOULD", tags=("batch",)),
    _scenario("fp-c", level="MAY"),
    _scenario("ws-a", profile="ws-progress", tags=("auth",)),
    _scenario("ws-b", profile="ws-progress", level="SHOULD", tags=("schema",)),
]


def _ids(chosen: list[Scenario]) -> list[str]:
    return [s.id for s in chosen]


def test_select_everything_by_default() -> None:
    assert _ids(select(POOL)) == [s.id for s in POOL]


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"profiles": ["feed-polling"]}, ["fp-a", "fp-b", "fp-c"]),
    ({"profiles": ["ws-progress", "feed-polling"]}, ["fp-a", "fp-b", "fp-c", "ws-a", "ws-b"]),
    ({"profiles": ["webhooks"]}, []),
    ({"patterns": ["fp-b"]}, ["fp-b"]),
    ({"patterns": ["ws-*"]}, ["ws-a", "ws-b"]),
    ({"patterns": ["*-a"]}, ["fp-a", "ws-a"]),
    ({"patterns": ["FP-*"]}, []),  # ids are case-sensitive
    ({"patterns": ["tag:schema"]}, ["fp-a", "ws-b"]),
    ({"patterns": ["batch"]}, ["fp-a", "fp-b"]),  # a bare tag
    ({"patterns": ["tag:fp-a"]}, []),  # tag: never matches an id
    ({"patterns": ["fp-c", "tag:auth"]}, ["fp-c", "ws-a"]),
    ({"level": Level.MUST}, ["fp-a", "ws-a"]),
    ({"level": Level.SHOULD}, ["fp-a", "fp-b", "ws-a", "ws-b"]),
    ({"level": Level.MAY}, ["fp-a", "fp-b", "fp-c", "ws-a", "ws-b"]),
    ({"profiles": ["ws-progress"], "patterns": ["tag:schema"], "level": Level.SHOULD}, ["ws-b"]),
    ({"profiles": ["ws-progress"], "patterns": ["tag:schema"], "level": Level.MUST}, []),
])
def test_select(kwargs: dict[str, Any], expected: list[str]) -> None:
    assert _ids(select(POOL, **kwargs)) == expected


def test_select_on_the_real_catalog() -> None:
    fp = select(SCENARIOS, profiles=["feed-polling"])
    assert fp and all(s.profile == "feed-polling" for s in fp)
    globbed = select(SCENARIOS, patterns=["fp-*"])
    assert _ids(globbed) == _ids(fp)
    one = select(SCENARIOS, patterns=["fp-discard-all"])
    assert _ids(one) == ["fp-discard-all"]
    tagged = select(SCENARIOS, patterns=["tag:discard-all"])
    assert "fp-discard-all" in _ids(tagged)
    assert all("discard-all" in s.tags for s in tagged)
    must = select(SCENARIOS, level=Level.MUST)
    assert all(s.level is Level.MUST for s in must)
