{#- Literals: criteria values are data, never SQL. -#}

{% macro string_literal(value) -%}
  {{ return(adapter.dispatch('string_literal', 'signals_batch')(value)) }}
{%- endmacro %}

{#- Standard SQL strings: a quote is doubled and nothing else is special. -#}
{% macro default__string_literal(value) -%}
  '{{ value | string | replace("'", "''") }}'
{%- endmacro %}


{% macro date_literal(value) -%}
  {{ return(adapter.dispatch('date_literal', 'signals_batch')(value)) }}
{%- endmacro %}

{% macro default__date_literal(value) -%}
  DATE '{{ value.strftime("%Y-%m-%d") }}'
{%- endmacro %}


{% macro timestamp_literal(value) -%}
  {{ return(adapter.dispatch('timestamp_literal', 'signals_batch')(value)) }}
{%- endmacro %}

{% macro default__timestamp_literal(value) -%}
  CAST('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' AS {{ dbt.type_timestamp() }})
{%- endmacro %}


{% macro like(expr, pattern) -%}
  {{ return(adapter.dispatch('like', 'signals_batch')(expr, pattern)) }}
{%- endmacro %}

{#- Only % and _ are wildcards; DuckDB's LIKE has no escape character unless asked. -#}
{% macro default__like(expr, pattern) -%}
  {{ expr }} LIKE {{ signals_batch.string_literal(pattern) }}
{%- endmacro %}


{#- A column name from a definition (validated to [A-Za-z0-9_]); quoted so reserved words
    like `order` work. -#}
{% macro ident(name) -%}
  {{ return(adapter.dispatch('ident', 'signals_batch')(name)) }}
{%- endmacro %}

{% macro default__ident(name) -%}
  {{ return(adapter.quote(name)) }}
{%- endmacro %}
