-- string_literal: any text (quotes, backslashes, newlines, SQL) written as a literal reads
-- back as exactly that text: values are data, never SQL.
{%- set cases = signals_batch_integration_tests.seed_cases(ref('literal_cases')) %}
{%- if not cases %}
{{ signals_batch_integration_tests.no_cases(dbt.type_string(), dbt.type_string()) }}
{%- else %}
with written as (
{%- for case in cases %}
    select '{{ case.case_name }}' as case_name, {{ signals_batch.string_literal(case.input) }} as actual
    {{ 'union all' if not loop.last }}
{%- endfor %}
)

select written.case_name, written.actual, seed.input as expected
from written
join {{ ref('literal_cases') }} as seed on seed.case_name = written.case_name
{%- endif %}
