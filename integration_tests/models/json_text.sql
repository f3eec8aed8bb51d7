-- json_text: a property path read from a JSON document, as text (docs/semantics-notes.md,
-- "Value as text").
{% call(case) signals_batch_integration_tests.each_case(ref('json_text_cases'), dbt.type_string(), dbt.type_string()) %}
       {{ signals_batch.json_text(signals_batch_integration_tests.as_json(signals_batch.string_literal(case.input)), case.path) }} as actual,
       {{ signals_batch_integration_tests.text_or_null(case.expected) }} as expected
{% endcall %}
