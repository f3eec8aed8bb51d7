-- json_text: a property path read from a JSON document, as text (docs/semantics-notes.md,
-- "Value as text"). The path is SQL text, so each case is compiled in.
{%- set cases = signals_batch_integration_tests.seed_cases(ref('json_text_cases')) %}
{%- if not cases %}
{{ signals_batch_integration_tests.no_cases(dbt.type_string(), dbt.type_string()) }}
{%- endif %}
{%- for case in cases %}
select '{{ case.case_name }}' as case_name,
       {{ signals_batch.json_text(signals_batch_integration_tests.as_json(signals_batch.string_literal(case.input)), case.path) }} as actual,
       {{ signals_batch_integration_tests.text_or_null(case.expected) }} as expected
{{ 'union all' if not loop.last }}
{%- endfor %}
