{#- Reading event values: every property becomes text first, then a number, bool or
    timestamp where an aggregation or criterion needs one (docs/semantics-notes.md). -#}

{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text', 'signals_batch')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
  json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}

{#- A context / unstruct column may be JSON, VARCHAR holding JSON, or LIST/STRUCT from
    Parquet: a cast to JSON reads all three the same way. -#}
{% macro duckdb__json_text(column, path) -%}
  json_extract_string(CAST({{ column }} AS JSON), '{{ path }}')
{%- endmacro %}


{% macro as_text(expr) -%}
  {{ return(adapter.dispatch('as_text', 'signals_batch')(expr)) }}
{%- endmacro %}

{% macro default__as_text(expr) -%}
  CAST({{ expr }} AS {{ dbt.type_string() }})
{%- endmacro %}


{% macro to_number(expr) -%}
  {{ return(adapter.dispatch('to_number', 'signals_batch')(expr)) }}
{%- endmacro %}

{% macro default__to_number(expr) -%}
  TRY_CAST({{ expr }} AS DOUBLE)
{%- endmacro %}

{#- Plain decimal text only: DuckDB's cast also reads NaN, infinities and `1_000`, which
    other warehouses do not (docs/semantics-notes.md, "Is a number"). -#}
{% macro duckdb__to_number(expr) -%}
  CASE WHEN isfinite(TRY_CAST({{ expr }} AS DOUBLE)) AND NOT contains(CAST({{ expr }} AS VARCHAR), '_')
       THEN TRY_CAST({{ expr }} AS DOUBLE) END
{%- endmacro %}


{% macro to_bool(expr) -%}
  {{ return(adapter.dispatch('to_bool', 'signals_batch')(expr)) }}
{%- endmacro %}

{% macro default__to_bool(expr) -%}
  CASE lower({{ expr }}) WHEN 'true' THEN TRUE WHEN 'false' THEN FALSE END
{%- endmacro %}


{% macro to_timestamp(expr) -%}
  {{ return(adapter.dispatch('to_timestamp', 'signals_batch')(expr)) }}
{%- endmacro %}

{% macro default__to_timestamp(expr) -%}
  TRY_CAST({{ expr }} AS {{ dbt.type_timestamp() }})
{%- endmacro %}

{#- Through TIMESTAMPTZ so an offset in the text is applied (the session runs in UTC). -#}
{% macro duckdb__to_timestamp(expr) -%}
  CAST(TRY_CAST({{ expr }} AS TIMESTAMPTZ) AS TIMESTAMP)
{%- endmacro %}


{#- date_part: read the value as a timestamp, then map it (as text). -#}
{% macro date_part_text(expr, part) -%}
  {{ return(adapter.dispatch('date_part_text', 'signals_batch')(expr, part)) }}
{%- endmacro %}

{% macro default__date_part_text(expr, part) -%}
  {%- set ts = signals_batch.to_timestamp(expr) -%}
  {%- if part == 'hour_of_day' -%} CAST(hour({{ ts }}) AS VARCHAR)
  {%- elif part == 'day_of_week' -%} CAST(isodow({{ ts }}) AS VARCHAR)
  {%- elif part == 'month_of_year' -%} CAST(month({{ ts }}) AS VARCHAR)
  {%- elif part == 'active_day' -%} CAST(CAST({{ ts }} AS DATE) AS VARCHAR)
  {%- elif part == 'active_week' -%} CAST(CAST(date_trunc('week', {{ ts }}) AS DATE) AS VARCHAR)
  {%- elif part == 'active_month' -%} CAST(CAST(date_trunc('month', {{ ts }}) AS DATE) AS VARCHAR)
  {%- else -%} {{ exceptions.raise_compiler_error("unknown date_part " ~ part) }}
  {%- endif -%}
{%- endmacro %}


{#- Calculated properties over already-extracted text columns. -#}
{% macro concat_non_null(columns, separator) -%}
  {{ return(adapter.dispatch('concat_non_null', 'signals_batch')(columns, separator)) }}
{%- endmacro %}

{% macro default__concat_non_null(columns, separator) -%}
  CASE WHEN coalesce({{ columns | join(', ') }}) IS NOT NULL
       THEN concat_ws({{ signals_batch.string_literal(separator) }}, {{ columns | join(', ') }}) END
{%- endmacro %}


{% macro least_non_null(columns) -%}
  {{ return(adapter.dispatch('least_non_null', 'signals_batch')(columns)) }}
{%- endmacro %}

{#- DuckDB's least/greatest skip NULLs already. -#}
{% macro default__least_non_null(columns) -%}
  least({{ columns | join(', ') }})
{%- endmacro %}


{% macro greatest_non_null(columns) -%}
  {{ return(adapter.dispatch('greatest_non_null', 'signals_batch')(columns)) }}
{%- endmacro %}

{% macro default__greatest_non_null(columns) -%}
  greatest({{ columns | join(', ') }})
{%- endmacro %}


{#- Output casts to the attribute's declared type. -#}
{% macro sql_type(type_name) -%}
  {{ return(adapter.dispatch('sql_type', 'signals_batch')(type_name)) }}
{%- endmacro %}

{% macro default__sql_type(type_name) -%}
  {%- set scalar = {
      'string': 'VARCHAR', 'bytes': 'VARCHAR', 'int32': 'INTEGER', 'int64': 'BIGINT',
      'unix_timestamp': 'BIGINT', 'float': 'FLOAT', 'double': 'DOUBLE', 'bool': 'BOOLEAN',
      'timestamp': 'TIMESTAMP', 'dict': 'JSON'} -%}
  {%- if type_name.endswith('_list') -%}
    {{ scalar[type_name[:-5]] }}[]
  {%- else -%}
    {{ scalar[type_name] }}
  {%- endif -%}
{%- endmacro %}


{#- A text value cast to a scalar type. -#}
{% macro cast_text(expr, type_name) -%}
  {{ return(adapter.dispatch('cast_text', 'signals_batch')(expr, type_name)) }}
{%- endmacro %}

{% macro default__cast_text(expr, type_name) -%}
  {%- if type_name in ('string', 'bytes') -%} {{ expr }}
  {%- elif type_name == 'bool' -%} {{ signals_batch.to_bool(expr) }}
  {%- elif type_name == 'timestamp' -%} {{ signals_batch.to_timestamp(expr) }}
  {%- elif type_name == 'unix_timestamp' -%}
    coalesce(TRY_CAST({{ signals_batch.to_number(expr) }} AS BIGINT),
             TRY_CAST(floor(epoch({{ signals_batch.to_timestamp(expr) }})) AS BIGINT))
  {%- else -%} {{ signals_batch.cast_number(signals_batch.to_number(expr), type_name) }}
  {%- endif -%}
{%- endmacro %}


{#- A number cast to a numeric type. Int types round half away from zero after rounding to
    9 decimals, so a float sum such as 166.49999999999997 counts as the 166.5 it means. -#}
{% macro cast_number(expr, type_name) -%}
  {{ return(adapter.dispatch('cast_number', 'signals_batch')(expr, type_name)) }}
{%- endmacro %}

{% macro default__cast_number(expr, type_name) -%}
  {%- if type_name in ('int32', 'int64', 'unix_timestamp') -%}
    {#- round() goes half away from zero; a plain cast would go half to even -#}
    TRY_CAST(round(round({{ expr }}, 9)) AS {{ signals_batch.sql_type(type_name) }})
  {%- else -%}
    TRY_CAST({{ expr }} AS {{ signals_batch.sql_type(type_name) }})
  {%- endif -%}
{%- endmacro %}
