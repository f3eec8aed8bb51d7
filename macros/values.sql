{#- Reading event values: every property becomes text first, then a number, bool or
    timestamp where an aggregation or criterion needs one (docs/semantics-notes.md). -#}

{% macro json_text(column, path) -%}
  {{ return(adapter.dispatch('json_text', 'signals_batch')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
  json_extract_string({{ column }}, '{{ path }}')
{%- endmacro %}

{#- A context / unstruct column may be JSON, VARCHAR holding JSON, or LIST/STRUCT from
    Parquet: a cast to JSON reads all three the same way. Text that is not JSON (a loader's
    empty string, a truncated row) reads as NULL, like a missing context, instead of failing
    every run while the row is among the new events. -#}
{% macro duckdb__json_text(column, path) -%}
  json_extract_string(TRY_CAST({{ column }} AS JSON), '{{ path }}')
{%- endmacro %}

{#- Snowflake: VARIANT columns, read with GET_PATH (the path without its leading `$.`). The
    cast to text unquotes strings and makes a JSON null NULL. -#}
{% macro snowflake__json_text(column, path) -%}
  {%- set snowflake_path = path[1:] if path.startswith('$') else path -%}
  {%- set snowflake_path = snowflake_path[1:] if snowflake_path.startswith('.') else snowflake_path -%}
  CAST(GET_PATH({{ column }}, '{{ snowflake_path }}') AS VARCHAR)
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

{#- Snowflake: TRY_TO_DOUBLE also reads NaN and infinities, and needs text (blanks cut off
    first: TRIM alone cuts only spaces). -#}
{% macro snowflake__to_number(expr) -%}
  CASE WHEN REGEXP_LIKE(CAST({{ expr }} AS VARCHAR), '{{ signals_batch.number_pattern() }}')
       THEN TRY_TO_DOUBLE(REGEXP_REPLACE(CAST({{ expr }} AS VARCHAR), '^[[:space:]]+|[[:space:]]+$', '')) END
{%- endmacro %}


{#- Plain decimal text, optionally signed, optional exponent, surrounding blanks
    (docs/semantics-notes.md, "Is a number"). No backslashes: it is spliced into string
    literals of dialects that read them differently. -#}
{% macro number_pattern() -%}
  [[:space:]]*[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?[[:space:]]*
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
  TRY_CAST({{ expr }} AS {{ signals_batch.sql_type('timestamp') }})
{%- endmacro %}

{#- Through TIMESTAMPTZ so an offset in the text is applied (the session runs in UTC). Only
    the text the notes call a timestamp, as on Snowflake: DuckDB's cast alone also reads
    `2025-1-2`, time zone names and abbreviations (`Europe/Paris`, `PST`). -#}
{% macro duckdb__to_timestamp(expr) -%}
  {%- set text = 'trim(CAST(' ~ expr ~ ' AS VARCHAR))' -%}
  {%- set stamp = '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?' -%}
  {%- set offset = '([[:space:]]*(Z|[+-][0-9]{2}(:?[0-9]{2})?))?' -%}
  CASE WHEN regexp_full_match({{ text }}, '{{ stamp ~ offset }}')
       THEN CAST(TRY_CAST({{ text }} AS TIMESTAMPTZ) AS TIMESTAMP) END
{%- endmacro %}

{#- Snowflake: only `YYYY-MM-DD[( |T)HH:MI[:SS[.fraction]]][offset]` text is a timestamp
    (TRY_CAST alone would also read epoch numbers and other formats). Text with an offset is
    converted to UTC; text without one is UTC already (never the session's time zone). -#}
{% macro snowflake__to_timestamp(expr) -%}
  {%- set text = 'TRIM(CAST(' ~ expr ~ ' AS VARCHAR))' -%}
  {%- set stamp = '[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]{1,9})?)?)?' -%}
  {%- set offset = '[[:space:]]*(Z|[+-][0-9]{2}(:?[0-9]{2})?)' -%}
  CASE WHEN REGEXP_LIKE({{ text }}, '{{ stamp }}')
       THEN TRY_CAST({{ text }} AS TIMESTAMP_NTZ)
       WHEN REGEXP_LIKE({{ text }}, '{{ stamp ~ offset }}')
       THEN CAST(CONVERT_TIMEZONE('UTC', TRY_CAST({{ text }} AS TIMESTAMP_TZ)) AS TIMESTAMP_NTZ) END
{%- endmacro %}


{#- date_part: read the value as a timestamp, then map it (as text). -#}
{% macro date_part_text(expr, part) -%}
  {{ return(adapter.dispatch('date_part_text', 'signals_batch')(expr, part)) }}
{%- endmacro %}

{% macro default__date_part_text(expr, part) -%}
  {{ signals_batch.timestamp_part_text(signals_batch.to_timestamp(expr), part) }}
{%- endmacro %}


{#- The date part (as text) of a value of the warehouse's timestamp type. -#}
{% macro timestamp_part_text(ts, part) -%}
  {{ return(adapter.dispatch('timestamp_part_text', 'signals_batch')(ts, part)) }}
{%- endmacro %}

{% macro default__timestamp_part_text(ts, part) -%}
  {%- if part == 'hour_of_day' -%} CAST(hour({{ ts }}) AS VARCHAR)
  {%- elif part == 'day_of_week' -%} CAST(isodow({{ ts }}) AS VARCHAR)
  {%- elif part == 'month_of_year' -%} CAST(month({{ ts }}) AS VARCHAR)
  {%- elif part == 'active_day' -%} CAST(CAST({{ ts }} AS DATE) AS VARCHAR)
  {%- elif part == 'active_week' -%} CAST(CAST(date_trunc('week', {{ ts }}) AS DATE) AS VARCHAR)
  {%- elif part == 'active_month' -%} CAST(CAST(date_trunc('month', {{ ts }}) AS DATE) AS VARCHAR)
  {%- else -%} {{ exceptions.raise_compiler_error("unknown date_part " ~ part) }}
  {%- endif -%}
{%- endmacro %}

{#- Snowflake: ISO weeks whatever WEEK_START is, dates as YYYY-MM-DD whatever
    DATE_OUTPUT_FORMAT is. -#}
{% macro snowflake__timestamp_part_text(ts, part) -%}
  {%- if part == 'hour_of_day' -%} CAST(HOUR({{ ts }}) AS VARCHAR)
  {%- elif part == 'day_of_week' -%} CAST(DAYOFWEEKISO({{ ts }}) AS VARCHAR)
  {%- elif part == 'month_of_year' -%} CAST(MONTH({{ ts }}) AS VARCHAR)
  {%- elif part == 'active_day' -%} TO_VARCHAR(CAST({{ ts }} AS DATE), 'YYYY-MM-DD')
  {%- elif part == 'active_week' -%}
    TO_VARCHAR(DATEADD('day', 1 - DAYOFWEEKISO({{ ts }}), CAST({{ ts }} AS DATE)), 'YYYY-MM-DD')
  {%- elif part == 'active_month' -%} TO_VARCHAR(CAST(DATE_TRUNC('month', {{ ts }}) AS DATE), 'YYYY-MM-DD')
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

{#- Snowflake: CONCAT_WS is NULL when any argument is: each non-NULL value is prefixed with
    the separator, then the first separator is cut off. -#}
{% macro snowflake__concat_non_null(columns, separator) -%}
  {%- set sep = signals_batch.string_literal(separator) -%}
  CASE WHEN {{ columns | join(' IS NOT NULL OR ') }} IS NOT NULL
       THEN SUBSTR({% for column in columns %}COALESCE({{ sep }} || {{ column }}, ''){{ ' || ' if not loop.last }}{% endfor %}, {{ separator | length + 1 }}) END
{%- endmacro %}


{% macro least_non_null(columns) -%}
  {{ return(adapter.dispatch('least_non_null', 'signals_batch')(columns)) }}
{%- endmacro %}

{#- DuckDB's least/greatest skip NULLs already. -#}
{% macro default__least_non_null(columns) -%}
  least({{ columns | join(', ') }})
{%- endmacro %}

{#- Snowflake: LEAST is NULL when any argument is. -#}
{% macro snowflake__least_non_null(columns) -%}
  LEAST_IGNORE_NULLS({{ columns | join(', ') }})
{%- endmacro %}


{% macro greatest_non_null(columns) -%}
  {{ return(adapter.dispatch('greatest_non_null', 'signals_batch')(columns)) }}
{%- endmacro %}

{% macro default__greatest_non_null(columns) -%}
  greatest({{ columns | join(', ') }})
{%- endmacro %}

{% macro snowflake__greatest_non_null(columns) -%}
  GREATEST_IGNORE_NULLS({{ columns | join(', ') }})
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

{#- Snowflake: FLOAT and DOUBLE are both 64-bit; lists are ARRAY, dict is OBJECT. -#}
{% macro snowflake__sql_type(type_name) -%}
  {%- set scalar = {
      'string': 'VARCHAR', 'bytes': 'VARCHAR', 'int32': 'INTEGER', 'int64': 'BIGINT',
      'unix_timestamp': 'BIGINT', 'float': 'FLOAT', 'double': 'DOUBLE', 'bool': 'BOOLEAN',
      'timestamp': 'TIMESTAMP_NTZ', 'dict': 'OBJECT'} -%}
  {%- if type_name.endswith('_list') -%} ARRAY
  {%- else -%} {{ scalar[type_name] }}
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
    coalesce({{ signals_batch.text_to_int(expr, type_name) }},
             TRY_CAST(floor(epoch({{ signals_batch.to_timestamp(expr) }})) AS BIGINT))
  {%- elif type_name in ('int32', 'int64') -%} {{ signals_batch.text_to_int(expr, type_name) }}
  {%- else -%} {{ signals_batch.cast_number(signals_batch.to_number(expr), type_name) }}
  {%- endif -%}
{%- endmacro %}

{#- Snowflake: TRY_CAST takes only text, so numbers go through cast_number; a timestamp is
    whole epoch seconds, rounded down (DATEDIFF counts second boundaries). -#}
{% macro snowflake__cast_text(expr, type_name) -%}
  {%- if type_name in ('string', 'bytes') -%} {{ expr }}
  {%- elif type_name == 'bool' -%} {{ signals_batch.to_bool(expr) }}
  {%- elif type_name == 'timestamp' -%} {{ signals_batch.to_timestamp(expr) }}
  {%- elif type_name == 'unix_timestamp' -%}
    coalesce({{ signals_batch.text_to_int(expr, type_name) }},
             DATEDIFF('second', CAST('1970-01-01' AS TIMESTAMP_NTZ), {{ signals_batch.to_timestamp(expr) }}))
  {%- elif type_name in ('int32', 'int64') -%} {{ signals_batch.text_to_int(expr, type_name) }}
  {%- else -%} {{ signals_batch.cast_number(signals_batch.to_number(expr), type_name) }}
  {%- endif -%}
{%- endmacro %}


{#- Text as an int type, on every warehouse: integer text exactly (to_integer), any other
    number rounded (cast_number); NULL when it is no number or out of range. -#}
{% macro text_to_int(expr, type_name) -%}
  coalesce({{ signals_batch.to_integer(expr, type_name) }},
           {{ signals_batch.cast_number(signals_batch.to_number(expr), type_name) }})
{%- endmacro %}

{#- Integer text (`" +12 "`, `-9223372036854775808`) read exactly as the int type, so an
    int64 beyond 2**53 (an id) keeps every digit; NULL for other text and out of range, which
    then goes the way of any number (docs/semantics-notes.md, "Casts"). -#}
{% macro to_integer(expr, type_name) -%}
  {{ return(adapter.dispatch('to_integer', 'signals_batch')(expr, type_name)) }}
{%- endmacro %}

{% macro integer_pattern() -%}
  [[:space:]]*[+-]?[0-9]+[[:space:]]*
{%- endmacro %}

{% macro default__to_integer(expr, type_name) -%}
  CASE WHEN regexp_full_match(CAST({{ expr }} AS VARCHAR), '{{ signals_batch.integer_pattern() }}')
       THEN TRY_CAST(CAST({{ expr }} AS VARCHAR) AS {{ signals_batch.sql_type(type_name) }}) END
{%- endmacro %}

{#- Snowflake: TRY_TO_NUMBER reads up to 38 digits; the range check makes the rest NULL. -#}
{% macro snowflake__to_integer(expr, type_name) -%}
  {%- set ranges = {'int32': ('-2147483648', '2147483647')} -%}
  {%- set low, high = ranges.get(type_name, ('-9223372036854775808', '9223372036854775807')) -%}
  {%- set number = "TRY_TO_NUMBER(REGEXP_REPLACE(CAST(" ~ expr ~ " AS VARCHAR), '^[[:space:]]*[+]?|[[:space:]]+$', ''))" -%}
  CASE WHEN REGEXP_LIKE(CAST({{ expr }} AS VARCHAR), '{{ signals_batch.integer_pattern() }}')
            AND {{ number }} BETWEEN {{ low }} AND {{ high }}
       THEN CAST({{ number }} AS {{ signals_batch.sql_type(type_name) }}) END
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

{#- Snowflake: ROUND goes half away from zero; out of the type's range is NULL, as TRY_CAST
    gives elsewhere (Snowflake's TRY_CAST takes only text). The upper bound is exclusive and
    one past the largest value: 2**63 - 1 is no double, and as a double it is 2**63. -#}
{% macro snowflake__cast_number(expr, type_name) -%}
  {%- set ranges = {'int32': ('-2147483648', '2147483648'),
                    'int64': ('-9223372036854775808', '9223372036854775808'),
                    'unix_timestamp': ('-9223372036854775808', '9223372036854775808')} -%}
  {%- if type_name in ranges -%}
    {%- set rounded = 'ROUND(ROUND(' ~ expr ~ ', 9))' -%}
    CASE WHEN {{ rounded }} >= {{ ranges[type_name][0] }} AND {{ rounded }} < {{ ranges[type_name][1] }}
         THEN CAST({{ rounded }} AS {{ signals_batch.sql_type(type_name) }}) END
  {%- else -%}
    CAST({{ expr }} AS {{ signals_batch.sql_type(type_name) }})
  {%- endif -%}
{%- endmacro %}
