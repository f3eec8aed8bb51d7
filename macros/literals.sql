{#- Literals: criteria values are data, never SQL. -#}

{% macro string_literal(value) -%}
  {{ return(adapter.dispatch('string_literal', 'signals_batch')(value)) }}
{%- endmacro %}

{#- Standard SQL strings: a quote is doubled and nothing else is special. -#}
{% macro default__string_literal(value) -%}
  '{{ value | string | replace("'", "''") }}'
{%- endmacro %}

{#- Snowflake: a backslash starts an escape sequence in a string literal, so it is doubled
    too. -#}
{% macro snowflake__string_literal(value) -%}
  '{{ value | string | replace("\\", "\\\\") | replace("'", "''") }}'
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
  CAST('{{ value.strftime("%Y-%m-%d %H:%M:%S.%f") }}' AS {{ signals_batch.sql_type('timestamp') }})
{%- endmacro %}


{% macro like(expr, pattern) -%}
  {{ return(adapter.dispatch('like', 'signals_batch')(expr, pattern)) }}
{%- endmacro %}

{#- Only % and _ are wildcards; DuckDB's LIKE has no escape character unless asked. -#}
{% macro default__like(expr, pattern) -%}
  {{ expr }} LIKE {{ signals_batch.string_literal(pattern) }}
{%- endmacro %}

{#- Snowflake: with the backslash as the explicit escape character and every backslash of
    the pattern escaped, only % and _ are special, whatever the account's default. -#}
{% macro snowflake__like(expr, pattern) -%}
  {{ expr }} LIKE {{ signals_batch.string_literal(pattern | replace("\\", "\\\\")) }} ESCAPE '\\'
{%- endmacro %}


{#- A column name from a definition (validated to [A-Za-z0-9_]); quoted so reserved words
    like `order` work. -#}
{% macro ident(name) -%}
  {{ return(adapter.dispatch('ident', 'signals_batch')(name)) }}
{%- endmacro %}

{% macro default__ident(name) -%}
  {{ return(adapter.quote(name)) }}
{%- endmacro %}

{#- Snowflake: upper case, as Snowflake stores unquoted names, so users query the columns
    without quotes (`select page_views_7d from ...`); still quoted, so reserved words work. -#}
{% macro snowflake__ident(name) -%}
  {{ return(adapter.quote(name | upper)) }}
{%- endmacro %}
