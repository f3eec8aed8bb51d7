-- cast_text to int types: rounded to 9 decimals, then half away from zero; out of range or
-- not a number is NULL; unix_timestamp from a number or a timestamp (docs/semantics-notes.md,
-- "Casts to the declared type").
{% call(case) signals_batch_integration_tests.each_case(ref('cast_cases'), 'BIGINT', 'BIGINT') %}
       CAST({{ signals_batch.cast_text(signals_batch.string_literal(case.input), case.type_name) }} AS BIGINT) as actual,
       CAST({{ signals_batch_integration_tests.text_or_null(case.expected) }} AS BIGINT) as expected
{% endcall %}
