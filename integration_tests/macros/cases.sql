{#- Helpers of the integration tests (not part of the package). -#}

{#- The rows of a seed of cases, as dicts, for models that need a case's values while they
    compile (a JSON path, a LIKE pattern, a date part are SQL text, not data). Empty while
    dbt parses. -#}
{% macro seed_cases(relation) -%}
  {%- if not execute -%}{{ return([]) }}{%- endif -%}
  {%- set result = run_query("select * from " ~ relation ~ " order by case_name") -%}
  {%- set names = result.column_names | map('lower') | list -%}
  {%- set rows = [] -%}
  {%- for row in result.rows -%}
    {%- set case = {} -%}
    {%- for name in names -%}{%- do case.update({name: row[loop.index0]}) -%}{%- endfor -%}
    {%- do rows.append(case) -%}
  {%- endfor -%}
  {{ return(rows) }}
{%- endmacro %}

{#- A case's text as a SQL string literal, NULL for an empty CSV cell. -#}
{% macro text_or_null(value) -%}
  {{ return('NULL' if value is none else signals_batch.string_literal(value)) }}
{%- endmacro %}

{#- A text expression read as the warehouse's JSON (the events table's context / unstruct
    columns are JSON on DuckDB and BigQuery, VARIANT on Snowflake). -#}
{% macro as_json(expr) -%}
  {{ return(adapter.dispatch('as_json', 'signals_batch_integration_tests')(expr)) }}
{%- endmacro %}

{% macro default__as_json(expr) -%}
  CAST({{ expr }} AS JSON)
{%- endmacro %}

{% macro snowflake__as_json(expr) -%}
  PARSE_JSON({{ expr }})
{%- endmacro %}

{% macro bigquery__as_json(expr) -%}
  PARSE_JSON({{ expr }})
{%- endmacro %}

{#- One `select case_name, <caller's actual, expected>` per case of a seed, as a union; for
    macros whose arguments are SQL text (a path, a pattern, a date part), so each case is
    compiled in. The caller block gets the case (a dict of its columns). -#}
{% macro each_case(relation, actual_type, expected_type) -%}
  {%- set cases = signals_batch_integration_tests.seed_cases(relation) -%}
  {%- if not cases -%}
    {{ signals_batch_integration_tests.no_cases(actual_type, expected_type) }}
  {%- endif -%}
  {%- for case in cases %}
select '{{ case.case_name }}' as case_name,
       {{ caller(case) | trim }}
{{ 'union all' if not loop.last }}
  {%- endfor -%}
{%- endmacro %}

{#- A model with no case yet (dbt parsing), typed like one with cases. -#}
{% macro no_cases(actual_type, expected_type) -%}
  select CAST(NULL AS {{ dbt.type_string() }}) as case_name,
         CAST(NULL AS {{ actual_type }}) as actual, CAST(NULL AS {{ expected_type }}) as expected
  where 1 = 0
{%- endmacro %}
