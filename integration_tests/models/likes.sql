-- like: SQL LIKE with only % and _ special, case-sensitive, the pattern as data
-- (SEMANTICS.md section 3). Value and pattern are compiled in, as criteria values are.
{% call(case) signals_batch_integration_tests.each_case(ref('like_cases'), 'BOOLEAN', 'BOOLEAN') %}
       {{ signals_batch.like(signals_batch.string_literal(case.input), case.pattern) }} as actual,
       CAST({{ signals_batch.string_literal(case.expected) }} AS BOOLEAN) as expected
{% endcall %}
