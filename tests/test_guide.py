"""The guide encodes the school's document faithfully and a broken guide is refused with the key named."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipelines.guide import GuideError, guide, load_guide

ROOT = Path(__file__).resolve().parent.parent
SEED = (ROOT / "docs" / "source_guide.txt").read_text(encoding="utf-8")


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _seed_items() -> list[str]:
    """The numbered third-level requirements of the seed, in order: （1）…（n） under each indicator."""
    return [_squash(m) for m in re.findall(r"（\d）((?:(?!（\d）)[^\n])+)", SEED)]


def test_guide_has_seven_dimensions_ten_indicators_28_items():
    g = guide()
    assert [d.id for d in g.dimensions] == [1, 2, 3, 4, 5, 6, 7]
    assert [i.id for i in g.indicators] == ["1.1", "1.2", "2.1", "2.2", "3.1", "4.1", "5.1", "5.2", "6.1", "7.1"]
    assert len(g.items) == 28


def test_every_seed_requirement_is_an_item_verbatim_and_in_order():
    seed_items = _seed_items()
    assert len(seed_items) == 28
    assert [_squash(it.text) for it in guide().items] == seed_items


def test_dimension_names_follow_the_seed():
    for d in guide().dimensions:
        assert f"{d.id}. {d.name}" in SEED


@pytest.mark.parametrize(
    "activity, kind",
    [
        ("committee_meeting", "monthly"),
        ("general_meeting", "quarterly"),
        ("secretary_lecture", "annual_count"),
        ("theme_day", "monthly"),
        ("training", "hours"),
        ("life_meeting", "annual_count"),
        ("report_to_superior", "semester"),
        ("report_to_assembly", "annual_count"),
        ("democratic_review", "annual_count"),
    ],
)
def test_quantified_requirements_are_measures(activity, kind):
    found = [m for it in guide().items for m in it.measures if m.activity == activity]
    assert [m.kind for m in found] == [kind]


def test_counted_requirements_and_hours():
    measures = {m.id: m for it in guide().items for m in it.measures}
    assert measures["hours"].required == 32
    assert measures["talks"].kind == "annual_coverage" and measures["talks"].count == "members_talked"
    assert measures["member_reports"].count == "members_reported"
    assert measures["fee"].kind == "ratio"
    assert measures["dual_life"].kind == "self_assessed"


def test_applicability_by_branch_type():
    g = guide()
    assert g.item("4.1.1").applies_to == ("teacher",)
    assert g.item("4.1.2").applies_to == ("student",)
    assert set(g.item("2.1.1").parts) == {"teacher", "student"}
    assert "4.1.2" not in [i.id for i in g.items_for("teacher")]
    assert len(g.items_for("teacher")) == len(g.items_for("student")) == 27


def test_grades_and_synonyms():
    g = guide()
    assert [g.grade(s) for s in (95, 90, 89.9, 75, 60, 59.9, 0)] == ["优秀", "优秀", "良好", "良好", "一般", "较差", "较差"]
    assert g.lookup("branch_type", "教工") == "teacher"
    assert g.lookup("activity_type", "支委会") == "committee_meeting"
    assert g.lookup("activity_type", "打篮球") is None


def _broken(tmp_path, mutate) -> Path:
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    mutate(raw)
    p = tmp_path / "guide.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def test_broken_guide_names_the_key(tmp_path):
    def bad_activity(raw):
        raw["dimensions"][0]["indicators"][1]["items"][0]["measures"][0]["activity"] = "nonsense"

    with pytest.raises(GuideError, match=r"1\.2\.1.*committee.*nonsense"):
        load_guide(_broken(tmp_path, bad_activity))

    def missing_weight(raw):
        del raw["dimensions"][2]["weight"]

    with pytest.raises(GuideError, match=r"dimensions\.2\.weight"):
        load_guide(_broken(tmp_path, missing_weight))

    def huge_weight(raw):  # the marts add weighted scores as DECIMAL(18, 12): a weight is at most MAX_WEIGHT
        raw["dimensions"][0]["indicators"][0]["items"][0]["weight"] = 5000

    with pytest.raises(GuideError, match=r"dimensions\.0\.indicators\.0\.items\.0\.weight.*1000"):
        load_guide(_broken(tmp_path, huge_weight))

    def hours_without_requirement(raw):
        raw["dimensions"][1]["indicators"][0]["items"][2]["measures"][0].pop("required")

    with pytest.raises(GuideError, match="required"):
        load_guide(_broken(tmp_path, hours_without_requirement))


@pytest.mark.parametrize("key, value, what", [
    ("full_answer", "perfect", "unknown answer 'perfect'"),
    ("self_assessment_without_evidence", "perhaps", "unknown answer 'perhaps'"),
    ("catch_all_activity", "misc", "unknown activity type 'misc'"),
    ("example_activity", "party", "unknown activity type 'party'"),
])
def test_guide_meaning_keys_must_name_an_option(tmp_path, key, value, what):
    """Meaning is carried by explicit keys (never by list position), and each must name an existing option."""
    with pytest.raises(GuideError, match=f"{key}: {what}"):
        load_guide(_broken(tmp_path, lambda raw: raw.update({key: value})))


def test_guide_meaning_keys_do_not_follow_list_order(tmp_path):
    """Reordering the answers and activity types changes nothing the keys name."""
    def reorder(raw):
        raw["self_assessment"].reverse()
        raw["activity_types"].reverse()

    g = load_guide(_broken(tmp_path, reorder))
    assert g.answer(g.full_answer).name == "完成" and g.activity_name(g.catch_all_activity) == "其他"
    assert g.activity_name(g.example_activity) == "主题党日"


def test_missing_guide_file(tmp_path):
    with pytest.raises(GuideError, match="不存在"):
        load_guide(tmp_path / "nope.yaml")


def test_evidence_links_quote_the_seed_and_are_listed_in_the_docs():
    """Each evidence link rests on a sentence of the item's own text (checked at load), which is in the seed
    and quoted beside the link in docs/scoring.md."""
    docs = (ROOT / "docs" / "scoring.md").read_text(encoding="utf-8")
    links = [it for it in guide().items if it.evidence]
    assert {it.id for it in links} >= {"1.1.1", "2.1.1", "3.1.1", "5.2.2", "7.1.2"}
    for it in links:
        assert _squash(it.evidence.source) in _squash(SEED), it.id
        assert f"| {it.id} | “{it.evidence.source}” |" in docs, it.id


@pytest.mark.parametrize("change,where", [
    (lambda ev: ev.update(source="不在原文中的一句话"), "evidence.source"),
    (lambda ev: ev.update(activities=["no_such_type"]), "evidence.activities"),
    (lambda ev: ev.update(counts=["no_such_field"]), "evidence.counts"),
])
def test_a_broken_evidence_link_is_refused_naming_its_path(tmp_path, change, where):
    raw = yaml.safe_load((ROOT / "indicator_guide.yaml").read_text(encoding="utf-8"))
    item = raw["dimensions"][4]["indicators"][1]["items"][1]  # 5.2.2
    assert item["id"] == "5.2.2"
    change(item["evidence"])
    path = tmp_path / "guide.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(GuideError, match=re.escape(where)):
        load_guide(path)
