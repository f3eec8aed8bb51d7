"""Definitions: every invalid form is rejected with a useful message; every valid form loads.

The invalid corpus lives in tests/invalid_definitions/: one problem per file, the file named
after it. A YAML file starts with `# expect: <part of the message>` and, when the problem is
in one attribute, `# attribute: <its name>`; a JSON file has the same lines (without `#`) in
a sidecar `<name>.expect`.
"""

from __future__ import annotations

import json
import os
import shutil
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from cli_helpers import make_project, run_cli, run_process

from signals_batch.compiler import compile_project
from signals_batch.definitions import DefinitionError, load_definitions, load_objects
from signals_batch.definitions.models import (
    AtomicProperty,
    CalculatedProperty,
    EntityProperty,
    EventProperty,
)
from signals_batch.errors import InvalidInput

CORPUS = Path(__file__).parent / "invalid_definitions"
SCAFFOLD_DEFINITIONS = (
    Path(__file__).parent.parent / "signals_batch" / "scaffold" / "definitions.yml"
)
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yml", ".yaml", ".json"))


@pytest.fixture(autouse=True)
def _no_outer_settings(monkeypatch):
    for name in list(os.environ):
        if name.startswith("SIGNALS_BATCH_"):
            monkeypatch.delenv(name)


def expectations(path: Path) -> dict[str, str]:
    """The `expect:` / `attribute:` header of a corpus file (or of its .expect sidecar)."""
    if path.suffix == ".json":
        lines = path.with_suffix(".expect").read_text().splitlines()
    else:
        lines = []
        for line in path.read_text().splitlines():
            if not line.startswith("#"):
                break
            lines.append(line.lstrip("#").strip())
    found = {}
    for line in lines:
        key, _, value = line.partition(":")
        if key.strip() in ("expect", "attribute"):
            found[key.strip()] = value.strip()
    assert "expect" in found, f"{path.name} has no expectation"
    return found


def group_names(path: Path) -> set[str]:
    """The group names written in the file, when it can be read at all."""
    try:
        data = (
            json.loads(path.read_text())
            if path.suffix == ".json"
            else yaml.safe_load(path.read_text())
        )
    except (ValueError, yaml.YAMLError):
        return set()
    items = data if isinstance(data, list) else [data]
    return {i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str)}


def test_corpus_is_complete():
    names = {p.stem for p in CORPUS_FILES}
    assert len(names) == len(CORPUS_FILES), "two corpus files share a name"
    for required in (
        "unknown_aggregation",
        "sum_without_property",
        "sub_day_period",
        "period_in_months",
        "bad_group_name",
        "bad_attribute_name",
        "attribute_named_like_key",
        "attribute_named_updated_at",
        "duplicate_attribute_names",
        "unknown_atomic_column",
        "bad_operator",
        "in_without_list",
        "like_with_number",
        "is_null_with_value",
        "mixed_list_types",
        "non_email_owner",
        "missing_owner",
        "unknown_field_typo",
        "time_since_without_time_unit",
        "time_unit_on_counter",
        "ttl_with_period",
        "list_type_for_counter",
        "unique_list_with_scalar_type",
        "category_count_not_dict",
        "date_part_on_non_timestamp",
        "bad_json_path",
        "bad_short_property",
        "unknown_builtin_key",
        "external_batch_without_fields",
        "external_batch_without_batch_source",
        "batch_with_fields",
        "duplicate_group_version",
        "event_specification_id",
        "yaml_syntax_error",
        "not_a_mapping",
        "negative_version",
    ):
        assert required in names
    assert sum(p.suffix == ".json" for p in CORPUS_FILES) >= 2


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_invalid_definition_is_rejected_with_context(path: Path):
    expected = expectations(path)
    with pytest.raises(InvalidInput) as caught:
        load_definitions(path)
    message = str(caught.value)
    assert str(path) in message
    assert expected["expect"] in message
    for name in group_names(path):
        assert f"group {name!r}" in message
    if "attribute" in expected:
        assert expected["attribute"] in message
    if isinstance(caught.value, DefinitionError):
        # One problem per corpus file: one line per problem, and no duplicated reports.
        assert len(caught.value.problems) == 1, message
        assert message.count("\n") == 1


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.name)
def test_invalid_definition_fails_validate_with_exit_2(path: Path, tmp_path: Path, capsys):
    project = make_project(tmp_path / "project")
    copy = project / "definitions" / path.name
    copy.parent.mkdir()
    shutil.copy(path, copy)
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 2
    assert result.out == ""
    assert result.err.startswith("error: invalid definitions")
    assert str(copy) in result.err
    assert expectations(path)["expect"] in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize(
    "name", ["yaml_syntax_error.yml", "unknown_field_typo.yml", "unknown_attribute_type.json"]
)
def test_invalid_definition_in_a_real_process(name: str, tmp_path: Path):
    project = make_project(tmp_path / "project", {name: (CORPUS / name).read_text()})
    result = run_process("validate", "-p", str(project))
    assert result.code == 2
    assert result.out == ""
    assert "Traceback" not in result.err
    assert expectations(CORPUS / name)["expect"] in result.err
    assert result.err.count("error:") == 1


# --------------------------------------------------------------------------- valid forms

SP = "com.snowplowanalytics.snowplow"
PAGE_VIEW = {"vendor": SP, "name": "page_view", "version": "1-0-0"}


def group(attributes, **extra):
    return {
        "name": "forms",
        "attribute_key": "domain_userid",
        "owner": "data@example.com",
        "attributes": attributes,
        **extra,
    }


def one(aggregation="last", type_="string", **extra):
    return {"name": "value", "type": type_, "aggregation": aggregation, **extra}


def test_scaffold_example_definitions_load_and_compile():
    definitions = load_definitions(SCAFFOLD_DEFINITIONS)
    assert [g.ident for g in definitions.groups] == ["ecommerce_user_v1", "session_summary_v1"]
    assert definitions.notices == []
    ecommerce = definitions.groups[0]
    assert ecommerce.key_name == "domain_userid"
    assert ecommerce.ttl == timedelta(days=365)
    by_name = {a.name: a for a in ecommerce.attributes}
    assert by_name["page_views_7d"].period_days == 7
    assert by_name["page_views_lifetime"].period_days is None
    assert isinstance(by_name["last_os"].property, EntityProperty)
    assert isinstance(by_name["revenue_30d"].property, EventProperty)
    compiled = compile_project(definitions.groups)
    assert any(p.name == "ecommerce_user_v1_attributes.sql" for p in compiled.files)


def test_every_property_form():
    calculated = [
        {"type": "calculated", "operation": op, "properties": ["se_value", "tr_total"]}
        for op in ("sum", "product", "min", "max")
    ]
    attributes = [
        one(property={"type": "atomic", "name": "geo_country"}),
        one(property="geo_country"),
        one(property="  page_urlpath  "),
        one(
            property={
                "type": "entity",
                "vendor": "com.acme",
                "name": "product",
                "major_version": 1,
                "path": "price",
                "index": 2,
            }
        ),
        one(
            property={
                "type": "entity",
                "vendor": "nl.basjes",
                "name": "yauaa_context",
                "major_version": 1,
                "path": "$.operatingSystemName",
            }
        ),
        one(
            property={
                "type": "event",
                "vendor": "com.acme",
                "name": "purchase",
                "major_version": 2,
                "path": "items[0].sku",
            }
        ),
        one(property="contexts_com_acme_product_1[0]:category.name"),
        one(property="contexts_com_acme_product_1:category"),
        one(property="contexts_com_acme_product_1[3]:items[1].price"),
        one(property="unstruct_event_com_acme_purchase_1:total"),
        one(
            property={
                "type": "calculated",
                "operation": "concat",
                "separator": "/",
                "properties": ["geo_country", "contexts_com_acme_product_1[0]:category"],
            }
        ),
        one(
            property={
                "type": "calculated",
                "operation": "coalesce",
                "properties": [
                    "user_id",
                    {"type": "atomic", "name": "domain_userid"},
                    "unstruct_event_com_acme_purchase_1:buyer",
                ],
            }
        ),
        *[one("max", "double", property=p) for p in calculated],
        one(
            "most_frequent",
            "int32",
            property={"type": "atomic", "name": "derived_tstamp", "date_part": "hour_of_day"},
        ),
    ]
    for i, attribute in enumerate(attributes):
        attribute["name"] = f"value_{i}"
    loaded = load_objects([group(attributes)]).groups[0]
    props = [a.property for a in loaded.attributes]

    assert props[0] == AtomicProperty(name="geo_country")
    assert props[1] == props[0]
    assert props[2] == AtomicProperty(name="page_urlpath")
    assert isinstance(props[3], EntityProperty) and props[3].index == 2
    assert props[4].path == "operatingSystemName"  # the leading `$.` is dropped
    assert props[4].index == 0
    assert isinstance(props[5], EventProperty) and props[5].path == "items[0].sku"
    short = props[6]
    assert isinstance(short, EntityProperty)
    assert (short.column, short.index, short.path) == (
        "contexts_com_acme_product_1",
        0,
        "category.name",
    )
    assert (props[7].index, props[7].path) == (0, "category")
    assert (props[8].index, props[8].path) == (3, "items[1].price")
    assert isinstance(props[9], EventProperty)
    assert (props[9].column, props[9].path) == ("unstruct_event_com_acme_purchase_1", "total")
    assert isinstance(props[10], CalculatedProperty) and props[10].separator == "/"
    assert [type(p) for p in props[10].properties] == [AtomicProperty, EntityProperty]
    assert [type(p) for p in props[11].properties] == [
        AtomicProperty,
        AtomicProperty,
        EventProperty,
    ]
    assert [p.operation for p in props[12:16]] == ["sum", "product", "min", "max"]
    assert props[16].date_part == "hour_of_day"
    # Every form compiles.
    assert compile_project([loaded]).files


def test_criteria_forms_and_value_typing():
    criteria = {
        "all": [
            {"property": "geo_country", "operator": "=", "value": "GB"},
            {"property": "se_value", "operator": ">=", "value": 10},
            {"property": "se_value", "operator": "<", "value": 99.5},
            {"property": "unstruct_event_com_acme_purchase_1:gift", "operator": "=", "value": True},
            {"property": "page_urlpath", "operator": "like", "value": "/shop/%"},
            {"property": "page_urlpath", "operator": "not like", "value": "%it's%"},
            {"property": "geo_country", "operator": "in", "value": ["GB", "FR"]},
            {"property": "page_urlport", "operator": "not in", "value": [80, 443]},
            {"property": "user_id", "operator": "is not null"},
        ],
        "any": [
            {"property": "mkt_source", "operator": "is null"},
            {"property": "mkt_source", "operator": "!=", "value": "'; drop table x; --"},
        ],
    }
    attribute = {"name": "n", "type": "int64", "aggregation": "counter", "criteria": criteria}
    loaded = load_objects([group([attribute])]).groups[0].attributes[0].criteria
    values = [c.value for c in loaded.all]
    assert values == [
        "GB",
        10,
        99.5,
        True,
        "/shop/%",
        "%it's%",
        ["GB", "FR"],
        [80, 443],
        None,
    ]
    assert type(values[1]) is int and type(values[3]) is bool
    assert [c.operator for c in loaded.any] == ["is null", "!="]
    assert isinstance(loaded.all[3].property, EventProperty)
    # Values are data: they compile (into literals), whatever quotes they hold.
    assert compile_project(load_objects([group([attribute])]).groups).files


@pytest.mark.parametrize(
    "period, days",
    [("P7D", 7), ("P2W", 14), ("PT48H", 2), (604800, 7), ("P1D", 1), ("P365D", 365), (None, None)],
)
def test_period_forms(period, days):
    attribute = {"name": "views", "type": "int64", "aggregation": "counter", "events": [PAGE_VIEW]}
    if period is not None:
        attribute["period"] = period
    loaded = load_objects([group([attribute])]).groups[0].attributes[0]
    assert loaded.period_days == days


def test_custom_attribute_key_with_property():
    defs = load_objects(
        [
            group(
                [one(property="geo_country")],
                attribute_key={
                    "name": "customer_id",
                    "property": "contexts_com_acme_customer_1[0]:id",
                },
            ),
            group(
                [one(property="geo_country")],
                name="by_login",
                attribute_key={"property": {"type": "atomic", "name": "user_id"}},
            ),
        ]
    )
    by_login, forms = defs.groups
    assert forms.key_name == "customer_id"
    assert isinstance(forms.attribute_key.property, EntityProperty)
    assert by_login.key_name == "user_id"  # named after its atomic column
    assert compile_project(defs.groups).files


@pytest.mark.parametrize(
    "key, name",
    [
        ("domain_userid", "domain_userid"),
        ("user", "domain_userid"),
        ("session", "domain_sessionid"),
        ({"name": "network_userid"}, "network_userid"),
        ({"key": "user_id"}, "user_id"),
    ],
)
def test_builtin_keys_and_sdk_aliases(key, name):
    assert (
        load_objects([group([one(property="geo_country")], attribute_key=key)]).groups[0].key_name
        == name
    )


def test_sdk_style_dicts():
    """The SDK's model_dump(): no `type`, `offline`, `is_published`, `online`, key objects."""
    sdk_key = {"name": "domain_userid", "key": "domain_userid", "is_published": False}
    batch = {
        "name": "sdk_batch",
        "version": 3,
        "attribute_key": sdk_key,
        "owner": "data@example.com",
        "online": True,
        "offline": True,
        "is_published": True,
        "refresh_rate": "P1D",
        "attributes": [
            {"name": "views", "type": "int64", "aggregation": "counter", "events": [PAGE_VIEW]}
        ],
    }
    stream = {**batch, "name": "sdk_stream", "offline": False}
    external = {
        "name": "sdk_external",
        "attribute_key": {"name": "user_id"},
        "owner": "data@example.com",
        "offline": True,
        "batch_source": {
            "name": "crm_users",
            "database": "analytics",
            "schema": "crm",
            "table": "users",
            "timestamp_field": "changed_at",
        },
        "fields": [{"name": "lifetime_value", "type": "double", "description": "LTV"}],
    }
    defs = load_objects([batch, stream, external])
    kinds = {g.name: g.type for g in defs.groups}
    assert kinds == {"sdk_batch": "batch", "sdk_stream": "stream", "sdk_external": "external_batch"}
    sdk_batch = next(g for g in defs.groups if g.name == "sdk_batch")
    assert sdk_batch.online is True and sdk_batch.version == 3
    assert [g.name for g in defs.batch_groups] == ["sdk_batch"]
    assert [g.name for g in defs.external_groups] == ["sdk_external"]
    assert defs.notices == [
        "group sdk_stream_v3 is a stream group: skipped (Signals computes it in stream)"
    ]


def test_external_batch_group_is_not_compiled():
    external = {
        "name": "crm_user",
        "type": "external_batch",
        "attribute_key": "user_id",
        "owner": "data@example.com",
        "batch_source": {
            "name": "crm_users",
            "schema": "crm",
            "table": "users",
            "timestamp_field": "changed_at",
        },
        "fields": [{"name": "segment", "type": "string"}, {"name": "ltv", "type": "double"}],
    }
    defs = load_objects([external, group([one(property="geo_country")])])
    crm = defs.external_groups[0]
    assert crm.batch_source.schema_ == "crm"
    assert [f.name for f in crm.fields] == ["segment", "ltv"]
    compiled = compile_project(defs.groups)
    assert not any("crm_user" in str(p) for p in compiled.files)


def test_stream_group_is_skipped_with_a_notice(tmp_path: Path, capsys):
    stream = group([one(property="geo_country")], name="live", type="stream")
    batch = group([one(property="geo_country")])
    project = make_project(tmp_path / "p", {"groups.yml": yaml.safe_dump([stream, batch])})
    defs = load_definitions(project / "definitions")
    assert [g.name for g in defs.batch_groups] == ["forms"]
    assert defs.notices == [
        "group live_v1 is a stream group: skipped (Signals computes it in stream)"
    ]
    result = run_cli(capsys, "validate", "-p", str(project))
    assert result.code == 0
    assert "live_v1 is a stream group: skipped" in result.err
    quiet = run_cli(capsys, "-q", "validate", "-p", str(project))
    assert quiet.code == 0 and quiet.err == ""


def test_python_module_definitions(tmp_path: Path):
    module = tmp_path / "groups.py"
    module.write_text(
        textwrap.dedent(
            """
            VIEWS = {"name": "page_view_count", "type": "int64", "aggregation": "counter"}

            def make(name):
                return {"name": name, "attribute_key": "domain_userid",
                        "owner": "data@example.com", "attributes": [VIEWS]}

            attribute_groups = [make("from_module"), make("second")]
            """
        )
    )
    defs = load_definitions(module)
    assert [g.name for g in defs.groups] == ["from_module", "second"]


def test_python_module_that_fails(tmp_path: Path):
    module = tmp_path / "broken.py"
    module.write_text("attribute_groups = [undefined_name]\n")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(module)
    assert str(module) in str(caught.value)
    assert "NameError" in str(caught.value)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("attribute_groups = 5\n", "attribute_groups must be a list of groups, not int"),
        ("import sys\nsys.exit(3)\n", "cannot run the module: SystemExit: 3"),
    ],
)
def test_python_module_that_exits_or_holds_no_list_is_invalid_input(
        tmp_path: Path, source: str, expected: str):
    module = tmp_path / "groups.py"
    module.write_text(source)
    with pytest.raises(DefinitionError) as caught:
        load_definitions(module)
    assert f"{module}: {expected}" in str(caught.value)


def test_hidden_files_of_a_folder_are_left_out_and_a_broken_link_is_named(tmp_path: Path):
    folder = tmp_path / "defs"
    (folder / ".git").mkdir(parents=True)
    (folder / "top.yml").write_text(yaml.safe_dump(group([one(property="geo_country")])))
    (folder / ".git" / "old.yml").write_text("not: [valid")
    (folder / ".#top.yml").symlink_to("me@host.1:1700000000")  # an Emacs lock file
    assert [g.name for g in load_definitions(folder).groups] == ["forms"]
    (folder / "gone.yml").symlink_to(tmp_path / "nowhere.yml")
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder)
    assert f"{folder / 'gone.yml'}: cannot read: No such file or directory" in str(caught.value)


def test_folder_with_nested_files(tmp_path: Path):
    folder = tmp_path / "defs"
    (folder / "team_a" / "deeper").mkdir(parents=True)
    (folder / "top.yml").write_text(yaml.safe_dump(group([one(property="geo_country")])))
    (folder / "team_a" / "b.json").write_text(
        json.dumps(group([one(property="geo_city")], name="from_json"))
    )
    (folder / "team_a" / "deeper" / "c.yaml").write_text(
        yaml.safe_dump({"attribute_groups": [group([one(property="geo_region")], name="wrapped")]})
    )
    (folder / "team_a" / "empty.yml").write_text("# nothing here yet\n")
    (folder / "README.md").write_text("not a definition")
    defs = load_definitions(folder)
    assert [g.name for g in defs.groups] == ["forms", "from_json", "wrapped"]


def test_every_problem_of_every_file_is_reported(tmp_path: Path):
    folder = tmp_path / "defs"
    folder.mkdir()
    for name in ("yaml_syntax_error.yml", "sum_without_property.yml", "json_syntax_error.json"):
        shutil.copy(CORPUS / name, folder / name)
    two = group(
        [
            {"name": "a", "type": "int64", "aggregation": "sum"},
            {"name": "b", "type": "int64", "aggregation": "median", "property": "se_value"},
        ]
    )
    (folder / "two.yml").write_text(yaml.safe_dump(two))
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder)
    problems = caught.value.problems
    assert {Path(p.source).name for p in problems} == {
        "yaml_syntax_error.yml",
        "sum_without_property.yml",
        "json_syntax_error.json",
        "two.yml",
    }
    assert {p.attribute for p in problems if Path(p.source).name == "two.yml"} == {"a", "b"}
    assert str(caught.value).startswith(f"invalid definitions ({len(problems)} problems):")


def test_names_used_twice_are_reported_with_the_group_s_other_problems(tmp_path: Path):
    bad = group([one(property="geo_country"), one(property="geo_city")])
    bad["attributes"][1]["name"] = bad["attributes"][0]["name"]
    bad["owner"] = "not-an-email"
    path = tmp_path / "g.yml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(DefinitionError) as caught:
        load_definitions(path)
    messages = sorted(p.message for p in caught.value.problems)
    assert len(messages) == 2, messages
    assert any("is not an email address" in m for m in messages)
    assert any(f"names used twice in the group: {bad['attributes'][0]['name']}" in m
               for m in messages)


def test_same_group_version_in_two_files_names_both(tmp_path: Path):
    folder = tmp_path / "defs"
    folder.mkdir()
    (folder / "a.yml").write_text(yaml.safe_dump(group([one(property="geo_country")])))
    (folder / "b.yml").write_text(yaml.safe_dump(group([one(property="geo_city")])))
    with pytest.raises(DefinitionError) as caught:
        load_definitions(folder)
    message = str(caught.value)
    assert str(folder / "a.yml") in message and str(folder / "b.yml") in message
    assert "version 1 is defined twice" in message
    # A new version of the same group is fine.
    (folder / "b.yml").write_text(yaml.safe_dump(group([one(property="geo_city")], version=2)))
    assert [g.ident for g in load_definitions(folder).groups] == ["forms_v1", "forms_v2"]


def test_missing_definitions_path(tmp_path: Path):
    with pytest.raises(InvalidInput, match="definitions not found"):
        load_definitions(tmp_path / "nowhere")


@pytest.mark.parametrize(
    "type_, default",
    [
        ("int64", 0),
        ("double", 1.5),
        ("double", 2),
        ("bool", False),
        ("string", "none"),
        ("string", 0),
        ("timestamp", "2025-01-01T00:00:00Z"),
        ("string_list", ["nothing"]),
        ("dict", {"none": 0}),
    ],
)
def test_default_values_that_fit(type_, default):
    aggregation = {"string_list": "unique_list", "dict": "category_count"}.get(type_, "last")
    attribute = one(aggregation, type_, property="se_label", default_value=default)
    assert load_objects([group([attribute])]).groups[0].attributes[0].default_value == default


@pytest.mark.parametrize(
    "type_, default",
    [("int64", "abc"), ("int64", True), ("bool", "yes"), ("timestamp", "soon"), ("dict", [1])],
)
def test_default_values_that_do_not_fit(type_, default):
    aggregation = {"dict": "category_count"}.get(type_, "last")
    attribute = one(aggregation, type_, property="se_label", default_value=default)
    with pytest.raises(DefinitionError, match="default_value"):
        load_objects([group([attribute])])


# --------------------------------------------------------------------------- the SDK


def test_sdk_batch_attribute_group_loads_as_is():
    sdk = pytest.importorskip("snowplow_signals")
    page_view = sdk.Event(vendor=SP, name="page_view", version="1-0-0")
    purchase = sdk.Event(vendor="com.acme", name="purchase")
    sdk_group = sdk.BatchAttributeGroup(
        name="sdk_user",
        version=2,
        attribute_key=sdk.domain_userid,
        owner="data@example.com",
        ttl=timedelta(days=90),
        attributes=[
            sdk.Attribute(
                name="views_7d",
                type="int64",
                aggregation="counter",
                events=[page_view],
                period=timedelta(days=7),
            ),
            sdk.Attribute(
                name="last_os",
                type="string",
                aggregation="last",
                events=[page_view],
                property=sdk.EntityProperty(
                    vendor="nl.basjes",
                    name="yauaa_context",
                    major_version=1,
                    path="operatingSystemName",
                ),
            ),
            sdk.Attribute(
                name="gb_views_2w",
                type="int64",
                aggregation="counter",
                events=[page_view],
                period=timedelta(weeks=2),
                criteria=sdk.Criteria(
                    all=[
                        sdk.Criterion(
                            property=sdk.AtomicProperty(name="geo_country"),
                            operator="=",
                            value="GB",
                        )
                    ]
                ),
            ),
            sdk.Attribute(
                name="revenue",
                type="double",
                aggregation="sum",
                events=[purchase],
                property=sdk.EventProperty(
                    vendor="com.acme", name="purchase", major_version=1, path="total"
                ),
            ),
            sdk.Attribute(
                name="place",
                type="string",
                aggregation="last",
                events=[page_view],
                property=sdk.CalculatedProperty(
                    operation="concat",
                    separator="/",
                    properties=[
                        sdk.AtomicProperty(name="geo_country"),
                        sdk.AtomicProperty(name="geo_city"),
                    ],
                ),
            ),
        ],
    )
    defs = load_objects([sdk_group])
    loaded = defs.groups[0]
    assert (loaded.ident, loaded.type, loaded.key_name) == ("sdk_user_v2", "batch", "domain_userid")
    assert loaded.ttl == timedelta(days=90)
    assert [a.name for a in loaded.attributes] == [a.name for a in sdk_group.attributes]
    for ours, theirs in zip(loaded.attributes, sdk_group.attributes, strict=True):
        assert (ours.type, ours.aggregation, ours.period) == (
            theirs.type,
            theirs.aggregation,
            theirs.period,
        )
        assert [(e.vendor, e.name, e.version) for e in ours.events] == [
            (e.vendor, e.name, e.version) for e in theirs.events
        ]
    by_name = {a.name: a for a in loaded.attributes}
    assert by_name["views_7d"].period_days == 7
    assert by_name["gb_views_2w"].period_days == 14
    assert by_name["gb_views_2w"].criteria.all[0].value == "GB"
    assert by_name["last_os"].property.vendor == "nl.basjes"
    assert by_name["revenue"].property.path == "total"
    assert [p.name for p in by_name["place"].property.properties] == ["geo_country", "geo_city"]
    assert compile_project(defs.groups).files


def test_sdk_external_and_stream_groups():
    sdk = pytest.importorskip("snowplow_signals")
    external = sdk.ExternalBatchAttributeGroup(
        name="crm",
        attribute_key=sdk.user_id,
        owner="data@example.com",
        batch_source=sdk.BatchSource(
            name="crm_users",
            database="analytics",
            schema="crm",
            table="users",
            timestamp_field="changed_at",
        ),
        fields=[sdk.Field(name="segment", type="string")],
    )
    stream = sdk.StreamAttributeGroup(
        name="live",
        attribute_key=sdk.domain_userid,
        owner="data@example.com",
        attributes=[sdk.Attribute(name="views", type="int64", aggregation="counter", events=[])],
    )
    defs = load_objects([external, stream])
    assert {g.name: g.type for g in defs.groups} == {"crm": "external_batch", "live": "stream"}
    assert defs.groups[0].batch_source.table == "users"
    assert defs.notices and "live_v1" in defs.notices[0]
