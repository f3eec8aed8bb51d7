-- date_part_text: the date parts of a timestamp property, as text (ISO weeks, Monday = 1).
{% call(case) signals_batch_integration_tests.each_case(ref('date_part_cases'), dbt.type_string(), dbt.type_string()) %}
       {{ signals_batch.date_part_text(signals_batch.string_literal(case.input), case.part) }} as actual,
       {{ signals_batch_integration_tests.text_or_null(case.expected) }} as expected
{% endcall %}
