-- json_text: a property path read from a JSON document, as text (docs/semantics-notes.md,
-- "Value as text"). The path is SQL text, so each case is compiled in. `on_bigquery: reads NULL`
-- marks the documented BigQuery difference (a path to an object or array reads NULL there,
-- docs/warehouses.md): expected NULL on BigQuery, so fixing it shows up here.
{%- set cases = signals_batch_integration_tests.seed_cases(ref('json_text_cases')) %}
{%- if not cases %}
{{ signals_batch_integration_tests.no_cases(dbt.type_string(), dbt.type_string()) }}
{%- endif %}
{%- for case in cases %}
select '{{ case.case_name }}' as case_name,
       {{ signals_batch.json_text(signals_batch_integration_tests.as_json(signals_batch.string_literal(case.input)), case.path) }} as actual,
       {{ 'NULL' if target.type == 'bigquery' and case.on_bigquery == 'reads NULL'
          else signals_batch_integration_tests.text_or_null(case.expected) }} as expected
{{ 'union all' if not loop.last }}
{%- endfor %}
