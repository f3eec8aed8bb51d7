-- like: SQL LIKE with only % and _ special, case-sensitive, the pattern as data
-- (SEMANTICS.md section 3). Value and pattern are compiled in, as criteria values are.
{%- set cases = signals_batch_integration_tests.seed_cases(ref('like_cases')) %}
{%- if not cases %}
{{ signals_batch_integration_tests.no_cases('BOOLEAN', 'BOOLEAN') }}
{%- endif %}
{%- for case in cases %}
select '{{ case.case_name }}' as case_name,
       {{ signals_batch.like(signals_batch.string_literal(case.input), case.pattern) }} as actual,
       CAST({{ signals_batch.string_literal(case.expected) }} AS BOOLEAN) as expected
{{ 'union all' if not loop.last }}
{%- endfor %}
