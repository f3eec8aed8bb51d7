-- json_text: a property path read from a JSON document, as text (docs/semantics-notes.md,
-- "Value as text"). `on_bigquery: reads NULL` marks the documented BigQuery difference (a
-- path to an object or an array reads NULL there, docs/warehouses.md): expected NULL on
-- BigQuery, so fixing it shows up here.
{% call(case) signals_batch_integration_tests.each_case(ref('json_text_cases'), dbt.type_string(), dbt.type_string()) %}
       {{ signals_batch.json_text(signals_batch_integration_tests.as_json(signals_batch.string_literal(case.input)), case.path) }} as actual,
       {{ 'NULL' if target.type == 'bigquery' and case.on_bigquery == 'reads NULL'
          else signals_batch_integration_tests.text_or_null(case.expected) }} as expected
{% endcall %}
