-- date_part_text: the date parts of a timestamp property, as text (ISO weeks, Monday = 1).
{%- set cases = signals_batch_integration_tests.seed_cases(ref('date_part_cases')) %}
{%- if not cases %}
{{ signals_batch_integration_tests.no_cases(dbt.type_string(), dbt.type_string()) }}
{%- endif %}
{%- for case in cases %}
select '{{ case.case_name }}' as case_name,
       {{ signals_batch.date_part_text(signals_batch.string_literal(case.input), case.part) }} as actual,
       {{ signals_batch_integration_tests.text_or_null(case.expected) }} as expected
{{ 'union all' if not loop.last }}
{%- endfor %}
