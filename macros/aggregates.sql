{#- Aggregation building blocks: daily partial aggregates and how they combine. -#}

{#- The function that sums DOUBLEs (sum / mean). A plain SUM of doubles depends on the order
    the threads add them in, so the same data could give values that differ in the last bits
    from run to run, and change detection would move updated_at for nothing. DuckDB's fsum
    (compensated summation) gives the same result whatever the order, and is as fast. -#}
{% macro double_sum() -%}
  {{ return(adapter.dispatch('double_sum', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__double_sum() -%}
  sum
{%- endmacro %}

{% macro duckdb__double_sum() -%}
  fsum
{%- endmacro %}

{#- `function` over the rows where `condition` holds. DuckDB's FILTER clause skips the other
    rows before the expression is built: for first/last, whose expression packs a struct for
    every row, that is ~0.5 s of a daily model over 10M events (measured in bench/). -#}
{% macro filtered_aggregate(function, expression, condition) -%}
  {{ return(adapter.dispatch('filtered_aggregate', 'signals_batch')(function, expression, condition)) }}
{%- endmacro %}

{% macro default__filtered_aggregate(function, expression, condition) -%}
  {{ function }}(CASE WHEN {{ condition }} THEN {{ expression }} END)
{%- endmacro %}

{% macro duckdb__filtered_aggregate(function, expression, condition) -%}
  {{ function }}({{ expression }}) FILTER (WHERE {{ condition }})
{%- endmacro %}

{#- A common table expression the query reads more than once that should be recomputed in
    each place rather than stored: DuckDB would otherwise copy every row and column of the
    events into a temporary result (the daily models: ~8% of their time). -#}
{% macro inline_cte() -%}
  {{ return(adapter.dispatch('inline_cte', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__inline_cte() -%}
{%- endmacro %}

{% macro duckdb__inline_cte() -%}
  NOT MATERIALIZED
{%- endmacro %}

{#- first/last: pack (event time, event_id, value) so min/max pick the earliest/latest event,
    ties going to the smallest/largest event_id. -#}
{% macro pack_first(tstamp, event_id, value) -%}
  {{ return(adapter.dispatch('pack_first', 'signals_batch')(tstamp, event_id, value)) }}
{%- endmacro %}

{% macro duckdb__pack_first(tstamp, event_id, value) -%}
  CASE WHEN {{ value }} IS NOT NULL THEN struct_pack(t := {{ tstamp }}, i := {{ event_id }}, v := {{ value }}) END
{%- endmacro %}

{#- Snowflake: one sortable text, min/max over text being portable where min/max over
    OBJECT is not: microseconds since 0001-01-01 (fixed 18 digits), the event_id padded to
    64 characters, then the value (text). -#}
{% macro snowflake__pack_first(tstamp, event_id, value) -%}
  CASE WHEN {{ value }} IS NOT NULL THEN
    LPAD(CAST(DATEDIFF('microsecond', CAST('0001-01-01' AS TIMESTAMP_NTZ), {{ tstamp }}) AS VARCHAR), 18, '0')
    || RPAD({{ event_id }}, 64, ' ') || {{ value }} END
{%- endmacro %}


{% macro unpack_first(packed) -%}
  {{ return(adapter.dispatch('unpack_first', 'signals_batch')(packed)) }}
{%- endmacro %}

{% macro duckdb__unpack_first(packed) -%}
  ({{ packed }}).v
{%- endmacro %}

{% macro snowflake__unpack_first(packed) -%}
  SUBSTR({{ packed }}, 83)
{%- endmacro %}


{#- The value with the highest (desc) or lowest (asc) count; ties: the smallest value. -#}
{% macro value_by_count(value, count, direction) -%}
  {{ return(adapter.dispatch('value_by_count', 'signals_batch')(value, count, direction)) }}
{%- endmacro %}

{% macro duckdb__value_by_count(value, count, direction) -%}
  first({{ value }} ORDER BY {{ count }} {{ direction }}, {{ value }} ASC)
{%- endmacro %}

{#- Snowflake: MIN_BY over a sortable text of (count, value); counts stay below 10^18. -#}
{% macro snowflake__value_by_count(value, count, direction) -%}
  {%- set whole = 'CAST(' ~ count ~ ' AS BIGINT)' -%}
  {%- set rank = '999999999999999999 - ' ~ whole if direction | lower == 'desc' else whole -%}
  MIN_BY({{ value }}, LPAD(CAST({{ rank }} AS VARCHAR), 18, '0') || {{ value }})
{%- endmacro %}


{#- The distinct values (text) sorted as text, each cast to the list's element type. -#}
{% macro sorted_list(value, type_name) -%}
  {{ return(adapter.dispatch('sorted_list', 'signals_batch')(value, type_name)) }}
{%- endmacro %}

{% macro duckdb__sorted_list(value, type_name) -%}
  list({{ signals_batch.cast_text(value, type_name[:-5]) }} ORDER BY {{ value }})
{%- endmacro %}

{#- Snowflake: ARRAY_AGG drops NULLs, so an element that does not convert is kept as a JSON
    null, as the other warehouses keep it. -#}
{% macro snowflake__sorted_list(value, type_name) -%}
  {%- set element = type_name[:-5] -%}
  {%- if element in ('string', 'bytes') -%}
    ARRAY_AGG({{ value }}) WITHIN GROUP (ORDER BY {{ value }})
  {%- else -%}
    ARRAY_AGG(COALESCE(TO_VARIANT({{ signals_batch.cast_text(value, element) }}), PARSE_JSON('null'))) WITHIN GROUP (ORDER BY {{ value }})
  {%- endif -%}
{%- endmacro %}


{% macro empty_list(type_name) -%}
  {{ return(adapter.dispatch('empty_list', 'signals_batch')(type_name)) }}
{%- endmacro %}

{% macro duckdb__empty_list(type_name) -%}
  CAST([] AS {{ signals_batch.sql_type(type_name) }})
{%- endmacro %}

{% macro snowflake__empty_list(type_name) -%}
  ARRAY_CONSTRUCT()
{%- endmacro %}


{#- {value: count} with keys sorted. -#}
{% macro sorted_object(key, value) -%}
  {{ return(adapter.dispatch('sorted_object', 'signals_batch')(key, value)) }}
{%- endmacro %}

{% macro duckdb__sorted_object(key, value) -%}
  CAST(to_json(map_from_entries(list(struct_pack(k := {{ key }}, v := {{ value }}) ORDER BY {{ key }}))) AS JSON)
{%- endmacro %}

{#- Snowflake: an OBJECT; the order of its keys is Snowflake's. -#}
{% macro snowflake__sorted_object(key, value) -%}
  OBJECT_AGG({{ key }}, TO_VARIANT({{ value }}))
{%- endmacro %}


{% macro empty_object() -%}
  {{ return(adapter.dispatch('empty_object', 'signals_batch')()) }}
{%- endmacro %}

{% macro duckdb__empty_object() -%}
  CAST('{}' AS JSON)
{%- endmacro %}

{% macro snowflake__empty_object() -%}
  OBJECT_CONSTRUCT()
{%- endmacro %}


{#- A JSON value written in a definition (default_value). -#}
{% macro json_literal(value) -%}
  {{ return(adapter.dispatch('json_literal', 'signals_batch')(value)) }}
{%- endmacro %}

{#- json() writes it compact, as the computed dicts are: `{"k":1}`, not `{"k": 1}`. -#}
{% macro duckdb__json_literal(value) -%}
  json({{ signals_batch.string_literal(tojson(value, sort_keys=True)) }})
{%- endmacro %}

{% macro snowflake__json_literal(value) -%}
  PARSE_JSON({{ signals_batch.string_literal(tojson(value, sort_keys=True)) }})
{%- endmacro %}


{% macro seconds_between(start, end) -%}
  {{ return(adapter.dispatch('seconds_between', 'signals_batch')(start, end)) }}
{%- endmacro %}

{#- Elapsed seconds with their fraction, so a floor gives whole units elapsed. -#}
{% macro default__seconds_between(start, end) -%}
  (epoch({{ end }}) - epoch({{ start }}))
{%- endmacro %}

{% macro snowflake__seconds_between(start, end) -%}
  (DATEDIFF('microsecond', {{ start }}, {{ end }}) / 1000000)
{%- endmacro %}


{% macro to_date(expr) -%}
  {{ return(adapter.dispatch('to_date', 'signals_batch')(expr)) }}
{%- endmacro %}

{% macro default__to_date(expr) -%}
  CAST({{ expr }} AS DATE)
{%- endmacro %}


{% macro major_version(expr) -%}
  {{ return(adapter.dispatch('major_version', 'signals_batch')(expr)) }}
{%- endmacro %}

{% macro default__major_version(expr) -%}
  split_part({{ expr }}, '-', 1)
{%- endmacro %}


{#- default_value replaces NULL, an empty list and an empty dict. -#}
{% macro apply_default(expr, value, type_name) -%}
  {{ return(adapter.dispatch('apply_default', 'signals_batch')(expr, value, type_name)) }}
{%- endmacro %}

{% macro duckdb__apply_default(expr, value, type_name) -%}
  {%- if type_name == 'dict' -%}
    CASE WHEN {{ expr }} IS NULL OR CAST({{ expr }} AS VARCHAR) = '{}' THEN {{ signals_batch.json_literal(value) }} ELSE {{ expr }} END
  {%- elif type_name.endswith('_list') -%}
    {%- set items = value if value is iterable and value is not string else [value] -%}
    {%- set element = type_name[:-5] -%}
    {%- set literal -%}
      CAST([{%- for item in items -%}{{ signals_batch.cast_text(signals_batch.string_literal(item | string | lower if item is sameas true or item is sameas false else item | string), element) }}{{ ", " if not loop.last }}{%- endfor -%}] AS {{ signals_batch.sql_type(type_name) }})
    {%- endset -%}
    CASE WHEN {{ expr }} IS NULL OR len({{ expr }}) = 0 THEN {{ literal }} ELSE {{ expr }} END
  {%- else -%}
    coalesce({{ expr }}, {{ signals_batch.cast_text(signals_batch.string_literal(value | string | lower if value is sameas true or value is sameas false else value | string), type_name) }})
  {%- endif -%}
{%- endmacro %}


{% macro snowflake__apply_default(expr, value, type_name) -%}
  {%- if type_name == 'dict' -%}
    CASE WHEN {{ expr }} IS NULL OR CAST({{ expr }} AS VARCHAR) = '{}' THEN CAST({{ signals_batch.json_literal(value) }} AS OBJECT) ELSE {{ expr }} END
  {%- elif type_name.endswith('_list') -%}
    {%- set items = value if value is iterable and value is not string else [value] -%}
    {%- set element = type_name[:-5] -%}
    CASE WHEN {{ expr }} IS NULL OR ARRAY_SIZE({{ expr }}) = 0
         THEN ARRAY_CONSTRUCT({%- for item in items -%}{{ signals_batch.cast_text(signals_batch.string_literal(item | string | lower if item is sameas true or item is sameas false else item | string), element) }}{{ ", " if not loop.last }}{%- endfor -%})
         ELSE {{ expr }} END
  {%- else -%}
    coalesce({{ expr }}, {{ signals_batch.cast_text(signals_batch.string_literal(value | string | lower if value is sameas true or value is sameas false else value | string), type_name) }})
  {%- endif -%}
{%- endmacro %}


{#- Whether a CTE read more than once is computed once: a daily model then takes the value
    counts of the properties with one value a day (the day, week or month of
    derived_tstamp) from its key-and-day aggregate instead of grouping the events again.
    DuckDB is told to (materialized_cte); BigQuery computes a CTE again for each read, and
    Snowflake decides case by case, so elsewhere the separate GROUP BY stays. -#}
{% macro cte_computed_once() -%}
  {{ return(adapter.dispatch('cte_computed_once', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__cte_computed_once() -%}
  {{ return(false) }}
{%- endmacro %}

{% macro duckdb__cte_computed_once() -%}
  {{ return(true) }}
{%- endmacro %}

{#- Keep a CTE's result rather than recompute it for each read (DuckDB decides by itself
    otherwise, and its choice depends on the query's shape). -#}
{% macro materialized_cte() -%}
  {{ return(adapter.dispatch('materialized_cte', 'signals_batch')()) }}
{%- endmacro %}

{% macro default__materialized_cte() -%}
{%- endmacro %}

{% macro duckdb__materialized_cte() -%}
  MATERIALIZED
{%- endmacro %}
